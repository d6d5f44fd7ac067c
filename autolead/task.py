import datetime

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Workflow, fields
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval, If
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

from .automation import model_exists

PRIORITIES = [
    ('0', "Low"),
    ('1', "Normal"),
    ('2', "High"),
    ('3', "Urgent"),
    ]


def ticket_selection():
    "The ticket model once the helpdesk is installed"
    pool = Pool()
    selection = [(None, '')]
    if model_exists('autolead.ticket'):
        Model = pool.get('ir.model')
        selection.append(
            ('autolead.ticket', Model.get_name('autolead.ticket')))
    return selection


class Task(Workflow, ModelSQL, ModelView):
    "To-do of a sales representative or an agent"
    __name__ = 'autolead.task'
    __string__ = "Task"

    _states = {
        'readonly': Eval('state') == 'completed',
        }

    name = fields.Char("Name", required=True, states=_states)
    description = fields.Text("Description", states=_states)
    lead = fields.Many2One(
        'autolead.lead', "Lead", ondelete='CASCADE', states=_states)
    party = fields.Many2One(
        'party.party', "Customer", ondelete='CASCADE', states=_states)
    ticket = fields.Reference(
        "Ticket", selection='get_tickets', states=_states)
    assignee = fields.Many2One(
        'res.user', "Assignee", required=True, ondelete='RESTRICT',
        states=_states)
    due = fields.DateTime("Due", states=_states)
    priority = fields.Selection(
        PRIORITIES, "Priority", sort=False, required=True, states=_states)
    state = fields.Selection([
            ('pending', "Pending"),
            ('in_progress', "In Progress"),
            ('completed', "Completed"),
            ], "Status", readonly=True, required=True, sort=False)
    completed_at = fields.DateTime("Completed At", readonly=True)
    overdue = fields.Function(
        fields.Boolean("Overdue",
            help="The task is not completed and its due time has passed."),
        'get_overdue', searcher='search_overdue')
    rule = fields.Many2One(
        'autolead.task.rule', "Rule", readonly=True, ondelete='SET NULL',
        help="The stage rule that created the task.")

    del _states

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.assignee, Index.Range())),
                Index(t, (t.lead, Index.Range())),
                Index(t, (t.party, Index.Range())),
                Index(t, (t.due, Index.Range()),
                    where=t.state != 'completed'),
                Index(t, (t.state, Index.Equality(cardinality='low'))),
                })
        cls._order = [
            ('due', 'ASC NULLS LAST'),
            ('priority', 'DESC'),
            ('id', 'DESC'),
            ]
        cls._transitions |= {
            ('pending', 'in_progress'),
            ('pending', 'completed'),
            ('in_progress', 'completed'),
            ('in_progress', 'pending'),
            ('completed', 'in_progress'),
            }
        cls._buttons.update({
                'pending': {
                    'invisible': Eval('state') != 'in_progress',
                    'icon': 'tryton-back',
                    'depends': ['state'],
                    },
                'start': {
                    'invisible': ~Eval('state').in_(
                        ['pending', 'completed']),
                    'icon': If(Eval('state') == 'completed',
                        'tryton-undo', 'tryton-forward'),
                    'depends': ['state'],
                    },
                'complete': {
                    'invisible': Eval('state') == 'completed',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'pending'

    @classmethod
    def default_priority(cls):
        return '1'

    @classmethod
    def default_assignee(cls):
        return Transaction().user or None

    @classmethod
    def get_tickets(cls):
        return ticket_selection()

    def get_overdue(self, name):
        return bool(self.state != 'completed'
            and self.due and self.due < datetime.datetime.now())

    @classmethod
    def search_overdue(cls, name, clause):
        _, operator, value = clause[:3]
        if operator not in {'=', '!='}:
            raise ValueError(operator)
        overdue = (operator == '=') == bool(value)
        now = datetime.datetime.now()
        if overdue:
            return [
                ('state', '!=', 'completed'),
                ('due', '!=', None),
                ('due', '<', now),
                ]
        return ['OR',
            ('state', '=', 'completed'),
            ('due', '=', None),
            ('due', '>=', now),
            ]

    def get_rec_name(self, name):
        return self.name

    @classmethod
    def validate_fields(cls, tasks, field_names):
        super().validate_fields(tasks, field_names)
        if field_names & {'lead', 'party', 'ticket'} or not field_names:
            for task in tasks:
                if not (task.lead or task.party or task.ticket):
                    raise ValidationError(gettext(
                            'autolead.msg_task_without_subject',
                            task=task.rec_name))

    @classmethod
    def copy(cls, tasks, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('state', 'pending')
        default.setdefault('completed_at', None)
        default.setdefault('rule', None)
        return super().copy(tasks, default=default)

    @classmethod
    @ModelView.button
    @Workflow.transition('pending')
    def pending(cls, tasks):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('in_progress')
    def start(cls, tasks):
        cls.write(tasks, {'completed_at': None})

    @classmethod
    @ModelView.button
    @Workflow.transition('completed')
    def complete(cls, tasks):
        cls.write(tasks, {'completed_at': datetime.datetime.now()})


class TaskRule(ModelSQL, ModelView):
    "Creates a task when a lead enters a stage"
    __name__ = 'autolead.task.rule'
    __string__ = "Task Rule"

    active = fields.Boolean("Active")
    stage_name = fields.Char(
        "Stage", required=True,
        help="The name of the stage (or status) the lead enters, "
        "for example \"Contacted\".")
    task_name = fields.Char(
        "Task Name", required=True, translate=True,
        help="The name of the created task; \"{lead}\" is replaced by "
        "the name of the lead.")
    delay = fields.Integer(
        "Delay (days)", required=True,
        help="Number of days after the stage change the task is due.")
    priority = fields.Selection(PRIORITIES, "Priority", sort=False,
        required=True)
    description = fields.Text("Description")

    @classmethod
    def default_active(cls):
        return True

    @classmethod
    def default_delay(cls):
        return 1

    @classmethod
    def default_priority(cls):
        return '1'

    @classmethod
    def validate_fields(cls, rules, field_names):
        super().validate_fields(rules, field_names)
        if not field_names or field_names & {'task_name', 'delay'}:
            for rule in rules:
                try:
                    rule.task_name.format(lead="")
                except (KeyError, IndexError, ValueError):
                    raise ValidationError(gettext(
                            'autolead.msg_task_rule_invalid_name',
                            name=rule.task_name))
                if rule.delay < 0:
                    raise ValidationError(gettext(
                            'autolead.msg_task_rule_negative_delay',
                            stage=rule.stage_name))

    def get_rec_name(self, name):
        return f'{self.stage_name} → {self.task_name}'

    @staticmethod
    def _key(name):
        return (name or '').strip().casefold()

    @classmethod
    def apply(cls, leads):
        "Create the tasks of the rules matching the stage the leads entered"
        pool = Pool()
        Task = pool.get('autolead.task')
        rules = cls.search([])
        if not rules:
            return []
        by_stage = {}
        for rule in rules:
            by_stage.setdefault(cls._key(rule.stage_name), []).append(rule)
        now = datetime.datetime.now()
        values = []
        for lead in leads:
            keys = {cls._key(n) for n in lead.task_stage_names()}
            for rule in sorted(
                    {r for k in keys for r in by_stage.get(k, [])},
                    key=lambda r: r.id):
                values.append({
                        'name': rule.task_name.format(lead=lead.rec_name),
                        'description': rule.description,
                        'lead': lead.id,
                        'assignee': (
                            lead.owner.id if lead.owner
                            else Transaction().user or 0),
                        'due': now + datetime.timedelta(days=rule.delay),
                        'priority': rule.priority,
                        'rule': rule.id,
                        })
        return Task.create([v for v in values if v['assignee']])


class Lead(metaclass=PoolMeta):
    __name__ = 'autolead.lead'

    tasks = fields.One2Many('autolead.task', 'lead', "Tasks")

    @classmethod
    def _task_stage_field(cls):
        return 'stage' if 'stage' in cls._fields else 'status'

    def task_stage_names(self):
        "The names a task rule may use for the stage of the lead"
        field = self._task_stage_field()
        value = getattr(self, field)
        if value is None:
            return []
        if isinstance(value, ModelSQL):
            return [value.rec_name]
        names = [value]
        label = dict(self._fields[field].get_selection(
                self.__class__, field, self)).get(value)
        if label:
            names.append(str(label))
        return names

    @classmethod
    def on_modification(cls, mode, leads, field_names=None):
        super().on_modification(mode, leads, field_names)
        if mode == 'create':
            cls._apply_task_rules(leads)

    @classmethod
    def on_write(cls, leads, values):
        callback = super().on_write(leads, values)
        field = cls._task_stage_field()
        if field in values:
            new = values[field]
            changed = [l for l in leads
                if (getattr(l, field).id if isinstance(
                        getattr(l, field), ModelSQL)
                    else getattr(l, field)) != new]
            if changed:
                ids = [l.id for l in changed]
                callback.append(
                    lambda: cls._apply_task_rules(cls.browse(ids)))
        return callback

    @classmethod
    def _apply_task_rules(cls, leads):
        pool = Pool()
        TaskRule = pool.get('autolead.task.rule')
        with without_check_access():
            if not TaskRule.search([], limit=1):
                return
            # browse() costs the square of its length
            for sub_leads in grouped_slice(leads, 100):
                TaskRule.apply(cls.browse(sub_leads))
