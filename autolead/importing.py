"""Reading, mapping and checking lead files before they reach the database.

Plain Python, no Tryton: the desk wizard, the queue job, the command line
and the benchmark all go through `LeadFile`, so a row is judged the same way
whichever door it came in by. The model describes its own fields as
`Target`s, so a column maps to whatever fields the lead has.
"""
import csv
import datetime as dt
import gc
import io
import itertools
import os
import pickle
import re
import signal
import traceback
from decimal import Decimal, InvalidOperation

from .normalize import (
    InvalidEmail, InvalidPhone, normalize_company, normalize_email,
    normalize_phone)

__all__ = ['Target', 'Rejection', 'LeadFile', 'read_table', 'header_key',
    'is_xlsx', 'ParseWorker', 'FileError', 'FILE_MESSAGES', 'decode',
    'neutralise']

# Spellings seen in exported address books and ad platforms
ALIASES = {
    'name': {'full name', 'fullname', 'contact', 'contact name', 'lead name',
        'customer name', 'person'},
    'email': {'e-mail', 'mail', 'email address', 'e-mail address',
        'emailaddress'},
    'phone': {'mobile', 'mobile number', 'phone number', 'tel', 'telephone',
        'cell', 'contact number', 'whatsapp'},
    'company_name': {'company', 'organisation', 'organization', 'business',
        'firm', 'account'},
    'source': {'lead source', 'channel', 'origin'},
    'status': {'lead status', 'state', 'stage'},
    'stage': {'lead stage', 'status', 'lead status'},
    }
SIMPLE_EMAIL = re.compile(
    r'[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*'
    r'@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+'
    r'[A-Za-z]{2,24}')
_SPECIAL_TLDS = {'arpa', 'invalid', 'local', 'localhost', 'onion', 'test'}
_HEADER_SPACES = re.compile(r'[\s_\-]+')


def header_key(text):
    return _HEADER_SPACES.sub(' ', (text or '').strip().lower()).strip()


def fast_email_key(value):
    """Same result as normalize_email, several times faster on the plain
    ASCII addresses that make up nearly every file; anything unusual goes
    through email_validator."""
    value = value.strip()
    if (len(value) <= 254 and SIMPLE_EMAIL.fullmatch(value)
            and len(value.split('@', 1)[0]) <= 64
            and value.rsplit('.', 1)[1].lower() not in _SPECIAL_TLDS):
        return value.lower()
    return normalize_email(value)


class Target:
    "A lead field a column can feed"
    __slots__ = ('name', 'string', 'type', 'required', 'selection', 'size')

    def __init__(self, name, string, type='char', required=False,
            selection=None, size=None):
        self.name = name
        self.string = string
        self.type = type
        self.required = required
        # value -> key, both the key and the label are accepted
        self.selection = None
        if selection is not None:
            self.selection = {}
            for key, label in selection:
                if key is None:
                    continue
                self.selection[header_key(str(key))] = key
                self.selection[header_key(str(label))] = key
        self.size = size


class Rejection:
    __slots__ = ('line', 'reason', 'values', 'skipped')

    def __init__(self, line, reason, values, skipped=False):
        self.line = line
        self.reason = reason
        self.values = values
        self.skipped = skipped

    def __repr__(self):
        return f'Rejection({self.line}, {self.reason!r})'


class FileError(ValueError):
    """A file the import cannot read, with the key of the message telling
    the user what is wrong and what to do: `key` names the message
    (msg_import_file_<key> in the desk), `params` fill it"""

    def __init__(self, key, **params):
        self.key = key
        self.params = params
        super().__init__(FILE_MESSAGES[key].format(**params))


