"Emails posted to the inbound_email route land in the helpdesk"
import uuid
from email.message import EmailMessage
from email.mime.text import MIMEText

from trytond.model.exceptions import AccessError

from trytond.pool import Pool
from trytond.protocols.wrappers import HTTPStatus
from trytond.tests.test_tryton import (
    DB_NAME, RouteTestCase, with_transaction)
from trytond.transaction import Transaction

from .mailbox import Mailbox


def make_email(sender, subject, body, attachment=None):
    message = EmailMessage()
    message['From'] = sender
    message['To'] = 'Auto Lead Support <support@autolead.example>'
    message['Subject'] = subject
    message.set_content(body)
    if attachment:
        name, data = attachment
        message.add_attachment(
            data, maintype='application', subtype='octet-stream',
            filename=name)
    return message.as_bytes()


def create_support_inbox(identifier):
    "The inbox whose mail to support@ Auto Lead routes"
    Inbox = Pool().get('inbound.email.inbox')
    Inbox.create([{
                'name': "Support",
                'identifier': identifier,
                'rules': [('create', [{
                                'destination': 'support@',
                                'action': 'inbound.email|autolead_route',
                                }])],
                }])


class HelpdeskInboundTestCase(RouteTestCase):
    "Test inbound email routing into tickets and enquiries"
    module = 'autolead'
    identifier = uuid.uuid4().hex

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        User = pool.get('res.user')
        Party = pool.get('party.party')
        WebUser = pool.get('web.user')
        ModelData = pool.get('ir.model.data')

        create_support_inbox(cls.identifier)
        User.create([{
                    'login': 'kavya',
                    'name': "Kavya Reddy",
                    'email': 'kavya@autolead.example',
                    'groups': [('add', [
                                ModelData.get_id('autolead', 'group_support')])],
                    }])
        party, = Party.create([{
                    'name': "Priya Verma",
                    'contact_mechanisms': [('create', [{
                                    'type': 'email',
                                    'value': 'priya@customer.example'}])],
                    }])
        WebUser.create([{
                    'email': 'priya@customer.example', 'party': party.id}])

    def setUp(self):
        super().setUp()
        self.mailbox = Mailbox.start()
        self.addCleanup(self.mailbox.stop)

    def post(self, raw):
        response = self.client().post(
            f'/{self.db_name}/inbound_email/inbox/{self.identifier}',
            data=raw)
        self.assertEqual(response.status_code, HTTPStatus.NO_CONTENT)

    def test_inbound_routing(self):
        "Replies reach their thread; other mail opens a ticket or enquiry"
        # An unknown sender writes to support: a new enquiry
        self.post(make_email(
                "Sam Thomas <sam@orbit.example>", "Do you ship to Pune?",
                "We need 20 units delivered to Pune."))

        @with_transaction()
        def check_enquiry():
            Enquiry = Pool().get('autolead.enquiry')
            enquiry, = Enquiry.search([])
            self.assertEqual(enquiry.name, "Sam Thomas")
            self.assertEqual(enquiry.email, 'sam@orbit.example')
            self.assertEqual(enquiry.subject, "Do you ship to Pune?")
            self.assertIn("20 units", enquiry.message)
            self.assertEqual(enquiry.source, 'email')
            self.assertEqual(enquiry.state, 'open')
            return enquiry.id
        enquiry_id = check_enquiry()

        # A known customer writes: a new ticket for her
        self.post(make_email(
                "Priya Verma <Priya@Customer.example>", "Printer jammed",
                "The printer jams on every page.",
                attachment=('photo.bin', b'\x00jam')))

        @with_transaction()
        def check_ticket_and_accept():
            pool = Pool()
            Ticket = pool.get('autolead.ticket')
            User = pool.get('res.user')
            Attachment = pool.get('ir.attachment')
            ticket, = Ticket.search([])
            self.assertEqual(ticket.customer.name, "Priya Verma")
            self.assertEqual(ticket.web_user.email, 'priya@customer.example')
            self.assertEqual(ticket.subject, "Printer jammed")
            self.assertEqual(ticket.state, 'new')
            attachment, = Attachment.search([
                    ('resource', '=', str(ticket))])
            self.assertEqual(attachment.data, b'\x00jam')
            kavya, = User.search([('login', '=', 'kavya')])
            with Transaction().set_user(kavya.id):
                Ticket.accept([Ticket(ticket.id)])
            Transaction().commit()
            return ticket.number
        number = check_ticket_and_accept()
        self.assertEqual(number, 'TCK0001')

        # The customer replies: the message joins the thread, Kavya is told
        self.mailbox.pop()
        self.post(make_email(
                "priya@customer.example", f"Re: [{number}] Printer jammed",
                "It also shows error E42.",
                attachment=('log.txt', b'E42')))

        @with_transaction()
        def check_customer_reply():
            pool = Pool()
            Ticket = pool.get('autolead.ticket')
            Attachment = pool.get('ir.attachment')
            ticket, = Ticket.search([])
            message, = ticket.messages
            self.assertEqual(message.body.strip(), "It also shows error E42.")
            self.assertTrue(message.from_customer)
            self.assertEqual(message.author_name, "Priya Verma")
            attachment, = Attachment.search([
                    ('resource', '=', str(message))])
            self.assertEqual(attachment.name, 'log.txt')
        check_customer_reply()
        sent, = self.mailbox.pop()
        self.assertEqual(sent['To'], 'kavya@autolead.example')
        self.assertIn(f'[{number}]', sent['Subject'])

        # Someone else quoting the ticket number does not get in the thread
        self.post(make_email(
                "mallory@evil.example", f"Re: [{number}] Printer jammed",
                "Please send the invoice to me."))

        @with_transaction()
        def check_spoof():
            pool = Pool()
            Ticket = pool.get('autolead.ticket')
            Enquiry = pool.get('autolead.enquiry')
            Email = pool.get('inbound.email')
            ticket, = Ticket.search([])
            self.assertEqual(len(ticket.messages), 1)
            self.assertEqual(Enquiry.search([
                        ('email', '=', 'mallory@evil.example')]), [])
            quarantined, = Email.search([
                    ('autolead_state', '=', 'quarantined')])
            self.assertEqual(quarantined.autolead_thread, ticket)
            self.assertEqual(
                quarantined.autolead_sender, 'mallory@evil.example')
        check_spoof()

        # Kavya answers from her mailbox: Priya gets it
        self.mailbox.pop()
        self.post(make_email(
                "Kavya Reddy <kavya@autolead.example>",
                f"Re: [{number}] Printer jammed",
                "Please update the driver to version 5."))

        @with_transaction()
        def check_agent_reply():
            Ticket = Pool().get('autolead.ticket')
            ticket, = Ticket.search([])
            customer_message, agent_message = ticket.messages
            self.assertEqual(agent_message.author_user.login, 'kavya')
            self.assertFalse(agent_message.from_customer)
        check_agent_reply()
        sent, = self.mailbox.pop()
        self.assertEqual(sent['To'], 'priya@customer.example')

        # Sam answers the reply to his enquiry: it joins the enquiry thread
        self.post(make_email(
                "sam@orbit.example",
                f"Re: Do you ship to Pune? [ENQ{enquiry_id}]",
                "Thanks, please call me."))

        @with_transaction()
        def check_enquiry_reply():
            Enquiry = Pool().get('autolead.enquiry')
            enquiry = Enquiry(enquiry_id)
            message, = enquiry.messages
            self.assertEqual(message.direction, 'incoming')
            self.assertEqual(message.body.strip(), "Thanks, please call me.")
        check_enquiry_reply()


