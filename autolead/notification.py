"""Notification rules: who hears about what, by email and in the desk.

A rule names an event, its recipients, its channels and the text of its
message.  Events caused by a change of a record run on the rule's own
`ir.trigger`; events caused by the passing of time (a follow-up falling due,
a lead nobody tried) run on a cron.  Every message goes through the outbox
(`autolead.automation.message`), so each event is announced once to each
recipient and an email the mail server refused is sent again later.
"""
import base64
import datetime
import hashlib
import hmac
import html
import secrets

import trytond.config as config
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSingleton, ModelSQL, ModelView, fields)
from trytond.pool import Pool, PoolMeta
from trytond.protocols.wrappers import (
    HTTPStatus, Response, with_pool, with_transaction)
from trytond.pyson import Eval, PYSONEncoder
from trytond.tools import timezone as tz
from trytond.transaction import (
    Transaction, inactive_records, without_check_access)
from trytond.url import http_host
from trytond.wsgi import app

from .canned_response import render
from .lead import SOURCES

EVENTS = [
    ('lead_new', "New Lead"),
    ('lead_duplicate', "Duplicate Lead"),
    ('lead_reengaged', "Re-engaged Lead"),
    ('lead_not_attempted', "Lead Not Attempted"),
    ('lead_follow_up_due', "Follow-up Due"),
    ('lead_lost', "Lead Lost"),
    ('demo_confirmed', "Demo Confirmed"),
    ('demo_completed', "Demo Completed"),
    ('ticket_new', "New Ticket"),
    ('ticket_message', "New Ticket Message"),
    ('ticket_resolved', "Ticket Resolved"),
    ]
LEAD_EVENTS = [
    'lead_new', 'lead_duplicate', 'lead_reengaged', 'lead_not_attempted',
    'lead_follow_up_due', 'lead_lost']
TIMED_EVENTS = ['lead_not_attempted', 'lead_follow_up_due']
TICKET_EVENTS = ['ticket_new', 'ticket_message', 'ticket_resolved']
# The model, the change and the condition that make a record-driven event
TRIGGERS = {
    'lead_new': (
        'autolead.lead', 'create', Eval('self.lead_kind') == 'new'),
    'lead_duplicate': (
        'autolead.lead', 'create', Eval('self.lead_kind') == 'duplicate'),
    'lead_reengaged': (
        'autolead.lead', 'create', Eval('self.lead_kind') == 're-engaged'),
    'lead_lost': (
        'autolead.lead', 'write', Eval('self.stage_kind') == 'lost'),
    'demo_confirmed': (
        'autolead.appointment', 'write',
        (Eval('self.kind') == 'demo') & (Eval('self.state') == 'confirmed')),
    'demo_completed': (
        'autolead.appointment', 'write',
        (Eval('self.kind') == 'demo') & (Eval('self.state') == 'completed')),
    'ticket_new': ('autolead.ticket', 'create', True),
    'ticket_message': (
        'autolead.ticket.message', 'create', ~Eval('self.internal')),
    'ticket_resolved': (
        'autolead.ticket', 'write', Eval('self.state') == 'resolved'),
    }
ACTION = 'autolead.notification.rule|notify_trigger'


def _users_of(group):
    "The active users of the autolead group"
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    return User.search([
            ('groups', '=', ModelData.get_id('autolead', group)),
            ], order=[('id', 'ASC')])


def _format(value):
    if value is None:
        return ''
    if isinstance(value, datetime.datetime):
        return value.strftime('%Y-%m-%d %H:%M')
    if isinstance(value, ModelSQL):
        return value.rec_name
    return str(value)


