"""Category and tag suggestions for tickets and enquiries.

The tagger is plain Python in `ml/tagging.py`. It learns from the tickets
agents categorised and tagged; until there are enough, the keywords of the
categories and tags are used. Agents confirm a suggestion with a button or
correct it by choosing another category, which the next training learns.
"""
import datetime

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval
from trytond.transaction import without_check_access

from .ml import ModelVersionError
from .training import TrainingRunMixin

TARGETS = [
    ('category', "Category"),
    ('tag', "Tags"),
    ]
MIN_CATEGORY_CONFIDENCE = 0.3
MIN_TAG_CONFIDENCE = 0.5


class TicketCategory(metaclass=PoolMeta):
    __name__ = 'autolead.ticket.category'

    keywords = fields.Char(
        "Keywords",
        help="Comma-separated words that suggest this category for a new "
        "ticket until enough tickets are categorised to learn from.")


class TicketTag(metaclass=PoolMeta):
    __name__ = 'autolead.ticket.tag'

    keywords = fields.Char(
        "Keywords",
        help="Comma-separated words that suggest this tag for a new "
        "ticket until enough tickets are tagged to learn from.")


class Run(TrainingRunMixin, ModelSQL, ModelView):
    "A training of the ticket category or tag suggestions"
    __name__ = 'autolead.ticket.tagging.run'

    target = fields.Selection(
        TARGETS, "Suggests", required=True, readonly=True, sort=False)
    examples = fields.Integer(
        "Examples", readonly=True,
        help="The tickets agents categorised or tagged.")
    test_rows = fields.Integer(
        "Held-out Tickets", readonly=True,
        help="The tickets kept aside to measure the suggestions.")
    macro_f1 = fields.Float(
        "Macro-F1", digits=(1, 3), readonly=True,
        help="The F1 score averaged over the categories or tags, "
        "on the held-out tickets (1 is perfect).")
    accuracy = fields.Float("Accuracy", digits=(1, 3), readonly=True)
    labels = fields.Integer(
        "Learnt", readonly=True,
        help="The categories or tags with enough examples to learn.")

    @classmethod
    def current(cls, target):
        "The latest run that produced a model for target, or None"
        return cls.latest_trained([('target', '=', target)])

    @classmethod
    def train(cls):
        "Train on the categorised and tagged tickets; refresh suggestions"
        pool = Pool()
        Ticket = pool.get('autolead.ticket')
        from .ml.tagging import train_tagger
        runs = []
        with without_check_access():
            for target, _ in TARGETS:
                texts, labels = Ticket.tagging_examples(target)
                run = cls(date=datetime.datetime.now(), target=target,
                    examples=len(texts))
                tagger = train_tagger(texts, labels) if texts else None
                if tagger:
                    report = tagger.report
                    run.state = 'trained'
                    run.macro_f1 = round(report['macro_f1'], 3)
                    run.accuracy = round(report['accuracy'], 3)
                    run.test_rows = report['test_rows']
                    run.labels = len(report['tags'])
                    run.seconds = report['seconds']
                    run.model = tagger.dumps()
                else:
                    run.state = 'not_enough_data'
                    run.message = gettext(
                        'autolead.msg_ticket_tagging_not_enough_data',
                        examples=len(texts))
                runs.append(run)
            cls.save(runs)
            Ticket.suggest(Ticket.search([
                        ('state', '=', 'new'),
                        ('category', '=', None),
                        ]))
        return runs

    @classmethod
    def suggester(cls, target):
        "The trained tagger of target, else the keyword rules, or None"
        pool = Pool()
        from .ml.tagging import KeywordTagger, Tagger
        run = cls.current(target)
        if run:
            try:
                return run.fitted(Tagger.loads)
            except ModelVersionError:
                # written by another scikit-learn: the next training fixes it
                pass
        Model = pool.get('autolead.ticket.category' if target == 'category'
            else 'autolead.ticket.tag')
        with without_check_access():
            records = Model.search([('keywords', '!=', None)])
        rules = {str(r.id): r.keywords for r in records if r.keywords}
        return KeywordTagger(rules) if rules else None


