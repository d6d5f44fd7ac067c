import datetime as dt

from sql import Column, Literal, Null
from sql.operators import Any, Equal

from trytond import backend
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSingleton, ModelSQL, ModelView, fields)
from trytond.exceptions import UserError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import (
    Transaction, check_access, without_check_access)
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .importing import contact_keys

LEAD_KINDS = [
    ('new', "New"),
    ('re-engaged', "Re-engaged"),
    ('duplicate', "Duplicate"),
    ('junk', "Junk"),
    ]
CLOSED = {'won', 'lost'}
# one parameter each, far below the limits of SQLite and PostgreSQL
KEYS_PER_QUERY = 1000
QUERY_SIZES = [1, 10, 100, 250, 500, KEYS_PER_QUERY]
_ORIGINAL_QUERIES = {}


class Original:
    "What the kind of a new lead depends on in the lead it repeats"
    __slots__ = ('id', 'create_date', 'closed')

    def __init__(self, id, create_date, closed):
        self.id = id
        self.create_date = create_date
        self.closed = closed


class Configuration(ModelSingleton, ModelSQL, ModelView):
    __name__ = 'autolead.intake.configuration'
    __string__ = "Lead Intake Settings"

    reengage_days = fields.Integer(
        "Re-engage After (days)", required=True,
        domain=[('reengage_days', '>=', 0)],
        help="A contact coming back later than this after its first lead "
        "is re-engaged rather than a duplicate.")
    capture_origins = fields.Text(
        "Capture Origins",
        help="Web sites allowed to post the capture form from a browser, "
        "one origin per line (e.g. https://www.example.com).\n"
        "Adds to [autolead] capture_cors of the server configuration.")
    capture_rate_limit = fields.Integer(
        "Capture Rate Limit", required=True,
        domain=[('capture_rate_limit', '>', 0)],
        help="How many leads one address may submit per minute.")

    @classmethod
    def default_reengage_days(cls):
        return 90

    @classmethod
    def default_capture_rate_limit(cls):
        return 10


