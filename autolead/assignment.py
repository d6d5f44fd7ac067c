from sql import Cast, Literal, Null
from sql.aggregate import Count, Min, Sum
from sql.conditionals import Coalesce

from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, fields, sequence_ordered)
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .lead import SOURCES, STAGE_KINDS

# the rows of the load have the id owner x this + stage
_ID_STEP = 100000


class Rule(DeactivableMixin, sequence_ordered(), ModelSQL, ModelView):
    __name__ = 'autolead.lead.assignment.rule'
    __string__ = "Assignment Rule"

    name = fields.Char("Name", required=True)
    source = fields.Selection(
        [(None, "")] + SOURCES, "Source", sort=False,
        help="Apply only to leads from this source; empty for any source.")
    territory = fields.Char(
        "Territory",
        help="Apply only to leads of this territory (case is ignored); "
        "empty for any territory.")
    method = fields.Selection([
            ('fixed', "Fixed User"),
            ('round_robin', "Round-robin"),
            ], "Method", required=True, sort=False)
    user = fields.Many2One(
        'res.user', "User", ondelete='CASCADE',
        states={
            'invisible': Eval('method') != 'fixed',
            'required': Eval('method') == 'fixed',
            })
    team = fields.Many2Many(
        'autolead.lead.assignment.rule-res.user', 'rule', 'user', "Team",
        states={
            'invisible': Eval('method') != 'round_robin',
            'required': Eval('method') == 'round_robin',
            },
        help="The users who receive the leads in turn.")
    last_user = fields.Function(fields.Many2One(
            'res.user', "Last Assigned",
            states={
                'invisible': Eval('method') != 'round_robin',
                },
            help="The member of the team who received the latest lead."),
        'get_last_user')
    turns = fields.Integer(
        "Turns", readonly=True,
        help="How many leads the rule has given in turn "
        "(kept in a database sequence on PostgreSQL).")

    @classmethod
    def __register__(cls, module):
        pool = Pool()
        RuleUser = pool.get('autolead.lead.assignment.rule-res.user')
        super().__register__(module)
        cursor = Transaction().connection.cursor()
        table = cls.__table__()
        table_h = cls.__table_handler__(module)

        # Migration from last_user: the rotation goes on after it
        if table_h.column_exist('last_user'):
            team = RuleUser.__table__()
            cursor.execute(*table.select(table.id, table.last_user,
                    where=(table.last_user != Null)
                    & (Coalesce(table.turns, 0) == 0)))
            for id_, last_user in cursor.fetchall():
                cursor.execute(*team.select(team.user,
                        where=team.rule == id_, order_by=[team.user]))
                members = [u for u, in cursor]
                if last_user in members:
                    cursor.execute(*table.update(
                            [table.turns], [members.index(last_user) + 1],
                            where=table.id == id_))
            table_h.drop_column('last_user')

        cursor.execute(*table.select(table.id, table.turns))
        for id_, turns in cursor.fetchall():
            cls._create_turn_sequence(id_, turns)

    @classmethod
    def default_method(cls):
        return 'round_robin'

    @classmethod
    def default_turns(cls):
        return 0

    def get_last_user(self, name):
        if self.method != 'round_robin' or not self.team:
            return None
        turns = self._given_turns()
        if not turns:
            return None
        team = sorted(self.team, key=lambda u: u.id)
        return team[(turns - 1) % len(team)].id

    @property
    def _turn_sequence_name(self):
        return self._turn_sequence_name_of(self.id)

    @classmethod
    def _turn_sequence_name_of(cls, id_):
        return f'{cls._table}_{id_}_turn'

    @classmethod
    def _create_turn_sequence(cls, id_, turns):
        transaction = Transaction()
        database = transaction.database
        name = cls._turn_sequence_name_of(id_)
        if (database.has_sequence()
                and not database.sequence_exist(transaction.connection, name)):
            database.sequence_create(
                transaction.connection, name, 1, (turns or 0) + 1)

    def _given_turns(self):
        transaction = Transaction()
        database = transaction.database
        if database.has_sequence() and database.sequence_exist(
                transaction.connection, self._turn_sequence_name):
            return database.sequence_next_number(
                transaction.connection, self._turn_sequence_name) - 1
        return self.turns or 0

    def _take_turns(self, n):
        """Return the numbers of the next n turns of the rule

        The leads of concurrent creators must not wait on one another nor
        fail for updating the same rule: PostgreSQL gives the turns from a
        sequence, outside of the transactions; SQLite adds them to the rule
        first, which takes the database write lock, then reads the total."""
        transaction = Transaction()
        database = transaction.database
        if database.has_sequence():
            self._create_turn_sequence(self.id, self.turns)
            return [v - 1 for v in database.sequence_nextvals(
                    transaction.connection, self._turn_sequence_name, n)]
        table = self.__table__()
        cursor = transaction.connection.cursor()
        cursor.execute(*table.update(
                [table.turns], [Coalesce(table.turns, 0) + n],
                where=table.id == self.id))
        cursor.execute(*table.select(table.turns, where=table.id == self.id))
        end, = cursor.fetchone()
        return list(range(end - n, end))

    @classmethod
    def create(cls, vlist):
        rules = super().create(vlist)
        for rule in rules:
            cls._create_turn_sequence(rule.id, rule.turns)
        return rules

    @classmethod
    def delete(cls, rules):
        transaction = Transaction()
        database = transaction.database
        names = [r._turn_sequence_name for r in rules]
        super().delete(rules)
        if database.has_sequence():
            for name in names:
                if database.sequence_exist(transaction.connection, name):
                    database.sequence_delete(transaction.connection, name)

    def match(self, lead):
        if self.source and lead.source != self.source:
            return False
        if self.territory and (
                (lead.territory or '').strip().lower()
                != self.territory.strip().lower()):
            return False
        return True

    def next_users(self, n):
        "Return the users who receive the next n leads"
        if self.method == 'fixed':
            return [self.user] * n
        team = sorted(self.team, key=lambda u: u.id)
        return [team[t % len(team)] for t in self._take_turns(n)]

    @classmethod
    def assign(cls, leads):
        "Give the leads without owner to the user of the first matching rule"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        leads = [l for l in leads if not l.owner]
        if not leads:
            return
        with without_check_access():
            rules = cls.search([])
            if not rules:
                return
            rule_leads = {}
            for lead in leads:
                for rule in rules:
                    if rule.match(lead):
                        rule_leads.setdefault(rule, []).append(lead)
                        break
            owners = {}
            for rule, leads_ in rule_leads.items():
                for user, lead in zip(rule.next_users(len(leads_)), leads_):
                    owners.setdefault(user, []).append(lead)
            to_write = []
            for user, user_leads in owners.items():
                to_write.extend([user_leads, {'owner': user.id}])
            if to_write:
                Lead.write(*to_write)


