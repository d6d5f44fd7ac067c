"""Summary tables of the leads and activities that the reports read instead
of aggregating a million leads twice per open (search, then read).

Each rollup sums measures per key. It is kept up to date by the models it
summarises: their create, write and delete sum the records as they were and
as they are per key and apply the difference, in a few statements per call
whatever the number of records. Writers of raw SQL on those tables call
`rebuild()`.
"""
from collections import defaultdict
from decimal import Decimal

from sql import As, Literal, Null, Union
from sql.aggregate import Max, Sum
from sql.operators import Or
from sql.conditionals import Case, Coalesce
from sql.functions import Substring

from trytond import backend
from trytond.model import Index, ModelSQL, fields
from trytond.pool import Pool, PoolMeta
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from .lead import SOURCES, STAGE_KINDS

ACTIVITIES = [
    ('calls', "Calls"),
    ('emails', "Emails"),
    ('meetings', "Meetings"),
    ('deals', "Deals"),
    ]


# up to this many records, Rollup.deltas reads their rows instead of
# summing them in one query per rollup
FEW = 100


def day(field, column):
    "The day of the datetime column, as the reports truncate it"
    if backend.name == 'sqlite':
        # the reports cut the ISO text on SQLite: the same cut here
        return field.sql_cast(Substring(column, 1, 10))
    return field.sql_cast(column)


