"Edges of the helpdesk: SLA flags, keyword search, the portal's entry points"
import datetime as dt

from trytond.model.exceptions import AccessError, ValidationError
from trytond.modules.autolead.canned_response import render
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .database import DatabaseTestCase


class HelpdeskTestCase(DatabaseTestCase):
    "Test Auto Lead helpdesk edges"

    def _customer(self, name='Priya Verma', email='priya@customer.example'):
        pool = Pool()
        Party = pool.get('party.party')
        WebUser = pool.get('web.user')
        party, = Party.create([{'name': name}])
        web_user, = WebUser.create([{'email': email, 'party': party.id}])
        return party, web_user

    def _ticket(self, party, **values):
        Ticket = Pool().get('autolead.ticket')
        ticket, = Ticket.create([{
                    'customer': party.id, 'subject': "Help", **values}])
        return ticket

    @with_transaction()
    def test_sla_breached_and_at_risk(self):
        "Tickets past or near their due times are flagged and searchable"
        pool = Pool()
        Ticket = pool.get('autolead.ticket')
        SLA = pool.get('autolead.ticket.sla')
        SLA.create([{
                    'priority': 'normal',
                    'response_time': dt.timedelta(hours=8),
                    'resolution_time': dt.timedelta(hours=48),
                    }])
        party, _ = self._customer()
        now = dt.datetime.now()
        on_time = self._ticket(party, subject="On time")
        late_response = self._ticket(party, subject="Late response")
        near = self._ticket(party, subject="Near")
        late_resolved = self._ticket(party, subject="Resolved late")
        Ticket.write([late_response], {
                'response_due': now - dt.timedelta(minutes=5)})
        Ticket.write([near], {
                'response_due': now + dt.timedelta(hours=2),
                'resolution_due': now + dt.timedelta(hours=3)})
        Ticket.write([late_resolved], {
                'state': 'resolved',
                'accepted_at': now - dt.timedelta(hours=30),
                'response_due': now - dt.timedelta(hours=29),
                'resolved_at': now - dt.timedelta(hours=1),
                'resolution_due': now - dt.timedelta(hours=2)})

        self.assertTrue(on_time.response_due)
        self.assertFalse(on_time.breached)
        self.assertTrue(late_response.breached)
        self.assertTrue(late_resolved.breached)
        self.assertEqual(
            set(Ticket.search([('breached', '=', True)])),
            {late_response, late_resolved})
        self.assertEqual(
            set(Ticket.search([('breached', '=', False)])), {on_time, near})
        self.assertTrue(near.at_risk)
        self.assertFalse(on_time.at_risk)
        self.assertEqual(Ticket.search([('at_risk', '=', True)]), [near])
        self.assertNotIn(near, Ticket.search([('at_risk', '=', False)]))

    @with_transaction()
    def test_keywords_fallback(self):
        "Every word must match somewhere; wildcards are taken literally"
        pool = Pool()
        Ticket = pool.get('autolead.ticket')
        Message = pool.get('autolead.ticket.message')
        party, _ = self._customer()
        discount = self._ticket(
            party, subject="Discount of 50% missing",
            description="Applied on the March invoice")
        other = self._ticket(party, subject="Login fails", description="5O")
        Message.create([{
                    'ticket': other.id, 'body': "Password reset loops",
                    }])

        def keywords(text):
            return Ticket.search([('keywords', 'ilike', text)])

        self.assertEqual(keywords('50%'), [discount])
        self.assertEqual(keywords('march DISCOUNT'), [discount])
        self.assertEqual(keywords('%password loops%'), [other])
        self.assertEqual(keywords('password march'), [])
        self.assertEqual(keywords('_0'), [])

    @with_transaction()
    def test_desk_search_box(self):
        "The desk's search box finds tickets by number, words and messages"
        pool = Pool()
        Ticket = pool.get('autolead.ticket')
        Message = pool.get('autolead.ticket.message')
        party, _ = self._customer()
        invoice = self._ticket(
            party, subject="Wrong invoice", description="Billed twice")
        login = self._ticket(party, subject="Login fails")
        Message.create([{
                    'ticket': login.id, 'body': "The reset link expired",
                    }])

        def search_box(text):
            # what sao sends for text typed in the search box
            return Ticket.search([('rec_name', 'ilike', f'%{text}%')])

        self.assertEqual(search_box("invoice"), [invoice])
        self.assertEqual(search_box("billed"), [invoice])
        self.assertEqual(search_box("reset link"), [login])
        self.assertEqual(search_box(login.number), [login])
        self.assertEqual(
            Ticket.search([('rec_name', 'not ilike', '%invoice%')]),
            Ticket.search([]))

    @with_transaction()
    def test_customer_search_ignores_internal_notes(self):
        "A customer's search covers only their tickets and public messages"
        pool = Pool()
        Ticket = pool.get('autolead.ticket')
        Message = pool.get('autolead.ticket.message')
        priya, _ = self._customer()
        rahul, _ = self._customer('Rahul Gupta', 'rahul@customer.example')
        mine = self._ticket(priya, subject="Refund")
        theirs = self._ticket(rahul, subject="Refund")
        Message.create([{
                    'ticket': mine.id, 'body': "Customer is difficult",
                    'internal': True,
                    }])

        self.assertEqual(Ticket.search_for_customer(priya, "refund"), [mine])
        self.assertEqual(Ticket.search_for_customer(priya, "difficult"), [])
        self.assertEqual(
            Ticket.search([('keywords', 'ilike', 'difficult')]), [mine])
        self.assertEqual(Ticket.search_for_customer(rahul), [theirs])

    @with_transaction()
    def test_customer_messages(self):
        "Customers write only on their accepted tickets, unless configured"
        pool = Pool()
        Ticket = pool.get('autolead.ticket')
        Configuration = pool.get('autolead.configuration')
        Attachment = pool.get('ir.attachment')
        priya, priya_account = self._customer()
        _, rahul_account = self._customer(
            'Rahul Gupta', 'rahul@customer.example')
        ticket = self._ticket(priya)

        with self.assertRaisesRegex(ValidationError, 'cannot write'):
            ticket.post_customer_message(priya_account, "Hello?")
        with self.assertRaises(AccessError):
            ticket.post_customer_message(rahul_account, "Hello?")

        Configuration.write([Configuration(1)], {
                'customer_can_write_before_accept': True})
        message = ticket.post_customer_message(
            priya_account, "Hello?", attachments=[('a.txt', b'a')])
        self.assertTrue(message.from_customer)
        self.assertEqual(message.author_web_user, priya_account)
        attachment, = Attachment.search([('resource', '=', str(message))])
        self.assertEqual(attachment.data, b'a')

        with self.assertRaisesRegex(ValidationError, 'internal'):
            pool.get('autolead.ticket.message').create([{
                        'ticket': ticket.id, 'author_user': None,
                        'author_web_user': priya_account.id,
                        'body': "x", 'internal': True}])

    @with_transaction()
    def test_reopen_by_customer(self):
        "Only the ticket's customer may reopen it"
        Ticket = Pool().get('autolead.ticket')
        priya, _ = self._customer()
        rahul, _ = self._customer('Rahul Gupta', 'rahul@customer.example')
        ticket = self._ticket(priya)
        Ticket.accept([ticket])
        Ticket.resolve([ticket])

        with self.assertRaises(AccessError):
            Ticket.reopen_by_customer([ticket], rahul)
        self.assertEqual(ticket.state, 'resolved')
        Ticket.reopen_by_customer([ticket], priya)
        self.assertEqual(ticket.state, 'reopened')

    @with_transaction()
    def test_agent_cannot_post_as_customer(self):
        "An agent's message is always signed with the agent's user"
        pool = Pool()
        User = pool.get('res.user')
        Message = pool.get('autolead.ticket.message')
        ModelData = pool.get('ir.model.data')
        Ticket = pool.get('autolead.ticket')
        priya, priya_account = self._customer()
        agent, = User.create([{
                    'login': 'agent', 'name': "Agent",
                    'groups': [('add', [
                                ModelData.get_id('autolead', 'group_support'),
                                ])],
                    }])
        ticket = self._ticket(priya)
        with Transaction().set_user(agent.id), \
                Transaction().set_context(_check_access=True):
            Ticket.accept([Ticket(ticket.id)])
            message, = Message.create([{
                        'ticket': ticket.id, 'author_user': None,
                        'author_web_user': priya_account.id, 'body': "Fine"}])
            self.assertEqual(message.author_user, agent)
            self.assertIsNone(message.author_web_user)

    def test_canned_render(self):
        "Placeholders are filled; unknown ones and stray braces survive"
        self.assertEqual(
            render("Hi {customer}, {agent} here about {ticket}.",
                customer="Priya", agent="Kavya", ticket="TCK0001"),
            "Hi Priya, Kavya here about TCK0001.")
        self.assertEqual(render("Hi {nobody}", customer="x"), "Hi {nobody}")
        self.assertEqual(render("a { b", customer="x"), "a { b")

