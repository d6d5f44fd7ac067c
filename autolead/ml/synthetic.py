"""Synthetic closed leads with a known signal, for tests and benchmarks

The outcome depends on the source, the industry, the number of
interactions, an interaction between industry and event leads, a
saturating effect of follow-ups and on words in the notes; the rest is
noise. A frequency (naive-Bayes) model sees only part of that signal.
"""
import numpy as np
import pandas as pd

SOURCES = ['website', 'google', 'facebook', 'referral', 'ivr', 'email',
    'phone', 'walk_in', 'event']
INDUSTRIES = ['retail', 'textiles', 'software', 'logistics', 'healthcare',
    'education', 'finance', 'hospitality', 'construction', 'agriculture']
TERRITORIES = ['north', 'south', 'east', 'west', 'central', 'export']
FILLER = ('called client discussed requirements sent brochure follow up '
    'next week meeting scheduled email shared quote pricing options '
    'asked about delivery timeline team size contract terms').split()
POSITIVE_PHRASES = ['asked for a demo', 'budget approved',
    'decision maker on call']
NEGATIVE_PHRASES = ['not interested', 'went with competitor',
    'no budget this year']


def leads(rows, seed=0, signal=1.0):
    "A DataFrame of rows closed leads with a boolean `won` column"
    random = np.random.default_rng(seed)
    source = random.choice(SOURCES, rows,
        p=[.25, .15, .12, .08, .06, .1, .1, .06, .08])
    industry = random.choice(INDUSTRIES, rows)
    territory = random.choice(TERRITORIES, rows)
    # a long tail of campaigns: many are rare
    campaign = np.array([f'camp-{i:03d}' for i in
            np.minimum(random.zipf(1.6, rows), 400)])
    followups = random.poisson(2.5, rows)
    interactions = random.poisson(3, rows)
    days_open = np.round(random.exponential(30, rows), 1)
    budget = np.where(random.random(rows) < .15, np.nan,
        np.round(random.lognormal(10, 1, rows), -2))

    positive = random.random(rows) < .3
    negative = random.random(rows) < .3
    notes = []
    for i in range(rows):
        words = list(random.choice(FILLER, random.integers(4, 14)))
        if positive[i]:
            words.insert(random.integers(0, len(words) + 1),
                POSITIVE_PHRASES[random.integers(0, 3)])
        if negative[i]:
            words.insert(random.integers(0, len(words) + 1),
                NEGATIVE_PHRASES[random.integers(0, 3)])
        notes.append(' '.join(words))

    logit = (-1.2
        + 1.4 * (source == 'referral') + .5 * (source == 'website')
        - .6 * (source == 'facebook')
        + .5 * (industry == 'software') - .4 * (industry == 'agriculture')
        # interaction: event leads convert only in retail and hospitality
        + 2.0 * ((source == 'event')
            & np.isin(industry, ['retail', 'hospitality']))
        - 1.0 * ((source == 'event')
            & ~np.isin(industry, ['retail', 'hospitality']))
        + .35 * np.minimum(interactions, 6)
        # follow-ups help up to three, then show a stalled deal
        + .5 * np.minimum(followups, 3) - .6 * np.maximum(followups - 3, 0)
        - .015 * days_open
        + 1.6 * positive - 1.8 * negative)
    won = random.random(rows) < 1 / (1 + np.exp(-signal * logit))
    return pd.DataFrame({
            'source': source,
            'industry': industry,
            'territory': territory,
            'campaign': campaign,
            'followups': followups,
            'interactions': interactions,
            'days_open': days_open,
            'budget': budget,
            'notes': notes,
            'won': won,
            })


TICKET_TOPICS = {
    'billing': ['invoice', 'charged twice', 'refund', 'payment failed',
        'wrong amount', 'billing address', 'credit note', 'overcharged'],
    'delivery': ['parcel', 'not delivered', 'tracking number', 'courier',
        'late shipment', 'delivery date', 'wrong address', 'lost package'],
    'login': ['password', 'cannot log in', 'reset link', 'locked out',
        'two factor', 'login page', 'account access', 'forgot username'],
    'defect': ['broken', 'stopped working', 'damaged', 'error message',
        'crashes', 'faulty unit', 'does not turn on', 'cracked screen'],
    }
TICKET_FILLER = ('hello team please help me with this issue since last '
    'week it is urgent thanks regards order customer i have tried again '
    'today still the same problem kindly check and reply soon').split()


def tickets(rows, seed=0, typos=0.05):
    "(subject, description) pairs and their tag, from topic phrases"
    random = np.random.default_rng(seed)
    topics = list(TICKET_TOPICS)
    texts, tags = [], []
    for _ in range(rows):
        tag = topics[random.integers(len(topics))]
        phrases = TICKET_TOPICS[tag]
        subject = phrases[random.integers(len(phrases))]
        words = list(random.choice(TICKET_FILLER, random.integers(8, 25)))
        for _ in range(random.integers(1, 3)):
            words.insert(random.integers(0, len(words) + 1),
                phrases[random.integers(len(phrases))])
        # one phrase from another topic, as real tickets wander
        other = TICKET_TOPICS[topics[random.integers(len(topics))]]
        words.insert(random.integers(0, len(words) + 1),
            other[random.integers(len(other))])
        description = ' '.join(_typo(w, random, typos) for w in words)
        texts.append((subject.capitalize(), description))
        tags.append(tag)
    return texts, tags


def _typo(word, random, rate):
    if len(word) > 3 and random.random() < rate:
        i = random.integers(1, len(word) - 1)
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word


FAQ = [
    {'id': 'what', 'question': "What is Auto Lead?",
        'answer': "Auto Lead is a CRM and helpdesk: it captures leads, "
        "tracks them to a sale and handles support tickets."},
    {'id': 'contact', 'question': "How can I contact support?",
        'answer': "Write to support@example.com or call +91 80 4000 1234, "
        "Monday to Saturday 9:00-18:00."},
    {'id': 'hours', 'question': "What are your opening hours?",
        'answer': "Monday to Saturday, 9:00 to 18:00 IST."},
    {'id': 'price', 'question': "How much does it cost?",
        'alternatives': ["What are your prices?"],
        'answer': "Plans start at 1,500 INR per user per month."},
    {'id': 'trial', 'question': "Is there a free trial?",
        'answer': "Yes, 30 days with all features."},
    {'id': 'refund', 'question': "What is your refund policy?",
        'answer': "Cancel within 14 days for a full refund."},
    {'id': 'language', 'question': "Which languages are supported?",
        'answer': "English, Hindi, Tamil and Kannada."},
    {'id': 'export', 'question': "Can I export my data?",
        'answer': "Yes, every list exports to CSV or Excel."},
    ]
