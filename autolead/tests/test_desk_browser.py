"""The sao desk in a real headless Chromium against a real trytond."""
from .live_server import BrowserTestCase


class DeskBrowserTestCase(BrowserTestCase):

    def login(self, page, login, password):
        page.goto(self.server.url + '/')
        page.locator('input#database').fill(self.server.database)
        page.locator('input#login').fill(login)
        page.get_by_role('button', name='Login').click()
        password_input = page.locator('input[type=password]')
        password_input.fill(password)
        password_input.press('Enter')
        page.get_by_text('Auto Lead', exact=True).wait_for()

    def open_leads(self, page):
        leads = page.get_by_text('Leads', exact=True)
        if not leads.is_visible():
            page.get_by_text('Auto Lead', exact=True).click()
        leads.dblclick()
        page.locator('#tabcontent').get_by_role('tab', name='All').click()
        rows = page.locator('#tabcontent .treeview tbody tr')
        rows.first.wait_for()
        page.wait_for_load_state('networkidle')
        return rows

    def lead_owners(self, page, rows):
        owners = set()
        for index in range(rows.count()):
            text = rows.nth(index).inner_text()
            for name in ["Ravi Sharma", "Meera Nair", "Arjun Patel"]:
                if name in text:
                    owners.add(name)
        return owners

    def test_representative_sees_own_leads(self):
        "A representative logs into the desk and sees only their leads"
        page = self.new_page()
        self.login(page, 'ravi', 'ravi-demo')
        rows = self.open_leads(page)
        self.screenshot(page, 'desk_leads_representative')

        self.assertGreater(rows.count(), 0)
        self.assertEqual(self.lead_owners(page, rows), {"Ravi Sharma"})

    def test_sales_head_sees_all_leads(self):
        "The sales head sees the leads of every representative"
        page = self.new_page()
        self.login(page, 'head', 'head-demo')
        rows = self.open_leads(page)
        self.screenshot(page, 'desk_leads_sales_head')

        self.assertGreater(
            len(self.lead_owners(page, rows)), 1)