FILE_MESSAGES = {
    'empty': "The file is empty: export the leads again with the column "
    "titles on the first row.",
    'binary': "The file is not a CSV or Excel file (it holds binary data): "
    "save it as CSV (UTF-8) or .xlsx and import that.",
    'encoding': "The file's text encoding is not recognised: save it as "
    "CSV (UTF-8) and import it again.",
    'zip': "The file is a zip archive, not a spreadsheet: unzip it and "
    "import the CSV or .xlsx inside.",
    'xlsx': "The Excel file is damaged or not an .xlsx workbook: open it in "
    "your spreadsheet program and save it again as .xlsx or CSV.",
    'xls': "Old Excel files (.xls) cannot be read: save the file as .xlsx "
    "or CSV and import that.",
    'sheet': "The workbook has no sheet \"{sheet}\"; its sheets are: "
    "{sheets}.",
    'no_header': "The file has no column titles: put the titles (Name, "
    "Email, Phone...) on the first row.",
    }
_UTF16_BOMS = (b'\xff\xfe', b'\xfe\xff')
_OLE = b'\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1'
# characters no text export holds: NUL and the C0 controls but tab, line
# feed, carriage return and form feed
_CONTROL = re.compile('[\x00-\x08\x0b\x0e-\x1f\x7f]')


def read_table(data, filename='', sheet=None, info=None):
    """Return the header and an iterator of (line, cells) from CSV or XLSX
    bytes; line numbers are the ones a spreadsheet shows.

    Raise FileError for a file that is no table. `sheet` names the sheet of
    a workbook (the first one when None); `info`, a dict, receives the
    encoding used for a CSV, or the sheet used and all sheets of a
    workbook."""
    if info is None:
        info = {}
    if isinstance(data, str):
        return _read_csv(data, info)
    data = bytes(data or b'')
    if not data.strip():
        raise FileError('empty')
    if data.startswith(_OLE):
        raise FileError('xls')
    if is_xlsx(data, filename):
        return _read_xlsx(data, sheet, info)
    return _read_csv(decode(data, info), info)


def decode(data, info=None):
    """Return the text of CSV bytes: UTF-8 (with or without BOM), UTF-16
    (with BOM, or without when every other byte is zero) or Windows-1252,
    the encoding Excel uses in western Europe and India when told "CSV";
    `info['encoding']` says which. Raise FileError for binary data."""
    if info is None:
        info = {}
    head = data[:4096]
    encoding = None
    if data.startswith(b'\xef\xbb\xbf'):
        encoding = 'utf-8-sig'
    elif data.startswith(_UTF16_BOMS):
        encoding = 'utf-16'
    elif len(head) >= 4 and head[1::2].count(0) > len(head) // 4 and not (
            head[0::2].count(0)):
        encoding = 'utf-16-le'
    elif len(head) >= 4 and head[0::2].count(0) > len(head) // 4 and not (
            head[1::2].count(0)):
        encoding = 'utf-16-be'
    if encoding:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            raise FileError('encoding') from None
    else:
        if b'\x00' in head:
            raise FileError('binary')
        for encoding in ['utf-8', 'cp1252']:
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise FileError('encoding')
    # a few stray controls happen in hand-made files; many mean the bytes
    # were never text
    if len(_CONTROL.findall(text[:4096])) > max(2, len(text[:4096]) // 100):
        raise FileError('binary')
    info['encoding'] = {
        'utf-8-sig': 'utf-8', 'utf-16-le': 'utf-16',
        'utf-16-be': 'utf-16'}.get(encoding, encoding)
    return text


def _read_csv(text, info):
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=',;\t|')
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=''), dialect)
    try:
        header = next(reader, [])
    except csv.Error:
        raise FileError('binary') from None
    if not any(h.strip() for h in header):
        raise FileError('no_header')

    def rows():
        try:
            for cells in reader:
                if ''.join(cells).strip():
                    yield reader.line_num, cells
        except csv.Error:
            # only a NUL in the middle of a file that began as text
            raise FileError('binary') from None
    return header, rows()


