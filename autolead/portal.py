"""The customer portal and public site, served under /<database>/portal.

The routes run as the root user: every record a customer reaches is looked up
through the party of the signed-in web user, never by id alone. The session
cookie holds the key of a `web.user.session`; signed-in forms carry an HMAC
of that key, anonymous forms a one-time token stored in
`autolead.portal.form_token`.
"""
import datetime
import hashlib
from functools import cached_property
import hmac
import mimetypes
import os
import secrets
from pathlib import Path
from urllib.parse import quote, urlencode

from genshi.template import TemplateLoader
from werkzeug.utils import redirect as _redirect

import trytond.config as config
from trytond.exceptions import RateLimitException, UserError
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, Unique, fields
from trytond.protocols.wrappers import (
    HTTPStatus, Response, abort, with_pool, with_transaction)
from trytond.tools import timezone as tz
from trytond.transaction import Transaction
from trytond.wsgi import app

from . import attachment as file_rules
from . import capture, rate_limit
from .normalize import InvalidEmail, normalize_email

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / 'portal' / 'templates'
STATIC = HERE / 'portal' / 'static'
SESSION_COOKIE = 'autolead_session'
DEVICE_COOKIE = 'autolead_device'
DEVICE_LIFETIME = datetime.timedelta(days=365)
CSRF_FIELD = 'csrf_token'
PAGE_SIZE = 20
# the parts of the ticket page htmx swaps in
FRAGMENTS = {'conversation.html', 'messages.html'}
FORM_TOKEN_LIFETIME = datetime.timedelta(hours=2)
MAX_FILES = 5
PICTURE_SIZE = 1024 * 1024
# the types the download gives a content type; any other is a plain file
TYPED = file_rules.IMAGES | file_rules.TEXTS | {'pdf'}
SECURITY_HEADERS = {
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'same-origin',
    'Content-Security-Policy': (
        "default-src 'self'; img-src 'self' data:; "
        "style-src 'self' 'unsafe-inline'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'self'"),
    }

loader = TemplateLoader(str(TEMPLATES), auto_reload=False)


def upload_limit():
    return config.getint(
        'autolead', 'portal_upload_size', default=5 * 1024 * 1024)


def htmx_path():
    path = (config.get('autolead', 'htmx')
        or os.environ.get('AUTOLEAD_HTMX'))
    if path:
        return Path(path)
    home = Path(os.environ.get(
            'AUTOLEAD_HOME', HERE.parent / '.autolead'))
    return home / 'htmx' / 'node_modules' / 'htmx.org' / 'dist' / (
        'htmx.min.js')


def session_csrf(key):
    "The CSRF token of the forms of the session whose key is given"
    return hmac.new(
        key.encode(), b'autolead-portal-csrf', hashlib.sha256).hexdigest()


def check_file(name, data, allowed=None, limit=None):
    "Return why the uploaded file is refused, or None"
    return file_rules.refusal(name, data, allowed=allowed, limit=limit)


class FormToken(ModelSQL):
    "One-time token of a form shown to an anonymous visitor"
    __name__ = 'autolead.portal.form_token'
    __string__ = "Portal Form Token"

    form = fields.Char("Form", required=True)
    token = fields.Char("Token", required=True, strip=False)
    expires = fields.DateTime("Expires", required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls.__rpc__ = {}
        cls._sql_constraints += [
            ('token_unique', Unique(t, t.token),
                'autolead.msg_portal_csrf'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.token, Index.Equality(cardinality='high'))),
                Index(t, (t.expires, Index.Range())),
                })

    @classmethod
    def issue(cls, form):
        table = cls.__table__()
        now = datetime.datetime.now()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.delete(where=table.expires < now))
        token = secrets.token_urlsafe(32)
        cls.create([{
                    'form': form,
                    'token': token,
                    'expires': now + FORM_TOKEN_LIFETIME,
                    }])
        return token

    @classmethod
    def consume(cls, form, token):
        "Use up the token: True if it was issued for form and is still valid"
        if not token:
            return False
        tokens = cls.search([('token', '=', token)])
        if not tokens:
            return False
        valid = all(
            t.form == form and t.expires > datetime.datetime.now()
            for t in tokens)
        cls.delete(tokens)
        return valid


