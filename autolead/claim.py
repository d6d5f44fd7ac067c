"Accepting work from a queue with one winner when agents click at once"
from functools import wraps

from sql import Null

from trytond import backend
from trytond.model.exceptions import AccessError
from trytond.i18n import gettext
from trytond.pool import Pool
from trytond.tools import grouped_slice, reduce_ids
from trytond.transaction import Transaction, without_check_access


def claim(queued_state, message):
    """Decorate an accept button: the records still queued become the
    user's before anything else reads them, and those another user took
    first raise `message` with the record and that user's name.

    It wraps the button from outside because the button checks that the
    user may read the record and that the button is visible; the loser of
    a race could fail those instead of being told who won."""
    def decorator(func):
        @wraps(func)
        def wrapper(cls, records, *args, **kwargs):
            _claim(cls, records, queued_state, message)
            return func(cls, records, *args, **kwargs)
        # the claim checks the access itself, after the race is decided
        # (see access.py)
        wrapper.claims_records = True
        return wrapper
    return decorator


def _claim(Model, records, queued_state, message):
    pool = Pool()
    ModelAccess = pool.get('ir.model.access')
    User = pool.get('res.user')
    transaction = Transaction()
    user = transaction.user
    ids = [r.id for r in records if r.id is not None and r.id >= 0]
    if not user or not ids:
        return
    if transaction.check_access:
        ModelAccess.check(Model.__name__, 'read')
    table = Model.__table__()
    user_table = User.__table__()
    cursor = transaction.connection.cursor()
    # The conditional write decides: the first writer wins and the database
    # puts the others behind it (the write lock on SQLite; on PostgreSQL the
    # row lock, then a serialization failure which retries the request)
    for sub_ids in grouped_slice(ids, 1000):
        cursor.execute(*table.update(
                [table.accepted_by], [user],
                where=reduce_ids(table.id, sub_ids)
                & (table.state == queued_state)
                & (table.accepted_by == Null)))
    transaction.counter += 1
    for sub_ids in grouped_slice(ids, 1000):
        cursor.execute(*table.join(user_table,
                condition=table.accepted_by == user_table.id).select(
                table.id, user_table.name,
                where=reduce_ids(table.id, sub_ids)
                & (table.state == 'accepted')
                & (table.accepted_by != user),
                limit=1))
        for id_, name in cursor:
            # an access error: the record is another's now (and the loser
            # may no longer read it), said with who has it
            raise AccessError(gettext(message,
                    record=_record_name(Model, id_), user=name))


def _record_name(Model, id_):
    # read without the record rules: the loser may no longer see the record
    with without_check_access():
        return Model(id_).rec_name


def lock(Model, records):
    """Lock the rows of records until the end of the transaction

    Model.lock is enough on PostgreSQL; on SQLite it does nothing, and
    SQLite reads outside of any transaction until the first write, so a
    write on the rows takes the database write lock before they are read
    again."""
    ids = [r.id for r in records if r.id is not None and r.id >= 0]
    if not ids:
        return
    if backend.name == 'sqlite':
        transaction = Transaction()
        table = Model.__table__()
        cursor = transaction.connection.cursor()
        for sub_ids in grouped_slice(ids, 1000):
            cursor.execute(*table.update(
                    [table.id], [table.id],
                    where=reduce_ids(table.id, sub_ids)))
        transaction.counter += 1
    else:
        Model.lock(records)
