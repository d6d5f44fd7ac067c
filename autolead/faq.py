from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, fields, sequence_ordered)


class FAQ(DeactivableMixin, sequence_ordered(), ModelSQL, ModelView):
    "A question and its answer, shown on the help page and used by the chatbot"
    __name__ = 'autolead.faq'
    __string__ = "FAQ Entry"

    question = fields.Char("Question", required=True, translate=True)
    answer = fields.Text("Answer", required=True, translate=True)
    category = fields.Char(
        "Category", translate=True,
        help="Groups the questions on the help page.")
    keywords = fields.Char(
        "Keywords",
        help="Other words customers use for this question, "
        "so the chatbot recognises them.")
    audience = fields.Selection([
            ('public', "Public"),
            ('customer', "Signed-in Customers"),
            ], "Audience", required=True,
        help="Public answers are shown to everyone, "
        "the others only to signed-in customers.")

    @classmethod
    def default_audience(cls):
        return 'public'

    def get_rec_name(self, name):
        return self.question
