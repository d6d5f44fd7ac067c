import datetime

from sql.aggregate import Count
from sql.conditionals import Coalesce

from trytond import backend
from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, Unique, fields,
    sequence_ordered)
from trytond.model.exceptions import (
    AccessError, RequiredValidationError, ValidationError)
from trytond.pool import Pool
from trytond.pyson import Bool, Eval, Id
from trytond.tools import (
    grouped_slice, is_full_text, reduce_ids, strip_wildcard,
    unescape_wildcard)
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .claim import lock
from .deletion import TraceDeletionMixin
from .normalize import (
    InvalidEmail, InvalidPhone, normalize_company, normalize_email,
    normalize_phone)
from .party import CUSTOMER_STATUSES

SOURCES = [
    ('website', "Website"),
    ('google', "Google Ads"),
    ('facebook', "Facebook"),
    ('referral', "Referral"),
    ('ivr', "IVR"),
    ('email', "Email"),
    ('phone', "Phone"),
    ('walk_in', "Walk-in"),
    ('event', "Event"),
    ('import', "Import"),
    ('other', "Other"),
    ]
STAGE_KINDS = [
    ('open', "Open"),
    ('won', "Won"),
    ('lost', "Lost"),
    ]
# The values sao knows for the "visual" attribute of a list
COLOURS = [
    (None, ""),
    ('success', "Green"),
    ('warning', "Orange"),
    ('danger', "Red"),
    ('muted', "Grey"),
    ]
# Fields whose changes are written to the timeline
TRACKED_FIELDS = [
    'stage', 'lost_reason', 'owner', 'name', 'company_name', 'email',
    'phone', 'job_title', 'source', 'medium', 'industry', 'territory',
    'campaign_name', 'expected_value', 'next_follow_up', 'party',
    ]


def is_manager():
    "Whether the current user may manage every lead (sales head, admin)"
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    transaction = Transaction()
    if transaction.user == 0 or not transaction.check_access:
        return True
    groups = set(User.get_groups())
    return bool(groups & {
            ModelData.get_id('autolead', 'group_sales_head'),
            ModelData.get_id('autolead', 'group_autolead_admin'),
            })


class Stage(DeactivableMixin, sequence_ordered(), ModelSQL, ModelView):
    __name__ = 'autolead.lead.stage'
    __string__ = "Stage"

    name = fields.Char("Name", required=True, translate=True)
    kind = fields.Selection(
        STAGE_KINDS, "Kind", required=True, sort=False,
        help="Open stages are the pipeline; won and lost close the lead.")
    colour = fields.Selection(
        COLOURS, "Colour", sort=False,
        help="How leads in this stage are highlighted in the list.")
    probability = fields.Integer(
        "Probability", required=True,
        domain=[('probability', '>=', 0), ('probability', '<=', 100)],
        help="The chance, in percent, that a lead in this stage is won.")

    @classmethod
    def default_kind(cls):
        return 'open'

    @classmethod
    def default_probability(cls):
        return 0

    @classmethod
    def write(cls, *args):
        pool = Pool()
        Lead = pool.get('autolead.lead')
        lead = Lead.__table__()
        cursor = Transaction().connection.cursor()
        super().write(*args)
        actions = iter(args)
        for stages, values in zip(actions, actions):
            if 'kind' in values:
                cursor.execute(*lead.update(
                        [lead.stage_kind], [values['kind']],
                        where=lead.stage.in_([s.id for s in stages])))

    @classmethod
    def first_open(cls):
        stages = cls.search([('kind', '=', 'open')], limit=1)
        if stages:
            return stages[0]


class StageTransition(ModelSQL, ModelView):
    __name__ = 'autolead.lead.stage.transition'
    __string__ = "Stage Transition"

    from_stage = fields.Many2One(
        'autolead.lead.stage', "From", required=True, ondelete='CASCADE')
    to_stage = fields.Many2One(
        'autolead.lead.stage', "To", required=True, ondelete='CASCADE',
        domain=[('id', '!=', Eval('from_stage', -1))])

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('from_to_unique', Unique(t, t.from_stage, t.to_stage),
                'autolead.msg_lead_stage_transition_unique'),
            ]
        cls._order = [
            ('from_stage', 'ASC'), ('to_stage', 'ASC'), ('id', 'ASC')]

    @classmethod
    def allowed(cls, from_stage, to_stage):
        "Whether a lead may move from from_stage to to_stage"
        if from_stage == to_stage:
            return True
        with without_check_access():
            return bool(cls.search([
                        ('from_stage', '=', from_stage.id),
                        ('to_stage', '=', to_stage.id),
                        ], limit=1))


