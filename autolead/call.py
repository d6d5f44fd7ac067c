import datetime

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Workflow, fields
from trytond.model.exceptions import ValidationError
from trytond.pyson import Eval
from trytond.transaction import Transaction

OUTCOMES = [
    (None, ''),
    ('rnr', "Rang, No Response"),
    ('call_back', "Call Back"),
    ('busy', "Number Busy"),
    ('connected', "Connected"),
    ]


class Call(Workflow, ModelSQL, ModelView):
    "Phone call to make or made with a lead or a customer"
    __name__ = 'autolead.call'
    __string__ = "Call"

    _states = {
        'readonly': Eval('state').in_(['done', 'aborted']),
        }

    subject = fields.Char("Subject", required=True, states=_states)
    lead = fields.Many2One(
        'autolead.lead', "Lead", ondelete='CASCADE', states=_states)
    party = fields.Many2One(
        'party.party', "Customer", ondelete='CASCADE', states=_states)
    phone = fields.Char("Phone", states=_states)
    caller = fields.Many2One(
        'res.user', "Caller", required=True, ondelete='RESTRICT',
        states=_states)
    direction = fields.Selection([
            ('outgoing', "Outgoing"),
            ('incoming', "Incoming"),
            ], "Direction", required=True, states=_states)
    scheduled_at = fields.DateTime(
        "Scheduled At", states={
            'readonly': _states['readonly'],
            'required': Eval('state').in_(['scheduled', 'rescheduled']),
            })
    reschedules = fields.Integer(
        "Re-Schedules", readonly=True,
        help="How many times the call was moved.")
    outcome = fields.Selection(
        OUTCOMES, "Outcome", sort=False, states={
            'readonly': _states['readonly'],
            'required': Eval('state') == 'done',
            })
    callback_at = fields.DateTime(
        "Call Back At", states={
            'readonly': _states['readonly'],
            'invisible': Eval('outcome') != 'call_back',
            'required': Eval('outcome') == 'call_back',
            },
        help="When the contact asked to be called back.")
    notes = fields.Text("Notes")
    done_at = fields.DateTime("Done At", readonly=True)
    previous_call = fields.Many2One(
        'autolead.call', "Previous Call", readonly=True,
        ondelete='SET NULL')
    state = fields.Selection([
            ('new', "New"),
            ('scheduled', "Scheduled"),
            ('rescheduled', "Re-Scheduled"),
            ('done', "Done"),
            ('aborted', "Aborted"),
            ], "State", readonly=True, required=True, sort=False)

    del _states

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.caller, Index.Range())),
                Index(t, (t.lead, Index.Range())),
                Index(t, (t.party, Index.Range())),
                Index(t, (t.scheduled_at, Index.Range()),
                    where=t.state.in_(['scheduled', 'rescheduled'])),
                Index(t, (t.state, Index.Equality(cardinality='low'))),
                })
        cls._order = [
            ('scheduled_at', 'ASC NULLS LAST'),
            ('id', 'DESC'),
            ]
        cls._transitions |= {
            ('new', 'scheduled'),
            ('scheduled', 'rescheduled'),
            ('rescheduled', 'rescheduled'),
            ('new', 'done'),
            ('scheduled', 'done'),
            ('rescheduled', 'done'),
            ('new', 'aborted'),
            ('scheduled', 'aborted'),
            ('rescheduled', 'aborted'),
            }
        cls._buttons.update({
                'schedule': {
                    'invisible': Eval('state') != 'new',
                    'icon': 'tryton-forward',
                    'depends': ['state'],
                    },
                'reschedule': {
                    'invisible': ~Eval('state').in_(
                        ['scheduled', 'rescheduled']),
                    'icon': 'tryton-refresh',
                    'depends': ['state'],
                    },
                'do': {
                    'invisible': Eval('state').in_(['done', 'aborted']),
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                'abort': {
                    'invisible': Eval('state').in_(['done', 'aborted']),
                    'icon': 'tryton-cancel',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'new'

    @classmethod
    def default_direction(cls):
        return 'outgoing'

    @classmethod
    def default_caller(cls):
        return Transaction().user or None

    @classmethod
    def default_reschedules(cls):
        return 0

    @fields.depends('lead', 'phone')
    def on_change_lead(self):
        if self.lead and not self.phone:
            self.phone = self.lead.phone

    def get_rec_name(self, name):
        return self.subject

    @classmethod
    def validate_fields(cls, calls, field_names):
        super().validate_fields(calls, field_names)
        if not field_names or field_names & {'lead', 'party'}:
            for call in calls:
                if not (call.lead or call.party):
                    raise ValidationError(gettext(
                            'autolead.msg_call_without_contact',
                            call=call.rec_name))

    @classmethod
    def copy(cls, calls, default=None):
        default = default.copy() if default is not None else {}
        for name in ['outcome', 'callback_at', 'done_at', 'previous_call']:
            default.setdefault(name, None)
        default.setdefault('state', 'new')
        default.setdefault('reschedules', 0)
        return super().copy(calls, default=default)

    @classmethod
    @ModelView.button
    @Workflow.transition('scheduled')
    def schedule(cls, calls):
        for call in calls:
            if not call.scheduled_at:
                raise ValidationError(gettext(
                        'autolead.msg_call_schedule_required',
                        call=call.rec_name))

    @classmethod
    @ModelView.button
    @Workflow.transition('rescheduled')
    def reschedule(cls, calls):
        for call in calls:
            call.reschedules = (call.reschedules or 0) + 1
        cls.save(calls)

    @classmethod
    @ModelView.button
    @Workflow.transition('done')
    def do(cls, calls):
        now = datetime.datetime.now()
        next_calls = []
        for call in calls:
            if not call.outcome:
                raise ValidationError(gettext(
                        'autolead.msg_call_outcome_required',
                        call=call.rec_name))
            call.done_at = now
            if call.outcome == 'call_back':
                if not call.callback_at:
                    raise ValidationError(gettext(
                            'autolead.msg_call_callback_required',
                            call=call.rec_name))
                next_calls.append(call._next_call())
        cls.save(calls)
        if next_calls:
            cls.save(next_calls)
            cls.schedule(next_calls)

    def _next_call(self):
        return self.__class__(
            subject=self.subject,
            lead=self.lead,
            party=self.party,
            phone=self.phone,
            caller=self.caller,
            direction='outgoing',
            scheduled_at=self.callback_at,
            previous_call=self,
            )

    @classmethod
    @ModelView.button
    @Workflow.transition('aborted')
    def abort(cls, calls):
        pass
