"""What the trained models of the module share: a run of a training stored
with how it went and the model it fitted (lead scoring, ticket tagging)."""
from trytond.model import Index, fields
from trytond.transaction import Transaction

from .ml import fitted_model


class TrainingRunMixin:
    "A training of a model: when, how it went, and the fitted model"
    __slots__ = ()

    date = fields.DateTime("Date", required=True, readonly=True)
    state = fields.Selection([
            ('trained', "Trained"),
            ('not_enough_data', "Not Enough Data"),
            ], "State", required=True, readonly=True, sort=False)
    message = fields.Text("Message", readonly=True)
    seconds = fields.Float("Training Time (s)", digits=(16, 2),
        readonly=True)
    model = fields.Binary("Model", readonly=True, file_id='model_id')
    model_id = fields.Char("Model ID", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.date, Index.Range(order='DESC'))))
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def latest_trained(cls, domain=()):
        "The latest run that produced a model, within domain, or None"
        runs = cls.search([('state', '=', 'trained'), *domain],
            order=[('date', 'DESC'), ('id', 'DESC')], limit=1)
        return runs[0] if runs else None

    @classmethod
    def train_cron(cls):
        "Run the training of the model (train, of the model using this)"
        cls.train()

    def fitted(self, loads):
        "The model of the run as loads reads it, once per process"
        return fitted_model(
            (self.__name__, Transaction().database.name, self.id),
            lambda: loads(self.model))
