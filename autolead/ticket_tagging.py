"""Category and tag suggestions for tickets and enquiries.

The tagger is plain Python in `ml/tagging.py`. It learns from the tickets
agents categorised and tagged; until there are enough, the keywords of the
categories and tags are used. Agents confirm a suggestion with a button or
correct it by choosing another category, which the next training learns.
"""
import copy
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
    __string__ = "Ticket Tagging Training"

    target = fields.Selection(
        TARGETS, "Suggests", required=True, readonly=True, sort=False)
    examples = fields.Integer(
        "Examples", readonly=True,
        help="The tickets agents categorised or tagged.")
    test_rows = fields.Integer(
        "Evaluated Tickets", readonly=True,
        help="The tickets the suggestions were measured on, each once, "
        "by cross-validation.")
    folds = fields.Integer("Folds", readonly=True,
        help="The parts of the cross-validation: each is predicted by a "
        "model trained on the others.")
    macro_f1 = fields.Float(
        "Macro-F1", digits=(1, 3), readonly=True,
        help="The F1 score averaged over the categories or tags, "
        "cross-validated on the tickets (1 is perfect).")
    macro_f1_std = fields.Float(
        "Spread (±)", digits=(1, 3), readonly=True,
        help="The standard deviation of the macro-F1 over the folds.")
    keyword_macro_f1 = fields.Float(
        "Keywords Macro-F1", digits=(1, 3), readonly=True,
        help="The macro-F1 of the keywords on the same folds: the model "
        "replaces them only when it does better.")
    accuracy = fields.Float("Accuracy", digits=(1, 3), readonly=True)
    labels = fields.Integer(
        "Learnt", readonly=True,
        help="The categories or tags with enough examples to learn.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.state = copy.copy(cls.state)
        cls.state.selection = cls.state.selection + [
            ('keywords_kept', "Keywords Kept")]

    @classmethod
    def current(cls, target):
        """The latest run that decided the suggestions of target (a trained
        model, or the keywords kept because they did better), or None"""
        runs = cls.search([
                ('state', 'in', ['trained', 'keywords_kept']),
                ('target', '=', target),
                ], order=[('date', 'DESC'), ('id', 'DESC')], limit=1)
        return runs[0] if runs else None

    @classmethod
    def train(cls, runs=None):
        """Train on the categorised and tagged tickets (in runs, one per
        target, else new runs); refresh the suggestions of open tickets"""
        pool = Pool()
        Ticket = pool.get('autolead.ticket')
        from .ml.tagging import train_tagger
        by_target = {r.target: r for r in runs or []}
        runs = []
        with without_check_access():
            for target, _ in TARGETS:
                texts, labels = Ticket.tagging_examples(target)
                run = by_target.get(target) or cls(target=target)
                run.date = datetime.datetime.now()
                run.examples = len(texts)
                run.progress = None
                keywords = cls.keyword_tagger(target)
                tagger = train_tagger(texts, labels, keywords=keywords) \
                    if texts else None
                if tagger:
                    report = tagger.report
                    run.macro_f1 = _round(report['macro_f1'])
                    run.macro_f1_std = _round(report['macro_f1_std'])
                    run.keyword_macro_f1 = _round(report['keyword_macro_f1'])
                    run.accuracy = _round(report['accuracy'])
                    run.test_rows = report['test_rows']
                    run.folds = report['folds']
                    run.labels = len(report['tags'])
                    run.seconds = report['seconds']
                    run.model = tagger.dumps()
                    if report['beats_keywords']:
                        run.state = 'trained'
                        run.message = None
                    else:
                        run.state = 'keywords_kept'
                        run.message = gettext(
                            'autolead.msg_ticket_tagging_keywords_kept',
                            model=f"{report['macro_f1']:.2f}",
                            keywords=f"{report['keyword_macro_f1']:.2f}")
                else:
                    run.state = 'not_enough_data'
                    run.message = gettext(
                        'autolead.msg_ticket_tagging_not_enough_data',
                        examples=len(texts))
                runs.append(run)
            cls.save(runs)
            from .ticket import OPEN_STATES
            Ticket.suggest(Ticket.search([('state', 'in', OPEN_STATES)]))
        return runs

    @classmethod
    def keyword_tagger(cls, target):
        "The KeywordTagger of the keywords of target, or None"
        pool = Pool()
        from .ml.tagging import KeywordTagger
        Model = pool.get('autolead.ticket.category' if target == 'category'
            else 'autolead.ticket.tag')
        with without_check_access():
            records = Model.search([('keywords', '!=', None)])
        rules = {str(r.id): r.keywords for r in records if r.keywords}
        return KeywordTagger(rules) if rules else None

    @classmethod
    def suggester(cls, target):
        "The trained tagger of target, else the keyword rules, or None"
        from .ml.tagging import Tagger
        run = cls.current(target)
        if run and run.state == 'trained':
            try:
                return run.fitted(Tagger.loads)
            except ModelVersionError:
                # written by another scikit-learn: the next training fixes it
                pass
        return cls.keyword_tagger(target)


def _round(value, digits=3):
    return None if value is None else round(value, digits)


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
        # each suggester knows from which confidence a suggestion means
        # something (see Tagger.thresholds)
        categories = category.suggest_many(
            texts, top=1, min_confidence=None) \
            if category else [[] for _ in records]
        tags = tag.suggest_many(
            texts, top=3, min_confidence=None) \
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
    __string__ = "Suggested Ticket Tag"

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
    __string__ = "Suggested Enquiry Tag"

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
        "Queue a training of the suggestions: the desk gets the hand back"
        Run = Pool().get('autolead.ticket.tagging.run')
        Run.queue_training([{'target': t} for t, _ in TARGETS])
