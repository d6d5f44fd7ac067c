import datetime
import importlib.util
from decimal import Decimal
from pathlib import Path

from trytond.exceptions import UserError
from trytond.model.exceptions import (
    AccessError, RequiredValidationError, ValidationError)
from trytond.pool import Pool
from trytond.pyson import PYSONDecoder
from trytond.tests.test_tryton import (
    with_transaction)
from trytond.transaction import Transaction, check_access

from .database import DatabaseTestCase

DEMO = Path(__file__).resolve().parents[2] / 'scripts' / 'demo_data.py'


def stage(xml_id):
    pool = Pool()
    ModelData = pool.get('ir.model.data')
    Stage = pool.get('autolead.lead.stage')
    return Stage(ModelData.get_id('autolead', xml_id))


def make_user(login, group_xml_id, email=None):
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    user, = User.create([{
                'login': login,
                'name': login.title(),
                'email': email,
                'groups': [('add', [
                            ModelData.get_id('autolead', group_xml_id)])],
                }])
    return user


class LeadTestCase(DatabaseTestCase):
    "Edges of lead management"

    @with_transaction()
    def test_default_stage(self):
        "A new lead starts in the first open stage"
        Lead = Pool().get('autolead.lead')

        lead, = Lead.create([{'name': "Asha"}])

        self.assertEqual(lead.stage, stage('stage_new'))
        self.assertEqual(lead.stage_kind, 'open')
        self.assertEqual(Lead.search([('stage_kind', '=', 'open')]), [lead])
        self.assertEqual(Lead.search([('stage_kind', '=', 'won')]), [])

    @with_transaction()
    def test_stage_transition_refused(self):
        "A stage move not in the transition table is refused"
        Lead = Pool().get('autolead.lead')
        lead, = Lead.create([{'name': "Asha"}])

        with self.assertRaisesRegex(ValidationError, 'cannot move'):
            Lead.write([lead], {'stage': stage('stage_won').id})

        Lead.write([lead], {'stage': stage('stage_contacted').id})
        self.assertEqual(lead.stage, stage('stage_contacted'))

    @with_transaction()
    def test_stage_transition_editable(self):
        "An administrator can allow a new move"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        Transition = pool.get('autolead.lead.stage.transition')
        lead, = Lead.create([{'name': "Asha"}])

        Transition.create([{
                    'from_stage': stage('stage_new').id,
                    'to_stage': stage('stage_won').id,
                    }])
        Lead.write([lead], {'stage': stage('stage_won').id})

        self.assertEqual(lead.stage_kind, 'won')

    @with_transaction()
    def test_lost_needs_reason(self):
        "A lost lead without a reason is refused"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        LostReason = pool.get('autolead.lead.lost_reason')
        lead, = Lead.create([{'name': "Asha"}])

        with self.assertRaisesRegex(RequiredValidationError, '[Rr]eason'):
            Lead.write([lead], {'stage': stage('stage_lost').id})
        with self.assertRaisesRegex(RequiredValidationError, '[Rr]eason'):
            Lead.create([{'name': "Bina", 'stage': stage('stage_lost').id}])

        reason, = LostReason.search([], limit=1)
        Lead.write([lead], {
                'stage': stage('stage_lost').id,
                'lost_reason': reason.id,
                })
        self.assertEqual(lead.lost_reason, reason)

    @with_transaction()
    def test_history(self):
        "Creation and changes of tracked fields are in the timeline"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        History = pool.get('autolead.lead.history')
        lead, = Lead.create([{'name': "Asha", 'source': 'website'}])

        Lead.write([lead], {
                'stage': stage('stage_contacted').id,
                'expected_value': Decimal('1500.00'),
                'source': 'website',
                })

        entries = History.search(
            [('lead', '=', lead.id)], order=[('id', 'ASC')])
        self.assertEqual(
            [(h.field, h.old_value, h.new_value) for h in entries], [
                (None, None, "New"),
                ('stage', "New", "Contacted"),
                ('expected_value', None, "1500.00"),
                ])

    @with_transaction()
    def test_follow_up_count(self):
        "The number of notes is counted, searched and sorted on"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        Note = pool.get('autolead.lead.note')
        asha, bina = Lead.create([{'name': "Asha"}, {'name': "Bina"}])
        Note.create([
                {'lead': asha.id, 'text': "Called"},
                {'lead': asha.id, 'text': "Called again"},
                {'lead': bina.id, 'text': "Mailed"},
                ])

        self.assertEqual(
            [asha.follow_up_count, bina.follow_up_count], [2, 1])
        self.assertEqual(Lead.search([('follow_up_count', '>=', 2)]), [asha])
        self.assertEqual(Lead.search([('follow_up_count', '=', 0)]), [])
        self.assertEqual(
            Lead.search([], order=[('follow_up_count', 'ASC')]),
            [bina, asha])

    @with_transaction()
    def test_list_function_fields(self):
        "A page of leads reads its stage colours and note counts at once"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        Note = pool.get('autolead.lead.note')
        Stage = pool.get('autolead.lead.stage')
        leads = Lead.create([{'name': f"Lead {i}"} for i in range(5)])
        Lead.write(leads[:2], {'stage': stage('stage_contacted').id})
        Stage.write([stage('stage_new')], {'colour': 'danger'})
        Note.create([{'lead': leads[1].id, 'text': "Called"} for _ in range(3)]
            + [{'lead': leads[4].id, 'text': "Mailed"}])

        rows = Lead.read(
            [l.id for l in leads], ['stage_colour', 'follow_up_count'])

        self.assertEqual(
            [(r['stage_colour'], r['follow_up_count']) for r in rows], [
                (None, 0), (None, 3), ('danger', 0), ('danger', 0),
                ('danger', 1)])
        lead = Lead()
        lead.stage = stage('stage_new')
        self.assertEqual(lead.on_change_with_stage_colour(), 'danger')

    @with_transaction()
    def test_search_box_by_contact_key(self):
        "A whole email or phone typed in the search box finds the lead"
        Lead = Pool().get('autolead.lead')
        asha, _ = Lead.create([{
                    'name': "Asha", 'email': 'Asha.Rao@Example.com',
                    'phone': '+91 98450 12345',
                    }, {
                    'name': "Bina", 'email': 'bina@example.com',
                    }])

        for text in ['asha.rao@example.com', '%ASHA.RAO@example.com%',
                '098450 12345', '%+919845012345%', '%Asha%', '%98450 1%']:
            self.assertEqual(
                Lead.search([('rec_name', 'ilike', text)]), [asha], text)
        self.assertEqual(
            Lead.search([('rec_name', 'ilike', '%nobody@example.com%')]), [])

    @with_transaction()
    def test_saved_filters(self):
        "The filter tabs of the Leads action select the expected leads"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        Interaction = pool.get('autolead.lead.interaction')
        ModelData = pool.get('ir.model.data')
        Domain = pool.get('ir.action.act_window.domain')
        today = datetime.date.today()
        yesterday = today - datetime.timedelta(days=1)
        hot, today_lead, missed, called = Lead.create([
                {'name': "Hot", 'source': 'google'},
                {'name': "Today", 'next_follow_up': today},
                {'name': "Missed", 'next_follow_up': yesterday},
                {'name': "Called", 'source': 'phone'},
                ])
        Interaction.create([{'lead': called.id, 'type': 'call'}])
        # hot leads are the open ones that score high (see lead scoring)
        Lead.write([hot], {'score': 85})

        def tab(xml_id):
            domain = Domain(ModelData.get_id(
                    'autolead', f'act_lead_form_domain_{xml_id}'))
            return set(Lead.search(PYSONDecoder().decode(domain.domain)))

        # Hot Leads has a menu of its own, the highest score first
        Action = pool.get('ir.action.act_window')
        hot_action = Action(ModelData.get_id('autolead', 'act_lead_hot'))
        warm, = Lead.create([{'name': "Warm", 'source': 'google'}])
        Lead.write([warm], {'score': 95})
        self.assertEqual(
            Lead.search(
                PYSONDecoder().decode(hot_action.pyson_domain),
                order=PYSONDecoder().decode(hot_action.pyson_order)),
            [warm, hot])
        Lead.delete([warm])
        self.assertEqual(tab('follow_up_today'), {today_lead})
        self.assertEqual(tab('follow_up_missed'), {missed})
        self.assertEqual(
            tab('not_attempted'), {hot, today_lead, missed})
        self.assertEqual(tab('previous_month'), set())
        self.assertEqual(tab('lost'), set())

    @with_transaction()
    def test_rep_cannot_reassign(self):
        "A representative cannot give their lead to someone else"
        Lead = Pool().get('autolead.lead')
        ravi = make_user('ravi', 'group_sales_rep')
        meera = make_user('meera', 'group_sales_rep')
        lead, = Lead.create([{'name': "Asha", 'owner': ravi.id}])

        with Transaction().set_user(ravi.id), check_access():
            lead = Lead(lead.id)
            with self.assertRaisesRegex(AccessError, 'Only the sales head'):
                Lead.write([lead], {'owner': meera.id})
            Lead.write([lead], {'name': "Asha Rao", 'owner': ravi.id})

    @with_transaction()
    def test_rep_cannot_create_for_others(self):
        "A representative cannot create a lead for someone else"
        Lead = Pool().get('autolead.lead')
        ravi = make_user('ravi', 'group_sales_rep')
        meera = make_user('meera', 'group_sales_rep')

        with Transaction().set_user(ravi.id), check_access():
            with self.assertRaisesRegex(AccessError, 'Only the sales head'):
                Lead.create([{'name': "Asha", 'owner': meera.id}])
            lead, = Lead.create([{'name': "Asha"}])
            self.assertEqual(lead.owner, ravi)

    @with_transaction()
    def test_configuration_admin_only(self):
        "Staff read the lead configuration, only the administrator edits it"
        pool = Pool()
        ravi = make_user('ravi', 'group_sales_rep')
        head = make_user('head', 'group_sales_head')
        agent = make_user('agent', 'group_support')
        values = {
            'autolead.lead.stage': {'name': "Demo", 'kind': 'open'},
            'autolead.lead.lost_reason': {'name': "Price"},
            'autolead.lead.tag': {'name': "VIP"},
            'autolead.lead.assignment.rule': {
                'name': "All to Ravi", 'method': 'fixed', 'user': ravi.id},
            }

        for user in [ravi, head, agent]:
            with Transaction().set_user(user.id), check_access():
                for name, record in values.items():
                    Model = pool.get(name)
                    Model.search([])
                    with self.assertRaises(AccessError):
                        Model.create([record])
        with check_access():
            for name, record in values.items():
                pool.get(name).create([record])

    @with_transaction()
    def test_rep_load_sales_head_only(self):
        "The load of the representatives is for the sales head"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        RepLoad = pool.get('autolead.lead.rep_load')
        ravi = make_user('ravi', 'group_sales_rep')
        head = make_user('head', 'group_sales_head')
        Lead.create([
                {'name': "Asha", 'owner': ravi.id},
                {'name': "Bina", 'owner': ravi.id},
                {'name': "Chitra"},
                ])

        with Transaction().set_user(head.id), check_access():
            self.assertEqual(
                sorted((r.owner and r.owner.login, r.lead_count)
                    for r in RepLoad.search([]) if r.owner),
                [('ravi', 2)])
        with Transaction().set_user(ravi.id), check_access():
            with self.assertRaises(AccessError):
                RepLoad.search([])

    @with_transaction()
    def test_round_robin(self):
        "Leads without owner go in turn to the team of the first rule"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        Rule = pool.get('autolead.lead.assignment.rule')
        ravi = make_user('ravi', 'group_sales_rep')
        meera = make_user('meera', 'group_sales_rep')
        arjun = make_user('arjun', 'group_sales_rep')
        Rule.create([{
                    'name': "Pune",
                    'sequence': 1,
                    'territory': "Pune",
                    'method': 'fixed',
                    'user': arjun.id,
                    }, {
                    'name': "Website",
                    'sequence': 2,
                    'source': 'website',
                    'method': 'round_robin',
                    'team': [('add', [ravi.id, meera.id])],
                    }])

        leads = Lead.create([
                {'name': "A", 'source': 'website'},
                {'name': "B", 'source': 'website'},
                {'name': "C", 'source': 'website', 'territory': " pune"},
                {'name': "D", 'source': 'website'},
                {'name': "E", 'source': 'phone'},
                {'name': "F", 'source': 'website', 'owner': arjun.id},
                ])

        self.assertEqual(
            [l.owner for l in leads], [ravi, meera, arjun, ravi, None, arjun])

    @with_transaction()
    def test_round_robin_needs_team(self):
        "A round-robin rule without team is refused"
        Rule = Pool().get('autolead.lead.assignment.rule')

        with self.assertRaisesRegex(RequiredValidationError, 'Team'):
            Rule.create([{'name': "Empty", 'method': 'round_robin'}])

    @with_transaction()
    def test_convert_only_won_once(self):
        "Only a won lead converts, and only once"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        lead, = Lead.create([{
                    'name': "Asha", 'email': "asha@example.com",
                    'phone': "+91 98450 12345", 'company_name': "Rao Ltd",
                    }])

        with self.assertRaisesRegex(UserError, 'must be won'):
            lead.convert_to_customer()

        for xml_id in [
                'stage_contacted', 'stage_qualified', 'stage_in_progress',
                'stage_won']:
            Lead.write([lead], {'stage': stage(xml_id).id})
        party = lead.convert_to_customer()

        self.assertEqual(party.name, "Asha")
        self.assertEqual(party.company_name, "Rao Ltd")
        self.assertEqual(party.customer_status, 'new')
        self.assertEqual(
            sorted(m.type for m in party.contact_mechanisms),
            ['email', 'phone'])
        self.assertEqual(lead.party, party)
        with self.assertRaisesRegex(UserError, 'already converted'):
            lead.convert_to_customer()

    @with_transaction()
    def test_convert_local_phone(self):
        "A local phone number the lead accepted converts with the customer"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        lead, = Lead.create([{
                    'name': "Ravi Kumar", 'phone': "098450 12345",
                    'stage': stage('stage_won').id,
                    }])

        party = lead.convert_to_customer()

        phone, = party.contact_mechanisms
        self.assertEqual(phone.type, 'phone')
        self.assertEqual(phone.value_compact, '+919845012345')

    @with_transaction()
    def test_rep_reads_activity_of_own_leads(self):
        "Notes, interactions and timeline follow the lead's owner"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        Note = pool.get('autolead.lead.note')
        Interaction = pool.get('autolead.lead.interaction')
        History = pool.get('autolead.lead.history')
        ravi = make_user('ravi', 'group_sales_rep')
        meera = make_user('meera', 'group_sales_rep')
        agent = make_user('agent', 'group_support')
        ravi_lead, meera_lead = Lead.create([
                {'name': "Asha", 'owner': ravi.id},
                {'name': "Bina", 'owner': meera.id},
                ])
        for lead in [ravi_lead, meera_lead]:
            Note.create([{'lead': lead.id, 'text': "Called"}])
            Interaction.create([{'lead': lead.id, 'type': 'call'}])

        with Transaction().set_user(ravi.id), check_access():
            for Model in [Note, Interaction, History]:
                self.assertEqual(
                    {r.lead.id for r in Model.search([])}, {ravi_lead.id})
            with self.assertRaises(AccessError):
                Note.create([{'lead': meera_lead.id, 'text': "Mine now"}])
            history, = History.search([('field', '=', None)])
            with self.assertRaises(AccessError):
                History.write([history], {'new_value': "Forged"})
            with self.assertRaises(AccessError):
                History.delete([history])
            note, = Note.create([{'lead': ravi_lead.id, 'text': "Mailed"}])
            self.assertEqual(note.author, ravi)

        with Transaction().set_user(agent.id), check_access():
            for Model in [Note, Interaction, History]:
                with self.assertRaises(AccessError):
                    Model.search([])

    @with_transaction()
    def test_timeline(self):
        "One timeline shows changes, notes, contacts, calls, meetings, tasks"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        Note = pool.get('autolead.lead.note')
        Interaction = pool.get('autolead.lead.interaction')
        Call = pool.get('autolead.call')
        Appointment = pool.get('autolead.appointment')
        Task = pool.get('autolead.task')
        Timeline = pool.get('autolead.lead.timeline')
        ravi = make_user('ravi', 'group_sales_rep')
        meera = make_user('meera', 'group_sales_rep')
        agent = make_user('agent', 'group_support')
        lead, other = Lead.create([
                {'name': "Asha", 'owner': ravi.id},
                {'name': "Bina", 'owner': meera.id},
                ])
        now = datetime.datetime.now()
        Lead.write([lead], {'stage': stage('stage_contacted').id})
        Note.create([{
                    'lead': lead.id, 'author': ravi.id,
                    'text': "Wants a quote\nfor 20 seats"}])
        Interaction.create([{
                    'lead': lead.id, 'user': ravi.id, 'type': 'email',
                    'direction': 'outbound', 'summary': "Sent the brochure"}])
        Call.create([{
                    'subject': "First call", 'lead': lead.id,
                    'caller': ravi.id, 'direction': 'outgoing'}])
        Appointment.create([{
                    'name': "Demo at their office", 'kind': 'demo',
                    'organizer': ravi.id, 'lead': lead.id,
                    'start': now + datetime.timedelta(days=2),
                    'duration': datetime.timedelta(hours=1)}])
        Task.create([{
                    'name': "Prepare the quote", 'lead': lead.id,
                    'assignee': ravi.id}])
        Note.create([{'lead': other.id, 'text': "Not Ravi's"}])
        others = [t.id for t in Lead(other.id).timeline]
        self.assertGreaterEqual(len(others), 2)

        with Transaction().set_user(ravi.id), check_access():
            lead = Lead(lead.id)
            lines = {l.kind: l for l in lead.timeline}
            self.assertEqual(
                set(lines),
                {'change', 'note', 'interaction', 'call', 'appointment',
                    'task'})
            self.assertEqual(lead.timeline[0].kind, 'appointment')
            descriptions = [l.description for l in lead.timeline]
            self.assertIn("Wants a quote", descriptions)
            self.assertIn("Lead created", descriptions)
            self.assertIn("Stage: New → Contacted", descriptions)
            self.assertIn(
                "Email (outbound) — Sent the brochure", descriptions)
            self.assertTrue(any(
                    d.startswith("Prepare the quote") for d in descriptions))
            self.assertEqual(lines['note'].user, ravi)
            self.assertEqual(
                {l.lead.id for l in Timeline.search([])}, {lead.id})
            with self.assertRaises(AccessError):
                Timeline.read(others, ['kind'])

        with Transaction().set_user(agent.id), check_access():
            with self.assertRaises(AccessError):
                Timeline.search([])

    @with_transaction()
    def test_demo_data(self):
        "The demo data loads with stages, rules and activity"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        spec = importlib.util.spec_from_file_location('demo_data', DEMO)
        demo = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(demo)

        with Transaction().set_user(0):
            self.assertTrue(demo.load_demo(leads=60))

        # 60 leads plus the 12 contacts coming back as duplicates
        self.assertEqual(Lead.search_count([]), 72)
        self.assertEqual(
            Lead.search_count([('duplicate_of', '!=', None)]), 12)
        self.assertTrue(Lead.search([('stage.name', '=', "Not Attempted")]))
        self.assertTrue(Lead.search([('follow_up_count', '>', 0)]))

        # a history, not every lead on the day the demo was loaded
        leads = Lead.search([])
        months = {l.create_date.strftime('%Y-%m') for l in leads}
        self.assertGreaterEqual(len(months), 6)
        closed = [l for l in leads if l.closed_at]
        self.assertTrue(closed)
        self.assertTrue(all(l.closed_at >= l.create_date for l in closed))
        self.assertGreater(
            len({l.closed_at.date() for l in closed}), len(closed) // 3)
        # the notes and interactions fall in the lead's life, not after now
        now = datetime.datetime.now()
        for lead in leads:
            for activity in lead.notes + lead.interactions:
                self.assertGreaterEqual(activity.date, lead.create_date)
                self.assertLessEqual(activity.date, now)
        # the report rollups count the leads on their (past) days
        OwnerDay = pool.get('autolead.rollup.lead.owner_day')
        per_day = {}
        for row in OwnerDay.search([]):
            per_day[row.date] = per_day.get(row.date, 0) + row.leads
        by_lead = {}
        for lead in leads:
            day = lead.create_date.date()
            by_lead[day] = by_lead.get(day, 0) + 1
        self.assertEqual(
            {d: n for d, n in per_day.items() if n}, by_lead)
        # the administrator is not sent through the configuration wizard
        ConfigItem = pool.get('ir.module.config_wizard.item')
        self.assertFalse(ConfigItem.search([('state', '=', 'open')]))
        User = pool.get('res.user')
        admin, = User.search([('login', '=', 'admin')])
        self.assertEqual(admin.company.rec_name, "Auto Lead Demo Pvt. Ltd.")
        with Transaction().set_user(0):
            self.assertFalse(demo.load_demo(leads=60))
