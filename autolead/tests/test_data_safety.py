import json

from trytond.model.exceptions import AccessButtonError, AccessError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction, check_access

from .database import DatabaseTestCase
from .test_lead import make_user


class DataSafetyTestCase(DatabaseTestCase):
    "Leads and tickets are archived; only the administrator deletes, traced"

    def _lead_with_activity(self):
        pool = Pool()
        Lead = pool.get('autolead.lead')
        Note = pool.get('autolead.lead.note')
        lead, = Lead.create([{'name': "Asha Rao", 'source': 'phone'}])
        Note.create([{'lead': lead.id, 'text': "Called, wants a demo"}])
        return lead

    def _ticket(self):
        pool = Pool()
        Party = pool.get('party.party')
        Ticket = pool.get('autolead.ticket')
        Message = pool.get('autolead.ticket.message')
        party, = Party.create([{'name': "Priya Verma"}])
        ticket, = Ticket.create([{
                    'customer': party.id, 'subject': "Printer offline"}])
        Message.create([{'ticket': ticket.id, 'body': "It blinks red"}])
        return ticket

    @with_transaction()
    def test_sales_head_archives_not_deletes(self):
        "The sales head cannot delete a lead but archives it, notes kept"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        Note = pool.get('autolead.lead.note')
        head = make_user('head', 'group_sales_head')
        lead = self._lead_with_activity()

        with Transaction().set_user(head.id), check_access():
            with self.assertRaises(AccessError):
                Lead.delete([Lead(lead.id)])
            Lead.archive([Lead(lead.id)])
            self.assertEqual(Lead.search([('id', '=', lead.id)]), [])
            archived = Lead.search([
                    ('id', '=', lead.id), ('active', '=', False)])
            self.assertEqual(archived, [lead])
            Lead.write(archived, {'active': True})
            self.assertEqual(Lead.search([('id', '=', lead.id)]), [lead])
        self.assertEqual(len(Note.search([('lead', '=', lead.id)])), 1)

    @with_transaction()
    def test_sales_rep_cannot_archive(self):
        "A representative may neither delete nor archive a lead"
        Lead = Pool().get('autolead.lead')
        ravi = make_user('ravi', 'group_sales_rep')
        lead, = Lead.create([{
                    'name': "Bina", 'source': 'phone', 'owner': ravi.id}])

        with Transaction().set_user(ravi.id), check_access():
            with self.assertRaises(AccessError):
                Lead.delete([Lead(lead.id)])
            with self.assertRaises(AccessButtonError):
                Lead.archive([Lead(lead.id)])

    @with_transaction()
    def test_support_lead_archives_not_deletes(self):
        "The support lead cannot delete a ticket but archives it"
        pool = Pool()
        Ticket = pool.get('autolead.ticket')
        Message = pool.get('autolead.ticket.message')
        lead = make_user('supportlead', 'group_support_lead')
        ticket = self._ticket()

        with Transaction().set_user(lead.id), check_access():
            with self.assertRaises(AccessError):
                Ticket.delete([Ticket(ticket.id)])
            Ticket.archive([Ticket(ticket.id)])
            self.assertEqual(Ticket.search([('id', '=', ticket.id)]), [])
        self.assertEqual(
            len(Message.search([('ticket', '=', ticket.id)])), 1)

    @with_transaction()
    def test_administrator_deletion_is_traced(self):
        "The administrator deletes; who, when and what are kept"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        Ticket = pool.get('autolead.ticket')
        Deletion = pool.get('autolead.deletion')
        admin = make_user('boss', 'group_autolead_admin')
        head = make_user('head', 'group_sales_head')
        lead = self._lead_with_activity()
        ticket = self._ticket()
        number = ticket.number

        with Transaction().set_user(admin.id), check_access():
            Lead.delete([Lead(lead.id)])
            Ticket.delete([Ticket(ticket.id)])
            traces = Deletion.search([], order=[('id', 'ASC')])

        self.assertEqual(
            [(t.model, t.record_id, t.user, t.user_name) for t in traces], [
                ('autolead.lead', lead.id, admin, "Boss"),
                ('autolead.ticket', ticket.id, admin, "Boss"),
                ])
        self.assertTrue(all(t.date for t in traces))
        lead_content = json.loads(traces[0].content)
        self.assertEqual(lead_content['name'], "Asha Rao")
        self.assertEqual(lead_content['notes'], 1)
        self.assertEqual(traces[1].record_name, number)
        self.assertEqual(json.loads(traces[1].content)['messages'], 1)

        with Transaction().set_user(head.id), check_access():
            with self.assertRaises(AccessError):
                Deletion.search([])
        with Transaction().set_user(admin.id), check_access():
            with self.assertRaises(AccessError):
                Deletion.delete(traces)
