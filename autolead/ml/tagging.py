"""Tag suggestions for tickets and enquiries from subject + description.

    tagger = train_tagger(texts, tags)       # or NotEnoughData
    tagger.report['macro_f1']                # cross-validated
    tagger.suggest('Invoice wrong', 'I was charged twice', top=3)
        -> [('billing', 0.91), ('account', 0.04), ...]
    KeywordTagger({'billing': ['invoice', 'refund']}).suggest(...)

texts are strings, (subject, description) pairs or a DataFrame with
`subject` and `description` columns. tags are one tag per text
(multi-class) or a list of tags per text (multi-label). Features are word
(1-2) and character (1-4, within words) n-gram TF-IDF; the classifier is a
linear SVM with class weights balanced for rare tags, calibrated (sigmoid,
cross-validated) so its probabilities serve as confidences, once there are
enough examples per tag, a logistic regression before; one-vs-rest for
multi-label. The figures are cross-validated on all the examples, next to
the keyword rules' on the same folds.
"""
import re
import time

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import MultiLabelBinarizer
from sklearn.svm import LinearSVC

from . import NotEnoughData, dumps, loads

__all__ = ['NotEnoughData', 'Tagger', 'KeywordTagger', 'train_tagger',
    'ticket_text']

MIN_EXAMPLES = 20
MIN_PER_TAG = 5
# calibrate a linear SVM only with at least this many examples of the rarest
# tag (else a logistic regression with this inverse regularisation)
CALIBRATION_MIN = 60
SMALL_DATA_C = 10.0
# a tag is suggested when its confidence closes this part of the gap
# between its prior and certainty
MARGIN = 0.2


def ticket_text(subject, description=''):
    "One text per ticket; the subject counts twice, it is the summary"
    subject = subject or ''
    return f'{subject}\n{subject}\n{description or ""}'


def _texts(items):
    if isinstance(items, pd.DataFrame):
        description = items['description'] if 'description' in items \
            else [''] * len(items)
        return [ticket_text(s, d) for s, d in zip(
                items['subject'].fillna(''), pd.Series(description).fillna(
                    ''))]
    if isinstance(items, str):
        items = [items]
    return [ticket_text(*item) if isinstance(item, (tuple, list))
        else (item or '') for item in items]


def _pipeline(multilabel, C, smallest_tag):
    """Word and character n-gram TF-IDF into a linear classifier

    Sigmoid calibration of a linear SVM needs enough examples of each tag
    in each of its folds: below CALIBRATION_MIN it lowered macro-F1 (13
    examples per fold), so small data gets a logistic regression, whose
    probabilities need no calibration."""
    features = FeatureUnion([
            ('words', TfidfVectorizer(
                    strip_accents='unicode', ngram_range=(1, 2), min_df=2,
                    max_features=100000, sublinear_tf=True,
                    dtype=np.float32)),
            # character n-grams within words catch typos and word forms
            ('chars', TfidfVectorizer(
                    strip_accents='unicode', analyzer='char_wb',
                    ngram_range=(1, 4), min_df=2, max_features=100000,
                    sublinear_tf=True, dtype=np.float32)),
            ])
    if smallest_tag >= CALIBRATION_MIN:
        classifier = CalibratedClassifierCV(
            LinearSVC(C=C, class_weight='balanced'), method='sigmoid', cv=3)
    else:
        classifier = LogisticRegression(
            C=SMALL_DATA_C, class_weight='balanced', max_iter=2000)
    if multilabel:
        classifier = OneVsRestClassifier(classifier)
    return Pipeline([('features', features), ('classifier', classifier)])


