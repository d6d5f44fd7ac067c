"""Edges of duplicate detection, merge and party replacement"""

from trytond.exceptions import UserError
from trytond.model import fields
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from .database import DatabaseTestCase


class DuplicateTestCase(DatabaseTestCase):
    "Test duplicate edges"

    @with_transaction()
    def test_batch_flags_existing_contacts_at_once(self):
        "One create of many leads finds each original"
        Lead = Pool().get('autolead.lead')
        first = Lead.create([
                {'name': f"Lead {i}", 'email': f'lead{i}@example.com'}
                for i in range(50)])
        again = Lead.create([
                {'name': f"Again {i}", 'email': f'LEAD{i}@example.com'}
                for i in range(50)] + [{'name': "Fresh",
                    'phone': '+91 98450 99999'}])
        self.assertEqual(
            [l.duplicate_of for l in again[:50]], list(first))
        self.assertEqual({l.lead_kind for l in again[:50]}, {'duplicate'})
        self.assertEqual((again[50].duplicate_of, again[50].lead_kind),
            (None, 'new'))

    @with_transaction()
    def test_merged_lead_is_no_original(self):
        "After a merge, new leads point at the kept lead, not the archived"
        Lead = Pool().get('autolead.lead')
        original, duplicate = Lead.create([
                {'name': "Asha", 'email': 'asha@example.com'},
                {'name': "Asha", 'phone': '+91 98450 12345'}])
        Lead.merge(duplicate, original)
        self.assertEqual(original.phone, '+91 98450 12345')
        later, = Lead.create([{'name': "A", 'phone': '098450 12345'}])
        self.assertEqual(later.duplicate_of, original)

    @with_transaction()
    def test_merge_into_itself(self):
        Lead = Pool().get('autolead.lead')
        lead, = Lead.create([{'name': "Asha", 'email': 'a@example.com'}])
        with self.assertRaisesRegex(UserError, 'into itself'):
            Lead.merge(lead, lead)

    @with_transaction()
    def test_party_replace_follows_lead_party(self):
        "party.replace moves leads once a lead has a party field"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        Replace = pool.get('party.replace', type='wizard')
        if 'party' in Lead._fields:
            self.assertIn(('autolead.lead', 'party'),
                Replace.fields_to_replace())
            return
        self.assertNotIn(('autolead.lead', 'party'),
            Replace.fields_to_replace())
        field = fields.Many2One('party.party', "Party")
        field.model_name = 'party.party'
        Lead._fields['party'] = field
        try:
            self.assertIn(('autolead.lead', 'party'),
                Replace.fields_to_replace())
        finally:
            del Lead._fields['party']

    @with_transaction()
    def test_import_targets_follow_the_model(self):
        "The import maps onto whatever writable fields the lead has"
        Lead = Pool().get('autolead.lead')
        names = {t.name for t in Lead.import_targets()}
        self.assertLessEqual({'name', 'email', 'phone', 'company_name',
                'source'}, names)
        self.assertFalse(names & {'owner', 'duplicate_of', 'email_key',
                'lead_kind', 'create_date'})
