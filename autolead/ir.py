from trytond import backend
from trytond.pool import PoolMeta
from trytond.transaction import Transaction


def _is_autolead(model_names):
    return any(name.startswith('autolead.') for name in model_names)


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
