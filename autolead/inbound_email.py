"""Inbound email into the helpdesk, on trytond's inbound_email.

Each message is decoded part by part (plain text preferred, HTML turned into
text), its attachments kept within the portal's limits, its sender checked
(DMARC/SPF results of the receiving server, and the thread's own addresses);
what cannot be trusted waits in quarantine for the support lead, what cannot
be read is refused while its raw data is kept for the administrator."""
import email
import hashlib
import json
import re
from email import errors
from email.policy import default as default_policy
from email.utils import getaddresses

from trytond.config import config
from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.modules.inbound_email import routes as inbound_routes
from trytond.pool import Pool, PoolMeta
from trytond.protocols.wrappers import HTTPStatus, abort
from trytond.pyson import Eval
from trytond.tools import escape_wildcard
from trytond.transaction import Transaction, without_check_access

from . import mail
from .portal import MAX_FILES, upload_limit

# defects that leave the structure of the message unknown
STRUCTURAL_DEFECTS = (
    errors.NoBoundaryInMultipartDefect,
    errors.StartBoundaryNotFoundDefect,
    errors.MultipartInvariantViolationDefect,
    errors.MissingHeaderBodySeparatorDefect,
    errors.FirstHeaderLineIsContinuationDefect,
    )
AUTHENTICATION_FAILED = re.compile(
    r'\b(?P<method>dmarc|spf)\s*=\s*(?:fail|permerror)\b', re.IGNORECASE)


def inbound_max_size():
    """The largest email the inbound route takes: beyond the attachments the
    portal accepts, so that a reply with a bigger file keeps its text"""
    return config.getint(
        'autolead', 'inbound_max_size', default=40 * 1024 * 1024)


inbound_routes.inbound_email.max_request_size = max(
    getattr(inbound_routes.inbound_email, 'max_request_size', 0) or 0,
    inbound_max_size())


class Refused(Exception):
    "The email cannot be read; the reason is for people"


class Rule(metaclass=PoolMeta):
    __name__ = 'inbound.email.rule'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.action.selection.append(
            ('inbound.email|autolead_route', "Auto Lead Helpdesk"))


