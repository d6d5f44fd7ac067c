"""Calls made the way the desk client makes them, for the security tests

`call` runs a method through the model's RPC table as trytond's dispatcher
does (protocols/dispatcher.py `_dispatch`): as the given user, with only the
context the client sends (its private keys stripped by `RPC.convert`), the
arguments instantiated by the RPC and its `_check_access`. What an attacker
can send over JSON-RPC, a test can send here.
"""
from trytond.pool import Pool
from trytond.tools import is_instance_method
from trytond.transaction import Transaction


class NotExposed(Exception):
    "The method is not in the RPC table: the dispatcher answers 403"


def call(user, name, method, *args, context=None, type='model'):
    pool = Pool()
    obj = pool.get(name, type=type)
    rpc = obj.__rpc__.get(method)
    if rpc is None:
        raise NotExposed(f'{name}.{method}')
    transaction = Transaction()
    user_id = getattr(user, 'id', user)
    # the dispatcher rolls the transaction back on error; so does the call
    cursor = transaction.connection.cursor()
    cursor.execute('SAVEPOINT rpc_call')
    try:
        result = _call(transaction, obj, rpc, user_id, method, args, context)
    except Exception:
        cursor.execute('ROLLBACK TO SAVEPOINT rpc_call')
        for cache in transaction.cache.values():
            cache.clear()
        raise
    cursor.execute('RELEASE SAVEPOINT rpc_call')
    return result


def _call(transaction, obj, rpc, user_id, method, args, context):
    with transaction.set_user(user_id), transaction.reset_context():
        c_args, c_kwargs, context, _ = rpc.convert(
            obj, *args, dict(context or {}))
        with transaction.set_context(context):
            meth = rpc.decorate(getattr(obj, method))
            if (rpc.instantiate is None
                    or not is_instance_method(obj, method)):
                return rpc.result(meth(*c_args, **c_kwargs))
            inst = c_args.pop(0)
            if hasattr(inst, method):
                return rpc.result(meth(inst, *c_args, **c_kwargs))
            return [rpc.result(meth(i, *c_args, **c_kwargs)) for i in inst]


def run_wizard(user, name, context, steps):
    """Start wizard name with context and execute each (state, data) of steps
    as the client does; return the result of the last one"""
    session_id, _, _ = call(
        user, name, 'create', context=context, type='wizard')
    result = None
    for state, data in steps:
        result = call(user, name, 'execute', session_id, data, state,
            context=context, type='wizard')
    return result


def action_id(xml_id):
    "The id of the action of xml_id ('module.id'), sent as action_id"
    module, fs_id = xml_id.split('.')
    return Pool().get('ir.model.data').get_id(module, fs_id)
