"""Category and tag suggestions on tickets and enquiries"""
import random

from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .database import DatabaseTestCase

BILLING = [
    "Invoice {n} charged twice", "Refund for order {n} not received",
    "Wrong amount on my bill {n}", "Payment {n} failed but card debited",
    "Need a copy of invoice {n}", "Billing address wrong on invoice {n}",
    ]
TECHNICAL = [
    "Error {n} when I log in", "App crashes on start, code {n}",
    "Cannot reset my password, error {n}", "Page {n} does not load",
    "Login fails with error {n}", "Sync stopped working after update {n}",
    ]
DETAILS = ["Please help.", "This is urgent.", "Happened again today.",
    "Thanks in advance.", "See the screenshot."]


class TicketTaggingTestCase(DatabaseTestCase):
    "Test ticket and enquiry tag suggestions"

    def _setup(self):
        pool = Pool()
        Category = pool.get('autolead.ticket.category')
        Tag = pool.get('autolead.ticket.tag')
        Party = pool.get('party.party')
        billing, technical = Category.create([
                {'name': "Billing", 'keywords': "invoice, refund, charged"},
                {'name': "Technical", 'keywords': "error, crash, login"},
                ])
        money, urgent = Tag.create([
                {'name': "money", 'keywords': "refund, payment"},
                {'name': "access"},
                ])
        party, = Party.create([{'name': "Sunrise Textiles"}])
        return billing, technical, money, urgent, party

    def _tagged_tickets(self, party, billing, technical, money, access):
        Ticket = Pool().get('autolead.ticket')
        rng = random.Random(3)
        values = []
        for i in range(30):
            for category, tag, subjects in [
                    (billing, money, BILLING),
                    (technical, access, TECHNICAL)]:
                values.append({
                        'subject': rng.choice(subjects).format(n=100 + i),
                        'description': rng.choice(DETAILS),
                        'customer': party.id,
                        'category': category.id,
                        'tags': [('add', [tag.id])],
                        })
        return Ticket.create(values)

    @with_transaction()
    def test_keyword_cold_start(self):
        "Before any training, the keywords of categories and tags suggest"
        pool = Pool()
        Ticket = pool.get('autolead.ticket')
        Enquiry = pool.get('autolead.enquiry')
        billing, technical, money, _, party = self._setup()

        ticket, = Ticket.create([{
                    'subject': "I was charged twice",
                    'description': "Please refund the second payment.",
                    'customer': party.id,
                    }])
        self.assertEqual(ticket.suggested_category, billing)
        self.assertEqual(list(ticket.suggested_tags), [money])
        self.assertIsNone(ticket.category)

        enquiry, = Enquiry.create([{
                    'name': "Asha", 'subject': "Login error",
                    'message': "The app shows an error at login.",
                    }])
        self.assertEqual(enquiry.suggested_category, technical)

        nothing, = Ticket.create([{
                    'subject': "Hello", 'customer': party.id}])
        self.assertIsNone(nothing.suggested_category)

    @with_transaction()
    def test_not_enough_data(self):
        "Training without tagged tickets records why and keeps keywords"
        pool = Pool()
        Run = pool.get('autolead.ticket.tagging.run')
        self._setup()

        runs = Run.train()
        self.assertEqual([r.state for r in runs],
            ['not_enough_data', 'not_enough_data'])
        self.assertIn("Not enough data", runs[0].message)
        self.assertIsNone(Run.current('category'))

    @with_transaction()
    def test_train_suggest_confirm(self):
        "Trained on agents' tags, suggestions follow them and are confirmed"
        pool = Pool()
        Ticket = pool.get('autolead.ticket')
        Run = pool.get('autolead.ticket.tagging.run')
        billing, technical, money, access, party = self._setup()
        self._tagged_tickets(party, billing, technical, money, access)
        waiting, vague = Ticket.create([{
                    'subject': "Sync stopped working after update 7",
                    'customer': party.id,
                    }, {'subject': "Problem", 'customer': party.id}])
        # no keyword of the categories in it
        self.assertIsNone(waiting.suggested_category)

        category_run, tag_run = Run.train()
        self.assertEqual(category_run.state, 'trained')
        self.assertEqual(category_run.examples, 60)
        self.assertGreaterEqual(category_run.macro_f1, 0.8)
        self.assertEqual(tag_run.target, 'tag')
        self.assertEqual(tag_run.state, 'trained')
        self.assertGreaterEqual(tag_run.macro_f1, 0.8)

        # "sync" and "page" are not keywords: only the model knows them
        ticket, = Ticket.create([{
                    'subject': "Sync page does not load after update",
                    'customer': party.id,
                    }])
        self.assertEqual(ticket.suggested_category, technical)
        self.assertGreater(ticket.suggested_category_confidence, 0.5)
        self.assertEqual(list(ticket.suggested_tags), [access])

        Ticket.confirm_suggestion([ticket])
        self.assertEqual(ticket.category, technical)
        self.assertEqual(list(ticket.tags), [access])
        # the agents' choice is what the next training learns
        texts, labels = Ticket.tagging_examples('category')
        self.assertEqual(len(texts), 61)

        # tickets waiting in the queue got suggestions at the training
        waiting = Ticket(waiting.id)
        self.assertEqual(waiting.suggested_category, technical)
        # with two categories, a ticket about neither gets none: its top
        # confidence is above one half but means nothing
        self.assertIsNone(Ticket(vague.id).suggested_category)
        self.assertEqual(category_run.folds, 5)
        self.assertEqual(category_run.test_rows, 60)
        self.assertIsNotNone(category_run.keyword_macro_f1)
        self.assertGreater(category_run.macro_f1,
            category_run.keyword_macro_f1)

    @with_transaction()
    def test_keywords_kept_until_beaten(self):
        "Keywords that suggest as well as the model stay in use"
        pool = Pool()
        Ticket = pool.get('autolead.ticket')
        Category = pool.get('autolead.ticket.category')
        Run = pool.get('autolead.ticket.tagging.run')
        billing, technical, money, access, party = self._setup()
        Category.write([billing], {
                'keywords': "invoice, refund, bill, payment, charged"},
            [technical], {
                'keywords': "error, crashes, password, page, login, sync"})
        self._tagged_tickets(party, billing, technical, money, access)

        category_run, _ = Run.train()
        self.assertEqual(category_run.state, 'keywords_kept')
        self.assertEqual(category_run.keyword_macro_f1, 1.0)
        self.assertIn("keywords are kept", category_run.message)
        self.assertEqual(Run.current('category'), category_run)
        ticket, = Ticket.create([{
                    'subject': "Wrong bill", 'customer': party.id}])
        # suggested by the keywords: the rule's confidence for one keyword
        self.assertEqual(ticket.suggested_category, billing)
        self.assertEqual(ticket.suggested_category_confidence, 0.5)

    @with_transaction()
    def test_train_now_is_queued(self):
        "Train Now returns at once with queued runs; the queue trains them"
        pool = Pool()
        Configuration = pool.get('autolead.configuration')
        Run = pool.get('autolead.ticket.tagging.run')
        Queue = pool.get('ir.queue')
        transaction = Transaction()
        billing, technical, money, access, party = self._setup()
        self._tagged_tickets(party, billing, technical, money, access)
        del transaction.tasks[:]

        Configuration.train_tagging([Configuration(1)])
        runs = Run.search([])
        self.assertEqual([r.state for r in runs], ['queued', 'queued'])
        self.assertTrue(all(r.progress for r in runs))
        self.assertEqual(len(transaction.tasks), 1)

        Queue(transaction.tasks.pop()).run()
        self.assertEqual(sorted(r.state for r in Run.search([])),
            ['trained', 'trained'])
        self.assertEqual(Run.search_count([]), 2)

    @with_transaction()
    def test_access(self):
        "Agents confirm suggestions but cannot change trainings"
        pool = Pool()
        Run = pool.get('autolead.ticket.tagging.run')
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        self._setup()
        Run.train()
        support = ModelData.get_id('autolead', 'group_support')
        rep = ModelData.get_id('autolead', 'group_sales_rep')
        agent, seller = User.create([
                {'name': "Agent", 'login': 'agent',
                    'groups': [('add', [support])]},
                {'name': "Seller", 'login': 'seller',
                    'groups': [('add', [rep])]},
                ])
        run = Run.search([])[0]
        for user in [agent, seller]:
            with Transaction().set_user(user.id), \
                    Transaction().set_context(_check_access=True):
                with self.assertRaises(AccessError):
                    Run.search([])
                with self.assertRaises(AccessError):
                    Run.write([Run(run.id)], {'message': "changed"})
                with self.assertRaises(AccessError):
                    Run.delete([Run(run.id)])