class Email(metaclass=PoolMeta):
    __name__ = 'inbound.email'

    autolead_state = fields.Selection([
            (None, ""),
            ('threaded', "Threaded"),
            ('quarantined', "Quarantined"),
            ('accepted', "Accepted"),
            ('refused', "Refused"),
            ], "Helpdesk State", readonly=True, sort=False)
    autolead_reason = fields.Text(
        "Helpdesk Reason", readonly=True,
        help="Why the email was quarantined or refused.")
    autolead_sender = fields.Char("Sender", readonly=True)
    autolead_subject = fields.Char("Subject", readonly=True)
    autolead_thread = fields.Reference(
        "Thread", selection=[
            (None, ""),
            ('autolead.ticket', "Ticket"),
            ('autolead.enquiry', "Enquiry"),
            ], readonly=True,
        help="The ticket or enquiry the email claims to answer.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'autolead_accept': {
                    'invisible': Eval('autolead_state') != 'quarantined',
                    'icon': 'tryton-ok',
                    'depends': ['autolead_state'],
                    },
                })

    @classmethod
    @ModelView.button
    def autolead_accept(cls, emails):
        "Put the quarantined emails where they would have gone if trusted"
        # the button's groups are checked; the route speaks for customers
        with without_check_access():
            for email_ in emails:
                if email_.autolead_state != 'quarantined':
                    continue
                content = email_._autolead_content()
                email_.result = email_._autolead_dispatch(
                    content, trusted=True)
                email_.autolead_state = 'accepted'
            cls.save(emails)

    @classmethod
    def autolead_route(cls, email_, rule):
        """Put a reply into its ticket or enquiry thread; otherwise open a
        ticket for a known customer or an enquiry for anyone else."""
        try:
            content = email_._autolead_content()
        except Refused as refusal:
            return email_._autolead_refuse(str(refusal))
        email_.autolead_sender = content['sender']
        email_.autolead_subject = content['subject'][:200]
        result = email_._autolead_dispatch(content)
        if getattr(email_, 'autolead_state', None) != 'quarantined':
            email_.autolead_state = 'threaded'
        return result

    def _autolead_raw(self):
        "The raw message, None for providers posting it already parsed"
        if self.data_type == 'raw':
            return self.data
        elif self.data_type in {'mailchimp', 'mailpace', 'sendgrid'}:
            payload = json.loads(self.data)
            return {
                'mailchimp': lambda: payload['raw_msg'],
                'mailpace': lambda: payload['raw'],
                'sendgrid': lambda: payload['email'],
                }[self.data_type]()
        return None

    def _autolead_content(self):
        """The sender, subject, text and attachments of the email, decoded;
        raise Refused for a message that cannot be read"""
        raw = self._autolead_raw()
        if raw is None:
            data = self.as_dict()
            text = (data.get('text') or '').strip() or mail.html_to_text(
                data.get('html') or '')
            return _content(
                data.get('from') or '', _display_name(
                    data.get('headers', {}).get('From', '')),
                data.get('subject') or '', text,
                [(a.get('filename') or 'attachment', a['data'])
                    for a in data.get('attachments', []) if a.get('data')],
                data.get('headers', {}), raw=self.data)
        if isinstance(raw, str):
            raw = raw.encode('utf-8', 'surrogateescape')
        raw = bytes(raw)
        if b'\x00' in raw:
            raise Refused(gettext('autolead.msg_inbound_nul'))
        try:
            message = email.message_from_bytes(raw, policy=default_policy)
            defects = [d for part in message.walk() for d in part.defects]
            if any(isinstance(d, STRUCTURAL_DEFECTS) for d in defects):
                raise Refused(gettext(
                        'autolead.msg_inbound_malformed',
                        defect=type(defects[0]).__name__))
            senders = getaddresses(message.get_all('From', []))
            sender = senders[0][1].strip() if senders else ''
            if not sender or '@' not in sender:
                raise Refused(gettext('autolead.msg_inbound_no_sender'))
            name = _display_name(str(message.get('From', '')))
            subject = str(message.get('Subject', '') or '')
            text = _message_text(message)
            attachments = list(_message_attachments(message))
            headers = {k: str(v) for k, v in message.items()}
            headers['Authentication-Results'] = ' '.join(
                str(v) for v in message.get_all('Authentication-Results', []))
        except Refused:
            raise
        except Exception as exception:
            raise Refused(gettext(
                    'autolead.msg_inbound_malformed',
                    defect=type(exception).__name__))
        return _content(
            sender, name, subject, text, attachments, headers, raw=raw)

    def _autolead_refuse(self, reason):
        """Keep the raw email for the administrator and answer the webhook
        with a refusal naming the reason"""
        Email = self.__class__
        self.autolead_state = 'refused'
        self.autolead_reason = reason
        if self.id is not None and self.id >= 0:
            # processed again from the desk: it stays on record as refused
            return None
        transaction = Transaction()
        with transaction.new_transaction() as keeping:
            kept, = Email.create([{
                        'inbox': self.inbox.id,
                        'data': self.data,
                        'data_type': self.data_type,
                        'autolead_state': 'refused',
                        'autolead_reason': reason,
                        }])
            kept_id = kept.id
            keeping.commit()
        abort(HTTPStatus.BAD_REQUEST, gettext(
                'autolead.msg_inbound_refused', reason=reason, id=kept_id))

    def _autolead_quarantine(self, content, reason, thread=None):
        self.autolead_state = 'quarantined'
        self.autolead_reason = reason
        self.autolead_thread = thread
        return None

    def _autolead_dispatch(self, content, trusted=False):
        "Thread, open or quarantine the email; return the record it made"
        Email = self.__class__
        sender = content['sender']
        failed = content['authentication_failed']
        for number in mail.ticket_numbers(content['subject']):
            thread = (_ticket(number) or _enquiry(number))
            if not thread:
                continue
            if not trusted:
                if failed:
                    return self._autolead_quarantine(
                        content, gettext(
                            'autolead.msg_inbound_unauthenticated',
                            method=failed), thread)
                if not _is_party_to(thread, sender):
                    return self._autolead_quarantine(
                        content, gettext(
                            'autolead.msg_inbound_not_party',
                            sender=sender, thread=thread.rec_name), thread)
            if thread.__name__ == 'autolead.ticket':
                result = Email._autolead_ticket_reply(thread, content)
            else:
                result = Email._autolead_enquiry_reply(thread, content)
            self._autolead_notice(content, thread)
            return result
        if failed and not trusted:
            return self._autolead_quarantine(
                content, gettext(
                    'autolead.msg_inbound_unauthenticated', method=failed))
        party, web_user = Email._autolead_customer(sender)
        if party:
            result = Email._autolead_new_ticket(party, web_user, content)
        else:
            result = Email._autolead_new_enquiry(content)
        self._autolead_notice(content, result)
        return result

    def _autolead_notice(self, content, thread):
        """Tell the sender, through the outbox, which attachments were not
        kept"""
        if not content['dropped']:
            return
        body = gettext(
            'autolead.msg_inbound_dropped_body',
            subject=content['subject'],
            files=_dropped_lines(content['dropped']))
        mail.post(
            f"inbound-dropped-{content['digest']}", [content['sender']],
            gettext('autolead.msg_inbound_dropped_subject',
                subject=content['subject']),
            body, origin=thread, thread=thread)

    @classmethod
    def _autolead_customer(cls, address):
        pool = Pool()
        WebUser = pool.get('web.user')
        ContactMechanism = pool.get('party.contact_mechanism')
        if not address:
            return None, None
        value = escape_wildcard(address)
        web_users = WebUser.search([
                ('email', 'ilike', value),
                ('party', '!=', None),
                ], limit=1)
        if web_users:
            web_user, = web_users
            return web_user.party, web_user
        mechanisms = ContactMechanism.search([
                ('type', '=', 'email'),
                ('value', 'ilike', value),
                ], limit=1)
        if mechanisms:
            return mechanisms[0].party, None
        return None, None

    @classmethod
    def _autolead_ticket_reply(cls, ticket, content):
        pool = Pool()
        Ticket = pool.get('autolead.ticket')
        Message = pool.get('autolead.ticket.message')
        sender = content['sender']
        if not content['body']:
            return None
        values = {'ticket': ticket.id, 'body': content['body']}
        agent = ticket.accepted_by
        if agent and agent.email and agent.email.lower() == sender.lower():
            values['author_user'] = agent.id
        else:
            party, web_user = cls._autolead_customer(sender)
            if party != ticket.customer:
                web_user = None
            if ticket.state == 'resolved':
                Ticket.reopen([ticket])
            if not ticket.customer_can_write():
                # The email stays on record; an agent reads it there
                return ticket
            values.update({
                    'author_user': None,
                    'author_web_user': web_user.id if web_user else None,
                    'author_email': sender,
                    })
        message, = Message.create([values])
        _attach(message, content['attachments'])
        return message

    @classmethod
    def _autolead_enquiry_reply(cls, enquiry, content):
        Message = Pool().get('autolead.enquiry.message')
        if not content['body']:
            return None
        message, = Message.create([{
                    'enquiry': enquiry.id,
                    'direction': 'incoming',
                    'author_user': None,
                    'body': content['body'],
                    }])
        _attach(message, content['attachments'])
        return message

    @classmethod
    def _autolead_new_ticket(cls, party, web_user, content):
        Ticket = Pool().get('autolead.ticket')
        body = content['body']
        ticket, = Ticket.create([{
                    'customer': party.id,
                    'web_user': web_user.id if web_user else None,
                    'subject': content['subject'] or body[:80] or '-',
                    'description': body,
                    }])
        _attach(ticket, content['attachments'])
        return ticket

    @classmethod
    def _autolead_new_enquiry(cls, content):
        Enquiry = Pool().get('autolead.enquiry')
        body = content['body']
        enquiry, = Enquiry.create([{
                    'name': content['name'],
                    'email': content['sender'] or None,
                    'subject': content['subject'] or body[:80] or '-',
                    'message': body,
                    'source': 'email',
                    }])
        _attach(enquiry, content['attachments'])
        return enquiry


