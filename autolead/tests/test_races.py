"""Concurrent desk users on a real trytond (SQLite file or PostgreSQL)

Each client is a thread with its own HTTP session, so every request runs in
its own transaction on its own database connection, as in the demo; nothing
is mocked. The server is the one of the browser tests (live_server.py)."""
import base64
import json
import threading
import unittest
import urllib.error
import urllib.request
from collections import Counter

from trytond.model.exceptions import SQLConstraintError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .database import DatabaseTestCase
from .live_server import LiveServer

ROUNDS = 6


class Desk:
    "A desk user speaking JSON-RPC to the live server"

    def __init__(self, server, login, password):
        self.url = f'{server.url}/{server.database}/rpc/'
        self.headers = {'Content-Type': 'application/json'}
        self.user_id, session = self._call(
            'common.db.login', login, {'password': password}, 'en')[:2]
        self.headers['Authorization'] = 'Session ' + base64.b64encode(
            f'{login}:{self.user_id}:{session}'.encode()).decode()
        self.context = self._call('model.res.user.get_preferences', True, {})

    def _call(self, method, *params):
        request = urllib.request.Request(self.url, headers=self.headers,
            data=json.dumps({
                    'id': 1, 'method': method, 'params': params,
                    }).encode())
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                answer = json.load(response)
        except urllib.error.HTTPError as error:
            raise RPCError(f'HTTP {error.code}: {error.read()[:300]!r}')
        if answer.get('error'):
            raise RPCError(answer['error'])
        return answer['result']

    def __call__(self, method, *params):
        return self._call(method, *params, self.context)

    def wizard(self, name, model, ids, state, data):
        "Run the wizard from its start state to state with the data"
        session, start, _ = self._call(
            f'wizard.{name}.create', self.context)
        context = dict(self.context, active_model=model, active_id=ids[0],
            active_ids=ids)
        try:
            self._call(f'wizard.{name}.execute', session, {}, start, context)
            return self._call(
                f'wizard.{name}.execute', session, data, state, context)
        finally:
            self._call(f'wizard.{name}.delete', session, context)


class RPCError(Exception):
    pass


