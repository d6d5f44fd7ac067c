"""Helpdesk emails: composed here and posted to the outbox
(`autolead.automation.message`), which sends them after commit"""
import re
from email.utils import formataddr, make_msgid, parseaddr
from html.parser import HTMLParser

from trytond.config import config
from trytond.pool import Pool

TICKET_TAG = re.compile(r'\[(?P<number>[A-Z]+\d+)\]')
ENQUIRY_PREFIX = 'ENQ'


def support_address():
    "The bare address helpdesk emails come from"
    Configuration = Pool().get('autolead.configuration')
    address = (Configuration(1).support_email
        or config.get('email', 'from'))
    return parseaddr(address)[1] or address


def thread_id(record):
    """The Message-ID every email about record refers to, so that mail
    clients show them as one conversation"""
    domain = support_address().rpartition('@')[2] or 'autolead'
    return f'<{record.__name__}.{record.id}@{domain}>'


def post(key, to, subject, body, origin, sender_name=None, thread=None):
    """Post a plain-text helpdesk email to the addresses in `to` to the
    outbox and return the outbox message, None without a recipient.

    thread is the record the email belongs to (a ticket, an enquiry): the
    email answers its conversation."""
    Message = Pool().get('autolead.automation.message')
    to = [a for a in to if a]
    if not to:
        return None
    from_addr = support_address()
    values = {
        'key': key,
        'channel': 'email',
        'origin': str(origin),
        'sender': (formataddr((sender_name, from_addr)) if sender_name
            else from_addr),
        'reply_to': from_addr,
        'to': ', '.join(to),
        'subject': subject,
        'body': body or '',
        'message_id': make_msgid(
            domain=from_addr.rpartition('@')[2] or None),
        }
    if thread is not None:
        values['in_reply_to'] = values['references'] = thread_id(thread)
    messages = Message.post([values])
    return messages[0] if messages else None


def ticket_numbers(subject):
    "The ticket numbers tagged like [TCK0001] in a subject"
    return [m.group('number') for m in TICKET_TAG.finditer(subject or '')]


def enquiry_tag(enquiry):
    return f'[{ENQUIRY_PREFIX}{enquiry.id}]'


class _TextParser(HTMLParser):
    BLOCKS = {
        'p', 'div', 'br', 'tr', 'li', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6',
        'blockquote', 'pre', 'table', 'hr', 'ul', 'ol'}
    SKIP = {'script', 'style', 'head', 'title'}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []
        self.skip = 0
        self.links = []

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skip += 1
        elif tag in self.BLOCKS:
            self.parts.append('\n')
        if tag == 'a':
            self.links.append(dict(attrs).get('href'))
            self.link_start = len(self.parts)

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self.skip = max(self.skip - 1, 0)
        elif tag in self.BLOCKS:
            self.parts.append('\n')
        elif tag == 'a' and self.links:
            href = self.links.pop()
            text = ''.join(self.parts[self.link_start:]).strip()
            if href and not href.startswith('#') and href != text:
                self.parts.append(f' <{href}>')

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(re.sub(r'\s+', ' ', data))


def html_to_text(html):
    "The readable text of html, its links kept, without any library"
    parser = _TextParser()
    parser.feed(html or '')
    parser.close()
    lines = [line.strip() for line in ''.join(parser.parts).split('\n')]
    return re.sub(r'\n{3,}', '\n\n', '\n'.join(lines)).strip()
