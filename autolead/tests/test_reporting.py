import csv
import datetime
import io
from decimal import Decimal

from openpyxl import load_workbook

from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction, check_access

from ..reporting import report_file, report_table
from .database import DatabaseTestCase
from .test_lead import make_user, stage


def today():
    return Pool().get('ir.date').today()


def period(**context):
    "The context of a report covering today"
    context.setdefault('from_date', today())
    context.setdefault('to_date', today())
    context.setdefault('period', 'day')
    return Transaction().set_context(**context)


def rows(model_name, key, **context):
    "The rows of the report by key, as the current user sees them"
    Model = Pool().get(model_name)
    with period(**context):
        records = Model.search([])
        return {getattr(r, key): r for r in records}


class ReportingTestCase(DatabaseTestCase):
    "Figures of the reports match what was recorded"

    def setup_sales(self):
        """Two representatives and a head; Ravi has two open leads and a won
        one, Meera a won and a lost one"""
        pool = Pool()
        Lead = pool.get('autolead.lead')
        ModelData = pool.get('ir.model.data')
        ravi = make_user('ravi', 'group_sales_rep')
        meera = make_user('meera', 'group_sales_rep')
        head = make_user('head', 'group_sales_head')
        lost_reason = ModelData.get_id('autolead', 'lost_reason_no_budget')
        Lead.create([{
                    'name': "Open 1", 'owner': ravi.id, 'source': 'website',
                    'expected_value': Decimal(100),
                    }, {
                    'name': "Open 2", 'owner': ravi.id, 'source': 'website',
                    'expected_value': Decimal(200),
                    'stage': stage('stage_qualified').id,
                    }, {
                    'name': "Won 1", 'owner': ravi.id, 'source': 'google',
                    'expected_value': Decimal(500),
                    'stage': stage('stage_won').id,
                    }, {
                    'name': "Won 2", 'owner': meera.id, 'source': 'website',
                    'expected_value': Decimal(1000),
                    'stage': stage('stage_won').id,
                    }, {
                    'name': "Lost 1", 'owner': meera.id, 'source': 'facebook',
                    'expected_value': Decimal(50),
                    'stage': stage('stage_lost').id,
                    'lost_reason': lost_reason,
                    }])
        return ravi, meera, head

    @with_transaction()
    def test_leads_by_source(self):
        "Leads by source count the leads, outcomes and revenue of the period"
        self.setup_sales()

        sources = rows('autolead.reporting.lead.source', 'source')

        self.assertEqual(set(sources), {'website', 'google', 'facebook'})
        website = sources['website']
        self.assertEqual(
            (website.leads, website.open, website.won, website.lost),
            (3, 2, 1, 0))
        self.assertEqual(website.revenue, Decimal(1000))
        self.assertAlmostEqual(website.conversion, 100 / 3, places=1)
        self.assertEqual(
            (sources['facebook'].lost, sources['facebook'].revenue),
            (1, Decimal(0)))

    @with_transaction()
    def test_leads_outside_period(self):
        "Leads created before the period are not counted"
        self.setup_sales()

        tomorrow = today() + datetime.timedelta(days=1)
        sources = rows(
            'autolead.reporting.lead.source', 'source',
            from_date=tomorrow, to_date=tomorrow)

        self.assertEqual(sources, {})

    @with_transaction()
    def test_conversion_by_representative(self):
        "Each representative's leads, revenue and conversion rate"
        ravi, meera, _ = self.setup_sales()

        reps = rows('autolead.reporting.rep', 'owner')

        self.assertEqual(
            (reps[ravi].leads, reps[ravi].won, reps[ravi].revenue),
            (3, 1, Decimal(500)))
        self.assertAlmostEqual(reps[ravi].conversion, 33.3, places=1)
        self.assertEqual(
            (reps[meera].leads, reps[meera].lost, reps[meera].revenue),
            (2, 1, Decimal(1000)))
        self.assertAlmostEqual(reps[meera].conversion, 50.0)

    @with_transaction()
    def test_leads_per_owner_and_day(self):
        "Daily leads per owner"
        ravi, meera, _ = self.setup_sales()

        daily = rows('autolead.reporting.lead.daily', 'owner')

        self.assertEqual(daily[ravi].date, today())
        self.assertEqual(
            (daily[ravi].leads, daily[ravi].value), (3, Decimal(800)))
        self.assertEqual(daily[meera].leads, 2)

        monthly = rows('autolead.reporting.lead.daily', 'owner',
            period='month')
        self.assertEqual(monthly[ravi].date, today().replace(day=1))

    @with_transaction()
    def test_pipeline(self):
        "The pipeline counts and weighs the leads by stage probability"
        self.setup_sales()

        stages = rows('autolead.reporting.lead.stage', 'stage')

        new, qualified = stage('stage_new'), stage('stage_qualified')
        self.assertEqual(
            (stages[new].leads, stages[new].value,
                stages[new].weighted_value),
            (1, Decimal(100), Decimal(10)))
        self.assertEqual(
            stages[qualified].weighted_value, Decimal(80))
        self.assertEqual(stages[stage('stage_won')].leads, 2)
        self.assertEqual(stages[stage('stage_won')].stage_kind, 'won')

    @with_transaction()
    def test_representative_sees_own_figures(self):
        "A representative sees only their figures, the head everybody's"
        ravi, meera, head = self.setup_sales()

        with Transaction().set_user(ravi.id), check_access():
            reps = rows('autolead.reporting.rep', 'owner')
            sources = rows('autolead.reporting.lead.source', 'source')
            stages = rows('autolead.reporting.lead.stage', 'stage')
        with Transaction().set_user(head.id), check_access():
            all_reps = rows('autolead.reporting.rep', 'owner')

        # Wizards and reports run without access checks: still his own
        with Transaction().set_user(ravi.id):
            _, _, table = report_table('autolead.reporting.rep', {})

        self.assertEqual([r.id for r in reps], [ravi.id])
        self.assertEqual([row[0] for row in table], ["Ravi"])
        self.assertEqual(sources['website'].leads, 2)
        self.assertNotIn('facebook', sources)
        self.assertNotIn(stage('stage_lost'), stages)
        self.assertEqual({r.id for r in all_reps}, {ravi.id, meera.id})

    @with_transaction()
    def test_performance(self):
        "Calls made, emails sent, meetings, deals and revenue per user"
        pool = Pool()
        Call = pool.get('autolead.call')
        Interaction = pool.get('autolead.lead.interaction')
        Appointment = pool.get('autolead.appointment')
        Lead = pool.get('autolead.lead')
        ravi, meera, head = self.setup_sales()
        lead, = Lead.search([('name', '=', "Open 1")])
        now = datetime.datetime.now()
        Call.create([{
                    'subject': f"Call {i}", 'lead': lead.id,
                    'caller': ravi.id, 'direction': 'outgoing',
                    'state': state, 'outcome': 'connected',
                    'done_at': now if state == 'done' else None,
                    } for i, state in enumerate(['done', 'done', 'new'])])
        Interaction.create([{
                    'lead': lead.id, 'user': ravi.id, 'type': type_,
                    'direction': direction,
                    } for type_, direction in [
                    ('email', 'outbound'), ('email', 'inbound'),
                    ('call', 'outbound')]])
        Appointment.create([{
                    'name': "Demo", 'kind': 'demo', 'organizer': ravi.id,
                    'start': now, 'duration': datetime.timedelta(hours=1),
                    'state': state,
                    } for state in ['confirmed', 'cancelled']])

        for period_ in ['hour', 'day', 'month']:
            with self.subTest(period=period_):
                users = rows('autolead.reporting.performance', 'user',
                    period=period_)
                row = users[ravi]
                self.assertEqual(
                    (row.calls, row.emails, row.meetings, row.deals,
                        row.revenue),
                    (2, 1, 1, 1, Decimal(500)))
                self.assertEqual(
                    (users[meera].deals, users[meera].revenue),
                    (1, Decimal(1000)))
                self.assertNotIn(head, users)

        with Transaction().set_user(meera.id), check_access():
            users = rows('autolead.reporting.performance', 'user')
        self.assertEqual(list(users), [meera])

    @with_transaction()
    def test_campaign_efficiency(self):
        "Leads, won and revenue per campaign"
        pool = Pool()
        Campaign = pool.get('autolead.campaign')
        Lead = pool.get('autolead.lead')
        ravi, _, _ = self.setup_sales()
        campaign, = Campaign.create([{
                    'title': "Diwali", 'code': 'diwali', 'type': 'promotion',
                    'owner': ravi.id,
                    }])
        Lead.write(Lead.search([('owner', '=', ravi.id)]), {
                'campaign': campaign.id})

        campaigns = rows('autolead.reporting.campaign', 'campaign')

        self.assertEqual(list(campaigns), [campaign])
        self.assertEqual(
            (campaigns[campaign].leads, campaigns[campaign].won,
                campaigns[campaign].revenue),
            (3, 1, Decimal(500)))

    @with_transaction()
    def test_tickets_by_state(self):
        "Tickets per state with the SLA breaches"
        pool = Pool()
        Ticket = pool.get('autolead.ticket')
        Party = pool.get('party.party')
        customer, = Party.create([{'name': "Priya"}])
        now = datetime.datetime.now()
        past, future = (
            now - datetime.timedelta(hours=2),
            now + datetime.timedelta(hours=2))
        Ticket.create([{
                    'subject': "Late", 'customer': customer.id,
                    'response_due': past, 'resolution_due': future,
                    }, {
                    'subject': "In time", 'customer': customer.id,
                    'response_due': future, 'resolution_due': future,
                    }, {
                    'subject': "Accepted late", 'customer': customer.id,
                    'state': 'accepted', 'accepted_at': now,
                    'response_due': past, 'resolution_due': future,
                    }])

        states = rows('autolead.reporting.ticket', 'state')

        self.assertEqual(
            (states['new'].tickets, states['new'].breached), (2, 1))
        self.assertEqual(
            (states['accepted'].tickets, states['accepted'].breached),
            (1, 1))
        self.assertEqual(
            sum(s.breached for s in states.values()),
            Ticket.search_count([('breached', '=', True)]))

    @with_transaction()
    def test_targets_vs_actual(self):
        "A target is compared with the deals its owner closed in its period"
        pool = Pool()
        Target = pool.get('autolead.sales.target')
        ravi, meera, _ = self.setup_sales()
        first = today().replace(day=1)
        Target.create([{
                    'user': ravi.id, 'from_date': first,
                    'to_date': today() + datetime.timedelta(days=1),
                    'revenue': Decimal(1000), 'deals': 2,
                    }, {
                    'user': meera.id,
                    'from_date': first - datetime.timedelta(days=60),
                    'to_date': first - datetime.timedelta(days=1),
                    'revenue': Decimal(1000), 'deals': 2,
                    }])

        targets = rows(
            'autolead.reporting.target', 'user', from_date=None, to_date=None)
        ravi_row = targets[ravi]
        self.assertEqual(
            (ravi_row.revenue, ravi_row.deals), (Decimal(500), 1))
        self.assertAlmostEqual(ravi_row.revenue_achieved, 50.0)
        self.assertAlmostEqual(ravi_row.deals_achieved, 50.0)
        # Meera's win falls outside her target's period
        self.assertEqual(
            (targets[meera].revenue, targets[meera].deals), (Decimal(0), 0))

        with Transaction().set_user(meera.id), check_access():
            self.assertEqual(
                list(rows('autolead.reporting.target', 'user',
                        from_date=None, to_date=None)), [meera])
            self.assertEqual(
                [t.user for t in Target.search([])], [meera])

    @with_transaction()
    def test_export_csv_and_excel(self):
        "The exported files parse back to the report figures"
        self.setup_sales()
        context = {
            'from_date': today(), 'to_date': today(), 'period': 'day'}

        name, content = report_file(
            'autolead.reporting.rep', 'csv', context)
        table = list(csv.reader(io.StringIO(content.decode('utf-8'))))
        self.assertTrue(name.endswith('.csv'))
        self.assertEqual(table[0][:3], ["Owner", "Leads", "Open"])
        self.assertEqual(
            {r[0]: r[1] for r in table[1:]}, {'Ravi': '3', 'Meera': '2'})

        name, content = report_file(
            'autolead.reporting.lead.source', 'xlsx', context)
        sheet = load_workbook(io.BytesIO(content)).active
        values = list(sheet.iter_rows(values_only=True))
        self.assertTrue(name.endswith('.xlsx'))
        self.assertEqual(values[0][0], "Source")
        by_source = {r[0]: r for r in values[1:]}
        self.assertEqual(by_source["Website"][1], 3)
        self.assertEqual(by_source["Website"][5], 1000)

    @with_transaction()
    def test_export_every_report(self):
        "Every report exports with the names of its states, not their keys"
        pool = Pool()
        ExportStart = pool.get('autolead.reporting.export.start')
        Ticket = pool.get('autolead.ticket')
        Appointment = pool.get('autolead.appointment')
        Party = pool.get('party.party')
        ravi, _, _ = self.setup_sales()
        customer, = Party.create([{'name': "Priya"}])
        Ticket.create([{'subject': "Invoice", 'customer': customer.id}])
        Appointment.create([{
                    'name': "Demo", 'kind': 'demo', 'organizer': ravi.id,
                    'start': datetime.datetime.now(),
                    'duration': datetime.timedelta(hours=1),
                    'state': 'confirmed',
                    }])
        context = {
            'from_date': today(), 'to_date': today(), 'period': 'day'}
        reports = [
            name for name, _ in ExportStart.fields_get(
                ['report'])['report']['selection']]
        self.assertIn('autolead.reporting.ticket', reports)
        self.assertIn('autolead.reporting.appointment', reports)
        for report in reports:
            with self.subTest(report=report):
                name, content = report_file(report, 'csv', context)
                self.assertTrue(name.endswith('.csv'))
                self.assertTrue(content.decode('utf-8').strip())
        tickets = list(csv.reader(io.StringIO(report_file(
                        'autolead.reporting.ticket', 'csv',
                        context)[1].decode('utf-8'))))
        self.assertEqual([r[1] for r in tickets[1:]], ["New"])
        appointments = list(csv.reader(io.StringIO(report_file(
                        'autolead.reporting.appointment', 'csv',
                        context)[1].decode('utf-8'))))
        self.assertEqual(
            [r[2:4] for r in appointments[1:]], [["Demo", "Confirmed"]])

    @with_transaction()
    def test_export_wizard_pdf(self):
        "The export wizard prints a PDF of the report"
        pool = Pool()
        Export = pool.get('autolead.reporting.export', type='wizard')
        Print = pool.get('autolead.reporting.print', type='report')
        self.setup_sales()

        session_id, _, _ = Export.create()
        export = Export(session_id)
        export.start.report = 'autolead.reporting.lead.stage'
        export.start.format = 'pdf'
        export.start.from_date = today()
        export.start.to_date = today()
        export.start.period = 'day'
        self.assertEqual(export.transition_export(), 'print_')
        _, data = export.do_print_(None)
        extension, content, _, name = Print.execute([], data)

        self.assertEqual(extension, 'pdf')
        self.assertTrue(bytes(content).startswith(b'%PDF'))

        export.start.format = 'csv'
        self.assertEqual(export.transition_export(), 'result')
        result = export.default_result(None)
        self.assertTrue(result['file'].startswith(b'Stage,'))

    @with_transaction()
    def test_scheduled_report_email(self):
        "A scheduled report reaches its recipients once, with the file"
        pool = Pool()
        Schedule = pool.get('autolead.report.schedule')
        Message = pool.get('autolead.automation.message')
        Configuration = pool.get('autolead.automation.configuration')
        User = pool.get('res.user')
        ravi, meera, head = self.setup_sales()
        User.write([head], {'email': 'head@autolead.example'})
        User.write([ravi], {'email': 'ravi@autolead.example'})
        configuration = Configuration(1)
        configuration.timezone = 'UTC'
        configuration.save()
        schedule, = Schedule.create([{
                    'name': "Evening", 'report': 'autolead.reporting.rep',
                    'format': 'xlsx', 'frequency': 'daily',
                    'time': datetime.time(19, 0),
                    'recipients': [('add', [head.id, ravi.id])],
                    }])
        evening = datetime.datetime.combine(today(), datetime.time(19, 5))
        # The schedule has been running for a while
        Schedule.write([schedule], {
                'last_sent': evening - datetime.timedelta(days=1)})

        Schedule.send_due(evening)
        Schedule.send_due(evening + datetime.timedelta(minutes=15))

        # posted once to the outbox, which sends them after commit (see
        # test_outbox); here, the emails it would send
        messages = Message.search([('origin', '=', str(schedule))])
        self.assertEqual(
            sorted(m.to for m in messages),
            ['head@autolead.example', 'ravi@autolead.example'])
        self.assertEqual({m.state for m in messages}, {'pending'})
        emails = {m.to: m._email_message() for m in messages}
        head_email = emails['head@autolead.example']
        self.assertIn("Conversion by Representative", head_email['Subject'])
        head_body = head_email.get_body(('plain',)).get_content()
        self.assertIn("Ravi", head_body)
        self.assertIn("Meera", head_body)
        attachment, = head_email.iter_attachments()
        self.assertTrue(attachment.get_filename().endswith('.xlsx'))
        sheet = load_workbook(io.BytesIO(attachment.get_content())).active
        self.assertEqual(sheet.max_row, 3)
        # Each recipient gets the report as they see it
        ravi_email = emails['ravi@autolead.example']
        self.assertNotIn(
            "Meera", ravi_email.get_body(('plain',)).get_content())

        # The next day the report goes again
        Schedule.send_due(evening + datetime.timedelta(days=1))
        self.assertEqual(
            Message.search_count([('origin', '=', str(schedule))]), 4)

    @with_transaction()
    def test_weekly_schedule(self):
        "A weekly report is due on its day of the week only"
        pool = Pool()
        Schedule = pool.get('autolead.report.schedule')
        Configuration = pool.get('autolead.automation.configuration')
        configuration = Configuration(1)
        configuration.timezone = 'UTC'
        configuration.save()
        monday = datetime.datetime(2026, 11, 23, 8, 0)
        schedule, = Schedule.create([{
                    'name': "Weekly",
                    'report': 'autolead.reporting.lead.source',
                    'frequency': 'weekly', 'weekday': '0', 'covers': 'week',
                    'time': datetime.time(7, 0),
                    }])

        self.assertEqual(
            schedule.due_at(monday), monday.replace(hour=7))
        self.assertEqual(
            schedule.due_at(monday + datetime.timedelta(days=3)),
            monday.replace(hour=7))
        self.assertEqual(
            schedule.report_context(monday.replace(hour=7))['from_date'],
            datetime.date(2026, 11, 17))

    @with_transaction()
    def test_tomorrows_demos(self):
        "The 7 PM email lists tomorrow's confirmed demos per organizer"
        pool = Pool()
        Schedule = pool.get('autolead.report.schedule')
        Appointment = pool.get('autolead.appointment')
        Configuration = pool.get('autolead.automation.configuration')
        configuration = Configuration(1)
        configuration.timezone = 'UTC'
        configuration.save()
        ravi, meera, head = self.setup_sales()
        tomorrow = datetime.datetime.combine(
            today() + datetime.timedelta(days=1), datetime.time(11, 0))
        Appointment.create([{
                    'name': "Demo", 'kind': 'demo', 'organizer': user.id,
                    'start': start, 'duration': datetime.timedelta(hours=1),
                    'state': state,
                    } for user, start, state in [
                    (ravi, tomorrow, 'confirmed'),
                    (ravi, tomorrow, 'confirmed'),
                    (meera, tomorrow, 'draft'),
                    (meera, tomorrow + datetime.timedelta(days=1),
                        'confirmed'),
                    ]])
        schedule, = Schedule.create([{
                    'name': "Tomorrow's demos",
                    'report': 'autolead.reporting.appointment',
                    'covers': 'tomorrow', 'time': datetime.time(19, 0),
                    }])
        evening = datetime.datetime.combine(today(), datetime.time(19, 0))

        context = schedule.report_context(evening)
        appointments = rows(
            'autolead.reporting.appointment', 'id', **context)

        self.assertEqual(
            sorted((a.organizer.login, a.state, a.appointments)
                for a in appointments.values()),
            [('meera', 'draft', 1), ('ravi', 'confirmed', 2)])

    @with_transaction()
    def test_closed_at_back_fill(self):
        "Leads closed before closed_at existed are dated from their history"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        History = pool.get('autolead.lead.history')
        self.setup_sales()
        moved, = Lead.search([('name', '=', "Open 1")])
        Lead.write([moved], {
                'stage': stage('stage_lost').id,
                'lost_reason': pool.get('ir.model.data').get_id(
                    'autolead', 'lost_reason_no_budget'),
                })
        born_won, = Lead.search([('name', '=', "Won 2")])
        still_open, = Lead.search([('name', '=', "Open 2")])
        change, = History.search([
                ('lead', '=', moved.id), ('field', '=', 'stage')])
        # the lead was lost long ago, touched since
        lost_at = datetime.datetime(2026, 1, 2, 10, 30)
        History.write([change], {'date': lost_at})
        lead = Lead.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*lead.update([lead.closed_at], [None]))

        Lead._back_fill_closed_at()

        # read from the table: the record cache knows nothing of SQL updates
        values = {v['id']: v for v in Lead.read(
                [moved.id, born_won.id, still_open.id],
                ['closed_at', 'write_date', 'create_date'])}
        moved, born_won, still_open = (
            values[moved.id], values[born_won.id], values[still_open.id])
        self.assertEqual(moved['closed_at'], lost_at)
        # closed_at is read to the second
        self.assertLess(
            abs(born_won['closed_at']
                - (born_won['write_date'] or born_won['create_date'])),
            datetime.timedelta(seconds=1))
        self.assertIsNone(still_open['closed_at'])