def _content(sender, name, subject, text, attachments, headers, raw=None):
    """The parts of an email the helpdesk uses; the attachments beyond the
    portal's limits are dropped, with a line saying so in the body"""
    limit = upload_limit()
    kept, dropped = [], []
    # encoded words and decoded parts may still hold NUL, which no text
    # column takes
    subject, name, sender = (
        (v or '').replace('\x00', '') for v in (subject, name, sender))
    attachments = [
        ((n or 'attachment').replace('\x00', ''), d) for n, d in attachments]
    for filename, data in attachments:
        if len(data) > limit or len(kept) >= MAX_FILES:
            dropped.append((filename, len(data)))
        else:
            kept.append((filename, data))
    body = (text or '').replace('\x00', '').strip()
    if dropped:
        body = '\n\n'.join(filter(None, [body, gettext(
                        'autolead.msg_inbound_dropped_note',
                        files=_dropped_lines(dropped))]))
    results = ' '.join(
        v for k, v in headers.items()
        if k.lower() == 'authentication-results')
    failed = AUTHENTICATION_FAILED.search(results)
    if isinstance(raw, str):
        raw = raw.encode('utf-8', 'surrogateescape')
    return {
        'sender': (sender or '').strip(),
        'name': name or (sender or '').split('@')[0] or sender,
        'subject': ' '.join((subject or '').split()),
        'body': body,
        'attachments': kept,
        'dropped': dropped,
        'headers': headers,
        'authentication_failed': (
            failed.group('method').upper() if failed else None),
        'digest': hashlib.sha256(raw or body.encode()).hexdigest()[:32],
        }


