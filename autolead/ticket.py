import datetime
import logging

from sql import Literal, Null, Table
from sql.aggregate import Count
from sql.conditionals import Coalesce
from sql.operators import Concat, ILike

from trytond import backend
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, Unique, Workflow, fields)
from trytond.model.exceptions import AccessError, ValidationError
from trytond.pool import Pool
from trytond.pyson import Bool, Eval, If
from trytond.tools import escape_wildcard, unescape_wildcard
from trytond.transaction import Transaction

from . import mail
from .claim import claim
from .deletion import TraceDeletionMixin

logger = logging.getLogger(__name__)

PRIORITIES = [
    ('low', "Low"),
    ('normal', "Normal"),
    ('high', "High"),
    ('urgent', "Urgent"),
    ]
OPEN_STATES = ['new', 'accepted', 'reopened']


class TicketCategory(DeactivableMixin, ModelSQL, ModelView):
    __name__ = 'autolead.ticket.category'
    __string__ = "Ticket Category"

    name = fields.Char("Name", required=True, translate=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('name', 'ASC'))


class TicketTag(ModelSQL, ModelView):
    __name__ = 'autolead.ticket.tag'
    __string__ = "Ticket Tag"

    name = fields.Char("Name", required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('name_unique', Unique(t, t.name), 'autolead.msg_tag_unique'),
            ]
        cls._order.insert(0, ('name', 'ASC'))


class TicketTagRelation(ModelSQL):
    __name__ = 'autolead.ticket-autolead.ticket.tag'
    __string__ = "Ticket - Tag"

    ticket = fields.Many2One(
        'autolead.ticket', "Ticket", required=True, ondelete='CASCADE')
    tag = fields.Many2One(
        'autolead.ticket.tag', "Tag", required=True, ondelete='CASCADE')


class TicketSLA(ModelSQL, ModelView):
    __name__ = 'autolead.ticket.sla'
    __string__ = "Service Level"

    priority = fields.Selection(PRIORITIES, "Priority", required=True,
        sort=False)
    response_time = fields.TimeDelta(
        "Response Time", required=True,
        help="How long a new ticket may wait in the queue before an agent "
        "accepts it.")
    resolution_time = fields.TimeDelta(
        "Resolution Time", required=True,
        help="How long after it was raised a ticket must be resolved.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('priority_unique', Unique(t, t.priority),
                'autolead.msg_sla_priority_unique'),
            ]

    @classmethod
    def due_times(cls, priority, start):
        "The response and resolution due times of a ticket raised at start"
        slas = cls.search([('priority', '=', priority)], limit=1)
        if not slas or not start:
            return None, None
        sla, = slas
        return start + sla.response_time, start + sla.resolution_time


