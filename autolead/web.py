from trytond.pool import PoolMeta
from trytond.transaction import Transaction

from .email_check import SyntaxOnlyEmailMixin


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
