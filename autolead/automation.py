import datetime
import logging
import urllib.parse
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from sql import Null
from sql.conditionals import Coalesce
from sql.functions import CurrentTimestamp

from trytond import backend
from trytond.config import config
from trytond.i18n import gettext
from trytond.model import (
    Index, ModelSingleton, ModelSQL, ModelView, Unique, fields)
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.sendmail import get_smtp_server, send_message
from trytond.tools import grouped_slice
from trytond.tools import timezone as tz
from trytond.transaction import Transaction, without_check_access


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
    __string__ = "Automation Settings"

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
    """The outbox: every message Auto Lead sends to a user or a customer

    A request only posts the message; the sender (the queue, and the cron as
    the safety net) delivers it later through its channel, so that a slow or
    absent mail server never holds a request nor loses a message."""
    __name__ = 'autolead.automation.message'
    __string__ = "Outbox Message"

    key = fields.Char(
        "Key", required=True, readonly=True, strip=False,
        help="Identifies the event the message is about, "
        "so that each event is announced only once.")
    channel = fields.Selection([
            ('email', "Email"),
            ], "Channel", required=True, readonly=True,
        help="How the message reaches its recipient.")
    origin = fields.Reference(
        "Origin", selection='get_origins', readonly=True)
    user = fields.Many2One(
        'res.user', "User", readonly=True, ondelete='CASCADE',
        help="The staff member notified in the desk.")
    sender = fields.Char(
        "From", readonly=True,
        help="Leave empty to use the sender of automatic emails.")
    reply_to = fields.Char("Reply To", readonly=True)
    to = fields.Char("To", readonly=True)
    subject = fields.Char("Subject", readonly=True)
    body = fields.Text("Body", readonly=True)
    body_html = fields.Text("HTML Body", readonly=True)
    message_id = fields.Char(
        "Message-ID", readonly=True, strip=False,
        help="The identifier of the email, the same for every attempt.")
    in_reply_to = fields.Char("In-Reply-To", readonly=True, strip=False)
    references = fields.Char("References", readonly=True, strip=False)
    state = fields.Selection([
            ('pending', "Pending"),
            ('sending', "Sending"),
            ('sent', "Sent"),
            ('failed', "Failed"),
            ('no_email', "No Email"),
            ], "State", readonly=True, sort=False)
    attempts = fields.Integer("Attempts", readonly=True)
    attempted_at = fields.DateTime("Last Attempt", readonly=True)
    next_attempt = fields.DateTime(
        "Next Attempt", readonly=True,
        help="When the sender tries again after a failure.")
    error = fields.Text("Last Error", readonly=True)
    sent_at = fields.DateTime("Sent At", readonly=True)
    email = fields.Many2One(
        'ir.email', "Email", readonly=True, ondelete='SET NULL',
        help="The record of the sent email.")

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
                    where=t.state.in_(['pending', 'sending'])),
                })
        cls._order.insert(0, ('id', 'DESC'))
        cls._buttons.update({
                'resend': {
                    'invisible': ~Eval('state').in_(['failed', 'pending']),
                    'icon': 'tryton-email',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_channel(cls):
        return 'email'

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
            'autolead.call', 'autolead.lead', 'autolead.ticket',
            'autolead.enquiry', 'web.user']

    @classmethod
    def post(cls, values_list, queue=True):
        """Create the messages whose key is new, notify their user in the
        desk and return them; a key already posted is skipped.
        The new messages are handed to the sender after commit unless queue
        is False (the caller hands them over itself)."""
        pool = Pool()
        Notification = pool.get('res.notification')
        keys = [v['key'] for v in values_list]
        with without_check_access():
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
                else:
                    values.setdefault('sender', cls._default_sender())
                    values.setdefault('message_id', make_msgid(
                            domain=_msgid_domain(values['sender'])))
                to_create.append(values)
            messages = cls.create(to_create)
            notifications = []
            for message in messages:
                if message.user:
                    notification = {
                        'user': message.user.id,
                        'label': message.subject,
                        'description': (
                            message.body or '').split('\n', 1)[0],
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
    def _default_sender(cls):
        Configuration = Pool().get('autolead.automation.configuration')
        with without_check_access():
            return (Configuration(1).email_from
                or config.get('email', 'from'))

    @classmethod
    @ModelView.button
    def resend(cls, messages):
        "Hand the failed messages to the sender again"
        # the button's groups are checked; the outbox stays read-only
        with without_check_access():
            cls.write(messages, {
                    'state': 'pending',
                    'attempts': 0,
                    'next_attempt': None,
                    })
        cls.__queue__.send(messages)

    @classmethod
    def send_pending(cls, now=None):
        """Deliver the messages whose time has come; the cron's safety net
        for the queue, which also retries the failed attempts"""
        if now is None:
            now = datetime.datetime.now()
        cls._recover_interrupted(now)
        messages = cls.search([
                ('state', '=', 'pending'),
                ['OR',
                    ('next_attempt', '=', None),
                    ('next_attempt', '<=', now),
                    ],
                ], order=[('id', 'ASC')])
        cls.send(messages, now=now)

    @classmethod
    def _recover_interrupted(cls, now):
        """Mark failed the messages a sender stopped while delivering:
        whether the server got them is unknown, so the administrator decides
        whether to resend rather than risk sending twice"""
        stale = now - max(
            datetime.timedelta(minutes=10), 4 * _smtp_timeout_delta())
        messages = cls.search([
                ('state', '=', 'sending'),
                ('attempted_at', '<', stale),
                ])
        if messages:
            cls.write(messages, {
                    'state': 'failed',
                    'error': gettext('autolead.msg_outbox_interrupted'),
                    })

    @classmethod
    def send(cls, messages, now=None):
        """Deliver the pending messages that are due, each at most once.

        Meant for the queue and the cron: it commits the transaction it runs
        in. Each message is claimed ('sending') and committed before it is
        handed to its channel, and its outcome is committed right after; a
        crash between the two leaves it 'sending', which the cron turns into
        'failed' for the administrator rather than sending it again."""
        transaction = Transaction()
        for message in messages:
            message_id = int(message)
            claimed_at = now or datetime.datetime.now()
            if not cls._claim(message_id, claimed_at):
                continue
            transaction.commit()
            message = cls(message_id)
            try:
                sent = message._deliver()
            except Exception as exception:
                logger.warning(
                    "could not send %s to %s: %s", message.key, message.to,
                    exception, exc_info=logger.isEnabledFor(logging.DEBUG))
                message._failed(exception, claimed_at)
            else:
                message.state = 'sent'
                message.error = None
                message.next_attempt = None
                message.sent_at = datetime.datetime.now()
                try:
                    message._keep(sent)
                except Exception:
                    # it is sent: failing to record it must not resend it
                    logger.error(
                        "could not record %s", message.key, exc_info=True)
            message.save()
            transaction.commit()

    @classmethod
    def _claim(cls, message_id, now):
        "Mark the message as being sent if it is still due, atomically"
        transaction = Transaction()
        table = cls.__table__()
        cursor = transaction.connection.cursor()
        try:
            cursor.execute(*table.update(
                    [table.state, table.attempts, table.attempted_at,
                        table.write_date, table.write_uid],
                    ['sending', Coalesce(table.attempts, 0) + 1, now,
                        CurrentTimestamp(), transaction.user],
                    where=(table.id == message_id)
                    & (table.state == 'pending')
                    & ((table.next_attempt == Null)
                        | (table.next_attempt <= now))))
        except backend.DatabaseOperationalError:
            # another sender updated it since this transaction began
            transaction.rollback()
            return False
        if cursor.rowcount != 1:
            return False
        return True

    def _failed(self, exception, now):
        self.error = str(exception) or repr(exception)
        attempts = self.attempts or 0
        if attempts >= max_attempts():
            self.state = 'failed'
            self.next_attempt = None
        else:
            self.state = 'pending'
            self.next_attempt = now + retry_delay(attempts)

    def _deliver(self):
        """Send the message through its channel and return what was sent;
        raise when it could not be sent.

        A channel is a pair of methods: _deliver_<channel> sends,
        _keep_<channel> (optional) records what was sent."""
        return getattr(self, f'_deliver_{self.channel}')()

    def _keep(self, sent):
        keep = getattr(self, f'_keep_{self.channel}', None)
        if keep:
            keep(sent)

    def _deliver_email(self):
        msg = self._email_message()
        server = get_smtp_server(_smtp_uri(), strict=True)
        try:
            server = send_message(msg, server=server, strict=True) or server
        finally:
            try:
                server.quit()
            except Exception:
                server.close()
        return msg

    def _keep_email(self, msg):
        "Keep the sent email in ir.email, on the record it is about"
        Email = Pool().get('ir.email')
        resource = self.origin if self.origin and self.origin.id >= 0 \
            else self
        with without_check_access():
            self.email = Email.from_message(
                msg, body=self.body, resource=resource)
            self.email.save()

    def _email_message(self):
        "The email of the message, the same at every attempt"
        msg = EmailMessage()
        msg['From'] = self.sender or self._default_sender()
        msg['To'] = self.to
        if self.reply_to:
            msg['Reply-To'] = self.reply_to
        msg['Subject'] = self.subject
        if self.message_id:
            msg['Message-ID'] = self.message_id
        if self.in_reply_to:
            msg['In-Reply-To'] = self.in_reply_to
        if self.references:
            msg['References'] = self.references
        msg['Date'] = formatdate(localtime=True)
        msg.set_content(self.body or '')
        if self.body_html:
            msg.add_alternative(self.body_html, subtype='html')
        return msg


def max_attempts():
    "How many times the sender tries a message before it is failed"
    return config.getint('autolead', 'outbox_attempts', default=6)


def retry_delay(attempts):
    "How long the sender waits after the attempts-th failure"
    minutes = [1, 5, 15, 60, 180, 360]
    return datetime.timedelta(
        minutes=minutes[min(max(attempts, 1), len(minutes)) - 1])


def smtp_timeout():
    "Seconds the sender waits on the mail server before giving up"
    return config.getint('autolead', 'smtp_timeout', default=15)


def _smtp_timeout_delta():
    return datetime.timedelta(seconds=smtp_timeout())


def _smtp_uri():
    """[email] uri with a timeout: trytond's sendmail waits for ever unless
    the uri says otherwise"""
    uri = config.get('email', 'uri')
    parts = urllib.parse.urlsplit(uri)
    query = urllib.parse.parse_qs(parts.query)
    if 'timeout' not in query:
        query['timeout'] = [str(smtp_timeout())]
    return urllib.parse.urlunsplit(parts._replace(
            query=urllib.parse.urlencode(query, doseq=True)))


def _msgid_domain(sender):
    address = parseaddr(sender or '')[1]
    return address.rpartition('@')[2] or None


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
