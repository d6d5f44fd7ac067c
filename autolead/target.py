from sql.aggregate import Count, Sum
from sql.conditionals import Coalesce

from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

from .reporting import Reporting, _own, _rate, _use_rollup


class SalesTarget(ModelSQL, ModelView):
    "Revenue and deals a representative should reach in a period"
    __name__ = 'autolead.sales.target'
    __string__ = "Sales Target"

    user = fields.Many2One(
        'res.user', "Representative", required=True, ondelete='CASCADE')
    from_date = fields.Date(
        "From Date", required=True,
        domain=[('from_date', '<=', Eval('to_date', None))])
    to_date = fields.Date(
        "To Date", required=True,
        domain=[('to_date', '>=', Eval('from_date', None))])
    revenue = fields.Numeric(
        "Revenue Target", digits=(16, 2), required=True,
        domain=[('revenue', '>=', 0)])
    deals = fields.Integer(
        "Deals Target", required=True, domain=[('deals', '>=', 0)])

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(
            Index(t, (t.user, Index.Range()), (t.from_date, Index.Range())))
        cls._order = [('from_date', 'DESC'), ('user', 'ASC'), ('id', 'ASC')]

    @classmethod
    def default_revenue(cls):
        return 0

    @classmethod
    def default_deals(cls):
        return 0

    def get_rec_name(self, name):
        return f'{self.user.rec_name} {self.from_date} - {self.to_date}'


class TargetActual(Reporting):
    "Each target beside what its representative actually closed"
    __name__ = 'autolead.reporting.target'
    __string__ = "Target vs Actual"

    user = fields.Many2One('res.user', "Representative")
    from_date = fields.Date("From Date")
    to_date = fields.Date("To Date")
    revenue_target = fields.Numeric("Revenue Target", digits=(16, 2))
    revenue = fields.Numeric("Revenue", digits=(16, 2))
    revenue_achieved = fields.Float(
        "Revenue Achieved", digits=(16, 1),
        help="The percentage of the revenue target reached.")
    deals_target = fields.Integer("Deals Target")
    deals = fields.Integer("Deals")
    deals_achieved = fields.Float(
        "Deals Achieved", digits=(16, 1),
        help="The percentage of the deals target reached.")
    _export_fields = [
        'user', 'from_date', 'to_date', 'revenue_target', 'revenue',
        'revenue_achieved', 'deals_target', 'deals', 'deals_achieved']

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('from_date', 'DESC'), ('user', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        target = pool.get('autolead.sales.target').__table__()
        context = Transaction().context
        if _use_rollup():
            # deals won per day and owner: a few rows per target
            deals = pool.get('autolead.rollup.activity_day').__table__()
            won = ((deals.user == target.user)
                & (deals.kind == 'deals')
                & (deals.date >= target.from_date)
                & (deals.date <= target.to_date))
            value = Coalesce(deals.revenue, 0)
            count = Sum(Coalesce(deals.count, 0))
        else:
            deals = pool.get('autolead.lead').__table__()
            closed_on = cls.from_date.sql_cast(deals.closed_at)
            # The bare comparison lets the index on closed_at narrow the
            # join
            won = ((deals.owner == target.user)
                & (deals.stage_kind == 'won')
                & (deals.closed_at >= target.from_date)
                & (closed_on >= target.from_date)
                & (closed_on <= target.to_date))
            value = Coalesce(deals.expected_value, 0)
            count = Count(deals.id)
        where = _own(target.user)
        # A target counts when it overlaps the period of the context
        if context.get('from_date'):
            where &= target.to_date >= context['from_date']
        if context.get('to_date'):
            where &= target.from_date <= context['to_date']
        revenue = cls.revenue.sql_cast(Sum(value))
        return target.join(deals, 'LEFT', condition=won).select(
            target.id.as_('id'),
            target.user.as_('user'),
            target.from_date.as_('from_date'),
            target.to_date.as_('to_date'),
            target.revenue.as_('revenue_target'),
            revenue.as_('revenue'),
            cls.revenue_achieved.sql_cast(
                _rate(Sum(value), target.revenue)).as_('revenue_achieved'),
            target.deals.as_('deals_target'),
            count.as_('deals'),
            cls.deals_achieved.sql_cast(
                _rate(count, target.deals)).as_('deals_achieved'),
            where=where,
            group_by=[
                target.id, target.user, target.from_date, target.to_date,
                target.revenue, target.deals])
