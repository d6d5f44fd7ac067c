"""A route test case whose data is committed once for the whole class"""
from trytond.tests.test_tryton import DB_NAME, RouteTestCase
from trytond.transaction import Transaction, TransactionError


def commit(func, *args):
    "Run func as root in a committed transaction, locking tables as it needs"
    extras = {}
    while True:
        with Transaction().start(DB_NAME, 0, **extras) as transaction:
            try:
                func(*args)
            except TransactionError as error:
                # e.g. a table lock asked for by a create: start again
                # with what the error says the transaction needs
                transaction.rollback()
                error.fix(extras)
                continue
            transaction.commit()
        return


def clear_rate_limits():
    "Forget the requests the rate limits of the public routes counted"
    from trytond.pool import Pool

    def clear():
        Pool().get('autolead.rate_limit.hit').clear()
    commit(clear)


class DataRouteTestCase(RouteTestCase):
    "Route tests sharing records created by setUpData as root"
    module = 'autolead'

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        commit(cls.setUpData)

    @classmethod
    def setUpData(cls):
        pass
