from trytond.pool import PoolMeta
from trytond.transaction import (
    Transaction, inactive_records, without_check_access)


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
