"""Checks of the lead file reader that need no database"""
import csv
import io
import unittest

from trytond.modules.autolead.importing import (
    FileError, LeadFile, Target, fast_email_key, read_table)
from trytond.modules.autolead.normalize import (
    InvalidPhone, _parse_phone, normalize_email, normalize_phone)

TARGETS = [
    Target('name', "Name", required=True, size=200),
    Target('email', "Email"),
    Target('phone', "Phone"),
    Target('company_name', "Company"),
    Target('source', "Source", 'selection', required=True,
        selection=[('website', "Website"), ('google', "Google Ads")]),
    Target('expected_value', "Expected Value", 'numeric'),
    ]


def lead_file(text):
    header, rows = read_table(text.encode('utf-8'), 'leads.csv')
    file_ = LeadFile(header, TARGETS)
    return file_, list(file_.parse(rows))


class ImportingTestCase(unittest.TestCase):

    def test_mapping_by_name_label_and_alias(self):
        "Columns map by field name, label or a common alias"
        file_ = LeadFile(
            ['Full Name', 'E-mail', 'Mobile', 'Company', 'Lead Source',
                'Notes'], TARGETS)
        self.assertEqual(file_.mapping, {
                0: 'name', 1: 'email', 2: 'phone', 3: 'company_name',
                4: 'source'})
        self.assertEqual(file_.unmapped, ['Notes'])
        self.assertEqual(file_.missing, [])
        self.assertIn('Mobile -> Phone (phone)', file_.describe())

    def test_missing_required_column(self):
        file_ = LeadFile(['email'], TARGETS)
        self.assertEqual(file_.missing, ['name', 'source'])

    def test_rejections_with_line_and_reason(self):
        "Every bad row is reported with its line while good rows pass"
        file_, good = lead_file(
            "name,email,phone,source,expected value\n"
            "Asha Rao,asha@example.com,+91 98450 12345,website,100\n"
            ",nobody@example.com,,website,\n"
            "Bad Mail,bad@,,website,\n"
            "Bad Phone,,12,google,\n"
            "Bad Source,,,radio,\n"
            "Bad Value,,,website,lots\n"
            "Ravi,RAVI@Example.com,,Google Ads,\n")
        self.assertEqual([line for line, _ in good], [2, 8])
        self.assertEqual(good[0][1]['email_key'], 'asha@example.com')
        self.assertEqual(good[0][1]['phone_key'], '+919845012345')
        self.assertEqual(good[1][1]['source'], 'google')
        reasons = {r.line: r.reason for r in file_.rejections}
        self.assertEqual(sorted(reasons), [3, 4, 5, 6, 7])
        self.assertIn('"Name" is required', reasons[3])
        self.assertIn('"bad@" is not a valid email', reasons[4])
        self.assertIn('"12" is not a valid phone', reasons[5])
        self.assertIn('"radio" is not a valid value for "Source"', reasons[6])
        self.assertIn('"lots" is not a number', reasons[7])
        report = file_.report_csv().decode()
        self.assertTrue(report.startswith('line,reason,name,email'))
        self.assertIn('4,"""bad@"" is not a valid email address.",Bad Mail',
            report)

    def test_duplicates_in_file(self):
        "A contact repeated in a file is recognised by email, phone, company"
        file_, good = lead_file(
            "name,email,phone,company,source\n"
            "Asha,asha@example.com,,,website\n"
            "Asha R,ASHA@example.com,,,website\n"
            "Ravi,,+91 98450 12345,,website\n"
            "Ravi K,,098450 12345,,website\n"
            "Meera,,,Rao Textiles Pvt Ltd,website\n"
            "meera,,,Rao Textiles,website\n"
            "Other,,,Rao Textiles,website\n")
        earlier = [file_.seen_before(line, values) for line, values in good]
        self.assertEqual(earlier, [None, 2, None, 4, None, 6, None])

    def test_semicolon_csv_and_bom(self):
        header, rows = read_table(
            '\ufeffname;email;source\nAsha;asha@example.com;website\n'
            .encode('utf-8'))
        self.assertEqual(header, ['name', 'email', 'source'])
        self.assertEqual(list(rows), [
                (2, ['Asha', 'asha@example.com', 'website'])])

    def test_xlsx(self):
        "Excel files are read like CSV, with spreadsheet line numbers"
        from openpyxl import Workbook
        workbook = Workbook()
        sheet = workbook.active
        sheet.append(['Name', 'Email', 'Phone', 'Source'])
        sheet.append(['Asha', 'asha@example.com', 919845012345, 'website'])
        sheet.append([None, None, None, None])
        sheet.append(['Bad', 'bad@', None, 'website'])
        data = io.BytesIO()
        workbook.save(data)
        header, rows = read_table(data.getvalue(), 'leads.xlsx')
        file_ = LeadFile(header, TARGETS)
        good = list(file_.parse(rows))
        self.assertEqual([line for line, _ in good], [2])
        self.assertEqual(good[0][1]['phone_key'], '+919845012345')
        self.assertEqual([r.line for r in file_.rejections], [4])

    def test_fast_email_key_agrees(self):
        "The fast path gives the key normalize_email gives"
        for address in [
                'asha@example.com', 'Asha.Rao+crm@Example.CO.IN',
                'x_y%z@sub.domain.org', ' padded@example.com ',
                'ünicode@example.com', 'a@b.test']:
            self.assertEqual(
                fast_email_key(address), normalize_email(address), address)

    def test_fast_phone_key_agrees(self):
        "The fast path for Indian mobiles gives the key phonenumbers gives"
        for number in [
                '+91 98450 12345', '+919845012345', '09845012345',
                '9845012345', '98450-12345', '+91.98450.12345',
                '+91 58450 12345', '9845012', '+1 415 555 0100',
                '+91 98450 123456', '091 98450 12345']:
            try:
                expected = _parse_phone.__wrapped__(number, 'IN')
            except InvalidPhone:
                expected = InvalidPhone
            try:
                key = normalize_phone(number)
            except InvalidPhone:
                key = InvalidPhone
            self.assertEqual(key, expected, number)