MB = 1024 * 1024


class InboundMailTestCase(RouteTestCase):
    """Real-world email: encoded bodies, big attachments, broken MIME and
    senders that cannot be trusted"""
    module = 'autolead'
    identifier = uuid.uuid4().hex

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        User = pool.get('res.user')
        Party = pool.get('party.party')
        WebUser = pool.get('web.user')
        Ticket = pool.get('autolead.ticket')
        ModelData = pool.get('ir.model.data')
        create_support_inbox(cls.identifier)
        agent, lead = User.create([{
                    'login': 'kavya', 'name': "Kavya Reddy",
                    'email': 'kavya@autolead.example',
                    'groups': [('add', [
                                ModelData.get_id(
                                    'autolead', 'group_support')])],
                    }, {
                    'login': 'lead', 'name': "Support Lead",
                    'groups': [('add', [
                                ModelData.get_id('autolead', 'group_support'),
                                ModelData.get_id(
                                    'autolead', 'group_support_lead'),
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
        cls.ticket_id = ticket.id
        cls.number = ticket.number

    def setUp(self):
        super().setUp()
        self.mailbox = Mailbox.start()
        self.addCleanup(self.mailbox.stop)

    def post(self, raw):
        return self.client().post(
            f'/{self.db_name}/inbound_email/inbox/{self.identifier}',
            data=raw)

    def reply(self, body=None, sender='priya@customer.example', **headers):
        message = EmailMessage()
        message['From'] = sender
        message['To'] = 'support@autolead.example'
        message['Subject'] = f'Re: [{self.number}] Printer jammed'
        for name, value in headers.items():
            message[name.replace('_', '-')] = value
        if body is not None:
            message.set_content(body)
        return message

    def thread(self):
        "The bodies and attachment names of the ticket's messages"
        with Transaction().start(DB_NAME, 0):
            pool = Pool()
            Ticket = pool.get('autolead.ticket')
            Attachment = pool.get('ir.attachment')
            return [(m.body, sorted(a.name for a in Attachment.search([
                                ('resource', '=', str(m))])))
                for m in Ticket(self.ticket_id).messages]

    def emails(self, state):
        with Transaction().start(DB_NAME, 0):
            Email = Pool().get('inbound.email')
            return [(e.id, e.autolead_sender, e.autolead_reason,
                    bytes(e.data))
                for e in Email.search([('autolead_state', '=', state)])]

    def test_encoded_bodies(self):
        "Base64, quoted-printable, latin-1 and HTML-only bodies are decoded"
        base64 = self.reply()
        base64.set_content("Café au lait, s'il vous plaît", cte='base64')
        quoted = self.reply()
        quoted.set_content("Crème brûlée\nça marche", cte='quoted-printable')
        latin = MIMEText("Zoë à Pune", 'plain', 'iso-8859-1')
        for name, value in self.reply().items():
            latin[name] = value
        html = self.reply()
        html.set_content(
            '<html><body><p>Bonjour <b>Zoë</b>,</p>'
            '<p>voir <a href="https://ex.example/doc">la doc</a></p>'
            '<script>alert(1)</script></body></html>',
            subtype='html', cte='base64')
        both = self.reply("Plain wins")
        both.add_alternative('<p>HTML loses</p>', subtype='html')
        # a NUL hidden in an encoded part is dropped, not stored
        hidden_nul = self.reply()
        hidden_nul.set_content("Thank\x00 you", cte='base64')
        before = len(self.thread())

        for message in [base64, quoted, latin, html, both, hidden_nul]:
            raw = message.as_bytes()
            self.assertNotIn('é'.encode(), raw.split(b'\n\n', 1)[1])
            self.assertEqual(
                self.post(raw).status_code, HTTPStatus.NO_CONTENT)

        self.assertEqual([body for body, _ in self.thread()[before:]], [
                "Café au lait, s'il vous plaît",
                "Crème brûlée\nça marche",
                "Zoë à Pune",
                "Bonjour Zoë,\n\nvoir la doc <https://ex.example/doc>",
                "Plain wins",
                "Thank you",
                ])

    def test_attachment_limits(self):
        """A reply keeps its text and the files the portal would take; a
        bigger one is dropped, said in the thread and told to the sender"""
        message = self.reply("Photos of the jam attached.")
        for name, size in [('small.jpg', MB), ('medium.pdf', 3 * MB),
                ('video.mp4', 15 * MB)]:
            message.add_attachment(
                b'x' * size, maintype='application',
                subtype='octet-stream', filename=name)

        before = len(self.thread())
        response = self.post(message.as_bytes())

        self.assertEqual(response.status_code, HTTPStatus.NO_CONTENT)
        (body, names), = self.thread()[before:]
        self.assertEqual(names, ['medium.pdf', 'small.jpg'])
        self.assertTrue(body.startswith("Photos of the jam attached."))
        self.assertIn("video.mp4 (15.0 MB)", body)
        self.assertIn("limited to 5 MB", body)
        notices = [m for m in self.mailbox.messages
            if m['Subject'].startswith("Attachments not received")]
        notice, = notices
        self.assertEqual(notice['To'], 'priya@customer.example')
        self.assertIn(f'[{self.number}]', notice['Subject'])
        self.assertIn("video.mp4", notice.get_body().get_content())

    def test_unreadable_email_refused_and_kept(self):
        "A NUL byte or broken MIME is refused clearly; the raw email is kept"
        nul = self.reply("Hello\x00world").as_bytes()
        broken = (b'From: priya@customer.example\r\n'
            b'To: support@autolead.example\r\n'
            b'Subject: Re: [' + self.number.encode() + b'] Printer\r\n'
            b'Content-Type: multipart/mixed\r\n\r\nno boundary here\r\n')

        before = self.thread()
        for raw, reason in [(nul, b'NUL byte'), (broken, b'not valid MIME')]:
            response = self.post(raw)
            self.assertEqual(response.status_code, HTTPStatus.BAD_REQUEST)
            self.assertIn(reason, response.data)
            self.assertIn(b'kept as received email', response.data)
            self.assertNotIn(b'Traceback', response.data)

        refused = self.emails('refused')
        self.assertEqual(
            sorted(data for _, _, _, data in refused), sorted([nul, broken]))
        self.assertTrue(all(reason for _, _, reason, _ in refused))
        self.assertEqual(self.thread(), before)

    def test_unauthenticated_sender_quarantined(self):
        """A reply whose domain failed DMARC, or from a stranger, waits in
        quarantine until the support lead accepts it into the thread"""
        forged = self.reply(
            "Please wire the refund to IBAN XX00.",
            Authentication_Results=(
                'mx.autolead.example; spf=pass smtp.mailfrom=evil.example; '
                'dmarc=fail (p=reject) header.from=customer.example'))
        stranger = self.reply(
            "I am Priya's colleague.", sender='ravi@customer.example')
        before = self.thread()
        for message in [forged, stranger]:
            self.assertEqual(self.post(message.as_bytes()).status_code,
                HTTPStatus.NO_CONTENT)

        self.assertEqual(self.thread(), before)
        quarantined = self.emails('quarantined')
        self.assertEqual(
            sorted(sender for _, sender, _, _ in quarantined),
            ['priya@customer.example', 'ravi@customer.example'])
        reasons = {sender: reason for _, sender, reason, _ in quarantined}
        self.assertIn('DMARC failed', reasons['priya@customer.example'])
        self.assertIn('neither the customer', reasons['ravi@customer.example'])

        def accept(login, sender):
            pool = Pool()
            Email = pool.get('inbound.email')
            User = pool.get('res.user')
            user, = User.search([('login', '=', login)])
            with Transaction().set_user(user.id), \
                    Transaction().set_context(_check_access=True):
                emails = Email.search([('autolead_sender', '=', sender)])
                Email.autolead_accept(emails)
        with Transaction().start(DB_NAME, 0) as transaction:
            with self.assertRaises(AccessError):
                accept('kavya', 'ravi@customer.example')
            transaction.rollback()
        with Transaction().start(DB_NAME, 0) as transaction:
            accept('lead', 'ravi@customer.example')
            transaction.commit()

        (body, _), = self.thread()[len(before):]
        self.assertEqual(body, "I am Priya's colleague.")
        self.assertEqual(
            [s for _, s, _, _ in self.emails('accepted')],
            ['ravi@customer.example'])


del RouteTestCase
