"""Access checks trytond leaves to the module, applied to every Auto Lead model

Two holes are closed here for every model at once (see doc/upstream.md):

- an ``on_change*``, ``autocomplete_*`` or button call builds a record from
  the values the client sends, and reading an attribute of a related record
  is done without access check: naming another representative's lead in a
  call's ``lead`` field returned its phone.  The records a client names are
  now checked like a ``read`` before the method runs; so are the records
  named in the values sent to a wizard.
- a search domain through a relation (``lead.phone``, ``duplicate_of.owner``)
  is converted without the record rules of the target model, which answered
  yes or no about records the user may not read.  Such clauses are rewritten
  to ``where`` clauses that carry the rules of the target model.
"""
import copy
from collections import defaultdict

from trytond.model import Model, ModelStorage, fields
from trytond.pool import Pool
from trytond.tools.domain_inversion import is_leaf
from trytond.transaction import (
    Transaction, check_access, without_check_access)

# Framework models the desk exposes to Auto Lead users
EXPOSED_MODELS = {
    'party.party', 'party.contact_mechanism', 'party.address',
    'web.user', 'ir.attachment', 'ir.note', 'ir.email', 'res.user',
    }
EXPOSED_WIZARDS = {'party.erase', 'party.replace'}
RELATIONS = (fields.Many2One, fields.One2Many, fields.Many2Many)


def in_scope(name):
    return name.startswith('autolead.') or name in EXPOSED_MODELS


def _named_records(instances):
    "Return {model name: ids} of the saved records the instances refer to"
    named = defaultdict(set)
    seen = set()

    def collect(record):
        if id(record) in seen:
            return
        seen.add(id(record))
        if record.id is not None and record.id >= 0:
            named[record.__name__].add(record.id)
        values = getattr(record, '_values', None)
        if not values:
            return
        for name, value in values._items():
            if isinstance(value, Model):
                collect(value)
            elif isinstance(value, (list, tuple)):
                for item in value:
                    if isinstance(item, Model):
                        collect(item)

    for instance in instances:
        if isinstance(instance, Model):
            collect(instance)
        elif isinstance(instance, (list, tuple)):
            for item in instance:
                if isinstance(item, Model):
                    collect(item)
    return named


def check_named_records(instances):
    """Raise AccessError unless the user may read every saved record the
    instances (built from client values) refer to"""
    transaction = Transaction()
    if not transaction.user:
        return
    pool = Pool()
    ModelAccess = pool.get('ir.model.access')
    with check_access():
        for model_name, ids in _named_records(instances).items():
            Target = pool.get(model_name)
            if not issubclass(Target, ModelStorage):
                continue
            ModelAccess.check(model_name, 'read')
            Target.read(sorted(ids), ['id'])


def _checked_rpc(rpc):
    "Copy of rpc that checks the records the client names before running"
    original = rpc.decorator

    def decorator(func):
        # a claim (accept from a queue) is decided before any read: the
        # loser, who may no longer read the record, is told who won by the
        # claim, and the button checks the access after it
        claims = getattr(func, 'claims_records', False)
        if original:
            func = original(func)

        def wrapper(*args, **kwargs):
            if args and not claims:
                check_named_records([args[0]])
            return func(*args, **kwargs)
        return wrapper
    checked = copy.copy(rpc)
    checked.decorator = decorator
    return checked


class ChangeAccessMixin:
    """Checks the records named by the client in on_change, autocomplete,
    button, export, copy and delete calls of Auto Lead models (every call
    whose first argument the RPC instantiates): export_data, for one, lets
    through records hidden by rules whose domain Python cannot evaluate

    It is registered as a mixin, which the pool adds after the setup of the
    classes: the RPC table, complete by then, is rewritten when the pool
    creates the class with the mixin."""
    __slots__ = ()

    @classmethod
    def fields_get(cls, fields_names=None, level=0):
        "Describe only the fields the user may read, as views do"
        definition = super().fields_get(fields_names=fields_names, level=level)
        if Transaction().user and in_scope(cls.__name__):
            FieldAccess = Pool().get('ir.model.field.access')
            access = FieldAccess.get_access([cls.__name__])[cls.__name__]
            for name in list(definition):
                if not access.get(name, {}).get('read', True):
                    del definition[name]
        return definition

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        name = getattr(cls, '__name__', '')
        rpcs = getattr(cls, '__rpc__', None)
        if not rpcs or not in_scope(name):
            return
        checked = {}
        for method, rpc in rpcs.items():
            if rpc.instantiate == 0:
                rpc = _checked_rpc(rpc)
            checked[method] = rpc
        cls.__rpc__ = checked


