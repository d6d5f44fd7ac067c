"""Edges of the notification rules and the unsubscribe link"""
import datetime as dt

import trytond.config as config
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    DB_NAME, RouteTestCase, _DBTestCase, with_transaction)
from trytond.transaction import Transaction

from .database import DatabaseTestCase
from .route import DataRouteTestCase
from .smtp_server import SMTPServer
from .test_lead import make_user


def _configure(test, section, option, value):
    "Set the option of the server configuration for the test only"
    parser = config._config
    old = config.get(section, option)
    if not parser.has_section(section):
        parser.add_section(section)
    config.set(section, option, value)
    if old is None:
        test.addCleanup(config._cache_clear)
        test.addCleanup(parser.remove_option, section, option)
    else:
        test.addCleanup(config.set, section, option, old)


def _user(login, group):
    "A user of group who reads email at autolead.example"
    return make_user(login, group, email=f'{login}@autolead.example')


def _party(name, email):
    Party = Pool().get('party.party')
    party, = Party.create([{
                'name': name,
                'contact_mechanisms': [('create', [{
                                'type': 'email', 'value': email}])],
                }])
    return party


class NotificationTestCase(_DBTestCase):
    "Test notification rules"
    module = 'autolead'

    def setUp(self):
        super().setUp()
        # the rules post to the outbox, which sends after commit (see
        # test_outbox); nothing here reaches a mail server
        _configure(self, 'email', 'from', 'desk@autolead.example')

    def _rule(self, event):
        Rule = Pool().get('autolead.notification.rule')
        rule, = Rule.search([('event', '=', event)], limit=1)
        return rule

    @with_transaction()
    def test_rule_notifies_each_recipient_once(self):
        "A rule posts one message per recipient and only once per event"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        Message = pool.get('autolead.automation.message')
        rep = _user('ravi', 'group_sales_rep')
        _user('anil', 'group_autolead_admin')
        lead, = Lead.create([{
                    'name': "Asha Rao", 'email': 'asha@rao.example',
                    'source': 'website', 'owner': rep.id}])
        rule = self._rule('lead_new')

        first = rule.notify([lead])
        second = rule.notify([lead])

        self.assertEqual(
            sorted(m.to for m in first if m.to),
            ['anil@autolead.example', 'ravi@autolead.example'])
        self.assertEqual(second, [])
        # the outbox sends them (see test_outbox)
        self.assertEqual(
            {m.state for m in Message.search([('to', '!=', None)])},
            {'pending'})

    @with_transaction()
    def test_rule_sources(self):
        "A rule limited to sources ignores the leads from elsewhere"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        rep = _user('ravi', 'group_sales_rep')
        _user('head', 'group_sales_head')
        rule = self._rule('lead_lost')
        ivr, walk_in = Lead.create([{
                    'name': "From IVR", 'phone': '+91 98450 12345',
                    'source': 'ivr', 'owner': rep.id,
                    }, {
                    'name': "Walk-in", 'phone': '+91 98450 54321',
                    'source': 'walk_in', 'owner': rep.id,
                    }])

        messages = rule.notify([ivr, walk_in])

        self.assertEqual(
            [(m.to, m.subject) for m in messages],
            [('head@autolead.example', "Lead lost: From IVR")])

    @with_transaction()
    def test_channels(self):
        "In the desk only: no email; by email only: no desk notification"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        Notification = pool.get('res.notification')
        rep = _user('ravi', 'group_sales_rep')
        rule = self._rule('lead_reengaged')
        lead, = Lead.create([{
                    'name': "Asha Rao", 'email': 'asha@rao.example',
                    'owner': rep.id}])

        rule.by_email = False
        rule.save()
        message, = rule.notify([lead])
        self.assertEqual((message.state, message.to), ('no_email', None))
        self.assertEqual(Notification.search_count(
                [('user', '=', rep.id)]), 1)

        rule, = rule.copy([rule])
        rule.by_email, rule.in_app = True, False
        rule.save()
        message, = rule.notify([lead])
        self.assertEqual((message.user, message.to),
            (None, 'ravi@autolead.example'))
        self.assertEqual(Notification.search_count(
                [('user', '=', rep.id)]), 1)

    @with_transaction()
    def test_template_placeholders(self):
        "Placeholders are filled and unknown or stray ones left alone"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        rep = _user('ravi', 'group_sales_rep')
        rule = self._rule('lead_new')
        rule.subject = "{lead} via {source} {unknown} {"
        rule.body = "Owner: {rep}; follow-up {follow_up}"
        rule.save()
        lead, = Lead.create([{
                    'name': "Asha Rao", 'company_name': "Rao Textiles",
                    'email': 'asha@rao.example', 'source': 'google',
                    'owner': rep.id, 'next_follow_up': dt.date(2030, 5, 14),
                    }])

        rule.notify_admins = False
        rule.save()
        message, = rule.notify([lead])

        self.assertEqual(message.subject, "{lead} via {source} {unknown} {")
        rule.subject = "{lead} via {source} {unknown}"
        rule.save()
        message, = rule.notify([Lead.copy([lead])[0]])
        self.assertEqual(
            message.subject,
            "Asha Rao (Rao Textiles) via Google Ads {unknown}")
        self.assertEqual(message.body, "Owner: Ravi; follow-up 2030-05-14")

    @with_transaction()
    def test_ticket_other_side(self):
        "The other side of a ticket from the portal is the support team"
        pool = Pool()
        Ticket = pool.get('autolead.ticket')
        WebUser = pool.get('web.user')
        support = _user('kavya', 'group_support')
        priya = _party("Priya Verma", 'priya@customer.example')
        web_user, = WebUser.create([{
                    'email': 'priya@customer.example', 'party': priya.id}])
        rule = self._rule('ticket_new')
        with Transaction().set_user(0):
            from_portal, = Ticket.create([{
                        'subject': "Printer jammed", 'customer': priya.id,
                        'web_user': web_user.id,
                        }])
        from_desk, = Ticket.create([{
                    'subject': "Invoice copy", 'customer': priya.id,
                    'web_user': web_user.id,
                    }])

        messages = rule.notify(Ticket.browse([from_portal, from_desk]))

        self.assertEqual(
            sorted((m.user.login if m.user else '', m.to) for m in messages),
            [('', 'priya@customer.example'),
                ('kavya', 'kavya@autolead.example')])
        self.assertIn(support, [m.user for m in messages])

    @with_transaction()
    def test_follow_up_moment(self):
        "A follow-up date stands for its time of day where the team works"
        Configuration = Pool().get('autolead.automation.configuration')
        configuration = Configuration(
            timezone='Asia/Kolkata', follow_up_time=dt.time(9))

        self.assertEqual(
            configuration.follow_up_moment(dt.date(2030, 5, 14)),
            dt.datetime(2030, 5, 14, 3, 30))

    @with_transaction()
    def test_rule_owns_its_trigger(self):
        "Changing the event moves the trigger; deleting the rule removes it"
        pool = Pool()
        Rule = pool.get('autolead.notification.rule')
        Trigger = pool.get('ir.trigger')
        rule, = Rule.create([{
                    'name': "Resolved", 'event': 'ticket_resolved',
                    'subject': "Done", 'notify_other_side': True}])
        trigger = rule.trigger
        self.assertEqual(trigger.model.name, 'autolead.ticket')
        self.assertTrue(trigger.on_write_)

        Rule.write([rule], {'event': 'demo_completed'})
        rule = Rule(rule.id)
        self.assertEqual(rule.trigger, trigger)
        self.assertEqual(rule.trigger.model.name, 'autolead.appointment')

        Rule.write([rule], {'event': 'lead_follow_up_due',
                'delay': dt.timedelta(hours=1)})
        rule = Rule(rule.id)
        self.assertIsNone(rule.trigger)
        self.assertFalse(Trigger.search([('id', '=', trigger.id)]))

        Rule.write([rule], {'event': 'lead_new', 'active': False})
        rule = Rule(rule.id)
        trigger = rule.trigger
        self.assertFalse(trigger.active)
        Rule.delete([rule])
        self.assertFalse(Trigger.search([
                    ('id', '=', trigger.id), ('active', 'in', [True, False]),
                    ]))

    @with_transaction()
    def test_only_admin_edits_rules(self):
        "Sales heads, representatives and support can neither read nor edit"
        pool = Pool()
        Rule = pool.get('autolead.notification.rule')
        rule = self._rule('lead_new')
        admin = _user('anil', 'group_autolead_admin')
        for login, group in [
                ('head', 'group_sales_head'),
                ('ravi', 'group_sales_rep'),
                ('kavya', 'group_support')]:
            user = _user(login, group)
            with Transaction().set_user(user.id), \
                    Transaction().set_context(_check_access=True):
                with self.assertRaises(AccessError):
                    Rule.write([Rule(rule.id)], {'subject': "Hacked"})
                with self.assertRaises(AccessError):
                    Rule.create([{
                                'name': "Mine", 'event': 'lead_new',
                                'subject': "x"}])
                with self.assertRaises(AccessError):
                    Rule.search([])
        with Transaction().set_user(admin.id), \
                Transaction().set_context(_check_access=True):
            Rule.write([Rule(rule.id)], {'subject': "New: {lead}"})
        self.assertEqual(Rule(rule.id).subject, "New: {lead}")

    @with_transaction()
    def test_unsubscribed_party_gets_no_greeting(self):
        "Greetings skip unsubscribed customers and carry the link"
        pool = Pool()
        Campaign = pool.get('autolead.campaign')
        Party = pool.get('party.party')
        Message = pool.get('autolead.automation.message')
        priya = _party("Priya Verma", 'priya@customer.example')
        rahul = _party("Rahul Gupta", 'rahul@customer.example')
        Party.write([rahul], {'marketing_unsubscribed': True})
        campaign, = Campaign.create([{
                    'title': "Diwali", 'code': 'diwali', 'type': 'greetings',
                    'greeting_subject': "Happy Diwali",
                    'greeting_body': "Dear {name}",
                    'greeting_at': dt.datetime(2030, 11, 1, 9),
                    'greeting_parties': [('add', [priya.id, rahul.id])],
                    }])
        Campaign.submit([campaign])
        Campaign.activate([campaign])

        Campaign.send_greetings(dt.datetime(2030, 11, 1, 10))

        mail, = Message.search([('subject', '=', "Happy Diwali")])
        self.assertEqual(mail.to, 'priya@customer.example')
        self.assertIn(f'/unsubscribe/{priya.unsubscribe_token}', mail.body)

    @with_transaction()
    def test_unsubscribe_token(self):
        "A token names its party; a forged or altered one names nobody"
        pool = Pool()
        Party = pool.get('party.party')
        priya = _party("Priya Verma", 'priya@customer.example')
        rahul = _party("Rahul Gupta", 'rahul@customer.example')
        token = priya.unsubscribe_token
        signature = token.split('-', 1)[1]

        self.assertEqual(Party.from_unsubscribe_token(token), priya)
        self.assertIsNone(Party.from_unsubscribe_token(
                f'{rahul.id}-{signature}'))
        self.assertIsNone(Party.from_unsubscribe_token(f'{priya.id}-'))
        self.assertIsNone(Party.from_unsubscribe_token('garbage'))
        self.assertNotEqual(rahul.unsubscribe_token.split('-', 1)[1],
            signature)

        _configure(self, 'autolead', 'public_url', 'https://crm.example.com/')
        self.assertEqual(priya.unsubscribe_url,
            f'https://crm.example.com/{DB_NAME}/unsubscribe/{token}')


