"""Lead conversion scoring on any tabular data set.

    scorer = train_scorer(frame, target='won')
    if not scorer:                      # NotEnoughData: use a PriorScorer
        ...
    scorer.report                       # held-out ROC-AUC, PR-AUC, Brier
    scorer.score(open_leads, reasons=3) # [Score(probability=0..100, reasons)]
    data = scorer.dumps(); LeadScorer.loads(data)

Columns are detected as numeric, categorical or free text (see
`detect_columns`); the target is given by name. Two calibrated candidates
are compared on validation data (a linear model on one-hot, scaled and
TF-IDF features, and gradient-boosted trees that also catch interactions)
and the better one is kept; the held-out test split is used only for the
report, which also has the naive-Bayes frequency baseline (`FrequencyBaseline`,
like Odoo's predictive lead scoring) fitted and evaluated on the same split.
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
# Above this many training rows, candidates are validated on one split and
# the validated model is kept; below it, 3-fold out-of-fold scores are used
# and the winner is refitted on the whole training part.
KFOLD_LIMIT = 20000
# Reasons weaker than this (in log-odds, about 5 points of probability
# around 50%) are noise, not worth showing.
MIN_REASON = 0.2

Score = namedtuple('Score', ['probability', 'reasons'])


def metrics(y_true, probability):
    "ROC-AUC, PR-AUC (average precision) and Brier score of probabilities"
    y_true = np.asarray(y_true, dtype=int)
    probability = np.asarray(probability, dtype=float)
    return {
        'roc_auc': float(roc_auc_score(y_true, probability)),
        'pr_auc': float(average_precision_score(y_true, probability)),
        'brier': float(brier_score_loss(y_true, probability)),
        'rows': int(len(y_true)),
        'positive_rate': float(y_true.mean()),
        }


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
    numbers = pd.to_numeric(strings, errors='coerce')
    if numbers.notna().mean() >= PARSED_SHARE:
        return NUMERIC
    if strings.map(lambda v: bool(ISO_DATE.match(v))).mean() >= \
            PARSED_SHARE and _days(strings).notna().mean() >= PARSED_SHARE:
        return NUMERIC
    distinct = strings.nunique() / len(strings)
    words = strings.str.split().str.len().mean()
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
            prepared[name] = [
                empty if v is None or v is pd.NA or v is pd.NaT or v != v
                else str(v) for v in column.tolist()]
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

    def reasons(self, text, count=2, min_lift=1.3):
        "The terms of text most typical of won examples"
        if self.vectorizer is None:
            return []
        words = set(self.vectorizer.build_analyzer()(text))
        found = [(lift, term) for term, lift in zip(self.terms, self.lift)
            if lift >= min_lift and term in words]
        return [term for _, term in sorted(found, reverse=True)[:count]]

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
        self._describe_features()
        return self

    def raw(self, prepared):
        return self.explain(prepared, 0)[0]

    def explain(self, prepared, count):
        "Raw scores (log-odds) and up to count reasons per row"
        matrix = self.transformer.transform(prepared)
        raw = self.estimator.decision_function(matrix)
        if not count:
            return raw, [[] for _ in range(len(prepared))]
        return raw, self._reasons(matrix, prepared, count)

    def _describe_features(self):
        "(column, kind, value) for each feature, in matrix order"
        features = []
        for name, transformer, columns in self.transformer.transformers_:
            if name == 'numeric':
                impute = transformer.named_steps['impute']
                features.extend((c, NUMERIC, None) for c in columns)
                if impute.indicator_ is not None:
                    features.extend(
                        (columns[i], NUMERIC, EMPTY)
                        for i in impute.indicator_.features_)
            elif name == 'categorical':
                for i, column in enumerate(columns):
                    categories = list(transformer.categories_[i])
                    infrequent = transformer.infrequent_categories_[i]
                    if infrequent is not None:
                        rare = set(infrequent)
                        categories = [c for c in categories if c not in rare]
                    features.extend(
                        (column, CATEGORICAL, str(c)) for c in categories)
                    if infrequent is not None:
                        features.append((column, CATEGORICAL, None))
            else:
                features.extend(
                    (columns, TEXT, str(term))
                    for term in transformer.get_feature_names_out())
        self.features = features

    def _reasons(self, matrix, prepared, count):
        """Features with the largest positive contributions (coefficient x
        value) to the row's log-odds; the terms of a text column add up to
        one reason naming its strongest terms"""
        contributions = matrix.multiply(
            self.estimator.coef_.ravel()).tocsr()
        result = []
        for row in range(matrix.shape[0]):
            start, end = contributions.indptr[row:row + 2]
            candidates, texts = [], {}
            for index, value in zip(contributions.indices[start:end],
                    contributions.data[start:end]):
                if value <= 0:
                    continue
                feature = self.features[index]
                if feature[1] == TEXT:
                    texts.setdefault(feature[0], []).append(
                        (value, feature[2]))
                else:
                    candidates.append(
                        (value, self._label(feature, prepared, row)))
            for column, terms in texts.items():
                # many weak terms are noise, even when they add up
                terms = sorted(
                    t for t in terms if t[0] >= MIN_REASON / 2)[::-1]
                shown = []
                for value, term in terms[:3]:
                    if shown and value < terms[0][0] / 2:
                        break
                    # 'approved' adds nothing to 'budget approved'
                    if not any(term in t or t in term for t in shown):
                        shown.append(term)
                if shown:
                    candidates.append((sum(v for v, _ in terms), self._label(
                                (column, TEXT, shown[:2]), prepared, row)))
            candidates.sort(key=lambda c: -c[0])
            result.append([label for value, label in candidates[:count]
                    if value >= MIN_REASON])
        return result

    @staticmethod
    def _label(feature, prepared, row):
        column, kind, value = feature
        if kind == NUMERIC:
            if value == EMPTY:
                return f'{column} is empty'
            return f'{column} = {prepared[column].iat[row]:g}'
        if kind == CATEGORICAL:
            if value is None:
                return f'{column} is a rare value'
            if value == EMPTY:
                return f'{column} is empty'
            return f'{column} = {value}'
        verb = 'mention' if column.endswith('s') else 'mentions'
        return f'{column} {verb} ' + ', '.join(f"'{t}'" for t in value)


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
        self.estimator = HistGradientBoostingClassifier(
            learning_rate=0.1, max_iter=300, max_leaf_nodes=31,
            l2_regularization=1.0, early_stopping=rows >= 500,
            categorical_features=categorical or None,
            random_state=self.random_state)
        with _threads(rows):
            self.estimator.fit(matrix, y)
        self._reference(matrix)
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
        return self.explain(prepared, 0)[0]

    def _reference(self, matrix):
        """A neutral matrix row (median, most frequent category, empty text)
        and the matrix columns of each data column, to measure what each
        column's actual value adds"""
        groups, position = [], 0
        for column in self.numeric + self.categorical:
            groups.append((column, [position]))
            position += 1
        for column in self.text:
            width = len(self.terms[column].terms)
            groups.append((column, list(range(position, position + width))))
            position += width
        reference = np.zeros(matrix.shape[1])
        for j in range(len(self.numeric) + len(self.categorical)):
            values = matrix[:, j][~np.isnan(matrix[:, j])]
            if not len(values):
                reference[j] = np.nan
            elif j < len(self.numeric):
                reference[j] = np.median(values)
            else:
                codes, counts = np.unique(values, return_counts=True)
                reference[j] = codes[counts.argmax()]
        self.groups, self.reference = groups, reference

    def explain(self, prepared, count, chunk=2000):
        """Raw scores (log-odds) and up to count reasons per row: the
        columns whose actual value raises the score most over the
        reference"""
        matrix = self._matrix(prepared)
        if not count:
            with _threads(len(matrix)):
                raw = self.estimator.decision_function(matrix)
            return raw, [[] for _ in range(len(prepared))]
        scores = np.zeros(len(prepared))
        gains = np.zeros((len(prepared), len(self.groups)))
        for start in range(0, len(prepared), chunk):
            part = matrix[start:start + chunk]
            # the rows, then each column of each row set to its reference
            stacked = np.tile(part, (len(self.groups) + 1, 1))
            for g, (_, indices) in enumerate(self.groups, 1):
                rows = slice(g * len(part), (g + 1) * len(part))
                stacked[rows, indices] = self.reference[indices]
            with _threads(len(stacked)):
                raw = self.estimator.decision_function(stacked).reshape(
                    len(self.groups) + 1, len(part))
            scores[start:start + len(part)] = raw[0]
            gains[start:start + len(part)] = (raw[0] - raw[1:]).T
        result = []
        for row in range(len(prepared)):
            labels = []
            for j in np.argsort(-gains[row]):
                if gains[row, j] < MIN_REASON or len(labels) >= count:
                    break
                label = self._label(self.groups[j][0], prepared, row)
                if label:
                    labels.append(label)
            result.append(labels)
        return scores, result

    def _label(self, column, prepared, row):
        value = prepared[column].iat[row]
        if column in self.text:
            terms = self.terms[column].reasons(value)
            if not terms:
                return None
            verb = 'mention' if column.endswith('s') else 'mentions'
            return f'{column} {verb} ' + ', '.join(f"'{t}'" for t in terms)
        if column in self.numeric:
            return f'{column} is empty' if math.isnan(value) \
                else f'{column} = {value:g}'
        return f'{column} is empty' if value == EMPTY \
            else f'{column} = {value}'


