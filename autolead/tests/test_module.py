from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction


class AutoleadTestCase(ModuleTestCase):
    "Test Auto Lead module"
    module = 'autolead'

    @with_transaction()
    def test_lead_contact_keys(self):
        "Email, phone and company are normalised into search keys"
        pool = Pool()
        Lead = pool.get('autolead.lead')

        lead, = Lead.create([{
                    'name': "Asha Rao",
                    'email': ' Asha.Rao@Example.COM ',
                    'phone': '+91 98450 12345',
                    'company_name': "Rao Textiles Pvt. Ltd.",
                    }])

        self.assertEqual(lead.email, 'Asha.Rao@Example.COM')
        self.assertEqual(lead.email_key, 'asha.rao@example.com')
        self.assertEqual(lead.phone_key, '+919845012345')
        self.assertEqual(lead.company_key, 'raotextiles')
        self.assertEqual(Lead.search([('rec_name', 'ilike', '%rao tex%')]),
            [lead])

    @with_transaction()
    def test_lead_invalid_contact(self):
        "A lead with a malformed email or phone is refused with a message"
        pool = Pool()
        Lead = pool.get('autolead.lead')

        with self.assertRaisesRegex(ValidationError, 'not a valid email'):
            Lead.create([{'name': "Bad", 'email': 'bad@'}])
        with self.assertRaisesRegex(ValidationError, 'not a valid phone'):
            Lead.create([{'name': "Bad", 'phone': '12'}])

    @with_transaction()
    def test_model_names_for_people(self):
        "Tab titles and error messages name models as a user would"
        pool = Pool()
        Model = pool.get('ir.model')
        technical = [
            (m.name, m.string) for m in Model.search([
                    ('module', '=', 'autolead'),
                    ])
            if m.string.lower().startswith('autolead')]
        self.assertFalse(technical)
        self.assertEqual(Model.get_name('autolead.lead'), "Lead")

    @with_transaction()
    def test_list_views_date_time_widgets(self):
        "sao's lists have no date-time column: such fields need a widget"
        from lxml import etree
        pool = Pool()
        View = pool.get('ir.ui.view')
        missing = []
        for view in View.search([
                    ('module', '=', 'autolead'),
                    ('type', '=', 'tree'),
                    ]):
            Model = pool.get(view.model)
            result = Model.fields_view_get(view_id=view.id)
            tree = etree.fromstring(result['arch'])
            for node in tree.iter('field'):
                name = node.get('name')
                field = result['fields'].get(name, {})
                if (field.get('type') in {'datetime', 'timestamp'}
                        and not node.get('widget')):
                    missing.append((view.name, name))
        self.assertFalse(missing)


del ModuleTestCase
