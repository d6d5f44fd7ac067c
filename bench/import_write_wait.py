#!/usr/bin/env python3
"""How long a desk write waits while a big import runs on SQLite.

    .autolead/venv/bin/python bench/import_write_wait.py [--rows 100000]
        [--chunk N] [--commit-every SECONDS] [--pause SECONDS]

SQLite has one writer: a desk write waits until the import commits its
batch. Activates Auto Lead in a fresh SQLite file, starts the command-line
import (scripts/import_leads.py, the code path of the queued desk import:
committed batches) of a generated file in another process, and meanwhile,
in this process, writes single leads through the ORM as a desk user's request
does (one transaction each: create a lead, or change the expected value of
one), one every `--pause` seconds, until the import ends. Prints the import
rate and the max/p95/p50 of the writes' time, the errors ("database is
locked" after the busy timeout), and appends them to bench/results/
import_write_wait.txt with the command line and the load average.
"""
import argparse
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from import_leads import generate  # noqa: E402


def percentile(values, fraction):
    values = sorted(values)
    return values[min(len(values) - 1, int(fraction * len(values)))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--rows', type=int, default=100_000)
    parser.add_argument('--chunk', type=int,
        help="rows per chunk (autolead.import_chunk; default: the module's)")
    parser.add_argument('--commit-every', type=float,
        help="seconds a batch transaction lasts at least "
        "(autolead.import_commit_every; default: the module's)")
    parser.add_argument('--pause', type=float, default=0.05,
        help="seconds between two desk writes")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix='autolead-wait-'))
    name = f'bench_wait_{int(time.time())}'
    os.environ['TRYTOND_DATABASE_URI'] = 'sqlite://'
    os.environ['TRYTOND_DATABASE__PATH'] = str(folder)
    os.environ['DB_NAME'] = name
    os.environ.pop('DB_CACHE', None)
    options = ''
    if args.chunk:
        options += f'import_chunk = {args.chunk}\n'
    if args.commit_every is not None:
        options += f'import_commit_every = {args.commit_every}\n'
    config = folder / 'trytond.conf'
    config.write_text(f"""\
[database]
uri = sqlite://
path = {folder}
[autolead]
check_email_deliverability = False
{options}""")
    data, invalid, duplicate = generate(args.rows)
    path = folder / 'leads.csv'
    path.write_bytes(data)

    from trytond.tests.test_tryton import activate_module
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    activate_module(['autolead'])
    pool = Pool(name)
    Lead = pool.get('autolead.lead')
    with Transaction().start(name, 1) as transaction:
        leads = [l.id for l in Lead.create([{
                        'name': f'Desk {i}', 'source': 'website'}
                    for i in range(50)])]
        transaction.commit()

    env = dict(os.environ)
    for key in ['TRYTOND_DATABASE_URI', 'TRYTOND_DATABASE__PATH', 'DB_NAME']:
        env.pop(key)
    load_before = os.getloadavg()
    started = time.perf_counter()
    importer = subprocess.Popen(
        [sys.executable, str(HERE.parent / 'scripts' / 'import_leads.py'),
            '-c', str(config), '-d', name, str(path)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        cwd=folder,
        text=True)
    rng = random.Random(5)
    waits, errors, kinds = [], [], {'create': 0, 'write': 0}
    while importer.poll() is None:
        kind = rng.choice(['create', 'write'])
        start = time.perf_counter()
        try:
            with Transaction().start(name, 1) as transaction:
                if kind == 'create':
                    Lead.create([{'name': 'Walk-in', 'source': 'walk_in'}])
                else:
                    Lead.write([Lead(rng.choice(leads))], {
                            'expected_value': Decimal(rng.randrange(10**6))})
                transaction.commit()
        except Exception as exception:
            errors.append(f'{type(exception).__name__}: {exception}')
        waits.append(time.perf_counter() - start)
        kinds[kind] += 1
        time.sleep(args.pause)
    elapsed = time.perf_counter() - started
    output = importer.stdout.read()
    if importer.returncode not in {0, 1} or 'Traceback' in output:
        sys.exit(f"the import failed:\n{output}")
    load_after = os.getloadavg()
    rate = args.rows / elapsed

    lines = [
        "Desk writes during an import on SQLite",
        f"command: {' '.join(sys.argv)}",
        f"machine: {platform.node()} {platform.machine()}, "
        f"{os.cpu_count()} CPU, Python {platform.python_version()}; "
        f"load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after",
        f"import: {args.rows} rows in {elapsed:.1f} s "
        f"({rate:,.0f} rows/s, process start included); "
        + output.strip().splitlines()[0],
        f"desk writes: {len(waits)} ({kinds['create']} creates, "
        f"{kinds['write']} writes), errors {len(errors)}",
        f"write time: max {max(waits) * 1000:.0f} ms, "
        f"p95 {percentile(waits, 0.95) * 1000:.0f} ms, "
        f"p50 {statistics.median(waits) * 1000:.0f} ms",
        "goal: no write waits more than 2 s: "
        + ("met" if max(waits) <= 2 and not errors else "missed"),
        ]
    if errors:
        lines.append(f"first error: {errors[0]}")
    print('\n'.join(lines))
    results = HERE / 'results'
    results.mkdir(exist_ok=True)
    with open(results / 'import_write_wait.txt', 'a') as out:
        out.write(time.strftime('%Y-%m-%d %H:%M UTC\n', time.gmtime()))
        out.write('\n'.join(lines) + '\n\n')
    shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
