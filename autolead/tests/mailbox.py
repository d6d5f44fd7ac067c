"""A real SMTP server on the loopback interface that keeps what it receives.

    >>> mailbox = Mailbox.start()   # also points trytond's email uri at it
    >>> mailbox.messages            # email.message.EmailMessage objects
    >>> mailbox.stop()
"""
import email
import socket
from email.policy import default as default_policy

from aiosmtpd.controller import Controller

from trytond.config import config


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class Mailbox:
    def __init__(self):
        self.messages = []
        self.controller = None
        self._uri = None

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(
            envelope.content, policy=default_policy)
        message.envelope_to = list(envelope.rcpt_tos)
        self.messages.append(message)
        return '250 Message accepted for delivery'

    @classmethod
    def start(cls, sender='support@autolead.example'):
        mailbox = cls()
        port = free_port()
        mailbox.controller = Controller(
            mailbox, hostname='127.0.0.1', port=port)
        mailbox.controller.start()
        mailbox._uri = config.get('email', 'uri', default=None)
        config.set('email', 'uri', f'smtp://127.0.0.1:{port}')
        config.set('email', 'from', sender)
        return mailbox

    def stop(self):
        self.controller.stop()
        if self._uri is not None:
            config.set('email', 'uri', self._uri)

    def pop(self):
        "Return the messages received so far and forget them"
        messages, self.messages = self.messages, []
        return messages

    def to(self, address):
        return [m for m in self.messages if address in m.envelope_to]
