"""The public web form that turns a visitor into a lead.

POST /<database>/autolead/capture with form fields or JSON: name, email,
phone, company_name and any other lead field an import would accept. The
lead goes through Lead.create, so it is validated and deduplicated like any
other. A filled `website` field (a honeypot hidden from people) is taken as
spam and silently dropped.
"""
import json

from trytond.config import config
from trytond.i18n import gettext
from trytond.pool import Pool
from trytond.protocols.wrappers import (
    HTTPStatus, Response, with_pool, with_transaction)
from trytond.wsgi import app

from . import rate_limit
from .importing import LeadFile

HONEYPOT = 'website'


def allowed_origins():
    Configuration = Pool().get('autolead.intake.configuration')
    origins = set(filter(None, (
                o.strip() for o in config.get(
                    'autolead', 'capture_cors', default='').split())))
    configuration = Configuration(1)
    origins.update(filter(None, (
                o.strip() for o in (
                    configuration.capture_origins or '').split())))
    return origins


class CaptureOrigin:
    """WSGI middleware taking the Origin of capture requests out of the way
    of Tryton's server-wide [web] cors check: the capture route answers for
    its own origins, which need not open the rest of the server."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if (environ.get('PATH_INFO', '').endswith(CAPTURE_PATH)
                and 'HTTP_ORIGIN' in environ):
            environ[ORIGIN_KEY] = environ.pop('HTTP_ORIGIN')
        return self.wsgi_app(environ, start_response)


CAPTURE_PATH = '/autolead/capture'
ORIGIN_KEY = 'autolead.capture_origin'
app.wsgi_app = CaptureOrigin(app.wsgi_app)


def _cors(request, response):
    origin = request.environ.get(ORIGIN_KEY)
    if origin and origin in allowed_origins():
        response.headers['Access-Control-Allow-Origin'] = origin
        response.headers['Access-Control-Allow-Methods'] = 'POST, OPTIONS'
        response.headers['Access-Control-Allow-Headers'] = 'Content-Type'
        response.headers['Vary'] = 'Origin'
    return response


def _json(request, code, **data):
    return _cors(request, Response(
            json.dumps(data), status=code,
            content_type='application/json'))


@app.route('/<database_name>/autolead/capture', methods={'POST', 'OPTIONS'})
@with_pool
@with_transaction(user=0)
def capture(request, pool):
    Configuration = pool.get('autolead.intake.configuration')
    origin = request.environ.get(ORIGIN_KEY)
    if origin and origin not in allowed_origins():
        return Response(status=HTTPStatus.FORBIDDEN)
    if request.method == 'OPTIONS':
        return _cors(request, Response(status=HTTPStatus.NO_CONTENT))
    if request.is_json:
        data = request.get_json(silent=True) or {}
    else:
        data = request.form.to_dict()
    data = {str(k): str(v) if v is not None else '' for k, v in data.items()}
    if data.get(HONEYPOT, '').strip():
        return _json(request, HTTPStatus.ACCEPTED, status='received')
    limit = Configuration(1).capture_rate_limit or 10
    if not rate_limit.allow('capture', request.remote_addr, limit):
        return _json(request, HTTPStatus.TOO_MANY_REQUESTS,
            error=gettext('autolead.msg_capture_rate_limit'))
    lead, error = create_lead(data)
    if error:
        return _json(request, HTTPStatus.BAD_REQUEST, error=error)
    return _json(request, HTTPStatus.CREATED, status='received')


def create_lead(data):
    """Create the website lead a visitor's form data describes.

    Returns the lead and None, or None and the reason it was refused; the
    customer portal's lead form comes through here too."""
    pool = Pool()
    Lead = pool.get('autolead.lead')
    User = pool.get('res.user')
    header = [k for k in data if k != HONEYPOT]
    # a visitor fills contact fields, never the pipeline or the owner
    targets = [t for t in Lead.import_targets()
        if t.type in {'char', 'text'} or t.name == 'source']
    lead_file = LeadFile(header, targets, {
            'email': gettext('autolead.msg_lead_invalid_email',
                value='{value}'),
            'phone': gettext('autolead.msg_lead_invalid_phone',
                value='{value}'),
            })
    if 'name' not in lead_file.mapping.values():
        return None, gettext('autolead.msg_capture_no_name')
    values, reason = lead_file.convert([data[h] for h in header])
    if reason:
        return None, reason
    for key in ('email_key', 'phone_key', 'company_key'):
        values.pop(key, None)
    values.setdefault('source', 'website')
    login = config.get('autolead', 'capture_owner', default=None)
    if login:
        owners = User.search([('login', '=', login)], limit=1)
        if owners:
            values['owner'] = owners[0].id
    lead, = Lead.create([values])
    return lead, None
