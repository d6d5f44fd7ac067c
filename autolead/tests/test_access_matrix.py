"""Who may do what, for every Auto Lead model, checked from the pool

The expected access is declared below, one row per model: for each role a
string of the operations it may call over RPC (r read: read, search,
search_count and export; w write; c create; d delete), followed by "own"
when record rules hide from it some of the records of the test world
(make_world in test_security.py), which are then checked out of its reach.
A model in the pool without a row fails the test with the row it measured,
ready to review and paste.

Then, for every role:
- each on_change / on_change_with / autocomplete / button call naming a
  record the role cannot read is refused;
- each wizard started with every other action's id runs only for the roles
  of its own actions, and never on a record the role cannot read;
- each search through a relation to a record the role cannot read finds
  nothing.
All calls go through the RPC table as the dispatcher runs them (rpc.py).
"""
from collections import defaultdict

from trytond.exceptions import UserError
from trytond.model import ModelSingleton, ModelStorage, ModelView, fields
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction, check_access

from .database import DatabaseTestCase
from .rpc import NotExposed, call
from .test_security import make_world

ROLES = ['admin', 'head', 'rep', 'support', 'support_lead', 'nobody']
# Framework models the desk shows Auto Lead users
FRAMEWORK_MODELS = [
    'party.party', 'party.contact_mechanism', 'web.user', 'ir.attachment',
    'ir.note', 'ir.email', 'res.user',
    ]


def row(admin, head, rep, support, support_lead, nobody):
    "The operations of each role, in the order of ROLES"
    return dict(zip(ROLES, [admin, head, rep, support, support_lead, nobody]))


