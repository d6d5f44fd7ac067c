"""Lead conversion scoring: training runs, scores on leads, the hot filter.

The model itself is plain Python in `ml/scoring.py`; this file gathers the
data of the leads, stores each training run with its held-out figures and
writes the scores back on the open leads.
"""
import datetime
import json
from collections import defaultdict

from sql import Literal

from trytond import backend
from trytond.cache import Cache
from trytond.i18n import gettext
from trytond.model import (
    Index, ModelSingleton, ModelSQL, ModelView, fields)
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval, If
from trytond.tools import grouped_slice, reduce_ids
from trytond.transaction import Transaction, without_check_access

from .ml import ModelVersionError
from .training import TrainingRunMixin

SCORE_FIELDS = {'score', 'score_reasons', 'score_kind', 'scored_at'}
DEFAULT_PRIOR = {
    'bias': -1.5,
    'values': {
        'source': {'referral': 1.5, 'website': 0.5, 'event': 0.3},
        },
    'per_unit': {'interactions': 0.25, 'follow_ups': 0.1},
    'keywords': {
        'notes': {
            'demo': 1.0, 'budget approved': 1.5, 'quote': 0.5,
            'not interested': -2.0, 'competitor': -1.0,
            },
        },
    }
BATCH = 5000
# how long after the creation of a lead created won or lost the activity
# saved with it still counts as before its outcome
CREATED_CLOSED = datetime.timedelta(minutes=5)


class Configuration(ModelSingleton, ModelSQL, ModelView):
    __name__ = 'autolead.lead.scoring.configuration'
    __string__ = "Lead Scoring Settings"

    hot_score = fields.Integer(
        "Hot From", required=True,
        domain=[('hot_score', '>=', 0), ('hot_score', '<=', 100)],
        help="Open leads scoring at least this much are listed as hot.")
    prior = fields.Text(
        "Rule-based Prior",
        help="The weights used to score leads until enough of them are "
        "won or lost to train a model (JSON: bias, values, per_unit, "
        "keywords). Leave empty to show no score meanwhile.")
    _get_hot_score_cache = Cache(
        'autolead.lead.scoring.configuration.get_hot_score')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'train': {
                    'icon': 'tryton-launch',
                    },
                })

    @classmethod
    def default_hot_score(cls):
        return 70

    @classmethod
    def default_prior(cls):
        return json.dumps(DEFAULT_PRIOR, indent=2)

    @classmethod
    def get_hot_score(cls):
        "The score from which an open lead is hot"
        # asked for every page of leads and every lead form: reading the
        # singleton (and its defaults while it is not stored) each time
        # cost more than the rest of the hot flag
        hot_score = cls._get_hot_score_cache.get(None)
        if hot_score is not None:
            return hot_score
        return cls._get_hot_score_cache.set(None, cls(1).hot_score or 0)

    @classmethod
    def on_modification(cls, mode, configurations, field_names=None):
        super().on_modification(
            mode, configurations, field_names=field_names)
        cls._get_hot_score_cache.clear()

    @classmethod
    def validate_fields(cls, configurations, field_names):
        super().validate_fields(configurations, field_names)
        if 'prior' in field_names:
            for configuration in configurations:
                configuration.prior_scorer()

    def prior_scorer(self):
        "The PriorScorer of the prior weights, or None when there are none"
        from .ml.scoring import PriorScorer
        if not (self.prior or '').strip():
            return None
        try:
            return PriorScorer.from_dict(json.loads(self.prior))
        except (ValueError, TypeError, AttributeError) as exception:
            raise ValidationError(gettext(
                    'autolead.msg_lead_scoring_invalid_prior',
                    error=str(exception))) from exception

    @classmethod
    @ModelView.button
    def train(cls, configurations):
        "Queue a training: the desk gets the hand back at once"
        Run = Pool().get('autolead.lead.scoring.run')
        Run.queue_training([{}])


