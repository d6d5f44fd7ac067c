"""The customer portal in a real headless Chromium against a live trytond.

The agent's side goes through the desk's own JSON-RPC, signed in as the
support agent, so it meets the same access rights as in sao."""
import base64
import json
import re
import urllib.request

from .live_server import ARTIFACTS, BrowserTestCase

PNG = (b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00'
    b'\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc'
    b'\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`'
    b'\x82')


class PortalBrowserTestCase(BrowserTestCase):
    leads = 5

    @property
    def portal(self):
        return f'{self.server.url}/{self.server.database}/portal'

    def desk(self, login, password):
        "A function calling the live server's RPC as a desk user"
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
            'common.db.login', login, {'password': password}, 'en')[:2]
        headers['Authorization'] = 'Session ' + base64.b64encode(
            f'{login}:{user_id}:{session}'.encode()).decode()
        return call

    def watch_errors(self, page):
        errors = []
        page.on('pageerror', lambda error: errors.append(str(error)))
        return errors

    def sign_in(self, page, email='priya@customer.example'):
        page.goto(self.portal + '/signin')
        page.get_by_label('Email').fill(email)
        page.get_by_label('Password').fill('customer-demo')
        page.get_by_role('button', name='Sign in').click()
        page.get_by_role('heading', name='My tickets').wait_for()

    def test_contact_us_reaches_the_desk(self):
        "A visitor's Contact Us message is an enquiry in the agent's queue"
        page = self.new_page()
        errors = self.watch_errors(page)
        page.goto(self.portal + '/')
        page.get_by_role('link', name='Contact us').first.click()
        page.get_by_label('Name').fill("Zoya Visitor")
        page.get_by_label('Email').fill('zoya@visitor.example')
        page.get_by_label('Subject').fill("Bulk licence for 40 agents")
        page.get_by_label('Message').fill("Do you offer a discount?")
        self.screenshot(page, 'portal_contact')
        page.get_by_role('button', name='Send message').click()
        page.get_by_role('heading', name='Thank you').wait_for()
        self.assertEqual(errors, [])

        desk = self.desk('support', 'support-demo')
        ids = desk('model.autolead.enquiry.search',
            [('email', '=', 'zoya@visitor.example')], 0, None, None, {})
        enquiries = desk('model.autolead.enquiry.read',
            ids, ['subject', 'source', 'state'], {})
        self.assertEqual(
            [(e['subject'], e['source'], e['state']) for e in enquiries],
            [("Bulk licence for 40 agents", 'website', 'open')])

    def test_ticket_conversation(self):
        "A customer raises a ticket, sees who accepted it and talks to them"
        page = self.new_page()
        errors = self.watch_errors(page)
        self.sign_in(page)
        self.screenshot(page, 'portal_tickets')
        page.get_by_role('link', name='New ticket').first.click()
        page.get_by_label('Subject').fill("Invoice shows the wrong GST")
        page.get_by_label('What happened?').fill(
            "The November invoice charges 28% instead of 18%.")
        page.get_by_label('Attachments').set_input_files([{
                    'name': 'invoice.png', 'mimeType': 'image/png',
                    'buffer': PNG}])
        page.get_by_role('button', name='Raise the ticket').click()
        page.get_by_role('heading', name="Invoice shows the wrong GST"
            ).wait_for()
        self.assertIn('Waiting in the queue', page.inner_text('.facts'))
        self.assertTrue(page.get_by_role('link', name='invoice.png')
            .is_visible())
        number = re.search(r'TCK\d+', page.inner_text('.facts')).group(0)

        desk = self.desk('support', 'support-demo')
        ticket, = desk('model.autolead.ticket.search',
            [('number', '=', number)], 0, None, None, {})
        customer, = desk('model.autolead.ticket.read',
            [ticket], ['customer.name'], {})
        self.assertEqual(customer['customer.']['name'], "Priya Verma")
        desk('model.autolead.ticket.accept', [ticket], {})

        page.reload()
        self.assertIn('Kavya Reddy', page.inner_text('.accepted-by'))
        page.get_by_label('Your reply').fill("Thanks, here is my GSTIN.")
        page.get_by_role('button', name='Send', exact=True).click()
        conversation = page.locator('#messages')
        conversation.get_by_text("Thanks, here is my GSTIN.").wait_for()
        self.assertEqual(page.get_by_label('Your reply').input_value(), '')

        desk('model.autolead.ticket.message.create', [{
                    'ticket': ticket, 'internal': True,
                    'body': "Customer is on the old rate",
                    }, {
                    'ticket': ticket,
                    'body': "Corrected; a new invoice is on its way.",
                    }], {})
        # the conversation refreshes itself, without reloading the page
        conversation.get_by_text("a new invoice is on its way").wait_for(
            timeout=30_000)
        self.assertNotIn('old rate', page.content())
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(ARTIFACTS / 'portal_ticket.png'), full_page=True)

        page.goto(self.portal + '/tickets')
        row = page.locator('tr', has_text=number)
        self.assertIn('Kavya Reddy', row.inner_text())
        self.assertIn('Accepted', row.inner_text())
        self.assertEqual(errors, [])

    def test_phone_width(self):
        "The pages fit a phone screen"
        page = self.new_page(width=390, height=844)
        errors = self.watch_errors(page)
        page.goto(self.portal + '/')
        self.screenshot(page, 'portal_home_phone')
        self.assertLessEqual(
            page.evaluate('document.documentElement.scrollWidth'), 390)
        page.get_by_text('Menu').click()
        page.get_by_role('link', name='Sign in', exact=True).click()
        page.get_by_label('Email').fill('rahul@customer.example')
        page.get_by_label('Password').fill('customer-demo')
        page.get_by_role('button', name='Sign in').click()
        page.get_by_role('heading', name='My tickets').wait_for()
        self.assertLessEqual(
            page.evaluate('document.documentElement.scrollWidth'), 390)
        self.screenshot(page, 'portal_tickets_phone')
        page.goto(self.portal + '/help')
        page.get_by_role('heading', name='Help centre').wait_for()
        self.assertLessEqual(
            page.evaluate('document.documentElement.scrollWidth'), 390)
        self.assertEqual(errors, [])
