"""The attacks of issue 13, replayed as the desk client would send them

Each test sends what the attacker sent, through the RPC table as the
dispatcher runs it (see rpc.py), and checks that it is refused, next to what
the same user may still do.
"""
import datetime
from types import SimpleNamespace

from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .database import DatabaseTestCase
from .rpc import action_id, call, run_wizard
from .test_lead import make_user

ROLES = {
    'admin': 'group_autolead_admin',
    'head': 'group_sales_head',
    'rep': 'group_sales_rep',
    'rep2': 'group_sales_rep',
    'support': 'group_support',
    'support2': 'group_support',
    'support_lead': 'group_support_lead',
    'nobody': None,
    }


def make_world():
    """Users of every role, two representatives' leads with their activities,
    two customers (one with a portal account), two agents' tickets"""
    pool = Pool()
    User = pool.get('res.user')
    Lead = pool.get('autolead.lead')
    Party = pool.get('party.party')
    WebUser = pool.get('web.user')
    Call = pool.get('autolead.call')
    Task = pool.get('autolead.task')
    Appointment = pool.get('autolead.appointment')
    Ticket = pool.get('autolead.ticket')
    Canned = pool.get('autolead.canned_response')
    w = SimpleNamespace()
    for role, group in ROLES.items():
        if group:
            user = make_user(f'sec_{role}', group, f'{role}@example.com')
        else:
            user, = User.create([{'login': 'sec_nobody', 'name': "Nobody"}])
        setattr(w, role, user)
    w.mine, w.hers = Lead.create([{
                'name': "Ravi Mine", 'email': 'ravi@example.com',
                'phone': '+911111111111', 'company_name': "Mine Ltd",
                'source': 'website', 'owner': w.rep.id,
                }, {
                'name': "Asha Hers", 'email': 'asha@example.com',
                'phone': '+912222222222', 'company_name': "Secret Corp",
                'source': 'website', 'owner': w.rep2.id,
                }])
    w.customer, w.other_customer = Party.create([
            {'name': "Meera Customer", 'customer_status': 'active'},
            {'name': "Kiran Other", 'customer_status': 'active'}])
    Lead.write([w.mine], {'party': w.customer.id})
    Lead.write([w.hers], {'party': w.other_customer.id})
    w.web_user, = WebUser.create([{
                'email': 'meera@example.com', 'password': 'Secret-pass-42',
                'party': w.customer.id, 'email_valid': True}])
    w.web_user.reset_password_token = 'reset-token-of-meera'
    w.web_user.reset_password_token_expire = (
        datetime.datetime.now() + datetime.timedelta(hours=1))
    w.web_user.save()
    w.her_call, = Call.create([{
                'subject': "Call Asha", 'lead': w.hers.id,
                'caller': w.rep2.id}])
    w.her_task, = Task.create([{
                'name': "Send Asha the offer", 'lead': w.hers.id,
                'assignee': w.rep2.id}])
    w.her_appointment, = Appointment.create([{
                'name': "Meet Asha", 'lead': w.hers.id,
                'organizer': w.rep2.id,
                'start': datetime.datetime.now() + datetime.timedelta(days=1),
                'duration': datetime.timedelta(hours=1)}])
    w.ticket, w.other_ticket = Ticket.create([
            {'customer': w.customer.id, 'subject': "Mine"},
            {'customer': w.other_customer.id, 'subject': "Theirs"}])
    Ticket.write([w.ticket], {
            'state': 'accepted', 'accepted_by': w.support.id})
    Ticket.write([w.other_ticket], {
            'state': 'accepted', 'accepted_by': w.support2.id})
    pool.get('ir.attachment').create([{
                'resource': str(lead), 'name': f'{lead.name}.txt',
                'data': b'offer'} for lead in [w.mine, w.hers]])
    pool.get('ir.note').create([{
                'resource': str(lead), 'message': f"Note on {lead.name}"}
            for lead in [w.mine, w.hers]])
    w.canned, = Canned.create([{
                'name': "Hello", 'body': "Dear {customer}, about {ticket}"}])
    return w


def lead_context(lead, action):
    return {
        'active_model': 'autolead.lead',
        'active_id': lead.id,
        'active_ids': [lead.id],
        'action_id': action_id(action),
        }


