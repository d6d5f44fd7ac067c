"""Lead conversion scoring on any tabular data set.

    scorer = train_scorer(frame, target='won')
    if not scorer:                      # NotEnoughData: use a PriorScorer
        ...
    scorer.report                       # held-out ROC-AUC, PR-AUC, Brier
    scorer.score(open_leads, reasons=3) # [Score(probability=0..100, reasons)]
    data = scorer.dumps(); LeadScorer.loads(data)

Columns are detected as numeric, categorical or free text (see
`detect_columns`); the target is given by name. Three candidates are
cross-validated on the training part at each training (a regularised
linear model on one-hot, scaled and TF-IDF features, gradient-boosted trees
that also catch interactions, and the naive-Bayes frequency baseline like
Odoo's predictive lead scoring) and the best is kept and calibrated; the
held-out test split is used only for the report (ROC-AUC, PR-AUC, Brier,
lift of the top tenth), next to the baseline fitted on the same split.
Reasons are the lead's facts whose leads converted most above or below the
average (`_Reasons`).
"""
import datetime
import math
import re
import time
from collections import namedtuple

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    average_precision_score, brier_score_loss, roc_auc_score)
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, \
    StandardScaler
from threadpoolctl import ThreadpoolController

from . import NotEnoughData, dumps, loads

__all__ = [
    'NotEnoughData', 'Score', 'LeadScorer', 'PriorScorer',
    'FrequencyBaseline', 'detect_columns', 'train_scorer', 'metrics']

NUMERIC, CATEGORICAL, TEXT, IGNORED = (
    'numeric', 'categorical', 'text', 'ignored')
EMPTY = '(empty)'
MIN_EXAMPLES = 50
MIN_PER_CLASS = 10
# a model whose cross-validated ROC-AUC is below this ranks leads hardly
# better than chance: it is not kept (the prior scores meanwhile)
MIN_SIGNAL = 0.55
# Above this many training rows, candidates are cross-validated on a sample
# of this size and the winner is fitted on 80% and calibrated on 20% of the
# training part; below it, the winner is calibrated on its out-of-fold
# scores and refitted on the whole training part.
KFOLD_LIMIT = 10000
# the training rows the reasons' conversion rates are counted on, at most
REASONS_SAMPLE = 20000
# Reasons whose leads convert less than this many times more (or less)
# often than the average are not worth showing (but a lead always gets its
# strongest reason).
MIN_REASON_LIFT = 1.15
# Smoothing of the conversion rates behind the reasons: a value seen on few
# leads is pulled towards the average as if it had this many more leads.
REASON_SMOOTHING = 20

Score = namedtuple('Score', ['probability', 'reasons'])


def metrics(y_true, probability):
    "ROC-AUC, PR-AUC (average precision) and Brier score of probabilities"
    y_true = np.asarray(y_true, dtype=int)
    probability = np.asarray(probability, dtype=float)
    return {
        'roc_auc': float(roc_auc_score(y_true, probability)),
        'pr_auc': float(average_precision_score(y_true, probability)),
        'brier': float(brier_score_loss(y_true, probability)),
        'lift_top_decile': lift_top_decile(y_true, probability),
        'rows': int(len(y_true)),
        'positive_rate': float(y_true.mean()),
        }


def lift_top_decile(y_true, probability):
    """How many times more often the tenth of the rows scored highest is
    positive than all rows: what a sales head calling the top leads gains"""
    y_true = np.asarray(y_true, dtype=float)
    if not len(y_true) or not y_true.mean():
        return float('nan')
    top = max(1, int(math.ceil(len(y_true) / 10)))
    order = np.argsort(-np.asarray(probability, dtype=float), kind='stable')
    return float(y_true[order[:top]].mean() / y_true.mean())


ID_NAME = re.compile(
    r'(^|[\W_])(id|ids|uuid|guid|key|pk|index|rownames?|row|number|no)$'
    r'|^(id|uuid|guid|rownames?|index)([\W_]|$)|[a-z]Id$', re.IGNORECASE)
ISO_DATE = re.compile(r'^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?.*)?$')
# share of the non-empty strings of a column that must read as numbers or
# dates for the column to be one
PARSED_SHARE = 0.95


def column_names(frame):
    """frame with string column names (a DataFrame may have any hashable:
    numbers, tuples), unique once made strings"""
    if all(isinstance(c, str) for c in frame.columns) \
            and frame.columns.is_unique:
        return frame
    names, seen = [], set()
    for column in frame.columns:
        name = str(column)
        while name in seen:
            name += '_'
        seen.add(name)
        names.append(name)
    frame = frame.copy(deep=False)
    frame.columns = names
    return frame


def _is_datetime(column):
    return (pd.api.types.is_datetime64_any_dtype(column)
        or isinstance(column.dtype, pd.DatetimeTZDtype))