class LostReason(DeactivableMixin, sequence_ordered(), ModelSQL, ModelView):
    __name__ = 'autolead.lead.lost_reason'
    __string__ = "Lost Reason"

    name = fields.Char("Name", required=True, translate=True)


class Tag(DeactivableMixin, ModelSQL, ModelView):
    __name__ = 'autolead.lead.tag'
    __string__ = "Lead Tag"

    name = fields.Char("Name", required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('name_unique', Unique(t, t.name),
                'autolead.msg_lead_tag_unique'),
            ]
        cls._order.insert(0, ('name', 'ASC'))


class LeadTag(ModelSQL):
    __name__ = 'autolead.lead-autolead.lead.tag'
    __string__ = "Lead - Tag"

    lead = fields.Many2One(
        'autolead.lead', "Lead", required=True, ondelete='CASCADE')
    tag = fields.Many2One(
        'autolead.lead.tag', "Tag", required=True, ondelete='CASCADE')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.lead, Index.Range())))


class Lead(DeactivableMixin, TraceDeletionMixin, ModelSQL, ModelView):
    __name__ = 'autolead.lead'
    __string__ = "Lead"

    name = fields.Char("Name", required=True, size=200)
    company_name = fields.Char("Company", size=200)
    job_title = fields.Char("Job Title", loading='lazy', size=200)
    email = fields.Char("Email", size=254)
    phone = fields.Char("Phone", size=40)
    source = fields.Selection(SOURCES, "Source", required=True, sort=False)
    medium = fields.Char(
        "Medium", loading='lazy', size=100,
        help="How the lead reached us, e.g. cpc, organic, social.")
    campaign_name = fields.Char(
        "Captured Campaign", loading='lazy', size=200,
        help="The campaign name the lead arrived with "
        "(a web form's utm_campaign, an imported column), as written.")
    industry = fields.Char("Industry", loading='lazy', size=100)
    territory = fields.Char(
        "Territory", size=100, help="The region or location the lead belongs to.")
    expected_value = fields.Numeric(
        "Expected Value", digits=(16, 2),
        domain=['OR',
            ('expected_value', '=', None),
            ('expected_value', '>=', 0),
            ])
    next_follow_up = fields.Date("Next Follow-up")
    tags = fields.Many2Many(
        'autolead.lead-autolead.lead.tag', 'lead', 'tag', "Tags")
    owner = fields.Many2One(
        'res.user', "Owner", ondelete='RESTRICT',
        states={
            'readonly': (Eval('id', -1) >= 0) & ~(
                Id('autolead', 'group_sales_head').in_(
                    Eval('context', {}).get('groups', []))
                | Id('autolead', 'group_autolead_admin').in_(
                    Eval('context', {}).get('groups', []))),
            },
        help="The sales representative responsible for the lead.")
    stage = fields.Many2One(
        'autolead.lead.stage', "Stage", required=True, ondelete='RESTRICT',
        states={
            'readonly': Eval('id', -1) >= 0,
            },
        help="Use \"Change Stage\" to move the lead along the pipeline.")
    stage_kind = fields.Selection(
        STAGE_KINDS, "Stage Kind", readonly=True,
        help="The kind of the stage, kept on the lead for fast filters.")
    stage_colour = fields.Function(fields.Selection(
            COLOURS, "Stage Colour"), 'get_stage_colour')
    lost_reason = fields.Many2One(
        'autolead.lead.lost_reason', "Lost Reason", ondelete='RESTRICT',
        loading='lazy',
        states={
            'invisible': Eval('stage_kind') != 'lost',
            'required': Eval('stage_kind') == 'lost',
            'readonly': Eval('id', -1) >= 0,
            })
    party = fields.Many2One(
        'party.party', "Customer", readonly=True, ondelete='RESTRICT',
        help="The customer this lead was converted into.")
    notes = fields.One2Many('autolead.lead.note', 'lead', "Notes")
    follow_up_count = fields.Function(fields.Integer(
            "Follow-ups", help="The number of notes on the lead."),
        'get_follow_up_count', searcher='search_follow_up_count')
    interactions = fields.One2Many(
        'autolead.lead.interaction', 'lead', "Interactions")
    history = fields.One2Many(
        'autolead.lead.history', 'lead', "Changes", readonly=True)
    timeline = fields.One2Many(
        'autolead.lead.timeline', 'lead', "Timeline", readonly=True,
        help="Everything that happened to the lead, newest first: "
        "changes, notes, calls, emails, meetings, appointments and tasks.")
    email_key = fields.Char(
        "Email Key", readonly=True, strip=False, loading='lazy')
    phone_key = fields.Char(
        "Phone Key", readonly=True, strip=False, loading='lazy')
    company_key = fields.Char(
        "Company Key", readonly=True, strip=False, loading='lazy')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                # a page of the list, newest first (the default order), of a
                # representative (record rule) or of a source, read from
                # the index without sorting the matching leads
                Index(t,
                    (t.owner, Index.Equality()),
                    (t.active, Index.Equality(cardinality='low')),
                    (t.create_date, Index.Range(order='DESC')),
                    (t.id, Index.Range())),
                Index(t,
                    (t.source, Index.Equality(cardinality='low')),
                    (t.active, Index.Equality(cardinality='low')),
                    (t.create_date, Index.Range(order='DESC')),
                    (t.id, Index.Range())),
                Index(t, (t.stage, Index.Equality(cardinality='low'))),
                Index(t, (t.stage_kind, Index.Equality(cardinality='low'))),
                Index(t, (t.territory, Index.Equality())),
                # the search box (rec_name ilike) on PostgreSQL with pg_trgm
                Index(t, (Index.Unaccent(t.name), Index.Similarity())),
                Index(t, (Index.Unaccent(Coalesce(t.company_name, '')),
                        Index.Similarity())),
                Index(t, (Index.Unaccent(Coalesce(t.email, '')),
                        Index.Similarity())),
                Index(t, (Index.Unaccent(Coalesce(t.phone, '')),
                        Index.Similarity())),
                Index(t, (t.next_follow_up, Index.Range())),
                Index(t, (t.party, Index.Range())),
                Index(t, (t.email_key, Index.Equality())),
                Index(t, (t.phone_key, Index.Equality())),
                Index(t, (t.company_key, Index.Equality())),
                Index(t, (t.create_date, Index.Range(order='DESC'))),
                })
        cls._order.insert(0, ('create_date', 'DESC'))
        cls._buttons.update({
                'change_stage': {
                    'invisible': Eval('stage_kind') != 'open',
                    'depends': ['stage_kind'],
                    },
                'archive': {
                    'invisible': ~Eval('active', True),
                    'icon': 'tryton-archive',
                    'depends': ['active'],
                    },
                'assign': {
                    'invisible': Eval('stage_kind') != 'open',
                    'depends': ['stage_kind'],
                    },
                'convert': {
                    'invisible': ((Eval('stage_kind') != 'won')
                        | Bool(Eval('party'))),
                    'depends': ['stage_kind', 'party'],
                    },
                })

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('/tree/field[@name="stage"]', 'visual',
                Eval('stage_colour', ''), ['stage_colour']),
            ]

    @classmethod
    def default_source(cls):
        return 'other'

    @classmethod
    def default_stage(cls):
        Stage = Pool().get('autolead.lead.stage')
        stage = Stage.first_open()
        return stage.id if stage else None

    @classmethod
    def default_stage_kind(cls):
        Stage = Pool().get('autolead.lead.stage')
        stage = Stage.first_open()
        return stage.kind if stage else None

    @classmethod
    def default_owner(cls):
        # Leads entered by a head or an administrator go through the
        # assignment rules instead of landing on their desk
        if Transaction().user and not is_manager():
            return Transaction().user

    @fields.depends('stage')
    def on_change_stage(self):
        self.stage_kind = self.stage.kind if self.stage else None

    @fields.depends('stage')
    def on_change_with_stage_colour(self, name=None):
        return self.stage.colour if self.stage else None

    @classmethod
    def get_stage_colour(cls, leads, name):
        # every row of the list: one query instead of loading each lead
        pool = Pool()
        Stage = pool.get('autolead.lead.stage')
        lead = cls.__table__()
        stage = Stage.__table__()
        cursor = Transaction().connection.cursor()
        colours = {l.id: None for l in leads}
        for sub_ids in grouped_slice(
                list(colours), backend.MAX_QUERY_PARAMS):
            cursor.execute(*lead.join(
                    stage, condition=lead.stage == stage.id
                    ).select(
                    lead.id, stage.colour,
                    where=reduce_ids(lead.id, sub_ids)))
            colours.update(cursor)
        return colours

    @classmethod
    def get_follow_up_count(cls, leads, name):
        pool = Pool()
        Note = pool.get('autolead.lead.note')
        note = Note.__table__()
        cursor = Transaction().connection.cursor()
        counts = {l.id: 0 for l in leads}
        for sub_ids in grouped_slice(
                list(counts), backend.MAX_QUERY_PARAMS):
            cursor.execute(*note.select(
                    note.lead, Count(note.id),
                    where=reduce_ids(note.lead, sub_ids),
                    group_by=[note.lead]))
            counts.update(cursor)
        return counts

    @classmethod
    def _follow_up_count_query(cls, table):
        Note = Pool().get('autolead.lead.note')
        note = Note.__table__()
        return note.select(
            Count(note.id), where=note.lead == table.id)

    @classmethod
    def search_follow_up_count(cls, name, clause):
        _, operator, value = clause[:3]
        table = cls.__table__()
        Operator = fields.SQL_OPERATORS[operator]
        count = Coalesce(cls._follow_up_count_query(table), 0)
        query = table.select(table.id, where=Operator(count, value))
        return [('id', 'in', query)]

    @classmethod
    def order_follow_up_count(cls, tables):
        table, _ = tables[None]
        return [cls._follow_up_count_query(table)]

    def get_rec_name(self, name):
        if self.company_name:
            return f'{self.name} ({self.company_name})'
        return self.name

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, value = clause[:3]
        if operator.startswith('!') or operator.startswith('not '):
            bool_op = 'AND'
        else:
            bool_op = 'OR'
            if operator == 'ilike':
                key = cls._contact_key_clause(value)
                if key:
                    return [key]
        return [bool_op,
            ('name', operator, value),
            ('company_name', operator, value),
            ('email', operator, value),
            ('phone', operator, value),
            ]

    @classmethod
    def _contact_key_clause(cls, value):
        """The clause finding a whole email address or phone number typed in
        the search box by its normalised key: one index lookup instead of
        scanning four columns, and it matches whatever the spelling"""
        if not isinstance(value, str) or not is_full_text(value):
            return
        text = unescape_wildcard(strip_wildcard(value)).strip()
        table = cls.__table__()
        try:
            if '@' in text:
                column, key = table.email_key, normalize_email(text)
            elif (sum(c.isdigit() for c in text) >= 8
                    and not text.strip('+0123456789 -.()')):
                column, key = table.phone_key, normalize_phone(text)
            else:
                return
        except (InvalidEmail, InvalidPhone):
            return
        # not ('email_key', '=', key): a Char domain compares
        # COALESCE(column, ''), which the index on the column does not serve
        return ('id', 'in', table.select(table.id, where=column == key))

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Stage = pool.get('autolead.lead.stage')
        values = super().preprocess_values(mode, values)
        if mode == 'create' and 'stage' not in values:
            values['stage'] = cls.default_stage()
        if 'stage' in values:
            values['stage_kind'] = (
                Stage(values['stage']).kind if values['stage'] else None)
        if 'email' in values:
            values['email_key'] = cls._normalized(
                normalize_email, InvalidEmail, 'msg_lead_invalid_email',
                values['email'])
            if values['email_key']:
                values['email'] = values['email'].strip()
        if 'phone' in values:
            values['phone_key'] = cls._normalized(
                normalize_phone, InvalidPhone, 'msg_lead_invalid_phone',
                values['phone'])
        if 'company_name' in values:
            values['company_key'] = normalize_company(values['company_name'])
        return values

    @staticmethod
    def _normalized(normalize, error, message, value):
        try:
            return normalize(value)
        except error:
            raise ValidationError(gettext(
                    f'autolead.{message}', value=value))

    @classmethod
    def validate_fields(cls, leads, field_names):
        super().validate_fields(leads, field_names)
        if field_names & {'stage', 'stage_kind', 'lost_reason'}:
            for lead in leads:
                lead.check_lost_reason()

    def check_lost_reason(self):
        if self.stage_kind == 'lost' and not self.lost_reason:
            raise RequiredValidationError(gettext(
                    'autolead.msg_lead_lost_reason_required',
                    lead=self.rec_name))

    @classmethod
    def create(cls, vlist):
        pool = Pool()
        Rule = pool.get('autolead.lead.assignment.rule')
        if Transaction().check_access and not is_manager():
            user = Transaction().user
            for values in vlist:
                if values.get('owner', user) not in {user, None}:
                    raise AccessError(gettext(
                            'autolead.msg_lead_reassign_denied',
                            lead=values.get('name')))
        leads = super().create(vlist)
        cls._record_creation(leads)
        Rule.assign(leads)
        return leads

    @classmethod
    def write(cls, *args):
        actions = iter(args)
        before = {}
        for leads, values in zip(actions, actions):
            if 'owner' in values and Transaction().check_access:
                cls.check_reassign(leads, values['owner'])
            if 'stage' in values:
                cls.check_stage_transition(leads, values['stage'])
            tracked = [f for f in TRACKED_FIELDS if f in values]
            if tracked:
                old_values = cls._history_values(leads, tracked)
                for lead_id, old in old_values.items():
                    lead_before = before.setdefault(lead_id, {})
                    for fname, value in old.items():
                        lead_before.setdefault(fname, value)
        super().write(*args)
        cls._record_changes(before)

    @classmethod
    def check_reassign(cls, leads, owner_id):
        if is_manager():
            return
        for lead in leads:
            current = lead.owner.id if lead.owner else None
            if current != owner_id:
                raise AccessError(gettext(
                        'autolead.msg_lead_reassign_denied',
                        lead=lead.rec_name))

    @classmethod
    def check_stage_transition(cls, leads, stage_id):
        pool = Pool()
        Stage = pool.get('autolead.lead.stage')
        Transition = pool.get('autolead.lead.stage.transition')
        stage = Stage(stage_id)
        # one query per stage the leads leave, not per lead
        allowed = {}
        for lead in leads:
            if lead.stage not in allowed:
                allowed[lead.stage] = Transition.allowed(lead.stage, stage)
            if not allowed[lead.stage]:
                raise ValidationError(gettext(
                        'autolead.msg_lead_stage_transition_denied',
                        lead=lead.rec_name,
                        from_stage=lead.stage.rec_name,
                        to_stage=stage.rec_name))

    @classmethod
    def _history_values(cls, leads, names):
        "The values of the fields as the timeline shows them, by lead id"
        columns = [
            f'{n}.rec_name' if cls._fields[n]._type == 'many2one' else n
            for n in names]
        with without_check_access():
            rows = cls.read([l.id for l in leads], columns)
        result = {}
        for row in rows:
            values = result[row['id']] = {}
            for name in names:
                field = cls._fields[name]
                if field._type == 'many2one':
                    value = (row.get(f'{name}.') or {}).get('rec_name')
                else:
                    value = row[name]
                    if field._type == 'selection':
                        value = dict(field.selection).get(value, value)
                    elif value is not None:
                        value = str(value)
                values[name] = value
        return result

    @classmethod
    def _record_creation(cls, leads):
        History = Pool().get('autolead.lead.history')
        user = Transaction().user or None
        history = []
        values = cls._history_values(leads, ['stage', 'owner'])
        for lead in leads:
            history.append({
                    'lead': lead.id,
                    'user': user,
                    'field': None,
                    'new_value': values[lead.id]['stage'],
                    })
            if values[lead.id]['owner']:
                history.append({
                        'lead': lead.id,
                        'user': user,
                        'field': 'owner',
                        'new_value': values[lead.id]['owner'],
                        })
        with without_check_access():
            History.create(history)

    @classmethod
    def _record_changes(cls, before):
        History = Pool().get('autolead.lead.history')
        user = Transaction().user or None
        history = []
        fnames = sorted({f for old in before.values() for f in old})
        if not fnames:
            return
        after = cls._history_values(cls.browse(list(before)), fnames)
        for lead_id, old in before.items():
            for fname in TRACKED_FIELDS:
                if fname not in old:
                    continue
                new_value = after[lead_id][fname]
                if new_value != old[fname]:
                    history.append({
                            'lead': lead_id,
                            'user': user,
                            'field': fname,
                            'old_value': old[fname],
                            'new_value': new_value,
                            })
        if history:
            with without_check_access():
                History.create(history)

    @classmethod
    def copy(cls, leads, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('notes')
        default.setdefault('interactions')
        default.setdefault('history')
        default.setdefault('party')
        default.setdefault('stage', cls.default_stage())
        default.setdefault('lost_reason')
        return super().copy(leads, default=default)

    @classmethod
    @ModelView.button_action('autolead.wizard_lead_change_stage')
    def change_stage(cls, leads):
        pass

    @classmethod
    @ModelView.button_action('autolead.wizard_lead_assign')
    def assign(cls, leads):
        pass

    @classmethod
    @ModelView.button_action('autolead.wizard_lead_convert')
    def convert(cls, leads):
        pass

    @classmethod
    @ModelView.button
    def archive(cls, leads):
        """Hide the leads from the lists, with their notes and calls kept;
        ticking Active again restores them"""
        cls.write(leads, {'active': False})

    def convert_to_customer(self, customer_status='new'):
        "Create the customer of a won lead and link it"
        pool = Pool()
        Party = pool.get('party.party')
        # two users converting the same lead at once make one customer
        lock(self.__class__, [self])
        party = self.__class__(self.id).party
        if party:
            raise UserError(gettext(
                    'autolead.msg_lead_already_converted',
                    lead=self.rec_name, party=party.rec_name))
        if self.stage.kind != 'won':
            raise UserError(gettext(
                    'autolead.msg_lead_convert_not_won',
                    lead=self.rec_name))
        mechanisms = []
        if self.email:
            mechanisms.append({'type': 'email', 'value': self.email})
        if self.phone:
            # the number as the lead understood it (international form):
            # a local number the lead accepted is not refused by the party
            mechanisms.append({
                    'type': 'phone', 'value': self.phone_key or self.phone})
        with without_check_access():
            party, = Party.create([{
                        'name': self.name,
                        'company_name': self.company_name,
                        'customer_status': customer_status,
                        'contact_mechanisms': [('create', mechanisms)],
                        }])
        self.__class__.write([self], {'party': party.id})
        return party

    def invite_to_portal(self):
        "Create the portal account of the customer and mail the invitation"
        pool = Pool()
        WebUser = pool.get('web.user')
        if not self.email:
            raise UserError(gettext(
                    'autolead.msg_lead_invite_no_email', lead=self.rec_name))
        with without_check_access():
            if WebUser.search([('email', '=', self.email_key)], limit=1):
                raise UserError(gettext(
                        'autolead.msg_lead_invite_exists',
                        email=self.email))
            web_user, = WebUser.create([{
                        'email': self.email_key,
                        'party': self.party.id,
                        }])
            WebUser.reset_password([web_user])
        return web_user


class History(ModelSQL, ModelView):
    __name__ = 'autolead.lead.history'
    __string__ = "Lead Change"

    lead = fields.Many2One(
        'autolead.lead', "Lead", required=True, readonly=True,
        ondelete='CASCADE')
    date = fields.DateTime("Date", required=True, readonly=True)
    user = fields.Many2One(
        'res.user', "User", readonly=True, ondelete='SET NULL')
    field = fields.Selection(
        'get_fields', "Field", readonly=True,
        help="The field that changed, empty when the lead was created.")
    old_value = fields.Char("Old Value", readonly=True)
    new_value = fields.Char("New Value", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.lead, Index.Range())))
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def default_date(cls):
        return datetime.datetime.now()

    @classmethod
    def get_fields(cls):
        Lead = Pool().get('autolead.lead')
        return [(None, "Created")] + [
            (name, Lead._fields[name].string) for name in TRACKED_FIELDS]