# One row per model: what each role may call (see the module docstring).
# Other branches add models: add their rows here when merging.
MATRIX = {
    'autolead.appointment': row('rwcd', 'rwcd', 'rwc own', '', '', ''),
    'autolead.appointment-res.user': row('', '', '', '', '', ''),
    'autolead.automation.configuration': row('rw', 'r', 'r', 'r', 'r', 'r'),
    'autolead.automation.message': row('r', '', '', '', '', ''),
    'autolead.call': row('rwcd', 'rwcd', 'rwc own', '', '', ''),
    'autolead.campaign': row('rwcd', 'rwcd', 'r', '', '', ''),
    'autolead.campaign-party.party': row('', '', '', '', '', ''),
    'autolead.canned_response': row('rwcd', '', '', 'r', 'rwcd', ''),
    'autolead.chatbot.question': row('rwd', '', '', '', 'rwd', ''),
    'autolead.configuration': row('rw', '', '', 'r', 'rw', ''),
    'autolead.conversation': row('rwc', 'rwc', 'rwc', 'rwc', 'rwc', ''),
    'autolead.conversation-res.user': row('', '', '', '', '', ''),
    'autolead.conversation.message':
        row('rwc', 'rwc', 'rwc', 'rwc', 'rwc', ''),
    'autolead.conversation.read': row('', '', '', '', '', ''),
    'autolead.deletion': row('r', '', '', '', '', ''),
    'autolead.enquiry': row('rwcd', '', '', 'rwc', 'rwcd', ''),
    'autolead.enquiry-suggested-autolead.ticket.tag':
        row('', '', '', '', '', ''),
    'autolead.enquiry.message': row('rwcd', '', '', 'rwc', 'rwcd', ''),
    'autolead.faq': row('rwcd', '', '', 'r', 'rwcd', ''),
    'autolead.intake.configuration': row('rwcd', 'r', 'r', 'r', 'r', 'r'),
    'autolead.lead': row('rwcd', 'rwc', 'rwc own', '', '', ''),
    'autolead.lead-autolead.lead.tag': row('', '', '', '', '', ''),
    'autolead.lead.assignment.rule': row('rwcd', 'r', 'r', 'r', '', ''),
    'autolead.lead.assignment.rule-res.user': row('', '', '', '', '', ''),
    'autolead.lead.history': row('r', 'r', 'r own', '', '', ''),
    'autolead.lead.import.job': row('rwcd', 'rwcd', 'rwc', '', '', ''),
    'autolead.lead.interaction': row('rwcd', 'rwcd', 'rwc', '', '', ''),
    'autolead.lead.lost_reason': row('rwcd', 'r', 'r', 'r', '', ''),
    'autolead.lead.note': row('rwcd', 'rwcd', 'rwc', '', '', ''),
    'autolead.lead.rep_load': row('r', 'r', '', '', '', ''),
    'autolead.lead.scoring.configuration': row('rw', 'r', 'r', 'r', 'r', 'r'),
    'autolead.lead.scoring.run': row('rd', 'r', '', '', '', ''),
    'autolead.lead.stage': row('rwcd', 'r', 'r', 'r', '', ''),
    'autolead.lead.stage.transition': row('rwcd', 'r', 'r', 'r', '', ''),
    'autolead.lead.tag': row('rwcd', 'r', 'r', 'r', '', ''),
    'autolead.lead.timeline': row('r', 'r', 'r own', '', '', ''),
    'autolead.notification.rule': row('rwcd', '', '', '', '', ''),
    'autolead.notification.secret': row('', '', '', '', '', ''),
    'autolead.portal.form_token': row('', '', '', '', '', ''),
    'autolead.rate_limit.hit': row('', '', '', '', '', ''),
    'autolead.report.schedule': row('rwcd', 'rwcd', '', '', '', ''),
    'autolead.report.schedule-res.user': row('', '', '', '', '', ''),
    'autolead.reporting.appointment': row('r', 'r', 'r own', '', '', ''),
    'autolead.reporting.campaign': row('r', 'r', 'r', '', '', ''),
    'autolead.reporting.lead.daily': row('r', 'r', 'r own', '', '', ''),
    'autolead.reporting.lead.source': row('r', 'r', 'r', '', '', ''),
    'autolead.reporting.lead.stage': row('r', 'r', 'r', '', '', ''),
    'autolead.reporting.performance': row('r', 'r', 'r own', '', '', ''),
    'autolead.reporting.rep': row('r', 'r', 'r own', '', '', ''),
    'autolead.reporting.target': row('r', 'r', 'r', '', '', ''),
    'autolead.reporting.ticket': row('r', '', '', 'r', 'r', ''),
    'autolead.rollup.activity_day': row('', '', '', '', '', ''),
    'autolead.rollup.lead.campaign_day': row('', '', '', '', '', ''),
    'autolead.rollup.lead.owner_day': row('', '', '', '', '', ''),
    'autolead.rollup.lead.owner_source_day': row('', '', '', '', '', ''),
    'autolead.rollup.lead.owner_stage': row('', '', '', '', '', ''),
    'autolead.rollup.lead.source_day': row('', '', '', '', '', ''),
    'autolead.sales.target': row('rwcd', 'rwcd', 'r', '', '', ''),
    'autolead.task': row('rwcd', 'rwcd', 'rwc own', 'rwc own', '', ''),
    'autolead.task.rule': row('rwcd', 'r', 'r', 'r', '', ''),
    'autolead.ticket': row('rwcd', '', '', 'rwc own', 'rwc', ''),
    'autolead.ticket-autolead.ticket.tag': row('', '', '', '', '', ''),
    'autolead.ticket-suggested-autolead.ticket.tag':
        row('', '', '', '', '', ''),
    'autolead.ticket.category': row('rwcd', '', '', 'r', 'rwcd', ''),
    'autolead.ticket.message': row('rwcd', '', '', 'rwc', 'rwcd', ''),
    'autolead.ticket.sla': row('rwcd', '', '', 'r', 'rwcd', ''),
    'autolead.ticket.tag': row('rwcd', '', '', 'rc', 'rwcd', ''),
    'autolead.ticket.tagging.run': row('rd', '', '', '', 'r', ''),
    # attachments and notes follow their resource: a search meeting one on
    # a lead the role cannot read is refused, writing follows the resource
    'ir.attachment': row('rwcd', 'rwcd', 'rwcd own', 'wcd', 'wcd', 'wcd'),
    'ir.email': row('r', 'r', 'r', 'r', 'r', 'r'),
    'ir.note': row('rwcd', 'rwcd', 'rwcd own', 'wcd', 'wcd', 'wcd'),
    'party.contact_mechanism': row('rwcd', 'rwc', 'rwc', 'rwc', 'rwc', ''),
    'party.party': row('rwcd', 'rwc', 'rwc own', 'rwc', 'rwc', ''),
    'res.user': row('r', 'r', 'r', 'r', 'r', 'r'),
    'web.user': row('r', 'r', 'r', 'r', 'r', 'r'),
    }