def _days(column):
    "Dates (naive, aware or mixed) as days since 1970, in UTC"
    dates = pd.to_datetime(column, utc=True, errors='coerce', format='mixed')
    return ((dates - pd.Timestamp(0, tz='UTC')).dt.total_seconds()
        / 86400).astype(float)


def _numbers(column):
    "The column as floats: numbers, booleans, numeric strings and dates"
    if _is_datetime(column):
        return _days(column)
    if pd.api.types.is_timedelta64_dtype(column):
        return (column.dt.total_seconds() / 86400).astype(float)
    if pd.api.types.is_bool_dtype(column) \
            or pd.api.types.is_numeric_dtype(column):
        return pd.to_numeric(column, errors='coerce').astype(float)
    values = column.dropna()
    if len(values) and all(isinstance(
                v, (datetime.date, pd.Timestamp)) for v in values.head(50)):
        return _days(column)
    strings = column.astype('object').where(column.notna(), None)
    strings = strings.map(
        lambda v: v.strip() if isinstance(v, str) else v)
    numbers = pd.to_numeric(strings.replace('', None), errors='coerce')
    if numbers.notna().sum() == 0 and strings.map(
            lambda v: isinstance(v, str) and bool(ISO_DATE.match(v))).any():
        return _days(strings)
    return numbers.astype(float)


def _string_kind(values):
    "The kind of a column of strings (values without the empty ones)"
    strings = values.astype(str).str.strip()
    strings = strings[strings != '']
    if strings.empty:
        return IGNORED
    # whether they read as numbers or dates is seen on a sample
    sample = strings.sample(min(len(strings), 2000), random_state=0)
    numbers = pd.to_numeric(sample, errors='coerce')
    if numbers.notna().mean() >= PARSED_SHARE:
        return NUMERIC
    if sample.str.match(ISO_DATE).mean() >= PARSED_SHARE \
            and _days(sample).notna().mean() >= PARSED_SHARE:
        return NUMERIC
    distinct = strings.nunique() / len(strings)
    words = sample.str.split().str.len().mean()
    # a label of several words that repeats is a category ("Fiber optic"),
    # words that rarely repeat are free text
    if words >= 2 and (distinct > 0.5 or words >= 6):
        return TEXT
    if distinct > 0.9 and len(strings) > 20:
        return IGNORED
    return CATEGORICAL


def _is_identifier(name, values):
    """Whether integers are row ids: all distinct and named like an id, or
    a sequence (sorted, about as wide as the number of rows)"""
    if len(values) <= 20 or values.nunique() != len(values):
        return False
    if ID_NAME.search(name):
        return True
    numbers = values.to_numpy(dtype=float)
    steps = np.diff(numbers)
    return bool((steps > 0).all() or (steps < 0).all()) and (
        numbers.max() - numbers.min() <= 2 * len(numbers))


def detect_columns(frame, target=None, text_min_words=None):
    """Return {column: kind} with kind numeric, categorical, text or ignored.

    Numbers, numeric strings and dates (with or without time zone) are
    numeric; booleans and repeated labels are categorical; strings of
    several words that rarely repeat are free text. Ignored: empty columns,
    one-word strings that are almost all distinct (emails, names, codes)
    and integers that are row ids, all distinct and named like an id or
    numbering the rows in order (an amount is not an id because no two
    amounts are equal). Column names are made strings (`column_names`).
    """
    frame = column_names(frame)
    target = None if target is None else str(target)
    kinds = {}
    for name in frame.columns:
        if name == target:
            continue
        column = frame[name]
        values = column.dropna()
        if values.empty:
            kinds[name] = IGNORED
        elif pd.api.types.is_bool_dtype(column):
            kinds[name] = CATEGORICAL
        elif _is_datetime(column) or pd.api.types.is_timedelta64_dtype(
                column):
            kinds[name] = NUMERIC
        elif pd.api.types.is_numeric_dtype(column):
            if pd.api.types.is_integer_dtype(column) and _is_identifier(
                    name, values):
                kinds[name] = IGNORED
            elif values.nunique() <= 1:
                kinds[name] = IGNORED
            else:
                kinds[name] = NUMERIC
        elif all(isinstance(v, (datetime.date, pd.Timestamp))
                for v in values.head(50)):
            kinds[name] = NUMERIC
        elif all(isinstance(v, bool) for v in values.head(50)):
            kinds[name] = CATEGORICAL
        else:
            kinds[name] = _string_kind(values)
    return kinds


def _prepare(frame, kinds):
    "Coerce the columns to what the encoders expect"
    frame = column_names(frame)
    prepared = {}
    for name, kind in kinds.items():
        if kind == IGNORED:
            continue
        if name in frame.columns:
            column = frame[name]
        else:
            column = pd.Series([None] * len(frame), index=frame.index,
                dtype=object)
        if kind == NUMERIC:
            prepared[name] = _numbers(column).to_numpy(dtype=float)
        else:
            empty = EMPTY if kind == CATEGORICAL else ''
            values = [
                '' if v is None or v is pd.NA or v is pd.NaT or v != v
                else str(v) for v in column.tolist()]
            prepared[name] = [v if v.strip() else empty for v in values]
    return pd.DataFrame(prepared, index=frame.index)


