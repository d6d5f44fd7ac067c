"""Tag suggestions for tickets and enquiries from subject + description.

    tagger = train_tagger(texts, tags)       # or NotEnoughData
    tagger.report['macro_f1']                # on held-out tickets
    tagger.suggest('Invoice wrong', 'I was charged twice', top=3)
        -> [('billing', 0.91), ('account', 0.04), ...]
    KeywordTagger({'billing': ['invoice', 'refund']}).suggest(...)

texts are strings, (subject, description) pairs or a DataFrame with
`subject` and `description` columns. tags are one tag per text
(multi-class) or a list of tags per text (multi-label). Features are word
(1-2) and character (1-4, within words) n-gram TF-IDF; the classifier is a
linear SVM with class weights balanced for rare tags, calibrated (sigmoid,
cross-validated) so its probabilities serve as confidences; one-vs-rest for
multi-label.
"""
import re
import time

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import MultiLabelBinarizer
from sklearn.svm import LinearSVC

from . import NotEnoughData, dumps, loads

__all__ = ['NotEnoughData', 'Tagger', 'KeywordTagger', 'train_tagger',
    'ticket_text']

MIN_EXAMPLES = 20
MIN_PER_TAG = 5


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
    classifier = CalibratedClassifierCV(
        LinearSVC(C=C, class_weight='balanced'), method='sigmoid',
        cv=max(2, min(3, smallest_tag)))
    if multilabel:
        classifier = OneVsRestClassifier(classifier)
    return Pipeline([('features', features), ('classifier', classifier)])


class Tagger:
    "A trained tag model; build it with train_tagger"
    KIND = 'autolead.tagger'

    def __init__(self, pipeline, tags, multilabel, threshold, report):
        self.pipeline = pipeline
        self.tags = list(tags)
        self.multilabel = multilabel
        self.threshold = threshold
        self.report = report

    def probabilities(self, texts):
        "Matrix of confidences, one column per tag of self.tags"
        return self.pipeline.predict_proba(_texts(texts))

    def suggest(self, subject, description='', top=3, min_confidence=0.0):
        "[(tag, confidence)] for one ticket, most likely first"
        return self.suggest_many(
            [(subject, description)], top, min_confidence)[0]

    def suggest_many(self, texts, top=3, min_confidence=0.0):
        probabilities = self.probabilities(texts)
        result = []
        for row in probabilities:
            order = np.argsort(-row)[:top]
            result.append([(self.tags[i], float(row[i])) for i in order
                    if row[i] >= min_confidence])
        return result

    def predict(self, texts):
        """The tag of each text, or for multi-label the tags above the
        threshold (the most likely one when none is)"""
        probabilities = self.probabilities(texts)
        if not self.multilabel:
            return [self.tags[i] for i in probabilities.argmax(axis=1)]
        return [[self.tags[i] for i in np.flatnonzero(
                        row >= self.threshold)] or [self.tags[row.argmax()]]
            for row in probabilities]

    def evaluate(self, texts, tags):
        "Macro-F1 and accuracy (exact match for multi-label) on texts"
        return _evaluate(self, texts, tags)

    def dumps(self):
        return dumps(self, self.KIND)

    @classmethod
    def loads(cls, data):
        return loads(data, cls.KIND)


def _evaluate(tagger, texts, tags):
    predicted = tagger.predict(texts)
    if tagger.multilabel:
        binarizer = MultiLabelBinarizer(classes=tagger.tags)
        binarizer.fit([tagger.tags])
        truth = binarizer.transform([set(t) & set(tagger.tags) for t in tags])
        predicted = binarizer.transform(predicted)
    else:
        truth = list(tags)
    return {
        'macro_f1': float(f1_score(
                truth, predicted, average='macro', zero_division=0)),
        'accuracy': float(accuracy_score(truth, predicted)),
        'rows': len(truth),
        }


def train_tagger(
        texts, tags, test_size=0.2, min_examples=MIN_EXAMPLES,
        min_per_tag=MIN_PER_TAG, C=0.3, threshold=0.5, refit=True,
        random_state=0):
    """Train a Tagger, or return NotEnoughData

    Tags with fewer than min_per_tag examples are left out (listed in the
    report). A stratified test_size part is held out for the report's
    macro-F1; with refit the returned model is then trained on everything.
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
        counts = pd.Series([t for ts in tags for t in ts]).value_counts()
    else:
        counts = pd.Series(tags).value_counts()
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
        stratify = None
    else:
        target = np.array(tags, dtype=object)
        stratify = target
    if test_size:
        train_rows, test_rows = train_test_split(
            np.arange(len(texts)), test_size=test_size, stratify=stratify,
            random_state=random_state)
    else:  # evaluated by the caller on its own data
        train_rows, test_rows = np.arange(len(texts)), np.array([], int)
    def smallest(rows):
        if multilabel:
            positives = target[rows].sum(axis=0)
            return int(min(positives.min(), (len(rows) - positives).min()))
        return int(pd.Series(target[rows]).value_counts().min())

    pipeline = _pipeline(multilabel, C, smallest(train_rows)).fit(
        [texts[i] for i in train_rows], target[train_rows])
    tagger = Tagger(pipeline, kept, multilabel, threshold, {})
    held_out = {'macro_f1': None, 'accuracy': None}
    if len(test_rows):
        held_out = _evaluate(tagger, [texts[i] for i in test_rows],
            [tags[i] for i in test_rows])
    if refit and len(test_rows):
        tagger.pipeline = _pipeline(
            multilabel, C, smallest(np.arange(len(texts)))).fit(
            texts, target)
    tagger.report = {
        'macro_f1': held_out['macro_f1'],
        'accuracy': held_out['accuracy'],
        'train_rows': int(len(train_rows)),
        'test_rows': int(len(test_rows)),
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

    def suggest_many(self, texts, top=3, min_confidence=0.0):
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
