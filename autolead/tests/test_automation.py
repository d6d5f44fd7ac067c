import datetime as dt

from trytond.model.exceptions import DomainValidationError
from trytond.pool import Pool
from trytond.pyson import PYSONDecoder
from trytond.tests.test_tryton import _DBTestCase, with_transaction
from trytond.transaction import Transaction


class AutomationTestCase(_DBTestCase):
    "Edges of tasks, reminders, messages and campaigns"
    module = 'autolead'

    def _lead(self, **values):
        pool = Pool()
        Lead = pool.get('autolead.lead')
        User = pool.get('res.user')
        owner, = User.search([('login', '=', 'admin')])
        values.setdefault('name', "Asha Rao")
        values.setdefault('owner', owner.id)
        lead, = Lead.create([values])
        return lead

    @with_transaction()
    def test_message_posted_once(self):
        "A message key is posted once and notifies its user once"
        pool = Pool()
        Message = pool.get('autolead.automation.message')
        Notification = pool.get('res.notification')
        values = {
            'key': 'test-1', 'user': Transaction().user,
            'subject': "Hello", 'body': "World"}

        first = Message.post([values, values.copy()], queue=False)
        second = Message.post([values], queue=False)

        self.assertEqual(len(first), 1)
        self.assertEqual(second, [])
        self.assertEqual(first[0].state, 'no_email')
        self.assertEqual(Notification.search_count(
                [('label', '=', "Hello")]), 1)

    @with_transaction()
    def test_task_rule_on_creation(self):
        "A lead created in the rule's stage gets the task"
        pool = Pool()
        TaskRule = pool.get('autolead.task.rule')
        TaskRule.create([{
                    'stage_name': "new", 'task_name': "Welcome {lead}",
                    'delay': 0}])

        lead = self._lead()

        task, = lead.tasks
        self.assertEqual(task.name, "Welcome Asha Rao")
        self.assertEqual(task.assignee, lead.owner)

    @with_transaction()
    def test_task_rule_matches_label_once(self):
        "A rule naming the stage by its label fires once"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        TaskRule = pool.get('autolead.task.rule')
        TaskRule.create([{
                    'stage_name': " In Progress ", 'task_name': "Quote",
                    'delay': 3}])
        Stage = pool.get('autolead.lead.stage')
        lead = self._lead()
        path = [Stage.search([('name', '=', name)])[0] for name in [
                "Contacted", "Qualified", "In Progress"]]

        for stage in path:
            Lead.write([lead], {'stage': stage.id})
        Lead.write([lead], {'stage': path[-1].id})

        task, = lead.tasks
        self.assertAlmostEqual(
            task.due - dt.datetime.now(), dt.timedelta(days=3),
            delta=dt.timedelta(minutes=1))

    @with_transaction()
    def test_task_overdue_search(self):
        "Tasks without due time or completed are never overdue"
        pool = Pool()
        Task = pool.get('autolead.task')
        lead = self._lead()
        past = dt.datetime.now() - dt.timedelta(minutes=1)
        late, undated, done = Task.create([
                {'name': "Late", 'lead': lead.id, 'due': past},
                {'name': "Undated", 'lead': lead.id},
                {'name': "Done", 'lead': lead.id, 'due': past},
                ])
        Task.complete([done])

        self.assertEqual(Task.search([('overdue', '=', True)]), [late])
        self.assertEqual(
            set(Task.search([('overdue', '=', False)])), {undated, done})
        self.assertEqual(
            [t.overdue for t in [late, undated, done]], [True, False, False])

    @with_transaction()
    def test_reminders_due(self):
        "An early appointment has no morning reminder, only the last one"
        pool = Pool()
        Appointment = pool.get('autolead.appointment')
        Configuration = pool.get('autolead.automation.configuration')
        day = dt.date(2030, 5, 14)
        config = Configuration(
            morning_reminder_time=dt.time(7),
            reminder_before=dt.timedelta(hours=1), timezone='UTC')

        def due(start, now):
            appointment = Appointment(start=dt.datetime.combine(day, start))
            return appointment._reminders_due(
                dt.datetime.combine(day, now), config)

        self.assertEqual(due(dt.time(6, 30), dt.time(5, 45)), ['before'])
        self.assertEqual(due(dt.time(7, 30), dt.time(7, 0)), ['before'])
        self.assertEqual(due(dt.time(10), dt.time(7, 0)), ['morning'])
        self.assertEqual(due(dt.time(10), dt.time(6, 59)), [])
        self.assertEqual(due(dt.time(10), dt.time(10)), [])

    @with_transaction()
    def test_morning_reminder_local_time(self):
        "7 AM is 7 AM where the sales team works"
        pool = Pool()
        Configuration = pool.get('autolead.automation.configuration')
        config = Configuration(timezone='Asia/Kolkata')

        # 04:00 UTC is 09:30 in India, the same local day as 01:30 UTC
        self.assertEqual(
            config.local_time_at(dt.datetime(2030, 5, 14, 4), dt.time(7)),
            dt.datetime(2030, 5, 14, 1, 30))
        # 20:00 UTC is already the 15th in India
        self.assertEqual(
            config.local_time_at(dt.datetime(2030, 5, 14, 20), dt.time(7)),
            dt.datetime(2030, 5, 15, 1, 30))

    @with_transaction()
    def test_campaign_code_normalised(self):
        "Campaign codes are stored trimmed and lower case; copies get one"
        pool = Pool()
        Campaign = pool.get('autolead.campaign')
        campaign, = Campaign.create([{
                    'title': "Spring", 'code': " Spring-26 "}])
        self.assertEqual(campaign.code, 'spring-26')
        Campaign.submit([campaign])

        copy, = Campaign.copy([campaign])
        self.assertEqual(copy.code, 'spring-26-copy')
        self.assertEqual(copy.state, 'draft')

    def _tab_counts(self, action_xml_id):
        "Count the records of each tab of the action, as the desk does"
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        ActWindow = pool.get('ir.action.act_window')
        action = ActWindow(ModelData.get_id('autolead', action_xml_id))
        Model = pool.get(action.res_model)
        decoder = PYSONDecoder({'_user': Transaction().user})
        return {
            name: Model.search_count(decoder.decode(domain))
            for name, domain, _ in action.get_domains(None)}

    @with_transaction()
    def test_appointment_tabs(self):
        "The appointment tabs count today's and the months' demos"
        pool = Pool()
        Appointment = pool.get('autolead.appointment')
        today = dt.datetime.combine(dt.date.today(), dt.time())
        month = today.replace(day=1)
        previous = (month - dt.timedelta(days=1)).replace(day=1)
        Appointment.create([
                {'name': "Today", 'start': today + dt.timedelta(minutes=1),
                    'state': 'confirmed'},
                {'name': "Today draft", 'start': today, 'state': 'draft'},
                {'name': "Visit", 'kind': 'visit', 'start': today,
                    'state': 'confirmed'},
                {'name': "This month", 'start': month, 'state': 'completed'},
                {'name': "Last month", 'start': previous,
                    'state': 'completed'},
                {'name': "Two months ago",
                    'start': previous - dt.timedelta(days=1),
                    'state': 'completed'},
                ])

        counts = self._tab_counts('act_appointment_form')

        self.assertEqual(counts["Today's Confirmed Demos"], 1)
        self.assertEqual(counts["Demos Completed This Month"], 1)
        self.assertEqual(counts["Demos Completed Last Month"], 1)
        self.assertEqual(counts["All"], 6)

    @with_transaction()
    def test_task_tabs(self):
        "My Tasks lists the user's open tasks, Overdue the late ones"
        pool = Pool()
        Task = pool.get('autolead.task')
        User = pool.get('res.user')
        other, = User.create([{'name': "Other", 'login': 'other'}])
        lead = self._lead()
        past = dt.datetime.now() - dt.timedelta(hours=1)
        tasks = Task.create([
                {'name': "Mine", 'lead': lead.id},
                {'name': "Mine late", 'lead': lead.id, 'due': past},
                {'name': "Not mine", 'lead': lead.id,
                    'assignee': other.id, 'due': past},
                {'name': "Mine done", 'lead': lead.id},
                ])
        Task.complete(tasks[-1:])

        counts = self._tab_counts('act_task_form')

        self.assertEqual(counts["My Tasks"], 2)
        self.assertEqual(counts["Overdue"], 2)

    @with_transaction()
    def test_campaign_period(self):
        "A campaign cannot end before it starts"
        pool = Pool()
        Campaign = pool.get('autolead.campaign')
        Campaign.create([{
                    'title': "Open ended", 'code': 'open',
                    'start_date': dt.date(2026, 1, 1)}])

        with self.assertRaises(DomainValidationError):
            Campaign.create([{
                        'title': "Backwards", 'code': 'backwards',
                        'start_date': dt.date(2026, 2, 1),
                        'end_date': dt.date(2026, 1, 1)}])
