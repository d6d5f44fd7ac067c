import string

from trytond.model import DeactivableMixin, ModelSQL, ModelView, fields


class _Placeholders(dict):
    "Leaves unknown placeholders as they were written"

    def __missing__(self, key):
        return '{' + key + '}'


def render(body, **values):
    "Fill {customer}, {agent}, {ticket}... in body, tolerating stray braces"
    if not body:
        return body
    try:
        return string.Formatter().vformat(body, (), _Placeholders(values))
    except (ValueError, IndexError, AttributeError):
        return body


class CannedResponse(DeactivableMixin, ModelSQL, ModelView):
    __name__ = 'autolead.canned_response'
    __string__ = "Canned Response"

    name = fields.Char("Name", required=True, translate=True)
    body = fields.Text(
        "Body", required=True, translate=True,
        help="The text inserted in a reply; {customer}, {agent} and "
        "{ticket} are replaced by the customer's name, the agent's name "
        "and the ticket number or enquiry subject.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('name', 'ASC'))

    def render(self, customer=None, agent=None, ticket=None):
        return render(
            self.body, customer=customer or '', agent=agent or '',
            ticket=ticket or '')
