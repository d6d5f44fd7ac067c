import datetime
from decimal import Decimal

from sql import Cast, Literal, Null, Union
from sql.aggregate import Count, Max, Min, Sum
from sql.conditionals import Case, Coalesce, NullIf
from sql.functions import DateTrunc, Substring
from sql.operators import Concat

from trytond import backend
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval, If
from trytond.report import Report
from trytond.transaction import Transaction, check_access
from trytond.wizard import (
    Button, StateReport, StateTransition, StateView, Wizard)

from . import appointment, exporting, ticket
from .lead import SOURCES, STAGE_KINDS

# A report's rows share their ids between periods (and with rollup=False),
# so the records read in a transaction are cached per period
Transaction.cache_keys.update({'from_date', 'to_date', 'period', 'rollup'})

PERIODS = [
    ('hour', "Hour"),
    ('day', "Day"),
    ('month', "Month"),
    ]
# The reports that can be exported and scheduled, in menu order
REPORTS = [
    ('autolead.reporting.lead.daily', "Leads per Owner and Period"),
    ('autolead.reporting.lead.source', "Leads by Source"),
    ('autolead.reporting.lead.stage', "Pipeline by Stage"),
    ('autolead.reporting.rep', "Conversion by Representative"),
    ('autolead.reporting.performance', "Performance per User"),
    ('autolead.reporting.campaign', "Campaign Efficiency"),
    ('autolead.reporting.appointment', "Appointments by Day and State"),
    ('autolead.reporting.ticket', "Tickets by State"),
    ('autolead.reporting.target', "Targets vs Actual"),
    ]


def _today():
    Date = Pool().get('ir.date')
    return Date.today()


def _bounds(column):
    "The condition keeping the datetime column inside the context period"
    context = Transaction().context
    condition = Literal(True)
    if context.get('from_date'):
        condition &= column >= datetime.datetime.combine(
            context['from_date'], datetime.time.min)
    if context.get('to_date'):
        condition &= column < datetime.datetime.combine(
            context['to_date'] + datetime.timedelta(days=1),
            datetime.time.min)
    return condition


def _date_bounds(column):
    "The condition keeping the date column of a rollup inside the period"
    context = Transaction().context
    condition = Literal(True)
    if context.get('from_date'):
        condition &= column >= context['from_date']
    if context.get('to_date'):
        condition &= column <= context['to_date']
    return condition


def _sees_all():
    "Whether the user sees the figures of every owner"
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    user = Transaction().user
    return user == 0 or bool(set(User.get_groups()) & {
            ModelData.get_id('autolead', 'group_sales_head'),
            ModelData.get_id('autolead', 'group_autolead_admin'),
            })


def _own(column):
    """The condition keeping a sales representative to their own figures.
    It depends on who asks, not on access checking, which wizards and
    reports turn off."""
    if _sees_all():
        return Literal(True)
    return column == Transaction().user


def _period():
    period = Transaction().context.get('period')
    return period if period in dict(PERIODS) else 'day'


def _truncate(field, column):
    """The column truncated to the period of the context, cast for field.
    It is computed in a sub-query and grouped by its name because
    PostgreSQL does not match two expressions with distinct parameters."""
    period = _period()
    if backend.name == 'sqlite':
        # DATE_TRUNC is a Python function on SQLite, called for each row;
        # cutting the ISO text is native and ten times faster
        length, suffix = {
            'hour': (13, ':00:00'),
            'day': (10, ''),
            'month': (7, '-01'),
            }[period]
        value = Substring(column, 1, length)
        if suffix:
            value = Concat(value, suffix)
        return field.sql_cast(value)
    return field.sql_cast(DateTrunc(period, column))


def _truncate_day(field, column):
    """The date column of a rollup, a day, truncated to the period of the
    context (day or month) and cast for field"""
    if _period() == 'day':
        return field.sql_cast(column)
    if backend.name == 'sqlite':
        return field.sql_cast(Concat(Substring(column, 1, 7), '-01'))
    return field.sql_cast(DateTrunc('month', Cast(column, 'TIMESTAMP')))