class Rollup(ModelSQL):
    "Measures summed per key from the records of other models"
    # the key fields and the summed fields, in the order of the columns
    _keys = []
    _measures = []

    @classmethod
    def __register__(cls, module):
        exists = backend.TableHandler.table_exist(cls._table)
        super().__register__(module)
        if not exists:
            cls.rebuild()

    @classmethod
    def _sources(cls):
        """Return {model name: (fields, function(table) -> select)}.
        The select has the record id as 'id' and a column per key and
        measure; fields are those of the model that change these."""
        return {}

    @classmethod
    def _source_rows(cls, name, where=None):
        Model = Pool().get(name)
        table = Model.__table__()
        query = cls._sources()[name][1](table)
        if where is not None:
            query.where = (query.where & where(table)
                if query.where is not None else where(table))
        return query

    @classmethod
    def _summed(cls, query):
        return query.select(
            *(getattr(query, k) for k in cls._keys),
            *(Sum(getattr(query, m)) for m in cls._measures),
            group_by=[getattr(query, k) for k in cls._keys])

    @classmethod
    def rebuild(cls):
        "Recompute the rollup from scratch, after raw SQL on its sources"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.delete())
        sources = [cls._source_rows(n) for n in cls._sources()]
        union = sources[0] if len(sources) == 1 else Union(
            *sources, all_=True)
        cursor.execute(*table.insert(
                [getattr(table, n) for n in cls._keys + cls._measures],
                cls._summed(union)))

    @classmethod
    def _delta(cls, name, ids):
        "The sums of the records ids of the model name, by key"
        cursor = Transaction().connection.cursor()
        sums = defaultdict(lambda: [0] * len(cls._measures))
        ids = sorted(set(ids))
        if ids and ids[-1] - ids[0] + 1 == len(ids):
            # the ids of a create or of a batch of the bulk import follow
            # one another: one range instead of lists of ids
            slices = [(ids[0], ids[-1])]

            def where(t, bounds):
                return (t.id >= bounds[0]) & (t.id <= bounds[1])
        else:
            slices = [list(s) for s in grouped_slice(
                    ids, backend.MAX_QUERY_PARAMS)]

            def where(t, sub_ids):
                return t.id.in_(sub_ids)
        for sub_ids in slices:
            query = cls._source_rows(
                name, where=lambda t: where(t, sub_ids))
            cursor.execute(*cls._summed(query))
            for row in cursor:
                key = tuple(row[:len(cls._keys)])
                measures = sums[key]
                for i, value in enumerate(row[len(cls._keys):]):
                    measures[i] += value or 0
        return sums

    @staticmethod
    def deltas(rollups, name, ids):
        """_delta of each of the rollups, in one query for a few records:
        the columns every rollup sums are read side by side from the rows
        of the records and summed here. A desk write of one lead touches
        six rollups: two statements instead of twelve."""
        ids = sorted(set(ids))
        if len(rollups) < 2 or len(ids) > FEW:
            return {R: R._delta(name, ids) for R in rollups}
        table = Pool().get(name).__table__()
        columns, layout = [], []
        for R in rollups:
            query = R._sources()[name][1](table)
            wanted = {c.output_name: c.expression for c in query.columns
                if isinstance(c, As)}
            start = len(columns)
            columns.extend(
                wanted[n] for n in R._keys + R._measures)
            counted = None
            if query.where is not None:
                counted = len(columns)
                columns.append(
                    Case((query.where, Literal(1)), else_=Literal(0)))
            layout.append((R, start, counted))
        sums = {R: defaultdict(lambda R=R: [0] * len(R._measures))
            for R in rollups}
        if not ids:
            return sums
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(*columns, where=table.id.in_(ids)))
        for row in cursor:
            for R, start, counted in layout:
                if counted is not None and not row[counted]:
                    continue
                end = start + len(R._keys)
                measures = sums[R][tuple(row[start:end])]
                for i, value in enumerate(
                        row[end:end + len(R._measures)]):
                    if isinstance(value, bytes):
                        # SQLite hands a numeric out of an expression as
                        # the text it stores, where SUM would convert it
                        value = Decimal(value.decode())
                    measures[i] += value or 0
        return sums

    @classmethod
    def apply(cls, after, before=None):
        """Add to the rollup the sums after minus the sums before, as
        _delta returns them: one row of differences per key that changed.
        Writers only insert, so concurrent transactions never wait on nor
        conflict over a row; the reports sum the rows of a key and compact()
        merges them."""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        before = before or {}
        zero = [0] * len(cls._measures)
        rows = []
        for key in after.keys() | before.keys():
            values = [a - b for a, b in zip(
                    after.get(key, zero), before.get(key, zero))]
            if any(values):
                rows.append(list(key) + values)
        columns = [getattr(table, n) for n in cls._keys + cls._measures]
        size = max(1, backend.MAX_QUERY_PARAMS // len(columns))
        for sub_rows in grouped_slice(rows, size):
            cursor.execute(*table.insert(columns, list(sub_rows)))

    @classmethod
    def compact(cls):
        """Merge the rows of each key into one and drop the keys summing to
        nothing. The rows other transactions insert meanwhile are neither
        seen nor deleted: they get ids above the last one seen."""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(Max(table.id)))
        last, = cursor.fetchone()
        if last is None:
            return
        seen = table.select(
            *(getattr(table, n) for n in cls._keys + cls._measures),
            where=table.id <= last)
        summed = cls._summed(seen)
        summed.having = Or([
                Sum(getattr(seen, m)) != 0 for m in cls._measures])
        cursor.execute(*table.insert(
                [getattr(table, n) for n in cls._keys + cls._measures],
                summed))
        cursor.execute(*table.delete(where=table.id <= last))

    @classmethod
    def compact_all(cls):
        "Compact every rollup: run nightly by the cron"
        for Model in cls._all():
            Model.compact()

    @classmethod
    def add(cls, name, ids):
        "Add the records ids of the model name as they are in the database"
        cls.apply(cls._delta(name, ids))

    @classmethod
    def subtract(cls, name, ids):
        "Subtract the records ids of the model name as they are"
        cls.apply({}, cls._delta(name, ids))

    @classmethod
    def rollups(cls, name):
        "The rollups summing the model name"
        return [Model for _, Model in Pool().iterobject()
            if isinstance(Model, type) and issubclass(Model, Rollup)
            and Model is not Rollup and name in Model._sources()]

    @classmethod
    def _all(cls):
        return [Model for _, Model in Pool().iterobject()
            if isinstance(Model, type) and issubclass(Model, Rollup)
            and Model._sources()]

    @classmethod
    def rebuild_all(cls):
        "Recompute every rollup, e.g. after a bulk insert in raw SQL"
        for Model in cls._all():
            Model.rebuild()