class Portal:
    "What a portal request knows: the database, the customer, the forms"

    def __init__(self, request, pool):
        self.request = request
        self.pool = pool
        self.database = pool.database_name
        self.base = f'/{self.database}/portal'
        self.session_key = request.cookies.get(SESSION_COOKIE) or None
        self.web_user = None
        if self.session_key:
            WebUser = pool.get('web.user')
            web_user = WebUser.get_user(self.session_key)
            if web_user and web_user.active and web_user.party:
                self.web_user = web_user

    @property
    def party(self):
        return self.web_user.party if self.web_user else None

    @cached_property
    def timezone(self):
        "The time zone of the pages: the company's, else the server's"
        Company = self.pool.get('company.company')
        company_id = Transaction().context.get('company')
        companies = (Company.browse([company_id]) if company_id
            else Company.search([], order=[('id', 'ASC')], limit=1))
        if companies and companies[0].timezone:
            return tz.get_tzinfo(companies[0].timezone)
        return tz.SERVER

    def local(self, value):
        "The stored UTC datetime value in the time zone of the pages"
        return value.replace(tzinfo=tz.UTC).astimezone(self.timezone)

    def time(self, value, format='%d %b %Y %H:%M'):
        "value as the customer reads it, '—' when there is none"
        if value is None:
            return '—'
        return self.local(value).strftime(format)

    @property
    def csrf(self):
        return session_csrf(self.session_key) if self.web_user else None

    def url(self, path='', **query):
        url = self.base + path
        if query:
            url += '?' + urlencode(
                {k: v for k, v in query.items() if v not in {None, ''}})
        return url

    def absolute_url(self, path='', **query):
        return self.request.host_url.rstrip('/') + self.url(path, **query)

    def send_validation(self, web_user):
        "Email web_user the link that confirms their address, to the portal"
        WebUser = self.pool.get('web.user')
        with Transaction().set_context(
                autolead_portal_validation_url=self.absolute_url(
                    '/validate')):
            WebUser.validate_email([web_user])

    def send_reset(self, web_users):
        "Email web_users the link to choose a new password, on the portal"
        WebUser = self.pool.get('web.user')
        with Transaction().set_context(
                autolead_portal_reset_url=self.absolute_url(
                    '/reset/password')):
            WebUser.reset_password(web_users)

    def form_token(self, form):
        "The token to put in the form: the session's or a one-time one"
        if self.web_user:
            return self.csrf
        return self.pool.get('autolead.portal.form_token').issue(form)

    def check_csrf(self, form=None):
        """Whether the posted token is the session's or, for the anonymous
        form named form, a one-time token issued for it"""
        token = self.request.form.get(CSRF_FIELD, '')
        if self.web_user and hmac.compare_digest(token, self.csrf):
            return True
        if form is None:
            return False
        FormToken = self.pool.get('autolead.portal.form_token')
        return FormToken.consume(form, token)

    def render(self, template, status=HTTPStatus.OK, **values):
        values.setdefault('notice', None)
        values.setdefault('error', None)
        values.setdefault('errors', [])
        values.setdefault('form', {})
        stream = loader.load(template).generate(portal=self, **values)
        doctype = None if template in FRAGMENTS else 'html5'
        html = stream.render('html', doctype=doctype, encoding='utf-8')
        return self.secure(Response(
                html, status=status, content_type='text/html; charset=utf-8'))

    def secure(self, response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault('Cache-Control', 'no-store')
        return response

    def message(self, title, status=HTTPStatus.OK, **values):
        "The page telling an outcome, title the key of its message"
        return self.render('message.html', status=status,
            title=gettext('autolead.msg_portal_title_' + title), **values)

    def redirect(self, path='', **query):
        return self.secure(
            _redirect(self.url(path, **query), code=HTTPStatus.SEE_OTHER))

    def forbidden(self):
        return self.message('form_expired', status=HTTPStatus.FORBIDDEN,
            error=gettext('autolead.msg_portal_csrf'))

    def too_many(self):
        return self.message('too_many', status=HTTPStatus.TOO_MANY_REQUESTS,
            error=gettext('autolead.msg_portal_rate_limit'))

    def not_found(self):
        return self.message('not_found', status=HTTPStatus.NOT_FOUND,
            error=gettext('autolead.msg_portal_not_found'))

    def sign_in_first(self):
        return self.redirect('/signin', next=self.request.full_path)

    def set_session(self, response, key):
        response.set_cookie(
            SESSION_COOKIE, key, httponly=True, samesite='Lax',
            path=f'/{self.database}/', secure=self.request.is_secure,
            max_age=int(self.pool.get('web.user.session').timeout()
                .total_seconds()))
        return response

    def clear_session(self, response):
        response.delete_cookie(
            SESSION_COOKIE, path=f'/{self.database}/', httponly=True,
            samesite='Lax', secure=self.request.is_secure)
        return response

    def uploads(self, field='attachments', allowed=None):
        """The files of the form as (name, data) pairs and the refusals,
        by the rules of the desk's attachments (allowed narrows them)"""
        files, errors = [], []
        limit = min(file_rules.size_limit(), upload_limit())
        for upload in self.request.files.getlist(field):
            if not upload or not upload.filename:
                continue
            data = upload.stream.read(limit + 1)
            name = os.path.basename(upload.filename.replace('\\', '/'))
            reason = check_file(name, data, allowed, limit)
            if reason:
                errors.append(reason)
            else:
                files.append((name, data))
        if len(files) > MAX_FILES:
            errors.append(gettext(
                    'autolead.msg_portal_upload_count', count=MAX_FILES))
        return files, errors

    def ticket(self, ticket_id):
        "The signed-in customer's ticket, or None whatever the id"
        Ticket = self.pool.get('autolead.ticket')
        tickets = Ticket.search([
                ('id', '=', ticket_id),
                ('customer', '=', self.party.id),
                ], limit=1)
        return tickets[0] if tickets else None

    def conversation(self, ticket):
        "The messages of ticket the customer may read, with attachments"
        pool = self.pool
        Message = pool.get('autolead.ticket.message')
        Attachment = pool.get('ir.attachment')
        messages = Message.search([
                ('ticket', '=', ticket.id),
                ('internal', '=', False),
                ])
        resources = [str(ticket)] + [str(m) for m in messages]
        attachments = {}
        for attachment in Attachment.search(
                [('resource', 'in', resources)], order=[('id', 'ASC')]):
            attachments.setdefault(
                str(attachment.resource), []).append(attachment)
        return messages, attachments

    @staticmethod
    def required(form, *names):
        if any(not form.get(name, '').strip() for name in names):
            return [gettext('autolead.msg_portal_required')]
        return []


def portal_route(*paths, methods=('GET',), readonly=None, uploads=False):
    """Register a portal page at paths below /<database>/portal

    Pages taking uploads accept requests beyond trytond's [request] max_size
    for anonymous calls; each file is then checked against the portal's own
    limit."""
    def decorator(func):
        @with_pool
        @with_transaction(readonly=readonly, user=0)
        def endpoint(request, pool, **kwargs):
            return func(Portal(request, pool), **kwargs)
        endpoint.__name__ = f'portal_{func.__name__}'
        if uploads:
            endpoint.max_request_size = (
                MAX_FILES * upload_limit() + 1024 * 1024)
        for path in paths:
            app.route(
                '/<database_name>/portal' + path,
                methods=set(methods))(endpoint)
        return func
    return decorator


@app.route('/<database_name>/portal/static/<name>', methods={'GET'})
def static(request, database_name, name):
    if name == 'htmx.min.js':
        path = htmx_path()
    else:
        path = STATIC / name
        if path.parent != STATIC:
            abort(HTTPStatus.NOT_FOUND)
    if not path.is_file():
        abort(HTTPStatus.NOT_FOUND)
    content_type = mimetypes.guess_type(name)[0] or 'application/octet-stream'
    response = Response(path.read_bytes(), content_type=content_type)
    response.headers['X-Content-Type-Options'] = 'nosniff'
    response.headers['Cache-Control'] = 'public, max-age=3600'
    return response


@portal_route('', '/')
def home(portal):
    return portal.render('home.html')


@portal_route('/help')
def help_(portal):
    FAQ = portal.pool.get('autolead.faq')
    audiences = ['public', 'customer'] if portal.web_user else ['public']
    categories = {}
    for faq in FAQ.search([('audience', 'in', audiences)]):
        categories.setdefault(faq.category, []).append(faq)
    return portal.render('help.html', categories=categories)


def _visitor_checks(portal, form_name):
    "CSRF, honeypot and rate limit of the public forms: a response or None"
    Configuration = portal.pool.get('autolead.intake.configuration')
    if not portal.check_csrf(form_name):
        return portal.forbidden()
    if portal.request.form.get(capture.HONEYPOT, '').strip():
        return portal.message('thanks',
            notice=gettext('autolead.msg_portal_enquiry_received'))
    limit = Configuration(1).capture_rate_limit or 10
    if not rate_limit.allow('capture', portal.request.remote_addr, limit):
        return portal.too_many()


@portal_route('/contact', methods=('GET', 'POST'), readonly=False)
def contact(portal):
    Enquiry = portal.pool.get('autolead.enquiry')
    request = portal.request
    if request.method == 'GET':
        form = {}
        if portal.web_user:
            form = {'name': portal.party.name, 'email': portal.web_user.email}
        return portal.render('contact.html', form=form)
    if response := _visitor_checks(portal, 'contact'):
        return response
    form = request.form
    errors = portal.required(form, 'name', 'email', 'subject', 'message')
    email = None
    if not errors:
        try:
            email = normalize_email(form['email'])
        except InvalidEmail:
            errors.append(gettext(
                    'autolead.msg_portal_invalid_email', email=form['email']))
    if errors:
        return portal.render('contact.html', form=form, errors=errors,
            status=HTTPStatus.BAD_REQUEST)
    Enquiry.create([{
                'name': form['name'].strip(),
                'email': email,
                'phone': form.get('phone', '').strip() or None,
                'company_name': form.get('company', '').strip() or None,
                'subject': form['subject'].strip(),
                'message': form['message'],
                'source': 'website',
                }])
    return portal.message('thanks',
        notice=gettext('autolead.msg_portal_enquiry_received'))


@portal_route('/demo', methods=('GET', 'POST'), readonly=False)
def demo(portal):
    request = portal.request
    if request.method == 'GET':
        return portal.render('demo.html')
    if response := _visitor_checks(portal, 'demo'):
        return response
    form = request.form
    data = {k: form.get(k, '').strip()
        for k in ['name', 'email', 'phone', 'company']}
    errors = portal.required(form, 'name')
    if not errors:
        _, error = capture.create_lead(data)
        if error:
            errors.append(error)
    if errors:
        return portal.render('demo.html', form=form, errors=errors,
            status=HTTPStatus.BAD_REQUEST)
    return portal.message('thanks',
        notice=gettext('autolead.msg_portal_lead_received'))


def _safe_next(portal, value):
    if value and value.startswith(portal.base + '/') \
            and not value.startswith('//') and '\\' not in value:
        return value
    return portal.url('/tickets')


@portal_route('/signin', methods=('GET', 'POST'), readonly=False)
def signin(portal):
    pool = portal.pool
    WebUser = pool.get('web.user')
    request = portal.request
    next_ = request.values.get('next', '')
    if request.method == 'GET':
        if portal.web_user:
            return portal.secure(_redirect(
                    _safe_next(portal, next_), code=HTTPStatus.SEE_OTHER))
        return portal.render('signin.html', next=next_)
    if not portal.check_csrf('signin'):
        return portal.forbidden()
    email = request.form.get('email', '').strip()
    password = request.form.get('password', '')
    device = request.cookies.get(DEVICE_COOKIE)
    try:
        if not rate_limit.allow('signin', request.remote_addr):
            raise RateLimitException()
        with Transaction().set_context(autolead_device=device):
            web_user = (WebUser.authenticate(email, password)
                if email else None)
    except RateLimitException:
        return portal.render('signin.html', next=next_, form={'email': email},
            status=HTTPStatus.TOO_MANY_REQUESTS,
            error=gettext('autolead.msg_portal_rate_limit'))
    if not web_user or not web_user.party:
        return portal.render('signin.html', next=next_, form={'email': email},
            status=HTTPStatus.UNAUTHORIZED,
            error=gettext('autolead.msg_portal_bad_login'))
    if not web_user.email_valid:
        portal.send_validation(web_user)
        return portal.render('signin.html', next=next_, form={'email': email},
            status=HTTPStatus.FORBIDDEN,
            error=gettext('autolead.msg_portal_email_not_valid'))
    response = _redirect(_safe_next(portal, next_), code=HTTPStatus.SEE_OTHER)
    portal.set_session(response, web_user.new_session())
    if not web_user.valid_device(device):
        # failed sign-ins of others are not counted against this browser
        response.set_cookie(
            DEVICE_COOKIE, web_user.device_token(), httponly=True,
            samesite='Lax', path=f'/{portal.database}/portal/',
            secure=request.is_secure,
            max_age=int(DEVICE_LIFETIME.total_seconds()))
    return portal.secure(response)


@portal_route('/signout', methods=('POST',))
def signout(portal):
    "End the session; the cookie is cleared only with the session it names"
    Session = portal.pool.get('web.user.session')
    if portal.web_user and not portal.check_csrf():
        return portal.forbidden()
    if portal.session_key:
        Session.remove(portal.session_key)
    response = portal.redirect('/')
    return portal.clear_session(response)


@portal_route('/reset', methods=('GET', 'POST'), readonly=False)
def reset(portal):
    WebUser = portal.pool.get('web.user')
    request = portal.request
    if request.method == 'GET':
        return portal.render('reset.html')
    if not portal.check_csrf('reset'):
        return portal.forbidden()
    if not rate_limit.allow('reset', request.remote_addr):
        return portal.too_many()
    email = request.form.get('email', '').strip().lower()
    users = []
    # the answer is the same whether the address has an account or not,
    # and each address gets a few links an hour whoever asks for them
    if email and rate_limit.allow('reset_address', email):
        users = WebUser.search([('email', '=', email)], limit=1)
    if users:
        portal.send_reset(users)
    return portal.message('check_inbox',
        notice=gettext('autolead.msg_portal_reset_sent'))


def _check_password(portal, password, confirm, web_users=None):
    "The reasons the new password is refused"
    User = portal.pool.get('res.user')
    if password != confirm:
        return [gettext('autolead.msg_portal_password_mismatch')]
    try:
        User.validate_password(password, web_users or [])
    except UserError as exception:
        return [exception.message]
    return []


@portal_route('/reset/password', methods=('GET', 'POST'), readonly=False)
def set_password(portal):
    WebUser = portal.pool.get('web.user')
    request = portal.request
    email = request.values.get('email', '')
    token = request.values.get('token', '')
    if request.method == 'GET':
        return portal.render('password.html', email=email, token=token)
    if not portal.check_csrf('password'):
        return portal.forbidden()
    if not rate_limit.allow('reset_token', request.remote_addr):
        return portal.too_many()
    # the token first: whoever does not hold a valid one learns nothing
    # about the address, not even from the password rules
    user = WebUser.reset_password_user(email, token)
    if not user:
        return portal.message('link_expired', status=HTTPStatus.BAD_REQUEST,
            error=gettext('autolead.msg_portal_reset_invalid'))
    password = request.form.get('password', '')
    errors = _check_password(
        portal, password, request.form.get('confirm', ''), [user])
    if errors:
        return portal.render('password.html', email=email, token=token,
            errors=errors, status=HTTPStatus.BAD_REQUEST)
    WebUser.set_password_token(email, token, password)
    # the link reached the address, which proves it is the customer's
    WebUser.write([user], {'email_valid': True})
    return portal.message('password_changed',
        notice=gettext('autolead.msg_portal_password_set'),
        sign_in_link=True)


@portal_route('/validate', readonly=False)
def validate(portal):
    WebUser = portal.pool.get('web.user')
    token = portal.request.args.get('token', '')
    if token and WebUser.validate_email_token([token]):
        return portal.message('email_confirmed',
            notice=gettext('autolead.msg_portal_email_validated'),
            sign_in_link=True)
    return portal.message('link_expired', status=HTTPStatus.BAD_REQUEST,
        error=gettext('autolead.msg_portal_reset_invalid'))


@portal_route('/register', methods=('GET', 'POST'), readonly=False)
def register(portal):
    pool = portal.pool
    Configuration = pool.get('autolead.configuration')
    WebUser = pool.get('web.user')
    Party = pool.get('party.party')
    request = portal.request
    if not Configuration(1).portal_registration:
        return portal.not_found()
    if request.method == 'GET':
        return portal.render('register.html')
    if not portal.check_csrf('register'):
        return portal.forbidden()
    if not rate_limit.allow('register', request.remote_addr):
        return portal.too_many()
    form = request.form
    errors = portal.required(form, 'name', 'email', 'password')
    email = None
    if not errors:
        try:
            email = normalize_email(form['email'])
        except InvalidEmail:
            errors.append(gettext(
                    'autolead.msg_portal_invalid_email', email=form['email']))
    if not errors:
        errors = _check_password(
            portal, form['password'], form.get('confirm', ''))
    if errors:
        return portal.render('register.html', form=form, errors=errors,
            status=HTTPStatus.BAD_REQUEST)
    registered = portal.message('check_inbox',
        notice=gettext('autolead.msg_portal_registered'))
    existing = WebUser.search([('email', '=', email)], limit=1)
    if existing:
        # answer as for a new account, in about the same time, and mail the
        # owner of the address a link to choose a new password instead
        WebUser.hash_password(form['password'])
        if rate_limit.allow('reset_address', email):
            portal.send_reset(existing)
        return registered
    party, = Party.create([{
                'name': form['name'].strip(),
                'contact_mechanisms': [('create', [{
                                'type': 'email', 'value': email}])],
                }])
    web_user, = WebUser.create([{
                'email': email,
                'password': form['password'],
                'party': party.id,
                }])
    portal.send_validation(web_user)
    return registered


@portal_route('/profile', methods=('GET', 'POST'), uploads=True)
def profile(portal):
    pool = portal.pool
    Party = pool.get('party.party')
    ContactMechanism = pool.get('party.contact_mechanism')
    WebUser = pool.get('web.user')
    if not portal.web_user:
        return portal.sign_in_first()
    party = portal.party
    phones = [m for m in party.contact_mechanisms
        if m.type in {'phone', 'mobile'}]
    values = {
        'name': party.name,
        'phone': phones[0].value if phones else '',
        }
    request = portal.request
    if request.method == 'GET':
        notice = None
        if request.args.get('saved'):
            notice = gettext('autolead.msg_portal_profile_saved')
        elif request.args.get('sent'):
            notice = gettext('autolead.msg_portal_validation_sent')
        return portal.render('profile.html', form=values, notice=notice)
    if not portal.check_csrf():
        return portal.forbidden()
    form = request.form
    errors = portal.required(form, 'name')
    pictures, refused = portal.uploads('picture', allowed=file_rules.IMAGES)
    errors += refused
    if pictures and len(pictures[0][1]) > PICTURE_SIZE:
        errors.append(gettext('autolead.msg_portal_upload_too_big',
                name=pictures[0][0],
                size=file_rules.human_size(PICTURE_SIZE)))
    if not errors:
        phone = form.get('phone', '').strip()
        try:
            Party.write([party], {'name': form['name'].strip()})
            if phones and phone:
                ContactMechanism.write([phones[0]], {'value': phone})
            elif phones:
                ContactMechanism.delete([phones[0]])
            elif phone:
                ContactMechanism.create([{
                            'party': party.id, 'type': 'phone',
                            'value': phone}])
            if pictures:
                try:
                    WebUser.write(
                        [portal.web_user], {'avatar': pictures[0][1]})
                except OSError as exception:
                    # Pillow reads the header only when it identifies the
                    # image; a damaged file fails later, on the crop
                    raise UserError(gettext(
                            'autolead.msg_portal_picture_unreadable',
                            name=pictures[0][0])) from exception
        except UserError as exception:
            Transaction().rollback()
            errors.append(exception.message)
    if errors:
        return portal.render('profile.html', form=form, errors=errors,
            status=HTTPStatus.BAD_REQUEST)
    return portal.redirect('/profile', saved=1)


@portal_route('/profile/picture')
def picture(portal):
    if not portal.web_user or not portal.web_user.avatar:
        return portal.not_found()
    data = portal.web_user.avatar
    content_type = 'image/png'
    for extension in file_rules.IMAGES:
        if file_rules.looks_like(extension, data):
            content_type = mimetypes.guess_type('x.' + extension)[0]
    response = Response(data, content_type=content_type)
    response.headers['Cache-Control'] = 'private, no-cache'
    return portal.secure(response)


@portal_route('/profile/validate', methods=('POST',))
def send_validation(portal):
    if not portal.web_user:
        return portal.sign_in_first()
    if not portal.check_csrf():
        return portal.forbidden()
    portal.send_validation(portal.web_user)
    return portal.redirect('/profile', sent=1)


@portal_route('/tickets')
def tickets(portal):
    Ticket = portal.pool.get('autolead.ticket')
    if not portal.web_user:
        return portal.sign_in_first()
    query = portal.request.args.get('q', '').strip()
    try:
        page = max(int(portal.request.args.get('page', 1)), 1)
    except ValueError:
        page = 1
    count = Ticket.search_for_customer(portal.party, query, count=True)
    pages = max((count + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(page, pages)
    records = Ticket.search_for_customer(portal.party, query,
        offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    return portal.render('tickets.html', tickets=records, query=query,
        page=page, pages=pages, count=count)


@portal_route('/tickets/new', methods=('GET', 'POST'), uploads=True)
def new_ticket(portal):
    pool = portal.pool
    Ticket = pool.get('autolead.ticket')
    Category = pool.get('autolead.ticket.category')
    Attachment = pool.get('ir.attachment')
    if not portal.web_user:
        return portal.sign_in_first()
    categories = Category.search([])
    request = portal.request
    if request.method == 'GET':
        return portal.render('ticket_new.html', categories=categories)
    if not portal.check_csrf():
        return portal.forbidden()
    form = request.form
    errors = portal.required(form, 'subject')
    files, refused = portal.uploads()
    errors += refused
    category = None
    if form.get('category'):
        category = next(
            (c for c in categories if str(c.id) == form['category']), None)
    if errors:
        return portal.render('ticket_new.html', categories=categories,
            form=form, errors=errors, status=HTTPStatus.BAD_REQUEST)
    ticket, = Ticket.create([{
                'subject': form['subject'].strip(),
                'description': form.get('description') or None,
                'category': category.id if category else None,
                'customer': portal.party.id,
                'web_user': portal.web_user.id,
                }])
    if files:
        Attachment.create([{
                    'name': name,
                    'data': data,
                    'resource': str(ticket),
                    } for name, data in files])
    return portal.redirect(f'/tickets/{ticket.id}', created=1)


@portal_route('/tickets/<int:ticket_id>')
def ticket(portal, ticket_id):
    if not portal.web_user:
        return portal.sign_in_first()
    record = portal.ticket(ticket_id)
    if not record:
        return portal.not_found()
    messages, attachments = portal.conversation(record)
    notice = None
    if portal.request.args.get('created'):
        notice = gettext(
            'autolead.msg_portal_ticket_created', number=record.number)
    elif portal.request.args.get('reopened'):
        notice = gettext('autolead.msg_portal_ticket_reopened')
    return portal.render('ticket.html', ticket=record, messages=messages,
        attachments=attachments, notice=notice, in_page=True)


@portal_route('/tickets/<int:ticket_id>/messages', methods=('GET', 'POST'),
    uploads=True)
def messages(portal, ticket_id):
    if not portal.web_user:
        if portal.request.method == 'GET':
            return portal.sign_in_first()
        return portal.forbidden()
    record = portal.ticket(ticket_id)
    if not record:
        return portal.not_found()
    request = portal.request
    partial = request.headers.get('HX-Request') == 'true'
    errors = []
    if request.method == 'POST':
        if not portal.check_csrf():
            return portal.forbidden()
        files, errors = portal.uploads()
        errors += portal.required(request.form, 'body')
        if not errors and not record.customer_can_write():
            errors.append(gettext('autolead.msg_portal_ticket_closed',
                    state=record.state_string))
        if not errors:
            record.post_customer_message(
                portal.web_user, request.form['body'], files)
            if not partial:
                return portal.redirect(f'/tickets/{record.id}')
    elif not partial:
        return portal.redirect(f'/tickets/{record.id}')
    messages, attachments = portal.conversation(record)
    status = HTTPStatus.BAD_REQUEST if errors else HTTPStatus.OK
    if partial:
        template = ('conversation.html' if request.method == 'POST'
            else 'messages.html')
        return portal.render(template, ticket=record, messages=messages,
            attachments=attachments, errors=errors, status=status,
            form=request.form if errors else {})
    return portal.render('ticket.html', ticket=record, messages=messages,
        attachments=attachments, errors=errors, form=request.form,
        status=status, in_page=True)


@portal_route('/tickets/<int:ticket_id>/reopen', methods=('POST',))
def reopen(portal, ticket_id):
    Ticket = portal.pool.get('autolead.ticket')
    if not portal.web_user or not portal.check_csrf():
        return portal.forbidden()
    record = portal.ticket(ticket_id)
    if not record:
        return portal.not_found()
    if record.state == 'resolved':
        Ticket.reopen_by_customer([record], portal.party)
    return portal.redirect(f'/tickets/{record.id}', reopened=1)


@portal_route('/attachments/<int:attachment_id>')
def attachment(portal, attachment_id):
    pool = portal.pool
    Attachment = pool.get('ir.attachment')
    Message = pool.get('autolead.ticket.message')
    if not portal.web_user:
        return portal.sign_in_first()
    attachments = Attachment.search([('id', '=', attachment_id)], limit=1)
    if not attachments:
        return portal.not_found()
    record, = attachments
    resource = record.resource
    ticket = None
    if resource and resource.__name__ == 'autolead.ticket':
        ticket = resource
    elif resource and resource.__name__ == 'autolead.ticket.message':
        message = Message(resource.id)
        if not message.internal:
            ticket = message.ticket
    if not ticket or not portal.ticket(ticket.id):
        return portal.not_found()
    content_type = (mimetypes.guess_type(record.name or '')[0]
        if file_rules.extension(record.name) in TYPED
        else None) or 'application/octet-stream'
    response = Response(record.data or b'', content_type=content_type)
    name = quote(record.name or 'file', safe='')
    response.headers['Content-Disposition'] = (
        f"attachment; filename*=UTF-8''{name}")
    return portal.secure(response)