def _counted(measure):
    """The condition keeping the groups of rollup rows that still count a
    record: the rows of a key are differences until they are compacted"""
    return Sum(measure) != 0


def _use_rollup(by_hour=False):
    """Whether the report reads the rollups (autolead/rollup.py) rather
    than the leads; the context key rollup=False forces the leads, to check
    one against the other"""
    if not Transaction().context.get('rollup', True):
        return False
    return not (by_hour and _period() == 'hour')


def _rate(part, whole):
    return part * Literal(100.0) / NullIf(whole, 0)


class Context(ModelView):
    __name__ = 'autolead.reporting.context'
    __string__ = "Report Period"

    from_date = fields.Date(
        "From Date",
        domain=[
            If(Eval('to_date') & Eval('from_date'),
                ('from_date', '<=', Eval('to_date')),
                ()),
            ])
    to_date = fields.Date(
        "To Date",
        domain=[
            If(Eval('from_date') & Eval('to_date'),
                ('to_date', '>=', Eval('from_date')),
                ()),
            ])
    period = fields.Selection(PERIODS, "Period", required=True, sort=False)

    @classmethod
    def default_from_date(cls):
        if 'from_date' in Transaction().context:
            return Transaction().context['from_date']
        return _today() - datetime.timedelta(days=30)

    @classmethod
    def default_to_date(cls):
        if 'to_date' in Transaction().context:
            return Transaction().context['to_date']
        return _today()

    @classmethod
    def default_period(cls):
        return Transaction().context.get('period', 'day')


def report_title(name):
    ExportStart = Pool().get('autolead.reporting.export.start')
    return dict(ExportStart.fields_get(['report'])['report']['selection'])[
        name]


def report_table(name, context):
    """Return the title, headers and rows of the report name computed with
    the context (from_date, to_date, period), as the current user sees it"""
    pool = Pool()
    Model = pool.get(name)
    # as the user sees it also when run from a wizard, which is not checked
    with Transaction().set_context(context), check_access():
        records = Model.search([])
        definitions = Model.fields_get(Model._export_fields)
        headers = [definitions[f]['string'] for f in Model._export_fields]
        rows = []
        for record in records:
            row = []
            for fname in Model._export_fields:
                value = getattr(record, fname)
                definition = definitions[fname]
                if definition['type'] == 'many2one':
                    value = value.rec_name if value else None
                elif definition['type'] == 'selection':
                    # a selection given by a method name is resolved by
                    # the field, as the client would
                    selection = Model._fields[fname].get_selection(
                        Model, fname, record)
                    value = selection.get(value, value)
                row.append(value)
            rows.append(row)
    return report_title(name), headers, rows


def report_file(name, format_, context, table=None):
    "Return the file name and content of the report exported to format_"
    title, headers, rows = table or report_table(name, context)
    if format_ == 'xlsx':
        content = exporting.to_xlsx(title, headers, rows)
    else:
        content = exporting.to_csv(headers, rows)
    filename = '%s-%s.%s' % (
        name.rsplit('.', 1)[-1].replace('_', '-'),
        context.get('to_date') or _today(), format_)
    return filename, content


class Reporting(ModelSQL, ModelView):
    "Read-only figures computed in SQL by table_query"
    # The fields written to CSV, Excel and PDF exports, in order
    _export_fields = []



