"""The customer portal over HTTP: what a customer may do, and every attack
on what they may not."""
import datetime
import re
from unittest.mock import patch
from urllib.parse import parse_qs, urlsplit

import trytond.config as config
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from .route import DataRouteTestCase, clear_rate_limits, commit



def _png(colour='teal'):
    "A small picture as a PNG file"
    import io
    from PIL import Image
    data = io.BytesIO()
    Image.new('RGB', (8, 8), colour).save(data, 'PNG')
    return data.getvalue()


PNG = _png()


def _image_size(data):
    import io
    from PIL import Image
    return Image.open(io.BytesIO(data)).size
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class PortalTestCase(DataRouteTestCase):
    "Test the customer portal"
    module = 'autolead'

    @classmethod
    def setUpData(cls):
        pool = Pool()
        Party = pool.get('party.party')
        WebUser = pool.get('web.user')
        User = pool.get('res.user')
        Ticket = pool.get('autolead.ticket')
        Message = pool.get('autolead.ticket.message')
        Attachment = pool.get('ir.attachment')
        FAQ = pool.get('autolead.faq')

        agent, = User.create([{'name': "Asha Agent", 'login': 'asha'}])
        ids = {}
        for key, name in [('anna', "Anna Customer"), ('bob', "Bob Other")]:
            party, = Party.create([{'name': name}])
            web_user, = WebUser.create([{
                        'email': f'{key}@customer.example',
                        'password': 'customer-demo',
                        'email_valid': True,
                        'party': party.id,
                        }])
            tickets = Ticket.create([{
                        'subject': f"{name} printer jam {i}",
                        'customer': party.id,
                        'web_user': web_user.id,
                        } for i in range(23 if key == 'anna' else 1)])
            with Transaction().set_user(agent.id):
                Ticket.accept(tickets[:1])
            note, reply = Message.create([{
                        'ticket': tickets[0].id,
                        'body': f"Internal: {key} is a difficult customer",
                        'internal': True,
                        }, {
                        'ticket': tickets[0].id,
                        'body': f"Hello {key}, we are on it",
                        }])
            note_file, ticket_file = Attachment.create([{
                        'name': 'note.txt', 'data': b'secret note',
                        'resource': str(note),
                        }, {
                        'name': 'invoice.pdf',
                        'data': b'%PDF-1.4 ' + name.encode(),
                        'resource': str(tickets[0]),
                        }])
            ids[key] = {
                'ticket': tickets[0].id,
                'note_file': note_file.id,
                'ticket_file': ticket_file.id,
                }
        anna, = Party.search([('name', '=', "Anna Customer")])
        resolved, = Ticket.create([{
                    'subject': "Resolved already",
                    'customer': anna.id,
                    }])
        Ticket.accept([resolved])
        Ticket.resolve([resolved])
        ids['anna']['resolved'] = resolved.id
        FAQ.create([{
                    'question': "Public question?", 'answer': "Public answer",
                    'audience': 'public'}, {
                    'question': "Customer-only question?",
                    'answer': "Customer answer", 'audience': 'customer'}])
        cls.ids = ids

    def setUp(self):
        super().setUp()
        clear_rate_limits()
        self.base = f'/{self.db_name}/portal'

    def token(self, response):
        match = TOKEN.search(response.get_data(as_text=True))
        self.assertTrue(match, "the page has no CSRF token")
        return match.group(1)

    def sign_in(self, client, email='anna@customer.example',
            password='customer-demo'):
        token = self.token(client.get(self.base + '/signin'))
        return client.post(self.base + '/signin', data={
                'csrf_token': token, 'email': email, 'password': password})

    def signed_in(self, email='anna@customer.example'):
        client = self.client()
        response = self.sign_in(client, email)
        self.assertEqual(response.status_code, 303)
        return client

    def model(self, name):
        return Pool().get(name)

    def test_public_pages(self):
        "The public pages share the layout, the chatbot and local assets"
        client = self.client()
        for path in ['', '/', '/help', '/contact', '/demo', '/signin',
                '/reset']:
            with self.subTest(path=path):
                response = client.get(self.base + path)
                self.assertEqual(response.status_code, 200)
                html = response.get_data(as_text=True)
                self.assertIn(
                    f'<script src="/{self.db_name}/chatbot/widget.js" defer',
                    html)
                self.assertIn(f'{self.base}/static/portal.css', html)
                self.assertNotIn('cdn', html.lower())
                self.assertEqual(
                    response.headers['X-Content-Type-Options'], 'nosniff')
                self.assertIn("script-src 'self'",
                    response.headers['Content-Security-Policy'])
        css = client.get(self.base + '/static/portal.css')
        self.assertEqual(css.status_code, 200)
        self.assertIn('text/css', css.headers['Content-Type'])
        self.assertNotEqual(
            client.get(self.base + '/static/..%2Ftryton.cfg').status_code,
            200)

    def test_help_audience(self):
        "Customer answers are shown only to signed-in customers"
        html = self.client().get(self.base + '/help').get_data(as_text=True)
        self.assertIn("Public question?", html)
        self.assertNotIn("Customer-only question?", html)
        client = self.signed_in()
        html = client.get(self.base + '/help').get_data(as_text=True)
        self.assertIn("Customer-only question?", html)

    def test_contact_creates_enquiry_once(self):
        "Contact Us creates an enquiry; its token cannot be replayed"
        client = self.client()
        token = self.token(client.get(self.base + '/contact'))
        data = {
            'csrf_token': token, 'name': "Vera Visitor",
            'email': 'vera@visitor.example', 'subject': "Pricing",
            'message': "How much for 10 agents?", 'website': '',
            }
        response = client.post(self.base + '/contact', data=data)
        self.assertEqual(response.status_code, 200)
        replay = client.post(self.base + '/contact', data=data)
        self.assertEqual(replay.status_code, 403)
        with Transaction().start(DB_NAME, 0):
            Enquiry = self.model('autolead.enquiry')
            self.assertEqual(
                [(e.name, e.source, e.state) for e in Enquiry.search(
                        [('email', '=', 'vera@visitor.example')])],
                [("Vera Visitor", 'website', 'open')])

    def test_anonymous_forms_refuse_missing_forged_and_foreign_tokens(self):
        "Anonymous forms need a token issued for that very form"
        client = self.client()
        data = {'name': "Mallory", 'email': 'm@evil.example',
            'subject': "Spam", 'message': "Spam"}
        self.assertEqual(
            client.post(self.base + '/contact', data=data).status_code, 403)
        self.assertEqual(client.post(self.base + '/contact',
                data=dict(data, csrf_token='forged')).status_code, 403)
        demo_token = self.token(client.get(self.base + '/demo'))
        self.assertEqual(client.post(self.base + '/contact',
                data=dict(data, csrf_token=demo_token)).status_code, 403)
        with Transaction().start(DB_NAME, 0):
            Enquiry = self.model('autolead.enquiry')
            self.assertFalse(Enquiry.search([('name', '=', "Mallory")]))

    def test_expired_form_token(self):
        "An anonymous form left open too long must be reloaded"
        client = self.client()
        token = self.token(client.get(self.base + '/contact'))

        def expire():
            FormToken = self.model('autolead.portal.form_token')
            tokens = FormToken.search([('token', '=', token)])
            FormToken.write(tokens, {
                    'expires': datetime.datetime.now()
                    - datetime.timedelta(minutes=1)})
        commit(expire)
        response = client.post(self.base + '/contact', data={
                'csrf_token': token, 'name': "Slow Sam",
                'email': 'sam@visitor.example', 'subject': "Hello",
                'message': "I went for lunch"})
        self.assertEqual(response.status_code, 403)
        self.assertIn('reload the page', response.get_data(as_text=True))

    def test_contact_honeypot_and_validation(self):
        "Bots filling the honeypot are dropped; a bad email is explained"
        client = self.client()
        token = self.token(client.get(self.base + '/contact'))
        response = client.post(self.base + '/contact', data={
                'csrf_token': token, 'name': "Bot", 'email': 'bot@x.example',
                'subject': "Buy", 'message': "now", 'website': 'http://x'})
        self.assertEqual(response.status_code, 200)
        token = self.token(client.get(self.base + '/contact'))
        response = client.post(self.base + '/contact', data={
                'csrf_token': token, 'name': "Typo", 'email': 'not-an-email',
                'subject': "Hi", 'message': "Hi"})
        self.assertEqual(response.status_code, 400)
        self.assertIn('not a valid email', response.get_data(as_text=True))
        with Transaction().start(DB_NAME, 0):
            Enquiry = self.model('autolead.enquiry')
            self.assertFalse(
                Enquiry.search([('name', 'in', ["Bot", "Typo"])]))

    def test_demo_form_creates_website_lead(self):
        "The demo request goes through the capture path and its dedup"
        client = self.client()
        token = self.token(client.get(self.base + '/demo'))
        response = client.post(self.base + '/demo', data={
                'csrf_token': token, 'name': "Lina Lead",
                'email': 'lina@lead.example', 'phone': '+91 98450 70009',
                'company': "Lina Labs"})
        self.assertEqual(response.status_code, 200)
        token = self.token(client.get(self.base + '/demo'))
        response = client.post(self.base + '/demo', data={
                'csrf_token': token, 'name': "Bad", 'email': 'bad@'})
        self.assertEqual(response.status_code, 400)
        with Transaction().start(DB_NAME, 0):
            Lead = self.model('autolead.lead')
            self.assertEqual(
                [(l.name, l.source) for l in Lead.search(
                        [('email', '=', 'lina@lead.example')])],
                [("Lina Lead", 'website')])

    def test_session_cookie(self):
        "The session cookie is HttpOnly, SameSite=Lax and bound to the db"
        client = self.client()
        response = self.sign_in(client)
        self.assertEqual(response.status_code, 303)
        cookie = response.headers['Set-Cookie']
        self.assertTrue(cookie.startswith('autolead_session='))
        self.assertIn('HttpOnly', cookie)
        self.assertIn('SameSite=Lax', cookie)
        self.assertIn(f'Path=/{self.db_name}/', cookie)
        key = cookie.split(';')[0].split('=', 1)[1]
        with Transaction().start(DB_NAME, 0):
            WebUser = self.model('web.user')
            self.assertEqual(
                WebUser.get_user(key).email, 'anna@customer.example')

    def test_wrong_password(self):
        "A wrong password does not sign in"
        client = self.client()
        response = self.sign_in(client, password='wrong')
        self.assertEqual(response.status_code, 401)
        self.assertEqual(
            client.get(self.base + '/tickets').status_code, 303)

    def test_login_rate_limit(self):
        "web.user's rate limit stops password guessing"
        getint = config.getint

        def max_one_attempt(section, option, default=None):
            if (section, option) == ('session', 'max_attempt'):
                return 1
            return getint(section, option, default=default)
        limit = patch.object(config, 'getint', max_one_attempt)
        limit.start()
        self.addCleanup(limit.stop)
        client = self.client()
        codes = [self.sign_in(
                client, 'bob@customer.example', 'guess%s' % i).status_code
            for i in range(3)]
        self.assertEqual(codes, [401, 401, 429])
        # even the right password is refused while the limit holds
        self.assertEqual(self.sign_in(
                client, 'bob@customer.example').status_code, 429)
        with Transaction().start(DB_NAME, 0) as transaction:
            Attempt = self.model('web.user.authenticate.attempt')
            Attempt.remove('bob@customer.example')
            transaction.commit()

    def test_ticket_list_is_own_searchable_and_paged(self):
        "The list shows only the customer's tickets, with search and pages"
        client = self.signed_in()
        html = client.get(self.base + '/tickets').get_data(as_text=True)
        self.assertIn("Anna Customer printer jam", html)
        self.assertNotIn("Bob Other", html)
        self.assertIn('Page 1 of', html)
        page2 = client.get(self.base + '/tickets?page=2').get_data(
            as_text=True)
        self.assertIn('Page 2 of', page2)
        accepted = client.get(self.base + '/tickets?q=jam+0').get_data(
            as_text=True)
        self.assertIn("Anna Customer printer jam 0", accepted)
        self.assertIn('Asha Agent', accepted)
        found = client.get(self.base + '/tickets?q=resolved').get_data(
            as_text=True)
        self.assertIn("Resolved already", found)
        self.assertNotIn("printer jam", found)
        # internal notes are not searchable by the customer
        hidden = client.get(self.base + '/tickets?q=difficult').get_data(
            as_text=True)
        self.assertNotIn("printer jam", hidden)

    def test_ticket_page_hides_internal_notes(self):
        "The conversation shows replies, never internal notes"
        client = self.signed_in()
        response = client.get(
            f"{self.base}/tickets/{self.ids['anna']['ticket']}")
        self.assertEqual(response.status_code, 200)
        html = response.get_data(as_text=True)
        self.assertIn("Hello anna, we are on it", html)
        self.assertIn("Asha Agent", html)
        self.assertNotIn("difficult customer", html)
        self.assertNotIn(f"/attachments/{self.ids['anna']['note_file']}", html)

    def test_times_in_company_time_zone(self):
        "Times are shown in the company's time zone, not in UTC"
        def set_zone(name):
            from trytond.modules.company.tests import create_company
            Company = self.model('company.company')
            companies = Company.search([])
            if not companies and name:
                companies = [create_company()]
            Company.write(companies, {'timezone': name})

        ticket_id = self.ids['anna']['ticket']
        commit(set_zone, 'Asia/Kolkata')
        try:
            html = self.signed_in().get(
                f"{self.base}/tickets/{ticket_id}").get_data(as_text=True)
        finally:
            commit(set_zone, None)
        with Transaction().start(DB_NAME, 0):
            ticket = self.model('autolead.ticket')(ticket_id)
            created = ticket.create_date
            replied = [m.date for m in ticket.messages if not m.internal][0]
        kolkata = datetime.timedelta(hours=5, minutes=30)
        self.assertIn(
            f"<dt>Raised</dt><dd>"
            f"{(created + kolkata).strftime('%d %b %Y %H:%M')}</dd>", html)
        self.assertIn(
            f'datetime="{(replied + kolkata).isoformat()}+05:30"', html)

    def test_other_customers_ticket_is_not_found(self):
        "Another customer's ticket id in the URL or form reaches nothing"
        client = self.signed_in()
        bob = self.ids['bob']['ticket']
        csrf = self.token(client.get(self.base + '/tickets/new'))
        self.assertEqual(
            client.get(f'{self.base}/tickets/{bob}').status_code, 404)
        self.assertEqual(client.get(f'{self.base}/tickets/{bob}/messages',
                headers={'HX-Request': 'true'}).status_code, 404)
        self.assertEqual(client.post(f'{self.base}/tickets/{bob}/messages',
                data={'csrf_token': csrf, 'body': "Injected"}).status_code,
            404)
        self.assertEqual(client.post(f'{self.base}/tickets/{bob}/reopen',
                data={'csrf_token': csrf}).status_code, 404)
        response = client.post(self.base + '/tickets/new', data={
                'csrf_token': csrf, 'subject': "Mine", 'customer': 'x',
                'web_user': 'x'})
        self.assertEqual(response.status_code, 303)
        with Transaction().start(DB_NAME, 0):
            Message = self.model('autolead.ticket.message')
            Ticket = self.model('autolead.ticket')
            self.assertFalse(Message.search([('body', '=', "Injected")]))
            ticket, = Ticket.search([('subject', '=', "Mine")])
            self.assertEqual(ticket.customer.name, "Anna Customer")

    def test_attachment_download(self):
        "Own attachments download; another's or an internal note's do not"
        client = self.signed_in()
        own = client.get(
            f"{self.base}/attachments/{self.ids['anna']['ticket_file']}")
        self.assertEqual(own.status_code, 200)
        self.assertTrue(own.data.startswith(b'%PDF'))
        self.assertIn('attachment', own.headers['Content-Disposition'])
        for attachment in [self.ids['bob']['ticket_file'],
                self.ids['bob']['note_file'],
                self.ids['anna']['note_file'], 999999]:
            with self.subTest(attachment=attachment):
                self.assertEqual(client.get(
                        f'{self.base}/attachments/{attachment}').status_code,
                    404)
        anonymous = self.client().get(
            f"{self.base}/attachments/{self.ids['anna']['ticket_file']}")
        self.assertEqual(anonymous.status_code, 303)

    def test_signed_in_forms_need_the_session_token(self):
        "Missing, forged and old-session tokens are refused"
        client = self.signed_in()
        url = f"{self.base}/tickets/{self.ids['anna']['ticket']}/messages"
        old = self.token(client.get(self.base + '/tickets/new'))
        self.assertEqual(
            client.post(url, data={'body': "no token"}).status_code, 403)
        self.assertEqual(client.post(url, data={
                    'csrf_token': 'f' * 64, 'body': "forged"}).status_code,
            403)
        client.post(self.base + '/signout', data={'csrf_token': old})
        self.sign_in(client)
        self.assertEqual(client.post(url, data={
                    'csrf_token': old, 'body': "replayed"}).status_code, 403)
        with Transaction().start(DB_NAME, 0):
            Message = self.model('autolead.ticket.message')
            self.assertFalse(Message.search(
                    [('body', 'in', ["no token", "forged", "replayed"])]))

    def test_signed_out_session_is_dead(self):
        "After signing out, the old cookie no longer opens the tickets"
        client = self.signed_in()
        key = client.get_cookie('autolead_session', path=f'/{self.db_name}/')
        csrf = self.token(client.get(self.base + '/tickets/new'))
        client.post(self.base + '/signout', data={'csrf_token': csrf})
        other = self.client()
        other.set_cookie('autolead_session', key.value,
            path=f'/{self.db_name}/')
        self.assertEqual(other.get(self.base + '/tickets').status_code, 303)

    def test_new_ticket_with_attachments_and_limits(self):
        "A ticket takes images and PDFs, not oversized or disguised files"
        client = self.signed_in()
        csrf = self.token(client.get(self.base + '/tickets/new'))
        response = client.post(self.base + '/tickets/new', data={
                'csrf_token': csrf, 'subject': "Screen is blank",
                'description': "Since this morning",
                'attachments': [
                    (_file(PNG), 'screen.png'),
                    (_file(b'%PDF-1.4 log'), 'log.pdf')],
                })
        self.assertEqual(response.status_code, 303)
        page = client.get(response.headers['Location']).get_data(
            as_text=True)
        self.assertIn('screen.png', page)
        self.assertIn('log.pdf', page)
        # above trytond's 2 MB for anonymous requests, within the portal's
        response = client.post(self.base + '/tickets/new', data={
                'csrf_token': csrf, 'subject': "Scanned manual",
                'attachments': [
                    (_file(b'%PDF-1.4' + b'0' * 3_000_000), 'manual.pdf')]})
        self.assertEqual(response.status_code, 303)
        refused = [
            (b'MZ\x90\x00', 'setup.exe'),
            (b'<script>alert(1)</script>', 'page.html'),
            (b'MZ not a png', 'fake.png'),
            ]
        for data, name in refused:
            with self.subTest(name=name):
                response = client.post(self.base + '/tickets/new', data={
                        'csrf_token': csrf, 'subject': f"Refused {name}",
                        'attachments': [(_file(data), name)]})
                self.assertEqual(response.status_code, 400)
                self.assertIn('not an accepted file type',
                    response.get_data(as_text=True))
        with patch('trytond.modules.autolead.portal.upload_limit',
                return_value=1000):
            response = client.post(self.base + '/tickets/new', data={
                    'csrf_token': csrf, 'subject': "Refused big",
                    'attachments': [
                        (_file(PNG + b'\x00' * 2000), 'big.png')]})
        self.assertEqual(response.status_code, 400)
        self.assertIn('larger than', response.get_data(as_text=True))
        with Transaction().start(DB_NAME, 0):
            Ticket = self.model('autolead.ticket')
            self.assertFalse(
                Ticket.search([('subject', 'like', 'Refused%')]))

    def test_html_is_escaped(self):
        "Markup typed by a customer is shown, never run"
        client = self.signed_in()
        csrf = self.token(client.get(self.base + '/tickets/new'))
        response = client.post(self.base + '/tickets/new', data={
                'csrf_token': csrf,
                'subject': '<script>alert("x")</script>',
                'description': '<img src=x onerror=alert(1)>'})
        html = client.get(response.headers['Location']).get_data(
            as_text=True)
        self.assertNotIn('<script>alert', html)
        self.assertNotIn('<img src=x', html)
        self.assertIn('&lt;script&gt;alert', html)
        self.assertIn('&lt;img src=x onerror=alert(1)&gt;', html)

    def test_conversation_and_reopen(self):
        "The customer replies (with htmx or not) and reopens a resolved one"
        client = self.signed_in()
        ticket = self.ids['anna']['ticket']
        url = f'{self.base}/tickets/{ticket}/messages'
        csrf = self.token(client.get(f'{self.base}/tickets/{ticket}'))
        response = client.post(url, data={
                'csrf_token': csrf, 'body': "Still jammed <b>badly</b>"})
        self.assertEqual(response.status_code, 303)
        response = client.post(url, headers={'HX-Request': 'true'}, data={
                'csrf_token': csrf, 'body': "And a photo",
                'attachments': [(_file(PNG), 'jam.png')]})
        self.assertEqual(response.status_code, 200)
        fragment = response.get_data(as_text=True)
        self.assertTrue(fragment.startswith('<section'))
        self.assertIn('Still jammed &lt;b&gt;badly&lt;/b&gt;', fragment)
        self.assertIn('jam.png', fragment)
        poll = client.get(url, headers={'HX-Request': 'true'})
        self.assertTrue(poll.get_data(as_text=True).startswith('<ol'))

        resolved = self.ids['anna']['resolved']
        response = client.post(f'{self.base}/tickets/{resolved}/messages',
            data={'csrf_token': csrf, 'body': "Too late?"})
        self.assertEqual(response.status_code, 400)
        response = client.post(f'{self.base}/tickets/{resolved}/reopen',
            data={'csrf_token': csrf})
        self.assertEqual(response.status_code, 303)
        with Transaction().start(DB_NAME, 0):
            Ticket = self.model('autolead.ticket')
            self.assertEqual(Ticket(resolved).state, 'reopened')
            self.assertEqual(
                [m.body for m in Ticket(ticket).messages
                    if m.author_web_user],
                ["Still jammed <b>badly</b>", "And a photo"])

    def test_profile(self):
        "The customer changes name, phone and picture"
        client = self.signed_in('bob@customer.example')
        csrf = self.token(client.get(self.base + '/profile'))
        response = client.post(self.base + '/profile', data={
                'csrf_token': csrf, 'name': "Bob Renamed",
                'phone': '+91 98450 70010',
                'picture': (_file(PNG), 'me.png')})
        self.assertEqual(response.status_code, 303)
        picture = client.get(self.base + '/profile/picture')
        self.assertEqual(picture.status_code, 200)
        # ir.avatar keeps a square picture, served at the asked size
        width, height = _image_size(picture.data)
        self.assertEqual(width, height)

    def test_profile_damaged_picture(self):
        "A damaged picture is refused with a message and nothing is changed"
        client = self.signed_in('bob@customer.example')
        for damaged, message in [
                (PNG[:-30], b'could not be read as a picture'),
                (PNG[:40] + b'\x00' * 40, b'Can not open or identify'),
                ]:
            csrf = self.token(client.get(self.base + '/profile'))
            response = client.post(self.base + '/profile', data={
                    'csrf_token': csrf, 'name': "Bob Damaged",
                    'phone': '+91 98450 70011',
                    'picture': (_file(damaged), 'me.png')})
            self.assertEqual(response.status_code, 400)
            self.assertIn(message, response.data)
            self.assertIn(b'value="Bob Damaged"', response.data)
        with Transaction().start(DB_NAME, 0):
            WebUser = self.model('web.user')
            web_user, = WebUser.search(
                [('email', '=', 'bob@customer.example')])
            self.assertNotEqual(web_user.party.name, "Bob Damaged")
        response = client.post(self.base + '/profile', data={
                'csrf_token': csrf, 'name': "Bob Renamed",
                'picture': (_file(b'<svg onload=alert(1)>'), 'me.svg')})
        self.assertEqual(response.status_code, 400)
        with Transaction().start(DB_NAME, 0) as transaction:
            WebUser = self.model('web.user')
            Party = self.model('party.party')
            web_user, = WebUser.search(
                [('email', '=', 'bob@customer.example')])
            self.assertEqual(web_user.party.name, "Bob Renamed")
            self.assertEqual(
                [m.value for m in web_user.party.contact_mechanisms],
                ['+91 98450 70010'])
            Party.write([web_user.party], {'name': "Bob Other"})
            transaction.commit()

    def test_registration_off_by_default(self):
        "Nobody registers until the administrator enables it"
        client = self.client()
        self.assertEqual(client.get(self.base + '/register').status_code, 404)
        self.assertEqual(client.post(self.base + '/register', data={
                    'name': "Eve", 'email': 'eve@x.example',
                    'password': 'Correct-Horse-9'}).status_code, 404)
        self.assertNotIn('Create an account',
            client.get(self.base + '/signin').get_data(as_text=True))

    def test_registration_and_email_validation(self):
        "When enabled, a visitor registers and confirms the address"
        def registration(value):
            Configuration = self.model('autolead.configuration')
            Configuration.write(
                [Configuration(1)], {'portal_registration': value})
        commit(registration, True)
        self.addCleanup(commit, registration, False)
        client = self.client()
        token = self.token(client.get(self.base + '/register'))
        response = client.post(self.base + '/register', data={
                'csrf_token': token, 'name': "Nina New",
                'email': 'nina@new.example',
                'password': 'Correct-Horse-9',
                'confirm': 'Correct-Horse-9'})
        self.assertEqual(response.status_code, 200)
        # signing in before confirming sends a fresh link
        self.assertEqual(self.sign_in(
                client, 'nina@new.example',
                'Correct-Horse-9').status_code, 403)
        emails = _outbox('nina@new.example')
        self.assertEqual(len(emails), 2)
        link = _link(emails[-1], '/portal/validate')
        self.assertEqual(client.get(link).status_code, 200)
        self.assertEqual(self.sign_in(
                client, 'nina@new.example', 'Correct-Horse-9').status_code,
            303)

    def test_password_reset(self):
        "A customer resets a forgotten password from the emailed link"
        client = self.client()
        token = self.token(client.get(self.base + '/reset'))
        before = len(_outbox('bob@customer.example'))
        response = client.post(self.base + '/reset', data={
                'csrf_token': token, 'email': 'bob@customer.example'})
        self.assertEqual(response.status_code, 200)
        token = self.token(client.get(self.base + '/reset'))
        unknown = client.post(self.base + '/reset', data={
                'csrf_token': token, 'email': 'nobody@x.example'})
        self.assertEqual(unknown.get_data(), response.get_data())
        emails = _outbox('bob@customer.example')
        self.assertEqual(len(emails), before + 1)
        self.assertEqual(_outbox('nobody@x.example'), [])
        link = _link(emails[-1], '/portal/reset/password')
        query = parse_qs(urlsplit(link).query)
        form = client.get(link)
        self.assertEqual(form.status_code, 200)
        data = {
            'csrf_token': self.token(form),
            'email': query['email'][0], 'token': query['token'][0],
            'password': 'New-Secret-42', 'confirm': 'New-Secret-42'}
        self.assertEqual(client.post(
                self.base + '/reset/password',
                data=dict(data, token='bad')).status_code, 400)
        data['csrf_token'] = self.token(client.get(link))
        self.assertEqual(client.post(
                self.base + '/reset/password', data=data).status_code, 200)
        self.assertEqual(self.sign_in(
                client, 'bob@customer.example', 'New-Secret-42').status_code,
            303)
        with Transaction().start(DB_NAME, 0) as transaction:
            WebUser = self.model('web.user')
            Attempt = self.model('web.user.authenticate.attempt')
            user, = WebUser.search([('email', '=', 'bob@customer.example')])
            WebUser.write([user], {'password': 'customer-demo'})
            Attempt.remove('bob@customer.example')
            transaction.commit()


def _file(data):
    import io
    return io.BytesIO(data)


def _outbox(address):
    """The portal account emails posted to the outbox for address, as the
    sender would send them"""
    with Transaction().start(DB_NAME, 0):
        Message = Pool().get('autolead.automation.message')
        return [m._email_message() for m in Message.search([
                    ('to', '=', address),
                    ('key', 'like', 'web-user-%'),
                    ], order=[('id', 'ASC')])]


def _link(message, path):
    "The portal link to path in the email message"
    body = message.get_body(('html', 'plain')).get_content()
    match = re.search(r'https?://[^\s"<>\']*' + re.escape(path)
        + r'[^\s"<>\']*', body)
    assert match, body
    return match.group(0).replace('&amp;', '&')
