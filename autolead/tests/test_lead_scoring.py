"""Edges of lead scoring: what it learns from, the prior, access"""
import json

from trytond.model.exceptions import AccessError, ValidationError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .database import DatabaseTestCase


def stage(xml_id):
    pool = Pool()
    ModelData = pool.get('ir.model.data')
    Stage = pool.get('autolead.lead.stage')
    return Stage(ModelData.get_id('autolead', xml_id))


class LeadScoringTestCase(DatabaseTestCase):
    "Lead scoring in the database"

    @with_transaction()
    def test_scoring_frame(self):
        "Notes, interactions and stage moves before closing are counted"
        pool = Pool()
        Lead = pool.get('autolead.lead')
        Note = pool.get('autolead.lead.note')
        Interaction = pool.get('autolead.lead.interaction')
        Transition = pool.get('autolead.lead.stage.transition')
        new, contacted, won = (stage('stage_new'), stage('stage_contacted'),
            stage('stage_won'))
        for from_, to in [(new, contacted), (contacted, won)]:
            if not Transition.allowed(from_, to):
                Transition.create([{
                            'from_stage': from_.id, 'to_stage': to.id}])

        lead, other = Lead.create([
                {'name': "Asha Rao", 'source': 'referral',
                    'industry': "Textiles", 'expected_value': 1000},
                {'name': "Open Lead", 'source': 'website'},
                ])
        Note.create([
                {'lead': lead.id, 'text': "Asked for a demo."},
                {'lead': lead.id, 'text': "Budget approved."},
                ])
        Interaction.create([{'lead': lead.id}])
        Lead.write([lead], {'stage': contacted.id})
        Lead.write([lead], {'stage': won.id})

        frame = Lead.scoring_frame([lead.id, other.id])
        row = frame.loc[lead.id]
        self.assertEqual(row['outcome'], 'won')
        self.assertEqual(row['source'], 'referral')
        self.assertEqual(row['industry'], "Textiles")
        self.assertEqual(row['expected_value'], 1000)
        self.assertEqual(row['follow_ups'], 2)
        self.assertEqual(row['interactions'], 1)
        # the move into Won is the outcome itself, not a feature
        self.assertEqual(row['stage_changes'], 1)
        self.assertGreaterEqual(row['days_open'], 0)
        self.assertIn("demo", row['notes'])
        self.assertIn("Budget", row['notes'])
        self.assertTrue(frame['outcome'].isna()[other.id])
        self.assertEqual(len(Lead.scoring_frame()), Lead.search_count([]))

    @with_transaction()
    def test_scoring_frame_as_of_close(self):
        "Activity after a lead is won or lost does not change what it teaches"
        import datetime
        import time

        import pandas as pd
        pool = Pool()
        Lead = pool.get('autolead.lead')
        Note = pool.get('autolead.lead.note')
        Interaction = pool.get('autolead.lead.interaction')
        Transition = pool.get('autolead.lead.stage.transition')
        new, contacted, won, lost = (stage('stage_new'),
            stage('stage_contacted'), stage('stage_won'), stage('stage_lost'))
        for from_, to in [(new, contacted), (contacted, won),
                (contacted, lost)]:
            if not Transition.allowed(from_, to):
                Transition.create([{
                            'from_stage': from_.id, 'to_stage': to.id}])
        LostReason = pool.get('autolead.lead.lost_reason')
        winner, loser = Lead.create([
                {'name': "Asha Rao", 'source': 'referral'},
                {'name': "Ravi Rao", 'source': 'website'},
                ])
        before = datetime.datetime.now() - datetime.timedelta(days=3)
        Note.create([{'lead': l.id, 'text': "Asked for a demo.",
                    'date': before} for l in [winner, loser]])
        Interaction.create([{'lead': l.id, 'date': before}
                for l in [winner, loser]])
        Lead.write([winner, loser], {'stage': contacted.id})
        Lead.write([winner], {'stage': won.id},
            [loser], {'stage': lost.id,
                'lost_reason': LostReason.search([])[0].id})
        ids = [winner.id, loser.id]
        frame = Lead.scoring_frame(ids)

        # what a representative does once the outcome is known (dates are
        # to the second: the close is over when the next second starts)
        time.sleep(1.1)
        later = datetime.datetime.now() + datetime.timedelta(hours=1)
        Note.create([
                {'lead': winner.id, 'text': "Contract signed, invoice sent."},
                {'lead': winner.id, 'text': "Paid.", 'date': later},
                {'lead': loser.id, 'text': "Went to a competitor.",
                    'date': later},
                ])
        Interaction.create([{'lead': l.id} for l in [winner, loser]]
            + [{'lead': winner.id, 'date': later}])
        after = Lead.scoring_frame(ids)

        self.assertEqual(list(frame['outcome']), ['won', 'lost'])
        self.assertEqual(list(frame['follow_ups']), [1, 1])
        self.assertEqual(list(frame['interactions']), [1, 1])
        self.assertEqual(list(frame['stage_changes']), [1, 1])
        self.assertNotIn("Contract", after.loc[winner.id, 'notes'])
        pd.testing.assert_frame_equal(frame, after)
        # days run to the close, not to today: equal above
        self.assertGreaterEqual(frame.loc[winner.id, 'days_since_contact'],
            2.9)

    @with_transaction()
    def test_train_now_is_queued(self):
        "Train Now returns at once with a queued run; the queue trains it"
        pool = Pool()
        Configuration = pool.get('autolead.lead.scoring.configuration')
        Run = pool.get('autolead.lead.scoring.run')
        Queue = pool.get('ir.queue')
        transaction = Transaction()
        del transaction.tasks[:]

        Configuration.train([Configuration(1)])
        run, = Run.search([])
        self.assertEqual(run.state, 'queued')
        self.assertTrue(run.progress)
        self.assertEqual(len(transaction.tasks), 1)

        Queue(transaction.tasks.pop()).run()
        run, = Run.search([])
        self.assertEqual(run.state, 'not_enough_data')
        self.assertIsNone(run.progress)
        self.assertIn("Not enough data", run.message)

    @with_transaction()
    def test_prior(self):
        "The prior is validated; without one open leads have no score"
        pool = Pool()
        Configuration = pool.get('autolead.lead.scoring.configuration')
        Lead = pool.get('autolead.lead')
        configuration = Configuration(1)

        for prior in ['not json', json.dumps({'weights': {}})]:
            with self.assertRaises(ValidationError):
                Configuration.write([configuration], {'prior': prior})
        Configuration.write([configuration], {'prior': json.dumps({
                        'bias': 0, 'values': {'source': {'referral': 2}}})})
        referral, website = Lead.create([
                {'name': "Referred", 'source': 'referral'},
                {'name': "Web", 'source': 'website'},
                ])
        Lead.rescore([referral, website])
        self.assertEqual((referral.score, website.score), (88, 50))
        self.assertEqual(referral.score_kind, 'prior')
        self.assertEqual(referral.score_reasons, "Source: Referral")
        self.assertEqual(Lead.search([
                    ('hot', '=', True), ('id', 'in', [referral.id, website.id]),
                    ]), [referral])
        self.assertEqual(Lead.search([
                    ('hot', '=', False), ('id', 'in', [referral.id, website.id]),
                    ]), [website])

        Configuration.write([configuration], {'prior': None})
        Lead.rescore([referral])
        self.assertIsNone(referral.score)
        self.assertIsNone(referral.score_kind)

    @with_transaction()
    def test_hot_follows_configuration(self):
        "Hot is read for a page of leads and follows the threshold set"
        pool = Pool()
        Configuration = pool.get('autolead.lead.scoring.configuration')
        Lead = pool.get('autolead.lead')
        high, low, unscored, lost = Lead.create([
                {'name': "High"}, {'name': "Low"}, {'name': "Unscored"},
                {'name': "Lost"}])
        Lead.write([high], {'score': 90}, [low], {'score': 40},
            [lost], {'score': 95})
        table = Lead.__table__()
        Transaction().connection.cursor().execute(*table.update(
                [table.stage_kind], ['lost'], where=table.id == lost.id))

        def hot():
            return [r['hot'] for r in Lead.read(
                    [high.id, low.id, unscored.id, lost.id], ['hot'])]

        self.assertEqual(Configuration.get_hot_score(), 70)
        self.assertEqual(hot(), [True, False, False, False])
        Configuration.write([Configuration(1)], {'hot_score': 30})
        self.assertEqual(Configuration.get_hot_score(), 30)
        self.assertEqual(hot(), [True, True, False, False])
        self.assertEqual(set(Lead.search([
                    ('hot', '=', True),
                    ('id', 'in', [high.id, low.id, unscored.id, lost.id]),
                    ])), {high, low})

    @with_transaction()
    def test_access(self):
        "Only the administrator configures and trains; heads read trainings"
        pool = Pool()
        Configuration = pool.get('autolead.lead.scoring.configuration')
        Run = pool.get('autolead.lead.scoring.run')
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        run = Run.train()
        self.assertEqual(run.state, 'not_enough_data')
        rep, head = User.create([
                {'name': "Rep", 'login': 'rep', 'groups': [('add', [
                                ModelData.get_id(
                                    'autolead', 'group_sales_rep')])]},
                {'name': "Head", 'login': 'head', 'groups': [('add', [
                                ModelData.get_id(
                                    'autolead', 'group_sales_head')])]},
                ])
        transaction = Transaction()
        for user in [rep, head]:
            with transaction.set_user(user.id), \
                    transaction.set_context(_check_access=True):
                with self.assertRaises(AccessError):
                    Configuration.write([Configuration(1)], {'hot_score': 1})
                with self.assertRaises(AccessError):
                    Run.write([Run(run.id)], {'message': "better"})
                with self.assertRaises(AccessError):
                    Run.delete([Run(run.id)])
        with transaction.set_user(rep.id), \
                transaction.set_context(_check_access=True):
            with self.assertRaises(AccessError):
                Run.search([])
        with transaction.set_user(head.id), \
                transaction.set_context(_check_access=True):
            self.assertEqual(Run.search([]), [run])
