"""A real SMTP server for the tests, which can be stopped and started on the
same port to simulate an outage."""
import socket
from email import message_from_bytes
from email.policy import default

from aiosmtpd.controller import Controller


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class _Handler:
    def __init__(self, server):
        self.server = server

    async def handle_DATA(self, smtp, session, envelope):
        message = message_from_bytes(envelope.content, policy=default)
        self.server.messages.append({
                'from': envelope.mail_from,
                'to': list(envelope.rcpt_tos),
                'subject': message['Subject'],
                'headers': dict(message.items()),
                'body': message.get_body(('plain',)).get_content().replace(
                    '\r\n', '\n'),
                'attachments': [
                    (part.get_filename(), part.get_content())
                    for part in message.iter_attachments()],
                })
        return '250 Message accepted for delivery'


class SMTPServer:
    def __init__(self, port=None):
        self.port = port or free_port()
        self.messages = []
        self._controller = None

    @property
    def uri(self):
        return f'smtp://127.0.0.1:{self.port}'

    def start(self):
        self._controller = Controller(
            _Handler(self), hostname='127.0.0.1', port=self.port)
        self._controller.start()

    def stop(self):
        if self._controller:
            self._controller.stop()
            self._controller = None

    def recipients(self):
        return sorted(a for m in self.messages for a in m['to'])

    def clear(self):
        self.messages.clear()
