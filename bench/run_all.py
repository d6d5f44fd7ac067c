"""Run every Auto Lead benchmark on SQLite and PostgreSQL in one command.

    .autolead/venv/bin/python bench/run_all.py
        [--backends sqlite postgresql] [--leads 1000000]
        [--import-rows 100000] [--pg postgresql://postgres@127.0.0.1:5432/]
        [--only desk import portal reporting] [--keep] [--reuse bench_1m]
        [--customers 20000] [--portal-users 50] [--portal-duration 30]

For each backend it runs the benches of BENCHES one after the other (never
two at once: the figures are wall-clock times), collects the figures each
writes as JSON and writes bench/results/<date>-<backend>.md: a table of
figure, value, baseline, ratio, goal and whether it is met, with the machine
it ran on. Databases it creates on PostgreSQL are named bench_* and dropped
at the end unless --keep.

A bench is a script of this folder taking `--db URI --json PATH` (plus the
arguments its entry below gives) and writing a list of figures:
{"figure", "value", "unit", "baseline", "baseline_label", "ratio", "goal",
"met"}. Report benches plug in by adding their entry.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def desk(args, backend):
    if backend == 'postgresql' and args.reuse:
        return ['desk.py', '--leads', args.leads, '--repeat', args.repeat,
            '--database', args.reuse, '--no-update']
    return ['desk.py', '--leads', args.leads, '--repeat', args.repeat,
        '--database', database_name(args, backend)]


def database_name(args, backend):
    return f'bench_{backend}_{args.leads}'


def import_leads(args, backend):
    return ['import_leads.py', '--rows', args.import_rows,
        '--baseline-rows', args.baseline_rows]


def portal_database(args, backend):
    return f'bench_portal_{backend}_{args.customers}'


def portal(args, backend):
    return ['portal_load.py', '--customers', args.customers,
        '--users', args.portal_users, '--duration', args.portal_duration,
        '--database', portal_database(args, backend)]


def reporting_database(args, backend):
    return f'bench_reporting_{backend}_{args.leads}'


def reporting(args, backend):
    # the database is dropped below, with the others, unless --keep
    return ['reporting.py', '--leads', args.leads,
        '--database', reporting_database(args, backend), '--keep']


# name -> function(args, backend) returning the script and its arguments;
# reports (dashboards at volume) are added here
BENCHES = {
    'desk': desk,
    'import': import_leads,
    'portal': portal,
    'reporting': reporting,
    }
# the benches that create this PostgreSQL database, to drop it after
DATABASES = {
    'desk': database_name,
    'portal': portal_database,
    'reporting': reporting_database,
    }


def postgresql_version(uri):
    try:
        import psycopg
        with psycopg.connect(uri.rstrip('/') + '/postgres') as connection:
            return connection.execute('SHOW server_version').fetchone()[0]
    except Exception as exception:
        return f'unknown ({exception})'


def machine():
    "Lines describing the machine the figures come from"
    cpu = next((line.split(':', 1)[1].strip()
            for line in Path('/proc/cpuinfo').read_text().splitlines()
            if line.startswith('model name')), platform.processor())
    memory = next((int(line.split()[1]) / 2**20
            for line in Path('/proc/meminfo').read_text().splitlines()
            if line.startswith('MemTotal')), 0)
    lines = [
        f"- CPU: {cpu}, {os.cpu_count()} cores (`nproc`), "
        f"RAM {memory:.0f} GiB",
        f"- {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}",
        f"- load average at the end: "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}",
        ]
    try:
        from importlib.metadata import version
        lines.append(f"- trytond {version('trytond')}")
    except Exception:
        pass
    return lines


def run_bench(name, args, backend, uri):
    script, *extra = BENCHES[name](args, backend)
    with tempfile.NamedTemporaryFile(suffix='.json') as output:
        command = [sys.executable, str(HERE / script), '--db', uri,
            '--json', output.name, *map(str, extra)]
        print(f"[bench] {name} on {backend}: {' '.join(command[1:])}",
            flush=True)
        result = subprocess.run(command)
        if result.returncode:
            return [{'figure': f'{name}: failed (exit {result.returncode})',
                    'value': None, 'unit': '', 'met': False}]
        return json.loads(Path(output.name).read_text() or '[]')


def drop_database(uri, name):
    from trytond import config
    config.set('database', 'uri', uri)
    # trytond.backend picks its backend from the URI when it is imported
    from trytond import backend
    database = backend.Database().connect()
    if name not in database.list():
        return
    connection = database.get_connection(autocommit=True)
    try:
        database.drop(connection, name)
    finally:
        database.put_connection(connection)
    print(f"[bench] dropped {name}", flush=True)


def number(value):
    if value is None:
        return '-'
    if isinstance(value, float) and value < 100:
        return f'{value:,.2f}'.rstrip('0').rstrip('.')
    return f'{value:,.0f}'


def report(backend, args, figures, command, uri):
    now = datetime.datetime.now(datetime.timezone.utc)
    server = []
    if backend == 'postgresql':
        server = [f"- PostgreSQL {postgresql_version(uri)} on "
            f"{uri.split('@')[-1]}"]
    lines = [
        f"# Auto Lead benchmarks on {backend}, "
        f"{now:%Y-%m-%d %H:%M} UTC", "",
        f"Command: `{command}`", "",
        "Machine:", *machine(), *server, "",
        "| figure | value | baseline | ratio | goal | met? |",
        "|---|---|---|---|---|---|",
        ]
    for f in figures:
        baseline = number(f.get('baseline'))
        if f.get('baseline_label') and f.get('baseline') is not None:
            baseline += f" ({f['baseline_label']})"
        met = {True: 'yes', False: '**no**', None: ''}[f.get('met')]
        ratio = f.get('ratio')
        lines.append(
            f"| {f['figure']} | {number(f.get('value'))} {f.get('unit', '')}"
            f" | {baseline} | {f'{ratio:,}x' if ratio else '-'} "
            f"| {f.get('goal') or ''} | {met} |")
    path = HERE / 'results' / f'{now:%Y-%m-%d}-{backend}.md'
    path.parent.mkdir(exist_ok=True)
    path.write_text('\n'.join(lines) + '\n')
    print('\n'.join(lines), flush=True)
    return path


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--backends', nargs='+',
        default=['sqlite', 'postgresql'], choices=['sqlite', 'postgresql'])
    parser.add_argument('--pg', default=os.environ.get(
            'AUTOLEAD_BENCH_PG', 'postgresql://postgres@127.0.0.1:5432/'))
    parser.add_argument('--leads', type=int, default=1_000_000)
    parser.add_argument('--import-rows', type=int, default=100_000)
    parser.add_argument('--baseline-rows', type=int, default=5_000)
    parser.add_argument('--repeat', type=int, default=40)
    parser.add_argument('--customers', type=int, default=20_000,
        help="portal: customers with web users (ten tickets each)")
    parser.add_argument('--portal-users', type=int, default=50,
        help="portal: customers signed in at once")
    parser.add_argument('--portal-duration', type=float, default=30,
        help="portal: seconds of load")
    parser.add_argument('--only', nargs='+', choices=list(BENCHES))
    parser.add_argument('--keep', action='store_true',
        help="keep the PostgreSQL databases for another run")
    parser.add_argument('--reuse', metavar='DATABASE',
        help="time the desk on this filled PostgreSQL database (kept)")
    args = parser.parse_args()
    command = 'bench/run_all.py ' + ' '.join(sys.argv[1:])
    for backend in args.backends:
        uri = 'sqlite://' if backend == 'sqlite' else args.pg
        figures = []
        for name in args.only or BENCHES:
            figures += run_bench(name, args, backend, uri)
            if (backend == 'postgresql' and not args.keep
                    and not (name == 'desk' and args.reuse)
                    and name in DATABASES):
                drop_database(uri, DATABASES[name](args, backend))
        report(backend, args, figures, command.strip(), uri)


if __name__ == '__main__':
    main()