class Tagger:
    """A trained tag model; build it with train_tagger

    A tag is suggested when its confidence closes a part (MARGIN) of the
    gap between its prior and certainty: with two balanced tags that is
    0.6, with ten 0.28, so the cut-off means the same whatever the number
    of tags (a fixed 0.3 filters nothing with two tags). The prior is the
    one the confidences are relative to: the tag's share of the examples
    for calibrated models, an even share for class-balanced ones."""
    KIND = 'autolead.tagger'

    def __init__(self, pipeline, tags, multilabel, threshold, report,
            priors=None):
        self.pipeline = pipeline
        self.tags = list(tags)
        self.multilabel = multilabel
        self.threshold = threshold
        self.report = report
        if priors is None:
            priors = [0.5 if multilabel else 1 / max(len(self.tags), 1)] \
                * len(self.tags)
        self.priors = np.asarray(priors, dtype=float)

    @property
    def thresholds(self):
        "The confidence from which each tag is suggested"
        return self.priors + (1 - self.priors) * MARGIN

    def probabilities(self, texts):
        "Matrix of confidences, one column per tag of self.tags"
        texts = _texts(texts)
        if not texts:
            return np.zeros((0, len(self.tags)))
        return self.pipeline.predict_proba(texts)

    def suggest(self, subject, description='', top=3, min_confidence=0.0):
        "[(tag, confidence)] for one ticket, most likely first"
        return self.suggest_many(
            [(subject, description)], top, min_confidence)[0]

    def suggest_many(self, texts, top=3, min_confidence=0.0):
        """[(tag, confidence)] per text, most likely first; min_confidence
        None keeps the tags above their threshold (`thresholds`)"""
        probabilities = self.probabilities(texts)
        limits = self.thresholds if min_confidence is None \
            else np.full(len(self.tags), min_confidence)
        result = []
        for row in probabilities:
            order = np.argsort(-row)[:top]
            result.append([(self.tags[i], float(row[i])) for i in order
                    if row[i] >= limits[i]])
        return result

    def predict(self, texts):
        """The tag of each text, or for multi-label the tags above their
        threshold (the most likely one when none is)"""
        probabilities = self.probabilities(texts)
        if not self.multilabel:
            return [self.tags[i] for i in probabilities.argmax(axis=1)]
        return [[self.tags[i] for i in np.flatnonzero(
                        row >= self.thresholds)] or [self.tags[row.argmax()]]
            for row in probabilities]

    def evaluate(self, texts, tags):
        "Macro-F1 and accuracy (exact match for multi-label) on texts"
        return _evaluate(self, texts, tags)

    def dumps(self):
        return dumps(self, self.KIND)

    @classmethod
    def loads(cls, data):
        return loads(data, cls.KIND)


def _scores(tags, multilabel, truth, predicted):
    if multilabel:
        binarizer = MultiLabelBinarizer(classes=tags)
        binarizer.fit([tags])
        truth = binarizer.transform([set(t) & set(tags) for t in truth])
        predicted = binarizer.transform(
            [set(p) & set(tags) for p in predicted])
        labels = None
    else:
        truth, labels = list(truth), list(tags)
        predicted = [p if p is not None else '' for p in predicted]
    return {
        'macro_f1': float(f1_score(truth, predicted, labels=labels,
                average='macro', zero_division=0)),
        'accuracy': float(accuracy_score(truth, predicted)),
        'rows': len(truth),
        }


def _evaluate(tagger, texts, tags):
    return _scores(tagger.tags, tagger.multilabel, tags,
        tagger.predict(texts))


