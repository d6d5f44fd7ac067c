"""The ML budgets of issue 7 measured through Tryton: the data gathered in
SQL from leads, notes, interactions and the timeline, the model loaded from
its training run, scores written back, and the chatbot answering over HTTP.

    .autolead/venv/bin/python bench/ml_tryton.py [--leads 4000]

Runs on SQLite in a throw-away database of its own; called by
bench/ml.py.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

os.environ.setdefault('TRYTOND_DATABASE_URI', 'sqlite://')
# a database of its own in a directory of its own: a file left by an older
# run (another schema) or used by another run at the same time is never
# reused
_directory = tempfile.mkdtemp(prefix='autolead-bench-')
os.environ['TRYTOND_DATABASE__PATH'] = _directory
os.environ.setdefault('DB_NAME', f'bench_ml_{os.getpid()}')
os.environ['DB_CACHE'] = _directory


def _leads(Lead, frame, stage, lost_stage=None, lost_reason=None):
    """Create the leads of frame open in stage, with their notes and
    interactions, then close them as a representative does: won in stage
    (lost in lost_stage) when frame has an outcome"""
    from trytond.pool import Pool
    Stage = Pool().get('autolead.lead.stage')
    Transition = Pool().get('autolead.lead.stage.transition')
    new, = Stage.search([('kind', '=', 'open')], limit=1)
    values, outcomes = [], []
    for row in frame.itertuples():
        won = getattr(row, 'won', None)
        outcomes.append(
            None if won is None else stage if won else lost_stage)
        values.append({
                'name': f'Bench {row.Index}',
                'source': row.source,
                'industry': row.industry,
                'territory': row.territory,
                'campaign_name': row.campaign,
                'expected_value': (None if np.isnan(row.budget)
                    else int(row.budget)),
                'stage': new.id if won is not None else stage.id,
                'notes': [('create', [{'text': row.notes}])],
                'interactions': [('create', [{}] * int(row.interactions))],
                })
    leads = Lead.create(values)
    to_write = []
    for closing in {s for s in outcomes if s}:
        if not Transition.allowed(new, closing):
            Transition.create([{
                        'from_stage': new.id, 'to_stage': closing.id}])
        to_write.extend((
                [l for l, s in zip(leads, outcomes) if s == closing], {
                    'stage': closing.id,
                    'lost_reason': (lost_reason.id
                        if closing == lost_stage else None),
                    }))
    if to_write:
        Lead.write(*to_write)
    return leads


def run(out, budget, rows):
    from trytond.modules.autolead import chatbot
    from trytond.modules.autolead.ml import synthetic
    from trytond.pool import Pool
    from trytond.tests.test_tryton import DB_NAME, activate_module
    from trytond.transaction import Transaction
    from trytond.protocols.wrappers import Response
    from trytond.wsgi import app
    from werkzeug.test import Client

    activate_module('autolead')
    with Transaction().start(DB_NAME, 0) as transaction:
        pool = Pool()
        Lead = pool.get('autolead.lead')
        Run = pool.get('autolead.lead.scoring.run')
        ModelData = pool.get('ir.model.data')
        Stage = pool.get('autolead.lead.stage')
        LostReason = pool.get('autolead.lead.lost_reason')

        def stage(name):
            return Stage(ModelData.get_id('autolead', name))
        start = time.perf_counter()
        _leads(Lead, synthetic.leads(rows, seed=1), stage('stage_won'),
            stage('stage_lost'), LostReason.search([])[0])
        open_leads = _leads(Lead, synthetic.leads(
                rows // 4, seed=2).drop(columns='won'), stage('stage_new'))
        out(f'{"create leads in Tryton (setup, info)":<44} '
            f'{rows * 1.25 / (time.perf_counter() - start):>12,.1f} leads/s')

        start, cpu = time.perf_counter(), time.process_time()
        run_ = Run.train()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        budget(f'train from {rows:,} closed leads + rescore', wall, 's', 30,
            True, f' cpu {cpu:.1f} s, model {run_.seconds:.1f} s, '
            f'ROC-AUC {run_.roc_auc:.3f} vs {run_.baseline_roc_auc:.3f}')
        ids = [l.id for l in open_leads]
        start = time.perf_counter()
        Lead.rescore_ids(ids)
        out(f'{"batch rescore with 3 reasons, SQL in/out":<44} '
            f'{len(ids) / (time.perf_counter() - start):>12,.1f} leads/s')
        latencies = []
        for lead in open_leads[:100]:
            start = time.perf_counter()
            Lead.rescore([lead])
            latencies.append((time.perf_counter() - start) * 1000)
        budget('rescore one changed lead (queue task)',
            statistics.median(latencies), 'ms', 50, True,
            f' p95 {np.percentile(latencies, 95):.1f} ms')
        transaction.commit()

    client = Client(app, Response)
    url = f'/{DB_NAME}/chatbot/ask'
    questions = ["How can I contact support?", "what is auto lead",
        "where is my ticket?", "how do I edit my profile"]
    chatbot.RATE_LIMIT = 10 ** 6
    client.post(url, json={'question': 'warm up'})
    latencies = []
    for i in range(100):
        start = time.perf_counter()
        response = client.post(url, json={'question': questions[i % 4]})
        latencies.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
    budget('chatbot answer over HTTP (tfidf), median',
        statistics.median(latencies), 'ms', 50, True,
        f' p95 {np.percentile(latencies, 95):.1f} ms, incl. transaction')


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--leads', type=int, default=4000)
    args = parser.parse_args()
    results = []

    def out(line=''):
        print(line, flush=True)

    def budget(name, value, unit, limit, lower_is_better, note=''):
        ok = value <= limit if lower_is_better else value >= limit
        results.append(ok)
        sign = '<=' if lower_is_better else '>='
        out(f'{name:<44} {value:>12,.1f} {unit:<9} {sign} {limit:>8,} '
            f'{"OK" if ok else "OVER":<5}{note}')
    run(out, budget, args.leads)
    return 0 if all(results) else 1


if __name__ == '__main__':
    sys.exit(main())