class LeadRollup(Rollup):
    """Leads and their value per key: the day of creation (if date is a
    key) and columns of the lead of the same name"""
    leads = fields.Integer("Leads", readonly=True)
    value = fields.Numeric("Value", digits=(16, 2), readonly=True)
    _measures = ['leads', 'value']

    @classmethod
    def _lead_where(cls, lead):
        "The condition on the leads the rollup counts, None for all"
        return None

    @classmethod
    def _sources(cls):
        columns = [k for k in cls._keys if k != 'date']

        def rows(lead):
            dated = ([day(cls.date, lead.create_date).as_('date')]
                if 'date' in cls._keys else [])
            return lead.select(
                lead.id.as_('id'),
                *dated,
                *(getattr(lead, k).as_(k) for k in columns),
                Literal(1).as_('leads'),
                Coalesce(lead.expected_value, 0).as_('value'),
                where=cls._lead_where(lead))
        # the stage sets the stage kind
        written = set(columns) | {'stage', 'expected_value'}
        return {'autolead.lead': (written, rows)}


class LeadOwnerDay(LeadRollup):
    "Leads and their value per day of creation, owner and status"
    __name__ = 'autolead.rollup.lead.owner_day'
    __string__ = "Lead Totals per Day and Owner"

    date = fields.Date("Date", readonly=True)
    owner = fields.Many2One('res.user', "Owner", readonly=True)
    stage_kind = fields.Selection(STAGE_KINDS, "Status", readonly=True)
    _keys = ['date', 'owner', 'stage_kind']

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.date, Index.Range()), (t.owner, Index.Range())),
                Index(t, (t.owner, Index.Range()), (t.date, Index.Range())),
                })


class LeadSourceDay(LeadRollup):
    "Leads and their value per day of creation, source and status"
    __name__ = 'autolead.rollup.lead.source_day'
    __string__ = "Lead Totals per Day and Source"

    date = fields.Date("Date", readonly=True)
    source = fields.Selection(SOURCES, "Source", readonly=True)
    stage_kind = fields.Selection(STAGE_KINDS, "Status", readonly=True)
    _keys = ['date', 'source', 'stage_kind']

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.date, Index.Range())))


class LeadOwnerSourceDay(LeadRollup):
    """Leads and their value per day of creation, owner, source and status:
    a representative's own leads by source"""
    __name__ = 'autolead.rollup.lead.owner_source_day'
    __string__ = "Lead Totals per Day, Owner and Source"

    date = fields.Date("Date", readonly=True)
    owner = fields.Many2One('res.user', "Owner", readonly=True)
    source = fields.Selection(SOURCES, "Source", readonly=True)
    stage_kind = fields.Selection(STAGE_KINDS, "Status", readonly=True)
    _keys = ['date', 'owner', 'source', 'stage_kind']

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(
            Index(t, (t.owner, Index.Range()), (t.date, Index.Range())))


class LeadCampaignDay(LeadRollup):
    "Leads of campaigns and their value per day of creation and status"
    __name__ = 'autolead.rollup.lead.campaign_day'
    __string__ = "Lead Totals per Day and Campaign"

    date = fields.Date("Date", readonly=True)
    campaign = fields.Many2One(
        'autolead.campaign', "Campaign", readonly=True)
    stage_kind = fields.Selection(STAGE_KINDS, "Status", readonly=True)
    _keys = ['date', 'campaign', 'stage_kind']

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.date, Index.Range())))

    @classmethod
    def _lead_where(cls, lead):
        return lead.campaign != Null


class LeadOwnerStage(LeadRollup):
    "Leads and their value per owner and stage: the pipeline"
    __name__ = 'autolead.rollup.lead.owner_stage'
    __string__ = "Lead Totals per Owner and Stage"

    owner = fields.Many2One('res.user', "Owner", readonly=True)
    stage = fields.Many2One('autolead.lead.stage', "Stage", readonly=True)
    _keys = ['owner', 'stage']


