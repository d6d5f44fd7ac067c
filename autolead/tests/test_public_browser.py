"""Signing in and out of the portal in a real headless Chromium: the cookies
the browser keeps and what the server still accepts afterwards; and what the
desk shows a representative of another representative's lead."""
import base64
import json
import urllib.error
import urllib.request

from . import test_desk_browser
from .live_server import BrowserTestCase


class PublicBrowserTestCase(BrowserTestCase):
    leads = 5

    login = test_desk_browser.DeskBrowserTestCase.login
    open_leads = test_desk_browser.DeskBrowserTestCase.open_leads

    def desk(self, login):
        "A function calling the live server's JSON-RPC as login"
        url = f'{self.server.url}/{self.server.database}/rpc/'
        headers = {'Content-Type': 'application/json'}

        def call(method, *params):
            request = urllib.request.Request(url, headers=headers,
                data=json.dumps({
                        'id': 1, 'method': method, 'params': params,
                        }).encode())
            with urllib.request.urlopen(request, timeout=30) as response:
                answer = json.load(response)
            self.assertNotIn('error', answer, answer.get('error'))
            return answer['result']
        user_id, session = call(
            'common.db.login', login, {'password': f'{login}-demo'},
            'en')[:2]
        headers['Authorization'] = 'Session ' + base64.b64encode(
            f'{login}:{user_id}:{session}'.encode()).decode()
        return call

    @property
    def portal(self):
        return f'{self.server.url}/{self.server.database}/portal'

    def status(self, path, session):
        "The status of GET path with the session cookie, redirects kept"
        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None
        opener = urllib.request.build_opener(NoRedirect)
        request = urllib.request.Request(self.portal + path, headers={
                'Cookie': f'autolead_session={session}'})
        try:
            with opener.open(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def sign_in(self, page):
        page.goto(self.portal + '/signin')
        page.get_by_label('Email').fill('priya@customer.example')
        page.get_by_label('Password').fill('customer-demo')
        page.get_by_role('button', name='Sign in').click()
        page.get_by_role('heading', name='My tickets').wait_for()

    def cookies(self, page):
        return {c['name']: c for c in page.context.cookies()}

    def test_sign_out_button_ends_the_session(self):
        "Sign out in the browser kills the session the cookie named"
        page = self.new_page()
        self.sign_in(page)
        cookies = self.cookies(page)
        session = cookies['autolead_session']['value']
        device = cookies['autolead_device']
        self.assertTrue(device['httpOnly'])
        self.assertEqual(
            device['path'], f'/{self.server.database}/portal/')
        self.assertEqual(self.status('/tickets', session), 200)

        page.get_by_role('button', name='Sign out').click()
        page.wait_for_url(self.portal + '/')
        self.assertNotIn('autolead_session', self.cookies(page))
        # the copied cookie is dead on the server too
        self.assertEqual(self.status('/tickets', session), 303)

        # signing in again on this browser keeps its device token
        self.sign_in(page)
        self.assertEqual(
            self.cookies(page)['autolead_device']['value'], device['value'])

    def test_duplicate_of_another_reps_lead_in_the_desk(self):
        "The lead form tells a rep of another rep's lead, not which one"
        ravis, = self.desk('ravi')('model.autolead.lead.search_read',
            [('email', '!=', None), ('duplicate_of', '=', None)], 0, 1, None,
            ['email', 'name'], {})
        meera = self.desk('meera')
        meera('model.autolead.lead.create', [{
                    'name': "Zed Repeat", 'email': ravis['email'],
                    }], {})

        page = self.new_page(width=1600)
        self.login(page, 'meera', 'meera-demo')
        rows = self.open_leads(page)
        rows.filter(has_text="Zed Repeat").first.dblclick(
            position={'x': 100, 'y': 10})
        form = page.locator('#tabcontent .form').first
        form.get_by_role('tab', name='Timeline').wait_for()
        notice = ("A lead with the same email, phone or company already "
            "exists and belongs to another representative.")
        # the form fills its inputs once the record is read
        page.wait_for_function(
            "text => [...document.querySelectorAll("
            "'#tabcontent .form input')].some(e => e.value === text)",
            arg=notice)
        page.wait_for_load_state('networkidle')
        form.locator('input').evaluate_all(
            "elements => elements.filter(e => e.value.includes("
            "'another representative')).forEach(e => e.scrollIntoView())")
        self.screenshot(page, 'desk_lead_duplicate_notice')
        values = form.locator('input, textarea').evaluate_all(
            'elements => elements.map(e => e.value)')
        self.assertIn("Zed Repeat", values)
        self.assertNotIn(ravis['name'], values)
        self.assertNotIn(ravis['name'], form.inner_text())