def _read_xlsx(data, sheet, info):
    import zipfile
    from openpyxl import load_workbook
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise FileError('xlsx') from None
    if 'xl/workbook.xml' not in names:
        raise FileError('xlsx' if '[Content_Types].xml' in names else 'zip')
    try:
        workbook = load_workbook(
            io.BytesIO(data), read_only=True, data_only=True)
        info['sheets'] = workbook.sheetnames
        if sheet:
            if sheet not in workbook.sheetnames:
                raise FileError('sheet', sheet=sheet,
                    sheets=', '.join(workbook.sheetnames))
            worksheet = workbook[sheet]
        else:
            worksheet = workbook.worksheets[0]
        info['sheet'] = worksheet.title
        iterator = worksheet.iter_rows(values_only=True)
        header = [_cell_text(c) for c in next(iterator, ())]
    except FileError:
        raise
    except Exception:
        # openpyxl raises whatever its XML parser or zip reader met
        raise FileError('xlsx') from None
    if not any(h.strip() for h in header):
        raise FileError('no_header')

    def rows():
        try:
            for line, cells in enumerate(iterator, 2):
                cells = [_cell_text(c) for c in cells]
                if any(cells):
                    yield line, cells
        except Exception:
            raise FileError('xlsx') from None
        finally:
            workbook.close()
    return header, rows()


def _cell_text(value):
    if value is None:
        return ''
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime) and not value.time():
        value = value.date()
    return str(value)


