import datetime
import html
import json
from http import HTTPStatus

from sql.aggregate import Count

from trytond import backend
from trytond.i18n import gettext
from trytond.model import (
    Index, ModelSQL, ModelView, Unique, Workflow, fields)
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool, PoolMeta
from trytond.protocols.wrappers import (
    Response, allow_null_origin, with_pool, with_transaction)
from trytond.pyson import Eval, If
from trytond.tools import grouped_slice, reduce_ids
from trytond.transaction import Transaction, without_check_access
from trytond.wsgi import app

from . import rate_limit
from .normalize import InvalidEmail, normalize_email

HONEYPOT = 'website'


class Campaign(Workflow, ModelSQL, ModelView):
    "Marketing campaign"
    __name__ = 'autolead.campaign'
    __string__ = "Campaign"

    _states = {
        'readonly': Eval('state').in_(['inactive', 'discarded']),
        }

    title = fields.Char("Title", required=True, states=_states)
    code = fields.Char(
        "Code", required=True, states=_states,
        help="A short unique code used in the signup links, "
        "for example \"spring-referral\".")
    description = fields.Text("Description", states=_states)
    type = fields.Selection([
            ('referral', "Referral"),
            ('promotion', "Promotion"),
            ('greetings', "Greetings"),
            ], "Type", required=True, states=_states)
    visibility = fields.Selection([
            ('private', "Private"),
            ('internal', "Internal"),
            ('public', "Public"),
            ], "Visibility", required=True, states=_states,
        help="Private: only its owner and managers see it.\n"
        "Internal: every sales representative sees it.\n"
        "Public: its signup widget may be embedded on any web site.")
    start_date = fields.Date("Start Date", states=_states)
    end_date = fields.Date(
        "End Date", states=_states,
        domain=[
            If(Eval('start_date') & Eval('end_date'),
                ('end_date', '>=', Eval('start_date', None)),
                ()),
            ])
    owner = fields.Many2One(
        'res.user', "Owner", required=True, ondelete='RESTRICT',
        states=_states)
    views = fields.Integer("Views", readonly=True)
    likes = fields.Integer("Likes", readonly=True)
    enrolments = fields.Function(
        fields.Integer("Enrolments",
            help="The number of leads who signed up through the campaign."),
        'get_enrolments')
    greeting_subject = fields.Char(
        "Greeting Subject", states={
            'invisible': Eval('type') != 'greetings',
            'required': Eval('type') == 'greetings',
            'readonly': _states['readonly'],
            })
    greeting_body = fields.Text(
        "Greeting Message",
        help="\"{name}\" is replaced by the name of each customer.",
        states={
            'invisible': Eval('type') != 'greetings',
            'readonly': _states['readonly'],
            })
    greeting_at = fields.DateTime(
        "Send Greeting At", states={
            'invisible': Eval('type') != 'greetings',
            'required': Eval('type') == 'greetings',
            'readonly': _states['readonly'],
            })
    greeting_parties = fields.Many2Many(
        'autolead.campaign-party.party', 'campaign', 'party',
        "Greeting Recipients", states={
            'invisible': Eval('type') != 'greetings',
            'readonly': _states['readonly'],
            })
    greeting_sent_at = fields.DateTime(
        "Greeting Sent At", readonly=True, states={
            'invisible': Eval('type') != 'greetings',
            })
    state = fields.Selection([
            ('draft', "Draft"),
            ('new', "New"),
            ('active', "Active"),
            ('inactive', "Inactive"),
            ('discarded', "Discarded"),
            ], "State", readonly=True, required=True, sort=False)

    del _states

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_unique', Unique(t, t.code),
                'autolead.msg_campaign_code_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.owner, Index.Range())),
                Index(t, (t.state, Index.Equality(cardinality='low'))),
                })
        cls._order = [('start_date', 'DESC NULLS FIRST'), ('id', 'DESC')]
        cls._transitions |= {
            ('draft', 'new'),
            ('new', 'active'),
            ('active', 'inactive'),
            ('inactive', 'active'),
            ('draft', 'discarded'),
            ('new', 'discarded'),
            ('inactive', 'discarded'),
            ('new', 'draft'),
            ('discarded', 'draft'),
            }
        cls._buttons.update({
                'draft': {
                    'invisible': ~Eval('state').in_(['new', 'discarded']),
                    'icon': 'tryton-undo',
                    'depends': ['state'],
                    },
                'submit': {
                    'invisible': Eval('state') != 'draft',
                    'icon': 'tryton-forward',
                    'depends': ['state'],
                    },
                'activate': {
                    'invisible': ~Eval('state').in_(['new', 'inactive']),
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                'deactivate': {
                    'invisible': Eval('state') != 'active',
                    'icon': 'tryton-close',
                    'depends': ['state'],
                    },
                'discard': {
                    'invisible': ~Eval('state').in_(
                        ['draft', 'new', 'inactive']),
                    'icon': 'tryton-cancel',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    def default_type(cls):
        return 'referral'

    @classmethod
    def default_visibility(cls):
        return 'internal'

    @classmethod
    def default_owner(cls):
        return Transaction().user or None

    @classmethod
    def default_views(cls):
        return 0

    @classmethod
    def default_likes(cls):
        return 0

    @classmethod
    def get_enrolments(cls, campaigns, name):
        pool = Pool()
        Lead = pool.get('autolead.lead')
        lead = Lead.__table__()
        cursor = Transaction().connection.cursor()
        counts = dict.fromkeys(map(int, campaigns), 0)
        for sub_ids in grouped_slice(campaigns, backend.MAX_QUERY_PARAMS):
            cursor.execute(*lead.select(
                    lead.campaign, Count(lead.id),
                    where=reduce_ids(lead.campaign, map(int, sub_ids)),
                    group_by=[lead.campaign]))
            counts.update(cursor)
        return counts

    def get_rec_name(self, name):
        return f'[{self.code}] {self.title}'

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, value = clause[:3]
        if operator.startswith('!') or operator.startswith('not '):
            bool_op = 'AND'
        else:
            bool_op = 'OR'
        return [bool_op,
            ('title', operator, value),
            ('code', operator, value),
            ]

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if values.get('code'):
            values['code'] = values['code'].strip().lower()
        return values

    @classmethod
    def copy(cls, campaigns, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('views', 0)
        default.setdefault('likes', 0)
        default.setdefault('greeting_sent_at', None)
        default.setdefault('state', 'draft')
        default.setdefault('code', lambda data: data['code'] + '-copy')
        return super().copy(campaigns, default=default)

    @classmethod
    def _increment(cls, campaigns, field):
        table = cls.__table__()
        column = getattr(table, field)
        cursor = Transaction().connection.cursor()
        for sub in grouped_slice(campaigns, backend.MAX_QUERY_PARAMS):
            cursor.execute(*table.update(
                    [column], [column + 1],
                    where=reduce_ids(table.id, map(int, sub))))

    @classmethod
    def record_view(cls, campaigns):
        "Count a view of the campaigns"
        cls._increment(campaigns, 'views')

    @classmethod
    def record_like(cls, campaigns):
        "Count a like of the campaigns"
        cls._increment(campaigns, 'likes')

    @classmethod
    @ModelView.button
    @Workflow.transition('draft')
    def draft(cls, campaigns):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('new')
    def submit(cls, campaigns):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('active')
    def activate(cls, campaigns):
        cls._notify_owner(campaigns, 'activated')

    @classmethod
    @ModelView.button
    @Workflow.transition('inactive')
    def deactivate(cls, campaigns):
        cls._notify_owner(campaigns, 'deactivated')

    @classmethod
    @ModelView.button
    @Workflow.transition('discarded')
    def discard(cls, campaigns):
        pass

    @classmethod
    def _notify_owner(cls, campaigns, event):
        pool = Pool()
        Message = pool.get('autolead.automation.message')
        now = datetime.datetime.now()
        user = Transaction().user
        values = []
        for campaign in campaigns:
            args = {
                'campaign': campaign.rec_name,
                }
            values.append({
                    'key': (f'campaign-{campaign.id}-{event}-'
                        f'{now.isoformat()}-{user}'),
                    'origin': str(campaign),
                    'user': campaign.owner.id,
                    'to': campaign.owner.email,
                    'subject': gettext(
                        f'autolead.msg_campaign_{event}_subject', **args),
                    'body': gettext(
                        f'autolead.msg_campaign_{event}_body', **args),
                    })
        with without_check_access():
            Message.post(values)

    @classmethod
    def send_greetings(cls, now=None):
        "Send the greetings of the active campaigns due at now, once"
        pool = Pool()
        Message = pool.get('autolead.automation.message')
        if now is None:
            now = datetime.datetime.now()
        campaigns = cls.search([
                ('state', '=', 'active'),
                ('type', '=', 'greetings'),
                ('greeting_at', '<=', now),
                ('greeting_sent_at', '=', None),
                ], order=[('greeting_at', 'ASC'), ('id', 'ASC')])
        values = []
        for campaign in campaigns:
            for party in campaign.greeting_parties:
                if party.marketing_unsubscribed:
                    continue
                body = (campaign.greeting_body or '').replace(
                    '{name}', party.rec_name)
                values.append({
                        'key': f'campaign-{campaign.id}-greeting-{party.id}',
                        'origin': str(campaign),
                        'to': party.email,
                        'subject': campaign.greeting_subject,
                        'body': '\n\n'.join(
                            filter(None, [body, party.marketing_footer()])),
                        })
        Message.post(values)
        cls.write(campaigns, {'greeting_sent_at': now})

    @classmethod
    def send_daily_summary(cls, date=None):
        "Send every owner of active campaigns the figures of the day, once"
        pool = Pool()
        Message = pool.get('autolead.automation.message')
        if date is None:
            date = datetime.date.today()
        campaigns = cls.search([
                ('state', '=', 'active'),
                ], order=[('owner', 'ASC'), ('code', 'ASC')])
        by_owner = {}
        for campaign in campaigns:
            by_owner.setdefault(campaign.owner, []).append(campaign)
        values = []
        for owner, owned in by_owner.items():
            lines = '\n'.join(gettext(
                    'autolead.msg_campaign_summary_line',
                    campaign=c.rec_name, views=c.views or 0,
                    likes=c.likes or 0, enrolments=c.enrolments)
                for c in owned)
            values.append({
                    'key': f'campaign-summary-{owner.id}-{date.isoformat()}',
                    'user': owner.id,
                    'to': owner.email,
                    'subject': gettext(
                        'autolead.msg_campaign_summary_subject',
                        date=date.isoformat()),
                    'body': lines,
                    })
        Message.post(values)

    @classmethod
    def signup(cls, campaign, name, email, phone=None):
        "Create the lead of a person who signed up through the campaign"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        lead, = Lead.create([{
                    'name': name,
                    'email': email,
                    'phone': phone or None,
                    'source': 'referral',
                    'campaign': campaign.id,
                    }])
        return lead


class CampaignParty(ModelSQL):
    "Campaign greeting recipient"
    __name__ = 'autolead.campaign-party.party'
    __string__ = "Campaign Recipient"

    campaign = fields.Many2One(
        'autolead.campaign', "Campaign", required=True, ondelete='CASCADE')
    party = fields.Many2One(
        'party.party', "Party", required=True, ondelete='CASCADE')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.campaign, Index.Range())))


class Lead(metaclass=PoolMeta):
    __name__ = 'autolead.lead'

    campaign = fields.Many2One(
        'autolead.campaign', "Campaign", ondelete='SET NULL', loading='lazy',
        help="The campaign through which the lead signed up.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(
            Index(t, (t.campaign, Index.Range()),
                where=t.campaign != None))  # noqa: E711


def _widget_campaign(pool, code):
    Campaign = pool.get('autolead.campaign')
    campaigns = Campaign.search([
            ('code', '=', code.lower()),
            ('state', '=', 'active'),
            ('visibility', 'in', ['internal', 'public']),
            ], limit=1)
    if not campaigns:
        return None
    return campaigns[0]


def _cors(response, campaign):
    if campaign.visibility == 'public':
        response.headers['Access-Control-Allow-Origin'] = '*'
    return response


WIDGET_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{title}</title>
<style>
.autolead-signup {{font-family: sans-serif; max-width: 22em;}}
.autolead-signup label {{display: block; margin-top: .5em;}}
.autolead-signup input {{width: 100%; box-sizing: border-box;}}
.autolead-signup .autolead-hp {{position: absolute; left: -10000px;}}
</style></head><body>
<form class="autolead-signup" method="post" action="{action}">
<h3>{title}</h3>
<p>{description}</p>
<label>{name_label}<input name="name" required></label>
<label>{email_label}<input name="email" type="email" required></label>
<label>{phone_label}<input name="phone" type="tel"></label>
<div class="autolead-hp" aria-hidden="true"><label>Website
<input name="{honeypot}" tabindex="-1" autocomplete="off"></label></div>
<button type="submit">{submit_label}</button>
</form></body></html>
"""

WIDGET_JS = """(function () {{
    var frame = document.createElement('iframe');
    frame.src = {src};
    frame.title = {title};
    frame.style.border = '0';
    frame.style.width = '100%';
    frame.style.height = '24em';
    var script = document.currentScript;
    script.parentNode.insertBefore(frame, script.nextSibling);
}})();
"""


def _page(body, status=HTTPStatus.OK):
    return Response(
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'</head><body><p>{html.escape(body)}</p></body></html>',
        status=status, content_type='text/html; charset=utf-8')


@app.route(
    '/<database_name>/autolead/campaign/<code>/widget.html',
    methods={'GET'})
@allow_null_origin
@with_pool
@with_transaction(readonly=False)
def campaign_widget_html(request, pool, code):
    Campaign = pool.get('autolead.campaign')
    campaign = _widget_campaign(pool, code)
    if not campaign:
        return _page(gettext('autolead.msg_campaign_not_found'),
            HTTPStatus.NOT_FOUND)
    Campaign.record_view([campaign])
    action = request.base_url.rsplit('/', 1)[0] + '/signup'
    body = WIDGET_HTML.format(
        title=html.escape(campaign.title),
        description=html.escape(campaign.description or ''),
        action=html.escape(action),
        honeypot=HONEYPOT,
        name_label=html.escape(gettext('autolead.msg_campaign_widget_name')),
        email_label=html.escape(
            gettext('autolead.msg_campaign_widget_email')),
        phone_label=html.escape(
            gettext('autolead.msg_campaign_widget_phone')),
        submit_label=html.escape(
            gettext('autolead.msg_campaign_widget_submit')))
    return _cors(Response(body, content_type='text/html; charset=utf-8'),
        campaign)


@app.route(
    '/<database_name>/autolead/campaign/<code>/widget.js',
    methods={'GET'})
@allow_null_origin
@with_pool
@with_transaction()
def campaign_widget_js(request, pool, code):
    campaign = _widget_campaign(pool, code)
    if not campaign:
        return Response('', status=HTTPStatus.NOT_FOUND,
            content_type='text/javascript')
    src = request.base_url.rsplit('/', 1)[0] + '/widget.html'
    body = WIDGET_JS.format(
        src=json.dumps(src), title=json.dumps(campaign.title))
    return _cors(Response(body, content_type='text/javascript'), campaign)


@app.route(
    '/<database_name>/autolead/campaign/<code>/signup',
    methods={'POST', 'OPTIONS'})
@allow_null_origin
@with_pool
@with_transaction(readonly=False)
def campaign_signup(request, pool, code):
    Campaign = pool.get('autolead.campaign')
    campaign = _widget_campaign(pool, code)
    if not campaign:
        return _page(gettext('autolead.msg_campaign_not_found'),
            HTTPStatus.NOT_FOUND)
    if request.method == 'OPTIONS':
        return _cors(Response(status=HTTPStatus.NO_CONTENT), campaign)
    form = request.form
    thanks = gettext('autolead.msg_campaign_signup_thanks',
        campaign=campaign.title)
    if form.get(HONEYPOT):
        # Bots fill every field; answer as usual so they learn nothing
        return _cors(_page(thanks), campaign)
    if not rate_limit.allow('campaign_signup', request.remote_addr):
        return _cors(_page(gettext('autolead.msg_campaign_rate_limit'),
                HTTPStatus.TOO_MANY_REQUESTS), campaign)
    name = (form.get('name') or '').strip()
    email = (form.get('email') or '').strip()
    try:
        if not normalize_email(email):
            raise InvalidEmail(email)
    except InvalidEmail:
        return _cors(_page(
                gettext('autolead.msg_campaign_signup_bad_email',
                    email=email),
                HTTPStatus.BAD_REQUEST), campaign)
    if not name:
        return _cors(_page(
                gettext('autolead.msg_campaign_signup_name_required'),
                HTTPStatus.BAD_REQUEST), campaign)
    try:
        Campaign.signup(campaign, name, email, form.get('phone'))
    except ValidationError as exception:
        Transaction().rollback()
        return _cors(_page(exception.message, HTTPStatus.BAD_REQUEST),
            campaign)
    return _cors(_page(thanks), campaign)


@app.route(
    '/<database_name>/autolead/campaign/<code>/like',
    methods={'POST'})
@allow_null_origin
@with_pool
@with_transaction(readonly=False)
def campaign_like(request, pool, code):
    Campaign = pool.get('autolead.campaign')
    campaign = _widget_campaign(pool, code)
    if not campaign:
        return Response('', status=HTTPStatus.NOT_FOUND)
    if not rate_limit.allow('campaign_like', request.remote_addr):
        return _cors(Response(
                gettext('autolead.msg_campaign_rate_limit'),
                status=HTTPStatus.TOO_MANY_REQUESTS,
                content_type='text/plain; charset=utf-8'), campaign)
    Campaign.record_like([campaign])
    return _cors(Response(status=HTTPStatus.NO_CONTENT), campaign)
