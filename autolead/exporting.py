"""Write a table of report figures as CSV or Excel, without Tryton.

A table is a title, a list of column headers and rows of plain values
(str, int, float, Decimal, date, datetime or None)."""
import csv
import datetime
import io
from decimal import Decimal

FORMATS = {
    'csv': 'text/csv',
    'xlsx': (
        'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'),
    }


def _text(value):
    if value is None:
        return ''
    if isinstance(value, float):
        return f'{value:.1f}'
    return str(value)


def to_csv(headers, rows):
    "Return the table as UTF-8 CSV bytes"
    output = io.StringIO()
    writer = csv.writer(output, lineterminator='\n')
    writer.writerow(headers)
    for row in rows:
        writer.writerow([_text(v) for v in row])
    return output.getvalue().encode('utf-8')


def to_xlsx(title, headers, rows):
    "Return the table as an Excel workbook with one sheet"
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    # Excel refuses sheet titles longer than 31 characters and some symbols
    sheet.title = ''.join(
        c for c in title if c not in '[]:*?/\\')[:31] or 'Report'
    sheet.append(list(headers))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([
                float(v) if isinstance(v, Decimal) else v for v in row])
    for column, header in zip(sheet.columns, headers):
        width = max(
            [len(_text(c.value)) for c in column] + [len(header)])
        sheet.column_dimensions[column[0].column_letter].width = min(
            width + 2, 60)
        if isinstance(column[-1].value, datetime.datetime):
            for cell in column[1:]:
                cell.number_format = 'yyyy-mm-dd hh:mm'
        elif isinstance(column[-1].value, datetime.date):
            for cell in column[1:]:
                cell.number_format = 'yyyy-mm-dd'
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def to_text(headers, rows, limit=20):
    "Return the first rows of the table as aligned plain text for an email"
    table = [list(headers)] + [[_text(v) for v in r] for r in rows[:limit]]
    widths = [max(len(r[i]) for r in table) for i in range(len(headers))]
    lines = ['  '.join(v.ljust(w) for v, w in zip(r, widths)).rstrip()
        for r in table]
    lines.insert(1, '  '.join('-' * w for w in widths))
    if len(rows) > limit:
        lines.append('...')
    return '\n'.join(lines)