# Wizards: the roles that may run each one with its own action
WIZARDS = {
    'autolead.appointment.reschedule': 'admin head rep',
    'autolead.enquiry.reply': 'admin support support_lead',
    'autolead.lead.assign': 'admin head',
    'autolead.lead.change_stage': 'admin head rep',
    'autolead.lead.convert': 'admin head rep',
    'autolead.lead.import': 'admin head rep',
    'autolead.lead.merge': 'admin head',
    'autolead.reporting.export': 'admin head rep support support_lead nobody',
    'party.erase': '',
    'party.replace': '',
    }

# Fields nobody but these roles reads (nor searches, nor exports)
SECRETS = {
    'web.user': (['password_hash', 'reset_password_token',
            'reset_password_token_expire', 'email_token'], {'admin'}),
    'res.user': (['password_reset', 'password_reset_expire'], set()),
    }


def models_in_scope():
    pool = Pool()
    names = []
    for name, Model in pool.iterobject():
        if not issubclass(Model, ModelStorage):
            continue
        if name.startswith('autolead.') or name in FRAMEWORK_MODELS:
            names.append(name)
    return sorted(names)


def refused(func, *args, **kwargs):
    "Whether the call is refused as the dispatcher would refuse it"
    try:
        func(*args, **kwargs)
    except (AccessError, NotExposed):
        return True
    except NotImplementedError:
        # write, create and delete of a table query: nobody can
        return True
    return False