class LeadFile:
    """Maps the columns of a lead file onto targets and turns each row into
    values ready for the lead model, or into a rejection with a reason.

    `messages` holds the wording of the reasons (translated by the caller),
    keyed: required, email, phone, selection, number, date, size,
    duplicate_in_file."""

    def __init__(self, header, targets, messages=None):
        self.header = list(header)
        self.targets = {t.name: t for t in targets}
        self.messages = dict(DEFAULT_MESSAGES)
        self.messages.update(messages or {})
        self.mapping = self._map(self.header)
        self.unmapped = [h for i, h in enumerate(self.header)
            if i not in self.mapping and h.strip()]
        self.rejections = []
        self._seen = {}

    def _map(self, header):
        lookup = {}
        for target in self.targets.values():
            for spelling in ALIASES.get(target.name, ()):
                lookup.setdefault(header_key(spelling), target.name)
        # a field's own name and label win over an alias
        for target in self.targets.values():
            lookup[header_key(target.name)] = target.name
            lookup[header_key(target.string)] = target.name
        mapping, used = {}, set()
        for index, title in enumerate(header):
            name = lookup.get(header_key(title))
            if name and name not in used:
                mapping[index] = name
                used.add(name)
        return mapping

    @property
    def missing(self):
        "Required targets no column feeds"
        mapped = set(self.mapping.values())
        return [t.name for t in self.targets.values()
            if t.required and t.name not in mapped]

    def describe(self):
        "Lines `column -> field` for a preview"
        lines = []
        for index, title in enumerate(self.header):
            if index in self.mapping:
                target = self.targets[self.mapping[index]]
                lines.append(f'{title} -> {target.string} ({target.name})')
            elif title.strip():
                lines.append(f'{title} -> -')
        return lines

    def parse(self, rows):
        "Yield (line, values) for good rows; bad ones go to rejections"
        for line, cells in rows:
            values, reason = self.convert(cells)
            if reason:
                self.reject(line, reason, cells)
                continue
            yield line, values

    def reject(self, line, reason, cells, skipped=False):
        self.rejections.append(
            Rejection(line, reason, list(cells), skipped=skipped))

    @property
    def errors(self):
        "Rejections for bad data, not rows skipped as duplicates"
        return [r for r in self.rejections if not r.skipped]

    @property
    def skips(self):
        return [r for r in self.rejections if r.skipped]

    def convert(self, cells):
        values = {}
        for index, name in self.mapping.items():
            raw = cells[index].strip() if index < len(cells) else ''
            target = self.targets[name]
            if not raw:
                if target.required:
                    return None, self.messages['required'].format(
                        field=target.string)
                continue
            try:
                values[name] = self._convert(target, raw)
            except ValueError as exception:
                return None, str(exception)
        return self.add_keys(values)

    def add_keys(self, values):
        email = values.get('email')
        if email:
            try:
                values['email_key'] = fast_email_key(email)
            except InvalidEmail:
                return None, self.messages['email'].format(value=email)
        phone = values.get('phone')
        if phone:
            try:
                values['phone_key'] = normalize_phone(phone)
            except InvalidPhone:
                return None, self.messages['phone'].format(value=phone)
        if values.get('company_name'):
            values['company_key'] = normalize_company(values['company_name'])
        return values, None

    def _convert(self, target, raw):
        type_ = target.type
        if type_ in {'char', 'text'}:
            if target.size and len(raw) > target.size:
                raise ValueError(self.messages['size'].format(
                        field=target.string, size=target.size))
            return raw
        if type_ == 'selection':
            try:
                return target.selection[header_key(raw)]
            except KeyError:
                raise ValueError(self.messages['selection'].format(
                        field=target.string, value=raw)) from None
        try:
            if type_ == 'integer':
                return int(raw)
            if type_ == 'float':
                return float(raw.replace(',', ''))
            if type_ == 'numeric':
                return Decimal(raw.replace(',', ''))
            if type_ == 'boolean':
                return header_key(raw) in {'1', 'yes', 'y', 'true', 'x'}
        except (ValueError, InvalidOperation):
            raise ValueError(self.messages['number'].format(
                    field=target.string, value=raw)) from None
        if type_ in {'date', 'datetime'}:
            try:
                value = dt.date.fromisoformat(raw[:10])
            except ValueError:
                raise ValueError(self.messages['date'].format(
                        field=target.string, value=raw)) from None
            if type_ == 'datetime':
                value = dt.datetime.combine(value, dt.time())
            return value
        # many2one and others are resolved by the caller from the text
        return raw

    def seen_before(self, line, values):
        """Return the line of an earlier row of the file with the same email,
        phone or company and name, and remember this one."""
        keys = contact_keys(values)
        for key in keys:
            if key in self._seen:
                return self._seen[key]
        for key in keys:
            self._seen[key] = line
        return None

    def report_csv(self):
        "The rejected rows as CSV: line, reason and the original cells"
        output = io.StringIO()
        writer = csv.writer(output)
        writer.writerow(['line', 'reason', *map(neutralise, self.header)])
        for rejection in sorted(self.rejections, key=lambda r: r.line):
            writer.writerow([rejection.line,
                    *map(neutralise, [rejection.reason, *rejection.values])])
        return output.getvalue().encode('utf-8')


# what a spreadsheet reads as the start of a formula (OWASP, CSV injection)
_FORMULA_START = ('=', '+', '-', '@', '\t', '\r')


def neutralise(cell):
    """Return cell as a spreadsheet shows it as text, never a formula: a
    cell starting with = + - @ tab or carriage return gets a leading '"""
    if isinstance(cell, str) and cell.startswith(_FORMULA_START):
        return "'" + cell
    return cell


def contact_keys(values):
    keys = []
    if values.get('email_key'):
        keys.append(('email', values['email_key']))
    if values.get('phone_key'):
        keys.append(('phone', values['phone_key']))
    if values.get('company_key') and values.get('name'):
        keys.append(
            ('company', values['company_key'], values['name'].lower()))
    return keys


DEFAULT_MESSAGES = {
    'required': '"{field}" is required.',
    'email': '"{value}" is not a valid email address.',
    'phone': '"{value}" is not a valid phone number.',
    'selection': '"{value}" is not a valid value for "{field}".',
    'number': '"{value}" is not a number for "{field}".',
    'date': '"{value}" is not a date (YYYY-MM-DD) for "{field}".',
    'size': '"{field}" is longer than {size} characters.',
    'duplicate_in_file': 'Same contact as line {line}.',
    }