class Run(TrainingRunMixin, ModelSQL, ModelView):
    "A training of the lead scoring model and its held-out figures"
    __name__ = 'autolead.lead.scoring.run'
    __string__ = "Lead Scoring Training"

    closed_leads = fields.Integer(
        "Closed Leads", readonly=True,
        help="The won and lost leads the model learnt from.")
    won_leads = fields.Integer("Won Leads", readonly=True)
    test_rows = fields.Integer(
        "Held-out Leads", readonly=True,
        help="The closed leads kept aside to measure the model.")
    algorithm = fields.Char("Algorithm", readonly=True)
    roc_auc = fields.Float(
        "ROC-AUC", digits=(1, 3), readonly=True,
        help="How well the model ranks won above lost leads "
        "(0.5 is chance, 1 is perfect), on the held-out leads.")
    pr_auc = fields.Float(
        "PR-AUC", digits=(1, 3), readonly=True,
        help="Average precision of the won leads, on the held-out leads.")
    brier = fields.Float(
        "Brier Score", digits=(1, 4), readonly=True,
        help="Calibration: mean squared error of the probabilities "
        "(lower is better), on the held-out leads.")
    baseline_roc_auc = fields.Float(
        "Baseline ROC-AUC", digits=(1, 3), readonly=True,
        help="The naive-Bayes frequency baseline on the same leads.")
    baseline_pr_auc = fields.Float(
        "Baseline PR-AUC", digits=(1, 3), readonly=True)
    baseline_brier = fields.Float(
        "Baseline Brier Score", digits=(1, 4), readonly=True)
    cv_roc_auc = fields.Float(
        "Cross-validated ROC-AUC", digits=(1, 3), readonly=True,
        help="The mean ROC-AUC of the chosen model over the folds of the "
        "cross-validation on the training leads.")
    cv_roc_auc_std = fields.Float(
        "Spread (±)", digits=(1, 3), readonly=True,
        help="The standard deviation of the ROC-AUC over the folds: how "
        "much the figure depends on which leads are used.")
    lift_top_decile = fields.Float(
        "Top-Tenth Lift", digits=(16, 2), readonly=True,
        help="How many times more often the tenth of the held-out leads "
        "scored highest was won than the held-out leads on average.")
    baseline_lift_top_decile = fields.Float(
        "Baseline Top-Tenth Lift", digits=(16, 2), readonly=True)
    candidates = fields.Text(
        "Candidates", readonly=True,
        help="The models compared by cross-validation at this training; "
        "the best is kept.")
    scored_leads = fields.Integer(
        "Scored Leads", readonly=True,
        help="The open leads scored after the training.")

    @classmethod
    def train(cls, runs=None):
        """Train on the won and lost leads, record the run (the first of
        runs, else a new one), rescore open leads; return the run"""
        pool = Pool()
        Lead = pool.get('autolead.lead')
        from .ml.scoring import train_scorer
        with without_check_access():
            frame = Lead.scoring_frame()
            # the notes are free text even when they repeat
            scorer = train_scorer(frame, 'outcome', positive='won',
                kinds={'notes': 'text'})
            if runs:
                run, = runs
                run.date = datetime.datetime.now()
            else:
                run = cls(date=datetime.datetime.now())
            run.progress = None
            closed = frame['outcome'].notna()
            run.closed_leads = int(closed.sum())
            run.won_leads = int((frame['outcome'] == 'won').sum())
            if scorer:
                report = scorer.report
                run.state = 'trained'
                run.algorithm = ALGORITHMS.get(
                    report['algorithm'], report['algorithm'])
                run.test_rows = report['test_rows']
                for prefix, key in [('', 'model'), ('baseline_', 'baseline')]:
                    for name, digits in [
                            ('roc_auc', 3), ('pr_auc', 3), ('brier', 4)]:
                        setattr(run, prefix + name,
                            round(report[key][name], digits))
                run.cv_roc_auc = round(report['cv_roc_auc'], 3)
                run.cv_roc_auc_std = round(report['cv_roc_auc_std'], 3)
                run.lift_top_decile = _round(
                    report['model']['lift_top_decile'], 2)
                run.baseline_lift_top_decile = _round(
                    report['baseline']['lift_top_decile'], 2)
                run.candidates = _candidates(report)
                run.seconds = report['seconds']
                run.model = scorer.dumps()
            elif scorer.figure is not None:
                run.state = 'not_enough_data'
                run.message = gettext(
                    'autolead.msg_lead_scoring_no_signal',
                    roc_auc=f'{scorer.figure:.2f}',
                    examples=scorer.examples)
            else:
                run.state = 'not_enough_data'
                run.message = gettext(
                    'autolead.msg_lead_scoring_not_enough_data',
                    examples=scorer.examples, minimum=scorer.minimum,
                    won=scorer.classes.get('positive', 0),
                    lost=scorer.classes.get('negative', 0))
            run.save()
            open_ids = frame.index[~closed].tolist()
            run.scored_leads = Lead.rescore_ids(
                open_ids, frame=frame.loc[open_ids])
            run.save()
        return run