class AccessMatrixTestCase(DatabaseTestCase):
    "The access of every role to every Auto Lead model, measured"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.maxDiff = None

    def measure(self, w, model, role):
        "The operations role may call on model, as a row string"
        user = getattr(w, role)
        ops = ''
        probes = [
            ('r', 'search', ([], 0, 1, None)),
            ('w', 'write', ([], {})),
            ('c', 'create', ([],)),
            ('d', 'delete', ([],)),
            ]
        Model = Pool().get(model)
        for letter, method, args in probes:
            if method != 'search' and issubclass(Model, ModelSingleton):
                # a singleton creates, writes and deletes its one record
                # whatever records are given: ask the access it checks
                ModelAccess = Pool().get('ir.model.access')
                with Transaction().set_user(user.id), check_access():
                    if ModelAccess.check(
                            model, method, raise_exception=False):
                        ops += letter
                continue
            try:
                if not refused(call, user, model, method, *args):
                    ops += letter
            except UserError:
                # e.g. users are never deleted, only deactivated
                pass
        if 'r' in ops:
            # every way of reading agrees
            for method, args in [
                    ('search_count', ([],)),
                    ('search_read', ([], 0, 1, None, ['id'])),
                    ('export_data_domain', ([], ['id'], 0, 1)),
                    ]:
                if method in Pool().get(model).__rpc__:
                    self.assertFalse(refused(call, user, model, method, *args),
                        msg=f'{role} may search {model} but not {method}')
            seen, all_ids = self.visible(w, model, role)
            if len(seen) < len(all_ids):
                ops += ' own'
        return ops

    def visible(self, w, model, role):
        "Ids of model role can read, all ids of model"
        cache = w.__dict__.setdefault('visible', {})
        if (model, role) not in cache:
            cache[model, role] = self._visible(w, model, role)
        return cache[model, role]

    def _visible(self, w, model, role):
        Model = Pool().get(model)
        with Transaction().set_context(active_test=False):
            all_ids = [r.id for r in Model.search([], order=[('id', 'ASC')])]
        try:
            seen = call(getattr(w, role), model, 'search', [], 0, None,
                None, context={'active_test': False})
        except (AccessError, NotExposed):
            seen = []
        return set(seen), all_ids

    @with_transaction()
    def test_matrix(self):
        "Every model has a row and every role gets exactly its row"
        w = make_world()
        measured = {}
        for model in models_in_scope():
            measured[model] = {r: self.measure(w, model, r) for r in ROLES}
        missing = sorted(set(measured) - set(MATRIX))
        self.assertFalse(missing, msg='\nAdd these rows to MATRIX in '
            'tests/test_access_matrix.py (after review):\n' + ''.join(
                f'    {m!r}: {measured[m]!r},\n' for m in missing))
        wrong = {m: measured[m] for m in measured
            if measured[m] != MATRIX[m]}
        self.assertFalse(wrong, msg='\nThese models give other access '
            'than their row (measured):\n' + ''.join(
                f'    {m!r}: {r!r},\n    # declared {MATRIX[m]!r}\n'
                for m, r in wrong.items()))

    @with_transaction()
    def test_own_rows(self):
        "Where rules limit a role, the other records are out of its reach"
        w = make_world()
        checked = 0
        for model, row in MATRIX.items():
            for role, ops in row.items():
                if 'own' not in ops:
                    continue
                seen, all_ids = self.visible(w, model, role)
                hidden = [i for i in all_ids if i not in seen]
                if not hidden:
                    continue
                user = getattr(w, role)
                with self.subTest(model=model, role=role):
                    for method, args in [
                            ('read', (hidden[:1], ['id'])),
                            ('write', (hidden[:1], {})),
                            ('export_data', (hidden[:1], ['id'])),
                            ]:
                        if method == 'write' and 'w' not in ops:
                            continue
                        self.assertTrue(
                            refused(call, user, model, method, *args),
                            msg=f'{role} may {method} {model} {hidden[0]}')
                    checked += 1
        self.assertGreaterEqual(checked, 8)

    @with_transaction()
    def test_secret_fields(self):
        "Sign-in secrets are read, searched, written, exported by nobody else"
        w = make_world()
        for model, (names, roles) in SECRETS.items():
            Model = Pool().get(model)
            record, = Model.search([], limit=1, order=[('id', 'DESC')])
            for role in ROLES:
                user = getattr(w, role)
                for name in names:
                    with self.subTest(model=model, role=role, field=name):
                        expected = role not in roles
                        for method, args in [
                                ('read', ([record.id], [name])),
                                ('search', ([(name, '!=', None)],)),
                                ('export_data', ([record.id], [name])),
                                ('write', ([record.id], {name: None})),
                                ]:
                            if method == 'write' and not expected:
                                continue
                            self.assertEqual(refused(
                                    call, user, model, method, *args),
                                expected, msg=f'{method} {name}')

    def foreign_values(self, w, Model, role, hidden_by_model):
        "Values naming, in each relation, a record role cannot read"
        values = {}
        for name, field in Model._fields.items():
            if isinstance(field, fields.Function):
                continue
            if isinstance(field, fields.Many2One):
                target = field.model_name
                hidden = hidden_by_model(target, role)
                if hidden:
                    values[name] = hidden[0]
        return values

    @with_transaction()
    def test_changes_name_no_foreign_record(self):
        "on_change, autocomplete and buttons refuse unreadable records"
        pool = Pool()
        w = make_world()
        cache = {}

        def hidden_by_model(model, role):
            if (model, role) not in cache:
                Target = pool.get(model)
                if not issubclass(Target, ModelStorage):
                    cache[model, role] = []
                else:
                    seen, all_ids = self.visible(w, model, role)
                    cache[model, role] = [i for i in all_ids if i not in seen]
            return cache[model, role]

        names = [n for n, M in pool.iterobject()
            if issubclass(M, ModelView)
            and (n.startswith('autolead.') or n in FRAMEWORK_MODELS)]
        attempts = 0
        for name in sorted(names):
            Model = pool.get(name)
            methods = [m for m, rpc in Model.__rpc__.items()
                if rpc.instantiate == 0 and m not in {
                    'export_data', 'write', 'delete', 'copy',
                    'read', 'history_revisions'}]
            for role in ROLES:
                user = getattr(w, role)
                values = self.foreign_values(w, Model, role, hidden_by_model)
                own_hidden = (hidden_by_model(name, role)
                    if issubclass(Model, ModelStorage) else [])
                if not values and not own_hidden:
                    continue
                for method in methods:
                    if method in Model._buttons or not values:
                        if not own_hidden:
                            continue
                        if method in Model._buttons:
                            args = [[own_hidden[0]]]
                        else:
                            args = [{'id': own_hidden[0]}]
                    else:
                        args = [dict(values)]
                    if method in {'on_change', 'on_change_with'}:
                        args.append(sorted(Model._fields))
                    with self.subTest(model=name, role=role, method=method):
                        try:
                            call(user, name, method, *args)
                        except (AccessError, NotExposed):
                            pass
                        except (UserError, Exception) as exception:
                            self.fail(f'{name}.{method} as {role} ran on '
                                f'{args}: {exception!r}')
                        else:
                            self.fail(f'{name}.{method} as {role} '
                                f'answered on {args}')
                        attempts += 1
        self.assertGreater(attempts, 50)

    @with_transaction()
    def test_wizards_with_every_action_id(self):
        "A wizard runs for the roles of its own actions, whatever action id"
        pool = Pool()
        ActionWizard = pool.get('ir.action.wizard')
        w = make_world()
        actions = ActionWizard.search([])
        by_wizard = defaultdict(list)
        for action in actions:
            by_wizard[action.wiz_name].append(action)
        names = sorted(n for n, _ in pool.iterobject(type='wizard')
            if n.startswith('autolead.') or n in {'party.erase',
                'party.replace'})
        measured = {}
        for name in names:
            own = by_wizard.get(name, [])
            model = next((a.model for a in own if a.model), None)
            allowed = []
            for role in ROLES:
                user = getattr(w, role)
                context = {}
                hidden = []
                if model:
                    seen, all_ids = self.visible(w, model, role)
                    hidden = [i for i in all_ids if i not in seen]
                    readable = sorted(seen)[:1]
                    context = {
                        'active_model': model,
                        'active_id': readable[0] if readable else None,
                        'active_ids': readable,
                        }
                own_ids = [a.id for a in own] or [None]
                may = not refused(call, user, name, 'create',
                    context={**context, 'action_id': own_ids[0]},
                    type='wizard')
                if may:
                    allowed.append(role)
                for other in [a.id for a in actions if a not in own] + [
                        None, 0, 999999]:
                    with self.subTest(wizard=name, role=role, action=other):
                        if not may:
                            self.assertTrue(refused(call, user, name,
                                    'create',
                                    context={**context, 'action_id': other},
                                    type='wizard'))
                if hidden:
                    with self.subTest(wizard=name, role=role, hidden=True):
                        self.assertTrue(refused(call, user, name, 'create',
                                context={**context,
                                    'active_id': hidden[0],
                                    'active_ids': [hidden[0]],
                                    'action_id': own_ids[0]},
                                type='wizard'))
            measured[name] = ' '.join(allowed)
        missing = sorted(set(measured) - set(WIZARDS))
        self.assertFalse(missing, msg='\nAdd these rows to WIZARDS in '
            'tests/test_access_matrix.py (after review):\n' + ''.join(
                f'    {m!r}: {measured[m]!r},\n' for m in missing))
        wrong = {m: r for m, r in measured.items() if WIZARDS[m] != r}
        self.assertFalse(wrong, msg=f'\nWizards run by other roles '
            f'(measured): {wrong!r}')

    @with_transaction()
    def test_search_through_relations(self):
        "A search through a relation finds nothing through unreadable records"
        pool = Pool()
        w = make_world()
        Lead = pool.get('autolead.lead')
        Lead.write([w.mine], {'duplicate_of': w.hers.id})
        pool.get('autolead.call').create([{
                    'subject': "Own call on her lead", 'caller': w.rep.id,
                    'lead': w.hers.id}])
        cache = {}

        def hidden_ids(model, role):
            if (model, role) not in cache:
                seen, all_ids = self.visible(w, model, role)
                cache[model, role] = [i for i in all_ids if i not in seen]
            return cache[model, role]

        meaningful = 0
        for model in models_in_scope():
            Model = pool.get(model)
            for fname, field in Model._fields.items():
                if (not isinstance(field, fields.Many2One)
                        or isinstance(field, fields.Function)):
                    continue
                target = field.model_name
                if not (target.startswith('autolead.')
                        or target in FRAMEWORK_MODELS):
                    continue
                for role in ROLES:
                    user = getattr(w, role)
                    hidden = hidden_ids(target, role)
                    if not hidden:
                        continue
                    try:
                        seen = call(user, model, 'search', [], 0, None, None)
                    except (AccessError, NotExposed):
                        continue
                    with Transaction().set_context(active_test=False):
                        pointing = [r for r in Model.browse(seen)
                            if getattr(r, fname) is not None
                            and getattr(r, fname).id in hidden]
                    meaningful += bool(pointing)
                    for domain in [
                            [(f'{fname}.id', 'in', hidden)],
                            [(f'{fname}.create_uid', '!=', -1)],
                            [(fname, 'where', [('id', 'in', hidden)])],
                            ]:
                        with self.subTest(model=model, role=role,
                                domain=domain):
                            try:
                                found = call(user, model, 'search', domain,
                                    0, None, None)
                            except AccessError:
                                continue
                            self.assertFalse(
                                [i for i in found
                                    if i in {r.id for r in pointing}])
        self.assertGreaterEqual(meaningful, 2)