class RuleUser(ModelSQL):
    __name__ = 'autolead.lead.assignment.rule-res.user'
    __string__ = "Assignment Rule Member"

    rule = fields.Many2One(
        'autolead.lead.assignment.rule', "Rule", required=True,
        ondelete='CASCADE')
    user = fields.Many2One(
        'res.user', "User", required=True, ondelete='CASCADE')


class Assign(Wizard):
    __name__ = 'autolead.lead.assign'
    start = StateView('autolead.lead.assign.start',
        'autolead.lead_assign_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Assign", 'assign', 'tryton-ok', default=True),
            ])
    assign = StateTransition()

    def default_start(self, fields):
        owners = {r.owner for r in self.records}
        if len(owners) == 1:
            owner, = owners
            if owner:
                return {'owner': owner.id}
        return {}

    def transition_assign(self):
        self.model.write(list(self.records), {
                'owner': self.start.owner.id,
                })
        return 'end'


class AssignStart(ModelView):
    __name__ = 'autolead.lead.assign.start'
    __string__ = "Assign Leads"

    owner = fields.Many2One(
        'res.user', "Owner", required=True,
        help="The sales representative who will own the leads.")


class RepLoad(ModelSQL, ModelView):
    __name__ = 'autolead.lead.rep_load'
    __string__ = "Representative Load"

    owner = fields.Many2One('res.user', "Owner")
    stage = fields.Many2One('autolead.lead.stage', "Stage")
    stage_kind = fields.Selection(STAGE_KINDS, "Stage Kind")
    lead_count = fields.Integer("Leads")
    expected_value = fields.Numeric("Expected Value", digits=(16, 2))

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('owner', 'ASC'), ('stage', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Lead = pool.get('autolead.lead')
        Stage = pool.get('autolead.lead.stage')
        User = pool.get('res.user')
        UserGroup = pool.get('res.user-res.group')
        ModelData = pool.get('ir.model.data')
        lead = Lead.__table__()
        stage = Stage.__table__()
        user = User.__table__()
        user_group = UserGroup.__table__()
        where = stage.kind == 'open'
        # The rules of the leads apply to the load as well
        where &= lead.id.in_(Lead.search([], order=[], query=True))
        open_leads = lead.join(stage, condition=lead.stage == stage.id)
        # one row per owner and stage, with an id made of both
        loads = open_leads.select(
            (Coalesce(lead.owner, 0) * _ID_STEP + lead.stage).as_('id'),
            lead.owner.as_('owner'),
            lead.stage.as_('stage'),
            Min(stage.kind).as_('stage_kind'),
            Count(lead.id).as_('lead_count'),
            Coalesce(Sum(lead.expected_value), 0).as_('expected_value'),
            where=where,
            group_by=[lead.owner, lead.stage])
        # and a row for each representative without open leads: an idle
        # representative is part of the team's load too
        busy = open_leads.select(
            lead.owner, where=where & (lead.owner != Null))
        idle = user.join(
            user_group, condition=user_group.user == user.id).select(
            (user.id * _ID_STEP).as_('id'),
            user.id.as_('owner'),
            Cast(Literal(None), 'INTEGER').as_('stage'),
            Cast(Literal(None), 'VARCHAR').as_('stage_kind'),
            Literal(0).as_('lead_count'),
            Cast(Literal(0), 'NUMERIC').as_('expected_value'),
            where=(user_group.group == ModelData.get_id(
                    'autolead', 'group_sales_rep'))
            & (user.active == Literal(True))
            & ~user.id.in_(busy))
        union = loads | idle
        union.all_ = True
        return union.select()
