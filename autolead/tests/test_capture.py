"""The public capture form and the REST API create leads like the desk"""
import datetime
import json

from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction, check_access

from .route import DataRouteTestCase, clear_rate_limits

ORIGIN = 'https://shop.example.com'
KEY = 'a' * 64


class CaptureTestCase(DataRouteTestCase):
    "Test lead capture routes"
    module = 'autolead'

    @classmethod
    def setUpData(cls):
        pool = Pool()
        Configuration = pool.get('autolead.intake.configuration')
        Group = pool.get('res.group')
        User = pool.get('res.user')
        Application = pool.get('res.user.application')
        ModelData = pool.get('ir.model.data')

        Configuration.write([Configuration(1)], {
                'capture_origins': ORIGIN + '\nhttps://other.example.com',
                'capture_rate_limit': 3,
                })
        rep_group = Group(ModelData.get_id('autolead', 'group_sales_rep'))
        rep, = User.create([{
                    'name': "Web Rep", 'login': 'webrep',
                    'groups': [('add', [rep_group.id])],
                    }])
        Application.create([{
                    'key': KEY, 'user': rep.id, 'application': 'rest',
                    'state': 'validated',
                    }])

    def setUp(self):
        super().setUp()
        clear_rate_limits()
        self.url = f'/{self.db_name}/autolead/capture'

    def leads(self, **domain):
        with Transaction().start(DB_NAME, 0):
            Lead = Pool().get('autolead.lead')
            return [(l.name, l.source, l.lead_kind,
                    l.duplicate_of.name if l.duplicate_of else None)
                for l in Lead.search(
                    [(k, '=', v) for k, v in domain.items()],
                    order=[('id', 'ASC')])]

    def test_form_creates_lead(self):
        "A filled web form becomes a website lead"
        client = self.client()
        response = client.post(self.url, data={
                'name': "Asha Rao", 'email': 'asha@capture.example.com',
                'phone': '+91 98450 70001', 'company': "Rao Textiles",
                'owner': 'Administrator', 'lead_kind': 'junk',
                })
        self.assertEqual(response.status_code, 201)
        self.assertEqual(
            self.leads(email='asha@capture.example.com', owner=None),
            [("Asha Rao", 'website', 'new', None)])

    def test_json_and_dedup(self):
        "JSON posts are accepted and a returning contact is flagged"
        client = self.client()
        for name in ["Ravi Kumar", "Ravi K."]:
            response = client.post(self.url, json={
                    'name': name, 'email': 'RAVI@capture.example.com',
                    'source': 'google'})
            self.assertEqual(response.status_code, 201)
        self.assertEqual(self.leads(source='google'), [
                ("Ravi Kumar", 'google', 'new', None),
                ("Ravi K.", 'google', 'duplicate', "Ravi Kumar")])

    def test_invalid_email(self):
        "A malformed email is refused with a message and no lead"
        client = self.client()
        response = client.post(self.url, data={
                'name': "Bad", 'email': 'bad@'})
        self.assertEqual(response.status_code, 400)
        self.assertIn('"bad@" is not a valid email address',
            response.json['error'])
        self.assertEqual(self.leads(name="Bad"), [])

    def test_missing_name(self):
        client = self.client()
        response = client.post(self.url, data={'email': 'x@example.com'})
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json['error'], "Please give your name.")

    def test_honeypot(self):
        "A robot filling the hidden field is thanked and ignored"
        client = self.client()
        response = client.post(self.url, data={
                'name': "Spam Bot", 'email': 'bot@spam.example.com',
                'website': 'http://spam.example.com'})
        self.assertEqual(response.status_code, 202)
        self.assertEqual(self.leads(name="Spam Bot"), [])

    def test_rate_limit(self):
        "Past the limit per minute an address gets 429 and a message"
        client = self.client()
        codes = []
        for i in range(5):
            response = client.post(self.url, data={
                    'name': f"Visitor {i}",
                    'email': f'visitor{i}@rate.example.com'},
                environ_base={'REMOTE_ADDR': '10.0.0.7'})
            codes.append(response.status_code)
        self.assertEqual(codes, [201, 201, 201, 429, 429])
        self.assertIn('Too many submissions', response.json['error'])
        # the count is in the database: another trytond process refuses too
        with Transaction().start(DB_NAME, 0):
            Hit = Pool().get('autolead.rate_limit.hit')
            self.assertFalse(Hit.allow('capture', '10.0.0.7', 3))
            self.assertTrue(Hit.allow('chatbot', '10.0.0.7', 3))
        other = client.post(self.url, data={
                'name': "Neighbour", 'email': 'n@rate.example.com'},
            environ_base={'REMOTE_ADDR': '10.0.0.9'})
        self.assertEqual(other.status_code, 201)

    def test_rate_limit_hits_are_private(self):
        "No user reads or changes the counted requests, not even an admin"
        with Transaction().start(DB_NAME, 0):
            pool = Pool()
            Hit = pool.get('autolead.rate_limit.hit')
            User = pool.get('res.user')
            ModelData = pool.get('ir.model.data')
            Hit.allow('capture', '10.0.0.8', 3)
            admin, = User.create([{
                        'name': "Admin", 'login': 'hitadmin',
                        'groups': [('add', [ModelData.get_id(
                                        'autolead', 'group_autolead_admin')])],
                        }])
            rep, = User.search([('login', '=', 'webrep')])
            for user in [rep, admin]:
                with self.subTest(user=user.login), \
                        Transaction().set_user(user.id), check_access():
                    with self.assertRaises(AccessError):
                        Hit.search([])
                    with self.assertRaises(AccessError):
                        Hit.create([{'scope': 'capture', 'client': 'x',
                                    'at': datetime.datetime.now()}])

    def test_cors(self):
        "Only the configured origins get the CORS header"
        client = self.client()
        response = client.open(self.url, method='OPTIONS',
            headers={'Origin': ORIGIN})
        self.assertEqual(response.status_code, 204)
        self.assertEqual(
            response.headers['Access-Control-Allow-Origin'], ORIGIN)
        response = client.post(self.url, data={
                'name': "Cors", 'email': 'cors@example.com'},
            headers={'Origin': ORIGIN})
        self.assertEqual(
            response.headers['Access-Control-Allow-Origin'], ORIGIN)
        response = client.post(self.url, data={
                'name': "Evil", 'email': 'evil@example.com'},
            headers={'Origin': 'https://evil.example.com'})
        self.assertEqual(response.status_code, 403)
        self.assertNotIn('Access-Control-Allow-Origin', response.headers)
        self.assertEqual(self.leads(name="Evil"), [])

    def test_rest_create_dedups(self):
        "The REST API with an application key creates deduplicated leads"
        client = self.client()
        url = f'/{self.db_name}/rest/model/autolead.lead'
        headers = {'Authorization': f'Bearer {KEY}'}
        for name in ["Meena Iyer", "Meena I."]:
            response = client.post(url, json={
                    'name': name, 'phone': '+91 98860 40004',
                    'source': 'other'}, headers=headers)
            self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(self.leads(phone_key='+919886040004'), [
                ("Meena Iyer", 'other', 'new', None),
                ("Meena I.", 'other', 'duplicate', "Meena Iyer")])

    def test_rest_refused_without_key(self):
        client = self.client()
        url = f'/{self.db_name}/rest/model/autolead.lead'
        response = client.post(url, json={'name': "No Key"})
        self.assertEqual(response.status_code, 401)
        response = client.post(url, json={'name': "Bad Key"},
            headers={'Authorization': 'Bearer ' + 'b' * 64})
        self.assertEqual(response.status_code, 401)
        self.assertEqual(self.leads(name="No Key"), [])

    def test_rest_invalid_email(self):
        client = self.client()
        url = f'/{self.db_name}/rest/model/autolead.lead'
        response = client.post(url, json={'name': "Bad", 'email': 'x@'},
            headers={'Authorization': f'Bearer {KEY}'})
        self.assertEqual(response.status_code, 400)
        self.assertIn('not a valid email', json.dumps(response.json))