class ImportNotificationTestCase(DatabaseTestCase):
    """The notification rules of imported leads, sent through the outbox;
    the sender commits, so this runs on a database of its own"""
    module = 'autolead'

    def setUp(self):
        super().setUp()
        self.smtp = SMTPServer()
        self.smtp.start()
        self.addCleanup(self.smtp.stop)
        _configure(self, 'email', 'uri', self.smtp.uri)
        _configure(self, 'email', 'from', 'desk@autolead.example')

    @with_transaction()
    def test_import_notifies_created_leads(self):
        """The rules on new and duplicate leads hear of the imported leads
        when the import asks for it"""
        pool = Pool()
        Job = pool.get('autolead.lead.import.job')
        Lead = pool.get('autolead.lead')
        Message = pool.get('autolead.automation.message')
        Queue = pool.get('ir.queue')
        transaction = Transaction()
        rep = _user('ravi', 'group_sales_rep')
        _user('anil', 'group_autolead_admin')
        old, = Lead.create([{
                    'name': "Meera Das", 'email': 'meera@das.example',
                    'source': 'website', 'owner': rep.id}])
        data = ('Name,Email,Source\n'
            'Asha Rao,asha@rao.example,website\n'
            'Kiran Nair,kiran@nair.example,ivr\n'
            'Meera Das,MEERA@das.example,website\n'
            'Asha Rao,Asha@Rao.example,google\n').encode()
        quiet, job = Job.create([{
                    'file_name': 'leads.csv', 'file_data': data,
                    'owner': rep.id, 'notify': notify,
                    } for notify in [False, True]])
        del transaction.tasks[:]

        Job.process([quiet])
        self.assertEqual(len(Lead.search([('id', '!=', old.id)])), 4)
        self.assertFalse(transaction.tasks)
        Lead.delete(Lead.search([('id', '!=', old.id)]))

        Job.process([job])
        imported = Lead.search([('id', '!=', old.id)])
        self.assertEqual(len(imported), 4)
        self.assertFalse(Message.search(
                [('origin', 'in', [str(l) for l in imported])]))
        # the triggers' tasks post and send, committing as the sender does
        for task in Queue.browse(transaction.tasks):
            task.run()

        messages = Message.search([
                ('origin', 'in', [str(l) for l in imported]),
                ('to', '=', 'anil@autolead.example'),
                ])
        self.assertEqual(sorted(m.subject for m in messages), [
                "Duplicate lead: Asha Rao",
                "Duplicate lead: Meera Das",
                "New lead: Asha Rao",
                "New lead: Kiran Nair",
                ])
        self.assertEqual({m.state for m in messages}, {'sent'})
        self.assertEqual(
            sorted(m['subject'] for m in self.smtp.messages
                if m['to'] == ['anil@autolead.example']),
            sorted(m.subject for m in messages))


