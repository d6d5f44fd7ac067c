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
