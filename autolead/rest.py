"""Tryton's REST search answering 400, not 500, on malformed parameters.

trytond 8.0's GET /<database>/rest/model/<name> decodes its parameters (`d`
the domain and `o` the order, base64 JSON; `s` and `p` or the Range header
for paging; `f` the fields) without any error handling, and passes the
domain to the model unchecked: a malformed value is an internal server
error. The route's function is wrapped here, for every model at once, so
that its parameters are checked first and refused with a message
(doc/upstream.md has the report for trytond).
"""
import inspect
import re
from base64 import urlsafe_b64decode

import trytond.protocols.rest as trytond_rest
from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import ModelStorage
from trytond.model.modelstorage import is_leaf
from trytond.protocols.jsonrpc import JSONDecoder, json
from trytond.protocols.wrappers import (
    HTTPStatus, abort, with_pool, with_transaction)
from trytond.wsgi import app

RANGE = re.compile(r'^\s*\w+\s*=\s*\d*\s*-\s*\d*\s*$')
DIRECTIONS = re.compile(r'^(ASC|DESC)( NULLS (FIRST|LAST))?$', re.IGNORECASE)


def _bad(parameter):
    return UserError(gettext(
            'autolead.msg_rest_bad_parameter', parameter=parameter))


def _decode(request, parameter):
    try:
        return json.loads(
            urlsafe_b64decode(request.args[parameter]).decode(),
            object_hook=JSONDecoder())
    except (ValueError, TypeError) as exception:
        # binascii.Error, UnicodeDecodeError and JSONDecodeError included
        raise _bad(parameter) from exception


def _path(Model, path):
    "Whether the dotted path of field names exists from Model"
    names = path.split('.')
    while names:
        name = names.pop(0).split(':', 1)[0]
        field = Model._fields.get(name)
        if field is None:
            return False
        if names:
            if not hasattr(field, 'get_target'):
                return False
            Model = field.get_target()
    return True


def _check_domain(Model, domain):
    if not isinstance(domain, list):
        raise _bad('d')
    for i, clause in enumerate(domain):
        if i == 0 and isinstance(clause, str) and clause in {'AND', 'OR'}:
            continue
        if isinstance(clause, (list, tuple)) and is_leaf(clause):
            if (len(clause) < 3 or not isinstance(clause[0], str)
                    or not isinstance(clause[1], str)
                    or not _path(Model, clause[0].split('.', 1)[0])):
                raise _bad('d')
        elif isinstance(clause, list):
            _check_domain(Model, clause)
        else:
            raise _bad('d')
    try:
        # what search would build, without running it
        Model.search_domain(domain)
    except (KeyError, ValueError, TypeError, IndexError, AttributeError) \
            as exception:
        raise _bad('d') from exception


def check_search(request, Model):
    "Raise a UserError naming the first malformed parameter of request"
    if 'd' in request.args:
        _check_domain(Model, _decode(request, 'd'))
    if 'o' in request.args:
        order = _decode(request, 'o')
        if not isinstance(order, list) or not all(
                isinstance(o, list) and len(o) == 2
                and isinstance(o[0], str) and _path(Model, o[0])
                and isinstance(o[1], str) and DIRECTIONS.match(o[1])
                for o in order):
            raise _bad('o')
    for parameter in ['s', 'p']:
        value = request.args.get(parameter)
        if value is not None and not value.isdigit():
            raise _bad(parameter)
    range_ = request.headers.get('Range')
    if range_ and ',' not in range_ and not RANGE.match(range_):
        raise _bad('Range')
    for path in request.args.getlist('f'):
        if not _path(Model, path):
            raise _bad('f')


def _model(pool, name):
    try:
        Model = pool.get(name)
    except KeyError:
        abort(HTTPStatus.NOT_FOUND)
    if not issubclass(Model, ModelStorage):
        abort(HTTPStatus.NOT_FOUND)
    return Model


def _checked_search():
    search = inspect.unwrap(trytond_rest.search)

    def checked_search(request, pool, name):
        check_search(request, _model(pool, name))
        return search(request, pool, name)
    return with_pool(with_transaction(
            timeout=trytond_rest._request_timeout)(
            trytond_rest.rest(checked_search)))


def install():
    "Put the checked search in place of trytond's in the routes"
    endpoint = _checked_search()
    # werkzeug also finds the rules by endpoint (for redirects and URLs)
    by_endpoint = app.url_map._rules_by_endpoint
    for rule in by_endpoint.pop(trytond_rest.search, []):
        rule.endpoint = endpoint
        by_endpoint.setdefault(endpoint, []).append(rule)


install()
