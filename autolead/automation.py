import datetime
import logging
from email.message import EmailMessage

from trytond import backend
from trytond.config import config
from trytond.model import (
    Index, ModelSingleton, ModelSQL, ModelView, Unique, fields)
from trytond.pool import Pool, PoolMeta
from trytond.sendmail import send_message
from trytond.tools import grouped_slice
from trytond.tools import timezone as tz


logger = logging.getLogger(__name__)


def model_exists(name):
    "Whether the model is registered, for links to optional features"
    try:
        Pool().get(name)
    except KeyError:
        return False
    return True


class Configuration(ModelSingleton, ModelSQL, ModelView):
    __name__ = 'autolead.automation.configuration'

    morning_reminder_time = fields.Time(
        "Morning Reminder At", required=True,
        help="The time of day when the morning reminder of an appointment "
        "is sent.")
    reminder_before = fields.TimeDelta(
        "Reminder Before", required=True,
        help="How long before an appointment the last reminder is sent.")
    timezone = fields.Selection(
        'get_timezones', "Timezone", translate=False,
        help="The timezone of the morning reminder time.\n"
        "Leave empty to use the server's timezone.")
    email_from = fields.Char(
        "Email From",
        help="The sender of automatic emails.\n"
        "Leave empty to use the server's default sender.")

    @classmethod
    def default_morning_reminder_time(cls):
        return datetime.time(7, 0)

    @classmethod
    def default_reminder_before(cls):
        return datetime.timedelta(hours=1)

    @classmethod
    def get_timezones(cls):
        return [(None, '')] + [(z, z) for z in tz.available_timezones()]

    def local_time_at(self, moment, time):
        """Return the UTC moment, stored the Tryton way, at which it is time
        on the local day of moment"""
        zone = tz.get_tzinfo(self.timezone) if self.timezone else tz.SERVER
        local_day = moment.replace(tzinfo=tz.UTC).astimezone(zone).date()
        local = datetime.datetime.combine(local_day, time, tzinfo=zone)
        return local.astimezone(tz.UTC).replace(tzinfo=None)


class Message(ModelSQL, ModelView):
    "Automatic message sent to a user or a customer"
    __name__ = 'autolead.automation.message'

    key = fields.Char(
        "Key", required=True, readonly=True, strip=False,
        help="Identifies the event the message is about, "
        "so that each event is announced only once.")
    origin = fields.Reference(
        "Origin", selection='get_origins', readonly=True)
    user = fields.Many2One(
        'res.user', "User", readonly=True, ondelete='CASCADE',
        help="The staff member notified in the desk.")
    to = fields.Char("To", readonly=True)
    subject = fields.Char("Subject", readonly=True)
    body = fields.Text("Body", readonly=True)
    state = fields.Selection([
            ('pending', "Pending"),
            ('sent', "Sent"),
            ('no_email', "No Email"),
            ], "State", readonly=True, sort=False)
    attempts = fields.Integer("Attempts", readonly=True)
    error = fields.Text("Last Error", readonly=True)
    sent_at = fields.DateTime("Sent At", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('key_unique', Unique(t, t.key),
                'autolead.msg_automation_message_key_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.state, Index.Equality(cardinality='low')),
                    where=t.state == 'pending'),
                })
        cls._order.insert(0, ('id', 'DESC'))

    @classmethod
    def default_state(cls):
        return 'pending'

    @classmethod
    def default_attempts(cls):
        return 0

    @classmethod
    def get_origins(cls):
        pool = Pool()
        Model = pool.get('ir.model')
        models = [m for m in cls._get_origins() if model_exists(m)]
        return [(None, '')] + [
            (m, Model.get_name(m)) for m in models]

    @classmethod
    def _get_origins(cls):
        return [
            'autolead.appointment', 'autolead.campaign', 'autolead.task',
            'autolead.call', 'autolead.lead']

    @classmethod
    def post(cls, values_list, queue=True):
        """Create the messages whose key is new, notify their user in the
        desk and return them; a key already posted is skipped.
        The emails are queued unless queue is False (the caller sends them)."""
        pool = Pool()
        Notification = pool.get('res.notification')
        keys = [v['key'] for v in values_list]
        existing = set()
        for sub_keys in grouped_slice(keys, backend.MAX_QUERY_PARAMS):
            existing.update(m.key for m in cls.search([
                        ('key', 'in', list(sub_keys)),
                        ]))
        to_create, seen = [], set(existing)
        for values in values_list:
            if values['key'] in seen:
                continue
            seen.add(values['key'])
            values = values.copy()
            if not values.get('to'):
                values['state'] = 'no_email'
            to_create.append(values)
        messages = cls.create(to_create)
        notifications = []
        for message in messages:
            if message.user:
                notification = {
                    'user': message.user.id,
                    'label': message.subject,
                    'description': (message.body or '').split('\n', 1)[0],
                    'icon': 'tryton-notification',
                    }
                if message.origin and message.origin.id >= 0:
                    notification['model'] = message.origin.__name__
                    notification['records'] = str([message.origin.id])
                notifications.append(notification)
        if notifications:
            Notification.create(notifications)
        pending = [m for m in messages if m.state == 'pending']
        if pending and queue:
            cls.__queue__.send(pending)
        return messages

    @classmethod
    def send_pending(cls):
        "Send the pending emails; a failed one stays pending for the next run"
        cls.send(cls.search(
                [('state', '=', 'pending')], order=[('id', 'ASC')]))

    @classmethod
    def send(cls, messages):
        "Send the emails of the messages which are still pending"
        pool = Pool()
        Configuration = pool.get('autolead.automation.configuration')
        from_ = (Configuration(1).email_from
            or config.get('email', 'from'))
        messages = [m for m in cls.browse(messages) if m.state == 'pending']
        for message in messages:
            msg = message._email_message(from_)
            message.attempts = (message.attempts or 0) + 1
            try:
                send_message(msg, strict=True)
            except Exception as exception:
                logger.warning(
                    "could not send %s to %s", message.key, message.to,
                    exc_info=True)
                message.error = str(exception) or repr(exception)
            else:
                message.state = 'sent'
                message.error = None
                message.sent_at = datetime.datetime.now()
        cls.save(messages)

    def _email_message(self, from_):
        msg = EmailMessage()
        msg['From'] = from_
        msg['To'] = self.to
        msg['Subject'] = self.subject
        msg.set_content(self.body or '')
        return msg


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('autolead.automation.message|send_pending',
                    "Send Pending Auto Lead Emails"),
                ('autolead.appointment|send_reminders',
                    "Send Appointment Reminders"),
                ('autolead.campaign|send_greetings',
                    "Send Campaign Greetings"),
                ('autolead.campaign|send_daily_summary',
                    "Send Campaign Daily Summary"),
                ])