class Lead(metaclass=PoolMeta):
    __name__ = 'autolead.lead'

    score = fields.Integer(
        "Score", readonly=True,
        help="The chance, in percent, that the lead is won, "
        "from the leads won and lost before.")
    score_reasons = fields.Text(
        "Score Reasons", readonly=True, loading='lazy',
        help="What raises the score most.")
    score_kind = fields.Selection([
            (None, ""),
            ('model', "Trained Model"),
            ('prior', "Rule-based Prior"),
            ], "Scored By", readonly=True, loading='lazy')
    scored_at = fields.DateTime("Scored At", readonly=True, loading='lazy')
    hot = fields.Function(fields.Boolean(
            "Hot", help="An open lead whose score is high."),
        'get_hot', searcher='search_hot')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.score, Index.Range())))

    @classmethod
    def _hot_score(cls):
        Configuration = Pool().get('autolead.lead.scoring.configuration')
        return Configuration.get_hot_score()

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('/tree/field[@name="score"]', 'visual',
                If(Eval('hot', False), 'success', ''), ['hot']),
            ]

    @classmethod
    def get_hot(cls, leads, name):
        # every row of the list: one query instead of loading each lead
        lead = cls.__table__()
        cursor = Transaction().connection.cursor()
        threshold = cls._hot_score()
        hot = {l.id: False for l in leads}
        for sub_ids in grouped_slice(list(hot), backend.MAX_QUERY_PARAMS):
            cursor.execute(*lead.select(
                    lead.id, lead.stage_kind, lead.score,
                    where=reduce_ids(lead.id, sub_ids)))
            for lead_id, stage_kind, score in cursor:
                hot[lead_id] = bool(stage_kind == 'open'
                    and score is not None and score >= threshold)
        return hot

    @classmethod
    def search_hot(cls, name, clause):
        _, operator, value = clause
        domain = [
            ('stage_kind', '=', 'open'),
            ('score', '>=', cls._hot_score()),
            ]
        if (operator == '=') == bool(value):
            return domain
        return ['OR',
            ('stage_kind', '!=', 'open'),
            ('score', '=', None),
            ('score', '<', cls._hot_score()),
            ]

    @classmethod
    def copy(cls, leads, default=None):
        default = default.copy() if default is not None else {}
        for name in SCORE_FIELDS:
            default.setdefault(name)
        return super().copy(leads, default=default)

    @classmethod
    def create(cls, vlist):
        leads = super().create(vlist)
        cls.__queue__.rescore(leads)
        return leads

    @classmethod
    def write(cls, *args):
        super().write(*args)
        actions = iter(args)
        changed = []
        for leads, values in zip(actions, actions):
            if set(values) - SCORE_FIELDS:
                changed.extend(leads)
        if changed:
            cls.__queue__.rescore(changed)

    @classmethod
    def rescore(cls, leads):
        "Score leads again with the current model (queued after changes)"
        with without_check_access():
            cls.rescore_ids([l.id for l in leads])

    @classmethod
    def rescore_ids(cls, ids, frame=None):
        """Write the score of the open leads among ids; return how many

        Leads are scored by the latest trained model, else by the prior
        weights of the configuration, else their score is cleared."""
        pool = Pool()
        Run = pool.get('autolead.lead.scoring.run')
        Configuration = pool.get('autolead.lead.scoring.configuration')
        if frame is None:
            frame = cls.scoring_frame(ids)
        frame = frame[frame['outcome'].isna()]
        if frame.empty:
            return 0
        from .ml.scoring import LeadScorer
        run = Run.latest_trained()
        scorer, kind = None, None
        if run:
            try:
                scorer, kind = run.fitted(LeadScorer.loads), 'model'
            except ModelVersionError:
                # written by another scikit-learn: the next training fixes it
                pass
        if not scorer:
            scorer = Configuration(1).prior_scorer()
            kind = 'prior' if scorer else None
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        now = datetime.datetime.now()
        for start in range(0, len(frame), BATCH):
            part = frame.iloc[start:start + BATCH]
            if scorer:
                scores = scorer.score(part, reasons=3)
            else:
                scores = [None] * len(part)
            for lead_id, score in zip(part.index.tolist(), scores):
                cursor.execute(*table.update(
                        [table.score, table.score_reasons, table.score_kind,
                            table.scored_at],
                        [score.probability if score else None,
                            '\n'.join(score.reasons) if score else None,
                            kind, now],
                        where=table.id == lead_id))
        cls._forget(frame.index.tolist())
        return len(frame)

    @classmethod
    def _forget(cls, ids):
        "Drop the cached values of leads updated in SQL, as write does"
        transaction = Transaction()
        transaction.counter += 1
        for cache in transaction.cache.values():
            if cls.__name__ in cache:
                for id_ in ids:
                    cache[cls.__name__].pop(id_, None)

    @classmethod
    def scoring_frame(cls, ids=None):
        """A DataFrame indexed by lead id of what the score learns from

        `outcome` is 'won', 'lost' or empty for open leads. Every feature
        is taken as of the moment the outcome was decided: for a closed
        lead only the notes, interactions and stage moves dated up to its
        close (to the second) count (a note written after the lead was won
        is a consequence of the outcome, not a sign of it), and days are
        counted to the close; for an open lead everything up to now counts.
        A lead created won or lost keeps the activity saved with it."""
        import pandas as pd
        pool = Pool()
        Note = pool.get('autolead.lead.note')
        Interaction = pool.get('autolead.lead.interaction')
        History = pool.get('autolead.lead.history')
        lead = cls.__table__()
        note = Note.__table__()
        interaction = Interaction.__table__()
        history = History.__table__()
        cursor = Transaction().connection.cursor()

        def where(column, sub_ids):
            return reduce_ids(column, sub_ids) if ids is not None \
                else Literal(True)

        rows = []
        slices = (grouped_slice(ids, backend.MAX_QUERY_PARAMS)
            if ids is not None else [None])
        for sub_ids in slices:
            sub_ids = list(sub_ids) if sub_ids is not None else None
            cursor.execute(*lead.select(
                    lead.id, lead.source, lead.medium, lead.industry,
                    lead.territory, lead.campaign_name, lead.expected_value,
                    lead.create_date, lead.stage_kind, lead.closed_at,
                    where=where(lead.id, sub_ids)))
            rows.extend(cursor)
        columns = ['id', 'source', 'medium', 'industry', 'territory',
            'campaign', 'expected_value', 'create_date', 'stage_kind',
            'closed_at']
        frame = pd.DataFrame(rows, columns=columns).set_index('id')
        lead_ids = frame.index.tolist()
        closed = frame['stage_kind'].isin(['won', 'lost'])
        now = datetime.datetime.now()
        # the moment each lead's outcome was decided (now for open leads)
        cutoff = {i: _datetime(c) if k else now for i, c, k in zip(
                lead_ids, frame['closed_at'].tolist(), closed.tolist())}

        stage_dates = defaultdict(list)
        activity = []
        for sub_ids in grouped_slice(lead_ids, backend.MAX_QUERY_PARAMS):
            sub_ids = list(sub_ids)
            cursor.execute(*history.select(
                    history.lead, history.date,
                    where=reduce_ids(history.lead, sub_ids)
                    & (history.field == 'stage')))
            for lead_id, date in cursor:
                stage_dates[lead_id].append(_datetime(date))
            for table, text in [
                    (note, note.text), (interaction, interaction.id)]:
                cursor.execute(*table.select(
                        table.lead, table.date, text,
                        where=reduce_ids(table.lead, sub_ids)))
                kind = 'note' if table is note else 'interaction'
                activity.extend((kind, *r) for r in cursor)
        for lead_id, dates in stage_dates.items():
            # a closed lead without closed_at (closed before the column
            # existed) closed at its last stage move
            if cutoff.get(lead_id) is None:
                cutoff[lead_id] = max(dates)
        activity_cutoff = dict(cutoff)
        for lead_id, is_closed in zip(lead_ids, closed.tolist()):
            # a lead created won or lost (an import) comes with the notes
            # and interactions saved with it: they are its past
            if (is_closed and lead_id not in stage_dates
                    and cutoff[lead_id] is not None):
                activity_cutoff[lead_id] += CREATED_CLOSED

        notes, follow_ups = defaultdict(list), defaultdict(int)
        interactions, last_contact = defaultdict(int), {}
        for kind, lead_id, date, text in activity:
            date, end = _datetime(date), activity_cutoff.get(lead_id)
            if end is not None and date is not None and date > end:
                continue
            if kind == 'note':
                notes[lead_id].append((date, text or ''))
                follow_ups[lead_id] += 1
            else:
                interactions[lead_id] += 1
                if date is not None and (lead_id not in last_contact
                        or date > last_contact[lead_id]):
                    last_contact[lead_id] = date

        def days(start, end):
            if start is None or end is None:
                return None
            return max((end - start).total_seconds() / 86400, 0)

        created = [_datetime(c) for c in frame['create_date'].tolist()]
        frame['expected_value'] = pd.to_numeric(
            frame['expected_value'], errors='coerce').astype(float)
        frame['follow_ups'] = [follow_ups[i] for i in lead_ids]
        frame['interactions'] = [interactions[i] for i in lead_ids]
        # the moves up to the decision, less the move into won or lost:
        # it is the outcome itself (dates are to the second, so it may
        # share its date with the move before)
        frame['stage_changes'] = [
            max(sum(1 for d in stage_dates.get(i, ()) if cutoff[i] is None
                        or d <= cutoff[i]) - (1 if c else 0), 0)
            for i, c in zip(lead_ids, closed.tolist())]
        frame['days_open'] = [
            days(c, cutoff[i]) for i, c in zip(lead_ids, created)]
        frame['days_since_contact'] = [
            days(last_contact.get(i), cutoff[i]) for i in lead_ids]
        frame['notes'] = ['\n'.join(t for _, t in sorted(
                        notes[i], key=lambda n: n[0] or now))
            for i in lead_ids]
        frame['outcome'] = frame['stage_kind'].where(closed, None)
        frame['days_open'] = frame['days_open'].astype(float)
        frame['days_since_contact'] = frame['days_since_contact'].astype(
            float)
        return frame.drop(columns=['create_date', 'stage_kind', 'closed_at'])