class SecurityTestCase(DatabaseTestCase):
    "Every finding of issue 13 (points 1-4), replayed"

    @with_transaction()
    def test_wizard_with_foreign_action_id(self):
        "A rep cannot run Merge or Assign by sending Change Stage's action id"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        w = make_world()
        change_stage = lead_context(
            w.mine, 'autolead.wizard_lead_change_stage')

        # the wizard the action belongs to is his
        call(w.rep, 'autolead.lead.change_stage', 'create',
            context=change_stage, type='wizard')
        for wizard, steps in [
                ('autolead.lead.merge', [('merge', {'ask': {
                                    'duplicate': w.hers.id,
                                    'original': w.mine.id}})]),
                ('autolead.lead.assign', [('assign', {'start': {
                                    'owner': w.rep2.id}})]),
                ]:
            with self.subTest(wizard=wizard):
                with self.assertRaises(AccessError):
                    run_wizard(w.rep, wizard, change_stage, steps)
                # nor with a session opened by the wizard he may run
                session_id, _, _ = call(w.rep, 'autolead.lead.change_stage',
                    'create', context=change_stage, type='wizard')
                with self.assertRaises(AccessError):
                    call(w.rep, wizard, 'execute', session_id,
                        steps[0][1], steps[0][0], context=change_stage,
                        type='wizard')
                # an id that is no action at all does not help either
                with self.assertRaises(AccessError):
                    run_wizard(w.rep, wizard,
                        {**change_stage, 'action_id': 999999}, steps)
        hers = Lead(w.hers.id)
        self.assertTrue(hers.active)
        self.assertEqual(hers.owner, w.rep2)
        self.assertEqual(Lead(w.mine.id).owner, w.rep)

        # the sales head still merges with the right action
        run_wizard(w.head, 'autolead.lead.merge',
            lead_context(w.hers, 'autolead.wizard_lead_merge'),
            [('merge', {'ask': {
                            'duplicate': w.hers.id,
                            'original': w.mine.id}})])
        Lead = pool.get('autolead.lead')
        self.assertFalse(Lead(w.hers.id).active)

    @with_transaction()
    def test_party_erase(self):
        "Erase is the administrator's, and only of the selected customer"
        pool = Pool()
        Party = pool.get('party.party')
        ModelData = pool.get('ir.model.data')
        w = make_world()
        Party.write([w.customer, w.other_customer], {'active': False})
        context = {
            'active_model': 'party.party',
            'active_id': w.customer.id,
            'active_ids': [w.customer.id],
            'action_id': action_id('autolead.wizard_lead_change_stage'),
            }
        steps = [('erase', {'ask': {'party': w.other_customer.id}})]
        for user in [w.rep, w.head, w.support]:
            with self.subTest(user=user.login):
                with self.assertRaises(AccessError):
                    run_wizard(user, 'party.erase', context, steps)
        w.admin.groups += (ModelData.get_id('party', 'group_party_admin'),)
        w.admin.save()
        context['action_id'] = action_id('party.wizard_erase')
        with self.assertRaises(AccessError):
            run_wizard(w.admin, 'party.erase', context, steps)
        with Transaction().set_context(active_test=False):
            self.assertEqual(
                Party(w.other_customer.id).name, "Kiran Other")
        run_wizard(w.admin, 'party.erase', context,
            [('erase', {'ask': {'party': w.customer.id}})])
        with Transaction().set_context(active_test=False):
            self.assertNotEqual(Party(w.customer.id).name, "Meera Customer")

    @with_transaction()
    def test_portal_secrets(self):
        "No staff reads, searches, writes or exports a customer's secrets"
        w = make_world()
        secret_fields = ['password_hash', 'reset_password_token',
            'reset_password_token_expire', 'email_token']
        for user in [w.rep, w.head, w.support, w.support_lead, w.nobody]:
            with self.subTest(user=user.login):
                for name in secret_fields:
                    with self.assertRaises(AccessError):
                        call(user, 'web.user', 'read', [w.web_user.id],
                            [name])
                    with self.assertRaises(AccessError):
                        call(user, 'web.user', 'search',
                            [(name, 'like', 'reset%')])
                    with self.assertRaises(AccessError):
                        call(user, 'web.user', 'export_data',
                            [w.web_user.id], [name])
                with self.assertRaises(AccessError):
                    call(user, 'web.user', 'write', [w.web_user.id],
                        {'password': 'Taken-over-99'})
                with self.assertRaises(AccessError):
                    call(user, 'res.user', 'read', [w.admin.id],
                        ['password_reset'])
        self.assertEqual(
            call(w.admin, 'web.user', 'read', [w.web_user.id],
                ['reset_password_token'])[0]['reset_password_token'],
            'reset-token-of-meera')

    @with_transaction()
    def test_on_change_foreign_records(self):
        "on_change answers nothing about records the user cannot read"
        w = make_world()
        attacks = [
            (w.rep, 'autolead.call', 'on_change',
                [{'lead': w.hers.id, 'phone': None}, ['lead']]),
            (w.rep, 'autolead.call', 'on_change_lead',
                [{'lead': w.hers.id, 'phone': None}]),
            (w.support, 'autolead.call', 'on_change',
                [{'lead': w.mine.id, 'phone': None}, ['lead']]),
            (w.rep, 'autolead.appointment', 'on_change',
                [{'lead': w.hers.id, 'name': None, 'party': None},
                    ['lead']]),
            (w.support, 'autolead.appointment', 'on_change',
                [{'lead': w.hers.id, 'name': None, 'party': None},
                    ['lead']]),
            (w.support, 'autolead.ticket.message', 'on_change',
                [{'ticket': w.other_ticket.id, 'body': None,
                        'canned_response': w.canned.id},
                    ['canned_response']]),
            (w.rep, 'autolead.call', 'on_change',
                [{'id': w.her_call.id, 'lead': None, 'phone': None},
                    ['lead']]),
            ]
        for user, model, method, args in attacks:
            with self.subTest(user=user.login, model=model, method=method):
                with self.assertRaises(AccessError):
                    call(user, model, method, *args)
        # on their own records they still work
        changes = call(w.rep, 'autolead.call', 'on_change',
            {'lead': w.mine.id, 'phone': None}, ['lead'])
        self.assertEqual(changes['phone'], '+911111111111')
        changes = call(w.support, 'autolead.ticket.message', 'on_change',
            {'ticket': w.ticket.id, 'body': None,
                'canned_response': w.canned.id}, ['canned_response'])
        self.assertIn("Meera Customer", changes['body'])

    @with_transaction()
    def test_activities_on_foreign_leads(self):
        "A rep creates no call, task or appointment on another rep's lead"
        pool = Pool()
        w = make_world()
        start = datetime.datetime.now() + datetime.timedelta(days=2)
        for model, values in [
                ('autolead.call', {'subject': "Spy", 'caller': w.rep.id}),
                ('autolead.task', {'name': "Spy", 'assignee': w.rep.id}),
                ('autolead.appointment', {'name': "Spy",
                        'organizer': w.rep.id, 'start': start,
                        'duration': datetime.timedelta(hours=1)}),
                ]:
            Model = pool.get(model)
            with self.subTest(model=model):
                with self.assertRaises(AccessError):
                    call(w.rep, model, 'create',
                        [{**values, 'lead': w.hers.id}])
                own, = call(w.rep, model, 'create',
                    [{**values, 'lead': w.mine.id}])
                with self.assertRaises(AccessError):
                    call(w.rep, model, 'write', [own], {'lead': w.hers.id})
                self.assertEqual(Model(own).lead, w.mine)

    @with_transaction()
    def test_search_through_foreign_lead(self):
        "Searching through a relation tells nothing about a foreign lead"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        Call = pool.get('autolead.call')
        w = make_world()
        Lead.write([w.mine], {'duplicate_of': w.hers.id})
        own_call, = Call.create([{
                    'subject': "Mine", 'caller': w.rep.id,
                    'lead': w.hers.id}])
        pool.get('autolead.lead.note').create([{
                    'lead': w.hers.id, 'text': "Budget 2M, decides in May",
                    'date': datetime.datetime.now()}])
        oracles = [
            ('autolead.lead', [('duplicate_of.phone', '=', '+912222222222')]),
            ('autolead.lead', [('duplicate_of.phone', '!=', '+910000')]),
            ('autolead.lead', [('duplicate_of.owner', '=', w.rep2.id)]),
            ('autolead.lead', [('duplicate_of', 'where',
                        [('company_name', '=', "Secret Corp")])]),
            ('autolead.lead', [('duplicate_of', 'ilike', '%Asha%')]),
            ('autolead.call', [('lead.phone', 'like', '+9122%')]),
            ('autolead.call', [('lead.notes.text', 'like', '%Budget%')]),
            ]
        for model, domain in oracles:
            with self.subTest(model=model, domain=domain):
                self.assertEqual(
                    call(w.rep, model, 'search_count', domain), 0)
        # the same question about his own records is answered
        self.assertEqual(call(w.rep, 'autolead.lead', 'search',
                [('duplicate_of', '=', w.hers.id)]), [w.mine.id])
        self.assertEqual(call(w.rep, 'autolead.call', 'search',
                [('id', '=', own_call.id), ('lead', '!=', None)]),
            [own_call.id])
        Lead.write([w.hers], {'owner': w.rep.id})
        self.assertEqual(call(w.rep, 'autolead.lead', 'search_count',
                [('duplicate_of.phone', '=', '+912222222222')]), 1)

    @with_transaction()
    def test_customers(self):
        "Staff edit only the customers their role needs; deletion is admin's"
        pool = Pool()
        Party = pool.get('party.party')
        w = make_world()
        # a rep reads the customer of his lead, not the other one
        self.assertEqual(call(w.rep, 'party.party', 'search', []),
            [w.customer.id])
        with self.assertRaises(AccessError):
            call(w.rep, 'party.party', 'read', [w.other_customer.id],
                ['name'])
        with self.assertRaises(AccessError):
            call(w.rep, 'party.party', 'write', [w.other_customer.id],
                {'name': "Renamed"})
        with self.assertRaises(AccessError):
            call(w.rep, 'party.contact_mechanism', 'create', [{
                        'party': w.other_customer.id, 'type': 'email',
                        'value': 'attacker@example.com'}])
        call(w.rep, 'party.party', 'write', [w.customer.id],
            {'name': "Meera C."})
        with self.assertRaises(AccessError):
            call(w.rep, 'party.party', 'write', [w.customer.id],
                {'customer_status': 'blocked'})
        for user in [w.rep, w.head, w.support, w.support_lead, w.nobody]:
            with self.subTest(user=user.login):
                with self.assertRaises(AccessError):
                    call(user, 'party.party', 'delete', [w.customer.id])
        with self.assertRaises(AccessError):
            call(w.nobody, 'party.party', 'read', [w.customer.id], ['name'])
        spare, = Party.create([{'name': "Spare"}])
        call(w.admin, 'party.party', 'delete', [spare.id])
        self.assertFalse(Party.search([('id', '=', spare.id)]))

    @with_transaction()
    def test_blocked_customer_signs_in(self):
        "A blocked customer's portal account no longer signs in"
        pool = Pool()
        WebUser = pool.get('web.user')
        w = make_world()
        self.assertEqual(
            WebUser.authenticate('meera@example.com', 'Secret-pass-42'),
            w.web_user)
        session = w.web_user.new_session()
        call(w.head, 'party.party', 'write', [w.customer.id],
            {'customer_status': 'blocked'})
        self.assertIsNone(
            WebUser.authenticate('meera@example.com', 'Secret-pass-42'))
        user = WebUser.get_user(session)
        self.assertFalse(user and user.active)
        call(w.head, 'party.party', 'write', [w.customer.id],
            {'customer_status': 'active'})
        self.assertEqual(
            WebUser.authenticate('meera@example.com', 'Secret-pass-42'),
            w.web_user)

    @with_transaction()
    def test_export_hidden_records(self):
        "Export gives nothing of a record hidden by the rules"
        w = make_world()
        for user, model, record, names in [
                (w.rep, 'autolead.lead', w.hers, ['name', 'phone']),
                (w.rep, 'autolead.call', w.her_call, ['subject']),
                (w.rep, 'party.party', w.other_customer, ['name']),
                (w.support, 'autolead.ticket', w.other_ticket, ['subject']),
                ]:
            with self.subTest(user=user.login, model=model):
                with self.assertRaises(AccessError):
                    call(user, model, 'export_data', [record.id], names)
                with self.assertRaises(AccessError):
                    call(user, model, 'copy', [record.id], {})
        self.assertEqual(
            call(w.rep, 'autolead.lead', 'export_data', [w.mine.id],
                ['phone']), [['+911111111111']])

    @with_transaction()
    def test_report_export_as_the_user_sees_it(self):
        "The report export wizard reads the reports with the user's access"
        w = make_world()
        steps = [('export', {'start': {
                            'report': 'autolead.reporting.rep',
                            'format': 'csv', 'period': 'day'}})]
        context = {'action_id': action_id('autolead.wizard_reporting_export')}
        for user in [w.nobody, w.support]:
            with self.subTest(user=user.login):
                with self.assertRaises(AccessError):
                    run_wizard(user, 'autolead.reporting.export', context,
                        steps)
        result = run_wizard(w.head, 'autolead.reporting.export', context,
            steps)
        self.assertTrue(result['view']['defaults']['file'])