class Note(ModelSQL, ModelView):
    __name__ = 'autolead.lead.note'
    __string__ = "Lead Note"

    lead = fields.Many2One(
        'autolead.lead', "Lead", required=True, ondelete='CASCADE')
    author = fields.Many2One(
        'res.user', "Author", readonly=True, ondelete='SET NULL')
    date = fields.DateTime("Date", required=True)
    text = fields.Text("Text", required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.lead, Index.Range())))
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def default_author(cls):
        return Transaction().user or None

    @classmethod
    def default_date(cls):
        return datetime.datetime.now()


class Interaction(ModelSQL, ModelView):
    __name__ = 'autolead.lead.interaction'
    __string__ = "Contact with a Lead"

    lead = fields.Many2One(
        'autolead.lead', "Lead", required=True, ondelete='CASCADE')
    date = fields.DateTime("Date", required=True)
    type = fields.Selection([
            ('call', "Call"),
            ('email', "Email"),
            ('meeting', "Meeting"),
            ], "Type", required=True, sort=False)
    direction = fields.Selection([
            ('outbound', "Outbound"),
            ('inbound', "Inbound"),
            ], "Direction", required=True, sort=False)
    outcome = fields.Selection([
            (None, ""),
            ('reached', "Reached"),
            ('no_answer', "No Answer"),
            ('voicemail', "Left Voicemail"),
            ('interested', "Interested"),
            ('not_interested', "Not Interested"),
            ('call_back', "Call Back Later"),
            ], "Outcome", sort=False)
    summary = fields.Text("Summary")
    user = fields.Many2One('res.user', "User", ondelete='SET NULL')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.lead, Index.Range())))
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def default_date(cls):
        return datetime.datetime.now()

    @classmethod
    def default_type(cls):
        return 'call'

    @classmethod
    def default_direction(cls):
        return 'outbound'

    @classmethod
    def default_user(cls):
        return Transaction().user or None


