"""Rate limits of the public routes, kept in the database so that every
trytond process (or WSGI worker) counts the same requests."""
import datetime

from sql.aggregate import Count

from trytond.model import Index, ModelSQL, fields
from trytond.pool import Pool
from trytond.transaction import Transaction

# the sliding window the limits count in
WINDOW = datetime.timedelta(seconds=60)


def allow(scope, client, limit):
    """Count a request of client (its address) in scope: False when it
    already made limit of them within the window"""
    Hit = Pool().get('autolead.rate_limit.hit')
    return Hit.allow(scope, client or '', limit)


class Hit(ModelSQL):
    "A request of a client counted against the rate limit of a scope"
    __name__ = 'autolead.rate_limit.hit'

    scope = fields.Char("Scope", required=True)
    client = fields.Char("Client", required=True, strip=False)
    at = fields.DateTime("At", required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls.__rpc__ = {}
        cls._sql_indexes.update({
                Index(t,
                    (t.scope, Index.Equality()),
                    (t.client, Index.Equality(cardinality='high')),
                    (t.at, Index.Range())),
                Index(t, (t.at, Index.Range())),
                })

    @classmethod
    def allow(cls, scope, client, limit):
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        now = datetime.datetime.now()
        since = now - WINDOW
        cursor.execute(*table.delete(where=table.at < since))
        cursor.execute(*table.select(Count(table.id),
                where=(table.scope == scope) & (table.client == client)
                & (table.at >= since)))
        count, = cursor.fetchone()
        if count >= limit:
            return False
        cursor.execute(*table.insert(
                [table.scope, table.client, table.at, table.create_uid,
                    table.create_date],
                [[scope, client, now, Transaction().user, now]]))
        return True

    @classmethod
    def clear(cls):
        "Forget every request counted"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.delete())