class ActivityDay(Rollup):
    "What each user did per day: calls, emails, meetings and deals won"
    __name__ = 'autolead.rollup.activity_day'
    __string__ = "Activity Totals per Day and User"

    date = fields.Date("Date", readonly=True)
    user = fields.Many2One('res.user', "User", readonly=True)
    kind = fields.Selection(ACTIVITIES, "Kind", readonly=True)
    count = fields.Integer("Count", readonly=True)
    revenue = fields.Numeric("Revenue", digits=(16, 2), readonly=True)
    _keys = ['date', 'user', 'kind']
    _measures = ['count', 'revenue']

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.date, Index.Range()), (t.user, Index.Range())),
                Index(t, (t.user, Index.Range()), (t.kind, Index.Equality()),
                    (t.date, Index.Range())),
                })

    @classmethod
    def _sources(cls):
        def activity(table, user, moment, kind, where,
                revenue=Literal(0)):
            return table.select(
                table.id.as_('id'),
                day(cls.date, moment).as_('date'),
                user.as_('user'),
                Literal(kind).as_('kind'),
                Literal(1).as_('count'),
                revenue.as_('revenue'),
                where=where)

        def calls(call):
            return activity(call, call.caller, call.done_at, 'calls',
                call.state == 'done')

        def emails(interaction):
            return activity(interaction, interaction.user, interaction.date,
                'emails', (interaction.type == 'email')
                & (interaction.direction == 'outbound'))

        def meetings(appointment):
            return activity(appointment, appointment.organizer,
                appointment.start, 'meetings',
                appointment.state != 'cancelled')

        def deals(lead):
            return activity(lead, lead.owner, lead.closed_at, 'deals',
                lead.stage_kind == 'won',
                revenue=Coalesce(lead.expected_value, 0))
        return {
            'autolead.call': ({'caller', 'done_at', 'state'}, calls),
            'autolead.lead.interaction': (
                {'user', 'date', 'type', 'direction'}, emails),
            'autolead.appointment': (
                {'organizer', 'start', 'state'}, meetings),
            'autolead.lead': (
                {'owner', 'stage', 'stage_kind', 'closed_at',
                    'expected_value'}, deals),
            }


class RollupSourceMixin:
    "Keep the rollups summing this model up to date"
    __slots__ = ()

    @classmethod
    def _rollups(cls, names=None):
        rollups = Rollup.rollups(cls.__name__)
        if names is not None:
            rollups = [R for R in rollups
                if set(names) & R._sources()[cls.__name__][0]]
        return rollups

    @classmethod
    def on_modification(cls, mode, records, field_names=None):
        # called right after the insert, before any write that follows it
        # in the same create (assignment rules), and by Lead.bulk_create
        super().on_modification(mode, records, field_names=field_names)
        if mode == 'create':
            rollups = cls._rollups()
            deltas = Rollup.deltas(
                rollups, cls.__name__, [r.id for r in records])
            for R in rollups:
                R.apply(deltas[R])

    @classmethod
    def write(cls, *args):
        actions = iter(args)
        changed = defaultdict(set)
        for records, values in zip(actions, actions):
            for R in cls._rollups(values):
                changed[R].update(r.id for r in records)
        # the rollups of the same records are read together
        by_ids = defaultdict(list)
        for R, ids in changed.items():
            by_ids[tuple(sorted(ids))].append(R)
        before = {}
        for ids, rollups in by_ids.items():
            before.update(Rollup.deltas(rollups, cls.__name__, ids))
        super().write(*args)
        # only the keys whose sums changed are written
        for ids, rollups in by_ids.items():
            after = Rollup.deltas(rollups, cls.__name__, ids)
            for R in rollups:
                R.apply(after[R], before[R])

    @classmethod
    def delete(cls, records):
        rollups = cls._rollups()
        deltas = Rollup.deltas(rollups, cls.__name__, [r.id for r in records])
        for R in rollups:
            R.apply({}, deltas[R])
        super().delete(records)


class Lead(RollupSourceMixin, metaclass=PoolMeta):
    __name__ = 'autolead.lead'


class Stage(metaclass=PoolMeta):
    __name__ = 'autolead.lead.stage'

    @classmethod
    def write(cls, *args):
        super().write(*args)
        actions = iter(args)
        if any('kind' in values for _, values in zip(actions, actions)):
            # the kind is copied onto the leads by one raw UPDATE
            for R in Rollup.rollups('autolead.lead'):
                R.rebuild()


class Call(RollupSourceMixin, metaclass=PoolMeta):
    __name__ = 'autolead.call'


class Interaction(RollupSourceMixin, metaclass=PoolMeta):
    __name__ = 'autolead.lead.interaction'


class Appointment(RollupSourceMixin, metaclass=PoolMeta):
    __name__ = 'autolead.appointment'


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('autolead.rollup.lead.owner_day|compact_all',
                "Compact the Report Rollups"))
