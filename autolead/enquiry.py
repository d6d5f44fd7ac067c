import datetime

from sql import Literal
from sql.conditionals import Coalesce
from sql.operators import Concat, ILike

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Workflow, fields
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.tools import escape_wildcard, unescape_wildcard
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard

from . import mail
from .claim import claim

CHANNELS = [
    ('website', "Website"),
    ('email', "Email"),
    ('phone', "Phone"),
    ('chat', "Chat"),
    ('social', "Social Media"),
    ('other', "Other"),
    ]
# Lead sources matching the enquiry channels; the rest come in as "other"
LEAD_SOURCES = {
    'website': 'website',
    'email': 'email',
    'phone': 'phone',
    }


class Enquiry(Workflow, ModelSQL, ModelView):
    __name__ = 'autolead.enquiry'
    __string__ = "Enquiry"

    _states = {
        'readonly': Eval('state') != 'open',
        }

    name = fields.Char("Name", required=True, states=_states)
    company_name = fields.Char("Company", states=_states)
    email = fields.Char("Email", states=_states)
    phone = fields.Char("Phone", states=_states)
    subject = fields.Char(
        "Subject", required=True, states=_states)
    message = fields.Text("Message", states=_states)
    source = fields.Selection(
        CHANNELS, "Channel", required=True, sort=False, states=_states,
        help="How the enquiry reached us.")
    accepted_by = fields.Many2One(
        'res.user', "Accepted By", readonly=True, ondelete='RESTRICT')
    accepted_at = fields.DateTime("Accepted At", readonly=True)
    resolved_at = fields.DateTime("Resolved At", readonly=True)
    lead = fields.Many2One(
        'autolead.lead', "Lead", readonly=True, ondelete='SET NULL',
        help="The lead created from the enquiry.")
    messages = fields.One2Many(
        'autolead.enquiry.message', 'enquiry', "Messages", readonly=True)
    keywords = fields.Function(
        fields.Char(
            "Keywords",
            help="Search words in the subject, message and replies."),
        'get_keywords', searcher='search_keywords')
    state = fields.Selection([
            ('open', "Open"),
            ('accepted', "Accepted"),
            ('resolved', "Resolved"),
            ('rejected', "Rejected"),
            ], "State", readonly=True, required=True, sort=False)

    del _states

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.subject, Index.Similarity())),
                Index(t, (t.email, Index.Equality())),
                Index(t, (t.accepted_by, Index.Range())),
                Index(
                    t, (t.state, Index.Equality(cardinality='low')),
                    where=t.state.in_(['open', 'accepted'])),
                })
        cls._order = [
            ('create_date', 'DESC'),
            ('id', 'DESC'),
            ]
        cls._transitions |= {
            ('open', 'accepted'),
            ('accepted', 'open'),
            ('open', 'rejected'),
            ('accepted', 'rejected'),
            ('accepted', 'resolved'),
            }
        cls._buttons.update({
                'accept': {
                    'invisible': Eval('state') != 'open',
                    'depends': ['state'],
                    },
                'return_to_queue': {
                    'invisible': Eval('state') != 'accepted',
                    'icon': 'tryton-back',
                    'depends': ['state'],
                    },
                'resolve': {
                    'invisible': Eval('state') != 'accepted',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                'reject': {
                    'invisible': ~Eval('state').in_(['open', 'accepted']),
                    'icon': 'tryton-cancel',
                    'depends': ['state'],
                    },
                'reply': {
                    'invisible': (Eval('state') != 'accepted')
                    | ~Eval('email'),
                    'icon': 'tryton-email',
                    'depends': ['state', 'email'],
                    },
                'convert_to_lead': {
                    'invisible': (Eval('state').in_(['rejected'])
                        | Eval('lead')),
                    'icon': 'tryton-forward',
                    'depends': ['state', 'lead'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'open'

    @classmethod
    def default_source(cls):
        return 'website'

    def get_rec_name(self, name):
        return f'{self.subject} ({self.name})'

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, value = clause[:3]
        bool_op = 'AND' if operator.startswith(('!', 'not ')) else 'OR'
        return [bool_op,
            ('subject', operator, value),
            ('name', operator, value),
            ('email', operator, value),
            ]

    def get_keywords(self, name):
        return ''

    @classmethod
    def search_keywords(cls, name, clause):
        _, operator, value = clause
        return [('id', 'in', cls.keyword_query(value))]

    @classmethod
    def keyword_query(cls, text):
        "Query the ids of enquiries matching every word of text"
        Message = Pool().get('autolead.enquiry.message')
        table = cls.__table__()
        message = Message.__table__()
        database = Transaction().database
        text = unescape_wildcard(text or '').strip('%').strip()
        if not text:
            return table.select(table.id)
        if database.has_search_full_text():
            language = Transaction().language
            query = database.format_full_text_query(text, language=language)
            document = database.format_full_text(
                Concat(Concat(Coalesce(table.subject, ''), ' '),
                    Coalesce(table.message, '')),
                language=language)
            message_document = database.format_full_text(
                Coalesce(message.body, ''), language=language)
            condition = (database.search_full_text(document, query)
                | table.id.in_(message.select(message.enquiry,
                        where=database.search_full_text(
                            message_document, query))))
            return table.select(table.id, where=condition)
        condition = Literal(True)
        for word in text.split():
            pattern = '%' + escape_wildcard(word) + '%'
            condition &= (
                ILike(table.subject, pattern, escape='\\')
                | ILike(table.message, pattern, escape='\\')
                | table.id.in_(message.select(message.enquiry,
                        where=ILike(message.body, pattern, escape='\\'))))
        return table.select(table.id, where=condition)

    @classmethod
    def copy(cls, enquiries, default=None):
        default = default.copy() if default is not None else {}
        for name in ['accepted_by', 'accepted_at', 'resolved_at', 'lead',
                'messages']:
            default.setdefault(name, None)
        return super().copy(enquiries, default=default)

    @classmethod
    @claim('open', 'autolead.msg_enquiry_already_accepted')
    @ModelView.button
    @Workflow.transition('accepted')
    def accept(cls, enquiries):
        cls.write(enquiries, {
                'accepted_by': Transaction().user or None,
                'accepted_at': datetime.datetime.now(),
                })

    @classmethod
    @ModelView.button
    @Workflow.transition('open')
    def return_to_queue(cls, enquiries):
        cls.write(enquiries, {
                'accepted_by': None,
                'accepted_at': None,
                })

    @classmethod
    @ModelView.button
    @Workflow.transition('resolved')
    def resolve(cls, enquiries):
        cls.write(enquiries, {'resolved_at': datetime.datetime.now()})

    @classmethod
    @ModelView.button
    @Workflow.transition('rejected')
    def reject(cls, enquiries):
        # Whoever rejects a queued one becomes answerable for it
        cls.write([r for r in enquiries if not r.accepted_by], {
                'accepted_by': Transaction().user or None,
                'accepted_at': datetime.datetime.now(),
                })

    @classmethod
    @ModelView.button_action('autolead.wizard_enquiry_reply')
    def reply(cls, enquiries):
        pass

    @classmethod
    @ModelView.button
    def convert_to_lead(cls, enquiries):
        pool = Pool()
        Lead = pool.get('autolead.lead')
        to_convert = [e for e in enquiries if not e.lead]
        if not to_convert:
            return
        # Support agents may not read leads: the new lead is created
        # unassigned, for the sales head to dispatch.
        with Transaction().set_user(0):
            leads = Lead.create([e._lead_values() for e in to_convert])
        for enquiry, lead in zip(to_convert, leads):
            enquiry.lead = lead
        cls.save(to_convert)

    def _lead_values(self):
        return {
            'name': self.name,
            'company_name': self.company_name,
            'email': self.email,
            'phone': self.phone,
            'source': LEAD_SOURCES.get(self.source, 'other'),
            }

    def send_reply(self, subject, body):
        "Email body to the enquirer and keep it in the enquiry's thread"
        pool = Pool()
        Message = pool.get('autolead.enquiry.message')
        User = pool.get('res.user')
        if not self.email:
            raise ValidationError(gettext(
                    'autolead.msg_enquiry_no_email', enquiry=self.rec_name))
        user = User(Transaction().user)
        message, = Message.create([{
                    'enquiry': self.id,
                    'direction': 'outgoing',
                    'author_user': user.id,
                    'body': body,
                    }])
        mail.post(
            f'enquiry-message-{message.id}', [self.email], subject, body,
            origin=self, sender_name=user.name, thread=self)
        return message


class EnquiryMessage(ModelSQL, ModelView):
    __name__ = 'autolead.enquiry.message'
    __string__ = "Enquiry Message"

    enquiry = fields.Many2One(
        'autolead.enquiry', "Enquiry", required=True, ondelete='CASCADE')
    direction = fields.Selection([
            ('incoming', "Incoming"),
            ('outgoing', "Outgoing"),
            ], "Direction", required=True, readonly=True)
    author_user = fields.Many2One(
        'res.user', "Agent", readonly=True, ondelete='RESTRICT')
    date = fields.DateTime("Date", required=True, readonly=True)
    body = fields.Text("Message", required=True, readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('enquiry')
        t = cls.__table__()
        cls._sql_indexes.add(
            Index(t, (t.enquiry, Index.Range()), (t.date, Index.Range())))
        cls._order = [('date', 'ASC'), ('id', 'ASC')]

    @classmethod
    def default_date(cls):
        return datetime.datetime.now()

    @classmethod
    def default_direction(cls):
        return 'outgoing'


class EnquiryReply(Wizard):
    __name__ = 'autolead.enquiry.reply'

    start = StateView(
        'autolead.enquiry.reply.start',
        'autolead.enquiry_reply_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Send", 'send', 'tryton-email', default=True),
            ])
    send = StateTransition()

    def default_start(self, fields):
        enquiry = self.record
        return {
            'enquiry': enquiry.id,
            'enquirer': enquiry.name,
            'to': enquiry.email,
            'subject': f'Re: {enquiry.subject} {mail.enquiry_tag(enquiry)}',
            }

    def transition_send(self):
        self.record.send_reply(self.start.subject, self.start.body)
        return 'end'


class EnquiryReplyStart(ModelView):
    __name__ = 'autolead.enquiry.reply.start'
    __string__ = "Reply to Enquiry"

    enquiry = fields.Many2One('autolead.enquiry', "Enquiry", readonly=True)
    enquirer = fields.Char("Enquirer", readonly=True)
    to = fields.Char("To", readonly=True)
    subject = fields.Char("Subject", required=True)
    canned_response = fields.Many2One(
        'autolead.canned_response', "Canned Response",
        help="Fill the reply with a prepared text.")
    body = fields.Text("Message", required=True)

    @fields.depends('canned_response', 'body', 'enquirer', 'subject')
    def on_change_canned_response(self):
        pool = Pool()
        User = pool.get('res.user')
        if not self.canned_response:
            return
        user = User(Transaction().user)
        text = self.canned_response.render(
            customer=self.enquirer, agent=user.name, ticket=self.subject)
        self.body = '\n\n'.join(filter(None, [self.body, text]))