def train_tagger(
        texts, tags, test_size=None, min_examples=MIN_EXAMPLES,
        min_per_tag=MIN_PER_TAG, C=0.3, threshold=0.5, refit=True,
        random_state=0, keywords=None, folds=5):
    """Train a Tagger, or return NotEnoughData

    Tags with fewer than min_per_tag examples are left out (listed in the
    report). The report's macro-F1 is the mean (and `macro_f1_std` the
    spread) over a stratified cross-validation of up to folds folds on all
    the examples, and so is `keyword_macro_f1` of keywords (a
    KeywordTagger) on the same folds: the model should replace the rules
    only when it beats them (`beats_keywords`). test_size=0 skips the
    cross-validation (the caller evaluates on its own data).
    """
    start = time.perf_counter()
    texts = _texts(texts)
    tags = list(tags)
    if len(texts) != len(tags):
        raise ValueError('texts and tags differ in length')
    multilabel = any(isinstance(t, (list, tuple, set, frozenset))
        for t in tags)
    if multilabel:
        tags = [set(t) if isinstance(t, (list, tuple, set, frozenset))
            else {t} for t in tags]
        counts = pd.Series([t for ts in tags for t in ts],
            dtype=object).value_counts()
    else:
        counts = pd.Series(tags, dtype=object).value_counts()
    kept = sorted(counts[counts >= min_per_tag].index)
    dropped = sorted(counts[counts < min_per_tag].index)
    if multilabel:
        keep = set(kept)
        rows = [i for i, t in enumerate(tags) if t & keep]
        tags = [tags[i] & keep for i in rows]
    else:
        rows = [i for i, t in enumerate(tags) if t in kept]
        tags = [tags[i] for i in rows]
    texts = [texts[i] for i in rows]
    if len(texts) < min_examples:
        return NotEnoughData('too few tagged examples', len(texts),
            min_examples, counts.to_dict())
    if len(kept) < 2:
        return NotEnoughData(f'fewer than two tags with {min_per_tag} '
            'examples', len(texts), min_per_tag, counts.to_dict())

    if multilabel:
        binarizer = MultiLabelBinarizer(classes=kept).fit([kept])
        target = binarizer.transform(tags)
    else:
        target = np.array(tags, dtype=object)

    def smallest(rows):
        if multilabel:
            positives = target[rows].sum(axis=0)
            return int(min(positives.min(), (len(rows) - positives).min()))
        return int(pd.Series(target[rows]).value_counts().min())

    def fit(rows):
        pipeline = _pipeline(multilabel, C, smallest(rows)).fit(
            [texts[i] for i in rows], target[rows])
        calibrated = smallest(rows) >= CALIBRATION_MIN
        if calibrated and multilabel:
            priors = target[rows].mean(axis=0)
        elif calibrated:
            priors = [float(np.mean(target[rows] == t)) for t in kept]
        else:
            priors = None
        return Tagger(pipeline, kept, multilabel, threshold, {}, priors)

    model_f1, keyword_f1, accuracy = [], [], []
    splits = []
    if test_size != 0:
        k = min(folds, smallest(np.arange(len(texts))))
        if k >= 2:
            splitter = (KFold(k, shuffle=True, random_state=random_state)
                if multilabel else StratifiedKFold(
                    k, shuffle=True, random_state=random_state))
            splits = list(splitter.split(
                    texts, None if multilabel else target))
    for fit_rows, test_rows in splits:
        fold = fit(fit_rows)
        truth = [tags[i] for i in test_rows]
        fold_texts = [texts[i] for i in test_rows]
        scores = _scores(kept, multilabel, truth, fold.predict(fold_texts))
        model_f1.append(scores['macro_f1'])
        accuracy.append(scores['accuracy'])
        if keywords is not None:
            keyword_f1.append(_scores(kept, multilabel, truth,
                    keywords.predict(fold_texts, multilabel))['macro_f1'])
    tagger = fit(np.arange(len(texts)))

    def mean(values):
        return float(np.mean(values)) if values else None
    tagger.report = {
        'macro_f1': mean(model_f1),
        'macro_f1_std': float(np.std(model_f1)) if model_f1 else None,
        'accuracy': mean(accuracy),
        'keyword_macro_f1': mean(keyword_f1),
        'beats_keywords': (keywords is None or not keyword_f1
            or mean(model_f1) > mean(keyword_f1)),
        'folds': len(splits),
        'calibrated': smallest(np.arange(len(texts))) >= CALIBRATION_MIN,
        'train_rows': int(len(texts)),
        'test_rows': int(len(texts)) if splits else 0,
        'tags': {str(t): int(counts[t]) for t in kept},
        'dropped_tags': [str(t) for t in dropped],
        'multilabel': multilabel,
        'seconds': round(time.perf_counter() - start, 2),
        }
    return tagger


class KeywordTagger:
    """Cold-start tags from keyword rules an admin edits: {tag: [keywords]}

    A keyword matches whole words, case-insensitively; the confidence grows
    with the number of keywords found (1 - 0.5 ** hits, at most 0.9), so a
    rule never looks as sure as a trained model can.
    """

    def __init__(self, rules):
        self.rules = {}
        for tag, keywords in rules.items():
            if isinstance(keywords, str):
                keywords = [k for k in re.split(r'[,\n]', keywords)]
            patterns = [re.compile(r'\b' + re.escape(k.strip().lower())
                    + r'\b') for k in keywords if k.strip()]
            if patterns:
                self.rules[tag] = patterns
        self.tags = list(self.rules)

    def suggest(self, subject, description='', top=3, min_confidence=0.0):
        return self.suggest_many(
            [(subject, description)], top, min_confidence)[0]

    def predict(self, texts, multilabel=False):
        """The tag of the most keywords found in each text (None when none
        is), or for multilabel all the tags with a keyword found"""
        found = self.suggest_many(texts, top=len(self.tags) or 1)
        if multilabel:
            return [[t for t, _ in tags] for tags in found]
        return [tags[0][0] if tags else None for tags in found]

    def suggest_many(self, texts, top=3, min_confidence=0.0):
        if min_confidence is None:
            # one keyword found is enough
            min_confidence = 0.5
        result = []
        for text in _texts(texts):
            text = text.lower()
            scores = []
            for tag, patterns in self.rules.items():
                hits = sum(1 for p in patterns if p.search(text))
                if hits:
                    scores.append((tag, min(0.9, 1 - 0.5 ** hits)))
            scores.sort(key=lambda s: -s[1])
            result.append([s for s in scores[:top]
                    if s[1] >= min_confidence])
        return result