ALGORITHMS = {
    'linear': "Logistic regression",
    'boosted': "Gradient-boosted trees",
    'naive_bayes': "Naive Bayes (baseline)",
    }


def _round(value, digits):
    return None if value is None or value != value else round(value, digits)


def _candidates(report):
    "One line per candidate model: its cross-validated ROC-AUC ± spread"
    lines = []
    for name, figures in report['candidates'].items():
        chosen = " \N{CHECK MARK}" if name == report['algorithm'] else ""
        lines.append(f"{ALGORITHMS.get(name, name)}: ROC-AUC "
            f"{figures['cv_roc_auc']:.3f} \N{PLUS-MINUS SIGN} "
            f"{figures['cv_roc_auc_std']:.3f}, PR-AUC "
            f"{figures['cv_pr_auc']:.3f} ({figures['folds']} folds){chosen}")
    return '\n'.join(lines)


def _datetime(value):
    if value is None or isinstance(value, datetime.datetime):
        return value
    return datetime.datetime.fromisoformat(str(value))


class RescoreLeadMixin:
    "A record of a lead whose changes queue the rescoring of the lead"
    __slots__ = ()

    @classmethod
    def create(cls, vlist):
        records = super().create(vlist)
        cls._rescore_leads(records)
        return records

    @classmethod
    def write(cls, *args):
        super().write(*args)
        cls._rescore_leads(sum(args[::2], []))

    @classmethod
    def _rescore_leads(cls, records):
        Lead = Pool().get('autolead.lead')
        leads = list({r.lead for r in records if r.lead})
        if leads:
            Lead.__queue__.rescore(leads)


class Note(RescoreLeadMixin, metaclass=PoolMeta):
    __name__ = 'autolead.lead.note'


class Interaction(RescoreLeadMixin, metaclass=PoolMeta):
    __name__ = 'autolead.lead.interaction'
