from email.utils import getaddresses

from trytond.pool import Pool, PoolMeta
from trytond.tools import escape_wildcard

from . import mail


class Rule(metaclass=PoolMeta):
    __name__ = 'inbound.email.rule'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.action.selection.append(
            ('inbound.email|autolead_route', "Auto Lead Helpdesk"))


class Email(metaclass=PoolMeta):
    __name__ = 'inbound.email'

    @classmethod
    def autolead_route(cls, email_, rule):
        """Put a reply into its ticket or enquiry thread; otherwise open a
        ticket for a known customer or an enquiry for anyone else."""
        data = email_.as_dict()
        sender = (data.get('from') or '').strip()
        subject = (data.get('subject') or '').strip()
        body = (data.get('text') or data.get('html') or '').strip()
        attachments = [
            (a.get('filename') or 'attachment', a['data'])
            for a in data.get('attachments', []) if a.get('data')]
        for number in mail.ticket_numbers(subject):
            result = (cls._autolead_ticket_reply(
                    number, sender, body, attachments)
                or cls._autolead_enquiry_reply(number, sender, body))
            if result:
                return result
        party, web_user = cls._autolead_customer(sender)
        if party:
            return cls._autolead_new_ticket(
                party, web_user, subject, body, attachments)
        name = _display_name(data, sender)
        return cls._autolead_new_enquiry(name, sender, subject, body)

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
    def _autolead_ticket_reply(cls, number, sender, body, attachments):
        pool = Pool()
        Ticket = pool.get('autolead.ticket')
        Message = pool.get('autolead.ticket.message')
        Attachment = pool.get('ir.attachment')
        tickets = Ticket.search([('number', '=', number)], limit=1)
        if not tickets or not body:
            return None
        ticket, = tickets
        values = {'ticket': ticket.id, 'body': body}
        agent = ticket.accepted_by
        if agent and agent.email and agent.email.lower() == sender.lower():
            values['author_user'] = agent.id
        else:
            party, web_user = cls._autolead_customer(sender)
            if party != ticket.customer:
                return None
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
        if attachments:
            Attachment.create([{
                        'name': name,
                        'data': data,
                        'resource': str(message),
                        } for name, data in attachments])
        return message

    @classmethod
    def _autolead_enquiry_reply(cls, number, sender, body):
        pool = Pool()
        Enquiry = pool.get('autolead.enquiry')
        Message = pool.get('autolead.enquiry.message')
        if not number.startswith(mail.ENQUIRY_PREFIX) or not body:
            return None
        try:
            enquiry = Enquiry(int(number[len(mail.ENQUIRY_PREFIX):]))
            email = enquiry.email
        except (ValueError, IndexError):
            return None
        if not email or email.lower() != sender.lower():
            return None
        message, = Message.create([{
                    'enquiry': enquiry.id,
                    'direction': 'incoming',
                    'author_user': None,
                    'body': body,
                    }])
        return message

    @classmethod
    def _autolead_new_ticket(cls, party, web_user, subject, body,
            attachments):
        pool = Pool()
        Ticket = pool.get('autolead.ticket')
        Attachment = pool.get('ir.attachment')
        ticket, = Ticket.create([{
                    'customer': party.id,
                    'web_user': web_user.id if web_user else None,
                    'subject': subject or body[:80] or '-',
                    'description': body,
                    }])
        if attachments:
            Attachment.create([{
                        'name': name,
                        'data': data,
                        'resource': str(ticket),
                        } for name, data in attachments])
        return ticket

    @classmethod
    def _autolead_new_enquiry(cls, name, sender, subject, body):
        Enquiry = Pool().get('autolead.enquiry')
        enquiry, = Enquiry.create([{
                    'name': name,
                    'email': sender or None,
                    'subject': subject or body[:80] or '-',
                    'message': body,
                    'source': 'email',
                    }])
        return enquiry


def _display_name(data, sender):
    header = data.get('headers', {}).get('From', '')
    for name, address in getaddresses([header]):
        if name:
            return name
    return sender.split('@')[0] or sender
