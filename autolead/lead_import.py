import datetime as dt
import gc
import json
import os
import socket
import time

from sql.aggregate import Max
from sql.conditionals import Coalesce
from sql.operators import Concat

from trytond import backend
from trytond.config import config
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Workflow, fields
from trytond.model.exceptions import AccessError
from trytond.exceptions import UserError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import (
    Transaction, check_access, without_check_access)
from trytond.wizard import (
    Button, StateAction, StateTransition, StateView, Wizard)

from .importing import (
    FileError, LeadFile, ParseWorker, Rejection, Target, is_xlsx, read_table)

DUPLICATES = [
    ('flag', "Flag"),
    ('skip', "Skip"),
    ('update', "Update"),
    ]
# rows per batch: big enough that the set-based dedup and the multi-row
# insert dominate, small enough to show progress; 0: 1,000 rows on SQLite,
# whose single writer makes desk writes wait for the batch, 5,000 elsewhere
CHUNK = config.getint('autolead', 'import_chunk', default=0)
# CSV files longer than this many bytes (about 5,000 rows) are read and
# checked in a second process while this one stores the rows; -1: never
PARALLEL_ABOVE = config.getint(
    'autolead', 'import_parallel_above', default=256 * 1024)
# a batch is committed once its transaction has lasted this long (seconds):
# SQLite has one writer, and a desk write waits for the import's commit
COMMIT_EVERY = config.getfloat('autolead', 'import_commit_every', default=0.25)
# a running job of another host whose last committed batch is older than
# this (seconds) has lost its process; this host's processes are looked up
HEARTBEAT_TIMEOUT = config.getint(
    'autolead', 'import_heartbeat_timeout', default=120)
# the leads whose create triggers run in one queued task
TRIGGER_BATCH = config.getint(
    'autolead', 'import_trigger_batch', default=1000)
# fields a file never sets: the import decides them
NOT_IMPORTED = {
    'id', 'create_uid', 'create_date', 'write_uid', 'write_date',
    'rec_name', 'owner', 'active', 'duplicate_of', 'lead_kind',
    'email_key', 'phone_key', 'company_key'}
MESSAGE_KEYS = {
    'required': 'msg_import_required',
    'email': 'msg_import_email',
    'phone': 'msg_import_phone',
    'selection': 'msg_import_selection',
    'number': 'msg_import_number',
    'date': 'msg_import_date',
    'size': 'msg_import_size',
    'duplicate_in_file': 'msg_import_duplicate_in_file',
    }


def _file_error(exception):
    "The user's message for an importing.FileError"
    return gettext(
        f'autolead.msg_import_file_{exception.key}', **exception.params)


def _chunk():
    if CHUNK:
        return CHUNK
    return 1000 if backend.name == 'sqlite' else 5000


def _this_process():
    return f'{socket.gethostname()}:{os.getpid()}'


def _process_alive(process):
    """Whether the process host:pid still runs: True or False on this
    host, None for another host's, of which only the heartbeat tells"""
    host, _, pid = (process or '').rpartition(':')
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


class TakenOver(Exception):
    "Another process resumed the job this one was importing"


def _messages():
    "The reasons of importing.LeadFile in the user's language"
    placeholders = {
        'field': '{field}', 'value': '{value}', 'size': '{size}',
        'line': '{line}'}
    return {key: gettext(f'autolead.{name}', **placeholders)
        for key, name in MESSAGE_KEYS.items()}


