"""The chatbot of the public site and the customer portal.

POST /<database>/chatbot/ask with JSON {"question": "..."} answers from the
FAQ (`autolead.faq`); with the portal's `autolead_session` cookie it also
answers from the signed-in customer's own tickets and from the FAQ meant for
customers. GET /<database>/chatbot/widget.js is a small script that adds a
chat box to any page of the site. The retrieval is plain Python in
`ml/chatbot.py`; questions it cannot answer are logged for the
administrator.
"""
import datetime
import json
import threading
from pathlib import Path

from sql.aggregate import Count, Max
from sql.conditionals import Coalesce

from trytond.config import config
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.protocols.wrappers import (
    HTTPStatus, Response, with_pool, with_transaction)
from trytond.transaction import Transaction, without_check_access
from trytond.wsgi import app

from . import rate_limit

SESSION_COOKIE = 'autolead_session'
MAX_BODY = 4096
MAX_QUESTION = 500
# questions per minute and client address, unless [autolead]
# chatbot_rate_limit says otherwise
RATE_LIMIT = 30
WIDGET = Path(__file__).parent / 'static' / 'chatbot_widget.js'
AUDIENCES = [
    ('public', "Public"),
    ('customer', "Customer"),
    ]

_bots = {}
_bots_lock = threading.Lock()


class Question(ModelSQL, ModelView):
    "A question the chatbot could not answer"
    __name__ = 'autolead.chatbot.question'
    __string__ = "Unanswered Chatbot Question"

    date = fields.DateTime("Date", required=True, readonly=True)
    question = fields.Text("Question", required=True, readonly=True)
    audience = fields.Selection(
        AUDIENCES, "Asked By", required=True, readonly=True, sort=False)
    web_user = fields.Many2One(
        'web.user', "Customer Account", readonly=True, ondelete='SET NULL')
    confidence = fields.Float(
        "Confidence", digits=(1, 2), readonly=True,
        help="How close the nearest known question was, from 0 to 1.")
    nearest = fields.Char(
        "Nearest Question", readonly=True,
        help="The known question closest to the one asked.")
    handled = fields.Boolean(
        "Handled",
        help="Tick once the question is answered, for example by a new "
        "FAQ entry.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.date, Index.Range(order='DESC'))))
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def default_handled(cls):
        return False


def _faq_state(audiences):
    "What identifies the current FAQ: the bot is rebuilt when it changes"
    FAQ = Pool().get('autolead.faq')
    table = FAQ.__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*table.select(
            Count(table.id),
            Max(Coalesce(table.write_date, table.create_date)),
            where=table.active & table.audience.in_(list(audiences))))
    count, date = cursor.fetchone()
    return (count, str(date))


def get_bot(audiences):
    """The Chatbot over the active FAQ entries of audiences, built once per
    version of the FAQ"""
    from .ml.chatbot import Chatbot
    FAQ = Pool().get('autolead.faq')
    key = (Transaction().database.name, tuple(sorted(audiences)))
    state = _faq_state(audiences)
    cached = _bots.get(key)
    if cached and cached[0] == state:
        return cached[1]
    with without_check_access():
        entries = FAQ.search([('audience', 'in', list(audiences))])
        bot = Chatbot([{
                    'id': e.id,
                    'question': e.question,
                    'answer': e.answer,
                    # the keywords alone are too short to compare with a
                    # question, next to the question they widen it
                    'alternatives': (
                        [f'{e.question} {e.keywords}'] if e.keywords
                        else []),
                    } for e in entries])
    with _bots_lock:
        _bots[key] = (state, bot)
    return bot


def _customer(request):
    "The web.user signed in on the portal, or None"
    Session = Pool().get('web.user.session')
    key = request.cookies.get(SESSION_COOKIE)
    if not key:
        return None
    with without_check_access():
        return Session.get_user(key)


def _open_tickets(web_user):
    "The open tickets of the customer of web_user, and only theirs"
    pool = Pool()
    Ticket = pool.get('autolead.ticket')
    from .ticket import OPEN_STATES
    if not web_user.party:
        return []
    with without_check_access():
        tickets = Ticket.search([
                ('customer', '=', web_user.party.id),
                ('state', 'in', OPEN_STATES),
                ], order=[('create_date', 'DESC'), ('id', 'DESC')])
    return [{
            'number': t.number,
            'subject': t.subject,
            'state': t.state_string,
            } for t in tickets]