def workbook(*sheets):
    "The bytes of an .xlsx with the given (title, rows) sheets"
    from openpyxl import Workbook
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()


class BadFileTestCase(unittest.TestCase):
    "Files that are no table are refused with a message naming the problem"

    def assertRefused(self, data, filename, key):
        with self.assertRaises(FileError) as context:
            header, rows = read_table(data, filename)
            list(rows)
        self.assertEqual(context.exception.key, key)
        message = str(context.exception)
        self.assertNotIn('codec', message)
        self.assertNotIn('Error', message)
        self.assertEqual(len(message.splitlines()), 1)
        return message

    def test_empty(self):
        for data in [b'', b'  \n\r\n']:
            self.assertIn('empty', self.assertRefused(data, 'a.csv', 'empty'))

    def test_binary(self):
        import random
        rng = random.Random(3)
        data = bytes(rng.randrange(256) for _ in range(5000))
        self.assertRefused(data, 'leads.csv', 'binary')
        # no NUL, and no valid UTF-8 either: cp1252 would read it
        data = bytes(rng.choice([1, 2, 3, 0x8f, 0x81]) for _ in range(500))
        self.assertRefused(data, 'leads.csv', 'encoding')
        data = bytes(rng.randrange(1, 32) for _ in range(500))
        self.assertRefused(data, 'leads.csv', 'binary')
        self.assertRefused(b'\x7fELF\x02\x01\x01' + bytes(200), 'x.csv',
            'binary')

    def test_zip_named_csv(self):
        import zipfile
        data = io.BytesIO()
        with zipfile.ZipFile(data, 'w') as archive:
            archive.writestr('leads.csv', 'name,source\nAsha,website\n')
        message = self.assertRefused(data.getvalue(), 'leads.csv', 'zip')
        self.assertIn('unzip', message)

    def test_corrupt_xlsx(self):
        good = workbook(('Leads', [['Name', 'Source'], ['Asha', 'website']]))
        for data in [good[:len(good) // 2], b'name,source\nAsha,web\n',
                good.replace(b'xl/workbook.xml', b'xl/workbook.xmX')]:
            self.assertRefused(data, 'leads.xlsx', 'xlsx')

    def test_old_excel(self):
        data = b'\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1' + bytes(600)
        self.assertIn('.xls', self.assertRefused(data, 'leads.xls', 'xls'))

    def test_no_header(self):
        self.assertRefused(b',,\nAsha,website\n', 'a.csv', 'no_header')


class EncodingTestCase(unittest.TestCase):
    "The encodings spreadsheets export are recognised and named"

    text = 'name,company,source\nJosé Müller,Café Crème,website\n'

    def read(self, data):
        info = {}
        header, rows = read_table(data, 'leads.csv', info=info)
        return header, list(rows), info['encoding']

    def test_encodings(self):
        expected = (['name', 'company', 'source'],
            [(2, ['José Müller', 'Café Crème', 'website'])])
        for data, encoding in [
                (self.text.encode('utf-8'), 'utf-8'),
                (self.text.encode('utf-8-sig'), 'utf-8'),
                (self.text.encode('latin-1'), 'cp1252'),
                (self.text.encode('cp1252'), 'cp1252'),
                (self.text.encode('utf-16'), 'utf-16'),
                (self.text.encode('utf-16-le'), 'utf-16'),
                (self.text.encode('utf-16-be'), 'utf-16'),
                ]:
            with self.subTest(encoding=encoding, bom=data[:3]):
                header, rows, used = self.read(data)
                self.assertEqual((header, rows), expected)
                self.assertEqual(used, encoding)

    def test_windows_quotes(self):
        "cp1252 is preferred over latin-1: its quotes are letters, not C1"
        data = 'name,source\n\u201cAsha\u201d \u2013 Rao,website\n'
        header, rows, used = self.read(data.encode('cp1252'))
        self.assertEqual(rows[0][1][0], '\u201cAsha\u201d \u2013 Rao')


class SheetTestCase(unittest.TestCase):
    "A workbook with several sheets: the one asked for, or the first, named"

    def setUp(self):
        self.data = workbook(
            ('Leads', [['Name', 'Source'], ['Asha', 'website']]),
            ('Archive', [['Name', 'Source'], ['Ravi', 'google'],
                    ['Meera', 'event']]))

    def test_first_sheet_said(self):
        info = {}
        header, rows = read_table(self.data, 'leads.xlsx', info=info)
        self.assertEqual(list(rows), [(2, ['Asha', 'website'])])
        self.assertEqual(info['sheet'], 'Leads')
        self.assertEqual(info['sheets'], ['Leads', 'Archive'])

    def test_sheet_chosen(self):
        info = {}
        header, rows = read_table(
            self.data, 'leads.xlsx', sheet='Archive', info=info)
        self.assertEqual([c[0] for _, c in rows], ['Ravi', 'Meera'])
        self.assertEqual(info['sheet'], 'Archive')

    def test_unknown_sheet(self):
        with self.assertRaises(FileError) as context:
            read_table(self.data, 'leads.xlsx', sheet='Nope')
        self.assertEqual(str(context.exception),
            'The workbook has no sheet "Nope"; its sheets are: '
            'Leads, Archive.')


class RowLimitTestCase(unittest.TestCase):

    def test_phone_with_letters_rejected(self):
        "Letters in a phone are a typo, not a keypad: the row is refused"
        file_, good = lead_file(
            "name,phone,source\n"
            "Asha,121abc,website\n"
            "Ravi,98450 12345 ext 2,website\n"
            "Meera,(022) 2345-6789,website\n")
        self.assertEqual([line for line, _ in good], [4])
        self.assertEqual(good[0][1]['phone_key'], '+912223456789')
        self.assertEqual({r.line: r.reason for r in file_.rejections}, {
                2: '"121abc" is not a valid phone number.',
                3: '"98450 12345 ext 2" is not a valid phone number.'})
        with self.assertRaises(InvalidPhone):
            normalize_phone('121abc')

    def test_long_name_rejected(self):
        file_, good = lead_file(
            "name,source\n" + 'A' * 100_000 + ",website\n"
            + 'B' * 200 + ",website\n")
        self.assertEqual([line for line, _ in good], [3])
        self.assertEqual(file_.rejections[0].reason,
            '"Name" is longer than 200 characters.')

    def test_report_neutralises_formulas(self):
        "A rejected cell a spreadsheet would run as a formula stays text"
        file_, good = lead_file(
            "name,email,phone,source\n"
            "=cmd|' /C calc'!A0,bad@,,website\n"
            "+Asha,@SUM(1),,website\n"
            "-2+3,x@,\t=1,website\n"
            "Plain,p@,,website\n")
        self.assertEqual(good, [])
        rows = list(csv.reader(io.StringIO(file_.report_csv().decode())))
        self.assertEqual(rows[1][2:4], ["'=cmd|' /C calc'!A0", 'bad@'])
        self.assertEqual(rows[2][2:4], ["'+Asha", "'@SUM(1)"])
        self.assertEqual(rows[3][2:5], ["'-2+3", 'x@', "'\t=1"])
        self.assertEqual(rows[4][2], 'Plain')
        for row in rows:
            for cell in row:
                self.assertFalse(cell.startswith(('=', '+', '-', '@')), cell)