class SuggestionMixin:
    "Suggested category and tags from the subject and the description"
    __slots__ = ()

    suggested_category = fields.Many2One(
        'autolead.ticket.category', "Suggested Category", readonly=True,
        ondelete='SET NULL')
    suggested_category_confidence = fields.Float(
        "Confidence", digits=(1, 2), readonly=True,
        help="How sure the suggestion is, from 0 to 1.")

    @classmethod
    def copy(cls, records, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('suggested_category')
        default.setdefault('suggested_category_confidence')
        default.setdefault('suggested_tags')
        return super().copy(records, default=default)

    @classmethod
    def _suggestion_texts(cls, records):
        raise NotImplementedError

    @classmethod
    def suggest(cls, records):
        "Store the suggested category and tags of records"
        pool = Pool()
        Run = pool.get('autolead.ticket.tagging.run')
        if not records:
            return
        texts = cls._suggestion_texts(records)
        with without_check_access():
            category = Run.suggester('category')
            tag = Run.suggester('tag')
        categories = category.suggest_many(
            texts, top=1, min_confidence=MIN_CATEGORY_CONFIDENCE) \
            if category else [[] for _ in records]
        tags = tag.suggest_many(
            texts, top=3, min_confidence=MIN_TAG_CONFIDENCE) \
            if tag else [[] for _ in records]
        to_write = []
        for record, found, tagged in zip(records, categories, tags):
            values = {
                'suggested_category': int(found[0][0]) if found else None,
                'suggested_category_confidence': (
                    round(found[0][1], 2) if found else None),
                'suggested_tags': [
                    ('remove', [t.id for t in record.suggested_tags]),
                    ('add', [int(t) for t, _ in tagged]),
                    ],
                }
            to_write.extend(([record], values))
        with without_check_access():
            cls.write(*to_write)


class Ticket(SuggestionMixin, metaclass=PoolMeta):
    __name__ = 'autolead.ticket'

    suggested_tags = fields.Many2Many(
        'autolead.ticket-suggested-autolead.ticket.tag', 'ticket', 'tag',
        "Suggested Tags", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'confirm_suggestion': {
                    'invisible': (
                        ~Bool(Eval('suggested_category'))
                        & ~Eval('suggested_tags', [])),
                    'readonly': Eval('state').in_(['resolved', 'rejected']),
                    'icon': 'tryton-ok',
                    'depends': ['suggested_category', 'suggested_tags',
                        'state'],
                    },
                })

    @classmethod
    def create(cls, vlist):
        tickets = super().create(vlist)
        cls.suggest([t for t in tickets if not t.category])
        return tickets

    @classmethod
    def _suggestion_texts(cls, tickets):
        return [(t.subject, t.description) for t in tickets]

    @classmethod
    @ModelView.button
    def confirm_suggestion(cls, tickets):
        "Take the suggested category and add the suggested tags"
        to_write = []
        for ticket in tickets:
            values = {}
            if ticket.suggested_category and not ticket.category:
                values['category'] = ticket.suggested_category.id
            new_tags = [t.id for t in ticket.suggested_tags
                if t not in ticket.tags]
            if new_tags:
                values['tags'] = [('add', new_tags)]
            if values:
                to_write.extend(([ticket], values))
        if to_write:
            cls.write(*to_write)

    @classmethod
    def tagging_examples(cls, target):
        """The texts of the tickets agents categorised (target category) or
        tagged (target tag) and their labels: category ids, or sets of tag
        ids, as strings"""
        if target == 'category':
            tickets = cls.search([('category', '!=', None)])
            labels = [str(t.category.id) for t in tickets]
        else:
            tickets = cls.search([('tags', '!=', None)])
            labels = [{str(tag.id) for tag in t.tags} for t in tickets]
        return cls._suggestion_texts(tickets), labels


class TicketSuggestedTag(ModelSQL):
    __name__ = 'autolead.ticket-suggested-autolead.ticket.tag'

    ticket = fields.Many2One(
        'autolead.ticket', "Ticket", required=True, ondelete='CASCADE')
    tag = fields.Many2One(
        'autolead.ticket.tag', "Tag", required=True, ondelete='CASCADE')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.ticket, Index.Range())))


class Enquiry(SuggestionMixin, metaclass=PoolMeta):
    __name__ = 'autolead.enquiry'

    suggested_tags = fields.Many2Many(
        'autolead.enquiry-suggested-autolead.ticket.tag', 'enquiry', 'tag',
        "Suggested Tags", readonly=True)

    @classmethod
    def create(cls, vlist):
        enquiries = super().create(vlist)
        cls.suggest(enquiries)
        return enquiries

    @classmethod
    def _suggestion_texts(cls, enquiries):
        return [(e.subject, e.message) for e in enquiries]


class EnquirySuggestedTag(ModelSQL):
    __name__ = 'autolead.enquiry-suggested-autolead.ticket.tag'

    enquiry = fields.Many2One(
        'autolead.enquiry', "Enquiry", required=True, ondelete='CASCADE')
    tag = fields.Many2One(
        'autolead.ticket.tag', "Tag", required=True, ondelete='CASCADE')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.enquiry, Index.Range())))


class Configuration(metaclass=PoolMeta):
    __name__ = 'autolead.configuration'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'train_tagging': {
                    'icon': 'tryton-launch',
                    },
                })

    @classmethod
    @ModelView.button
    def train_tagging(cls, configurations):
        Run = Pool().get('autolead.ticket.tagging.run')
        Run.train()
