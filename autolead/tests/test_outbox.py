"""Every outgoing message goes through the outbox: the request only posts
it, the sender delivers it once, with a timeout, retrying with back-off.

These tests commit, as the desk and the sender do: they run on data of
their own, with a real SMTP server (and a server that never answers)."""
import base64
import datetime as dt
import json
import socket
import threading
import time

import trytond.config as config
from trytond.model.exceptions import AccessError
from trytond.modules.autolead.tests.smtp_server import SMTPServer
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction
from trytond.worker import run_task

from .route import DataRouteTestCase


def configure(test, section, option, value):
    "Set the option of the server configuration for the test only"
    parser = config._config
    if not parser.has_section(section):
        parser.add_section(section)
    old = config.get(section, option)
    config.set(section, option, value)
    if old is None:
        test.addCleanup(parser.remove_option, section, option)
    else:
        test.addCleanup(config.set, section, option, old)


class SilentServer:
    "A server that accepts connections and never answers, like a hung MTA"

    def __init__(self):
        self.socket = socket.socket()
        self.socket.bind(('127.0.0.1', 0))
        self.socket.listen(16)
        self.connections = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def uri(self):
        return f'smtp://127.0.0.1:{self.socket.getsockname()[1]}'

    def _accept(self):
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.connections.append(connection)

    def stop(self):
        self.socket.close()
        for connection in self.connections:
            connection.close()


def in_transaction(func, *args, user=0, context=None):
    "Run func in a committed transaction, as a request or the cron does"
    with Transaction().start(
            DB_NAME, user, context=context) as transaction:
        result = func(*args)
        transaction.commit()
    return result


def send_pending(now=None):
    "Run the cron of the outbox"
    def run():
        Pool().get('autolead.automation.message').send_pending(now)
    in_transaction(run)


def run_queue():
    "Run the tasks the requests queued, as trytond-worker does"
    def pending():
        Queue = Pool().get('ir.queue')
        return [q.id for q in Queue.search(
                [('finished_at', '=', None)], order=[('id', 'ASC')])]
    for task_id in in_transaction(pending):
        run_task(DB_NAME, task_id)


def outbox(key):
    "The outbox message of key, as a dict"
    def read():
        Message = Pool().get('autolead.automation.message')
        message, = Message.search([('key', '=', key)])
        email = message.email
        return {
            'state': message.state,
            'attempts': message.attempts,
            'error': message.error,
            'next_attempt': message.next_attempt,
            'message_id': message.message_id,
            'to': message.to,
            'body': message.body,
            'body_html': message.body_html,
            'email': email and {
                'message_id': email.message_id,
                'resource': str(email.resource),
                'recipients': email.recipients,
                },
            }
    return in_transaction(read)


