from trytond.model import Index, fields
from trytond.pool import Pool, PoolMeta

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
        "empty for parties that are not customers.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(
            Index(t, (t.customer_status, Index.Equality(cardinality='low'))))


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
