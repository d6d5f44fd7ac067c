"""What the trained models of the module share: a run of a training stored
with how it went and the model it fitted (lead scoring, ticket tagging)."""
import datetime
import logging

from trytond.i18n import gettext
from trytond.model import Index, fields
from trytond.transaction import Transaction

from .ml import fitted_model

logger = logging.getLogger(__name__)


class TrainingRunMixin:
    "A training of a model: when, how it went, and the fitted model"
    __slots__ = ()

    date = fields.DateTime("Date", required=True, readonly=True)
    state = fields.Selection([
            ('queued', "Queued"),
            ('trained', "Trained"),
            ('not_enough_data', "Not Enough Data"),
            ('failed', "Failed"),
            ], "State", required=True, readonly=True, sort=False)
    progress = fields.Char("Progress", readonly=True,
        help="What the training is doing.")
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
    def default_state(cls):
        return 'queued'

    @classmethod
    def train_cron(cls):
        "Run the training of the model (train, of the model using this)"
        cls.train()

    @classmethod
    def queue_training(cls, values):
        """Record queued runs of values (a list of dicts) and train them in
        the queue: the caller gets the runs at once, queued"""
        runs = cls.create([{
                    'date': datetime.datetime.now(), 'state': 'queued',
                    'progress': gettext('autolead.msg_training_queued'),
                    **v} for v in values])
        cls.__queue__.run_queued(runs)
        return runs

    @classmethod
    def run_queued(cls, runs):
        """Train the queued runs (a queue task): the runs stay queued until
        the task commits them trained (or failed, with the reason)"""
        runs = [r for r in runs if r.state == 'queued']
        if not runs:
            return
        try:
            cls.train(runs)
        except Exception as exception:
            logger.exception('training of %s failed', cls.__name__)
            Transaction().rollback()
            cls.write(cls.browse([r.id for r in runs]), {
                    'state': 'failed',
                    'progress': None,
                    'message': gettext('autolead.msg_training_failed',
                        error=exception.__class__.__name__),
                    })

    def fitted(self, loads):
        "The model of the run as loads reads it, once per process"
        # the stored file's id (a digest of its content) is in the key: an
        # id given again after a rollback must not serve another model
        return fitted_model(
            (self.__name__, Transaction().database.name, self.id,
                self.model_id),
            lambda: loads(self.model))
