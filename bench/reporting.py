"""The reports at volume, in process, against a full scan of the leads.

    python bench/reporting.py [--db sqlite://] [--leads 1000000] [--repeat 5]

Creates a database in a temporary directory, activates Auto Lead, inserts the
leads (stage and its kind, value, source, owner, one in three from one of 20
campaigns, created over a year; won and lost ones closed), a call and an email for every fourth lead, with
python-sql, then times each report (search and read of up to the 1000 rows
sao shows) for the sales head and for a representative, over the last 30
days and over the year. The baseline is a bare COUNT(*) of the leads table in
the same run (with --compare, also each report computed from the leads,
as before the rollups), and the plan of each report's search query over the year
(EXPLAIN QUERY PLAN on SQLite, EXPLAIN ANALYZE on PostgreSQL) in
bench/results/reporting-<backend>-plans.txt. The leads, calls and emails go
in by raw SQL, so the report
rollups are rebuilt afterwards (timed). Writes
bench/results/reporting-<backend>.txt and removes the database. On
PostgreSQL name it with --database (e.g. bench_rollup_1m): it is dropped at
the end unless --keep.
"""
import argparse
import datetime
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BIN = Path(sys.executable).parent
BATCH = 20_000
SOURCES = ['website', 'google', 'facebook', 'referral', 'ivr', 'email',
    'phone', 'walk_in', 'event']
REPORTS = [
    'autolead.reporting.lead.daily',
    'autolead.reporting.lead.source',
    'autolead.reporting.lead.stage',
    'autolead.reporting.rep',
    'autolead.reporting.performance',
    'autolead.reporting.campaign',
    'autolead.reporting.target',
    ]
LEAD_COLUMNS = ['name', 'source', 'owner', 'stage', 'stage_kind',
    'expected_value', 'create_date', 'closed_at', 'campaign', 'lead_kind',
    'create_uid']


def log(message):
    print(f'[reporting] {message}', flush=True)


def prepare(args, workdir):
    config = workdir / 'trytond.conf'
    config.write_text(f"""\
[database]
uri = {args.db}
path = {workdir}
[autolead]
check_email_deliverability = False
""")
    env = dict(os.environ, TRYTOND_CONFIG=str(config),
        TRYTONPASSFILE=str(workdir / 'password'))
    env.pop('TRYTOND_DATABASE_URI', None)
    (workdir / 'password').write_text('admin-bench\n')
    subprocess.run([sys.executable, str(REPO / 'scripts' / 'demo_data.py'),
            'create', '-c', str(config), '-d', args.database],
        env=env, check=True)
    subprocess.run([str(BIN / 'trytond-admin'), '-c', str(config),
            '-d', args.database, '-u', 'autolead',
            '--activate-dependencies'],
        env=env, check=True, input='\n', text=True,
        stdout=subprocess.DEVNULL)
    return config