class Lead(metaclass=PoolMeta):
    __name__ = 'autolead.lead'

    @classmethod
    def import_targets(cls):
        "The fields a file may fill, described for importing.LeadFile"
        targets = []
        for name, field in cls._fields.items():
            if (name in NOT_IMPORTED or field.readonly
                    or isinstance(field, fields.Function)
                    or field._type in {
                        'one2many', 'many2many', 'reference', 'binary',
                        'dict', 'timedelta', 'time', 'timestamp'}):
                continue
            selection = None
            if field._type == 'selection':
                selection = field.selection
                if isinstance(selection, str):
                    selection = getattr(cls, selection)()
            targets.append(Target(
                    name, field.string, field._type,
                    required=bool(field.required) and name not in
                    cls._import_defaults(),
                    selection=selection, size=getattr(field, 'size', None)
                    if isinstance(getattr(field, 'size', None), int)
                    else None))
        return targets

    @classmethod
    def _import_defaults(cls):
        return {n for n in cls._fields if hasattr(cls, f'default_{n}')}

    @classmethod
    def bulk_create(cls, vlist):
        """Insert many leads with one multi-row statement per batch.

        Lead.create inserts one row per statement on SQLite and reads every
        record back to validate it generically, which caps an import at a
        few thousand rows per second. The rows reaching here were already
        checked by importing.LeadFile against the model's own field
        definitions (required, selection, size, types) and normalised with
        the same functions as Lead.preprocess_values, and were given
        duplicate_of/lead_kind by Lead.flag_duplicates. What remains of
        create is kept: the access check, create_uid/create_date, defaults,
        the record rules on the new ids, validate(), on_modification() and
        the create triggers.
        """
        pool = Pool()
        ModelAccess = pool.get('ir.model.access')
        Trigger = pool.get('ir.trigger')
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        database = transaction.database
        if not vlist:
            return []
        ModelAccess.check(cls.__name__, 'create')
        ModelAccess.check(cls.__name__, 'write')
        given = set().union(*vlist)
        stored = {n for n, f in cls._fields.items()
            if not hasattr(f, 'set') and n not in {
                'id', 'create_uid', 'create_date', 'write_uid',
                'write_date'}}
        defaults = cls._clean_defaults(cls.default_get(
                [n for n in stored - given if hasattr(cls, f'default_{n}')],
                with_rec_name=False))
        given = sorted(given & stored)
        defaulted = sorted(set(defaults) & stored)
        names = given + defaulted
        table = cls.__table__()
        columns = [table.id, table.create_uid, table.create_date] + [
            getattr(table, n) for n in names]
        formats = [_plain_format(cls._fields[n]) for n in given]
        # the same for every row: formatted once
        default_row = [cls._fields[n].sql_format(defaults[n])
            for n in defaulted]
        query, _ = tuple(table.insert(columns, [[None] * len(columns)]))
        now = dt.datetime.now()
        user = transaction.user
        count = len(vlist)
        ids = database.nextid(transaction.connection, cls._table, count)
        if isinstance(ids, int):
            ids = [ids]
        elif ids is None:
            # SQLite has no sequence: it holds one writer at a time, so the
            # ids after the current maximum are ours once this transaction
            # is the writer. It becomes the writer at its first change, not
            # at a read: a no-op change first, or another process may insert
            # between the read of the maximum and the insert
            cursor.execute(*table.update(
                    [table.id], [table.id], where=table.id == -1))
            cursor.execute(*table.select(Max(table.id)))
            last, = cursor.fetchone()
            ids = list(range((last or 0) + 1, (last or 0) + 1 + count))
        given_formats = list(zip(given, formats))
        rows = [[id_, user, now]
            + [format_(values.get(name)) for name, format_ in given_formats]
            + default_row
            for id_, values in zip(ids, vlist)]
        if backend.name == 'postgresql':
            # one COPY streams the batch: an INSERT per row costs a round
            # trip of the pipeline and a statement execution on the server
            # for each row
            _copy_rows(cursor, cls._table, [c.name for c in columns], rows)
        else:
            if backend.name == 'sqlite':
                # inserting into a dozen indexes of random keys (email,
                # phone, company) misses the default 2 MB page cache once
                # the table is large; this costs memory only while the
                # connection lives
                cursor.execute('PRAGMA cache_size = -131072')
            cursor.executemany(query, rows)
        cls._insert_history(ids)
        if transaction.user and transaction.check_access:
            cls._ModelSQL__check_domain_rule(ids, 'create')
        created = []
        # small slices: browse() checks every id of the list per record;
        # each slice is read at once when validated
        for sub_ids in grouped_slice(ids, 50):
            created.extend(cls.browse(sub_ids))
        cls.validate(created)
        cls.check_modification('create', created,
            external=bool(transaction.check_access))
        cls.on_modification('create', created)
        if Transaction().context.get('autolead_notify', True):
            with without_check_access():
                for trigger in Trigger.get_triggers(cls.__name__, 'create'):
                    cls._queue_trigger(trigger, ids)
        transaction.create_records[cls.__name__].extend(ids)
        return created

    @classmethod
    def _queue_trigger(cls, trigger, ids):
        """Queue the action of a create trigger (a notification rule) for
        the new ids, as ModelStorage.create does through
        Trigger.queue_trigger_action, but without evaluating its condition
        here: the PYSON condition of the three default lead rules cost
        20 s for 100,000 rows, four times the import, and the queued
        Trigger.trigger_action evaluates it again anyway"""
        Trigger = Pool().get('ir.trigger')
        queued = Transaction().trigger_records[trigger.id]
        ids = [i for i in ids if i not in queued]
        # Trigger.trigger_action browses its ids at once, which costs the
        # square of their number: one task per thousand leads
        for sub_ids in grouped_slice(ids, TRIGGER_BATCH):
            Trigger.__queue__.trigger_action(trigger, list(sub_ids))
        queued.update(ids)


