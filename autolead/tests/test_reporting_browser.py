"""The dashboards and a report in the sao desk, in a real headless Chromium."""
from .live_server import BrowserTestCase


class ReportingBrowserTestCase(BrowserTestCase):

    def new_page(self, width=1400, height=1000):
        page = super().new_page(width, height)
        page.errors = []
        page.on('pageerror', lambda error: page.errors.append(str(error)))
        return page

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
        for name in path[:-1]:
            entry = page.locator('#menu').get_by_text(name, exact=True)
            if not page.locator('#menu').get_by_text(
                    path[-1], exact=True).is_visible():
                entry.first.click()
        page.locator('#menu').get_by_text(path[-1], exact=True).dblclick()
        page.wait_for_load_state('networkidle')

    def wait_for_actions(self, page, count):
        "Wait until every action of the board shows its screen"
        page.wait_for_function(
            'n => document.querySelectorAll('
            '"#tabcontent .board .screen-container").length >= n', arg=count)

    def assert_no_error(self, page):
        self.assertEqual(page.errors, [])
        self.assertEqual(
            page.locator('.modal-dialog .alert-danger').count(), 0)

    def test_sales_head_dashboard(self):
        "The sales head's dashboard shows the pipeline and the team"
        page = self.new_page()
        self.login(page, 'head', 'head-demo')
        self.open_menu(page, 'Auto Lead', 'Dashboard', 'Sales Dashboard')
        board = page.locator('#tabcontent .board')
        board.wait_for()
        for title in ["Pipeline", "Targets vs Actual",
                "Recently Won and Lost"]:
            board.get_by_text(title).first.wait_for()
        self.wait_for_actions(page, 4)
        page.wait_for_timeout(500)
        self.screenshot(page, 'dashboard_sales_head')
        self.assert_no_error(page)

    def test_representative_dashboard(self):
        "A representative's dashboard shows their leads by stage"
        page = self.new_page()
        self.login(page, 'ravi', 'ravi-demo')
        self.open_menu(page, 'Auto Lead', 'Dashboard', 'My Dashboard')
        board = page.locator('#tabcontent .board')
        board.wait_for()
        board.get_by_text("My Leads by Stage").first.wait_for()
        self.wait_for_actions(page, 4)
        page.wait_for_load_state('networkidle')
        page.wait_for_timeout(1000)
        self.screenshot(page, 'dashboard_sales_rep')
        self.assert_no_error(page)
        self.assertEqual(
            page.locator('#menu').get_by_text(
                'Sales Dashboard', exact=True).count(), 0)

    def test_support_dashboard(self):
        "The support agent's dashboard shows the ticket queues"
        page = self.new_page()
        self.login(page, 'support', 'support-demo')
        self.open_menu(page, 'Auto Lead', 'Dashboard', 'Support Dashboard')
        board = page.locator('#tabcontent .board')
        board.wait_for()
        board.get_by_text("SLA at Risk").first.wait_for()
        self.wait_for_actions(page, 6)
        page.wait_for_timeout(500)
        self.screenshot(page, 'dashboard_support')
        self.assert_no_error(page)

    def test_report_with_period(self):
        "A report opens with its period bar and its graph"
        page = self.new_page()
        self.login(page, 'head', 'head-demo')
        self.open_menu(
            page, 'Auto Lead', 'Reports', 'Conversion by Representative')
        page.locator(
            '#tabcontent :text("Ravi Sharma"):visible').first.wait_for()
        page.locator(
            '#tabcontent :text("Period"):visible').first.wait_for()
        self.screenshot(page, 'report_conversion_by_representative')
        self.assert_no_error(page)

    def test_every_report_opens(self):
        "Each report opens for the sales head without an error"
        page = self.new_page()
        self.login(page, 'head', 'head-demo')
        for name in ["Leads per Owner", "Leads by Source",
                "Pipeline by Stage", "Performance per User",
                "Campaign Efficiency", "Appointments by Day and State",
                "Targets vs Actual",
                "Sales Targets", "Scheduled Reports"]:
            with self.subTest(report=name):
                self.open_menu(page, 'Auto Lead', 'Reports', name)
                page.wait_for_timeout(500)
                self.assert_no_error(page)
        self.screenshot(page, 'report_schedules')
