import datetime
import hashlib
import hmac
import secrets
import time

import trytond.config as config
from trytond.exceptions import RateLimitException
from trytond.model import ModelView
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, without_check_access

from .email_check import SyntaxOnlyEmailMixin
from .mail import html_to_text

_DUMMY_HASH = []


class User(SyntaxOnlyEmailMixin, metaclass=PoolMeta):
    __name__ = 'web.user'

    def get_email_validation_url(self, url=None):
        if url is None:
            url = Transaction().context.get('autolead_portal_validation_url')
        return super().get_email_validation_url(url=url)

    def get_email_reset_password_url(self, url=None):
        if url is None:
            url = Transaction().context.get('autolead_portal_reset_url')
        return super().get_email_reset_password_url(url=url)

    # web_user sends the validation and reset (invitation) emails itself when
    # the transaction commits, and loses them when the mail server is away:
    # here they are posted to the outbox instead.
    @classmethod
    @ModelView.button
    def validate_email(cls, users, from_=None):
        for user in users:
            user.set_email_token()
        cls.save(users)
        cls._post_emails(
            users, 'validation', cls.get_email_validation,
            lambda u: u.email_token, from_)

    @classmethod
    @ModelView.button
    def reset_password(cls, users, from_=None):
        now = datetime.datetime.now()
        # as web_user: a token still valid is not replaced (abusive resets)
        users = [u for u in users
            if not (u.reset_password_token_expire
                and u.reset_password_token_expire > now)]
        for user in users:
            user.set_reset_password_token()
        cls.save(users)
        cls._post_emails(
            users, 'reset-password', cls.get_email_reset_password,
            lambda u: u.reset_password_token, from_)

    @classmethod
    def _post_emails(cls, users, kind, email_func, token, from_=None):
        "Post to the outbox the email email_func makes for each user"
        Message = Pool().get('autolead.automation.message')
        sender = from_ or config.get('email', 'from')
        values = []
        for user in users:
            if not user.email:
                continue
            msg, title = email_func(user)
            text, html = _bodies(msg)
            values.append({
                    'key': f'web-user-{user.id}-{kind}-{token(user)}',
                    'channel': 'email',
                    'origin': str(user),
                    'sender': sender,
                    'to': user.email,
                    'subject': title,
                    'body': text,
                    'body_html': html,
                    })
        if values:
            Message.post(values)

    @classmethod
    def _dummy_hash(cls):
        "A hash of the current method, checked for addresses without one"
        if not _DUMMY_HASH:
            _DUMMY_HASH.append(cls.hash_password('autolead-no-such-user'))
        return _DUMMY_HASH[0]

    def device_token(self, nonce=None):
        """A token for the browser this user signed in with, valid until the
        password changes"""
        nonce = nonce or secrets.token_urlsafe(16)
        mac = hmac.new((self.password_hash or '').encode(),
            f'autolead-device:{self.email}:{nonce}'.encode(),
            hashlib.sha256).hexdigest()
        return f'{nonce}.{mac}'

    def valid_device(self, token):
        nonce = (token or '').partition('.')[0]
        return bool(nonce and self.password_hash) and hmac.compare_digest(
            self.device_token(nonce), token)

    @classmethod
    def authenticate(cls, email, password):
        """web_user's authenticate, with two changes.

        It takes the same time whether the address has an account or not:
        an unknown address (or one without a password) costs the check of a
        dummy hash, so the time of the answer does not tell which customers
        have an account.

        Like res.user's device cookies, the failures are counted by address
        and by the browser's device token (the context's autolead_device)
        when it is valid for the address: wrong passwords posted by others
        do not lock out a customer on a browser she signed in with before."""
        pool = Pool()
        Attempt = pool.get('web.user.authenticate.attempt')
        email = (email or '').lower()

        count_ip = Attempt.count_ip()
        if count_ip > config.getint(
                'session', 'max_attempt_ip_network', default=300):
            raise RateLimitException()
        users = cls.search([('email', '=', email)]) if email else []
        user = users[0] if users else None
        device = Transaction().context.get('autolead_device') or None
        if device and not (user and user.valid_device(device)):
            device = None
        count = Attempt.count(email, device)
        if count > config.getint('session', 'max_attempt', default=5):
            Attempt.add(email, device)
            raise RateLimitException()
        Transaction().atexit(time.sleep, 2 ** count - 1)

        if user and user.password_hash:
            valid, new_hash = cls.check_password(
                password or '', user.password_hash)
        else:
            cls.check_password(password or '', cls._dummy_hash())
            valid, new_hash = False, None
        if valid:
            if new_hash:
                with Transaction().new_transaction(), without_check_access():
                    cls.write([cls(user.id)], {'password_hash': new_hash})
            Attempt.remove(email, device)
            return user
        Attempt.add(email, device)

    @classmethod
    def reset_password_user(cls, email, token):
        "The user of email whose unexpired reset token is token, or None"
        if not email or not token:
            return None
        users = cls.search([('email', '=', email.lower())])
        now = datetime.datetime.now()
        for user in users:
            if (user.reset_password_token
                    and hmac.compare_digest(
                        user.reset_password_token, token)
                    and user.reset_password_token_expire
                    and user.reset_password_token_expire > now):
                return user

    @classmethod
    def set_password_token(cls, email, token, password):
        """Set the password of the user whose reset token is given.

        Unlike web_user, a wrong token is not counted as a failed sign-in of
        the address: anyone may post tokens for anyone's address, so that
        would let them lock any customer out. The routes taking tokens limit
        the attempts of each client instead."""
        Attempt = Pool().get('web.user.authenticate.attempt')
        user = cls.reset_password_user(email, token)
        if not user:
            return False
        user.clear_reset_password_token()
        user.password = password
        user.save()
        Attempt.remove(user.email)
        return True


def _bodies(msg):
    "The first plain text and HTML of the email made by web_user's reports"
    text = html = None
    for part in msg.walk():
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        if content_type == 'text/plain' and text is None:
            text = part.get_content()
        elif content_type == 'text/html' and html is None:
            html = part.get_content()
    if text is None and html:
        text = html_to_text(html)
    return text or '', html