class Rule(DeactivableMixin, ModelSQL, ModelView):
    "Notification rule"
    __name__ = 'autolead.notification.rule'
    __string__ = "Notification Rule"

    name = fields.Char("Name", required=True)
    event = fields.Selection(EVENTS, "Event", required=True, sort=False)
    sources = fields.MultiSelection(
        SOURCES, "Sources", sort=False,
        states={
            'invisible': ~Eval('event').in_(LEAD_EVENTS),
            },
        help="Only leads from these sources; leave empty for every source.")
    delay = fields.TimeDelta(
        "Delay",
        states={
            'invisible': ~Eval('event').in_(TIMED_EVENTS),
            'required': Eval('event').in_(TIMED_EVENTS),
            },
        help="Follow-up due: how long before the follow-up.\n"
        "Lead not attempted: how long after it came in.")
    notify_rep = fields.Boolean(
        "Assigned Representative",
        help="The owner of the lead, the organizer and participants of the "
        "appointment or the agent of the ticket.")
    notify_admins = fields.Boolean("Administrators")
    notify_managers = fields.Boolean("Sales Managers")
    notify_client = fields.Boolean(
        "Client", help="The email of the lead, the client or the customer.")
    notify_other_side = fields.Boolean(
        "Other Side",
        states={
            'invisible': ~Eval('event').in_(TICKET_EVENTS),
            },
        help="The customer when the support team acted; the agent of the "
        "ticket, or the support team while nobody accepted it, when the "
        "customer did (from the portal or by email).")
    by_email = fields.Boolean("Email")
    in_app = fields.Boolean(
        "In the Desk", help="Notify the staff members in the desk.")
    subject = fields.Char(
        "Subject", required=True,
        help="Placeholders like {lead} or {ticket} are replaced; "
        "see the body.")
    body = fields.Text(
        "Body",
        help="Placeholders: {record} always; {lead}, {company}, {email}, "
        "{phone}, {source}, {stage}, {rep}, {follow_up}, {lost_reason} for "
        "leads; {appointment}, {start}, {location}, {client}, {rep} for "
        "demos; {ticket}, {subject}, {customer}, {agent}, {state}, "
        "{message}, {author} for tickets.")
    trigger = fields.Many2One(
        'ir.trigger', "Trigger", readonly=True, ondelete='RESTRICT',
        states={
            'invisible': ~Eval('trigger'),
            },
        help="Runs the rule when the event happens.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('event', 'ASC'))
        cls._order.insert(1, ('name', 'ASC'))

    @classmethod
    def default_by_email(cls):
        return True

    @classmethod
    def default_in_app(cls):
        return True

    @classmethod
    def on_modification(cls, mode, rules, field_names=None):
        super().on_modification(mode, rules, field_names=field_names)
        if mode == 'create' or (
                mode == 'write'
                and field_names & {'name', 'event', 'active'}):
            cls._sync_triggers(rules)

    @classmethod
    def _sync_triggers(cls, rules):
        "Give each rule of a record-driven event the trigger of its event"
        pool = Pool()
        Trigger = pool.get('ir.trigger')
        Model = pool.get('ir.model')
        encoder = PYSONEncoder()
        to_delete = []
        with without_check_access(), inactive_records():
            rules = cls.browse(rules)
            for rule in rules:
                if rule.event not in TRIGGERS:
                    if rule.trigger:
                        to_delete.append(rule.trigger)
                        rule.trigger = None
                    continue
                model, mode, condition = TRIGGERS[rule.event]
                trigger = rule.trigger or Trigger(limit_number=0)
                trigger.name = rule.name
                trigger.model, = Model.search([('name', '=', model)])
                trigger.on_create_ = mode == 'create'
                trigger.on_write_ = mode == 'write'
                trigger.on_delete_ = False
                trigger.on_time_ = False
                trigger.condition = encoder.encode(condition)
                trigger.action = ACTION
                trigger.active = rule.active
                trigger.save()
                rule.trigger = trigger
            cls.save(rules)
            Trigger.delete(to_delete)

    @classmethod
    def delete(cls, rules):
        Trigger = Pool().get('ir.trigger')
        triggers = [r.trigger for r in rules if r.trigger]
        super().delete(rules)
        with without_check_access():
            Trigger.delete(triggers)

    @classmethod
    def copy(cls, rules, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('trigger')
        return super().copy(rules, default=default)

    @classmethod
    def notify_trigger(cls, records, trigger):
        "The action of the rules' triggers"
        if not Transaction().context.get('autolead_notify', True):
            return
        messages = []
        with without_check_access():
            for rule in cls.search([('trigger', '=', trigger.id)]):
                messages.extend(rule.notify(records))
        cls._send(messages)

    @classmethod
    def notify_due(cls, now=None):
        "Notify the time-driven events due at now (default: the current time)"
        if now is None:
            now = datetime.datetime.now()
        messages = []
        with without_check_access():
            for rule in cls.search([('event', 'in', TIMED_EVENTS)]):
                if rule.event == 'lead_follow_up_due':
                    messages.extend(
                        rule.notify(rule._follow_up_due_leads(now)))
                elif rule.event == 'lead_not_attempted':
                    messages.extend(
                        rule.notify(rule._not_attempted_leads(now)))
        cls._send(messages)

    @classmethod
    def _send(cls, messages):
        """Deliver the messages posted by a trigger or the cron, which run in
        the background: the sender commits the posted messages first"""
        Message = Pool().get('autolead.automation.message')
        pending = [m for m in messages if m.state == 'pending']
        if pending:
            Message.send(pending)

    def _follow_up_due_leads(self, now):
        "The leads whose follow-up comes within delay of now"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        Configuration = pool.get('autolead.automation.configuration')
        configuration = Configuration(1)
        leads = Lead.search([
                ('stage_kind', '=', 'open'),
                ('next_follow_up', '>=', (now - datetime.timedelta(days=2))
                    .date()),
                ('next_follow_up', '<=', (now + self.delay
                        + datetime.timedelta(days=2)).date()),
                ], order=[('id', 'ASC')])
        due = []
        for lead in leads:
            follow_up = configuration.follow_up_moment(lead.next_follow_up)
            if follow_up - self.delay <= now < follow_up:
                due.append(lead)
        return due

    def _not_attempted_leads(self, now):
        """The leads still waiting in the first stage without a note, an
        interaction or a call since delay; those older by a day more, or
        which came before the rule, are not news any more"""
        pool = Pool()
        Lead = pool.get('autolead.lead')
        Stage = pool.get('autolead.lead.stage')
        Call = pool.get('autolead.call')
        first = Stage.first_open()
        if not first:
            return []
        leads = Lead.search([
                ('source', 'in', self.sources or [s for s, _ in SOURCES]),
                ('stage', '=', first.id),
                ('owner', '!=', None),
                ('lead_kind', 'in', ['new', 're-engaged']),
                ('create_date', '>=', max(self.create_date,
                        now - self.delay - datetime.timedelta(days=1))),
                ('create_date', '<=', now - self.delay),
                ('follow_up_count', '=', 0),
                ], order=[('id', 'ASC')])
        called = {c.lead.id for c in Call.search([
                    ('lead', 'in', [l.id for l in leads]),
                    ('state', '=', 'done'),
                    ])}
        return [l for l in leads
            if not l.interactions and l.id not in called]

    def applies_to(self, record):
        if self.event in LEAD_EVENTS and self.sources:
            return record.source in self.sources
        return True

    def occurrence(self, record):
        "What tells this event of the record apart from an earlier one"
        if self.event == 'lead_follow_up_due':
            return record.next_follow_up.isoformat()
        elif self.event in {'demo_confirmed', 'demo_completed'}:
            return record.start.strftime('%Y%m%dT%H%M')
        elif self.event == 'ticket_resolved' and record.resolved_at:
            return record.resolved_at.strftime('%Y%m%dT%H%M%S')
        return ''

    @classmethod
    def template_values(cls, record):
        "The values of the placeholders of the record"
        values = {'record': record.rec_name}
        if record.__name__ == 'autolead.lead':
            values.update({
                    'lead': record.rec_name,
                    'company': record.company_name,
                    'email': record.email,
                    'phone': record.phone,
                    'source': dict(SOURCES).get(record.source),
                    'stage': record.stage,
                    'rep': record.owner,
                    'follow_up': record.next_follow_up,
                    'lost_reason': record.lost_reason,
                    })
        elif record.__name__ == 'autolead.appointment':
            values.update({
                    'appointment': record.name,
                    'start': record.start,
                    'location': record.location,
                    'client': record.party or record.lead,
                    'rep': record.organizer,
                    })
        elif record.__name__ in {'autolead.ticket', 'autolead.ticket.message'}:
            ticket = (record.ticket
                if record.__name__ == 'autolead.ticket.message' else record)
            values.update({
                    'ticket': ticket.number,
                    'subject': ticket.subject,
                    'customer': ticket.customer,
                    'agent': ticket.accepted_by,
                    'state': ticket.state_string,
                    })
            if ticket != record:
                values.update({
                        'message': record.body,
                        'author': record.author_name,
                        })
        return {k: _format(v) for k, v in values.items()}

    def recipients(self, record):
        "The (user, email) pairs to notify of the event of the record"
        users, emails = [], []
        if self.notify_rep:
            users.extend(self._reps(record))
        if self.notify_admins:
            users.extend(_users_of('group_autolead_admin'))
        if self.notify_managers:
            users.extend(_users_of('group_sales_head'))
        if self.notify_client:
            emails.append(self._client_email(record))
        if self.notify_other_side and self.event in TICKET_EVENTS:
            side_users, side_email = self._other_side(record)
            users.extend(side_users)
            emails.append(side_email)
        result, seen = [], set()
        for user in users:
            if user and user.id not in seen:
                seen.add(user.id)
                result.append((user, user.email))
        known = {(e or '').lower() for _, e in result}
        for email in emails:
            if email and email.lower() not in known:
                known.add(email.lower())
                result.append((None, email))
        return result

    @classmethod
    def _ticket(cls, record):
        if record.__name__ == 'autolead.ticket.message':
            return record.ticket
        if record.__name__ == 'autolead.ticket':
            return record

    @classmethod
    def _reps(cls, record):
        if record.__name__ == 'autolead.lead':
            return [record.owner]
        elif record.__name__ == 'autolead.appointment':
            return [record.organizer] + list(record.participants)
        ticket = cls._ticket(record)
        if ticket:
            return [ticket.accepted_by]
        return []

    @classmethod
    def _client_email(cls, record):
        if record.__name__ == 'autolead.lead':
            return record.email or (
                record.party.email if record.party else None)
        elif record.__name__ == 'autolead.appointment':
            return record._client_email()
        ticket = cls._ticket(record)
        if ticket:
            return ticket.customer_email

    def _other_side(self, record):
        "The users and the email on the other side of the ticket's event"
        ticket = self._ticket(record)
        if self.event == 'ticket_message':
            from_customer = record.from_customer
        elif self.event == 'ticket_new':
            # The portal and the inbound email raise tickets as root
            from_customer = not record.create_uid or record.create_uid.id == 0
        else:
            from_customer = False
        if not from_customer:
            return [], ticket.customer_email
        if ticket.accepted_by:
            return [ticket.accepted_by], None
        return _users_of('group_support'), None

    def notify(self, records):
        """Post the messages of the event of the records to their recipients
        and return them; an event already announced is skipped"""
        pool = Pool()
        Message = pool.get('autolead.automation.message')
        values = []
        for record in records:
            if not self.applies_to(record):
                continue
            placeholders = self.template_values(record)
            subject = render(self.subject, **placeholders)
            body = render(self.body or '', **placeholders)
            ticket = self._ticket(record)
            origin = ticket or record
            key = ':'.join(filter(None, [
                        f'rule-{self.id}', str(record), self.event,
                        self.occurrence(record)]))
            for user, email in self.recipients(record):
                message = {
                    'origin': str(origin),
                    'subject': subject,
                    'body': body,
                    }
                if user:
                    message['key'] = f'{key}:user-{user.id}'
                    if self.in_app:
                        message['user'] = user.id
                else:
                    message['key'] = f'{key}:{email.lower()}'
                if self.by_email and email:
                    message['to'] = email
                if message.get('user') or message.get('to'):
                    values.append(message)
        with without_check_access():
            return Message.post(values, queue=False)


class AutomationConfiguration(metaclass=PoolMeta):
    __name__ = 'autolead.automation.configuration'

    follow_up_time = fields.Time(
        "Follow-up At", required=True,
        help="The time of day a lead's follow-up date stands for; the "
        "follow-up reminders are sent before it.")

    @classmethod
    def default_follow_up_time(cls):
        return datetime.time(9, 0)

    def follow_up_moment(self, date):
        "The UTC moment, stored the Tryton way, a follow-up date stands for"
        zone = tz.get_tzinfo(self.timezone) if self.timezone else tz.SERVER
        local = datetime.datetime.combine(
            date, self.follow_up_time or self.default_follow_up_time(),
            tzinfo=zone)
        return local.astimezone(tz.UTC).replace(tzinfo=None)


class Secret(ModelSingleton, ModelSQL):
    "The secret signing the unsubscribe links, which nobody reads"
    __name__ = 'autolead.notification.secret'
    __string__ = "Unsubscribe Secret"

    key = fields.Char("Key", strip=False)

    @classmethod
    def __register__(cls, module):
        super().__register__(module)
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(table.id, limit=1))
        if not cursor.fetchone():
            cursor.execute(*table.insert(
                    [table.key, table.create_uid, table.create_date],
                    [[secrets.token_hex(32), 0, datetime.datetime.now()]]))

    @classmethod
    def get_key(cls):
        "The key made at installation; [autolead] unsubscribe_key overrides it"
        key = config.get('autolead', 'unsubscribe_key', default=None)
        if not key:
            with without_check_access():
                key = cls(1).key
        return key.encode()


class Trigger(metaclass=PoolMeta):
    __name__ = 'ir.trigger'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.action.selection.append((ACTION, "Auto Lead Notification Rule"))


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('autolead.notification.rule|notify_due',
                "Send Due Auto Lead Notifications"))


