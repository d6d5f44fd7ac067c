"Emails posted to the inbound_email route land in the helpdesk"
import uuid
from email.message import EmailMessage

from trytond.pool import Pool
from trytond.protocols.wrappers import HTTPStatus
from trytond.tests.test_tryton import RouteTestCase, with_transaction
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


class HelpdeskInboundTestCase(RouteTestCase):
    "Test inbound email routing into tickets and enquiries"
    module = 'autolead'
    identifier = uuid.uuid4().hex

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Inbox = pool.get('inbound.email.inbox')
        User = pool.get('res.user')
        Party = pool.get('party.party')
        WebUser = pool.get('web.user')
        ModelData = pool.get('ir.model.data')

        Inbox.create([{
                    'name': "Support",
                    'identifier': cls.identifier,
                    'rules': [('create', [{
                                    'destination': 'support@',
                                    'action': 'inbound.email|autolead_route',
                                    }])],
                    }])
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
            ticket, = Ticket.search([])
            self.assertEqual(len(ticket.messages), 1)
            self.assertEqual(len(Enquiry.search([
                            ('email', '=', 'mallory@evil.example')])), 1)
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


del RouteTestCase
