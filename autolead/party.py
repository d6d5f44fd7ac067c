from trytond.i18n import gettext
from trytond.model import Index, fields
from trytond.model.exceptions import AccessError
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, without_check_access

from .email_check import SyntaxOnlyEmailMixin

CUSTOMER_STATUSES = [
    (None, ""),
    ('draft', "Draft"),
    ('new', "New"),
    ('active', "Active"),
    ('inactive', "Inactive"),
    ('blocked', "Blocked"),
    ]


class Party(metaclass=PoolMeta):
    __name__ = 'party.party'

    company_name = fields.Char(
        "Company", help="The company the customer works for.")
    customer_status = fields.Selection(
        CUSTOMER_STATUSES, "Customer Status", sort=False,
        help="Where the party stands as an Auto Lead customer; "
        "empty for parties that are not customers.\n"
        "A blocked customer cannot sign in to the portal.")
    leads = fields.One2Many('autolead.lead', 'party', "Leads", readonly=True)
    calls = fields.One2Many('autolead.call', 'party', "Calls", readonly=True)
    tasks = fields.One2Many('autolead.task', 'party', "Tasks", readonly=True)
    appointments = fields.One2Many(
        'autolead.appointment', 'party', "Appointments", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(
            Index(t, (t.customer_status, Index.Equality(cardinality='low'))))

    @classmethod
    def create(cls, vlist):
        parties = super().create(vlist)
        cls._sync_portal_access(parties)
        return parties

    @classmethod
    def write(cls, *args):
        super().write(*args)
        actions = iter(args)
        changed = []
        for parties, values in zip(actions, actions):
            if 'customer_status' in values:
                changed.extend(parties)
        cls._sync_portal_access(changed)

    @classmethod
    def _sync_portal_access(cls, parties):
        "A blocked customer's portal accounts are deactivated, and back"
        WebUser = Pool().get('web.user')
        blocked = [p for p in parties if p.customer_status == 'blocked']
        unblocked = [p for p in parties if p.customer_status != 'blocked']
        with without_check_access():
            if blocked:
                users = WebUser.search([
                        ('party', 'in', [p.id for p in blocked]),
                        ('active', '=', True),
                        ])
                if users:
                    WebUser.write(users, {'active': False})
            if unblocked:
                users = WebUser.search([
                        ('party', 'in', [p.id for p in unblocked]),
                        ('active', '=', False),
                        ('party.customer_status', '!=', 'blocked'),
                        ])
                if users:
                    WebUser.write(users, {'active': True})


class ContactMechanism(SyntaxOnlyEmailMixin, metaclass=PoolMeta):
    __name__ = 'party.contact_mechanism'
    _email_fields = ('type', 'value')

    @classmethod
    def _email_to_check(cls, mechanism):
        if mechanism.type == 'email':
            return mechanism.value


class PartyReplace(metaclass=PoolMeta):
    __name__ = 'party.replace'

    @classmethod
    def fields_to_replace(cls):
        "Leads follow their party when it is replaced, once leads have one"
        Lead = Pool().get('autolead.lead')
        fields_ = super().fields_to_replace()
        field = Lead._fields.get('party')
        if (field is not None and field._type == 'many2one'
                and field.model_name == 'party.party'
                and not hasattr(field, 'set')):
            fields_.append(('autolead.lead', 'party'))
        return fields_


class PartyErase(metaclass=PoolMeta):
    __name__ = 'party.erase'

    def transition_erase(self):
        "Only the party the wizard was started on is erased"
        if (Transaction().user
                and (self.model is None
                    or self.model.__name__ != 'party.party'
                    or self.ask.party not in self.records)):
            raise AccessError(gettext(
                    'autolead.msg_party_erase_selected_only'))
        return super().transition_erase()