def public_url():
    """The address customers reach the server at: [autolead] public_url, the
    host of the current request or [web] hostname, else [web] listen"""
    url = config.get('autolead', 'public_url', default=None)
    if url:
        return url.rstrip('/')
    request = Transaction().context.get('_request') or {}
    if request.get('http_host') or config.get('web', 'hostname'):
        return http_host()
    return 'http://' + config.get('web', 'listen', default='localhost:8000')


def _signature(key, party_id):
    digest = hmac.new(
        key, f'unsubscribe:{party_id}'.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


class Party(metaclass=PoolMeta):
    __name__ = 'party.party'

    marketing_unsubscribed = fields.Boolean(
        "Unsubscribed from Marketing",
        help="The customer asked not to receive campaign messages.")

    @classmethod
    def default_marketing_unsubscribed(cls):
        return False

    @property
    def unsubscribe_token(self):
        Secret = Pool().get('autolead.notification.secret')
        key = Secret.get_key()
        return f'{self.id}-{_signature(key, self.id)}'

    @property
    def unsubscribe_url(self):
        database = Transaction().database.name
        return f'{public_url()}/{database}/unsubscribe/' + (
            self.unsubscribe_token)

    @classmethod
    def from_unsubscribe_token(cls, token):
        "The party the token was made for, or None for a forged token"
        Secret = Pool().get('autolead.notification.secret')
        party_id, _, signature = (token or '').partition('-')
        key = Secret.get_key()
        if not key or not party_id.isdigit():
            return None
        if not hmac.compare_digest(
                signature.encode(), _signature(key, int(party_id)).encode()):
            return None
        parties = cls.search([('id', '=', int(party_id))])
        return parties[0] if parties else None

    def marketing_footer(self):
        "The text closing a marketing email to the party"
        return gettext(
            'autolead.msg_unsubscribe_footer', url=self.unsubscribe_url)


UNSUBSCRIBE_HTML = '''<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title></head>
<body><p>{text}</p>{form}</body></html>'''
UNSUBSCRIBE_FORM = '''<form method="post">
<button type="submit">{button}</button></form>'''


def _unsubscribe_page(text, form='', status=HTTPStatus.OK):
    return Response(
        UNSUBSCRIBE_HTML.format(
            title=html.escape(gettext('autolead.msg_unsubscribe_title')),
            text=html.escape(text), form=form),
        status=status, content_type='text/html; charset=utf-8')


@app.route('/<database_name>/unsubscribe/<token>', methods={'GET', 'POST'})
@with_pool
@with_transaction(readonly=False)
def unsubscribe(request, pool, token):
    """Ask, then record, that the customer wants no more marketing emails;
    a link opened by a mail scanner (GET) changes nothing"""
    Party = pool.get('party.party')
    party = Party.from_unsubscribe_token(token)
    if not party:
        return _unsubscribe_page(
            gettext('autolead.msg_unsubscribe_invalid'),
            status=HTTPStatus.NOT_FOUND)
    if request.method == 'POST':
        Party.write([party], {'marketing_unsubscribed': True})
        return _unsubscribe_page(gettext('autolead.msg_unsubscribe_done'))
    if party.marketing_unsubscribed:
        return _unsubscribe_page(gettext('autolead.msg_unsubscribe_done'))
    return _unsubscribe_page(
        gettext('autolead.msg_unsubscribe_ask'),
        UNSUBSCRIBE_FORM.format(button=html.escape(
                gettext('autolead.msg_unsubscribe_button'))))
