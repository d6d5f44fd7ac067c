"""Single-lead writes at volume: what keeping the report rollups costs.

    python bench/lead_write.py --db postgresql://postgres@127.0.0.1:5432/ \
        --database bench_write_1m [--repeat 40]

Runs on a database filled by bench/generate.py (the one `bench/desk.py
--database NAME` leaves behind, say). Times through Tryton's ORM, as root,
each call in its own transaction rolled back afterwards so the data stays as
generated: the write of a field no rollup reads (the job title: the
baseline), of the expected value, of the owner, a stage change, and the
creation of one lead. Prints p50/p95 ms, the ratio to the baseline and the
part spent summing and writing the rollups (autolead/rollup.py).
"""
import argparse
import datetime
import platform
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from desk import bench_workdir, write_config  # noqa: E402


def percentile(values, fraction):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(fraction * (len(values) - 1))))]


def rollup_timer():
    "Count the time spent in the rollups' upkeep; return the counter"
    from trytond.modules.autolead import rollup
    spent = [0.0]
    for name in ['_delta', 'apply']:
        method = getattr(rollup.Rollup, name).__func__

        def timed(cls, *args, _method=method, **kwargs):
            start = time.perf_counter()
            try:
                return _method(cls, *args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - start
        setattr(rollup.Rollup, name, classmethod(timed))
    return spent


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--db', default='sqlite://')
    parser.add_argument('--database', required=True)
    parser.add_argument('--repeat', type=int, default=40)
    args = parser.parse_args()
    backend_name = args.db.split(':', 1)[0]
    workdir = bench_workdir(backend_name)
    config, _ = write_config(args, workdir, 0)
    from trytond import config as tconfig
    tconfig.update_etc(str(config))
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    spent = rollup_timer()
    pool = Pool(args.database)
    with Transaction().start(args.database, 0, readonly=True):
        pool.init()
    Lead = pool.get('autolead.lead')
    ModelData = pool.get('ir.model.data')
    with Transaction().start(args.database, 0, readonly=True):
        new = ModelData.get_id('autolead', 'stage_new')
        contacted = ModelData.get_id('autolead', 'stage_contacted')
        count = Lead.search([('stage', '=', new)], count=True)
        leads = Lead.search([('stage', '=', new), ('owner', '!=', None)],
            offset=count // 2, limit=args.repeat + 1,
            order=[('id', 'ASC')])
        samples = [(l.id, l.owner.id) for l in leads]
        total = Lead.search([], count=True)
    owners = sorted({o for _, o in samples})

    def other_owner(owner):
        return next((o for o in owners if o != owner), owner)

    operations = [
        ("write a field no rollup reads (job title)",
            lambda i, o: Lead.write([Lead(i)], {'job_title': "Bench"})),
        ("write the expected value",
            lambda i, o: Lead.write(
                [Lead(i)], {'expected_value': Decimal('1234.50')})),
        ("give the lead to another owner",
            lambda i, o: Lead.write([Lead(i)], {'owner': other_owner(o)})),
        ("move the lead to the next stage",
            lambda i, o: Lead.write([Lead(i)], {'stage': contacted})),
        ("create one lead",
            lambda i, o: Lead.create([{
                        'name': "Bench Lead", 'source': 'website',
                        'email': f'bench-{i}@write.example', 'owner': o,
                        }])),
        ]
    results = []
    for label, operation in operations:
        times, rollups = [], []
        for lead_id, owner in samples[1:]:
            with Transaction().start(args.database, 0) as transaction:
                spent[0] = 0.0
                start = time.perf_counter()
                operation(lead_id, owner)
                times.append((time.perf_counter() - start) * 1000)
                rollups.append(spent[0] * 1000)
                transaction.rollback()
        results.append((label, statistics.median(times),
                percentile(times, 0.95), statistics.median(rollups)))

    base = results[0][1]
    lines = [
        f"Auto Lead single-lead writes, {total:,} leads, {backend_name}, "
        f"{len(samples) - 1} calls each (ORM, as root, rolled back)",
        f"machine: {platform.machine()}, Python {platform.python_version()}; "
        f"{datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC",
        "",
        f"{'operation':<45}{'p50 ms':>8}{'p95 ms':>8}{'rollups':>9}"
        f"{'x base':>8}",
        ]
    for label, p50, p95, rollup_ms in results:
        lines.append(f"{label:<45}{p50:8.1f}{p95:8.1f}{rollup_ms:9.1f}"
            f"{p50 / base:8.1f}")
    lines += ["", "rollups: p50 ms spent summing the written leads before and "
        "after and inserting the differences (autolead/rollup.py)."]
    text = '\n'.join(lines)
    print(text)
    with open(HERE / 'results' / f'lead-write-{backend_name}.txt', 'a') as f:
        f.write(text + '\n\n')


if __name__ == '__main__':
    main()
