"""The public endpoints under attack: what an anonymous visitor learns, how
often they may try, and whom they can lock out."""
import base64
import datetime
import io
import json
import re
import statistics
import time
from unittest.mock import patch

import trytond.config as config
from trytond.pool import Pool
from trytond.protocols.jsonrpc import JSONDecoder, JSONEncoder
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from .mailbox import Mailbox
from .route import DataRouteTestCase, clear_rate_limits, commit

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = 'Customer-Demo-7'
DESK_PASSWORD = 'Desk-Password-42'
KEY = 'c' * 64
ATTACKER = {'REMOTE_ADDR': '203.0.113.66'}
CUSTOMER = {'REMOTE_ADDR': '198.51.100.7'}


def forget_attempts():
    "Forget the failed sign-ins web_user counted"
    def forget():
        Attempt = Pool().get('web.user.authenticate.attempt')
        Attempt.delete(Attempt.search([]))
    commit(forget)


class PublicEndpointsTestCase(DataRouteTestCase):
    "Test the public endpoints against enumeration, flooding and lock-out"
    module = 'autolead'

    @classmethod
    def setUpData(cls):
        pool = Pool()
        Party = pool.get('party.party')
        WebUser = pool.get('web.user')
        Campaign = pool.get('autolead.campaign')
        Configuration = pool.get('autolead.configuration')

        for key, name in [('cara', "Cara Customer"), ('dan', "Dan Doe")]:
            party, = Party.create([{'name': name}])
            WebUser.create([{
                        'email': f'{key}@public.example',
                        'password': PASSWORD,
                        'email_valid': True,
                        'party': party.id,
                        }])
        Campaign.create([{
                    'owner': 1,
                    'title': "Spring Referral",
                    'code': 'spring',
                    'state': 'active',
                    'visibility': 'public',
                    }])
        Configuration.write([Configuration(1)], {'portal_registration': True})

        User = pool.get('res.user')
        Group = pool.get('res.group')
        ModelData = pool.get('ir.model.data')
        Lead = pool.get('autolead.lead')
        Application = pool.get('res.user.application')

        def group(name):
            return Group(ModelData.get_id('autolead', name))
        users = {}
        for login, name in [('rita', 'group_sales_rep'),
                ('ravi', 'group_sales_rep'), ('hema', 'group_sales_head'),
                ('lena', 'group_support_lead'),
                ('alba', 'group_autolead_admin')]:
            users[login], = User.create([{
                        'name': login.title(), 'login': login,
                        'password': DESK_PASSWORD,
                        'groups': [('add', [group(name).id])],
                        }])
        Lead.create([{
                    'name': "Ravi's Customer", 'email': 'taken@public.example',
                    'phone': '+91 98450 55555', 'owner': users['ravi'].id,
                    }, {
                    'name': "Rita's Customer", 'email': 'own@public.example',
                    'owner': users['rita'].id,
                    }])
        Application.create([{
                    'key': KEY, 'user': users['rita'].id,
                    'application': 'rest', 'state': 'validated',
                    }])

    def setUp(self):
        super().setUp()
        self.mailbox = Mailbox.start()
        self.addCleanup(self.mailbox.stop)
        clear_rate_limits()
        forget_attempts()
        self.addCleanup(forget_attempts)
        self.addCleanup(clear_rate_limits)
        self.base = f'/{self.db_name}/portal'

    def token(self, response):
        match = TOKEN.search(response.get_data(as_text=True))
        self.assertTrue(match, "the page has no CSRF token")
        return match.group(1)

    def post(self, client, path, data, environ=CUSTOMER):
        "Post data to the portal form at path with a fresh form token"
        page = client.get(self.base + path, environ_base=environ)
        data = dict(data, csrf_token=self.token(page))
        return client.post(self.base + path, data=data, environ_base=environ)

    def sign_in(self, client, email, password=PASSWORD, environ=CUSTOMER):
        return self.post(client, '/signin',
            {'email': email, 'password': password}, environ)

    def set_reset_token(self, email, token='a-valid-token'):
        def write():
            WebUser = Pool().get('web.user')
            user, = WebUser.search([('email', '=', email)])
            WebUser.write([user], {
                    'reset_password_token': token,
                    'reset_password_token_expire': (
                        datetime.datetime.now()
                        + datetime.timedelta(hours=1)),
                    })
        commit(write)
        self.addCleanup(self.restore_password, email)
        return token

    def restore_password(self, email):
        def write():
            WebUser = Pool().get('web.user')
            user, = WebUser.search([('email', '=', email)])
            WebUser.write([user], {
                    'password': PASSWORD,
                    'reset_password_token': None,
                    'reset_password_token_expire': None,
                    })
        commit(write)

    def desk(self, login):
        "A function calling the desk's JSON-RPC as login, answers and errors"
        client = self.client()
        url = f'/{self.db_name}/rpc/'
        headers = {}

        def call(method, *params):
            response = client.post(url, headers=headers, data=json.dumps({
                        'id': 1, 'method': method, 'params': params,
                        }, cls=JSONEncoder), content_type='application/json')
            self.assertEqual(response.status_code, 200)
            return json.loads(response.get_data(), object_hook=JSONDecoder())
        user_id, session = call('common.db.login', login,
            {'password': DESK_PASSWORD}, 'en')['result'][:2]
        headers['Authorization'] = 'Session ' + base64.b64encode(
            f'{login}:{user_id}:{session}'.encode()).decode()
        return call

    def lead_id(self, name):
        with Transaction().start(DB_NAME, 0):
            lead, = Pool().get('autolead.lead').search([('name', '=', name)])
            return lead.id

    def test_reset_password_tells_nothing_without_the_token(self):
        "The new password form answers alike for known and unknown addresses"
        client = self.client()
        answers = {}
        for email in ['cara@public.example', 'nobody@public.example']:
            for password in [email, 'x', 'Long-Enough-Password-1']:
                response = self.post(client, '/reset/password', {
                        'email': email, 'token': 'guessed',
                        'password': password, 'confirm': password})
                answers.setdefault(password.replace(email, 'EMAIL'), set()
                    ).add((response.status_code, response.get_data()))
        for password, seen in answers.items():
            with self.subTest(password=password):
                self.assertEqual(len(seen), 1, seen)
                (status, _), = seen
                self.assertEqual(status, 400)

    def test_reset_password_with_the_token(self):
        "The holder of the link chooses a password the rules accept"
        token = self.set_reset_token('cara@public.example')
        client = self.client()
        response = self.post(client, '/reset/password', {
                'email': 'cara@public.example', 'token': token,
                'password': 'cara@public.example',
                'confirm': 'cara@public.example'})
        self.assertEqual(response.status_code, 400)
        self.assertIn('csrf_token', response.get_data(as_text=True))
        response = self.post(client, '/reset/password', {
                'email': 'cara@public.example', 'token': token,
                'password': 'Brand-New-Secret-9',
                'confirm': 'Brand-New-Secret-9'})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.sign_in(self.client(), 'cara@public.example',
                'Brand-New-Secret-9').status_code, 303)
        # the link works once
        response = self.post(client, '/reset/password', {
                'email': 'cara@public.example', 'token': token,
                'password': 'Other-Secret-9', 'confirm': 'Other-Secret-9'})
        self.assertEqual(response.status_code, 400)

    def test_bad_reset_tokens_do_not_lock_the_customer_out(self):
        "An attacker posting wrong tokens is stopped; the customer signs in"
        attacker = self.client()
        codes = [self.post(attacker, '/reset/password', {
                    'email': 'dan@public.example', 'token': f'guess-{i}',
                    'password': 'Whatever-123', 'confirm': 'Whatever-123'},
                ATTACKER).status_code
            for i in range(12)]
        self.assertEqual(codes, [400] * 10 + [429] * 2)
        self.assertEqual(
            self.sign_in(self.client(), 'dan@public.example').status_code,
            303)
        # the limit is the attacker's, not the address's
        token = self.set_reset_token('dan@public.example')
        response = self.post(self.client(), '/reset/password', {
                'email': 'dan@public.example', 'token': token,
                'password': 'Brand-New-Secret-9',
                'confirm': 'Brand-New-Secret-9'})
        self.assertEqual(response.status_code, 200)

    def test_reset_request_is_uniform_and_limited(self):
        "Asking for a link answers alike; per client and per address limits"
        client = self.client()
        known = self.post(client, '/reset', {'email': 'cara@public.example'})
        unknown = self.post(
            client, '/reset', {'email': 'nobody@public.example'})
        self.assertEqual(known.status_code, 200)
        self.assertEqual(
            (known.status_code, known.get_data()),
            (unknown.status_code, unknown.get_data()))
        codes = [self.post(client, '/reset',
                {'email': f'someone{i}@public.example'}).status_code
            for i in range(4)]
        self.assertEqual(codes, [200, 200, 200, 429])

        # many clients asking for one address do not flood its inbox
        clear_rate_limits()
        for i in range(5):
            response = self.post(client, '/reset',
                {'email': 'flood@public.example'},
                {'REMOTE_ADDR': f'192.0.2.{i + 1}'})
            self.assertEqual(response.get_data(), known.get_data())
        with Transaction().start(DB_NAME, 0):
            Hit = Pool().get('autolead.rate_limit.hit')
            self.assertEqual(Hit.search_count([
                        ('scope', '=', 'reset_address'),
                        ('client', '=', 'flood@public.example'),
                        ]), 3)

    def test_registration_is_uniform(self):
        "Registering a taken address answers as for a new one"
        client = self.client()
        data = {'name': "Eve", 'password': 'Correct-Horse-9',
            'confirm': 'Correct-Horse-9'}
        taken = self.post(client, '/register',
            dict(data, email='cara@public.example'))
        new = self.post(client, '/register',
            dict(data, email='eve.new@public.example'))
        self.assertEqual(taken.status_code, 200)
        self.assertEqual(
            (taken.status_code, taken.get_data()),
            (new.status_code, new.get_data()))
        with Transaction().start(DB_NAME, 0):
            WebUser = Pool().get('web.user')
            self.assertEqual(WebUser.search_count(
                    [('email', '=', 'cara@public.example')]), 1)
            cara, = WebUser.search([('email', '=', 'cara@public.example')])
            self.assertEqual(cara.party.name, "Cara Customer")
            # she is sent a link to choose a new password instead
            self.assertTrue(cara.reset_password_token)
        self.addCleanup(self.restore_password, 'cara@public.example')
        # the owner of the taken address still signs in with her password
        self.assertEqual(
            self.sign_in(client, 'cara@public.example').status_code, 303)

    def test_registration_rate_limit(self):
        "One client registers a few accounts a minute"
        client = self.client()
        codes = [self.post(client, '/register', {
                    'name': f"Bot {i}", 'email': f'bot{i}@public.example',
                    'password': 'Correct-Horse-9',
                    'confirm': 'Correct-Horse-9'}).status_code
            for i in range(6)]
        self.assertEqual(codes, [200] * 5 + [429])

    def test_wrong_passwords_do_not_lock_out_a_known_browser(self):
        "Others' wrong passwords lock the address out of new browsers only"
        getint = config.getint

        def max_one_attempt(section, option, default=None):
            if (section, option) == ('session', 'max_attempt'):
                return 1
            return getint(section, option, default=default)
        limit = patch.object(config, 'getint', max_one_attempt)
        limit.start()
        self.addCleanup(limit.stop)
        path = f'/{self.db_name}/'
        customer = self.client()
        self.assertEqual(
            self.sign_in(customer, 'dan@public.example').status_code, 303)
        customer.delete_cookie('autolead_session', path=path)

        attacker = self.client()
        codes = [self.sign_in(attacker, 'dan@public.example',
                f'guess{i}', ATTACKER).status_code for i in range(3)]
        self.assertEqual(codes, [401, 401, 429])
        # a forged device token is no way round the limit
        attacker.set_cookie('autolead_device', 'x.' + 'f' * 64,
            path=path + 'portal/')
        self.assertEqual(self.sign_in(attacker, 'dan@public.example',
                PASSWORD, ATTACKER).status_code, 429)
        # web_user's rule holds for a browser never signed in with...
        self.assertEqual(
            self.sign_in(self.client(), 'dan@public.example').status_code,
            429)
        # ...but not for the customer's own browser
        self.assertEqual(
            self.sign_in(customer, 'dan@public.example').status_code, 303)

    def test_sign_in_rate_limit_per_client(self):
        "One client tries a limited number of sign-ins a minute"
        client = self.client()
        codes = [self.sign_in(client, f'guess{i}@public.example',
                'wrong', ATTACKER).status_code for i in range(21)]
        self.assertEqual(codes, [401] * 20 + [429])
        self.assertEqual(
            self.sign_in(self.client(), 'cara@public.example').status_code,
            303)

    def test_sign_in_takes_as_long_for_unknown_addresses(self):
        "The time of a failed sign-in does not tell whether the address exists"
        with Transaction().start(DB_NAME, 0):
            WebUser = Pool().get('web.user')
            hash_ = WebUser.hash_password(PASSWORD)
            hash_times = []
            for _ in range(5):
                start = time.perf_counter()
                WebUser.check_password('wrong', hash_)
                hash_times.append(time.perf_counter() - start)
        hash_time = statistics.median(hash_times)

        client = self.client()
        known, unknown = [], []
        for i in range(15):
            for email, times in [
                    ('cara@public.example', known),
                    (f'nobody{i}@public.example', unknown)]:
                page = client.get(self.base + '/signin')
                data = {'csrf_token': self.token(page), 'email': email,
                    'password': 'wrong'}
                start = time.perf_counter()
                response = client.post(self.base + '/signin', data=data)
                times.append(time.perf_counter() - start)
                self.assertEqual(response.status_code, 401)
            forget_attempts()
            clear_rate_limits()
        known, unknown = statistics.median(known), statistics.median(unknown)
        self.assertGreater(unknown, 0.6 * hash_time,
            (known, unknown, hash_time))
        self.assertLess(abs(known - unknown), 0.6 * hash_time,
            (known, unknown, hash_time))

    def test_sign_out_ends_the_session_it_clears(self):
        "Signing out never leaves a session alive behind a cleared cookie"
        client = self.client()
        self.assertEqual(
            self.sign_in(client, 'cara@public.example').status_code, 303)
        key = client.get_cookie('autolead_session', path=f'/{self.db_name}/')
        tickets = self.base + '/tickets'

        # without the form's token, the session and the cookie stay
        response = client.post(self.base + '/signout')
        self.assertEqual(response.status_code, 403)
        self.assertNotIn('autolead_session=;',
            response.headers.get('Set-Cookie', ''))
        self.assertEqual(client.get(tickets).status_code, 200)

        csrf = self.token(client.get(self.base + '/tickets/new'))
        response = client.post(self.base + '/signout',
            data={'csrf_token': csrf})
        self.assertEqual(response.status_code, 303)
        self.assertIn('autolead_session=;', response.headers['Set-Cookie'])
        other = self.client()
        other.set_cookie('autolead_session', key.value,
            path=f'/{self.db_name}/')
        self.assertEqual(other.get(tickets).status_code, 303)

    def test_campaign_signup_and_like_rate_limits(self):
        "A client signs up or likes a campaign a limited number of times"
        client = self.client()
        url = f'/{self.db_name}/autolead/campaign/spring'
        codes = [client.post(url + '/signup', data={
                    'name': f"Spam {i}", 'email': f'spam{i}@public.example',
                    }, environ_base=ATTACKER).status_code
            for i in range(11)]
        self.assertEqual(codes, [200] * 10 + [429])
        codes = [client.post(url + '/like', environ_base=ATTACKER
                ).status_code for i in range(21)]
        self.assertEqual(codes, [204] * 20 + [429])
        # others still sign up
        self.assertEqual(client.post(url + '/signup', data={
                    'name': "Real Person", 'email': 'real@public.example',
                    }, environ_base=CUSTOMER).status_code, 200)
        with Transaction().start(DB_NAME, 0):
            Lead = Pool().get('autolead.lead')
            Campaign = Pool().get('autolead.campaign')
            self.assertEqual(Lead.search_count(
                    [('email', 'like', 'spam%@public.example')]), 10)
            campaign, = Campaign.search([('code', '=', 'spring')])
            self.assertEqual(campaign.likes, 20)

    def test_duplicate_of_another_reps_lead_is_not_shown(self):
        "A rep repeating another rep's contact learns only that it exists"
        rita = self.desk('rita')
        answer = rita('model.autolead.lead.create', [{
                    'name': "Same Person", 'email': 'TAKEN@public.example',
                    }], {})
        lead_id, = answer['result']
        original = self.lead_id("Ravi's Customer")
        fields = ['lead_kind', 'duplicate_of', 'duplicate_of.rec_name',
            'duplicate_notice']
        row, = rita('model.autolead.lead.read', [lead_id], fields, {}
            )['result']
        self.assertEqual(row['lead_kind'], 'duplicate')
        self.assertIsNone(row['duplicate_of'])
        self.assertIsNone(row['duplicate_of.'])
        self.assertIn('belongs to another representative',
            row['duplicate_notice'])
        self.assertNotIn(str(original), json.dumps(row))
        self.assertNotIn("Ravi's Customer", json.dumps(row))

        # her own original is shown as usual
        answer = rita('model.autolead.lead.create', [{
                    'name': "Own Again", 'email': 'own@public.example',
                    }], {})
        row, = rita('model.autolead.lead.read', answer['result'], fields,
            {})['result']
        self.assertEqual(row['duplicate_of'], self.lead_id("Rita's Customer"))
        self.assertEqual(row['duplicate_of.']['rec_name'], "Rita's Customer")
        self.assertIsNone(row['duplicate_notice'])

        # the sales head sees which lead it repeats
        row, = self.desk('hema')('model.autolead.lead.read', [lead_id],
            fields, {})['result']
        self.assertEqual(row['duplicate_of'], original)
        self.assertIsNone(row['duplicate_notice'])

    def test_import_skip_does_not_name_another_reps_lead(self):
        "Skipping an import row tells a rep no id of another rep's lead"
        rita = self.desk('rita')
        data = ('Name,Email\nCopy Cat,taken@public.example\n'
            'Own Copy,own@public.example\n').encode()
        session, _, _ = rita(
            'wizard.autolead.lead.import.create', {})['result']
        start = {'file_data': data, 'file_name': 'leads.csv',
            'duplicates': 'skip', 'all_or_nothing': False, 'notify': False}
        answer = rita('wizard.autolead.lead.import.execute', session,
            {'start': start}, 'preview', {})
        self.assertNotIn('error', answer, answer.get('error'))
        preview = answer['result']['view']['defaults']
        answer = rita('wizard.autolead.lead.import.execute', session,
            {'start': start, 'preview': preview}, 'import_', {})
        self.assertNotIn('error', answer, answer.get('error'))
        job, = rita('model.autolead.lead.import.job.search_read',
            [('file_name', '=', 'leads.csv')], 0, None, None,
            ['skipped', 'report'], {})['result']
        self.assertEqual(job['skipped'], 2)
        report = job['report'].decode()
        original = self.lead_id("Ravi's Customer")
        self.assertIn('belongs to another representative', report)
        self.assertNotIn(f'#{original}', report)
        own = self.lead_id("Rita's Customer")
        self.assertIn(f'#{own}', report)

    def test_desk_refuses_attachment_types_and_sizes(self):
        "A rep cannot attach an executable, a disguised or an oversized file"
        rita = self.desk('rita')
        resource = 'autolead.lead,%s' % self.lead_id("Rita's Customer")

        def attach(name, data):
            return rita('model.ir.attachment.create', [{
                        'name': name, 'data': data, 'resource': resource,
                        }], {})
        for name, data in [
                ('setup.exe', b'MZ\x90\x00 program'),
                ('invoice.pdf', b'MZ\x90\x00 program'),
                ('notes.txt', b'\x00\x01binary'),
                ('page.html', b'<script>alert(1)</script>')]:
            with self.subTest(name=name):
                answer = attach(name, data)
                self.assertIn('error', answer)
                self.assertIn('not an accepted file type',
                    json.dumps(answer['error']))
        answer = attach('quote.pdf', b'%PDF-1.4 quote')
        self.assertNotIn('error', answer, answer.get('error'))
        quote, = answer['result']
        answer = attach('offer.docx', b'PK\x03\x04 word')
        self.assertNotIn('error', answer, answer.get('error'))
        # renaming does not slip an executable in
        answer = rita('model.ir.attachment.write', [quote],
            {'name': 'quote.exe'}, {})
        self.assertIn('not an accepted file type', json.dumps(answer))

        # only the administrator changes the rules, not even the support
        # lead who writes the other helpdesk settings
        answer = rita('model.autolead.configuration.write', [1],
            {'attachment_extensions': 'exe'}, {})
        self.assertIn('error', answer)
        lena = self.desk('lena')
        answer = lena('model.autolead.configuration.write', [1],
            {'at_risk_hours': 4}, {})
        self.assertNotIn('error', answer, answer.get('error'))
        for values in [{'attachment_extensions': 'exe'},
                {'attachment_size': 500}]:
            answer = lena('model.autolead.configuration.write', [1],
                values, {})
            self.assertIn('error', answer)
        with Transaction().start(DB_NAME, 0):
            configuration = Pool().get('autolead.configuration')(1)
            self.assertNotIn('exe', configuration.attachment_extensions)
            self.assertEqual(configuration.attachment_size, 5)
        alba = self.desk('alba')
        answer = alba('model.autolead.configuration.write', [1],
            {'attachment_extensions': 'pdf zip', 'attachment_size': 1}, {})
        self.assertNotIn('error', answer, answer.get('error'))
        self.addCleanup(self.default_attachment_rules)
        self.assertNotIn('error', attach('bundle.zip', b'PK\x03\x04 zip'))
        self.assertIn('error', attach('offer2.docx', b'PK\x03\x04 word'))
        answer = attach('big.pdf', b'%PDF-1.4' + b'0' * (1024 * 1024))
        self.assertIn('larger than 1.0 MB', json.dumps(answer['error']))
        with Transaction().start(DB_NAME, 0):
            Attachment = Pool().get('ir.attachment')
            self.assertEqual(sorted(a.name for a in Attachment.search(
                        [('resource', '=', resource)])),
                ['bundle.zip', 'offer.docx', 'quote.pdf'])

    def default_attachment_rules(self):
        def write():
            Configuration = Pool().get('autolead.configuration')
            Configuration.write([Configuration(1)], {
                    'attachment_extensions': Configuration.
                    default_attachment_extensions(),
                    'attachment_size': Configuration.default_attachment_size(),
                    })
        commit(write)

    def test_portal_uploads_follow_the_attachment_rules(self):
        "The portal takes what the administrator's rules take, no more"
        client = self.client()
        self.assertEqual(
            self.sign_in(client, 'cara@public.example').status_code, 303)

        def new_ticket(subject, name, data):
            csrf = self.token(client.get(self.base + '/tickets/new'))
            return client.post(self.base + '/tickets/new', data={
                    'csrf_token': csrf, 'subject': subject,
                    'attachments': [(io.BytesIO(data), name)]})
        self.assertEqual(new_ticket("Word file", 'specs.docx',
                b'PK\x03\x04 word').status_code, 303)
        self.assertEqual(new_ticket("Program", 'setup.exe',
                b'MZ\x90\x00').status_code, 400)

        def pdf_only():
            Configuration = Pool().get('autolead.configuration')
            Configuration.write([Configuration(1)],
                {'attachment_extensions': 'pdf'})
        commit(pdf_only)
        self.addCleanup(self.default_attachment_rules)
        response = new_ticket("Word again", 'specs.docx', b'PK\x03\x04 w')
        self.assertEqual(response.status_code, 400)
        self.assertIn('accepted: pdf', response.get_data(as_text=True))

    def test_rest_search_refuses_malformed_parameters(self):
        "The REST search answers 400 with a message, never 500"
        client = self.client()
        url = f'/{self.db_name}/rest/model/autolead.lead'
        headers = {'Authorization': f'Bearer {KEY}'}

        def encoded(value):
            return base64.urlsafe_b64encode(
                json.dumps(value).encode()).decode()
        malformed = [
            {'d': 'not base64!'},
            {'d': base64.urlsafe_b64encode(b'\xff\xfe').decode()},
            {'d': base64.urlsafe_b64encode(b'[not json').decode()},
            {'d': encoded({'name': 'x'})},
            {'d': encoded([['no_such_field', '=', 1]])},
            {'d': encoded([['name', 'bogus', 1]])},
            {'d': encoded([['name']])},
            {'d': encoded([42])},
            {'o': encoded([['name']])},
            {'o': encoded([['no_such_field', 'ASC']])},
            {'s': 'ten'},
            {'p': '-1'},
            {'f': 'no_such_field'},
            ]
        for query in malformed:
            with self.subTest(query=query):
                response = client.get(
                    url, query_string=query, headers=headers)
                self.assertEqual(response.status_code, 400, response.data)
                self.assertIn('parameter of the request is malformed',
                    response.json['message'])
        response = client.get(url, headers=dict(headers, Range='records=x-'))
        self.assertEqual(response.status_code, 400)
        response = client.get(f'/{self.db_name}/rest/model/no.such.model',
            headers=headers)
        self.assertEqual(response.status_code, 404)
        # well-formed searches still work, and a key is still needed
        response = client.get(url, headers=headers, query_string={
                'd': encoded([['name', '=', "Rita's Customer"]]),
                'o': encoded([['name', 'ASC']]), 's': '5', 'f': 'name'})
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual([r['name'] for r in response.json],
            ["Rita's Customer"])
        self.assertEqual(client.get(url, query_string={'d': 'x'}
                ).status_code, 401)
