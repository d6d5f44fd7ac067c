import datetime
import fcntl
import logging
import os
from collections import Counter
from pathlib import Path

from sql import Null
from sql.aggregate import Min
from sql.conditionals import Case

from trytond import backend
from trytond.config import config
from trytond.exceptions import UserError, UserWarning
from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.pool import PoolMeta
from trytond.pyson import Eval
from trytond.transaction import (
    Transaction, TransactionError, inactive_records, without_check_access)

logger = logging.getLogger(__name__)


def _is_autolead(model_names):
    return any(
        name.startswith('autolead.') or name == 'party.party'
        for name in model_names)


class Rule(metaclass=PoolMeta):
    __name__ = 'ir.rule'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.domain.help += (
            '\n- "user_id" as the id of the current user '
            '(for Auto Lead models)')

    @classmethod
    def _get_context(cls, model_name):
        context = super()._get_context(model_name)
        if _is_autolead([model_name]):
            context['user_id'] = Transaction().user
        return context

    @classmethod
    def _get_cache_key(cls, model_names):
        key = super()._get_cache_key(model_names)
        if _is_autolead(model_names):
            key = (*key, Transaction().user)
        return key


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('autolead.lead.scoring.run|train_cron',
                    "Train Lead Scoring"),
                ('autolead.ticket.tagging.run|train_cron',
                    "Train Ticket Tagging"),
                ])


class _SequenceNextAtomic:
    "Take the next numbers of an incremental sequence atomically on SQLite"
    __slots__ = ()

    def _get_many(self, n=1):
        if (self.type != 'incremental'
                or (backend.Database.has_sequence() and not self._strict)):
            yield from super()._get_many(n=n)
            return
        # SQLite reads outside of a transaction until the first write,
        # which begins it and takes the database write lock; so the
        # increment is written first and the numbers read back under the
        # lock, instead of being read before another writer saves the same
        transaction = Transaction()
        table = self.__table__()
        cursor = transaction.connection.cursor()
        step = self.number_increment
        cursor.execute(*table.update(
                [table.number_next_internal],
                [table.number_next_internal + n * step],
                where=table.id == self.id))
        cursor.execute(*table.select(
                table.number_next_internal, where=table.id == self.id))
        end, = cursor.fetchone()
        transaction.counter += 1
        self._local_cache.pop(self.id, None)
        for number in range(end - n * step, end, step):
            yield f'{number:0>{self.padding}d}'


class Sequence(_SequenceNextAtomic, metaclass=PoolMeta):
    __name__ = 'ir.sequence'


class SequenceStrict(_SequenceNextAtomic, metaclass=PoolMeta):
    __name__ = 'ir.sequence.strict'