CANDIDATES = {'linear': _Linear, 'boosted': _Boosted}


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

    def __init__(self, target, positive, kinds, model, calibrator, report):
        self.target = target
        self.positive = positive
        self.kinds = kinds
        self.model = model
        self.calibrator = calibrator
        self.report = report

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
        return self.model.explain(_prepare(frame, self.kinds), count)[1]

    def score(self, frame, reasons=3):
        "Return a Score(probability 0-100, reasons) for each row of frame"
        if not len(frame):
            return []
        raw, labels = self.model.explain(
            _prepare(frame, self.kinds), reasons)
        percent = np.rint(self.calibrator(raw) * 100).astype(int)
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
                    rows[row].append((f'{column} = {value}', weight))
        for column, weight in self.per_unit.items():
            if column not in frame.columns:
                continue
            numbers = pd.to_numeric(frame[column], errors='coerce')
            for row, value in enumerate(numbers):
                if not math.isnan(value) and value * weight:
                    rows[row].append((f'{column} = {value:g}', value * weight))
        for column, weights in self.keywords.items():
            if column not in frame.columns:
                continue
            verb = 'mention' if column.endswith('s') else 'mentions'
            texts = frame[column].fillna('').astype(str).str.lower()
            for row, text in enumerate(texts):
                for keyword, weight in weights.items():
                    if keyword in text:
                        rows[row].append(
                            (f"{column} {verb} '{keyword}'", weight))
        return rows

    def predict_proba(self, frame):
        logits = np.array([
                self.bias + sum(w for _, w in row)
                for row in self._contributions(frame)], dtype=float)
        return 1 / (1 + np.exp(-logits))

    def reasons(self, frame, count=3):
        return [
            [label for label, weight in sorted(row, key=lambda c: -c[1])
                if weight > 0][:count]
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

    def predict_proba(self, prepared):
        logits = np.full(
            len(prepared), math.log(max(self.won, 1) / max(self.lost, 1)))
        for column, (ratio, unseen) in self.tables.items():
            values = self._values(prepared, column)
            logits += values.map(ratio).fillna(unseen).to_numpy(dtype=float)
        return 1 / (1 + np.exp(-np.clip(logits, -500, 500)))


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


def train_scorer(
        frame, target, positive=None, kinds=None, test_size=0.2,
        min_examples=MIN_EXAMPLES, min_per_class=MIN_PER_CLASS,
        candidates=('linear', 'boosted'), random_state=0):
    """Train a LeadScorer from frame, or return NotEnoughData

    Rows whose target is empty (open leads) are left out. kinds overrides
    or completes the detected column kinds ({column: kind}).
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
    detected.update(kinds or {})
    detected.pop(target, None)
    if not any(k != IGNORED for k in detected.values()):
        return NotEnoughData('no usable column', len(y), 1, counts)
    prepared = _prepare(closed, detected)
    train, test, y_train, y_test = train_test_split(
        prepared, y, test_size=test_size, stratify=y,
        random_state=random_state)

    if len(train) > KFOLD_LIMIT:
        fit_part, validation = train_test_split(
            np.arange(len(train)), test_size=0.2, stratify=y_train,
            random_state=random_state)
        splits = [(fit_part, validation)]
    else:
        splits = list(StratifiedKFold(
                3, shuffle=True, random_state=random_state).split(
                train, y_train))
    validated = np.concatenate([v for _, v in splits])
    candidate_report, best = {}, None
    for name in candidates:
        raw = np.zeros(len(train))
        for fit_part, validation in splits:
            model = CANDIDATES[name](detected, random_state).fit(
                train.iloc[fit_part], y_train[fit_part])
            raw[validation] = model.raw(train.iloc[validation])
        auc = roc_auc_score(y_train[validated], raw[validated])
        candidate_report[name] = {'validation_roc_auc': float(auc)}
        # Prefer the first (linear, whose reasons are exact) unless another
        # is clearly better.
        if best is None or auc > best[1] + 0.005:
            best = (name, auc, raw, model)
    name, _, raw, model = best
    calibrator = _Platt().fit(raw[validated], y_train[validated])
    if len(splits) > 1:
        model = CANDIDATES[name](detected, random_state).fit(train, y_train)

    baseline = FrequencyBaseline(detected).fit(train, y_train)
    scorer = LeadScorer(target, positive, detected, model, calibrator, {})
    scorer.report = {
        'algorithm': name,
        'model': metrics(y_test, calibrator(model.raw(test))),
        'baseline': metrics(y_test, baseline.predict_proba(test)),
        'candidates': candidate_report,
        'train_rows': int(len(train)),
        'test_rows': int(len(test)),
        'columns': {c: k for c, k in detected.items()},
        'seconds': round(time.perf_counter() - start, 2),
        }
    return scorer
