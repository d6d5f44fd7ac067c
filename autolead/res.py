from trytond.pool import PoolMeta

from .email_check import SyntaxOnlyEmailMixin


class User(SyntaxOnlyEmailMixin, metaclass=PoolMeta):
    __name__ = 'res.user'