def is_xlsx(data, filename=''):
    "Whether read_table reads data as an Excel workbook"
    return (filename.lower().endswith(('.xlsx', '.xlsm'))
        or data[:2] == b'PK')


class ParseWorker:
    """Read and check a file in a forked child process, chunk by chunk,
    while the caller stores the previous chunk: the two halves of an import
    then use two cores.

    The child runs the same LeadFile.parse and LeadFile.seen_before as an
    import in one process, and nothing else (no database, no Tryton); it
    sends through a pipe for each chunk of
    `chunk` rows (good, repeats, rejections, size): good is [(line,
    values)], repeats [(line, values, earlier line)] for rows repeating a
    contact of an earlier row, rejections [(line, reason, cells)]; the
    number of rows comes last unless total_first. The pipe holds little,
    so the child stays about one chunk ahead."""

    def __init__(self, data, filename, targets, messages, chunk,
            total_first=False, skip=0):
        read, write = os.pipe()
        pid = os.fork()
        if not pid:
            # the child: never return into the caller's code
            status = 1
            try:
                os.close(read)
                with os.fdopen(write, 'wb') as output:
                    _parse_into(output, data, filename, targets, messages,
                        chunk, total_first, skip)
                status = 0
            finally:
                os._exit(status)
        os.close(write)
        self.pid = pid
        self._total = None
        self._input = os.fdopen(read, 'rb')

    def _receive(self):
        try:
            message = pickle.load(self._input)
        except EOFError:
            raise RuntimeError("the import parser stopped") from None
        if message[0] == 'error':
            raise RuntimeError(f"the import parser failed: {message[1]}")
        if message[0] == 'file_error':
            raise FileError(message[1], **message[2])
        return message

    def total(self):
        "The number of rows: sent first when total_first, else at the end"
        if self._total is None:
            message = self._receive()
            assert message[0] == 'total'
            self._total = message[1]
        return self._total

    def replayed(self):
        """The repeats [(line, values, earlier line)] among the first `skip`
        rows, which are read again only to know the file's contacts"""
        message = self._receive()
        assert message[0] == 'replayed'
        return message[1]

    def chunks(self):
        while True:
            message = self._receive()
            if message[0] == 'end':
                self._total = message[1]
                return
            yield message[1:]

    def close(self):
        if self.pid is None:
            return
        self._input.close()
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)
        self.pid = None


def _parse_into(output, data, filename, targets, messages, chunk,
        total_first, skip=0):
    def send(message):
        pickle.dump(message, output, pickle.HIGHEST_PROTOCOL)
        output.flush()
    # a short-lived process: no cyclic collection (see _import_parallel)
    gc.disable()
    try:
        header, rows = read_table(data, filename)
        if total_first:
            rows = list(rows)
            send(('total', len(rows)))
        rows = iter(rows)
        lead_file = LeadFile(header, targets, messages)
        total = 0
        if skip:
            repeats = []
            for line, values in lead_file.parse(
                    itertools.islice(rows, skip)):
                earlier = lead_file.seen_before(line, values)
                if earlier is not None:
                    repeats.append((line, values, earlier))
            lead_file.rejections = []
            total += skip
            send(('replayed', repeats))
        while True:
            part = list(itertools.islice(rows, chunk))
            if not part:
                break
            total += len(part)
            good, repeats = [], []
            for line, values in lead_file.parse(part):
                earlier = lead_file.seen_before(line, values)
                if earlier is None:
                    good.append((line, values))
                else:
                    repeats.append((line, values, earlier))
            rejections = [(r.line, r.reason, r.values)
                for r in lead_file.rejections]
            lead_file.rejections = []
            send(('chunk', good, repeats, rejections, len(part)))
        send(('end', total))
    except BrokenPipeError:
        raise
    except FileError as exception:
        send(('file_error', exception.key, exception.params))
    except Exception:
        send(('error', traceback.format_exc(limit=5)))
