"""The lead form in the sao desk, in a real headless Chromium."""
from . import test_desk_browser
from .live_server import BrowserTestCase


class DeskLeadTestCase(BrowserTestCase):

    login = test_desk_browser.DeskBrowserTestCase.login
    open_leads = test_desk_browser.DeskBrowserTestCase.open_leads

    def test_lead_form_timeline(self):
        "A representative sees the stages in colour and a lead's timeline"
        page = self.new_page(width=1600)
        self.login(page, 'ravi', 'ravi-demo')
        rows = self.open_leads(page)
        self.screenshot(page, 'desk_leads_stages')
        coloured = page.locator('#tabcontent .treeview tbody td').locator(
            'xpath=self::*[contains(@class, "success") '
            'or contains(@class, "warning") or contains(@class, "danger") '
            'or contains(@class, "text-muted")]')
        self.assertGreater(coloured.count(), 0)
        # On the name: the stage and owner cells are links
        rows.first.dblclick(position={'x': 100, 'y': 10})
        form = page.locator('#tabcontent .form').first
        form.get_by_role('tab', name='Timeline').wait_for()

        form.get_by_role('tab', name='Timeline').click()
        history = form.locator('.treeview tbody tr:visible')
        history.first.wait_for()
        page.wait_for_load_state('networkidle')
        self.screenshot(page, 'desk_lead_timeline')
        self.assertIn("Lead created", history.last.inner_text())
