import datetime

from trytond.config import config
from trytond.model import ModelView
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction

from .email_check import SyntaxOnlyEmailMixin
from .mail import html_to_text


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
