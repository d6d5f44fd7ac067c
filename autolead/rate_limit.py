"""Rate limits of the public routes, kept in the database so that every
trytond process (or WSGI worker) counts the same requests."""
import datetime

from sql.aggregate import Count

import trytond.config as config
from trytond.model import Index, ModelSQL, fields
from trytond.pool import Pool
from trytond.transaction import Transaction

# the sliding window the limits count in, unless the scope has its own
WINDOW = datetime.timedelta(seconds=60)
# the longest window: older requests are forgotten whatever their scope
KEEP = datetime.timedelta(days=1)
# the requests each client (an IP address, or the email address asked for
# in the scopes ending in _address) may make by scope, and in how many
# seconds; [autolead] rate_limit_<scope> = <requests>/<seconds> in the
# server configuration replaces them
LIMITS = {
    'signin': (20, 60),
    'register': (5, 60),
    'reset': (5, 60),
    'reset_address': (3, 60 * 60),
    'reset_token': (10, 10 * 60),
    'campaign_signup': (10, 60),
    'campaign_like': (20, 60),
    }


def scope_limit(scope):
    "The (requests, window) of scope"
    requests, seconds = LIMITS[scope]
    value = config.get('autolead', f'rate_limit_{scope}', default='')
    if value:
        requests, seconds = (int(v) for v in value.split('/', 1))
    return requests, datetime.timedelta(seconds=seconds)


def allow(scope, client, limit=None, window=WINDOW):
    """Count a request of client (its address) in scope: False when it
    already made limit of them within the window; without limit, the
    scope's entry of LIMITS"""
    Hit = Pool().get('autolead.rate_limit.hit')
    if limit is None:
        limit, window = scope_limit(scope)
    return Hit.allow(scope, client or '', limit, window)


class Hit(ModelSQL):
    "A request of a client counted against the rate limit of a scope"
    __name__ = 'autolead.rate_limit.hit'
    __string__ = "Rate Limit Count"

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
    def allow(cls, scope, client, limit, window=WINDOW):
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        now = datetime.datetime.now()
        since = now - window
        cursor.execute(*table.delete(
                where=(table.at < now - max(KEEP, window))
                | ((table.scope == scope) & (table.at < since))))
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
