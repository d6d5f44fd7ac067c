import datetime
from decimal import Decimal

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction, check_access

from .database import DatabaseTestCase
from .test_lead import stage
from . import test_reporting
from .test_reporting import period, today

# the reports that read the rollups
REPORTS = [
    'autolead.reporting.lead.daily',
    'autolead.reporting.lead.source',
    'autolead.reporting.lead.stage',
    'autolead.reporting.rep',
    'autolead.reporting.campaign',
    'autolead.reporting.performance',
    'autolead.reporting.target',
    ]
ROLLUPS = [
    'autolead.rollup.lead.owner_day',
    'autolead.rollup.lead.source_day',
    'autolead.rollup.lead.owner_source_day',
    'autolead.rollup.lead.campaign_day',
    'autolead.rollup.lead.owner_stage',
    'autolead.rollup.activity_day',
    ]
YEAR = datetime.timedelta(days=400)


def plain(value):
    "A value of a report comparable whatever path computed it"
    if hasattr(value, 'id'):
        return value.id
    if isinstance(value, (float, Decimal)):
        return round(float(value), 2)
    return value


def figures(name, **context):
    "The rows of the report without their ids, as the current user sees it"
    Model = Pool().get(name)
    with period(**context):
        return sorted(
            (tuple(plain(getattr(r, f)) for f in Model._export_fields)
                for r in Model.search([])),
            key=repr)


def rollup_rows(name, summed=True):
    """The rows of the rollup: summed per key (without the keys summing to
    nothing) or as they are stored"""
    Model = Pool().get(name)
    table = Model.__table__()
    cursor = Transaction().connection.cursor()
    columns = [getattr(table, n) for n in Model._keys + Model._measures]
    query = table.select(*columns)
    cursor.execute(*(Model._summed(query) if summed else query))
    rows = (tuple(plain(v) for v in row) for row in cursor)
    if summed:
        rows = (r for r in rows if any(r[len(Model._keys):]))
    return sorted(rows, key=repr)


