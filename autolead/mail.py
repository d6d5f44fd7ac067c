"Helpdesk emails: composed here, sent when the transaction commits"
import re
from email.message import EmailMessage
from email.utils import formataddr, parseaddr

from trytond.config import config
from trytond.pool import Pool
from trytond.sendmail import send_message_transactional

TICKET_TAG = re.compile(r'\[(?P<number>[A-Z]+\d+)\]')


def support_address():
    "The bare address helpdesk emails come from"
    Configuration = Pool().get('autolead.configuration')
    address = (Configuration(1).support_email
        or config.get('email', 'from'))
    return parseaddr(address)[1] or address


def send(to, subject, body, sender_name=None):
    "Send a plain-text email to the addresses in `to` after commit"
    to = [a for a in to if a]
    if not to:
        return None
    from_addr = support_address()
    msg = EmailMessage()
    msg['From'] = formataddr((sender_name, from_addr)) if sender_name \
        else from_addr
    msg['To'] = ', '.join(to)
    msg['Reply-To'] = from_addr
    msg['Subject'] = subject
    msg.set_content(body or '')
    send_message_transactional(msg, from_addr, to)
    return msg


def ticket_numbers(subject):
    "The ticket numbers tagged like [TCK0001] in a subject"
    return [m.group('number') for m in TICKET_TAG.finditer(subject or '')]

ENQUIRY_PREFIX = 'ENQ'


def enquiry_tag(enquiry):
    return f'[{ENQUIRY_PREFIX}{enquiry.id}]'