class Queue(ModelView, metaclass=PoolMeta):
    """Tasks that fail are retried with back-off, then kept as failed with
    their error; tasks whose worker died are run again.

    While a task runs, its worker holds a lock that dies with the process: a
    PostgreSQL advisory lock of its connection, or a file lock beside the
    SQLite database. A task taken by a worker, not finished and whose lock
    is free was interrupted: `pull` hands it out again."""
    __name__ = 'ir.queue'

    attempts = fields.Integer("Attempts", readonly=True,
        help="How many times the task failed or was interrupted.")
    error = fields.Text("Error", readonly=True)
    failed_at = fields.Timestamp("Failed at", readonly=True,
        help="When the task was given up after its last attempt.")
    state = fields.Function(fields.Selection([
                ('waiting', "Waiting"),
                ('running', "Running"),
                ('done', "Done"),
                ('failed', "Failed"),
                ], "State"), 'get_state', searcher='search_state')
    task = fields.Function(fields.Char("Task"), 'get_task')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('enqueued_at', 'DESC'), ('id', 'DESC')]
        cls._buttons.update({
                'rerun': {
                    'invisible': Eval('state') != 'failed',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_attempts(cls):
        return 0

    @classmethod
    def _state_column(cls, table):
        return Case(
            (table.finished_at != Null, 'done'),
            (table.failed_at != Null, 'failed'),
            (table.dequeued_at != Null, 'running'),
            else_='waiting')

    def get_state(self, name):
        if self.finished_at:
            return 'done'
        elif self.failed_at:
            return 'failed'
        elif self.dequeued_at:
            return 'running'
        return 'waiting'

    @classmethod
    def search_state(cls, name, clause):
        table = cls.__table__()
        _, operator, value = clause
        Operator = fields.SQL_OPERATORS[operator]
        return [('id', 'in', table.select(table.id,
                    where=Operator(cls._state_column(table), value)))]

    def get_task(self, name):
        data = self.data or {}
        instances = data.get('instances')
        count = len(instances) if isinstance(instances, list) else 1
        return '%s.%s (%s)' % (data.get('model'), data.get('method'), count)

    @classmethod
    @ModelView.button
    def rerun(cls, tasks):
        cls.write([t for t in tasks if t.state == 'failed'], {
                'dequeued_at': None,
                'failed_at': None,
                'scheduled_at': None,
                'attempts': 0,
                })
        cls._notify()

    @classmethod
    def _notify(cls):
        transaction = Transaction()
        if transaction.database.has_channel():
            transaction.database.notify(
                transaction.connection, cls.__name__, '')

    @classmethod
    def clean(cls, date=None):
        "Delete only finished tasks: failed ones wait for the administrator"
        if date is None:
            date = (
                datetime.datetime.now() - datetime.timedelta(
                    days=config.getint('queue', 'clean_days', default=30)))
        cls.delete(cls.search([('finished_at', '<', date)]))

    def run(self):
        transaction = Transaction()
        key = (transaction.database.name, self.id)
        lock = _TaskLock(transaction.database.name, self.id)
        lock.acquire(transaction.connection)
        try:
            super().run()
        except TransactionError:
            transaction.rollback()
            raise
        except backend.DatabaseOperationalError as exception:
            # let run_task retry a conflict at once a few times first
            _conflicts[key] += 1
            transaction.rollback()
            if _conflicts[key] <= config.getint('database', 'retry'):
                raise
            del _conflicts[key]
            self._record_failure(exception)
        except Exception as exception:
            _conflicts.pop(key, None)
            transaction.rollback()
            self._record_failure(exception)
        else:
            _conflicts.pop(key, None)
        finally:
            lock.release(transaction.connection)

    def _record_failure(self, exception):
        try:
            self._failed(exception)
        except backend.DatabaseOperationalError:
            # the task stays taken and unlocked: it is handed out again
            # after queue_stalled_after, by the worker of either backend
            # (trytond's run_task would push a copy on PostgreSQL only)
            Transaction().rollback()
            logger.error("task %s failed and its failure could not be "
                "recorded, it runs again later", self.id, exc_info=True)

    def _failed(self, exception):
        "Record the failure in the (rolled back) transaction of the task"
        task = self.__class__(self.id)
        attempts = (task.attempts or 0) + 1
        retries = config.getint('autolead', 'queue_retries', default=5)
        if isinstance(exception, (UserError, UserWarning)):
            error = exception.message
        else:
            error = gettext('autolead.msg_queue_task_error',
                error='%s: %s' % (type(exception).__name__, exception))
        values = {'attempts': attempts, 'error': error}
        if attempts >= retries:
            values['failed_at'] = datetime.datetime.now()
            logger.error("task %s %s failed after %s attempts, given up",
                self.id, task.task, attempts, exc_info=exception)
        else:
            delay = config.getfloat(
                'autolead', 'queue_retry_delay', default=60)
            values['dequeued_at'] = None
            values['scheduled_at'] = datetime.datetime.now() + min(
                datetime.timedelta(seconds=delay * 2 ** (attempts - 1)),
                datetime.timedelta(hours=6))
            logger.error("task %s %s failed (attempt %s of %s), retry at %s",
                self.id, task.task, attempts, retries,
                values['scheduled_at'], exc_info=exception)
        self.__class__.write([task], values)
        self._notify()

    @classmethod
    def pull(cls, database, connection, name=None):
        stalled = cls._recover(database, connection, name)
        if database.has_select_for():
            task_id, next_ = super().pull(database, connection, name=name)
        else:
            task_id, next_ = cls._pull_without_lock(
                database, connection, name)
        if not task_id and stalled:
            # come back to see whether the running tasks still run
            next_ = min(next_ or stalled, stalled)
        return task_id, next_

    @classmethod
    def _pull_without_lock(cls, database, connection, name=None):
        """The pull of SQLite, which has neither SELECT FOR UPDATE nor
        RETURNING: the update takes the task only if nobody took it since"""
        cursor = connection.cursor()
        table = cls.__table__()
        where = table.dequeued_at == Null
        if name:
            where &= table.name == name
        now = datetime.datetime.now()
        while True:
            cursor.execute(*table.select(table.id,
                    where=where & ((table.scheduled_at <= now)
                        | (table.scheduled_at == Null)),
                    order_by=[table.scheduled_at.nulls_first,
                        table.expected_at.nulls_first, table.id],
                    limit=1))
            row = cursor.fetchone()
            if not row:
                break
            task_id, = row
            cursor.execute(*table.update([table.dequeued_at], [now],
                    where=(table.id == task_id) & (table.dequeued_at == Null)))
            if cursor.rowcount:
                return task_id, None
        cursor.execute(*table.select(Min(table.scheduled_at),
                where=where & (table.scheduled_at > now)))
        scheduled_at, = cursor.fetchone()
        if scheduled_at:
            if isinstance(scheduled_at, str):
                scheduled_at = datetime.datetime.fromisoformat(scheduled_at)
            return None, max((scheduled_at - now).total_seconds(), 0)
        return None, None

    @classmethod
    def _recover(cls, database, connection, name=None):
        """Hand out again the tasks whose worker died while running them.
        Return the seconds until the running tasks should be checked again,
        or None when none runs."""
        cursor = connection.cursor()
        table = cls.__table__()
        after = config.getfloat('autolead', 'queue_stalled_after', default=60)
        now = datetime.datetime.now()
        where = ((table.dequeued_at != Null) & (table.finished_at == Null)
            & (table.failed_at == Null))
        if name:
            where &= table.name == name
        cursor.execute(*table.select(table.id, table.dequeued_at,
                table.attempts, where=where))
        running = cursor.fetchall()
        retries = config.getint('autolead', 'queue_retries', default=5)
        for task_id, dequeued_at, attempts in running:
            if isinstance(dequeued_at, str):
                dequeued_at = datetime.datetime.fromisoformat(dequeued_at)
            if (now - dequeued_at).total_seconds() < after:
                continue
            lock = _TaskLock(database.name, task_id)
            if not lock.try_acquire(connection):
                continue
            try:
                attempts = (attempts or 0) + 1
                error = _interrupted_message(database.name)
                if attempts >= retries:
                    columns = [table.attempts, table.error, table.failed_at]
                    values = [attempts, error, now]
                    logger.error("task %s was interrupted %s times, "
                        "given up", task_id, attempts)
                else:
                    columns = [table.attempts, table.error,
                        table.dequeued_at, table.scheduled_at]
                    values = [attempts, error, Null, Null]
                    logger.error("task %s was interrupted (its worker "
                        "stopped), it runs again", task_id)
                cursor.execute(*table.update(columns, values,
                        where=(table.id == task_id) & where))
            finally:
                lock.release(connection)
        if running:
            return after
        return None


_conflicts = Counter()
# two numbers for PostgreSQL's advisory locks: "al" and the task id
_ADVISORY_LOCK_CLASS = 0x616c


def _interrupted_message(database_name):
    with Transaction().start(database_name, 0, readonly=True):
        return gettext('autolead.msg_queue_task_interrupted')


class _TaskLock:
    "The lock a worker holds while it runs a task, released when it dies"

    def __init__(self, database_name, task_id):
        self.database_name = database_name
        self.task_id = task_id
        self.file = None

    def _path(self):
        if backend.name != 'sqlite' or self.database_name == ':memory:':
            return None
        directory = Path(config.get('database', 'path')) / (
            '%s.queue-locks' % self.database_name)
        directory.mkdir(exist_ok=True)
        return directory / str(self.task_id)

    def acquire(self, connection):
        if backend.name == 'postgresql':
            cursor = connection.cursor()
            cursor.execute('SELECT pg_advisory_lock(%s, %s)',
                (_ADVISORY_LOCK_CLASS, self.task_id))
        elif path := self._path():
            self.file = open(path, 'a')
            fcntl.flock(self.file, fcntl.LOCK_EX)

    def try_acquire(self, connection):
        if backend.name == 'postgresql':
            cursor = connection.cursor()
            cursor.execute('SELECT pg_try_advisory_lock(%s, %s)',
                (_ADVISORY_LOCK_CLASS, self.task_id))
            return cursor.fetchone()[0]
        elif path := self._path():
            self.file = open(path, 'a')
            try:
                fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.file.close()
                self.file = None
                return False
            return True
        return True

    def release(self, connection):
        if backend.name == 'postgresql':
            cursor = connection.cursor()
            cursor.execute('SELECT pg_advisory_unlock(%s, %s)',
                (_ADVISORY_LOCK_CLASS, self.task_id))
        elif self.file:
            os.unlink(self.file.name)
            self.file.close()
            self.file = None


class _OwnActionMixin:
    "Checks groups against the actions of the wizard or report itself"
    __slots__ = ()

    @classmethod
    def _own_action_id(cls, name, action_id):
        """Return action_id if it is an action of name, else None

        The client sends the action it launched; trytond searches the groups
        (and models) of the wizard or report restricted to that action, so
        the id of another action found none and let anyone with write access
        run any wizard (see doc/upstream.md).  Without a matching action,
        the groups of every action of name apply."""
        if not action_id:
            return action_id
        try:
            action_id = int(action_id)
        except (TypeError, ValueError):
            return None
        with without_check_access(), inactive_records():
            if cls.search([
                        (cls._action_name, '=', name),
                        ('id', '=', action_id),
                        ], limit=1, order=[]):
                return action_id
        return None

    @classmethod
    def get_groups(cls, name, action_id=None):
        return super().get_groups(
            name, action_id=cls._own_action_id(name, action_id))


class ActionReport(_OwnActionMixin, metaclass=PoolMeta):
    __name__ = 'ir.action.report'


class ActionWizard(_OwnActionMixin, metaclass=PoolMeta):
    __name__ = 'ir.action.wizard'

    @classmethod
    def get_models(cls, name, action_id=None):
        return super().get_models(
            name, action_id=cls._own_action_id(name, action_id))