def _target_rule(Target):
    Rule = Pool().get('ir.rule')
    return Rule.domain_get(Target.__name__, mode='read')


def restrict_domain(Model, domain, _depth=0, _client=True):
    """Return domain where each clause through a relation to a model with
    record rules only matches the records the user may read

    Raise AccessError for a clause the client sent on a field the user may
    not read: searching is reading, one character at a time."""
    if not domain or isinstance(domain, str) or _depth > 8:
        return domain
    if not is_leaf(domain):
        return [restrict_domain(Model, d, _depth, _client) for d in domain]
    name, operator, value = domain[:3]
    fname, _, rest = name.partition('.')
    field = Model._fields.get(fname)
    if field is None:
        return domain
    if _client:
        FieldAccess = Pool().get('ir.model.field.access')
        FieldAccess.check(Model.__name__, [fname], 'read')
    if isinstance(field, fields.Function):
        if field.searcher and not rest:
            with without_check_access():
                converted = getattr(Model, field.searcher)(fname, domain)
            if converted not in (domain, [domain]):
                return restrict_domain(
                    Model, converted, _depth + 1, _client=False)
        return domain
    if not isinstance(field, RELATIONS) or len(domain) > 3:
        return domain
    Target = field.get_target()
    if operator in {'where', 'not where'}:
        inner = value
    elif rest:
        inner = [(rest, operator, value)]
    elif (isinstance(field, fields.Many2One)
            and not operator.endswith(('child_of', 'parent_of'))
            and (isinstance(value, str)
                or (isinstance(value, (list, tuple))
                    and any(isinstance(v, str) for v in value)))):
        # a many2one compared to a text searches the name of the target
        inner = [('rec_name', operator, value)]
        rest = 'rec_name'
    else:
        return domain
    restricted = restrict_domain(Target, inner, _depth + 1, _client)
    rule = []
    if in_scope(Target.__name__):
        if _client:
            # searching through a model is reading it
            ModelAccess = Pool().get('ir.model.access')
            ModelAccess.check(Target.__name__, 'read')
        rule = _target_rule(Target)
    if not rule and restricted == inner:
        return domain
    if rule:
        restricted = [restricted, rule]
    if not rest:
        return (fname, operator, restricted)
    clause = (fname, 'where', restricted)
    if isinstance(field, fields.Many2One) and (
            (operator.startswith('not')
                and not (operator == 'not in'
                    and isinstance(value, (list, tuple))
                    and None in value))
            or (operator == '!=' and value is not None)):
        # as the join does, keep the records without target
        clause = ['OR', (fname, '=', None), clause]
    return clause


class SearchRuleMixin:
    "Applies the record rules of the target models to searches through paths"
    __slots__ = ()

    @classmethod
    def search(cls, domain, *args, **kwargs):
        transaction = Transaction()
        if (transaction.user and transaction.check_access and domain
                and in_scope(cls.__name__)):
            domain = restrict_domain(cls, domain)
        return super().search(domain, *args, **kwargs)


class WizardAccessMixin:
    "Checks the records named in the values sent to a wizard"
    __slots__ = ()

    @classmethod
    def execute(cls, session_id, data, state_name):
        if (Transaction().user
                and (cls.__name__.startswith('autolead.')
                    or cls.__name__ in EXPOSED_WIZARDS)):
            cls.check_access()
            pool = Pool()
            instances = []
            for key, values in data.items():
                state = getattr(cls, key, None)
                model_name = getattr(state, 'model_name', None)
                if not model_name or not isinstance(values, dict):
                    continue
                View = pool.get(model_name)
                values = {k: v for k, v in values.items()
                    if k in View._fields}
                instances.append(View(**values))
            check_named_records(instances)
        return super().execute(session_id, data, state_name)