class Ticket(
        DeactivableMixin, TraceDeletionMixin, Workflow, ModelSQL, ModelView):
    __name__ = 'autolead.ticket'
    __string__ = "Ticket"
    _rec_name = 'number'

    _states = {
        'readonly': Eval('state').in_(['resolved', 'rejected']),
        }

    number = fields.Char("Number", readonly=True)
    subject = fields.Char(
        "Subject", required=True, states=_states)
    description = fields.Text("Description", states=_states)
    category = fields.Many2One(
        'autolead.ticket.category', "Category", ondelete='RESTRICT',
        states=_states)
    tags = fields.Many2Many(
        'autolead.ticket-autolead.ticket.tag', 'ticket', 'tag', "Tags",
        states=_states)
    priority = fields.Selection(
        PRIORITIES, "Priority", required=True, sort=False, states=_states)
    customer = fields.Many2One(
        'party.party', "Customer", required=True, ondelete='RESTRICT',
        states={
            'readonly': Eval('state') != 'new',
            },
        help="The customer the ticket is for.")
    web_user = fields.Many2One(
        'web.user', "Raised By", ondelete='SET NULL',
        domain=[
            If(Bool(Eval('customer')),
                ('party', '=', Eval('customer', -1)),
                ()),
            ],
        states={
            'readonly': Eval('state') != 'new',
            },
        help="The customer account that raised the ticket, if any.")
    accepted_by = fields.Many2One(
        'res.user', "Accepted By", readonly=True, ondelete='RESTRICT')
    accepted_at = fields.DateTime("Accepted At", readonly=True)
    resolved_at = fields.DateTime("Resolved At", readonly=True)
    response_due = fields.DateTime(
        "Response Due", readonly=True,
        help="When the ticket must be accepted according to the SLA.")
    resolution_due = fields.DateTime(
        "Resolution Due", readonly=True,
        help="When the ticket must be resolved according to the SLA.")
    breached = fields.Function(
        fields.Boolean(
            "SLA Breached",
            help="A response or resolution target was missed."),
        'get_breached', searcher='search_breached')
    at_risk = fields.Function(
        fields.Boolean(
            "At Risk",
            help="An SLA target of the open ticket falls due soon."),
        'get_at_risk', searcher='search_at_risk')
    messages = fields.One2Many(
        'autolead.ticket.message', 'ticket', "Messages")
    keywords = fields.Function(
        fields.Char(
            "Keywords",
            help="Search words in the subject, description and messages."),
        'get_keywords', searcher='search_keywords')
    state = fields.Selection([
            ('new', "New"),
            ('accepted', "Accepted"),
            ('resolved', "Resolved"),
            ('rejected', "Rejected"),
            ('reopened', "Reopened"),
            ], "State", readonly=True, required=True, sort=False)
    state_string = state.translated('state')

    del _states

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.number, Index.Similarity())),
                Index(t, (t.subject, Index.Similarity())),
                Index(t, (t.customer, Index.Range())),
                Index(t, (t.accepted_by, Index.Range())),
                Index(
                    t, (t.state, Index.Equality(cardinality='low')),
                    where=t.state.in_(OPEN_STATES)),
                Index(t, (t.resolution_due, Index.Range())),
                })
        cls._sql_constraints += [
            ('number_unique', Unique(t, t.number),
                'autolead.msg_ticket_number_unique'),
            ]
        cls._order = [
            ('create_date', 'DESC'),
            ('id', 'DESC'),
            ]
        cls._transitions |= {
            ('new', 'accepted'),
            ('accepted', 'new'),
            ('reopened', 'new'),
            ('new', 'rejected'),
            ('accepted', 'rejected'),
            ('accepted', 'resolved'),
            ('reopened', 'resolved'),
            ('resolved', 'reopened'),
            }
        cls._buttons.update({
                'accept': {
                    'invisible': Eval('state') != 'new',
                    'depends': ['state'],
                    },
                'return_to_queue': {
                    'invisible': ~Eval('state').in_(['accepted', 'reopened']),
                    'icon': 'tryton-back',
                    'depends': ['state'],
                    },
                'resolve': {
                    'invisible': ~Eval('state').in_(['accepted', 'reopened']),
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                'reject': {
                    'invisible': ~Eval('state').in_(['new', 'accepted']),
                    'icon': 'tryton-cancel',
                    'depends': ['state'],
                    },
                'reopen': {
                    'invisible': Eval('state') != 'resolved',
                    'icon': 'tryton-refresh',
                    'depends': ['state'],
                    },
                'archive': {
                    'invisible': ~Eval('active', True),
                    'icon': 'tryton-archive',
                    'depends': ['active'],
                    },
                })

    @classmethod
    def __register__(cls, module):
        exists = backend.TableHandler.table_exist(cls._table)
        if exists:
            cls._renumber_duplicates()
        super().__register__(module)
        if exists:
            cls._sequence_after_numbers()

    @classmethod
    def _ticket_sequence(cls):
        "Return the id, prefix and padding of the sequence numbering tickets"
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        Sequence = pool.get('ir.sequence')
        cursor = Transaction().connection.cursor()
        sequence_id = None
        if backend.TableHandler.table_exist('autolead_configuration'):
            configuration = Table('autolead_configuration')
            cursor.execute(*configuration.select(
                    configuration.ticket_sequence, limit=1))
            row = cursor.fetchone()
            sequence_id = row[0] if row else None
        if sequence_id is None:
            data = ModelData.__table__()
            cursor.execute(*data.select(data.db_id,
                    where=(data.module == 'autolead')
                    & (data.fs_id == 'sequence_ticket')))
            row = cursor.fetchone()
            sequence_id = row[0] if row else None
        if sequence_id is None:
            return None
        sequence = Sequence.__table__()
        cursor.execute(*sequence.select(
                sequence.prefix, sequence.suffix, sequence.padding,
                where=(sequence.id == sequence_id)
                & (sequence.type == 'incremental')))
        row = cursor.fetchone()
        if not row or (row[0] and '$' in row[0]) or row[1]:
            return None
        prefix, _, padding = row
        return sequence_id, prefix or '', padding or 0

    @classmethod
    def _max_number(cls, prefix):
        "Return the highest number of the tickets numbered with prefix"
        cursor = Transaction().connection.cursor()
        table = cls.__table__()
        cursor.execute(*table.select(table.number,
                where=table.number != Null))
        numbers = [n[len(prefix):] for n, in cursor if n.startswith(prefix)]
        return max((int(n) for n in numbers if n.isdigit()), default=0)

    @classmethod
    def _renumber_duplicates(cls):
        "Give a new number to the later tickets sharing one with an earlier"
        # ticket numbers given before they came from a locked sequence could
        # be shared; the unique constraint needs them distinct
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        table = cls.__table__()
        sequence = cls._ticket_sequence()
        if not sequence:
            return
        _, prefix, padding = sequence
        duplicates = table.select(table.number,
            where=table.number != Null,
            group_by=[table.number], having=Count(table.id) > 1)
        cursor.execute(*table.select(table.id, table.number,
                where=table.number.in_(duplicates),
                order_by=[table.number, table.id]))
        seen, to_renumber = set(), []
        for id_, number in cursor:
            if number in seen:
                to_renumber.append(id_)
            seen.add(number)
        if not to_renumber:
            return
        next_number = cls._max_number(prefix) + 1
        for id_ in to_renumber:
            cursor.execute(*table.update([table.number],
                    [f'{prefix}{next_number:0>{padding}d}'],
                    where=table.id == id_))
            next_number += 1
        logger.warning(
            "%s tickets sharing their number were renumbered",
            len(to_renumber))

    @classmethod
    def _sequence_after_numbers(cls):
        "Move the ticket sequence past the highest number already given"
        pool = Pool()
        Sequence = pool.get('ir.sequence')
        transaction = Transaction()
        database = transaction.database
        sequence_info = cls._ticket_sequence()
        if not sequence_info:
            return
        sequence_id, prefix, _ = sequence_info
        after = cls._max_number(prefix) + 1
        sequence = Sequence.__table__()
        cursor = transaction.connection.cursor()
        cursor.execute(*sequence.select(
                sequence.number_next_internal, sequence.number_increment,
                where=sequence.id == sequence_id))
        number_next, increment = cursor.fetchone()
        name = f'{Sequence._table}_{sequence_id}'
        if (database.has_sequence()
                and database.sequence_exist(transaction.connection, name)):
            number_next = database.sequence_next_number(
                transaction.connection, name)
            if number_next < after:
                database.sequence_update(
                    transaction.connection, name, increment or 1, after)
        elif (number_next or 0) < after:
            cursor.execute(*sequence.update(
                    [sequence.number_next_internal], [after],
                    where=sequence.id == sequence_id))

    @classmethod
    def default_state(cls):
        return 'new'

    @classmethod
    def default_priority(cls):
        return 'normal'

    def get_breached(self, name):
        now = datetime.datetime.now()
        response = self.accepted_at or now
        resolution = self.resolved_at or now
        if self.state == 'rejected':
            return False
        return bool(
            (self.response_due and response > self.response_due
                and (self.accepted_at or self.state == 'new'))
            or (self.resolution_due and resolution > self.resolution_due))

    @classmethod
    def _breached_condition(cls, table, now):
        response = Coalesce(table.accepted_at, now)
        resolution = Coalesce(table.resolved_at, now)
        return ((table.state != 'rejected')
            & (((table.response_due != Null)
                    & (response > table.response_due)
                    & ((table.accepted_at != Null) | (table.state == 'new')))
                | ((table.resolution_due != Null)
                    & (resolution > table.resolution_due))))

    @classmethod
    def search_breached(cls, name, clause):
        _, operator, value = clause
        table = cls.__table__()
        condition = cls._breached_condition(table, datetime.datetime.now())
        query = table.select(table.id, where=condition)
        if (operator == '=') == bool(value):
            return [('id', 'in', query)]
        return [('id', 'not in', query)]

    @classmethod
    def _at_risk_limit(cls):
        Configuration = Pool().get('autolead.configuration')
        hours = Configuration(1).at_risk_hours or 0
        now = datetime.datetime.now()
        return now, now + datetime.timedelta(hours=hours)

    def get_at_risk(self, name):
        now, limit = self._at_risk_limit()
        if self.state == 'new' and self.response_due:
            if now <= self.response_due <= limit:
                return True
        if self.state in OPEN_STATES and self.resolution_due:
            if now <= self.resolution_due <= limit:
                return True
        return False

    @classmethod
    def search_at_risk(cls, name, clause):
        _, operator, value = clause
        now, limit = cls._at_risk_limit()
        domain = ['OR',
            [('state', '=', 'new'),
                ('response_due', '>=', now),
                ('response_due', '<=', limit),
                ],
            [('state', 'in', OPEN_STATES),
                ('resolution_due', '>=', now),
                ('resolution_due', '<=', limit),
                ],
            ]
        if (operator == '=') == bool(value):
            return domain
        return [('id', 'not in', cls.search(domain, order=[], query=True))]

    def get_keywords(self, name):
        return ''

    @classmethod
    def search_rec_name(cls, name, clause):
        "The desk's search box finds tickets by number or by their words"
        _, operator, value, *_ = clause
        if operator.startswith('!') or operator.startswith('not '):
            return [('number', operator, value)]
        domain = ['OR', ('number', operator, value)]
        if operator in {'ilike', 'like'} and isinstance(value, str):
            domain.append(('keywords', operator, value))
        return domain

    @classmethod
    def search_keywords(cls, name, clause):
        _, operator, value = clause
        return [('id', 'in', cls.keyword_query(value))]

    @classmethod
    def keyword_query(cls, text, internal=True, customer=None):
        """Query the ids of tickets matching every word of text, among the
        tickets of the party customer (an id) when given"""
        Message = Pool().get('autolead.ticket.message')
        table = cls.__table__()
        message = Message.__table__()
        database = Transaction().database
        text = unescape_wildcard(text or '').strip('%').strip()
        visible = Literal(True) if internal else ~message.internal
        scope = Literal(True)
        if customer is not None:
            # read the messages of a few tickets (indexes on customer and
            # ticket), not every message of the helpdesk
            own = cls.__table__()
            scope = table.customer == customer
            visible &= message.ticket.in_(
                own.select(own.id, where=own.customer == customer))
        if not text:
            return table.select(table.id, where=scope)
        if database.has_search_full_text():
            language = Transaction().language
            query = database.format_full_text_query(text, language=language)
            document = database.format_full_text(
                Concat(Concat(Coalesce(table.subject, ''), ' '),
                    Coalesce(table.description, '')),
                language=language)
            message_document = database.format_full_text(
                Coalesce(message.body, ''), language=language)
            condition = (database.search_full_text(document, query)
                | table.id.in_(message.select(message.ticket,
                        where=visible & database.search_full_text(
                            message_document, query))))
            return table.select(table.id, where=scope & condition)
        condition = scope
        for word in text.split():
            pattern = '%' + escape_wildcard(word) + '%'
            condition &= (
                ILike(table.subject, pattern, escape='\\')
                | ILike(table.description, pattern, escape='\\')
                | table.id.in_(message.select(message.ticket,
                        where=visible & ILike(
                            message.body, pattern, escape='\\'))))
        return table.select(table.id, where=condition)

    @classmethod
    def search_for_customer(cls, party, text=None, **kwargs):
        """Tickets of party, matching text outside of internal notes.

        Meant for the portal, which runs as root and must filter by the
        signed-in customer itself."""
        domain = [('customer', '=', party.id)]
        if text:
            domain.append(('id', 'in', cls.keyword_query(
                        text, internal=False, customer=party.id)))
        return cls.search(domain, **kwargs)

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Configuration = pool.get('autolead.configuration')
        SLA = pool.get('autolead.ticket.sla')
        values = super().preprocess_values(mode, values)
        if mode == 'create':
            if not values.get('number'):
                values['number'] = Configuration(1).ticket_sequence.get()
            response_due, resolution_due = SLA.due_times(
                values.get('priority') or cls.default_priority(),
                datetime.datetime.now())
            values.setdefault('response_due', response_due)
            values.setdefault('resolution_due', resolution_due)
        return values

    @classmethod
    def on_modification(cls, mode, tickets, field_names=None):
        pool = Pool()
        SLA = pool.get('autolead.ticket.sla')
        super().on_modification(mode, tickets, field_names=field_names)
        if mode == 'write' and 'priority' in field_names:
            for ticket in tickets:
                ticket.response_due, ticket.resolution_due = SLA.due_times(
                    ticket.priority, ticket.create_date)
            cls.save(tickets)

    @classmethod
    def copy(cls, tickets, default=None):
        default = default.copy() if default is not None else {}
        for name in ['number', 'accepted_by', 'accepted_at', 'resolved_at',
                'response_due', 'resolution_due', 'messages']:
            default.setdefault(name, None)
        return super().copy(tickets, default=default)

    @classmethod
    @claim('new', 'autolead.msg_ticket_already_accepted')
    @ModelView.button
    @Workflow.transition('accepted')
    def accept(cls, tickets):
        cls.write(tickets, {
                'accepted_by': Transaction().user or None,
                'accepted_at': datetime.datetime.now(),
                })

    @classmethod
    @ModelView.button
    @Workflow.transition('new')
    def return_to_queue(cls, tickets):
        cls.write(tickets, {
                'accepted_by': None,
                'accepted_at': None,
                })

    @classmethod
    @ModelView.button
    @Workflow.transition('resolved')
    def resolve(cls, tickets):
        cls.write(tickets, {'resolved_at': datetime.datetime.now()})

    @classmethod
    @ModelView.button
    @Workflow.transition('rejected')
    def reject(cls, tickets):
        # Whoever rejects a queued one becomes answerable for it
        cls.write([r for r in tickets if not r.accepted_by], {
                'accepted_by': Transaction().user or None,
                'accepted_at': datetime.datetime.now(),
                })

    @classmethod
    @ModelView.button
    @Workflow.transition('reopened')
    def reopen(cls, tickets):
        cls.write(tickets, {'resolved_at': None})

    @classmethod
    @ModelView.button
    def archive(cls, tickets):
        """Hide the tickets from the lists, with their conversation kept;
        ticking Active again restores them"""
        cls.write(tickets, {'active': False})

    @classmethod
    def reopen_by_customer(cls, tickets, party):
        "Reopen resolved tickets on behalf of the customer party"
        for ticket in tickets:
            if ticket.customer != party:
                raise AccessError(gettext(
                        'autolead.msg_ticket_not_customer',
                        ticket=ticket.rec_name))
        cls.reopen(tickets)

    def customer_can_write(self):
        Configuration = Pool().get('autolead.configuration')
        if self.state in {'accepted', 'reopened'}:
            return True
        return (self.state == 'new'
            and Configuration(1).customer_can_write_before_accept)

    @property
    def customer_email(self):
        if self.web_user and self.web_user.email:
            return self.web_user.email
        return self.customer.email if self.customer else None

    def post_customer_message(self, web_user, body, attachments=None):
        """Add the message of the customer's web_user to the thread.

        attachments is a list of (name, data) pairs."""
        pool = Pool()
        Message = pool.get('autolead.ticket.message')
        Attachment = pool.get('ir.attachment')
        if not web_user or web_user.party != self.customer:
            raise AccessError(gettext(
                    'autolead.msg_ticket_not_customer',
                    ticket=self.rec_name))
        message, = Message.create([{
                    'ticket': self.id,
                    'author_user': None,
                    'author_web_user': web_user.id,
                    'body': body,
                    }])
        if attachments:
            Attachment.create([{
                        'name': name,
                        'data': data,
                        'resource': str(message),
                        } for name, data in attachments])
        return message


class TicketMessage(ModelSQL, ModelView):
    __name__ = 'autolead.ticket.message'
    __string__ = "Ticket Message"

    ticket = fields.Many2One(
        'autolead.ticket', "Ticket", required=True, ondelete='CASCADE')
    author_user = fields.Many2One(
        'res.user', "Agent", ondelete='RESTRICT',
        states={
            'readonly': Eval('id', -1) >= 0,
            'invisible': ~Eval('author_user'),
            })
    author_web_user = fields.Many2One(
        'web.user', "Customer Account", ondelete='SET NULL',
        states={
            'readonly': Eval('id', -1) >= 0,
            'invisible': ~Eval('author_web_user'),
            })
    author_email = fields.Char(
        "Author Email",
        states={
            'readonly': Eval('id', -1) >= 0,
            'invisible': ~Eval('author_email'),
            },
        help="The sender of a message received by email.")
    author_name = fields.Function(
        fields.Char("Author"), 'get_author_name')
    date = fields.DateTime("Date", required=True, readonly=True)
    body = fields.Text("Message", required=True)
    internal = fields.Boolean(
        "Internal Note",
        states={
            'readonly': Bool(Eval('author_web_user')),
            },
        help="Internal notes are never shown nor sent to the customer.")
    canned_response = fields.Function(
        fields.Many2One(
            'autolead.canned_response', "Canned Response",
            help="Fill the message with a prepared text."),
        'get_canned_response', setter='set_canned_response')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('ticket')
        t = cls.__table__()
        cls._sql_indexes.add(
            Index(t, (t.ticket, Index.Range()), (t.date, Index.Range())))
        cls._order = [('date', 'ASC'), ('id', 'ASC')]

    @classmethod
    def default_date(cls):
        return datetime.datetime.now()

    @classmethod
    def default_author_user(cls):
        return Transaction().user or None

    @classmethod
    def default_internal(cls):
        return False

    @fields.depends('canned_response', 'ticket', 'body',
        '_parent_ticket.customer', '_parent_ticket.number')
    def on_change_canned_response(self):
        pool = Pool()
        User = pool.get('res.user')
        if not self.canned_response:
            return
        user = User(Transaction().user)
        text = self.canned_response.render(
            customer=(self.ticket.customer.rec_name
                if self.ticket and self.ticket.customer else None),
            agent=user.name,
            ticket=self.ticket.number if self.ticket else None)
        self.body = '\n\n'.join(filter(None, [self.body, text]))

    def get_author_name(self, name):
        if self.author_web_user:
            party = self.author_web_user.party
            return party.rec_name if party else self.author_web_user.email
        if self.author_user:
            return self.author_user.name or self.author_user.login
        return self.author_email

    def get_canned_response(self, name):
        return None

    @classmethod
    def set_canned_response(cls, messages, name, value):
        pass

    @property
    def from_customer(self):
        return bool(self.author_web_user) or (
            not self.author_user and bool(self.author_email))

    @classmethod
    def validate_fields(cls, messages, field_names):
        super().validate_fields(messages, field_names)
        for message in messages:
            if message.from_customer:
                if message.internal:
                    raise ValidationError(gettext(
                            'autolead.msg_ticket_message_customer_internal'))

    @classmethod
    def create(cls, vlist):
        pool = Pool()
        Ticket = pool.get('autolead.ticket')
        vlist = [v.copy() for v in vlist]
        if not cls._may_write_as_customer():
            for values in vlist:
                values['author_user'] = Transaction().user
                values['author_web_user'] = None
                values['author_email'] = None
        for values in vlist:
            if values.get('author_web_user') or (
                    values.get('author_email')
                    and not values.get('author_user')):
                ticket = Ticket(values['ticket'])
                if not ticket.customer_can_write():
                    raise ValidationError(gettext(
                            'autolead.msg_ticket_customer_cannot_write',
                            ticket=ticket.rec_name,
                            state=ticket.state_string))
        messages = super().create(vlist)
        cls.notify(messages)
        return messages

    @classmethod
    def _may_write_as_customer(cls):
        "Only the portal, inbound email and administrators speak for customers"
        pool = Pool()
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        transaction = Transaction()
        if not transaction.user or not transaction.check_access:
            return True
        return ModelData.get_id('autolead', 'group_autolead_admin') in (
            User.get_groups())

    @classmethod
    def notify(cls, messages):
        "Post each new message to the other side of the conversation"
        if not Transaction().context.get('autolead_notify', True):
            return
        for message in messages:
            if message.internal:
                continue
            ticket = message.ticket
            subject = f'[{ticket.number}] {ticket.subject}'
            if message.from_customer:
                to = ticket.accepted_by.email if ticket.accepted_by else None
            else:
                to = ticket.customer_email
            mail.post(
                f'ticket-message-{message.id}', [to], subject, message.body,
                origin=ticket, sender_name=message.author_name,
                thread=ticket)