def _dropped_lines(dropped):
    limit = upload_limit() / (1024 * 1024)
    return '\n'.join(gettext(
            'autolead.msg_inbound_dropped_line', name=name,
            size=f'{size / (1024 * 1024):.1f}', limit=f'{limit:g}',
            count=MAX_FILES)
        for name, size in dropped)


def _part_text(part):
    "The decoded text of part, whatever its transfer encoding and charset"
    try:
        return part.get_content()
    except (LookupError, UnicodeError, AssertionError, KeyError):
        payload = part.get_payload(decode=True) or b''
        return payload.decode('utf-8', errors='replace')


def _message_text(message):
    "The plain text of message, else its HTML turned into text"
    body = message.get_body(preferencelist=('plain', 'html'))
    if body is None:
        return ''
    text = _part_text(body)
    if body.get_content_subtype() == 'html':
        text = mail.html_to_text(text)
    return text


def _message_attachments(message):
    body = message.get_body(preferencelist=('plain', 'html'))
    for part in message.walk():
        if part.is_multipart() or part is body:
            continue
        filename = part.get_filename()
        if (part.get_content_disposition() != 'attachment'
                and not filename):
            continue
        data = part.get_payload(decode=True)
        if data:
            yield filename or 'attachment', data


def _display_name(header):
    for name, address in getaddresses([header or '']):
        if name:
            return name
    return None


def _ticket(number):
    Ticket = Pool().get('autolead.ticket')
    tickets = Ticket.search([('number', '=', number)], limit=1)
    return tickets[0] if tickets else None


def _enquiry(number):
    Enquiry = Pool().get('autolead.enquiry')
    if not number.startswith(mail.ENQUIRY_PREFIX):
        return None
    try:
        enquiry_id = int(number[len(mail.ENQUIRY_PREFIX):])
    except ValueError:
        return None
    enquiries = Enquiry.search([('id', '=', enquiry_id)], limit=1)
    return enquiries[0] if enquiries else None


def _is_party_to(thread, sender):
    "Whether sender is the customer (or the agent) of the thread"
    sender = (sender or '').lower()
    if thread.__name__ == 'autolead.enquiry':
        return bool(thread.email) and thread.email.lower() == sender
    agent = thread.accepted_by
    if agent and agent.email and agent.email.lower() == sender:
        return True
    addresses = {thread.customer_email}
    if thread.customer:
        addresses.update(
            m.value for m in thread.customer.contact_mechanisms
            if m.type == 'email')
    return sender in {a.lower() for a in addresses if a}


def _attach(record, attachments):
    Attachment = Pool().get('ir.attachment')
    if attachments:
        Attachment.create([{
                    'name': name,
                    'data': data,
                    'resource': str(record),
                    } for name, data in attachments])
