"""The automation screens in the sao desk, in a real headless Chromium."""
from .live_server import BrowserTestCase


class AutomationBrowserTestCase(BrowserTestCase):

    def login(self, page, login, password):
        page.goto(self.server.url + '/')
        page.locator('input#database').fill(self.server.database)
        page.locator('input#login').fill(login)
        page.get_by_role('button', name='Login').click()
        password_input = page.locator('input[type=password]')
        password_input.fill(password)
        password_input.press('Enter')
        page.get_by_text('Auto Lead', exact=True).wait_for()

    def open_menu(self, page, name):
        entry = page.get_by_text(name, exact=True)
        if not entry.is_visible():
            page.get_by_text('Auto Lead', exact=True).click()
        entry.dblclick()

    def test_appointments_calendar(self):
        "The sales head sees today's demos in the week calendar"
        page = self.new_page()
        self.login(page, 'head', 'head-demo')
        self.open_menu(page, 'Appointments')
        tab = page.locator('#tabcontent').get_by_role(
            'tab', name="Today's Confirmed Demos")
        tab.wait_for()
        tab.click()
        rows = page.locator('#tabcontent .treeview tbody tr')
        rows.first.wait_for()
        page.wait_for_load_state('networkidle')
        self.assertEqual(rows.count(), 4)
        # the demo data completes 5 demos this month and 4 the month before
        tabs = page.locator('#tabcontent [role=tab]')
        self.assertIn(
            "Demos Completed This Month 5", tabs.all_inner_texts())
        self.assertIn(
            "Demos Completed Last Month 4", tabs.all_inner_texts())

        page.locator('#tabcontent').get_by_role(
            'button', name='Switch').first.click()
        events = page.locator('#tabcontent .fc-event')
        events.first.wait_for()
        page.wait_for_load_state('networkidle')
        self.screenshot(page, 'desk_appointments_calendar')
        self.assertFalse(
            page.get_by_text('Application Error').is_visible())
        self.assertGreaterEqual(events.count(), 4)
        self.assertIn("Product demo", events.first.inner_text())

    def test_representative_tasks(self):
        "A representative's task list shows only their own tasks"
        page = self.new_page()
        self.login(page, 'ravi', 'ravi-demo')
        self.open_menu(page, 'Tasks')
        page.locator('#tabcontent').get_by_role('tab', name='All').click()
        rows = page.locator('#tabcontent .treeview tbody tr')
        rows.first.wait_for()
        page.wait_for_load_state('networkidle')
        self.screenshot(page, 'desk_tasks_representative')
        self.assertFalse(
            page.get_by_text('Application Error').is_visible())
        for index in range(rows.count()):
            text = rows.nth(index).inner_text()
            self.assertIn("Ravi Sharma", text)
