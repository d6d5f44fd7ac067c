"""The chatbot routes answer from the FAQ and the customer's own tickets"""
from unittest.mock import patch

from trytond.modules.autolead import chatbot
from trytond.modules.autolead.chatbot import SESSION_COOKIE
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from .route import DataRouteTestCase, clear_rate_limits


class ChatbotTestCase(DataRouteTestCase):
    "Test the chatbot routes"
    module = 'autolead'

    @classmethod
    def setUpData(cls):
        pool = Pool()
        Party = pool.get('party.party')
        WebUser = pool.get('web.user')
        Session = pool.get('web.user.session')
        Ticket = pool.get('autolead.ticket')
        FAQ = pool.get('autolead.faq')

        asha, ravi = Party.create([
                {'name': "Asha Rao"}, {'name': "Ravi Menon"}])
        asha_user, ravi_user = WebUser.create([
                {'email': 'asha@chat.example.com', 'party': asha.id},
                {'email': 'ravi@chat.example.com', 'party': ravi.id},
                ])
        cls.asha_session = Session.add(asha_user)
        cls.ravi_session = Session.add(ravi_user)
        asha_ticket, ravi_ticket, asha_closed = Ticket.create([
                {'subject': "Dyeing machine noise", 'customer': asha.id,
                    'web_user': asha_user.id},
                {'subject': "Confidential pricing dispute",
                    'customer': ravi.id, 'web_user': ravi_user.id},
                {'subject': "Old question", 'customer': asha.id},
                ])
        Ticket.reject([asha_closed])
        cls.asha_ticket = asha_ticket.number
        cls.ravi_ticket = ravi_ticket.number
        FAQ.create([{
                    'question': "How do I download my invoices?",
                    'answer': "Open Invoices in the portal and click PDF.",
                    'keywords': "bill, receipt, download invoice",
                    'audience': 'customer',
                    }])

    def setUp(self):
        super().setUp()
        clear_rate_limits()
        self.url = f'/{self.db_name}/chatbot/ask'

    def ask(self, question, session=None, client=None):
        client = client or self.client()
        if session:
            client.set_cookie(SESSION_COOKIE, session)
        return client.post(self.url, json={'question': question})

    def logged(self):
        with Transaction().start(DB_NAME, 0):
            Question = Pool().get('autolead.chatbot.question')
            return [(q.question, q.audience, q.web_user is not None)
                for q in Question.search([], order=[('id', 'ASC')])]

    def test_public_faq(self):
        "A visitor gets the FAQ answer"
        response = self.ask("how can I reach support?")
        self.assertEqual(response.status_code, 200)
        reply = response.json
        self.assertEqual(reply['kind'], 'faq')
        self.assertIn("Contact Us", reply['answer'])
        self.assertIsNone(reply['offer'])

    def test_ticket_status_needs_login(self):
        "On the public site nobody's tickets are shown"
        reply = self.ask("Where is my ticket?").json
        self.assertEqual(reply['kind'], 'intent')
        self.assertIn("sign in", reply['answer'])
        self.assertEqual(reply['tickets'], [])
        reply = self.ask("Where is my ticket?", session='not-a-session').json
        self.assertEqual(reply['tickets'], [])

    def test_customer_sees_own_open_tickets_only(self):
        "A customer gets the status of their open tickets, no one else's"
        reply = self.ask("Where is my ticket?", self.asha_session).json
        self.assertEqual(
            [t['number'] for t in reply['tickets']], [self.asha_ticket])
        self.assertIn(self.asha_ticket, reply['answer'])
        self.assertIn("New", reply['answer'])
        self.assertNotIn(self.ravi_ticket, str(reply))
        self.assertNotIn("Confidential", str(reply))

        # asking by the number of someone else's ticket reveals nothing
        reply = self.ask(f"What is the status of ticket {self.ravi_ticket}?",
            self.asha_session).json
        self.assertEqual(reply['tickets'], [])
        self.assertNotIn("Confidential", str(reply))
        self.assertIn("could not find", reply['answer'])

        reply = self.ask("Where is my ticket?", self.ravi_session).json
        self.assertEqual(
            [t['number'] for t in reply['tickets']], [self.ravi_ticket])
        self.assertNotIn(self.asha_ticket, str(reply))

    def test_forgot_password_public(self):
        "A visitor who forgot the password gets the reset page, not sign in"
        for question in ["I forgot my password",
                "I cannot sign in to my account, help"]:
            with self.subTest(question=question):
                reply = self.ask(question).json
                self.assertNotIn("Please sign in", reply['answer'])
                self.assertEqual(
                    reply['offer_url'], f'/{self.db_name}/portal/reset')
        # a question about one's tickets on the public site says how to
        # sign in and what to do without the password
        reply = self.ask("Where is my ticket?").json
        self.assertIn("Forgot your password", reply['answer'])
        self.assertEqual(reply['offer_url'], f'/{self.db_name}/portal/signin')

    def test_faq_before_intents(self):
        "An FAQ entry on a topic answers before a built-in intent"
        pool_faq = [
            ("When is your office open?", "Monday to Friday, 9 to 18.",
                "hours, opening times"),
            ("How do I open a support ticket?",
                "Sign in and choose New Ticket in the portal.", ""),
            ]
        with Transaction().start(DB_NAME, 0) as transaction:
            FAQ = Pool().get('autolead.faq')
            faqs = FAQ.create([{'question': q, 'answer': a,
                        'keywords': k or None} for q, a, k in pool_faq])
            transaction.commit()
        try:
            reply = self.ask("When is the office open?").json
            self.assertEqual(reply['kind'], 'faq')
            self.assertIn("Monday to Friday", reply['answer'])
            reply = self.ask("I want to open a ticket").json
            self.assertEqual(reply['kind'], 'faq')
            self.assertIn("New Ticket", reply['answer'])
            # with the customer's records an intent answers better
            reply = self.ask("Where is my ticket?", self.asha_session).json
            self.assertEqual(reply['kind'], 'intent')
        finally:
            with Transaction().start(DB_NAME, 0) as transaction:
                FAQ = Pool().get('autolead.faq')
                FAQ.delete(FAQ.browse([f.id for f in faqs]))
                transaction.commit()

    def test_customer_faq(self):
        "Answers for customers are kept from the public site"
        reply = self.ask("How do I download my invoices?",
            self.asha_session).json
        self.assertEqual(reply['kind'], 'faq')
        self.assertIn("PDF", reply['answer'])
        reply = self.ask("How do I download my invoices?").json
        self.assertNotIn("PDF", str(reply))

        reply = self.ask("How do I edit my profile?", self.asha_session).json
        self.assertIn("Profile", reply['answer'])

    def test_unanswered_logged(self):
        "Below the threshold it offers an enquiry or ticket and logs"
        before = len(self.logged())
        reply = self.ask("recipe for banana bread").json
        self.assertEqual(reply['kind'], 'none')
        self.assertEqual(reply['offer'], 'enquiry')
        # the next step is always there: the contact form of the portal
        self.assertEqual(
            reply['offer_url'], f'/{self.db_name}/portal/contact')
        reply = self.ask("does the moon orbit saturn",
            self.asha_session).json
        self.assertEqual(reply['offer'], 'ticket')
        self.assertEqual(
            reply['offer_url'], f'/{self.db_name}/portal/tickets/new')
        logged = self.logged()[before:]
        self.assertEqual(logged, [
                ("recipe for banana bread", 'public', False),
                ("does the moon orbit saturn", 'customer', True),
                ])

    def test_limits(self):
        "Empty, long and repeated questions are refused"
        client = self.client()
        self.assertEqual(self.ask("", client=client).status_code, 400)
        self.assertEqual(
            self.ask("x" * 600, client=client).status_code, 400)
        response = client.post(self.url, data='{"question": "' + 'y' * 5000
            + '"}', content_type='application/json')
        self.assertEqual(response.status_code, 413)
        clear_rate_limits()
        with patch.object(chatbot, 'RATE_LIMIT', 2):
            codes = [self.ask("What is Auto Lead?", client=client).status_code
                for _ in range(3)]
        self.assertEqual(codes, [200, 200, 429])

    def test_widget(self):
        "The widget script is served from the package with the ask URL"
        response = self.client().get(f'/{self.db_name}/chatbot/widget.js')
        self.assertEqual(response.status_code, 200)
        self.assertIn('javascript', response.headers['Content-Type'])
        script = response.get_data(as_text=True)
        self.assertIn(f'"/{self.db_name}/chatbot/ask"', script)
        self.assertNotIn('__AUTOLEAD_CHATBOT__', script)
        self.assertNotIn('http', script.split('*/', 1)[1])

    def test_access(self):
        "Support leads read the log; sales reps cannot"
        from trytond.model.exceptions import AccessError
        with Transaction().start(DB_NAME, 0) as transaction:
            pool = Pool()
            Question = pool.get('autolead.chatbot.question')
            User = pool.get('res.user')
            ModelData = pool.get('ir.model.data')
            rep, lead = User.create([
                    {'name': "Rep", 'login': 'chatrep', 'groups': [('add', [
                                    ModelData.get_id(
                                        'autolead', 'group_sales_rep')])]},
                    {'name': "Lead", 'login': 'chatlead', 'groups': [('add', [
                                    ModelData.get_id(
                                        'autolead', 'group_support_lead')])]},
                    ])
            with transaction.set_user(rep.id), \
                    transaction.set_context(_check_access=True):
                with self.assertRaises(AccessError):
                    Question.search([])
            with transaction.set_user(lead.id), \
                    transaction.set_context(_check_access=True):
                Question.search([])
                with self.assertRaises(AccessError):
                    Question.create([{'question': "x", 'audience': 'public',
                                'date': None}])
            transaction.rollback()
