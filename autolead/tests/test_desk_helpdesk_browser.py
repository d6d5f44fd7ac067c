"""The helpdesk in the sao desk, in a real headless Chromium."""
from .live_server import BrowserTestCase


class HelpdeskDeskBrowserTestCase(BrowserTestCase):
    leads = 5

    def login(self, page, login, password):
        page.goto(self.server.url + '/')
        page.locator('input#database').fill(self.server.database)
        page.locator('input#login').fill(login)
        page.get_by_role('button', name='Login').click()
        password_input = page.locator('input[type=password]')
        password_input.fill(password)
        password_input.press('Enter')
        page.get_by_text('Auto Lead', exact=True).wait_for()

    def open_menu(self, page, *path):
        for name, child in zip(path, path[1:]):
            if not page.get_by_text(child, exact=True).first.is_visible():
                page.get_by_text(name, exact=True).first.click()
        entry = page.get_by_text(path[-1], exact=True).first
        entry.wait_for()
        page.wait_for_load_state('networkidle')
        tab = page.locator('#tabcontent').get_by_role('tab')
        for _ in range(3):
            entry.dblclick()
            try:
                tab.first.wait_for(timeout=5_000)
                break
            except Exception:
                pass

    def test_agent_works_the_queue(self):
        "An agent opens the ticket queue and a ticket with its conversation"
        page = self.new_page()
        errors = []
        page.on('pageerror', lambda error: errors.append(str(error)))
        self.login(page, 'support', 'support-demo')
        self.open_menu(page, 'Auto Lead', 'Helpdesk', 'Tickets')
        tabs = page.locator('#tabcontent')
        tabs.get_by_role('tab', name='Queue').wait_for()
        rows = tabs.locator('.treeview tbody tr')
        rows.first.wait_for()
        page.wait_for_load_state('networkidle')
        self.screenshot(page, 'desk_ticket_queue')
        self.assertGreater(rows.count(), 0)
        self.assertIn('TCK', rows.first.inner_text())

        rows.first.dblclick()
        tabs.get_by_role('tab', name='Conversation').wait_for()
        page.get_by_role('button', name='Accept').wait_for()
        self.screenshot(page, 'desk_ticket_form')
        self.assertEqual(errors, [])

    def test_sales_rep_has_no_helpdesk(self):
        "A sales representative does not see the helpdesk menu"
        page = self.new_page()
        self.login(page, 'ravi', 'ravi-demo')
        page.get_by_text('Auto Lead', exact=True).click()
        page.get_by_text('Leads', exact=True).wait_for()
        self.assertFalse(page.get_by_text('Helpdesk', exact=True).count())