class LeadDaily(Reporting):
    "Leads created per owner and period"
    __name__ = 'autolead.reporting.lead.daily'
    __string__ = "Leads per Owner and Period"

    date = fields.Date("Date")
    owner = fields.Many2One('res.user', "Owner")
    leads = fields.Integer("Leads")
    value = fields.Numeric("Expected Value", digits=(16, 2))
    _export_fields = ['date', 'owner', 'leads', 'value']

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('date', 'DESC'), ('owner', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        if _use_rollup(by_hour=True):
            return cls._rollup_query()
        lead = Pool().get('autolead.lead').__table__()
        dated = lead.select(
            lead.id, lead.owner, lead.expected_value,
            _truncate(cls.date, lead.create_date).as_('date'),
            where=_bounds(lead.create_date) & _own(lead.owner))
        return dated.select(
            Min(dated.id).as_('id'),
            dated.date.as_('date'),
            dated.owner.as_('owner'),
            Count().as_('leads'),
            cls.value.sql_cast(
                Sum(Coalesce(dated.expected_value, 0))).as_('value'),
            group_by=[dated.date, dated.owner])

    @classmethod
    def _rollup_query(cls):
        rollup = Pool().get('autolead.rollup.lead.owner_day').__table__()
        dated = rollup.select(
            rollup.id, rollup.owner, rollup.leads, rollup.value,
            _truncate_day(cls.date, rollup.date).as_('date'),
            where=_date_bounds(rollup.date) & _own(rollup.owner))
        return dated.select(
            Min(dated.id).as_('id'),
            dated.date.as_('date'),
            dated.owner.as_('owner'),
            Sum(dated.leads).as_('leads'),
            cls.value.sql_cast(Sum(dated.value)).as_('value'),
            group_by=[dated.date, dated.owner],
            having=_counted(dated.leads))


class _LeadOutcome(Reporting):
    leads = fields.Integer("Leads")
    open = fields.Integer("Open")
    won = fields.Integer("Won")
    lost = fields.Integer("Lost")
    revenue = fields.Numeric(
        "Revenue", digits=(16, 2),
        help="The expected value of the won leads.")
    conversion = fields.Float(
        "Conversion Rate", digits=(3, 1),
        help="The percentage of leads won.")

    @classmethod
    def _outcome_columns(cls, lead):
        def kind(name):
            return Sum(Case((lead.stage_kind == name, 1), else_=0))
        return [
            Min(lead.id).as_('id'),
            Count().as_('leads'),
            kind('open').as_('open'),
            kind('won').as_('won'),
            kind('lost').as_('lost'),
            cls.revenue.sql_cast(Sum(Case(
                        (lead.stage_kind == 'won',
                            Coalesce(lead.expected_value, 0)),
                        else_=0))).as_('revenue'),
            cls.conversion.sql_cast(
                _rate(kind('won'), Count())).as_('conversion'),
            ]

    @classmethod
    def _rollup_outcome_columns(cls, rollup):
        "The same columns from a rollup of leads and value per stage kind"
        def kind(name):
            return Sum(Case((rollup.stage_kind == name, rollup.leads),
                    else_=0))
        return [
            Min(rollup.id).as_('id'),
            Sum(rollup.leads).as_('leads'),
            kind('open').as_('open'),
            kind('won').as_('won'),
            kind('lost').as_('lost'),
            cls.revenue.sql_cast(Sum(Case(
                        (rollup.stage_kind == 'won', rollup.value),
                        else_=0))).as_('revenue'),
            cls.conversion.sql_cast(
                _rate(kind('won'), Sum(rollup.leads))).as_('conversion'),
            ]


class LeadSource(_LeadOutcome):
    "Leads of the period by source"
    __name__ = 'autolead.reporting.lead.source'
    __string__ = "Leads by Source"

    source = fields.Selection(SOURCES, "Source", sort=False)
    _export_fields = [
        'source', 'leads', 'open', 'won', 'lost', 'revenue', 'conversion']

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('leads', 'DESC'), ('source', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        if _use_rollup():
            if _sees_all():
                rollup = Pool().get(
                    'autolead.rollup.lead.source_day').__table__()
                where = _date_bounds(rollup.date)
            else:
                rollup = Pool().get(
                    'autolead.rollup.lead.owner_source_day').__table__()
                where = _date_bounds(rollup.date) & _own(rollup.owner)
            return rollup.select(
                *cls._rollup_outcome_columns(rollup),
                rollup.source.as_('source'),
                where=where, group_by=[rollup.source],
                having=_counted(rollup.leads))
        lead = Pool().get('autolead.lead').__table__()
        return lead.select(
            *cls._outcome_columns(lead),
            lead.source.as_('source'),
            where=_bounds(lead.create_date) & _own(lead.owner),
            group_by=[lead.source])


class Representative(_LeadOutcome):
    "Leads of the period by owner: status and conversion"
    __name__ = 'autolead.reporting.rep'
    __string__ = "Conversion by Representative"

    owner = fields.Many2One('res.user', "Owner")
    _export_fields = [
        'owner', 'leads', 'open', 'won', 'lost', 'revenue', 'conversion']

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('revenue', 'DESC'), ('owner', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        if _use_rollup():
            rollup = Pool().get('autolead.rollup.lead.owner_day').__table__()
            return rollup.select(
                *cls._rollup_outcome_columns(rollup),
                rollup.owner.as_('owner'),
                where=_date_bounds(rollup.date) & _own(rollup.owner),
                group_by=[rollup.owner],
                having=_counted(rollup.leads))
        lead = Pool().get('autolead.lead').__table__()
        return lead.select(
            *cls._outcome_columns(lead),
            lead.owner.as_('owner'),
            where=_bounds(lead.create_date) & _own(lead.owner),
            group_by=[lead.owner])


class Campaign(_LeadOutcome):
    "Leads of the period by campaign"
    __name__ = 'autolead.reporting.campaign'
    __string__ = "Campaign Efficiency"

    campaign = fields.Many2One('autolead.campaign', "Campaign")
    _export_fields = [
        'campaign', 'leads', 'open', 'won', 'lost', 'revenue', 'conversion']

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('revenue', 'DESC'), ('campaign', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        if _use_rollup() and _sees_all():
            # a representative's own leads are read through the index on
            # their owner
            rollup = Pool().get(
                'autolead.rollup.lead.campaign_day').__table__()
            return rollup.select(
                *cls._rollup_outcome_columns(rollup),
                rollup.campaign.as_('campaign'),
                where=_date_bounds(rollup.date),
                group_by=[rollup.campaign],
                having=_counted(rollup.leads))
        lead = Pool().get('autolead.lead').__table__()
        return lead.select(
            *cls._outcome_columns(lead),
            lead.campaign.as_('campaign'),
            where=(_bounds(lead.create_date) & _own(lead.owner)
                & (lead.campaign != Null)),
            group_by=[lead.campaign])


class LeadStage(Reporting):
    "The pipeline as it stands: leads by stage"
    __name__ = 'autolead.reporting.lead.stage'
    __string__ = "Pipeline by Stage"

    stage = fields.Many2One('autolead.lead.stage', "Stage")
    stage_kind = fields.Selection(STAGE_KINDS, "Status")
    sequence = fields.Integer("Sequence")
    probability = fields.Integer("Probability")
    leads = fields.Integer("Leads")
    value = fields.Numeric("Value", digits=(16, 2))
    weighted_value = fields.Numeric(
        "Weighted Value", digits=(16, 2),
        help="The value multiplied by the probability of the stage.")
    _export_fields = [
        'stage', 'stage_kind', 'probability', 'leads', 'value',
        'weighted_value']

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('sequence', 'ASC NULLS FIRST'), ('stage', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        stage = pool.get('autolead.lead.stage').__table__()
        if _use_rollup():
            lead = pool.get('autolead.rollup.lead.owner_stage').__table__()
            count, value = Sum(lead.leads), Sum(lead.value)
            having = _counted(lead.leads)
        else:
            lead = pool.get('autolead.lead').__table__()
            count, value = Count(), Sum(Coalesce(lead.expected_value, 0))
            having = None
        return lead.join(stage, condition=lead.stage == stage.id).select(
            stage.id.as_('id'),
            stage.id.as_('stage'),
            stage.kind.as_('stage_kind'),
            stage.sequence.as_('sequence'),
            stage.probability.as_('probability'),
            count.as_('leads'),
            cls.value.sql_cast(value).as_('value'),
            cls.weighted_value.sql_cast(
                value * stage.probability / Literal(100.0)).as_(
                'weighted_value'),
            where=_own(lead.owner),
            group_by=[
                stage.id, stage.kind, stage.sequence, stage.probability],
            having=having)


class Performance(Reporting):
    "What each user did per hour, day or month"
    __name__ = 'autolead.reporting.performance'
    __string__ = "Performance"

    date = fields.DateTime("Date")
    user = fields.Many2One('res.user', "User")
    calls = fields.Integer("Calls Made")
    emails = fields.Integer("Emails Sent")
    meetings = fields.Integer("Meetings")
    deals = fields.Integer("Deals Closed")
    revenue = fields.Numeric("Revenue", digits=(16, 2))
    _export_fields = [
        'date', 'user', 'calls', 'emails', 'meetings', 'deals', 'revenue']

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('date', 'DESC'), ('user', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        if _use_rollup(by_hour=True):
            return cls._rollup_query()
        pool = Pool()
        call = pool.get('autolead.call').__table__()
        interaction = pool.get('autolead.lead.interaction').__table__()
        appointment = pool.get('autolead.appointment').__table__()
        lead = pool.get('autolead.lead').__table__()

        # Each source row gets a key unique across the union, so that the
        # smallest key of a group is a stable id
        def activity(table, user, moment, kind, revenue=Literal(0),
                where=Literal(True)):
            flags = [Literal(int(kind == k)).as_(k)
                for k in ['calls', 'emails', 'meetings', 'deals']]
            return table.select(
                (table.id * 4 + ['calls', 'emails', 'meetings', 'deals']
                    .index(kind)).as_('key'),
                user.as_('user'), moment.as_('moment'), *flags,
                revenue.as_('revenue'),
                where=where & _bounds(moment) & _own(user))

        union = Union(
            activity(call, call.caller, call.done_at, 'calls',
                where=call.state == 'done'),
            activity(interaction, interaction.user, interaction.date,
                'emails', where=(interaction.type == 'email')
                & (interaction.direction == 'outbound')),
            activity(appointment, appointment.organizer, appointment.start,
                'meetings', where=appointment.state != 'cancelled'),
            activity(lead, lead.owner, lead.closed_at, 'deals',
                revenue=Coalesce(lead.expected_value, 0),
                where=lead.stage_kind == 'won'),
            all_=True)
        dated = union.select(
            union.key, union.user, union.calls, union.emails,
            union.meetings, union.deals, union.revenue,
            _truncate(cls.date, union.moment).as_('date'))
        return dated.select(
            Min(dated.key).as_('id'),
            dated.date.as_('date'),
            dated.user.as_('user'),
            Sum(dated.calls).as_('calls'),
            Sum(dated.emails).as_('emails'),
            Sum(dated.meetings).as_('meetings'),
            Sum(dated.deals).as_('deals'),
            cls.revenue.sql_cast(Sum(dated.revenue)).as_('revenue'),
            group_by=[dated.date, dated.user])

    @classmethod
    def _rollup_query(cls):
        rollup = Pool().get('autolead.rollup.activity_day').__table__()
        dated = rollup.select(
            rollup.id, rollup.user, rollup.kind, rollup.count,
            rollup.revenue,
            _truncate_day(cls.date, rollup.date).as_('date'),
            where=_date_bounds(rollup.date) & _own(rollup.user))

        def kind(name):
            return Sum(Case((dated.kind == name, dated.count), else_=0))
        return dated.select(
            Min(dated.id).as_('id'),
            dated.date.as_('date'),
            dated.user.as_('user'),
            kind('calls').as_('calls'),
            kind('emails').as_('emails'),
            kind('meetings').as_('meetings'),
            kind('deals').as_('deals'),
            cls.revenue.sql_cast(Sum(dated.revenue)).as_('revenue'),
            group_by=[dated.date, dated.user],
            having=_counted(dated.count))


class Appointment(Reporting):
    "Appointments per day of their start, organizer, kind and state"
    __name__ = 'autolead.reporting.appointment'
    __string__ = "Appointments by Day and State"

    date = fields.Date("Date")
    organizer = fields.Many2One('res.user', "Organizer")
    # the selections themselves (not methods), so that charts show names
    kind = fields.Selection(
        appointment.Appointment.kind.selection, "Kind", sort=False)
    state = fields.Selection(
        appointment.Appointment.state.selection, "State", sort=False)
    appointments = fields.Integer("Appointments")
    _export_fields = ['date', 'organizer', 'kind', 'state', 'appointments']

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('date', 'DESC'), ('organizer', 'ASC'), ('kind', 'ASC'),
            ('state', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        appointment = Pool().get('autolead.appointment').__table__()
        dated = appointment.select(
            appointment.id, appointment.organizer, appointment.kind,
            appointment.state,
            _truncate(cls.date, appointment.start).as_('date'),
            where=(_bounds(appointment.start)
                & _own(appointment.organizer)))
        return dated.select(
            Min(dated.id).as_('id'),
            dated.date.as_('date'),
            dated.organizer.as_('organizer'),
            dated.kind.as_('kind'),
            dated.state.as_('state'),
            Count().as_('appointments'),
            group_by=[dated.date, dated.organizer, dated.kind, dated.state])


class Ticket(Reporting):
    "Tickets raised per period by state, with SLA breaches"
    __name__ = 'autolead.reporting.ticket'
    __string__ = "Tickets by State"

    date = fields.Date("Date")
    state = fields.Selection(
        ticket.Ticket.state.selection, "State", sort=False)
    tickets = fields.Integer("Tickets")
    breached = fields.Integer("SLA Breached")
    _export_fields = ['date', 'state', 'tickets', 'breached']

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('date', 'DESC'), ('state', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        Ticket = Pool().get('autolead.ticket')
        ticket = Ticket.__table__()
        breached = Ticket._breached_condition(
            ticket, datetime.datetime.now())
        dated = ticket.select(
            ticket.id, ticket.state,
            Case((breached, 1), else_=0).as_('breached'),
            _truncate(cls.date, ticket.create_date).as_('date'),
            where=_bounds(ticket.create_date))
        return dated.select(
            Min(dated.id).as_('id'),
            dated.date.as_('date'),
            dated.state.as_('state'),
            Count().as_('tickets'),
            Sum(dated.breached).as_('breached'),
            group_by=[dated.date, dated.state])


class Lead(metaclass=PoolMeta):
    __name__ = 'autolead.lead'

    closed_at = fields.DateTime(
        "Closed At", readonly=True, loading='lazy',
        help="When the lead was won or lost.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.closed_at, Index.Range()),
                    where=t.closed_at != Null),
                # a representative's campaign efficiency, read from the
                # index alone: their campaign leads are too spread over
                # campaigns and days for a rollup to be much smaller
                Index(t,
                    (t.owner, Index.Equality()),
                    (t.create_date, Index.Range()),
                    (t.campaign, Index.Range()),
                    (t.stage_kind, Index.Equality(cardinality='low')),
                    (t.expected_value, Index.Range()),
                    where=t.campaign != Null),
                })

    @classmethod
    def __register__(cls, module):
        table_h = cls.__table_handler__(module)
        back_fill = (backend.TableHandler.table_exist(cls._table)
            and not table_h.column_exist('closed_at'))
        super().__register__(module)
        if back_fill:
            cls._back_fill_closed_at()

    @classmethod
    def _back_fill_closed_at(cls):
        """Date the leads closed before closed_at existed: their last stage
        change, else their last modification"""
        pool = Pool()
        History = pool.get('autolead.lead.history')
        lead = cls.__table__()
        history = History.__table__()
        cursor = Transaction().connection.cursor()
        moment = Coalesce(lead.write_date, lead.create_date)
        if backend.TableHandler.table_exist(History._table):
            moment = Coalesce(history.select(
                    Max(history.date),
                    where=(history.lead == lead.id)
                    & (history.field == 'stage')), moment)
        cursor.execute(*lead.update(
                [lead.closed_at], [moment],
                where=lead.stage_kind.in_(['won', 'lost'])
                & (lead.closed_at == Null)))

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if 'stage_kind' in values:
            values['closed_at'] = (datetime.datetime.now()
                if values['stage_kind'] in {'won', 'lost'} else None)
        return values


class Export(Wizard):
    "Export a report to CSV, Excel or PDF"
    __name__ = 'autolead.reporting.export'
    start = StateView('autolead.reporting.export.start',
        'autolead.reporting_export_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Export", 'export', 'tryton-ok', default=True),
            ])
    export = StateTransition()
    result = StateView('autolead.reporting.export.result',
        'autolead.reporting_export_result_view_form', [
            Button("Close", 'end', 'tryton-close', default=True),
            ])
    print_ = StateReport('autolead.reporting.print')

    def default_start(self, fields):
        context = Transaction().context
        values = {}
        if context.get('active_model') in dict(REPORTS):
            values['report'] = context['active_model']
        for name in ['from_date', 'to_date', 'period']:
            if context.get(name):
                values[name] = context[name]
        return values

    def transition_export(self):
        if self.start.format == 'pdf':
            return 'print_'
        return 'result'

    def default_result(self, fields):
        filename, content = report_file(
            self.start.report, self.start.format, self.start.report_context)
        return {
            'file': content,
            'filename': filename,
            }

    def do_print_(self, action):
        return action, {
            'report': self.start.report,
            'context': self.start.report_context,
            }


class ExportStart(ModelView):
    __name__ = 'autolead.reporting.export.start'
    __string__ = "Export Report"

    report = fields.Selection(REPORTS, "Report", required=True, sort=False)
    format = fields.Selection([
            ('csv', "CSV"),
            ('xlsx', "Excel"),
            ('pdf', "PDF"),
            ], "Format", required=True, sort=False)
    from_date = fields.Date("From Date")
    to_date = fields.Date("To Date")
    period = fields.Selection(PERIODS, "Period", required=True, sort=False)

    @classmethod
    def default_format(cls):
        return 'xlsx'

    @classmethod
    def default_from_date(cls):
        return _today() - datetime.timedelta(days=30)

    @classmethod
    def default_to_date(cls):
        return _today()

    @classmethod
    def default_period(cls):
        return 'day'

    @property
    def report_context(self):
        return {
            'from_date': self.from_date,
            'to_date': self.to_date,
            'period': self.period,
            }


class ExportResult(ModelView):
    __name__ = 'autolead.reporting.export.result'
    __string__ = "Exported Report"

    file = fields.Binary("File", filename='filename', readonly=True)
    filename = fields.Char("File Name", readonly=True)


class Print(Report):
    "A report as an HTML page that weasyprint turns into a PDF"
    __name__ = 'autolead.reporting.print'

    @classmethod
    def get_context(cls, records, header, data):
        context = super().get_context(records, header, data)
        report_context = data.get('context') or {}
        for name in ['from_date', 'to_date']:
            if isinstance(report_context.get(name), str):
                report_context[name] = datetime.date.fromisoformat(
                    report_context[name])
        title, headers, rows = report_table(data['report'], report_context)
        context['title'] = title
        context['headers'] = headers
        context['rows'] = rows
        context['from_date'] = report_context.get('from_date')
        context['to_date'] = report_context.get('to_date')
        context['format_value'] = cls.format_value
        context['is_number'] = is_number = lambda v: (
            isinstance(v, (int, float, Decimal)) and not isinstance(v, bool))
        context['columns'] = [
            (header, any(is_number(r[i]) for r in rows))
            for i, header in enumerate(headers)]
        return context

    @classmethod
    def format_value(cls, value):
        Lang = Pool().get('ir.lang')
        lang = Lang.get()
        if value is None:
            return ''
        if isinstance(value, datetime.datetime):
            return lang.strftime(value, '%x %H:%M')
        if isinstance(value, datetime.date):
            return lang.strftime(value)
        if isinstance(value, float):
            return lang.format('%.1f', value)
        if isinstance(value, Decimal):
            return lang.format_number(value, digits=2)
        if isinstance(value, int):
            return lang.format_number(value, digits=0)
        return str(value)