class Lead(DeactivableMixin, metaclass=PoolMeta):
    __name__ = 'autolead.lead'

    duplicate_of = fields.Many2One(
        'autolead.lead', "Duplicate Of", readonly=True, ondelete='SET NULL',
        loading='lazy', help="The first lead of the same contact.")
    lead_kind = fields.Selection(
        LEAD_KINDS, "Kind", required=True, sort=False,
        help="Set on creation from the contact data: new, re-engaged (came "
        "back after the first lead closed or aged), duplicate (first lead "
        "still open) or junk (no usable contact).")
    duplicate_notice = fields.Function(fields.Char(
            "Duplicate Notice",
            help="Tells that the contact already has a lead the user may "
            "not see."), 'get_duplicate_notice')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(
            Index(t, (t.duplicate_of, Index.Range()),
                where=t.duplicate_of != Null))

    @classmethod
    def default_lead_kind(cls):
        return 'new'

    @classmethod
    def get_duplicate_notice(cls, leads, name):
        if not Transaction().user:
            return {l.id: None for l in leads}
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        originals = {}
        for sub_leads in grouped_slice(leads, KEYS_PER_QUERY):
            cursor.execute(*table.select(table.id, table.duplicate_of,
                    where=table.id.in_([l.id for l in sub_leads])))
            originals.update(cursor)
        # getters run without access checks: the user's rules decide here
        with check_access():
            hidden = cls.hidden_originals(originals.values())
        notice = gettext('autolead.msg_lead_duplicate_elsewhere')
        return {l.id: notice if originals.get(l.id) in hidden else None
            for l in leads}

    @classmethod
    def hidden_originals(cls, ids):
        """The ids among ids of the leads the user may not read: that they
        exist is all a representative learns, not which they are"""
        ids = {i for i in ids if i is not None}
        if not ids or not Transaction().check_access:
            return set()
        with Transaction().set_context(active_test=False):
            readable = {l.id for l in cls.search([('id', 'in', list(ids))])}
        return ids - readable

    @classmethod
    def read(cls, ids, fields_names):
        names = {f.split('.', 1)[0].split(':', 1)[0] for f in fields_names}
        if 'duplicate_of' not in names or not Transaction().check_access:
            return super().read(ids, fields_names)
        with without_check_access():
            originals = {r['id']: r['duplicate_of']
                for r in super().read(ids, ['duplicate_of'])}
        hidden = cls.hidden_originals(originals.values())
        if not hidden:
            return super().read(ids, fields_names)
        related = [f for f in fields_names if f.startswith('duplicate_of.')]
        rows = super().read(
            ids, [f for f in fields_names if f not in related])
        shown = [i for i in ids if originals.get(i) not in hidden]
        targets = {}
        if related and shown:
            targets = {r['id']: r['duplicate_of.']
                for r in super().read(shown, related)}
        for row in rows:
            if originals.get(row['id']) in hidden:
                if 'duplicate_of' in row:
                    row['duplicate_of'] = None
                if related:
                    row['duplicate_of.'] = None
            elif related:
                row['duplicate_of.'] = targets.get(row['id'])
        return rows

    @classmethod
    def _before_create(cls, vlist):
        vlist = super()._before_create(vlist)
        cls.flag_duplicates(
            [v for v in vlist if 'duplicate_of' not in v])
        return vlist

    @classmethod
    def flag_duplicates(cls, vlist):
        "Set duplicate_of and lead_kind on values about to be created"
        originals = cls.find_originals(vlist)
        aged = cls._aged()
        for values, original in zip(vlist, originals):
            values['duplicate_of'] = original.id if original else None
            if values.get('lead_kind') != 'junk':
                values['lead_kind'] = cls.kind_for(values, original, aged)

    @classmethod
    def kind_for(cls, values, original, aged=None):
        if not values.get('email_key') and not values.get('phone_key'):
            return 'junk'
        if not original:
            return 'new'
        if aged is None:
            aged = cls._aged()
        if original.closed or original.create_date < aged:
            return 're-engaged'
        return 'duplicate'

    @classmethod
    def _aged(cls):
        Configuration = Pool().get('autolead.intake.configuration')
        with without_check_access():
            days = Configuration(1).reengage_days
        return dt.datetime.now() - dt.timedelta(days=days or 0)

    @classmethod
    def _closed_field(cls):
        "The field telling whether a lead is closed: stage kind or status"
        stage = cls._fields.get('stage')
        if (stage is not None and stage._type == 'many2one'
                and 'kind' in stage.get_target()._fields):
            return 'stage.kind'
        if 'status' in cls._fields:
            return 'status'

    @classmethod
    def _originals(cls, ids):
        "Return {id: Original} read at once for the kind of the new leads"
        field = cls._closed_field()
        names = ['create_date'] + ([field] if field else [])
        originals = {}
        with without_check_access():
            for row in cls.read(list(ids), names):
                if field == 'stage.kind':
                    state = (row.get('stage.') or {}).get('kind')
                else:
                    state = row.get(field)
                originals[row['id']] = Original(
                    row['id'], row['create_date'], state in CLOSED)
        return originals

    @classmethod
    def find_originals(cls, vlist):
        """Return for each values the first active lead sharing its email,
        phone or company and name, in a few set-based queries whatever the
        number of values; record rules do not hide an original."""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        wanted = {'email_key': set(), 'phone_key': set(),
            'company_key': set()}
        for values in vlist:
            for column in wanted:
                if values.get(column):
                    wanted[column].add(values[column])
        found = {}
        database = Transaction().database
        queries = _ORIGINAL_QUERIES.setdefault(
            (backend.name, cls._table), {})
        for column, keys in wanted.items():
            column_sql = Column(table, column)
            where = ((table.duplicate_of == Null)
                & (table.active == Literal(True)))
            if database.has_array():
                # one array parameter whatever the number of keys: one
                # query per column and batch, its text short and the same
                if keys:
                    cursor.execute(*table.select(
                            table.id, column_sql, table.name,
                            where=(column_sql == Any(sorted(keys)))
                            & where,
                            order_by=table.id.desc))
                    cls._collect_originals(found, column, cursor)
                continue
            for sub_keys in grouped_slice(sorted(keys), KEYS_PER_QUERY):
                sub_keys = list(sub_keys)
                # the text of a query of 1000 parameters takes longer to
                # build than to run: build it once per column and for a
                # few lengths, repeating the last key up to the length
                size = next(s for s in QUERY_SIZES if s >= len(sub_keys))
                sub_keys += sub_keys[-1:] * (size - len(sub_keys))
                if (column, size) not in queries:
                    queries[column, size] = tuple(table.select(
                            table.id, column_sql, table.name,
                            where=column_sql.in_(sub_keys) & where,
                            order_by=table.id.desc))[0]
                cursor.execute(queries[column, size], sub_keys + [True])
                cls._collect_originals(found, column, cursor)
        ids = [min((found[k] for k in contact_keys(v) if k in found),
                default=None) for v in vlist]
        originals = cls._originals({i for i in ids if i})
        return [originals.get(i) for i in ids]

    @staticmethod
    def _collect_originals(found, column, rows):
        "Fill found with the contact keys of rows, the lowest id last"
        for id_, key, name in rows:
            if column == 'email_key':
                found[('email', key)] = id_
            elif column == 'phone_key':
                found[('phone', key)] = id_
            else:
                found[('company', key, (name or '').lower())] = id_

    @classmethod
    def merge(cls, duplicate, original):
        """Merge duplicate into original: fill what original lacks, point
        every record at original, then deactivate duplicate"""
        if duplicate == original:
            raise UserError(gettext('autolead.msg_lead_merge_same'))
        values = {}
        for name, field in cls._fields.items():
            if (name in cls._merge_skip
                    or field.readonly
                    or isinstance(field, fields.Function)
                    or field._type in {'one2many', 'many2many'}):
                continue
            mine, theirs = getattr(original, name), getattr(duplicate, name)
            if mine in {None, ''} and theirs not in {None, ''}:
                values[name] = theirs.id if isinstance(
                    theirs, ModelSQL) else theirs
        if values:
            cls.write([original], values)
        cls.move_references(duplicate, original)
        cls.write([duplicate], {
                'active': False,
                'duplicate_of': original.id,
                'lead_kind': 'duplicate',
                })

    _merge_skip = {
        'id', 'active', 'duplicate_of', 'lead_kind', 'email_key',
        'phone_key', 'company_key', 'create_uid', 'create_date',
        'write_uid', 'write_date', 'rec_name'}

    @classmethod
    def move_references(cls, source, destination):
        """Point every Many2One and Reference to source at destination,
        found from the pool like party.replace lists fields_to_replace"""
        cursor = Transaction().connection.cursor()
        for Model, field_name, field in cls._lead_references():
            table = Model.__table__()
            column = Column(table, field_name)
            if field._type == 'reference':
                old, new = str(source), str(destination)
            else:
                old, new = source.id, destination.id
            where = Equal(column, old)
            if Model.__name__ == cls.__name__:
                where &= table.id != destination.id
            cursor.execute(*table.select(table.id, where=where))
            ids = [i for i, in cursor]
            if not ids:
                continue
            for sub_ids in grouped_slice(ids, backend.MAX_QUERY_PARAMS):
                cursor.execute(*table.update(
                        [column], [new], where=table.id.in_(list(sub_ids))))
            Model._insert_history(ids)
            Model.on_modification('write', Model.browse(ids), {field_name})

    @classmethod
    def _lead_references(cls):
        pool = Pool()
        for _, Model in pool.iterobject():
            if not issubclass(Model, ModelSQL) or Model._is_table_query():
                continue
            for field_name, field in Model._fields.items():
                if isinstance(field, fields.Function):
                    continue
                if field._type == 'many2one':
                    if field.model_name == cls.__name__:
                        yield Model, field_name, field
                elif field._type == 'reference':
                    selection = field.selection
                    if (not isinstance(selection, (list, tuple))
                            or cls.__name__ in dict(selection)):
                        yield Model, field_name, field


class Merge(Wizard):
    __name__ = 'autolead.lead.merge'
    start_state = 'ask'
    ask = StateView('autolead.lead.merge.ask',
        'autolead.lead_merge_ask_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Merge", 'merge', 'tryton-launch', default=True),
            ])
    merge = StateTransition()

    def default_ask(self, fields):
        lead = self.record
        if not lead:
            return {}
        return {
            'duplicate': lead.id,
            'original': lead.duplicate_of.id if lead.duplicate_of else None,
            }

    def transition_merge(self):
        Lead = Pool().get('autolead.lead')
        Lead.merge(self.ask.duplicate, self.ask.original)
        return 'end'


class MergeAsk(ModelView):
    __name__ = 'autolead.lead.merge.ask'
    __string__ = "Merge Duplicate"

    duplicate = fields.Many2One(
        'autolead.lead', "Duplicate", required=True,
        help="The lead that disappears into the original.")
    original = fields.Many2One(
        'autolead.lead', "Original", required=True,
        domain=[('id', '!=', Eval('duplicate', -1))],
        help="The lead that is kept.")