def _copy_rows(cursor, table, columns, rows):
    "Write rows into the columns of table with PostgreSQL's COPY"
    from psycopg import sql
    statement = sql.SQL('COPY {} ({}) FROM STDIN').format(
        sql.Identifier(table),
        sql.SQL(', ').join(map(sql.Identifier, columns)))
    with cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _plain_format(field):
    """Return field.sql_format, short-cut for the str and int values a
    file gives, which it would return unchanged"""
    sql_format = field.sql_format
    if field._type in {'char', 'text', 'selection'}:
        strip = getattr(field, 'strip', False)
        if strip not in {True, False}:
            return sql_format

        def format_(value):
            if value is None:
                return None
            if type(value) is str:
                return value.strip() if strip else value
            return sql_format(value)
        return format_
    if field._type in {'many2one', 'integer'}:
        def format_(value):
            if value is None or type(value) is int:
                return value
            return sql_format(value)
        return format_
    return sql_format


class ImportJob(Workflow, ModelSQL, ModelView):
    __name__ = 'autolead.lead.import.job'
    __string__ = "Lead Import"

    file_name = fields.Char("File Name", readonly=True)
    file_data = fields.Binary(
        "File", filename='file_name', readonly=True)
    duplicates = fields.Selection(
        DUPLICATES, "Duplicates", required=True, readonly=True,
        help="What to do with a row whose contact already has a lead: "
        "flag it as a duplicate, skip it or update the existing lead.")
    all_or_nothing = fields.Boolean(
        "All or Nothing", readonly=True,
        help="Import nothing when any row is rejected.")
    notify = fields.Boolean(
        "Notify", readonly=True,
        help="Run the notification rules on new leads (new, duplicate, "
        "re-engaged) for each imported lead.")
    owner = fields.Many2One(
        'res.user', "Owner", required=True, readonly=True,
        ondelete='RESTRICT', help="Who the imported leads belong to.")
    mapping = fields.Text("Mapping", readonly=True)
    sheet = fields.Char(
        "Sheet", readonly=True, help="The sheet of the workbook imported.")
    encoding = fields.Char(
        "Encoding", readonly=True,
        help="The text encoding the CSV file was read with.")
    state = fields.Selection([
            ('waiting', "Waiting"),
            ('running', "Running"),
            ('interrupted', "Interrupted"),
            ('done', "Done"),
            ('failed', "Failed"),
            ], "State", readonly=True, required=True, sort=False)
    heartbeat = fields.Timestamp(
        "Last Batch", readonly=True,
        help="When the import last committed a batch of rows.")
    runner = fields.Char(
        "Runner", readonly=True, help="The host and process importing.")
    rejections_data = fields.Text(
        "Rejections So Far", readonly=True,
        help="The rows rejected by the committed batches, to resume with.")
    total = fields.Integer("Rows", readonly=True)
    processed = fields.Integer("Processed", readonly=True)
    progress = fields.Function(fields.Float("Progress"), 'get_progress')
    created = fields.Integer("Created", readonly=True)
    updated = fields.Integer("Updated", readonly=True)
    flagged = fields.Integer(
        "Flagged", readonly=True,
        help="Created and flagged as duplicate or re-engaged.")
    skipped = fields.Integer("Skipped", readonly=True)
    rejected = fields.Integer("Rejected", readonly=True)
    report = fields.Binary(
        "Rejected Rows", filename='report_name', readonly=True,
        help="The rows not imported, with line number and reason.")
    report_name = fields.Char("Report Name", readonly=True)
    message = fields.Text("Message", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('id', 'DESC'))
        cls._transitions |= {
            ('waiting', 'running'),
            ('running', 'done'),
            ('running', 'failed'),
            ('running', 'interrupted'),
            ('interrupted', 'running'),
            }
        cls._buttons.update({
                'resume': {
                    'invisible': Eval('state') != 'interrupted',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'waiting'

    @classmethod
    def default_duplicates(cls):
        return 'flag'

    @classmethod
    def default_all_or_nothing(cls):
        return False

    @classmethod
    def default_notify(cls):
        return False

    @classmethod
    def default_owner(cls):
        return Transaction().user or None

    @classmethod
    def default_processed(cls):
        return 0

    def get_progress(self, name):
        if self.state == 'done':
            return 1.0
        if not self.total:
            return 0.0
        return (self.processed or 0) / self.total

    def get_rec_name(self, name):
        return self.file_name or str(self.id)

    @classmethod
    def run(cls, jobs):
        "Import now, or through the queue when the file is long"
        # files up to this many rows are imported at once, longer ones queued
        queue_above = config.getint(
            'autolead', 'import_queue_above', default=2000)
        for job in jobs:
            if (job.total or 0) > queue_above:
                with Transaction().set_context(autolead_import_commit=True):
                    cls.__queue__.process([job])
            else:
                cls.process([job])

    @classmethod
    @ModelView.button
    def resume(cls, jobs):
        "Import the rest of interrupted jobs, from their last batch"
        cls.check_interrupted()
        jobs = cls.browse([j.id for j in jobs])
        cls.run([j for j in jobs if j.state == 'interrupted'])

    @classmethod
    def check_interrupted(cls):
        """Mark as interrupted the running jobs whose process is gone: dead
        on this host, or on another host silent for longer than the
        heartbeat timeout (a live process here may be slow, never lost)"""
        now = dt.datetime.now()
        timeout = dt.timedelta(seconds=HEARTBEAT_TIMEOUT)

        def is_lost(job):
            alive = _process_alive(job.runner)
            if alive is None:
                return ((job.heartbeat or job.write_date or job.create_date)
                    < now - timeout)
            return not alive
        with without_check_access():
            jobs = cls.search([('state', '=', 'running')])
            lost = [j for j in jobs if is_lost(j)]
            for job in lost:
                cls.write([job], {
                        'state': 'interrupted',
                        'message': gettext(
                            'autolead.msg_import_interrupted',
                            processed=job.processed or 0,
                            total=job.total or 0),
                        })
        return lost

    @classmethod
    def process(cls, jobs, commit=None):
        """Import the files; a queued task commits after each batch so the
        progress shows and an interrupted job resumes, unless the job is all
        or nothing"""
        if commit is None:
            commit = bool(
                Transaction().context.get('autolead_import_commit'))
        # a queued import run again after its worker died resumes where
        # that worker stopped
        cls.check_interrupted()
        jobs = cls.browse([j.id for j in jobs])
        for job in jobs:
            # a file of leads is not a lead per message: the rules hear of
            # the imported leads only when asked
            with Transaction().set_context(autolead_notify=job.notify):
                try:
                    job.import_file(commit=commit)
                except TakenOver:
                    Transaction().rollback()
                except FileError as exception:
                    # a file that broke off after its first rows were read
                    job._finish('failed', None, None, None,
                        _file_error(exception))
                except Exception:
                    if commit:
                        # the committed batches stay: the job can resume
                        # once the cause is fixed, in whichever process
                        Transaction().rollback()
                        job._interrupt()
                        Transaction().commit()
                    raise

    def _claim(self, resume):
        """Take the job for this process, atomically: False when another
        process runs it"""
        table = self.__table__()
        cursor = Transaction().connection.cursor()
        values = {
            'state': 'running', 'runner': _this_process(),
            'heartbeat': dt.datetime.now(), 'message': None,
            }
        if not resume:
            values.update({
                    'processed': 0, 'rejections_data': None,
                    'created': 0, 'updated': 0, 'flagged': 0,
                    'skipped': 0, 'rejected': 0})
        cursor.execute(*table.update(
                [getattr(table, n) for n in values], list(values.values()),
                where=(table.id == self.id) & (table.state != 'running')))
        claimed = cursor.rowcount != 0
        # the records read before the raw update are stale
        Transaction().counter += 1
        return claimed

    def _interrupt(self):
        "Mark the job this process runs as interrupted"
        table = self.__table__()
        cursor = Transaction().connection.cursor()
        job = self.__class__(self.id)
        cursor.execute(*table.update(
                [table.state, table.message],
                ['interrupted', gettext('autolead.msg_import_interrupted',
                        processed=job.processed or 0,
                        total=job.total or 0)],
                where=(table.id == self.id)
                & (table.runner == _this_process())
                & (table.state == 'running')))

    def _heartbeat(self, processed, counts, lead_file):
        """Record the committed progress; raise TakenOver when another
        process took the job meanwhile"""
        table = self.__table__()
        cursor = Transaction().connection.cursor()
        values = {
            'processed': processed, 'heartbeat': dt.datetime.now(),
            'rejected': len(lead_file.errors),
            **counts,
            }
        # the rejections of this batch are appended, one JSON line each:
        # a file with many bad rows is not written again at every batch
        saved = getattr(lead_file, 'saved', 0)
        new = ''.join(json.dumps([r.line, r.reason, r.values, r.skipped])
            + '\n' for r in lead_file.rejections[saved:])
        columns = [getattr(table, n) for n in values]
        values = list(values.values())
        if new:
            columns.append(table.rejections_data)
            values.append(Concat(Coalesce(table.rejections_data, ''), new))
        cursor.execute(*table.update(columns, values,
                where=(table.id == self.id)
                & (table.runner == _this_process())
                & (table.state == 'running')))
        if cursor.rowcount == 0:
            raise TakenOver()
        lead_file.saved = len(lead_file.rejections)

    def _restore(self, lead_file, resume):
        "The counts and rejections of the committed batches"
        counts = dict.fromkeys(
            ['created', 'updated', 'flagged', 'skipped'], 0)
        if resume:
            for name in counts:
                counts[name] = getattr(self, name) or 0
            lead_file.rejections = [Rejection(*json.loads(l))
                for l in (self.rejections_data or '').splitlines()]
            lead_file.saved = len(lead_file.rejections)
        return counts

    def import_file(self, commit=False):
        pool = Pool()
        Lead = pool.get('autolead.lead')
        transaction = Transaction()
        owner = self.owner
        resume = self.state == 'interrupted' and bool(self.processed)
        done = self.processed if resume else 0
        if not self._claim(resume):
            return
        self = self.__class__(self.id)
        if commit:
            transaction.commit()
        data, file_name = self.file_data, self.file_name or ''
        info = {}
        try:
            header, rows = read_table(data, file_name, self.sheet, info)
        except FileError as exception:
            self._finish('failed', None, None, None, _file_error(exception))
            return
        self.__class__.write([self], {
                'sheet': info.get('sheet'),
                'encoding': info.get('encoding'),
                })
        if (not self.all_or_nothing and 0 <= PARALLEL_ABOVE < len(data)
                and not is_xlsx(data, file_name)):
            self._import_parallel(Lead, header, done, commit)
            return
        lead_file = LeadFile(header, Lead.import_targets(), _messages())
        rows = list(rows)
        counts = self._restore(lead_file, resume)
        if lead_file.missing:
            self._finish('failed', lead_file, counts, len(rows), gettext(
                    'autolead.msg_import_missing_columns',
                    columns=', '.join(lead_file.missing)))
            return
        self.__class__.write([self], {
                'total': len(rows),
                'mapping': '\n'.join(lead_file.describe()),
                })
        if self.all_or_nothing:
            probe = LeadFile(header, Lead.import_targets(), _messages())
            for _ in probe.parse(rows):
                pass
            if probe.errors:
                self._finish('failed', probe, counts, len(rows), gettext(
                        'autolead.msg_import_all_or_nothing',
                        count=len(probe.errors)))
                return
        elif commit:
            transaction.commit()
        deferred = []
        cells = dict(rows)
        if done:
            self._replay(lead_file, rows[:done], deferred)
        batch_start = time.monotonic()
        with transaction.set_user(owner.id), check_access():
            size = _chunk()
            for start in range(done, len(rows), size):
                chunk = rows[start:start + size]
                self._import_chunk(
                    Lead, lead_file, chunk, counts, deferred, cells)
                if commit and not self.all_or_nothing and (
                        time.monotonic() - batch_start >= COMMIT_EVERY
                        or start + size >= len(rows)):
                    self._heartbeat(start + len(chunk), counts, lead_file)
                    transaction.commit()
                    batch_start = time.monotonic()
            if deferred:
                # rows repeating a contact of the file, created once the
                # first row of the contact exists to be pointed at
                self._import_rows(Lead, lead_file, deferred, counts, cells)
        self._finish('done', lead_file, counts, len(rows))

    def _replay(self, lead_file, rows, deferred):
        """Read again the rows the committed batches imported, to know the
        contacts of the file they hold and the repeats still to create,
        without rejecting them twice"""
        kept = len(lead_file.rejections)
        for line, values in lead_file.parse(rows):
            earlier = lead_file.seen_before(line, values)
            if earlier is not None and self.duplicates == 'flag':
                deferred.append((line, values))
        del lead_file.rejections[kept:]

    def _import_parallel(self, Lead, header, done, commit):
        """import_file with the file read and checked by a ParseWorker:
        the same rows reach _import_rows in the same chunks, with the same
        rejections"""
        transaction = Transaction()
        owner = self.owner
        data, file_name = self.file_data, self.file_name or ''
        targets, messages = Lead.import_targets(), _messages()
        lead_file = LeadFile(header, targets, messages)
        counts = self._restore(lead_file, bool(done))
        worker = None
        # an import makes millions of objects and few cycles: the cyclic
        # collector would walk the growing heap again and again (a fifth of
        # the time); it resumes once the import is over
        gc_was_enabled = gc.isenabled()
        try:
            gc.disable()
            if not lead_file.missing:
                # the total comes first only when the progress is committed
                worker = ParseWorker(data, file_name, targets, messages,
                    _chunk(), total_first=commit, skip=done)
            if worker is None:
                total = sum(1 for _ in read_table(data, file_name)[1])
                self._finish('failed', lead_file, counts, total, gettext(
                        'autolead.msg_import_missing_columns',
                        columns=', '.join(lead_file.missing)))
                return
            values = {'mapping': '\n'.join(lead_file.describe())}
            if commit:
                values['total'] = worker.total()
            self.__class__.write([self], values)
            if commit:
                transaction.commit()
            deferred = []
            if done:
                for line, values, earlier in worker.replayed():
                    if self.duplicates == 'flag':
                        deferred.append((line, values))
            cells = _LazyCells(data, file_name)
            duplicate_message = lead_file.messages['duplicate_in_file']
            processed = done
            batch_start = time.monotonic()
            with transaction.set_user(owner.id), check_access():
                for good, repeats, rejections, size in worker.chunks():
                    for line, reason, row in rejections:
                        lead_file.reject(line, reason, row)
                    for line, values, earlier in repeats:
                        if self.duplicates == 'flag':
                            deferred.append((line, values))
                        else:
                            counts['skipped'] += 1
                            lead_file.reject(line,
                                duplicate_message.format(line=earlier),
                                self._cells(lead_file, cells, line),
                                skipped=True)
                    self._import_rows(Lead, lead_file, good, counts, cells)
                    processed += size
                    if commit and (
                            time.monotonic() - batch_start >= COMMIT_EVERY):
                        self._heartbeat(processed, counts, lead_file)
                        transaction.commit()
                        batch_start = time.monotonic()
                if commit:
                    self._heartbeat(processed, counts, lead_file)
                    transaction.commit()
                if deferred:
                    self._import_rows(
                        Lead, lead_file, deferred, counts, cells)
            total = worker.total()
        finally:
            if worker is not None:
                worker.close()
            if gc_was_enabled:
                gc.enable()
        self._finish('done', lead_file, counts, total)

    def _finish(self, state, lead_file, counts, total, message=None):
        values = {
            'state': state,
            'message': message,
            'runner': None,
            'rejections_data': None,
            }
        if lead_file is None:
            # the file could not be read
            self.__class__.write([self], values)
            return
        values.update({
                'processed': total,
                'total': total,
                'rejected': len(lead_file.errors),
                **counts,
                })
        if lead_file.rejections:
            values['report'] = lead_file.report_csv()
            values['report_name'] = 'rejected-%s.csv' % (
                (self.file_name or 'leads').rsplit('.', 1)[0])
        self.__class__.write([self], values)

    def _import_chunk(self, Lead, lead_file, chunk, counts, deferred, cells):
        good = []
        for line, values in lead_file.parse(chunk):
            earlier = lead_file.seen_before(line, values)
            if earlier is None:
                good.append((line, values))
            elif self.duplicates == 'flag':
                deferred.append((line, values))
            else:
                counts['skipped'] += 1
                lead_file.reject(line, lead_file.messages[
                        'duplicate_in_file'].format(line=earlier),
                    self._cells(lead_file, cells, line), skipped=True)
        self._import_rows(Lead, lead_file, good, counts, cells)

    @staticmethod
    def _cells(lead_file, cells, line):
        return cells.get(line, [])

    def _import_rows(self, Lead, lead_file, good, counts, cells):
        good = self._resolve_relations(Lead, lead_file, good, cells)
        vlist = [v for _, v in good]
        with Transaction().set_context(_check_access=False):
            originals = Lead.find_originals(vlist)
        to_create, to_update = [], []
        aged = Lead._aged()
        hidden = Lead.hidden_originals(o.id for o in originals if o)
        for (line, values), original in zip(good, originals):
            if original is None:
                values['duplicate_of'] = None
                values['lead_kind'] = Lead.kind_for(values, None, aged)
                to_create.append(values)
            elif self.duplicates == 'skip':
                counts['skipped'] += 1
                lead_file.reject(line, gettext(
                        'autolead.msg_import_skipped_elsewhere')
                    if original.id in hidden else gettext(
                        'autolead.msg_import_skipped',
                        lead=original.id),
                    self._cells(lead_file, cells, line), skipped=True)
            elif self.duplicates == 'update':
                to_update.append((line, values, original))
            else:
                values['duplicate_of'] = original.id
                values['lead_kind'] = Lead.kind_for(values, original, aged)
                to_create.append(values)
                counts['flagged'] += 1
        owner = Transaction().user
        for values in to_create:
            values['owner'] = owner
        if to_update:
            self._update(Lead, lead_file, to_update, counts, cells)
        Lead.bulk_create(to_create)
        counts['created'] += len(to_create)

    def _update(self, Lead, lead_file, to_update, counts, cells):
        writable = {l.id for l in Lead.search([
                    ('id', 'in', [o.id for _, _, o in to_update]),
                    ])}
        for line, values, original in to_update:
            original = Lead(original.id)
            if original.id not in writable:
                lead_file.reject(line, gettext(
                        'autolead.msg_import_not_yours'),
                    self._cells(lead_file, cells, line))
                continue
            values = {k: v for k, v in values.items()
                if not k.endswith('_key') and v not in {None, ''}}
            try:
                Lead.write([original], values)
            except AccessError:
                lead_file.reject(line, gettext(
                        'autolead.msg_import_not_yours'),
                    self._cells(lead_file, cells, line))
                continue
            counts['updated'] += 1

    def _resolve_relations(self, Lead, lead_file, good, cells):
        "Turn the text of Many2One columns into ids, rejecting unknown ones"
        pool = Pool()
        mapped = set(lead_file.mapping.values())
        relations = [t for t in lead_file.targets.values()
            if t.type == 'many2one' and t.name in mapped]
        if not relations:
            return good
        for target in relations:
            Target = pool.get(Lead._fields[target.name].model_name)
            names = {v[target.name] for _, v in good if target.name in v}
            ids = {}
            for name in names:
                found = Target.search([('rec_name', '=', name)], limit=1)
                if found:
                    ids[name] = found[0].id
            kept = []
            for line, values in good:
                if target.name in values:
                    name = values[target.name]
                    if name not in ids:
                        lead_file.reject(line, gettext(
                                'autolead.msg_import_unknown',
                                field=target.string, value=name),
                            self._cells(lead_file, cells, line))
                        continue
                    values[target.name] = ids[name]
                kept.append((line, values))
            good = kept
        return good


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('autolead.lead.import.job|check_interrupted',
                "Find Interrupted Lead Imports"))


class _LazyCells:
    "The cells of each line of a file, read on the first look-up only"

    def __init__(self, data, file_name):
        self._data, self._file_name = data, file_name
        self._cells = None

    def get(self, line, default=None):
        if self._cells is None:
            self._cells = dict(read_table(self._data, self._file_name)[1])
        return self._cells.get(line, default)


class ImportStart(ModelView):
    __name__ = 'autolead.lead.import.start'
    __string__ = "Import Leads"

    file_data = fields.Binary(
        "File", filename='file_name', required=True,
        help="A CSV or Excel (.xlsx) file with one lead per row and the "
        "column titles on the first row.")
    file_name = fields.Char("File Name")
    sheet = fields.Char(
        "Sheet", help="The sheet of an Excel workbook to import; "
        "leave empty for the first one.")
    duplicates = fields.Selection(
        DUPLICATES, "Duplicates", required=True,
        help="What to do with a row whose contact already has a lead.")
    all_or_nothing = fields.Boolean(
        "All or Nothing", help="Import nothing when any row is rejected.")
    notify = fields.Boolean(
        "Notify",
        help="Run the notification rules on new leads (new, duplicate, "
        "re-engaged) for each imported lead: one message per lead.")

    @classmethod
    def default_duplicates(cls):
        return 'flag'

    @classmethod
    def default_notify(cls):
        return False


class ImportPreview(ModelView):
    __name__ = 'autolead.lead.import.preview'
    __string__ = "Import Preview"

    read_as = fields.Char("Read As", readonly=True,
        help="The sheet of the workbook, or the text encoding of the file.")
    resume_instead = fields.Text("Interrupted Import", readonly=True,
        states={
            'invisible': ~Eval('resume_instead'),
            },
        help="An interrupted import of the same file, to resume rather "
        "than import the file again.")
    mapping = fields.Text("Mapping", readonly=True)
    total = fields.Integer("Rows", readonly=True)
    rejected = fields.Integer(
        "Rows to Reject", readonly=True,
        help="Rows with a missing or malformed value.")
    rejections = fields.Text("First Rejections", readonly=True)


class Import(Wizard):
    __name__ = 'autolead.lead.import'
    start = StateView('autolead.lead.import.start',
        'autolead.lead_import_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Preview", 'preview', 'tryton-forward', default=True),
            ])
    preview = StateView('autolead.lead.import.preview',
        'autolead.lead_import_preview_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Back", 'start', 'tryton-back'),
            Button("Import", 'import_', 'tryton-launch', default=True),
            ])
    import_ = StateTransition()
    open_ = StateAction('autolead.act_lead_import_job_form')

    def value_start(self, fields):
        if getattr(self.start, 'file_data', None) is None:
            return {}
        # coming back from the preview: the file and choices stay
        return {name: getattr(self.start, name, None) for name in [
                'file_data', 'file_name', 'sheet', 'duplicates',
                'all_or_nothing', 'notify']}

    def default_preview(self, fields):
        Lead = Pool().get('autolead.lead')
        info = {}
        try:
            header, rows = read_table(self.start.file_data,
                self.start.file_name or '', self.start.sheet or None, info)
            lead_file = LeadFile(header, Lead.import_targets(), _messages())
            if lead_file.missing:
                raise UserError(gettext(
                        'autolead.msg_import_missing_columns',
                        columns=', '.join(lead_file.missing)))
            total = sum(1 for _ in lead_file.parse(rows))
        except FileError as exception:
            raise UserError(_file_error(exception)) from None
        total += len(lead_file.rejections)
        if 'sheet' in info:
            if len(info['sheets']) > 1:
                read_as = gettext('autolead.msg_import_read_sheet_of',
                    sheet=info['sheet'], sheets=', '.join(
                        f'"{s}"' for s in info['sheets']))
            else:
                read_as = gettext(
                    'autolead.msg_import_read_sheet', sheet=info['sheet'])
        else:
            read_as = gettext('autolead.msg_import_read_encoding',
                encoding=info.get('encoding', 'utf-8'))
        return {
            'read_as': read_as,
            'resume_instead': self._resume_instead(total),
            'mapping': '\n'.join(lead_file.describe()),
            'total': total,
            'rejected': len(lead_file.errors),
            'rejections': '\n'.join(
                f'{r.line}: {r.reason}' for r in lead_file.rejections[:20]),
            }

    def _resume_instead(self, total):
        """The warning that the file is that of an interrupted import:
        importing it again would flag every row already imported"""
        Job = Pool().get('autolead.lead.import.job')
        data = self.start.file_data
        for job in Job.search([
                    ('state', 'in', ['interrupted', 'running']),
                    ('file_name', '=', self.start.file_name),
                    ('total', '=', total),
                    ]):
            if job.file_data == data:
                return gettext('autolead.msg_import_resume_instead',
                    job=job.id, processed=job.processed or 0, total=total)

    def transition_import_(self):
        pool = Pool()
        Job = pool.get('autolead.lead.import.job')
        job = Job(
            file_name=self.start.file_name,
            file_data=self.start.file_data,
            sheet=self.start.sheet or None,
            duplicates=self.start.duplicates,
            all_or_nothing=self.start.all_or_nothing,
            notify=self.start.notify,
            total=self.preview.total)
        job.save()
        Job.run([job])
        return 'open_'

    def do_open_(self, action):
        Job = Pool().get('autolead.lead.import.job')
        job, = Job.search([
                ('create_uid', '=', Transaction().user),
                ], order=[('id', 'DESC')], limit=1)
        action['res_id'] = [job.id]
        action['views'].reverse()
        return action, {}