def _threads(rows):
    """Run the trees on one OpenMP thread

    On a server whose cores are busy with other work (Tryton workers, other
    processes), OpenMP threads that spin-wait for each other made training
    three times slower than one thread; on small data they never pay off.
    """
    global _controller
    if _controller is None:
        # finding the libraries reads /proc/self/maps: do it once
        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api='openmp')


_controller = None


def _columns_of(kinds, kind):
    return [n for n, k in kinds.items() if k == kind]


def _min_frequency(rows):
    return int(max(3, min(30, rows * 0.001)))


def _text_vectorizer(rows, max_features=20000):
    return TfidfVectorizer(
        strip_accents='unicode', stop_words='english',
        ngram_range=(1, 2), min_df=2 if rows >= 50 else 1,
        max_features=max_features, sublinear_tf=True, dtype=np.float32)


class _TopTerms:
    """Dense indicators of the text terms most associated with the target

    Trees cannot use a wide TF-IDF matrix efficiently, so the boosted
    candidate sees the k terms with the highest chi-squared statistic.
    """

    def __init__(self, k=40):
        self.k = k

    def fit(self, texts, y):
        from sklearn.feature_selection import chi2
        self.vectorizer = _text_vectorizer(len(texts), max_features=5000)
        self.vectorizer.set_params(ngram_range=(1, 1))
        try:
            matrix = self.vectorizer.fit_transform(texts)
        except ValueError:  # empty vocabulary
            self.vectorizer, self.terms = None, []
            self.index = np.array([], dtype=int)
            return self
        scores, _ = chi2(matrix, y)
        scores = np.nan_to_num(scores)
        self.index = np.argsort(-scores)[:self.k]
        names = self.vectorizer.get_feature_names_out()
        present = (matrix[:, self.index] > 0).astype(np.float32)
        y = np.asarray(y)
        positive_rate = np.asarray(present[y == 1].mean(axis=0)).ravel()
        negative_rate = np.asarray(present[y == 0].mean(axis=0)).ravel()
        self.terms = [str(names[i]) for i in self.index]
        # how much likelier a term is in won than in lost texts
        self.lift = (positive_rate + 1e-3) / (negative_rate + 1e-3)
        return self

    def transform(self, texts):
        if self.vectorizer is None:
            return np.zeros((len(texts), 0), dtype=np.float32)
        matrix = self.vectorizer.transform(texts)[:, self.index]
        return (matrix > 0).astype(np.float32).toarray()


class _Columns:
    """Like sklearn's ColumnTransformer, always sparse, on plain arrays

    Scoring one lead must be quick: this skips the per-call DataFrame
    indexing and checks that made ColumnTransformer cost milliseconds.
    """

    def __init__(self, transformers):
        self.transformers_ = transformers

    @staticmethod
    def _select(prepared, columns):
        if isinstance(columns, str):
            return prepared[columns].tolist()
        return prepared[columns].to_numpy(
            dtype=float if prepared[columns[0]].dtype.kind == 'f'
            else object)

    def fit_transform(self, prepared):
        for _, transformer, columns in self.transformers_:
            transformer.fit(self._select(prepared, columns))
        return self.transform(prepared)

    def transform(self, prepared):
        return sparse.hstack([
                sparse.csr_matrix(
                    transformer.transform(self._select(prepared, columns)),
                    dtype=np.float64)
                for _, transformer, columns in self.transformers_],
            format='csr')


class _Linear:
    "One-hot, scaled numbers and TF-IDF into a logistic regression"
    name = 'linear'

    def __init__(self, kinds, random_state):
        self.kinds = kinds
        self.random_state = random_state

    def fit(self, prepared, y):
        kinds, rows = self.kinds, len(prepared)
        transformers = []
        numeric = _columns_of(kinds, NUMERIC)
        if numeric:
            transformers.append(('numeric', Pipeline([
                            ('impute', SimpleImputer(
                                    strategy='median', add_indicator=True,
                                    keep_empty_features=True)),
                            ('scale', StandardScaler()),
                            ]), numeric))
        categorical = _columns_of(kinds, CATEGORICAL)
        if categorical:
            transformers.append(('categorical', OneHotEncoder(
                        handle_unknown='infrequent_if_exist',
                        min_frequency=_min_frequency(rows),
                        max_categories=200, dtype=np.float32), categorical))
        for i, name in enumerate(_columns_of(kinds, TEXT)):
            transformers.append((f'text{i}', _text_vectorizer(rows), name))
        self.transformer = _Columns(transformers)
        matrix = self.transformer.fit_transform(prepared)
        # Strong enough regularisation that chance word pairs in the notes
        # do not show up as reasons; it costs little ranking quality.
        self.estimator = LogisticRegression(C=0.3, max_iter=2000)
        self.estimator.fit(matrix, y)
        return self

    def raw(self, prepared):
        "Raw scores (log-odds) per row"
        return self.estimator.decision_function(
            self.transformer.transform(prepared))


