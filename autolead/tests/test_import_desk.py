"""The desk's import: bad files refused with a message, the encoding and
sheet said, interrupted jobs found and resumed with the Resume button"""
import datetime as dt
import io
import os
import socket
import subprocess

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .database import DatabaseTestCase
from .test_lead import make_user


def run_wizard(data, file_name, sheet=None):
    "Run the import wizard to its preview; return the wizard session"
    Wizard = Pool().get('autolead.lead.import', type='wizard')
    session_id, _, _ = Wizard.create()
    wizard = Wizard(session_id)
    wizard.start.file_data = data
    wizard.start.file_name = file_name
    wizard.start.sheet = sheet
    wizard.start.duplicates = 'flag'
    wizard.start.all_or_nothing = False
    wizard.start.notify = False
    return wizard


def dead_runner():
    "host:pid of a process that has ended"
    process = subprocess.Popen(['true'])
    process.wait()
    return f'{socket.gethostname()}:{process.pid}'


class ImportDeskTestCase(DatabaseTestCase):

    @with_transaction()
    def test_bad_files_refused_in_one_line(self):
        "A file that is no table is refused with what to do, no Python"
        import zipfile
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, 'w') as zip_:
            zip_.writestr('leads.csv', 'name,source\nAsha,website\n')
        for data, name, expected in [
                (b'', 'leads.csv', 'The file is empty'),
                (archive.getvalue(), 'leads.csv', 'is a zip archive'),
                (b'PK\x03\x04' + bytes(100), 'leads.xlsx',
                    'The Excel file is damaged'),
                (b'\x00\x01\x02\x03' * 300, 'leads.csv',
                    'holds binary data'),
                ]:
            with self.subTest(expected=expected):
                wizard = run_wizard(data, name)
                with self.assertRaises(UserError) as context:
                    wizard.default_preview(None)
                message = context.exception.message
                self.assertIn(expected, message)
                self.assertNotIn('codec', message)
                self.assertEqual(len(message.splitlines()), 1)

    @with_transaction()
    def test_encoding_said(self):
        "A Windows CSV imports with its accents, and the preview says so"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        text = 'name,company,source\nJosé Müller,Café Crème,website\n'
        for data, encoding in [
                (text.encode('cp1252'), 'cp1252'),
                (text.encode('utf-16'), 'utf-16'),
                ]:
            wizard = run_wizard(data, 'leads.csv')
            preview = wizard.default_preview(None)
            self.assertEqual(preview['read_as'], f'Text in {encoding}')
            self.assertEqual((preview['total'], preview['rejected']), (1, 0))
        wizard.preview.total = 1
        wizard.transition_import_()
        lead, = Lead.search([])
        self.assertEqual((lead.name, lead.company_name),
            ('José Müller', 'Café Crème'))

    @with_transaction()
    def test_sheet_choice(self):
        "A workbook's first sheet is used and named; another can be chosen"
        from openpyxl import Workbook
        pool = Pool()
        Lead = pool.get('autolead.lead')
        Job = pool.get('autolead.lead.import.job')
        book = Workbook()
        book.active.title = 'Leads'
        book.active.append(['Name', 'Source'])
        book.active.append(['Asha', 'website'])
        archive = book.create_sheet('Archive')
        archive.append(['Name', 'Source'])
        archive.append(['Ravi', 'google'])
        archive.append(['Meera', 'event'])
        data = io.BytesIO()
        book.save(data)

        wizard = run_wizard(data.getvalue(), 'leads.xlsx')
        preview = wizard.default_preview(None)
        self.assertEqual(preview['read_as'],
            'Sheet "Leads" of "Leads", "Archive": go back and name another '
            'under Sheet to import it instead.')
        self.assertEqual(preview['total'], 1)

        wizard = run_wizard(data.getvalue(), 'leads.xlsx', sheet='Archive')
        preview = wizard.default_preview(None)
        self.assertEqual(preview['total'], 2)
        wizard.preview.total = 2
        wizard.transition_import_()
        self.assertEqual(sorted(l.name for l in Lead.search([])),
            ['Meera', 'Ravi'])
        job, = Job.search([])
        self.assertEqual((job.state, job.sheet), ('done', 'Archive'))

        wizard = run_wizard(data.getvalue(), 'leads.xlsx', sheet='Nope')
        with self.assertRaises(UserError) as context:
            wizard.default_preview(None)
        self.assertEqual(context.exception.message,
            'The workbook has no sheet "Nope"; its sheets are: '
            'Leads, Archive.')

    @with_transaction()
    def test_interrupted_found_and_resumed(self):
        """A running job whose process died is marked interrupted with how
        far it got; Resume imports the rest without the committed rows"""
        pool = Pool()
        Lead = pool.get('autolead.lead')
        Job = pool.get('autolead.lead.import.job')
        rep = make_user('rep_resume', 'group_sales_rep')
        other = make_user('other_resume', 'group_sales_rep')
        lines = ['name,email,source'] + [
            f'Person {i},p{i}@example.com,website' for i in range(10)]
        data = ('\n'.join(lines) + '\n').encode()
        with Transaction().set_user(rep.id), Transaction().set_context(
                _check_access=True):
            # the batches its process committed before it died
            first, = Job.create([{'file_name': 'first.csv',
                        'file_data': ('\n'.join(lines[:5]) + '\n').encode(),
                        'owner': rep.id}])
            Job.process([first])
            self.assertEqual(Lead.search([], count=True), 4)
            job, = Job.create([{'file_name': 'leads.csv', 'file_data': data,
                        'owner': rep.id}])
        now = dt.datetime.now()
        Job.write([job], {'state': 'running', 'total': 10, 'processed': 4,
                'created': 4, 'runner': dead_runner(), 'heartbeat': now})
        alive, = Job.create([{'file_name': 'alive.csv', 'file_data': data,
                    'owner': rep.id}])
        Job.write([alive], {'state': 'running', 'total': 10,
                'runner': f'{socket.gethostname()}:{os.getpid()}',
                'heartbeat': now - dt.timedelta(hours=1)})
        silent, = Job.create([{'file_name': 'silent.csv', 'file_data': data,
                    'owner': rep.id}])
        Job.write([silent], {'state': 'running', 'total': 10,
                'runner': 'elsewhere.example.com:1',
                'heartbeat': now - dt.timedelta(hours=1)})

        self.assertEqual(sorted(j.id for j in Job.check_interrupted()),
            sorted([job.id, silent.id]))
        job = Job(job.id)
        self.assertEqual((job.state, job.processed, job.total, job.progress),
            ('interrupted', 4, 10, 0.4))
        self.assertEqual(job.message, 'The import stopped after 4 of 10 '
            'rows: press Resume to import the rest.')
        # alive on this host: slow, not lost, whatever its heartbeat
        self.assertEqual(Job(alive.id).state, 'running')

        # the same file again in the wizard: resume instead
        with Transaction().set_user(rep.id), Transaction().set_context(
                _check_access=True):
            preview = run_wizard(data, 'leads.csv').default_preview(None)
            self.assertEqual(preview['resume_instead'],
                f'This file is already being imported by import #{job.id}, '
                'which stopped after 4 of 10 rows: open it in Lead Imports '
                'and press Resume; importing the file again would flag its '
                'first rows as duplicates.')
            preview = run_wizard(data + b'Someone,s@example.com,website\n',
                'leads.csv').default_preview(None)
            self.assertIsNone(preview['resume_instead'])

        with Transaction().set_user(other.id), Transaction().set_context(
                _check_access=True):
            with self.assertRaises(AccessError):
                Job.resume([Job(job.id)])
        with Transaction().set_user(rep.id), Transaction().set_context(
                _check_access=True):
            Job.resume([Job(job.id)])
            job = Job(job.id)
            self.assertEqual(
                (job.state, job.processed, job.created, job.flagged),
                ('done', 10, 10, 0))
            leads = Lead.search([])
            self.assertEqual(len(leads), 10)
            self.assertEqual(len({l.email for l in leads}), 10)
            self.assertFalse([l for l in leads if l.duplicate_of])
