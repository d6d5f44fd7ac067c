"""The chatbot widget on a page, in a real headless Chromium"""
import re

from .live_server import BrowserTestCase


class ChatbotBrowserTestCase(BrowserTestCase):
    leads = 10

    def test_widget_answers_from_faq(self):
        "A visitor opens the chat box, asks, and reads the FAQ answer"
        page = self.new_page(width=1024, height=700)
        widget = f'/{self.server.database}/chatbot/widget.js'
        # any page of the site will do: the widget needs nothing from it
        page.goto(self.server.url + widget)
        page.set_content(
            '<html><head><title>Sunrise Textiles</title></head><body>'
            '<h1>Sunrise Textiles</h1><p>Fabrics since 1982.</p>'
            '</body></html>')
        page.add_script_tag(url=widget)
        page.get_by_role('button', name='Questions? Ask us').click()
        box = page.get_by_role('dialog', name='Questions? Ask us')
        question = box.get_by_role('textbox')
        question.fill("How can I contact support?")
        question.press('Enter')
        box.get_by_text("Contact Us page", exact=False).wait_for()

        question.fill("recipe for banana bread")
        box.get_by_role('button', name='Send').click()
        box.get_by_text("send your question to our team",
            exact=False).wait_for()
        self.screenshot(page, 'chatbot_widget')

    def test_customer_asks_about_her_tickets(self):
        "On the portal a signed-in customer hears about her tickets only"
        portal = f'{self.server.url}/{self.server.database}/portal'
        page = self.new_page(width=1024, height=700)
        page.goto(portal + '/signin')
        page.get_by_label('Email').fill('priya@customer.example')
        page.get_by_label('Password').fill('customer-demo')
        page.get_by_role('button', name='Sign in').click()
        page.get_by_role('heading', name='My tickets').wait_for()
        hers = set(re.findall(r'TCK\d+', page.content()))

        page.get_by_role('button', name='Questions? Ask us').click()
        box = page.get_by_role('dialog', name='Questions? Ask us')
        question = box.get_by_role('textbox')
        question.fill("Where is my ticket?")
        question.press('Enter')
        box.get_by_text(re.compile(
                r'Ticket TCK\d+|no open ticket')).first.wait_for()
        answered = set(re.findall(r'TCK\d+', box.inner_text()))
        self.assertLessEqual(answered, hers)
        self.screenshot(page, 'chatbot_portal_customer')


class TrainingsBrowserTestCase(BrowserTestCase):
    "The desk screens of the trained models"
    leads = 10

    def open_screen(self, model):
        "A new page signed in as the administrator, showing model's list"
        page = self.new_page()
        page.errors = []
        page.on('pageerror', lambda error: page.errors.append(str(error)))
        page.goto(self.server.url + '/')
        page.locator('input#database').fill(self.server.database)
        page.locator('input#login').fill('admin')
        page.get_by_role('button', name='Login').click()
        password = page.locator('input[type=password]')
        password.fill('admin-demo')
        password.press('Enter')
        # the first sign-in of the administrator opens a configuration
        # wizard: the screen is opened by its URL beside it
        page.wait_for_load_state('networkidle')
        page.wait_for_timeout(3000)
        page.goto(
            f'{self.server.url}/#{self.server.database}/model/{model}')
        page.wait_for_load_state('networkidle')
        return page

    def test_trainings_open(self):
        """Both Trainings screens and the unanswered questions open, list
        their records and show a run, without a JavaScript error"""
        for model, rows in [
                ('autolead.lead.scoring.run', 1),
                ('autolead.ticket.tagging.run', 2),
                ('autolead.chatbot.question', 0)]:
            with self.subTest(model=model):
                page = self.open_screen(model)
                listed = page.locator('#tabcontent .treeview tbody tr')
                for _ in range(60):
                    if page.errors or (listed.count() >= rows
                            and page.locator('#tabcontent .treeview'
                                ).count()):
                        break
                    page.wait_for_timeout(500)
                self.assertEqual(page.errors, [])
                self.assertGreaterEqual(listed.count(), rows)
                if rows:
                    listed.first.dblclick()
                    page.get_by_text('State:', exact=True).last.wait_for()
                    self.screenshot(page, f'trainings_{model}')
                self.assertEqual(page.errors, [])
