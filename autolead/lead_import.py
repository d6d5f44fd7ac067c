import datetime as dt
import gc

from sql.aggregate import Max

from trytond import backend
from trytond.config import config
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Workflow, fields
from trytond.model.exceptions import AccessError
from trytond.exceptions import UserError
from trytond.pool import Pool, PoolMeta
from trytond.tools import grouped_slice
from trytond.transaction import (
    Transaction, check_access, without_check_access)
from trytond.wizard import (
    Button, StateAction, StateTransition, StateView, Wizard)

from .importing import LeadFile, ParseWorker, Target, is_xlsx, read_table

DUPLICATES = [
    ('flag', "Flag"),
    ('skip', "Skip"),
    ('update', "Update"),
    ]
# rows per batch: big enough that the set-based dedup and the multi-row
# insert dominate, small enough to show progress
CHUNK = config.getint('autolead', 'import_chunk', default=5000)
# CSV files longer than this many bytes (about 5,000 rows) are read and
# checked in a second process while this one stores the rows; -1: never
PARALLEL_ABOVE = config.getint(
    'autolead', 'import_parallel_above', default=256 * 1024)
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
            # ids after the current maximum are ours for this statement
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
    state = fields.Selection([
            ('waiting', "Waiting"),
            ('running', "Running"),
            ('done', "Done"),
            ('failed', "Failed"),
            ], "State", readonly=True, required=True, sort=False)
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
            }

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
    def process(cls, jobs, commit=None):
        """Import the files; a queued task commits after each batch so the
        progress shows, unless the job is all or nothing"""
        if commit is None:
            commit = bool(
                Transaction().context.get('autolead_import_commit'))
        for job in jobs:
            # a file of leads is not a lead per message: the rules hear of
            # the imported leads only when asked
            with Transaction().set_context(autolead_notify=job.notify):
                job.import_file(commit=commit)

    def import_file(self, commit=False):
        pool = Pool()
        Lead = pool.get('autolead.lead')
        transaction = Transaction()
        owner = self.owner
        self.__class__.write([self], {'state': 'running', 'processed': 0})
        data, file_name = self.file_data, self.file_name or ''
        if (not self.all_or_nothing and 0 <= PARALLEL_ABOVE < len(data)
                and not is_xlsx(data, file_name)):
            self._import_parallel(Lead, data, file_name, commit)
            return
        header, rows = read_table(self.file_data, self.file_name or '')
        lead_file = LeadFile(header, Lead.import_targets(), _messages())
        rows = list(rows)
        counts = dict.fromkeys(
            ['created', 'updated', 'flagged', 'skipped'], 0)
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
        with transaction.set_user(owner.id), check_access():
            for start in range(0, len(rows), CHUNK):
                chunk = rows[start:start + CHUNK]
                self._import_chunk(
                    Lead, lead_file, chunk, counts, deferred, cells)
                if commit and not self.all_or_nothing:
                    self.__class__.write([self], {
                            'processed': start + len(chunk),
                            **counts})
                    transaction.commit()
            if deferred:
                # rows repeating a contact of the file, created once the
                # first row of the contact exists to be pointed at
                self._import_rows(Lead, lead_file, deferred, counts, cells)
        self._finish('done', lead_file, counts, len(rows))

    def _import_parallel(self, Lead, data, file_name, commit):
        """import_file with the file read and checked by a ParseWorker:
        the same rows reach _import_rows in the same chunks, with the same
        rejections"""
        transaction = Transaction()
        owner = self.owner
        header, _ = read_table(data, file_name)
        targets, messages = Lead.import_targets(), _messages()
        lead_file = LeadFile(header, targets, messages)
        counts = dict.fromkeys(
            ['created', 'updated', 'flagged', 'skipped'], 0)
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
                    CHUNK, total_first=commit)
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
            cells = _LazyCells(data, file_name)
            duplicate_message = lead_file.messages['duplicate_in_file']
            processed = 0
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
                    if commit:
                        self.__class__.write([self], {
                                'processed': processed,
                                **counts})
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
            'processed': total,
            'total': total,
            'rejected': len(lead_file.errors),
            'message': message,
            **counts,
            }
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

    file_data = fields.Binary(
        "File", filename='file_name', required=True,
        help="A CSV or Excel (.xlsx) file with one lead per row and the "
        "column titles on the first row.")
    file_name = fields.Char("File Name")
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
            Button("Import", 'import_', 'tryton-launch', default=True),
            ])
    import_ = StateTransition()
    open_ = StateAction('autolead.act_lead_import_job_form')

    def default_preview(self, fields):
        Lead = Pool().get('autolead.lead')
        header, rows = read_table(self.start.file_data,
            self.start.file_name or '')
        lead_file = LeadFile(header, Lead.import_targets(), _messages())
        if lead_file.missing:
            raise UserError(gettext(
                    'autolead.msg_import_missing_columns',
                    columns=', '.join(lead_file.missing)))
        total = sum(1 for _ in lead_file.parse(rows))
        total += len(lead_file.rejections)
        return {
            'mapping': '\n'.join(lead_file.describe()),
            'total': total,
            'rejected': len(lead_file.errors),
            'rejections': '\n'.join(
                f'{r.line}: {r.reason}' for r in lead_file.rejections[:20]),
            }

    def transition_import_(self):
        pool = Pool()
        Job = pool.get('autolead.lead.import.job')
        job = Job(
            file_name=self.start.file_name,
            file_data=self.start.file_data,
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