def answer(question, web_user=None):
    "The reply to question as a dict, logging what could not be answered"
    pool = Pool()
    Question = pool.get('autolead.chatbot.question')
    audiences = ['public', 'customer'] if web_user else ['public']
    bot = get_bot(audiences)
    customer = {'tickets': _open_tickets(web_user)} if web_user else None
    reply = bot.answer(question, customer=customer)
    result = {
        'kind': reply.kind,
        'confidence': round(reply.confidence, 2),
        'answer': None,
        'offer': None,
        'offer_url': None,
        'tickets': [],
        'suggestions': [q for _, q in reply.suggestions],
        }
    offer = 'ticket' if web_user else 'enquiry'
    if reply.kind == 'faq':
        result['answer'] = reply.answer
        if reply.topic == 'reset_password':
            result['offer'] = 'reset'
    elif reply.intent == 'reset_password':
        # signed in or not, the next step is the reset link, never a
        # sign-in the customer cannot do
        result['offer'] = 'reset'
        result['answer'] = gettext('autolead.msg_chatbot_reset_password')
    elif reply.kind == 'intent' and reply.needs_login:
        result['offer'] = 'signin'
        result['answer'] = gettext('autolead.msg_chatbot_needs_login')
    elif reply.intent == 'ticket_status':
        result['tickets'] = reply.records
        if reply.records:
            result['answer'] = '\n'.join(
                gettext('autolead.msg_chatbot_ticket_status', **t)
                for t in reply.records)
        elif len(reply.records) < len(customer['tickets']):
            result['answer'] = gettext(
                'autolead.msg_chatbot_ticket_not_found')
        else:
            result['answer'] = gettext('autolead.msg_chatbot_no_open_ticket')
    elif reply.intent == 'edit_profile':
        result['answer'] = gettext('autolead.msg_chatbot_edit_profile')
    elif reply.intent == 'open_ticket':
        result['offer'] = offer
        result['answer'] = gettext(f'autolead.msg_chatbot_open_{offer}')
    else:
        result['offer'] = offer
        result['answer'] = gettext('autolead.msg_chatbot_no_answer')
        nearest = None
        if reply.suggestions:
            nearest = reply.suggestions[0][1]
        with without_check_access():
            Question.create([{
                        'date': datetime.datetime.now(),
                        'question': question,
                        'audience': 'customer' if web_user else 'public',
                        'web_user': web_user.id if web_user else None,
                        'confidence': round(reply.confidence, 2),
                        'nearest': nearest,
                        }])
    if result['offer']:
        result['offer_url'] = config.get(
            'autolead', f"chatbot_{result['offer']}_url",
            default=_portal_url(result['offer']))
    return result


# the portal page of each next step offered, unless configured otherwise
PORTAL_PAGES = {
    'enquiry': 'contact',
    'ticket': 'tickets/new',
    'reset': 'reset',
    'signin': 'signin',
    }


def _portal_url(offer):
    return f'/{Transaction().database.name}/portal/{PORTAL_PAGES[offer]}'



def _json(code, **data):
    return Response(json.dumps(data), status=code,
        content_type='application/json')


@app.route('/<database_name>/chatbot/ask', methods={'POST'})
@with_pool
@with_transaction(user=0)
def ask(request, pool):
    if (request.content_length or 0) > MAX_BODY:
        return _json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            error=gettext('autolead.msg_chatbot_too_long'))
    limit = config.getint(
        'autolead', 'chatbot_rate_limit', default=RATE_LIMIT)
    if not rate_limit.allow('chatbot', request.remote_addr, limit):
        return _json(HTTPStatus.TOO_MANY_REQUESTS,
            error=gettext('autolead.msg_chatbot_rate_limit'))
    data = request.get_json(silent=True) if request.is_json \
        else request.form.to_dict()
    question = data.get('question') if isinstance(data, dict) else None
    if not isinstance(question, str) or not question.strip():
        return _json(HTTPStatus.BAD_REQUEST,
            error=gettext('autolead.msg_chatbot_no_question'))
    question = question.strip()
    if len(question) > MAX_QUESTION:
        return _json(HTTPStatus.BAD_REQUEST,
            error=gettext('autolead.msg_chatbot_too_long'))
    return _json(HTTPStatus.OK, **answer(question, _customer(request)))


@app.route('/<database_name>/chatbot/widget.js', methods={'GET'})
@with_pool
@with_transaction(user=0)
def widget(request, pool):
    texts = {
        'title': gettext('autolead.msg_chatbot_widget_title'),
        'placeholder': gettext('autolead.msg_chatbot_widget_placeholder'),
        'send': gettext('autolead.msg_chatbot_widget_send'),
        }
    script = WIDGET.read_text().replace(
        '__AUTOLEAD_CHATBOT__', json.dumps({
                'url': f'/{pool.database_name}/chatbot/ask',
                'texts': texts,
                }))
    response = Response(script, content_type='application/javascript')
    response.headers['Cache-Control'] = 'public, max-age=3600'
    return response