def at_once(*calls):
    "Run the calls in threads released together; return results or errors"
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        barrier.wait()
        try:
            results[index] = ('ok', call())
        except RPCError as error:
            results[index] = ('error', str(error))
    threads = [threading.Thread(target=run, args=(i, c))
        for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


class RacesTestCase(unittest.TestCase):
    "Concurrent desk users get distinct numbers and one winner per race"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = LiveServer(leads=20).start()
        cls.addClassCleanup(cls.server.stop)
        cls.admin = Desk(cls.server, 'admin', 'admin-demo')
        cls.customer, = cls.admin('model.party.party.search',
            [], 0, 1, None)

    def desk(self, login):
        return Desk(self.server, login, f'{login}-demo')

    def test_ticket_and_enquiry_numbers(self):
        "Tickets created at the same moment by 20 clients have 20 numbers"
        desks = [self.desk(login) for login in ['support', 'rohit'] * 10]

        def create_ticket(desk, i):
            def call():
                ticket_id, = desk('model.autolead.ticket.create', [{
                            'subject': f"Printer {i} is offline",
                            'customer': self.customer,
                            }])
                return ticket_id
            return call
        results = at_once(*(create_ticket(d, i) for i, d in enumerate(desks)))

        self.assertEqual([r[0] for r in results], ['ok'] * 20, results)
        tickets = self.admin('model.autolead.ticket.read',
            [r[1] for r in results], ['number'])
        numbers = [t['number'] for t in tickets]
        self.assertEqual(len(set(numbers)), 20, Counter(numbers))
        self.assertTrue(all(n.startswith('TCK') for n in numbers), numbers)

        def create_enquiry(desk, i):
            def call():
                return desk('model.autolead.enquiry.create', [{
                            'name': f"Visitor {i}",
                            'subject': f"Price of plan {i}",
                            }])[0]
            return call
        results = at_once(
            *(create_enquiry(d, i) for i, d in enumerate(desks)))
        self.assertEqual([r[0] for r in results], ['ok'] * 20, results)
        # an enquiry's number (ENQ + id) is its database id
        self.assertEqual(len({r[1] for r in results}), 20)

    def test_accept_has_one_winner(self):
        "Of two agents accepting a ticket at once, the other is told who won"
        support, rohit = self.desk('support'), self.desk('rohit')
        names = {
            support.user_id: self.admin('model.res.user.read',
                [support.user_id], ['name'])[0]['name'],
            rohit.user_id: self.admin('model.res.user.read',
                [rohit.user_id], ['name'])[0]['name'],
            }
        for model in ['autolead.ticket'] * ROUNDS + ['autolead.enquiry'] * 2:
            if model == 'autolead.ticket':
                record_id, = self.admin(f'model.{model}.create', [{
                            'subject': "Invoice is wrong",
                            'customer': self.customer,
                            }])
            else:
                record_id, = self.admin(f'model.{model}.create', [{
                            'name': "Visitor", 'subject': "Opening hours",
                            }])
            results = at_once(
                lambda: support(f'model.{model}.accept', [record_id]),
                lambda: rohit(f'model.{model}.accept', [record_id]))

            outcomes = sorted(r[0] for r in results)
            self.assertEqual(outcomes, ['error', 'ok'], results)
            record, = self.admin(f'model.{model}.read', [record_id],
                ['accepted_by', 'state'])
            self.assertEqual(record['state'], 'accepted')
            winner = record['accepted_by']
            error, = [r[1] for r in results if r[0] == 'error']
            self.assertIn('already accepted by', error)
            self.assertIn(names[winner], error)
            self.assertNotIn('not allowed', error)

    def test_conversions_at_once(self):
        "Two leads converted at the same moment both become customers"
        head = self.desk('head')
        stages = {}
        for xml_id in ['stage_contacted', 'stage_qualified',
                'stage_in_progress', 'stage_won']:
            stages[xml_id] = self.admin('model.ir.model.data.get_id',
                'autolead', xml_id)
        for round_ in range(3):
            lead_ids = self.admin('model.autolead.lead.create', [{
                        'name': f"Buyer {round_}-{i}", 'source': 'phone',
                        'email': f'buyer{round_}-{i}@example.com',
                        } for i in range(2)])
            for stage in stages.values():
                self.admin('model.autolead.lead.write', lead_ids,
                    {'stage': stage})
            desks = [head, self.desk('head')]
            results = at_once(*(
                    (lambda d=d, l=l: d.wizard('autolead.lead.convert',
                        'autolead.lead', [l], 'convert',
                        {'start': {'customer_status': 'new'}}))
                    for d, l in zip(desks, lead_ids)))
            self.assertEqual([r[0] for r in results], ['ok', 'ok'], results)
            leads = self.admin('model.autolead.lead.read', lead_ids,
                ['party'])
            parties = [l['party'] for l in leads]
            self.assertTrue(all(parties), leads)
            codes = [p['code'] for p in self.admin(
                    'model.party.party.read', parties, ['code'])]
            self.assertEqual(len(set(codes)), 2, codes)

        # the same lead converted twice at once makes one customer
        lead_id, = self.admin('model.autolead.lead.create', [{
                    'name': "Twice", 'source': 'phone'}])
        for stage in stages.values():
            self.admin('model.autolead.lead.write', [lead_id],
                {'stage': stage})
        results = at_once(*(
                (lambda d=d: d.wizard('autolead.lead.convert',
                    'autolead.lead', [lead_id], 'convert',
                    {'start': {'customer_status': 'new'}}))
                for d in [head, self.desk('head')]))
        self.assertEqual(sorted(r[0] for r in results), ['error', 'ok'])
        error, = [r[1] for r in results if r[0] == 'error']
        self.assertIn('already converted', error)
        self.assertEqual(len(self.admin('model.party.party.search',
                    [('name', '=', "Twice")], 0, None, None)), 1)

    def test_round_robin_under_concurrent_creators(self):
        "6 clients creating 5 leads each share them out in turn, no error"
        rule, = self.admin('model.autolead.lead.assignment.rule.search',
            [('method', '=', 'round_robin')], 0, 1, None)
        team = self.admin('model.autolead.lead.assignment.rule.read',
            [rule], ['team'])[0]['team']
        desks = [self.desk('head') for _ in range(6)]
        errors, created = [], []
        lock = threading.Lock()

        def creator(index, desk):
            def call():
                for i in range(5):
                    try:
                        lead_id, = desk('model.autolead.lead.create', [{
                                    'name': f"Web visitor {index}-{i}",
                                    'source': 'website',
                                    }])
                    except RPCError as error:
                        with lock:
                            errors.append(str(error))
                    else:
                        with lock:
                            created.append(lead_id)
            return call
        at_once(*(creator(i, d) for i, d in enumerate(desks)))

        self.assertEqual(errors, [])
        self.assertEqual(len(created), 30)
        owners = Counter(l['owner'] for l in self.admin(
                'model.autolead.lead.read', created, ['owner']))
        self.assertEqual(set(owners), set(team))
        per_member = 30 // len(team)
        self.assertLessEqual(
            max(owners.values()) - min(owners.values()), 1, owners)
        self.assertGreaterEqual(min(owners.values()), per_member - 1)


class TicketNumberTestCase(DatabaseTestCase):
    "The unique ticket number and the migration of shared numbers"

    def _tickets(self, count):
        pool = Pool()
        Party = pool.get('party.party')
        Ticket = pool.get('autolead.ticket')
        party, = Party.create([{'name': "Priya Verma"}])
        return Ticket.create([{'customer': party.id, 'subject': "Help"}
                for _ in range(count)])

    @with_transaction()
    def test_number_unique(self):
        "A ticket cannot take the number of another"
        Ticket = Pool().get('autolead.ticket')
        first, second = self._tickets(2)

        with self.assertRaisesRegex(
                SQLConstraintError, 'already has this number'):
            Ticket.write([second], {'number': first.number})

    @with_transaction()
    def test_shared_numbers_renumbered(self):
        "Updating a database renumbers shared numbers past the highest"
        pool = Pool()
        Ticket = pool.get('autolead.ticket')
        Configuration = pool.get('autolead.configuration')
        cursor = Transaction().connection.cursor()
        table = Ticket.__table__()
        Ticket.__table_handler__().drop_constraint('number_unique')
        tickets = self._tickets(4)
        # as the unlocked sequence gave them on SQLite
        for ticket, number in zip(tickets, [
                    'TCK0007', 'TCK0007', 'TCK0009', 'TCK0009']):
            cursor.execute(*table.update([table.number], [number],
                    where=table.id == ticket.id))
        sequence = Configuration(1).ticket_sequence
        sequence.number_next = 3
        sequence.save()

        Ticket._renumber_duplicates()
        Ticket._sequence_after_numbers()

        cursor.execute(*table.select(table.id, table.number,
                where=table.id.in_([t.id for t in tickets]),
                order_by=[table.id]))
        self.assertEqual([n for _, n in cursor], [
                'TCK0007', 'TCK0010', 'TCK0009', 'TCK0011'])
        new, = self._tickets(1)
        self.assertEqual(new.number, 'TCK0012')


class LateAcceptTestCase(DatabaseTestCase):
    "An agent accepting a ticket another accepted just before"

    @with_transaction()
    def test_late_accept_told_who_has_it(self):
        "The late agent is told who has the ticket, over the desk's RPC"
        from trytond.exceptions import UserError

        from .rpc import call
        from .test_lead import make_user
        pool = Pool()
        Ticket = pool.get('autolead.ticket')
        Party = pool.get('party.party')
        kavya = make_user('kavya', 'group_support')
        rohit = make_user('rohit', 'group_support')
        customer, = Party.create([{'name': "Priya"}])
        ticket, = Ticket.create([{
                    'subject': "Invoice", 'customer': customer.id}])

        call(kavya, 'autolead.ticket', 'accept', [ticket.id])

        # rohit may no longer read the ticket: he is told who has it, not
        # that he is not allowed to read it
        with self.assertRaisesRegex(UserError, 'already accepted by Kavya'):
            call(rohit, 'autolead.ticket', 'accept', [ticket.id])