def insert(cursor, table, columns, rows):
    # PostgreSQL takes at most 65,535 parameters per statement
    step = min(BATCH, 65_535 // len(columns))
    for start in range(0, len(rows), step):
        cursor.execute(*table.insert(
                [getattr(table, c) for c in columns],
                rows[start:start + step]))


def generate(pool, args, now):
    from trytond.transaction import Transaction
    rng = random.Random(8)
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    Stage = pool.get('autolead.lead.stage')
    Lead = pool.get('autolead.lead')
    Call = pool.get('autolead.call')
    Interaction = pool.get('autolead.lead.interaction')
    Target = pool.get('autolead.sales.target')
    Campaign = pool.get('autolead.campaign')
    rep_group = ModelData.get_id('autolead', 'group_sales_rep')
    head_group = ModelData.get_id('autolead', 'group_sales_head')
    head, = User.create([{
                'login': 'bench_head', 'name': "Head",
                'groups': [('add', [head_group])]}])
    reps = User.create([{
                'login': f'bench_rep{i}', 'name': f"Rep {i}",
                'groups': [('add', [rep_group])]} for i in range(20)])
    owners = [r.id for r in reps]
    campaigns = [c.id for c in Campaign.create([{
                    'title': f"Campaign {i}", 'code': f'bench{i}',
                    'type': 'promotion', 'owner': head.id}
                for i in range(20)])]
    stages = [(s.id, s.kind) for s in Stage.search([])]
    weights = [6 if k == 'open' else 2 for _, k in stages]
    cursor = Transaction().connection.cursor()

    lead = Lead.__table__()
    log(f'inserting {args.leads:,} leads')
    start = time.perf_counter()
    rows = []
    # Leads come in over the year in the order of their ids, as they do
    # in production, so a period is a contiguous range of the table
    minutes = sorted(
        (rng.randrange(525600) for _ in range(args.leads)), reverse=True)
    for i in range(args.leads):
        stage, kind = rng.choices(stages, weights)[0]
        created = now - datetime.timedelta(minutes=minutes[i])
        closed = (min(created + datetime.timedelta(
                    hours=rng.randrange(1, 24 * 30)), now)
            if kind != 'open' else None)
        rows.append([f'Lead {i}', rng.choice(SOURCES), rng.choice(owners),
                stage, kind, rng.randrange(10, 500) * 1000, created, closed,
                rng.choice(campaigns) if i % 3 == 0 else None, 'new', 0])
        if len(rows) >= 100_000:
            insert(cursor, lead, LEAD_COLUMNS, rows)
            rows = []
    insert(cursor, lead, LEAD_COLUMNS, rows)
    cursor.execute(*lead.select(lead.id, lead.owner, lead.create_date,
            where=(lead.id % 4) == 0))
    sample = cursor.fetchall()
    call = Call.__table__()
    insert(cursor, call, ['subject', 'lead', 'caller', 'direction', 'state',
            'outcome', 'done_at', 'create_date', 'create_uid'],
        [['Call', i, o, 'outgoing', 'done', 'connected', d, d, 0]
            for i, o, d in sample])
    interaction = Interaction.__table__()
    insert(cursor, interaction, ['lead', 'user', 'type', 'direction', 'date',
            'create_date', 'create_uid'],
        [[i, o, 'email', 'outbound', d, d, 0] for i, o, d in sample])
    Target.create([{
                'user': o, 'from_date': now.date().replace(day=1),
                'to_date': now.date(), 'revenue': 1_000_000, 'deals': 10}
            for o in owners])
    log(f'data: {time.perf_counter() - start:.0f} s')
    start = time.perf_counter()
    pool.get('autolead.rollup.lead.owner_day').rebuild_all()
    rebuilt = time.perf_counter() - start
    log(f'rollups rebuilt: {rebuilt:.1f} s')
    return head, reps[0], rebuilt


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--db', default='sqlite://')
    parser.add_argument('--database', default=None)
    parser.add_argument('--leads', type=int, default=1_000_000)
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--keep', action='store_true',
        help="keep the PostgreSQL database")
    parser.add_argument('--json', help="also write the figures there")
    parser.add_argument('--compare', action='store_true',
        help="also time each report read from the leads (rollup=False), "
        "as it was before the rollups")
    args = parser.parse_args()
    args.database = args.database or f'bench_reporting_{args.leads}'
    workdir = Path(tempfile.mkdtemp(prefix='autolead-bench-'))
    config = prepare(args, workdir)

    from trytond import config as tconfig
    tconfig.update_etc(str(config))
    # trytond.backend picks its backend from the URI when it is imported
    from trytond import backend
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool(args.database)
    pool.init()
    now = datetime.datetime.now()
    with Transaction().start(args.database, 0) as transaction:
        head, rep, rebuilt = generate(pool, args, now)
        transaction.commit()
    with Transaction().start(
            args.database, 0, autocommit=True) as transaction:
        # VACUUM sets the visibility map of PostgreSQL's index-only scans
        transaction.connection.cursor().execute(
            'ANALYZE' if backend.name == 'sqlite' else 'VACUUM ANALYZE')

    def timed(function):
        function()
        timings = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            function()
            timings.append((time.perf_counter() - start) * 1000)
        return sorted(timings)[len(timings) // 2]

    def report(name, user, days, rollup=True):
        def run():
            context = {
                'from_date': now.date() - datetime.timedelta(days=days),
                'to_date': now.date(), 'period': 'day',
                '_check_access': True, 'rollup': rollup}
            with Transaction().start(
                    args.database, user.id, context=context,
                    readonly=True):
                Model = pool.get(name)
                # sao reads at most its limit of rows, 1000 by default
                records = Model.search([], limit=1000)
                Model.read([r.id for r in records], Model._export_fields)
                return len(records)
        return run

    def plan(name, user, days):
        "The plan of the query of the search of the report"
        context = {
            'from_date': now.date() - datetime.timedelta(days=days),
            'to_date': now.date(), 'period': 'day'}
        with Transaction().start(
                args.database, user.id, context=context,
                readonly=True) as transaction:
            Model = pool.get(name)
            sql, params = tuple(Model.search([], limit=1000, query=True))
            cursor = transaction.connection.cursor()
            if backend.name == 'sqlite':
                cursor.execute('EXPLAIN QUERY PLAN ' + sql, params)
                depth = {0: -1}
                lines = []
                for id_, parent, _, detail in cursor.fetchall():
                    depth[id_] = depth.get(parent, -1) + 1
                    lines.append('  ' * depth[id_] + detail)
                return lines
            cursor.execute('EXPLAIN (ANALYZE, COSTS OFF) ' + sql, params)
            return [line for line, in cursor.fetchall()]

    def count_leads():
        with Transaction().start(
                args.database, 0, readonly=True) as transaction:
            cursor = transaction.connection.cursor()
            cursor.execute('SELECT COUNT(*) FROM autolead_lead')
            cursor.fetchall()

    baseline = timed(count_leads)
    lines = [
        f'Auto Lead reports, {args.leads:,} leads and {args.leads // 4:,} '
        f'calls and emails, {backend.name}, median of {args.repeat} runs',
        f'machine: {platform.machine()}, {os.cpu_count()} cores, '
        f'Python {platform.python_version()}',
        f'baseline: SELECT COUNT(*) of the leads {baseline:.1f} ms',
        f'report rollups rebuilt from scratch in {rebuilt:.1f} s',
        '',
        f'{"report":<34}{"who":<8}{"period":>8}{"rows":>7}'
        f'{"ms":>10}{"x count":>9}'
        + (f'{"leads ms":>10}' if args.compare else ''),
        ]
    figures = []
    for name in REPORTS:
        for who, user in [('head', head), ('rep', rep)]:
            for days in [30, 365]:
                rows = report(name, user, days)()
                ms = timed(report(name, user, days))
                short = name.split(".", 2)[-1]
                lines.append(
                    f'{short:<34}{who:<8}{days:>6} d'
                    f'{rows:>7}{ms:>10.1f}{ms / baseline:>8.1f}x')
                if args.compare:
                    lines[-1] += (
                        f'{timed(report(name, user, days, False)):>10.1f}')
                log(lines[-1])
                figures.append({
                        'figure': f'report {short}, {who}, {days} days',
                        'value': round(ms, 1), 'unit': 'ms',
                        'baseline': round(baseline, 1),
                        'baseline_label': 'COUNT(*) of the leads',
                        'ratio': round(ms / baseline, 1),
                        'goal': '<= 1000 ms', 'met': ms <= 1000,
                        })
    lines += ['', 'load average at the end: '
        + ', '.join(f'{x:.1f}' for x in os.getloadavg())]
    output = '\n'.join(lines) + '\n'
    plans = [f'Plans of the search query of each report over 365 days, '
        f'{args.leads:,} leads, {backend.name}']
    for name in REPORTS:
        for who, user in [('head', head), ('rep', rep)]:
            plans += ['', f'{name} ({who}, 365 d)', *plan(name, user, 365)]
    print(output)
    results = HERE / 'results'
    results.mkdir(exist_ok=True)
    (results / f'reporting-{backend.name}.txt').write_text(output)
    (results / f'reporting-{backend.name}-plans.txt').write_text(
        '\n'.join(plans) + '\n')
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    if backend.name != 'sqlite' and not args.keep:
        # its pooled connections first, then from the postgres database
        backend.Database(args.database).close()
        database = backend.Database().connect()
        connection = database.get_connection(autocommit=True)
        try:
            database.drop(connection, args.database)
        finally:
            database.put_connection(connection)
        log(f'dropped {args.database}')
    shutil.rmtree(workdir)


if __name__ == '__main__':
    main()