class OutboxTestCase(DataRouteTestCase):
    "Test the outbox under mail server outages"

    @classmethod
    def setUpData(cls):
        pool = Pool()
        User = pool.get('res.user')
        Party = pool.get('party.party')
        WebUser = pool.get('web.user')
        Ticket = pool.get('autolead.ticket')
        ModelData = pool.get('ir.model.data')
        Configuration = pool.get('autolead.configuration')
        Rule = pool.get('autolead.notification.rule')
        # only the emails of the tests here, not those of the rules
        Rule.write(Rule.search([]), {'active': False})
        configuration = Configuration(1)
        configuration.support_email = 'support@autolead.example'
        configuration.save()
        agent, = User.create([{
                    'login': 'kavya',
                    'name': "Kavya Reddy",
                    'password': 'kavya-password-1234',
                    'email': 'kavya@autolead.example',
                    'groups': [('add', [
                                ModelData.get_id('autolead', 'group_support'),
                                ])],
                    }])
        party, = Party.create([{'name': "Priya Verma"}])
        web_user, = WebUser.create([{
                    'email': 'priya@customer.example', 'party': party.id}])
        ticket, = Ticket.create([{
                    'customer': party.id, 'web_user': web_user.id,
                    'subject': "Printer jammed"}])
        with Transaction().set_user(agent.id):
            Ticket.accept([ticket])
        Enquiry = pool.get('autolead.enquiry')
        enquiry, = Enquiry.create([{
                    'name': "Sam Thomas", 'email': 'sam@orbit.example',
                    'subject': "Do you ship to Pune?", 'source': 'email'}])
        with Transaction().set_user(agent.id):
            Enquiry.accept([enquiry])
        cls.enquiry_id = enquiry.id
        cls.agent_id = agent.id
        cls.ticket_id = ticket.id
        cls.ticket_number = ticket.number
        cls.web_user_id = web_user.id

    def setUp(self):
        super().setUp()
        self.smtp = SMTPServer()
        self.addCleanup(self.smtp.stop)
        configure(self, 'email', 'uri', self.smtp.uri)
        configure(self, 'email', 'from', 'desk@autolead.example')
        configure(self, 'email', 'retry', '0')
        configure(self, 'autolead', 'smtp_timeout', '1')
        # as the launcher: a worker runs the queue, not the request
        configure(self, 'queue', 'worker', 'True')
        run_queue()

    def rpc(self, login, password):
        "Call the desk's JSON-RPC as login, returning (result, seconds)"
        client = self.client()
        url = f'/{self.db_name}/rpc/'

        def call(method, *params, headers=None):
            started = time.monotonic()
            response = client.post(url, headers=headers, data=json.dumps({
                        'id': 1, 'method': method, 'params': params}),
                content_type='application/json')
            answer = json.loads(response.data)
            self.assertNotIn('error', answer, answer.get('error'))
            return answer['result'], time.monotonic() - started
        result, _ = call(
            'common.db.login', login, {'password': password}, 'en')
        user_id, session = result[:2]
        headers = {'Authorization': 'Session ' + base64.b64encode(
                f'{login}:{user_id}:{session}'.encode()).decode()}
        return lambda method, *params: call(method, *params, headers=headers)

    def reply(self, body):
        "The agent replies to the customer in the desk; returns the seconds"
        call = self.rpc('kavya', 'kavya-password-1234')
        (message_id,), seconds = call(
            'model.autolead.ticket.message.create',
            [{'ticket': self.ticket_id, 'body': body}], {})
        return f'ticket-message-{message_id}', seconds

    def test_smtp_down(self):
        "SMTP down: the reply is saved at once and goes out once when back"
        key, seconds = self.reply("Please update the driver.")
        self.assertLess(seconds, 3)
        self.assertEqual(outbox(key)['state'], 'pending')

        # the queued sender meets the outage: the message waits
        run_queue()
        message = outbox(key)
        self.assertEqual(
            (message['state'], message['attempts']), ('pending', 1))
        self.assertIn('refused', message['error'].lower())
        self.assertGreater(message['next_attempt'], dt.datetime.now())
        self.assertEqual(self.smtp.messages, [])

        # back up: not before the back-off delay, then exactly once
        self.smtp.start()
        send_pending()
        self.assertEqual(self.smtp.messages, [])
        later = dt.datetime.now() + dt.timedelta(minutes=2)
        send_pending(later)
        send_pending(later)
        run_queue()
        self.assertEqual(len(self.smtp.messages), 1)
        sent, = self.smtp.messages
        self.assertEqual(sent['to'], ['priya@customer.example'])
        self.assertEqual(
            sent['subject'], f'[{self.ticket_number}] Printer jammed')
        self.assertEqual(sent['body'].strip(), "Please update the driver.")
        headers = sent['headers']
        thread = f'<autolead.ticket.{self.ticket_id}@autolead.example>'
        self.assertEqual(headers['In-Reply-To'], thread)
        self.assertEqual(headers['References'], thread)
        self.assertEqual(headers['Reply-To'], 'support@autolead.example')
        self.assertEqual(
            headers['From'], 'Kavya Reddy <support@autolead.example>')
        message = outbox(key)
        self.assertEqual(
            (message['state'], message['attempts']), ('sent', 2))
        self.assertEqual(headers['Message-ID'], message['message_id'])
        # the framework's record of sent mail, shown on the ticket
        self.assertEqual(message['email'], {
                'message_id': message['message_id'],
                'resource': f'autolead.ticket,{self.ticket_id}',
                'recipients': 'priya@customer.example',
                })

    def test_smtp_hangs(self):
        "A server that never answers holds neither the desk nor the sender"
        silent = SilentServer()
        self.addCleanup(silent.stop)
        configure(self, 'email', 'uri', silent.uri)

        key, seconds = self.reply("Any news?")
        self.assertLess(seconds, 3)

        started = time.monotonic()
        run_queue()
        self.assertLess(time.monotonic() - started, 10)
        message = outbox(key)
        self.assertEqual(
            (message['state'], message['attempts']), ('pending', 1))
        self.assertIn('timed out', message['error'])

        # the retry goes to a server that answers: one email, no duplicate
        self.smtp.start()
        configure(self, 'email', 'uri', self.smtp.uri)
        later = dt.datetime.now() + dt.timedelta(minutes=2)
        send_pending(later)
        send_pending(later + dt.timedelta(hours=1))
        self.assertEqual(len(self.smtp.messages), 1)
        self.assertEqual(outbox(key)['state'], 'sent')

    def test_failed_then_resent_by_administrator(self):
        """After the last attempt the message is failed; the administrator
        resends it, a support agent may not"""
        configure(self, 'autolead', 'outbox_attempts', '2')
        key, _ = self.reply("Your replacement is on its way.")
        run_queue()
        send_pending(dt.datetime.now() + dt.timedelta(hours=1))
        message = outbox(key)
        self.assertEqual(
            (message['state'], message['attempts']), ('failed', 2))
        send_pending(dt.datetime.now() + dt.timedelta(days=1))
        self.assertEqual(outbox(key)['attempts'], 2)

        def resend(user_login):
            pool = Pool()
            Message = pool.get('autolead.automation.message')
            User = pool.get('res.user')
            user, = User.search([('login', '=', user_login)])
            with Transaction().set_user(user.id), \
                    Transaction().set_context(_check_access=True):
                messages = Message.search([('key', '=', key)])
                Message.resend(messages)
        with self.assertRaises(AccessError):
            in_transaction(resend, 'kavya')
        self.assertEqual(outbox(key)['state'], 'failed')

        self.smtp.start()
        in_transaction(resend, 'admin')
        run_queue()
        self.assertEqual(outbox(key)['state'], 'sent')
        self.assertEqual(len(self.smtp.messages), 1)

    def test_interrupted_sending_is_not_repeated(self):
        """A sender that died between sending and recording leaves the
        message for the administrator instead of sending it twice"""
        self.smtp.start()
        key, _ = self.reply("Fixed on our side.")

        def crash():
            Message = Pool().get('autolead.automation.message')
            message, = Message.search([('key', '=', key)])
            Message.write([message], {
                    'state': 'sending', 'attempts': 1,
                    'attempted_at': dt.datetime.now()})
        in_transaction(crash)
        run_queue()
        send_pending()
        self.assertEqual(outbox(key)['state'], 'sending')

        send_pending(dt.datetime.now() + dt.timedelta(hours=1))
        message = outbox(key)
        self.assertEqual(message['state'], 'failed')
        self.assertIn('may or may not', message['error'])
        self.assertEqual(self.smtp.messages, [])

    def test_portal_account_emails(self):
        """Password reset (and so the invitation) and address validation of
        a customer account wait in the outbox during an outage"""
        def ask():
            WebUser = Pool().get('web.user')
            web_user = WebUser(self.web_user_id)
            WebUser.write([web_user], {'reset_password_token_expire': None})
            WebUser.reset_password([web_user])
            WebUser.validate_email([web_user])
            return web_user.reset_password_token, web_user.email_token
        reset_token, validation_token = in_transaction(ask, context={
                'autolead_portal_reset_url': 'https://desk.example/reset',
                'autolead_portal_validation_url':
                'https://desk.example/validate',
                })
        run_queue()
        reset_key = (
            f'web-user-{self.web_user_id}-reset-password-{reset_token}')
        validation_key = (
            f'web-user-{self.web_user_id}-validation-{validation_token}')
        for key in [reset_key, validation_key]:
            message = outbox(key)
            self.assertEqual(
                (message['state'], message['to']),
                ('pending', 'priya@customer.example'))

        self.smtp.start()
        send_pending(dt.datetime.now() + dt.timedelta(minutes=2))
        self.assertEqual(len(self.smtp.messages), 2)
        reset = outbox(reset_key)
        self.assertEqual(reset['state'], 'sent')
        self.assertIn(f'token={reset_token}', reset['body'])
        self.assertIn('https://desk.example/reset', reset['body_html'])
        self.assertEqual(
            reset['email']['resource'], f'web.user,{self.web_user_id}')
        bodies = '\n'.join(m['body'] for m in self.smtp.messages)
        self.assertIn(f'token={validation_token}', bodies)

    def test_enquiry_reply(self):
        "An enquiry reply goes through the outbox, threaded and recorded"
        self.smtp.start()

        def reply():
            Enquiry = Pool().get('autolead.enquiry')
            enquiry = Enquiry(self.enquiry_id)
            message = enquiry.send_reply(
                "Re: Do you ship to Pune? [ENQ%s]" % enquiry.id,
                "Yes, in 3 days.")
            return f'enquiry-message-{message.id}'
        key = in_transaction(reply, user=self.agent_id)
        self.assertEqual(self.smtp.messages, [])
        run_queue()
        run_queue()

        sent, = self.smtp.messages
        self.assertEqual(sent['to'], ['sam@orbit.example'])
        self.assertEqual(sent['headers']['In-Reply-To'],
            f'<autolead.enquiry.{self.enquiry_id}@autolead.example>')
        message = outbox(key)
        self.assertEqual(message['state'], 'sent')
        self.assertEqual(
            message['email']['resource'],
            f'autolead.enquiry,{self.enquiry_id}')