class ChangeStage(Wizard):
    __name__ = 'autolead.lead.change_stage'
    start = StateView('autolead.lead.change_stage.start',
        'autolead.lead_change_stage_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Change", 'change', 'tryton-ok', default=True),
            ])
    change = StateTransition()

    def default_start(self, fields):
        pool = Pool()
        Transition = pool.get('autolead.lead.stage.transition')
        from_stages = {r.stage for r in self.records}
        allowed = None
        with without_check_access():
            for from_stage in from_stages:
                to_stages = {t.to_stage.id for t in Transition.search([
                            ('from_stage', '=', from_stage.id)])}
                allowed = to_stages if allowed is None else (
                    allowed & to_stages)
        return {
            'allowed_stages': sorted(allowed or []),
            }

    def transition_change(self):
        self.model.write(list(self.records), {
                'stage': self.start.stage.id,
                'lost_reason': (
                    self.start.lost_reason.id
                    if self.start.stage.kind == 'lost'
                    and self.start.lost_reason else None),
                })
        return 'end'


class ChangeStageStart(ModelView):
    __name__ = 'autolead.lead.change_stage.start'
    __string__ = "Change Stage"

    allowed_stages = fields.Many2Many(
        'autolead.lead.stage', None, None, "Allowed Stages", readonly=True)
    stage = fields.Many2One(
        'autolead.lead.stage', "Stage", required=True,
        domain=[('id', 'in', Eval('allowed_stages', []))])
    stage_kind = fields.Function(fields.Selection(
            STAGE_KINDS, "Stage Kind"), 'on_change_with_stage_kind')
    lost_reason = fields.Many2One(
        'autolead.lead.lost_reason', "Lost Reason",
        states={
            'invisible': Eval('stage_kind') != 'lost',
            'required': Eval('stage_kind') == 'lost',
            })

    @fields.depends('stage')
    def on_change_with_stage_kind(self, name=None):
        return self.stage.kind if self.stage else None


class Convert(Wizard):
    __name__ = 'autolead.lead.convert'
    start = StateView('autolead.lead.convert.start',
        'autolead.lead_convert_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Convert", 'convert', 'tryton-ok', default=True),
            ])
    convert = StateTransition()

    def default_start(self, fields):
        return {
            'customer_status': 'new',
            'invite': False,
            }

    def transition_convert(self):
        for lead in self.records:
            lead.convert_to_customer(self.start.customer_status)
            if self.start.invite:
                lead.invite_to_portal()
        return 'end'


class ConvertStart(ModelView):
    __name__ = 'autolead.lead.convert.start'
    __string__ = "Convert to Customer"

    customer_status = fields.Selection(
        'get_customer_statuses', "Customer Status", required=True)
    invite = fields.Boolean(
        "Invite to Portal",
        help="Create a portal account for the lead's email and send "
        "an email to set the password.")

    @classmethod
    def get_customer_statuses(cls):
        return [(k, v) for k, v in CUSTOMER_STATUSES if k]
