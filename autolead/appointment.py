import datetime

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Workflow, fields
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard


class Appointment(Workflow, ModelSQL, ModelView):
    "Meeting or demo with a client"
    __name__ = 'autolead.appointment'
    __string__ = "Appointment"

    _states = {
        'readonly': Eval('state').in_(['completed', 'cancelled']),
        }

    name = fields.Char("Title", required=True, states=_states)
    kind = fields.Selection([
            ('demo', "Demo"),
            ('meeting', "Meeting"),
            ('visit', "Visit"),
            ], "Kind", required=True, states=_states)
    start = fields.DateTime(
        "Start", required=True, states={
            'readonly': Eval('state') != 'draft',
            },
        help="Use \"Reschedule\" to move a confirmed appointment.")
    duration = fields.TimeDelta("Duration", required=True, states=_states)
    end = fields.DateTime(
        "End", readonly=True,
        help="Computed from the start and the duration.")
    location = fields.Char("Location", states=_states)
    party = fields.Many2One(
        'party.party', "Client", ondelete='RESTRICT', states=_states)
    lead = fields.Many2One(
        'autolead.lead', "Lead", ondelete='CASCADE', states=_states)
    organizer = fields.Many2One(
        'res.user', "Organizer", required=True, ondelete='RESTRICT',
        states=_states)
    participants = fields.Many2Many(
        'autolead.appointment-res.user', 'appointment', 'user',
        "Participants", states=_states,
        help="The staff members attending; they get the reminders.")
    description = fields.Text("Description")
    previous_start = fields.DateTime(
        "Previous Start", readonly=True,
        help="The start before the last reschedule.")
    reschedules = fields.Integer("Reschedules", readonly=True)
    state = fields.Selection([
            ('draft', "Draft"),
            ('confirmed', "Confirmed"),
            ('completed', "Completed"),
            ('cancelled', "Cancelled"),
            ], "State", readonly=True, required=True, sort=False)

    del _states

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.start, Index.Range())),
                Index(t, (t.end, Index.Range())),
                Index(t, (t.organizer, Index.Range())),
                Index(t, (t.lead, Index.Range())),
                Index(t, (t.party, Index.Range())),
                Index(t, (t.state, Index.Equality(cardinality='low'))),
                })
        cls._order = [('start', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('draft', 'confirmed'),
            ('draft', 'cancelled'),
            ('confirmed', 'completed'),
            ('confirmed', 'cancelled'),
            ('confirmed', 'draft'),
            ('cancelled', 'draft'),
            }
        cls._buttons.update({
                'draft': {
                    'invisible': ~Eval('state').in_(
                        ['confirmed', 'cancelled']),
                    'icon': 'tryton-undo',
                    'depends': ['state'],
                    },
                'confirm': {
                    'invisible': Eval('state') != 'draft',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                'reschedule': {
                    'invisible': ~Eval('state').in_(['draft', 'confirmed']),
                    'icon': 'tryton-refresh',
                    'depends': ['state'],
                    },
                'complete': {
                    'invisible': Eval('state') != 'confirmed',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                'cancel': {
                    'invisible': ~Eval('state').in_(['draft', 'confirmed']),
                    'icon': 'tryton-cancel',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    def default_kind(cls):
        return 'demo'

    @classmethod
    def default_duration(cls):
        return datetime.timedelta(hours=1)

    @classmethod
    def default_organizer(cls):
        return Transaction().user or None

    @classmethod
    def default_participants(cls):
        user = Transaction().user
        return [user] if user else []

    @classmethod
    def default_reschedules(cls):
        return 0

    @fields.depends('lead', 'party', 'name')
    def on_change_lead(self):
        if self.lead and not self.name:
            self.name = self.lead.rec_name

    @fields.depends('start', 'duration')
    def on_change_with_end(self, name=None):
        if self.start and self.duration is not None:
            return self.start + self.duration

    def compute_fields(self, field_names=None):
        values = super().compute_fields(field_names)
        if field_names is None or set(field_names) & {'start', 'duration'}:
            end = self.on_change_with_end()
            if end != self.end:
                values['end'] = end
        return values

    @classmethod
    def copy(cls, appointments, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('state', 'draft')
        default.setdefault('previous_start', None)
        default.setdefault('reschedules', 0)
        return super().copy(appointments, default=default)

    @classmethod
    @ModelView.button
    @Workflow.transition('draft')
    def draft(cls, appointments):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('confirmed')
    def confirm(cls, appointments):
        pass

    @classmethod
    @ModelView.button_action('autolead.wizard_appointment_reschedule')
    def reschedule(cls, appointments):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('completed')
    def complete(cls, appointments):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('cancelled')
    def cancel(cls, appointments):
        pass

    def move_to(self, start, duration=None):
        "Move the appointment and remember where it was"
        if start != self.start:
            self.previous_start = self.start
            self.start = start
            self.reschedules = (self.reschedules or 0) + 1
        if duration is not None:
            self.duration = duration

    def _client_email(self):
        if self.party and self.party.email:
            return self.party.email
        if self.lead and self.lead.email:
            return self.lead.email

    def _reminders_due(self, now, config):
        "The reminders of the appointment that are due at now"
        before_at = self.start - config.reminder_before
        morning_at = config.local_time_at(
            self.start, config.morning_reminder_time)
        due = []
        if morning_at <= now < before_at and morning_at < self.start:
            due.append('morning')
        if before_at <= now < self.start:
            due.append('before')
        return due

    def _reminder_messages(self, kind):
        key = f'appointment-{self.id}-{self.start:%Y%m%dT%H%M}-{kind}'
        values = {
            'name': self.name,
            'start': self.start.strftime('%Y-%m-%d %H:%M'),
            'location': self.location or '-',
            'client': (self.party.rec_name if self.party
                else self.lead.rec_name if self.lead else '-'),
            }
        messages = []
        client_to = self._client_email()
        if client_to:
            messages.append({
                    'key': f'{key}-client',
                    'origin': str(self),
                    'to': client_to,
                    'subject': gettext(
                        'autolead.msg_appointment_reminder_client_subject',
                        **values),
                    'body': gettext(
                        'autolead.msg_appointment_reminder_client_body',
                        **values),
                    })
        users = {p for p in self.participants} | {self.organizer}
        for user in sorted(users, key=lambda u: u.id):
            messages.append({
                    'key': f'{key}-user-{user.id}',
                    'origin': str(self),
                    'user': user.id,
                    'to': user.email,
                    'subject': gettext(
                        'autolead.msg_appointment_reminder_rep_subject',
                        **values),
                    'body': gettext(
                        'autolead.msg_appointment_reminder_rep_body',
                        **values),
                    })
        return messages

    @classmethod
    def send_reminders(cls, now=None):
        """Post the reminders due at now (default: the current time) to the
        outbox"""
        pool = Pool()
        Configuration = pool.get('autolead.automation.configuration')
        Message = pool.get('autolead.automation.message')
        if now is None:
            now = datetime.datetime.now()
        config = Configuration(1)
        horizon = max(config.reminder_before, datetime.timedelta(days=1))
        appointments = cls.search([
                ('state', '=', 'confirmed'),
                ('start', '>', now),
                ('start', '<=', now + horizon),
                ], order=[('start', 'ASC'), ('id', 'ASC')])
        values = []
        for appointment in appointments:
            for kind in appointment._reminders_due(now, config):
                values.extend(appointment._reminder_messages(kind))
        Message.post(values)


class AppointmentUser(ModelSQL):
    "Appointment participant"
    __name__ = 'autolead.appointment-res.user'
    __string__ = "Appointment Participant"

    appointment = fields.Many2One(
        'autolead.appointment', "Appointment", required=True,
        ondelete='CASCADE')
    user = fields.Many2One(
        'res.user', "User", required=True, ondelete='CASCADE')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.appointment, Index.Range())),
                Index(t, (t.user, Index.Range())),
                })


class RescheduleStart(ModelView):
    "Reschedule appointment"
    __name__ = 'autolead.appointment.reschedule.start'
    __string__ = "Reschedule Appointment"

    start = fields.DateTime("New Start", required=True)
    duration = fields.TimeDelta("Duration", required=True)
    previous_start = fields.DateTime("Current Start", readonly=True)


class Reschedule(Wizard):
    "Reschedule appointment"
    __name__ = 'autolead.appointment.reschedule'

    start = StateView(
        'autolead.appointment.reschedule.start',
        'autolead.appointment_reschedule_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Reschedule", 'reschedule', 'tryton-ok', default=True),
            ])
    reschedule = StateTransition()

    def default_start(self, fields):
        return {
            'start': self.record.start,
            'previous_start': self.record.start,
            'duration': self.record.duration,
            }

    def transition_reschedule(self):
        if self.record.state not in {'draft', 'confirmed'}:
            raise ValidationError(gettext(
                    'autolead.msg_appointment_reschedule_closed',
                    appointment=self.record.rec_name))
        self.record.move_to(self.start.start, self.start.duration)
        self.record.save()
        return 'end'
