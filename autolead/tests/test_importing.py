"""Checks of the lead file reader that need no database"""
import io
import unittest

from trytond.modules.autolead.importing import (
    LeadFile, Target, fast_email_key, read_table)
from trytond.modules.autolead.normalize import (
    InvalidPhone, _parse_phone, normalize_email, normalize_phone)

TARGETS = [
    Target('name', "Name", required=True),
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