class UnsubscribeRouteTestCase(DataRouteTestCase):
    "Test the unsubscribe link"
    module = 'autolead'

    @classmethod
    def setUpData(cls):
        Party = Pool().get('party.party')
        party, = Party.create([{'name': "Priya Verma"}])
        cls.party_id = party.id
        cls.token = party.unsubscribe_token

    def unsubscribed(self):
        with Transaction().start(DB_NAME, 0):
            Party = Pool().get('party.party')
            return Party(self.party_id).marketing_unsubscribed

    def test_unsubscribe(self):
        "Opening the link asks; confirming unsubscribes"
        client = self.client()
        url = f'/{self.db_name}/unsubscribe/{self.token}'

        response = client.get(url)
        self.assertEqual(response.status_code, 200)
        self.assertIn(b'<form method="post">', response.data)
        self.assertIn(b'<button type="submit">', response.data)
        self.assertFalse(self.unsubscribed())

        response = client.post(url)
        self.assertEqual(response.status_code, 200)
        self.assertIn(b'not receive our marketing', response.data)
        self.assertTrue(self.unsubscribed())

    def test_forged_token(self):
        "A link whose signature does not match is refused"
        client = self.client()
        forged = f'{self.party_id}-' + 'A' * 24

        for method in [client.get, client.post]:
            response = method(f'/{self.db_name}/unsubscribe/{forged}')
            self.assertEqual(response.status_code, 404)
            self.assertIn(b'not valid', response.data)
        self.assertFalse(self.unsubscribed())


del RouteTestCase