class _Boosted:
    "Gradient-boosted trees on numbers, category codes and key text terms"
    name = 'boosted'

    def __init__(self, kinds, random_state):
        self.kinds = kinds
        self.random_state = random_state

    def fit(self, prepared, y):
        kinds, rows = self.kinds, len(prepared)
        self.numeric = _columns_of(kinds, NUMERIC)
        self.categorical = _columns_of(kinds, CATEGORICAL)
        self.text = _columns_of(kinds, TEXT)
        self.encoder = None
        if self.categorical:
            self.encoder = OrdinalEncoder(
                handle_unknown='use_encoded_value', unknown_value=np.nan,
                min_frequency=_min_frequency(rows), max_categories=250)
            self.encoder.fit(prepared[self.categorical].to_numpy(object))
        self.terms = {
            c: _TopTerms().fit(prepared[c], y) for c in self.text}
        matrix = self._matrix(prepared)
        categorical = list(range(
                len(self.numeric), len(self.numeric) + len(self.categorical)))
        # without early stopping (small data) fewer rounds, not to learn
        # the examples by heart
        self.estimator = HistGradientBoostingClassifier(
            learning_rate=0.1,
            max_iter=300 if rows >= 500 else max(30, rows // 5),
            max_leaf_nodes=31,
            l2_regularization=1.0, early_stopping=rows >= 500,
            categorical_features=categorical or None,
            random_state=self.random_state)
        with _threads(rows):
            self.estimator.fit(matrix, y)
        return self

    def _matrix(self, prepared):
        parts = []
        if self.numeric:
            parts.append(prepared[self.numeric].to_numpy(dtype=float))
        if self.encoder is not None:
            parts.append(self.encoder.transform(
                    prepared[self.categorical].to_numpy(object)))
        for column in self.text:
            parts.append(self.terms[column].transform(prepared[column]))
        return np.hstack(parts) if parts else np.zeros((len(prepared), 0))

    def raw(self, prepared):
        "Raw scores (log-odds) per row"
        matrix = self._matrix(prepared)
        with _threads(len(matrix)):
            return self.estimator.decision_function(matrix)


class _Bayes:
    "The naive-Bayes frequency baseline as a candidate model"
    name = 'naive_bayes'

    def __init__(self, kinds, random_state):
        self.kinds = kinds

    def fit(self, prepared, y):
        self.baseline = FrequencyBaseline(self.kinds).fit(prepared, y)
        return self

    def raw(self, prepared):
        return self.baseline.logits(prepared)


NEUTRAL = "Nothing known yet raises or lowers the chance"
# How the facts of some columns read to a representative; the others read
# "Column: value"
NUMERIC_FACTS = {
    'days_since_contact': ("No contact for {:,.0f} days", "No contact yet"),
    'days_open': ("Open for {:,.0f} days", None),
    'interactions': ("{:,.0f} interactions", None),
    'follow_ups': ("{:,.0f} follow-up notes", None),
    'stage_changes': ("{:,.0f} stage moves", None),
    }


def _title(column):
    title = re.sub(r'[_\s]+', ' ', str(column)).strip()
    return title[:1].upper() + title[1:]


def _comparison(lift):
    if lift >= 1:
        return f' \N{EM DASH} converts {lift:.1f}\N{MULTIPLICATION SIGN} ' \
            'more often than average'
    return f' \N{EM DASH} converts {1 / lift:.1f}\N{MULTIPLICATION SIGN} ' \
        'less often than average'


class _Reasons:
    """Why a lead scores as it does, in words a representative reads

    For each column, the conversion rate of the training leads sharing the
    lead's value (its category, the fifth of the numbers it falls in, a
    term of its text) against the average: "Source: Website — converts
    2.1× more often than average". The values that set the lead furthest
    from the average, up or down, are its reasons. Rates are smoothed
    towards the average so a value seen on three leads does not shout.
    Everything is looked up in arrays, for all leads at once.
    """

    def __init__(self, kinds, bins=5, terms=30):
        self.kinds = {c: k for c, k in kinds.items() if k != IGNORED}
        self.bins = bins
        self.terms = terms

    def _rates(self, codes, y, size):
        "log(lift) of each code 0..size-1, smoothed"
        won = np.bincount(codes, weights=y, minlength=size)
        seen = np.bincount(codes, minlength=size)
        rate = (won + REASON_SMOOTHING * self.average) / (
            seen + REASON_SMOOTHING)
        return np.log(rate / self.average)

    def fit(self, prepared, y):
        y = np.asarray(y, dtype=float)
        self.average = max(float(y.mean()), 1e-6)
        self.columns = []
        for column, kind in self.kinds.items():
            if kind == CATEGORICAL:
                values = pd.Series(prepared[column]).astype(str)
                categories = pd.Index(values.unique())
                codes = categories.get_indexer(values)
                lift = self._rates(codes, y, len(categories))
                facts = np.array([
                        f'{_title(column)}: '
                        + ('not set' if v == EMPTY else v[:1].upper() + v[1:])
                        for v in categories], dtype=object)
                self.columns.append((column, kind, categories, lift, facts))
            elif kind == NUMERIC:
                numbers = prepared[column].to_numpy(dtype=float)
                present = numbers[~np.isnan(numbers)]
                edges = np.unique(np.quantile(present, np.linspace(
                            0, 1, self.bins + 1)[1:-1])) if len(present) \
                    else np.array([])
                codes = self._bins(numbers, edges)
                lift = self._rates(codes, y, len(edges) + 2)
                self.columns.append((column, kind, edges, lift, None))
            elif kind == TEXT:
                top = _TopTerms(self.terms).fit(prepared[column], y)
                if not len(top.terms):
                    continue
                present = top.transform(prepared[column])
                won = present[y == 1].sum(axis=0)
                seen = present.sum(axis=0)
                lift = np.log((won + REASON_SMOOTHING * self.average) / (
                        seen + REASON_SMOOTHING) / self.average)
                verb = 'mention' if column.endswith('s') else 'mentions'
                facts = np.array([f"{_title(column)} {verb} '{t}'"
                        for t in top.terms], dtype=object)
                self.columns.append((column, kind, top, lift, facts))
        return self

    @staticmethod
    def _bins(numbers, edges):
        "Bin of each number; the last bin holds the empty values"
        codes = np.searchsorted(edges, numbers, side='right')
        return np.where(np.isnan(numbers), len(edges) + 1, codes)

    def explain(self, prepared, count, probability=None):
        """Up to count reasons per row of prepared, strongest first; with
        the rows' probability, those that pull the same way as the score
        (up above the average, down below) come first"""
        rows = len(prepared)
        if not count or not self.columns or not rows:
            return [[] for _ in range(rows)]
        strength = np.zeros((rows, len(self.columns)))
        lifts = np.zeros((rows, len(self.columns)))
        codes = np.zeros((rows, len(self.columns)), dtype=int)
        for j, (column, kind, table, lift, _) in enumerate(self.columns):
            if kind == CATEGORICAL:
                code = table.get_indexer(
                    pd.Series(prepared[column]).astype(str))
                value = np.where(code >= 0, lift[np.maximum(code, 0)], 0.0)
            elif kind == NUMERIC:
                code = self._bins(
                    prepared[column].to_numpy(dtype=float), table)
                value = lift[code]
            else:
                present = table.transform(prepared[column]) > 0
                weighted = np.where(present, np.abs(lift), -1.0)
                code = weighted.argmax(axis=1)
                value = np.where(
                    present[np.arange(rows), code], lift[code], 0.0)
            codes[:, j] = code
            lifts[:, j] = value
            strength[:, j] = np.abs(value)
        rank = strength
        if probability is not None:
            up = (np.asarray(probability) >= self.average)[:, None]
            rank = strength + 100 * ((lifts > 0) == up)
        order = np.argsort(-rank, axis=1, kind='stable')[:, :count]
        chosen = np.take_along_axis(strength, order, axis=1)
        # the strongest reason always, the others when they matter
        keep = chosen >= math.log(MIN_REASON_LIFT)
        keep[:, 0] |= strength.max(axis=1) > 1e-3
        keep &= chosen > 1e-3
        result = [[] for _ in range(rows)]
        for row, k in zip(*np.nonzero(keep)):
            j = order[row, k]
            result[row].append(self._fact(
                    j, prepared, row, codes[row, j])
                + _comparison(math.exp(lifts[row, j])))
        return result

    def _fact(self, j, prepared, row, code):
        column, kind, table, _, facts = self.columns[j]
        if kind != NUMERIC:
            return facts[code]
        value = prepared[column].iat[row]
        known, empty = NUMERIC_FACTS.get(column, (None, None))
        if math.isnan(value):
            return empty or f'{_title(column)}: not set'
        if known:
            fact = known.format(value)
            return fact[:-1] if value == 1 and fact.endswith('s') else fact
        if float(value).is_integer() or abs(value) >= 1000:
            return f'{_title(column)}: {value:,.0f}'
        return f'{_title(column)}: {value:,.3g}'


CANDIDATES = {'linear': _Linear, 'boosted': _Boosted, 'naive_bayes': _Bayes}
# the candidates from the simplest
SIMPLICITY = ['linear', 'naive_bayes', 'boosted']


class _Platt:
    "Sigmoid calibration of raw scores (Platt scaling)"

    def fit(self, raw, y):
        self.model = LogisticRegression(C=1e6, max_iter=1000)
        self.model.fit(np.asarray(raw).reshape(-1, 1), y)
        return self

    def __call__(self, raw):
        return self.model.predict_proba(np.asarray(raw).reshape(-1, 1))[:, 1]


class _Scorer:
    "What LeadScorer and PriorScorer share: 0-100 scores with reasons"

    def score(self, frame, reasons=3):
        "Return a Score(probability 0-100, reasons) for each row of frame"
        probability = self.predict_proba(frame)
        percent = np.rint(probability * 100).astype(int)
        if reasons:
            labels = self.reasons(frame, reasons)
        else:
            labels = [[] for _ in range(len(frame))]
        return [Score(int(p), r) for p, r in zip(percent, labels)]


class LeadScorer(_Scorer):
    "A trained, calibrated conversion model; build it with train_scorer"
    KIND = 'autolead.lead_scorer'

    def __init__(self, target, positive, kinds, model, calibrator, report,
            explainer=None):
        self.target = target
        self.positive = positive
        self.kinds = kinds
        self.model = model
        self.calibrator = calibrator
        self.report = report
        self.explainer = explainer

    @property
    def algorithm(self):
        return self.model.name

    def predict_proba(self, frame):
        "Probability of the positive outcome (0-1) per row"
        if not len(frame):
            return np.zeros(0)
        return self.calibrator(self.model.raw(_prepare(frame, self.kinds)))

    def reasons(self, frame, count=3):
        "Up to count readable reasons per row, strongest first"
        if not len(frame):
            return []
        return self.explainer.explain(_prepare(frame, self.kinds), count)

    def score(self, frame, reasons=3):
        "Return a Score(probability 0-100, reasons) for each row of frame"
        if not len(frame):
            return []
        prepared = _prepare(frame, self.kinds)
        raw = self.model.raw(prepared)
        probability = self.calibrator(raw)
        labels = self.explainer.explain(prepared, reasons, probability)
        percent = np.rint(probability * 100).astype(int)
        return [Score(int(p), r) for p, r in zip(percent, labels)]

    def dumps(self):
        return dumps(self, self.KIND)

    @classmethod
    def loads(cls, data):
        return loads(data, cls.KIND)


class PriorScorer(_Scorer):
    """Rule-based scores for the cold start, from weights an admin edits

        PriorScorer.from_dict({
            'bias': -1.0,
            'values': {'source': {'referral': 1.5, 'website': 0.5}},
            'per_unit': {'interactions': 0.3},
            'keywords': {'notes': {'demo': 1.0, 'not interested': -2}},
            })

    The log-odds are bias + the weight of each column's value + weight x
    number for numeric columns + the weight of each keyword in the text.
    """

    def __init__(self, values=None, per_unit=None, keywords=None, bias=0.0):
        self.values = {
            c: {str(v).lower(): float(w) for v, w in weights.items()}
            for c, weights in (values or {}).items()}
        self.per_unit = {c: float(w) for c, w in (per_unit or {}).items()}
        self.keywords = {
            c: {str(k).lower(): float(w) for k, w in weights.items()}
            for c, weights in (keywords or {}).items()}
        self.bias = float(bias)

    @classmethod
    def from_dict(cls, weights):
        unknown = set(weights) - {'bias', 'values', 'per_unit', 'keywords'}
        if unknown:
            raise ValueError(f'unknown prior keys: {sorted(unknown)}')
        return cls(weights.get('values'), weights.get('per_unit'),
            weights.get('keywords'), weights.get('bias', 0.0))

    def _contributions(self, frame):
        "[(label, log-odds)] per row"
        rows = [[] for _ in range(len(frame))]
        for column, weights in self.values.items():
            if column not in frame.columns:
                continue
            for row, value in enumerate(frame[column]):
                if value is None or (isinstance(value, float)
                        and math.isnan(value)):
                    continue
                weight = weights.get(str(value).lower())
                if weight:
                    value = str(value)
                    rows[row].append((f'{_title(column)}: '
                            f'{value[:1].upper() + value[1:]}', weight))
        for column, weight in self.per_unit.items():
            if column not in frame.columns:
                continue
            numbers = pd.to_numeric(frame[column], errors='coerce')
            for row, value in enumerate(numbers):
                if not math.isnan(value) and value * weight:
                    known = NUMERIC_FACTS.get(column, (None, None))[0]
                    fact = known.format(value) if known \
                        else f'{_title(column)}: {value:,.3g}'
                    if value == 1 and known and fact.endswith('s'):
                        fact = fact[:-1]
                    rows[row].append((fact, value * weight))
        for column, weights in self.keywords.items():
            if column not in frame.columns:
                continue
            verb = 'mention' if column.endswith('s') else 'mentions'
            texts = frame[column].fillna('').astype(str).str.lower()
            for row, text in enumerate(texts):
                for keyword, weight in weights.items():
                    if keyword in text:
                        rows[row].append((
                                f"{_title(column)} {verb} '{keyword}'",
                                weight))
        return rows

    def predict_proba(self, frame):
        logits = np.array([
                self.bias + sum(w for _, w in row)
                for row in self._contributions(frame)], dtype=float)
        return 1 / (1 + np.exp(-logits))

    def reasons(self, frame, count=3):
        """What raises the score most, then what lowers it most (or that
        nothing does)"""
        return [
            [label for label, weight in sorted(row, key=lambda c: (
                        c[1] < 0, -abs(c[1])))][:count] or [NEUTRAL]
            for row in self._contributions(frame)]


class FrequencyBaseline:
    """Naive-Bayes frequency scoring like Odoo's predictive lead scoring

    For each column the frequency of each value among won and among lost
    examples (numbers cut into quantile bins, free text left out, as Odoo
    does), multiplied as independent likelihoods with Laplace smoothing.
    """

    def __init__(self, kinds, bins=5, alpha=1.0):
        self.kinds = {
            c: k for c, k in kinds.items() if k in {NUMERIC, CATEGORICAL}}
        self.bins = bins
        self.alpha = alpha

    def _values(self, prepared, column):
        if self.kinds[column] == NUMERIC:
            numbers = prepared[column].to_numpy(dtype=float)
            codes = np.searchsorted(self.edges[column], numbers, side='right')
            return pd.Series(np.where(np.isnan(numbers), -1, codes),
                index=prepared.index)
        return prepared[column]

    def fit(self, prepared, y):
        y = np.asarray(y, dtype=int)
        self.edges = {}
        for column, kind in self.kinds.items():
            if kind == NUMERIC:
                numbers = prepared[column].dropna().to_numpy(dtype=float)
                quantiles = np.linspace(0, 1, self.bins + 1)[1:-1]
                self.edges[column] = np.unique(np.quantile(
                        numbers, quantiles)) if len(numbers) else np.array([])
        self.won, self.lost = int(y.sum()), int(len(y) - y.sum())
        self.tables = {}
        for column in self.kinds:
            values = self._values(prepared, column)
            counts = pd.crosstab(values, y)
            won = counts[1] if 1 in counts else 0 * counts.iloc[:, 0]
            lost = counts[0] if 0 in counts else 0 * counts.iloc[:, 0]
            values_count = len(counts) + 1  # + one unseen value
            won_denominator = self.won + self.alpha * values_count
            lost_denominator = self.lost + self.alpha * values_count
            ratio = (np.log((won + self.alpha) / won_denominator)
                - np.log((lost + self.alpha) / lost_denominator))
            unseen = (math.log(self.alpha / won_denominator)
                - math.log(self.alpha / lost_denominator))
            self.tables[column] = (ratio.to_dict(), unseen)
        return self

    def logits(self, prepared):
        logits = np.full(
            len(prepared), math.log(max(self.won, 1) / max(self.lost, 1)))
        for column, (ratio, unseen) in self.tables.items():
            values = self._values(prepared, column)
            logits += values.map(ratio).fillna(unseen).to_numpy(dtype=float)
        return np.clip(logits, -500, 500)

    def predict_proba(self, prepared):
        return 1 / (1 + np.exp(-self.logits(prepared)))


def _target(frame, target, positive):
    "Closed rows and their 0/1 outcome; rows with an empty target are open"
    if target not in frame.columns:
        raise KeyError(f'target column {target!r} is missing')
    closed = frame[frame[target].notna()]
    outcome = closed[target]
    if positive is None:
        values = set(outcome.unique())
        if pd.api.types.is_bool_dtype(outcome) or values <= {0, 1}:
            positive = True if pd.api.types.is_bool_dtype(outcome) else 1
        elif 'won' in values:
            positive = 'won'
        else:
            raise ValueError(
                f'give the positive value of {target!r} among '
                f'{sorted(map(str, values))[:10]}')
    return closed, (outcome == positive).to_numpy(dtype=int), positive


def _folds(rows):
    return 5 if rows <= 5000 else 3


def train_scorer(
        frame, target, positive=None, kinds=None, test_size=0.2,
        min_examples=MIN_EXAMPLES, min_per_class=MIN_PER_CLASS,
        candidates=('linear', 'boosted', 'naive_bayes'), random_state=0,
        min_signal=MIN_SIGNAL):
    """Train a LeadScorer from frame, or return NotEnoughData

    Rows whose target is empty (open leads) are left out. kinds overrides
    or completes the detected column kinds ({column: kind}).

    The model is chosen at each training by stratified cross-validation
    on the training part among candidates (a regularised logistic
    regression, gradient-boosted trees and the naive-Bayes baseline), so
    the model kept is the one that ranks this data best (ROC-AUC mean over
    the folds; their spread is reported), or the simplest within one
    standard error of it. Above KFOLD_LIMIT rows the choice
    is made on a sample of that size. The held-out test part is used only
    for the report: ROC-AUC, PR-AUC, Brier and the lift of the top tenth.
    """
    start = time.perf_counter()
    frame, target = column_names(frame), str(target)
    closed, y, positive = _target(frame, target, positive)
    counts = {'positive': int(y.sum()), 'negative': int(len(y) - y.sum())}
    if len(y) < min_examples:
        return NotEnoughData(
            'too few closed examples', len(y), min_examples, counts)
    if min(counts.values()) == 0:
        return NotEnoughData(
            'only one outcome among the examples', len(y), min_examples,
            counts)
    if min(counts.values()) < min_per_class:
        return NotEnoughData(
            'too few examples of one outcome', len(y), min_per_class, counts)
    detected = detect_columns(closed, target)
    detected.update({str(c): k for c, k in (kinds or {}).items()})
    detected.pop(target, None)
    if not any(k != IGNORED for k in detected.values()):
        return NotEnoughData('no usable column', len(y), 1, counts)
    prepared = _prepare(closed, detected)
    train, test, y_train, y_test = train_test_split(
        prepared, y, test_size=test_size, stratify=y,
        random_state=random_state)

    # the rows the candidates are cross-validated on
    chosen_rows = np.arange(len(train))
    if len(train) > KFOLD_LIMIT:
        chosen_rows, _ = train_test_split(
            chosen_rows, train_size=KFOLD_LIMIT, stratify=y_train,
            random_state=random_state)
    sample, y_sample = train.iloc[chosen_rows], y_train[chosen_rows]
    folds = min(_folds(len(sample)), int(np.bincount(y_sample).min()))
    splits = list(StratifiedKFold(
            max(folds, 2), shuffle=True, random_state=random_state).split(
            sample, y_sample))
    candidate_report, best, oof = {}, None, {}
    for name in candidates:
        raw = np.zeros(len(sample))
        aucs = []
        for fit_part, validation in splits:
            model = CANDIDATES[name](detected, random_state).fit(
                sample.iloc[fit_part], y_sample[fit_part])
            raw[validation] = model.raw(sample.iloc[validation])
            aucs.append(roc_auc_score(
                    y_sample[validation], raw[validation]))
        oof[name] = raw
        mean, spread = float(np.mean(aucs)), float(np.std(aucs))
        candidate_report[name] = {
            'cv_roc_auc': mean, 'cv_roc_auc_std': spread,
            'cv_pr_auc': float(average_precision_score(y_sample, raw)),
            'folds': len(splits),
            }
        if best is None or mean > best[1]:
            best = (name, mean, raw)
    # the one-standard-error rule: the simplest candidate within a standard
    # error of the best mean wins (on little data the folds disagree and
    # trees win by chance)
    best_figures = candidate_report[best[0]]
    margin = best_figures['cv_roc_auc_std'] / math.sqrt(len(splits))
    for simplest in sorted(candidates, key=SIMPLICITY.index):
        if candidate_report[simplest]['cv_roc_auc'] >= \
                best_figures['cv_roc_auc'] - margin:
            break
    name = simplest
    raw = best[2] if name == best[0] else oof[name]
    if best[1] < min_signal:
        return NotEnoughData(
            'no signal: no model ranks won above lost better than chance',
            len(y), min_examples, counts, figure=best[1])
    if len(train) > KFOLD_LIMIT:
        # fitted on most of the training part, calibrated on the rest
        fit_part, validation = train_test_split(
            np.arange(len(train)), test_size=0.2, stratify=y_train,
            random_state=random_state)
        model = CANDIDATES[name](detected, random_state).fit(
            train.iloc[fit_part], y_train[fit_part])
        calibrator = _Platt().fit(
            model.raw(train.iloc[validation]), y_train[validation])
    else:
        # calibrated on the out-of-fold scores, refitted on everything
        calibrator = _Platt().fit(raw, y_sample)
        model = CANDIDATES[name](detected, random_state).fit(train, y_train)

    # conversion rates are known well enough from a sample of the leads
    explained = np.arange(len(train))
    if len(train) > REASONS_SAMPLE:
        explained, _ = train_test_split(
            explained, train_size=REASONS_SAMPLE, stratify=y_train,
            random_state=random_state)
    explainer = _Reasons(detected).fit(
        train.iloc[explained], y_train[explained])
    baseline = FrequencyBaseline(detected).fit(train, y_train)
    scorer = LeadScorer(
        target, positive, detected, model, calibrator, {}, explainer)
    scorer.report = {
        'algorithm': name,
        'model': metrics(y_test, calibrator(model.raw(test))),
        'baseline': metrics(y_test, baseline.predict_proba(test)),
        'cv_roc_auc': candidate_report[name]['cv_roc_auc'],
        'cv_roc_auc_std': candidate_report[name]['cv_roc_auc_std'],
        'candidates': candidate_report,
        'train_rows': int(len(train)),
        'test_rows': int(len(test)),
        'columns': {c: k for c, k in detected.items()},
        'seconds': round(time.perf_counter() - start, 2),
        }
    return scorer
