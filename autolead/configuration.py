from trytond.model import ModelSingleton, ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Id


class Configuration(ModelSingleton, ModelSQL, ModelView):
    __name__ = 'autolead.configuration'
    __string__ = "Helpdesk Settings"

    ticket_sequence = fields.Many2One(
        'ir.sequence', "Ticket Sequence", required=True,
        domain=[
            ('sequence_type', '=', Id('autolead', 'sequence_type_ticket')),
            ],
        help="Numbers new tickets.")
    customer_can_write_before_accept = fields.Boolean(
        "Customer Can Write Before Accept",
        help="Let customers add messages to a ticket still in the queue.")
    at_risk_hours = fields.Integer(
        "At Risk Within (hours)", required=True,
        help="A ticket whose next SLA target falls within this many hours "
        "is listed as at risk.")
    support_email = fields.Char(
        "Support Email",
        help="The address customers write to; used as the sender and "
        "reply-to of helpdesk emails.")
    portal_registration = fields.Boolean(
        "Portal Self-Registration",
        help="Let visitors create their own customer account on the portal; "
        "otherwise customers come from converted leads.")

    @classmethod
    def default_ticket_sequence(cls):
        return Pool().get('ir.model.data').get_id(
            'autolead', 'sequence_ticket')

    @classmethod
    def default_customer_can_write_before_accept(cls):
        return False

    @classmethod
    def default_at_risk_hours(cls):
        return 4

    @classmethod
    def default_portal_registration(cls):
        return False
