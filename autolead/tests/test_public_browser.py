"""Signing in and out of the portal in a real headless Chromium: the cookies
the browser keeps and what the server still accepts afterwards."""
import urllib.error
import urllib.request

from .live_server import BrowserTestCase


class PublicBrowserTestCase(BrowserTestCase):
    leads = 5

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