class RollupTestCase(DatabaseTestCase):
    "The rollups give the reports the figures the leads give"

    def assertSameFigures(self, *users):
        "Each report reads the same from the rollups as from the leads"
        contexts = [
            {'from_date': today() - YEAR, 'to_date': today() + YEAR},
            {'from_date': today() - YEAR, 'to_date': today() + YEAR,
                'period': 'month'},
            {'from_date': None, 'to_date': None},
            {},
            ]
        for user in [0, *users]:
            with Transaction().set_user(getattr(user, 'id', user)):
                for name in REPORTS:
                    for context in contexts:
                        with self.subTest(report=name, user=user, **context):
                            self.assertEqual(
                                figures(name, **context),
                                figures(name, rollup=False, **context))
        # what the code kept up to date is what a rebuild computes
        kept = {n: rollup_rows(n) for n in ROLLUPS}
        Pool().get(ROLLUPS[0]).rebuild_all()
        for name in ROLLUPS:
            with self.subTest(rollup=name):
                self.assertEqual(rollup_rows(name), kept[name])

    def setup_sales(self):
        "The leads of test_reporting, two of them from a campaign each"
        pool = Pool()
        Campaign = pool.get('autolead.campaign')
        Lead = pool.get('autolead.lead')
        ravi, meera, head = test_reporting.ReportingTestCase.setup_sales(
            self)
        diwali, holi = Campaign.create([{
                    'title': title, 'code': title.lower(),
                    'type': 'promotion', 'owner': ravi.id,
                    } for title in ["Diwali", "Holi"]])
        Lead.write(Lead.search([('name', 'in', ["Open 1", "Won 2"])]), {
                'campaign': diwali.id},
            Lead.search([('name', '=', "Won 1")]), {'campaign': holi.id})
        return ravi, meera, head

    def setup_activity(self, ravi, meera):
        "Calls, emails and meetings of both representatives over some days"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        Call = pool.get('autolead.call')
        Interaction = pool.get('autolead.lead.interaction')
        Appointment = pool.get('autolead.appointment')
        Target = pool.get('autolead.sales.target')
        lead, = Lead.search([('name', '=', "Open 1")])
        now = datetime.datetime.now()
        calls = Call.create([{
                    'subject': f"Call {i}", 'lead': lead.id,
                    'caller': (ravi, meera)[i % 2].id,
                    'direction': 'outgoing', 'state': state,
                    'outcome': 'connected',
                    'done_at': (now - datetime.timedelta(days=i)
                        if state == 'done' else None),
                    } for i, state in enumerate(
                    ['done', 'done', 'new', 'done', 'done'])])
        emails = Interaction.create([{
                    'lead': lead.id, 'user': user.id, 'type': type_,
                    'direction': direction,
                    'date': now - datetime.timedelta(days=40),
                    } for user, type_, direction in [
                    (ravi, 'email', 'outbound'), (meera, 'email', 'outbound'),
                    (ravi, 'email', 'inbound'), (ravi, 'call', 'outbound')]])
        meetings = Appointment.create([{
                    'name': "Demo", 'kind': 'demo', 'organizer': ravi.id,
                    'start': now + datetime.timedelta(days=i * 20),
                    'duration': datetime.timedelta(hours=1),
                    'state': state,
                    } for i, state in enumerate(
                    ['confirmed', 'cancelled', 'confirmed'])])
        Target.create([{
                    'user': user.id, 'from_date': today().replace(day=1),
                    'to_date': today(), 'revenue': Decimal(1000),
                    'deals': 2} for user in [ravi, meera]])
        return calls, emails, meetings

    @with_transaction()
    def test_creates(self):
        "Leads, calls, emails and meetings created count at once"
        ravi, meera, head = self.setup_sales()
        self.setup_activity(ravi, meera)

        self.assertSameFigures(ravi, meera, head)

    @with_transaction()
    def test_deltas_read_together(self):
        "The sums of a few leads read in one query are each rollup's own"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        from trytond.modules.autolead.rollup import Rollup
        ravi, meera, head = self.setup_sales()
        self.setup_activity(ravi, meera)
        rollups = Rollup.rollups('autolead.lead')
        ids = [l.id for l in Lead.search([])]
        self.assertGreater(len(rollups), 2)
        self.assertGreater(len(ids), 2)

        def plain_sums(sums):
            return {k: [plain(v) for v in m] for k, m in sums.items()}
        together = Rollup.deltas(rollups, 'autolead.lead', ids)
        for R in rollups:
            self.assertEqual(plain_sums(together[R]),
                plain_sums(R._delta('autolead.lead', ids)), R.__name__)

    @with_transaction()
    def test_won_and_lost(self):
        "Leads moved along the pipeline, won and lost"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        ModelData = pool.get('ir.model.data')
        ravi, meera, head = self.setup_sales()
        self.setup_activity(ravi, meera)
        open1, = Lead.search([('name', '=', "Open 1")])
        open2, = Lead.search([('name', '=', "Open 2")])
        lost1, = Lead.search([('name', '=', "Lost 1")])

        Lead.write([open2], {'stage': stage('stage_in_progress').id})
        Lead.write([open2], {'stage': stage('stage_won').id})
        Lead.write([open1], {
                'stage': stage('stage_lost').id,
                'lost_reason': ModelData.get_id(
                    'autolead', 'lost_reason_no_budget')})
        Lead.write([lost1], {'stage': stage('stage_new').id})

        self.assertSameFigures(ravi, meera, head)

    @with_transaction()
    def test_owner_and_value_changes(self):
        "Leads handed to another representative, values changed"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        ravi, meera, head = self.setup_sales()
        self.setup_activity(ravi, meera)
        leads = Lead.search([('owner', '=', ravi.id)])
        won2, = Lead.search([('name', '=', "Won 2")])

        Lead.write(leads[:2], {'owner': meera.id}, [won2], {
                'owner': ravi.id, 'expected_value': Decimal('1234.56')})
        Lead.write(leads[2:], {'expected_value': None, 'source': 'event',
                'campaign': None})
        # twice the same lead in one call
        Lead.write([won2], {'expected_value': Decimal(7)},
            [won2], {'owner': meera.id})

        self.assertSameFigures(ravi, meera, head)

    @with_transaction()
    def test_activity_changes(self):
        "Calls, emails and meetings changed, moved and deleted"
        pool = Pool()
        Call = pool.get('autolead.call')
        Interaction = pool.get('autolead.lead.interaction')
        Appointment = pool.get('autolead.appointment')
        ravi, meera, head = self.setup_sales()
        calls, emails, meetings = self.setup_activity(ravi, meera)

        Call.write(calls[:2], {'caller': meera.id}, [calls[2]], {
                'state': 'done', 'done_at': datetime.datetime.now()})
        Call.delete(calls[3:4])
        Interaction.write(emails[2:3], {'direction': 'outbound'})
        Interaction.delete(emails[:1])
        Appointment.write(meetings[:1], {
                'start': datetime.datetime.now() - YEAR / 2})
        Appointment.write(meetings[1:2], {'state': 'confirmed'})

        self.assertSameFigures(ravi, meera, head)

    @with_transaction()
    def test_deletes(self):
        "Deleted leads leave the figures"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        ravi, meera, head = self.setup_sales()
        self.setup_activity(ravi, meera)
        won1, = Lead.search([('name', '=', "Won 1")])
        lost1, = Lead.search([('name', '=', "Lost 1")])

        Lead.delete([won1, lost1])

        self.assertSameFigures(ravi, meera, head)

    @with_transaction()
    def test_campaign_deleted(self):
        "The leads of a deleted campaign leave its figures"
        pool = Pool()
        Campaign = pool.get('autolead.campaign')
        ravi, meera, head = self.setup_sales()

        Campaign.delete(Campaign.search([('code', '=', 'diwali')]))

        self.assertSameFigures(ravi, meera, head)

    @with_transaction()
    def test_bulk_import(self):
        "Leads of an import, inserted by raw SQL, count as well"
        pool = Pool()
        Job = pool.get('autolead.lead.import.job')
        Lead = pool.get('autolead.lead')
        ravi, meera, head = self.setup_sales()
        lines = ['Full Name,E-mail,Lead Source,Expected Value']
        for i in range(30):
            lines.append(f'Person {i},person{i}@example.com,'
                f'{["website", "event", "google"][i % 3]},{i * 10}')
        job, = Job.create([{
                    'file_name': 'leads.csv',
                    'file_data': ('\n'.join(lines) + '\n').encode(),
                    'duplicates': 'flag', 'owner': meera.id}])

        Job.process([job])

        self.assertEqual(Job(job.id).created, 30)
        self.assertEqual(Lead.search_count([('owner', '=', meera.id)]), 32)
        self.assertSameFigures(ravi, meera, head)

    @with_transaction()
    def test_stage_kind_changed(self):
        "A stage that changes kind changes the figures of its leads"
        ravi, meera, head = self.setup_sales()

        stage('stage_qualified').__class__.write(
            [stage('stage_qualified')], {'kind': 'won'})

        self.assertSameFigures(ravi, meera, head)

    @with_transaction()
    def test_compact(self):
        """Writes add rows of differences; compacting leaves one row per key
        with the same sums and drops the keys summing to nothing"""
        pool = Pool()
        Lead = pool.get('autolead.lead')
        OwnerDay = pool.get('autolead.rollup.lead.owner_day')
        ravi, meera, head = self.setup_sales()
        self.setup_activity(ravi, meera)
        leads = Lead.search([('name', 'in', ["Open 1", "Open 2"])])
        for value in [10, 20, 30]:
            Lead.write(leads, {'expected_value': Decimal(value)})
        Lead.write(leads, {'owner': meera.id})
        Lead.write(leads, {'owner': ravi.id})
        stored = rollup_rows(OwnerDay.__name__, summed=False)
        sums = {n: rollup_rows(n) for n in ROLLUPS}
        self.assertGreater(len(stored), len(sums[OwnerDay.__name__]))

        OwnerDay.compact_all()

        for name in ROLLUPS:
            with self.subTest(rollup=name):
                self.assertEqual(rollup_rows(name, summed=False), sums[name])
        self.assertSameFigures(ravi, meera, head)

    @with_transaction()
    def test_representative_reads_own_rollups(self):
        "A representative reads only their rows; nobody writes a rollup"
        pool = Pool()
        OwnerDay = pool.get('autolead.rollup.lead.owner_day')
        SourceDay = pool.get('autolead.rollup.lead.source_day')
        Activity = pool.get('autolead.rollup.activity_day')
        ravi, meera, head = self.setup_sales()

        with Transaction().set_user(ravi.id), check_access():
            owners = {r.owner for r in OwnerDay.search([])}
            users = {r.user for r in Activity.search([])}
            with self.assertRaises(AccessError):
                SourceDay.search([])
            with self.assertRaises(AccessError):
                OwnerDay.create([{'owner': ravi.id, 'leads': 100}])
        with Transaction().set_user(head.id), check_access():
            all_owners = {r.owner for r in OwnerDay.search([])}
            self.assertTrue(SourceDay.search([]))
            rows = OwnerDay.search([('owner', '=', ravi.id)])
            with self.assertRaises(UserError):
                OwnerDay.write(rows, {'leads': 100})

        self.assertEqual(owners, {ravi})
        self.assertEqual(users, {ravi})
        self.assertEqual(all_owners, {ravi, meera})
