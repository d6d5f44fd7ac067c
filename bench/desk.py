"""Desk paths through the real RPC layer at volume, against raw SQL.

    .autolead/venv/bin/python bench/desk.py
        [--db postgresql://postgres@127.0.0.1:5432/] [--leads 1000000]
        [--repeat 40] [--database bench_1m] [--json figures.json]
        [--workers 4 [--clients 8] [--duration 20]]

Creates the database (kept, with its data, when it exists: pass --no-update
to skip trytond-admin then), activates Auto Lead, fills it with
bench/generate.py, starts trytond and times over JSON-RPC, as sao calls it,
the lead list page of 50 with a filter and sort, a search by email and by
phone typed in the search box, a text search, opening a lead form, and a
representative's list and count under record rules; the list page is also
read with every field of the tree view, as sao reads it. Each path is compared
with the same query in raw SQL on the same database in the same run. Prints
p50/p95, the CPU time trytond spent per call (less noisy than the wall clock
on a shared machine) and the load average, and writes
bench/results/desk-<backend>.txt.

By default one client calls trytond's own server, one process. With
--workers N trytond.application:app is served by gunicorn (a bench-only
dependency: pip install -e '.[bench]') with N worker processes and the same
configuration, and --clients C clients call each path at once, each at most
--repeat times and for at most --duration seconds, on loopback; the report
adds the calls per second and goes to desk-<backend>-gunicorn.txt.
"""
import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from rpc import Session, percentile  # noqa: E402

BIN = Path(sys.executable).parent
GOAL_MS = 50


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def run(*args, **kwargs):
    subprocess.run([str(a) for a in args], check=True, **kwargs)


def write_config(args, workdir, port):
    config = workdir / 'trytond.conf'
    config.write_text(f"""\
[database]
uri = {args.db}
path = {workdir}
list = False
[web]
listen = 127.0.0.1:{port}
root = {workdir}
[autolead]
check_email_deliverability = False
""")
    env = dict(os.environ, TRYTOND_CONFIG=str(config),
        TRYTONPASSFILE=str(workdir / 'password'))
    env.pop('TRYTOND_DATABASE_URI', None)
    env.pop('TRYTOND_DATABASE__URI', None)
    (workdir / 'password').write_text('admin-bench\n')
    return config, env


def prepare(args, config, env, *generate_args):
    """Create, activate and fill the database, with generate_args for
    bench/generate.py; return the generation time"""
    demo = REPO / 'scripts' / 'demo_data.py'
    run(sys.executable, demo, 'create', '-c', config, '-d', args.database,
        env=env)
    if not args.no_update:
        run(BIN / 'trytond-admin', '-c', config, '-d', args.database,
            '-u', 'autolead', '--activate-dependencies', env=env,
            input='\n', text=True, stdout=subprocess.DEVNULL)
    start = time.perf_counter()
    run(sys.executable, HERE / 'generate.py', '-c', config,
        '-d', args.database, '--leads', str(args.leads), *generate_args,
        env=env)
    return time.perf_counter() - start


def raw_sql_timer(args, config):
    "Return a function timing a raw SQL query on the same database"
    from trytond import config as tconfig
    tconfig.update_etc(str(config))
    from trytond import backend
    database = backend.Database(args.database).connect()
    connection = database.get_connection(readonly=True)
    postgresql = backend.name == 'postgresql'

    def timed(query, params):
        if not postgresql:
            # SQLite's LIKE ignores the case of ASCII letters
            query = query.replace('%s', '?').replace(' ILIKE ', ' LIKE ')
        cursor = connection.cursor()
        start = time.perf_counter()
        cursor.execute(query, params)
        cursor.fetchall()
        elapsed = (time.perf_counter() - start) * 1000
        connection.rollback()
        return elapsed
    return timed


def measure(function, repeat, clients=1, duration=None):
    """Return p50, p95, calls per second and calls of function (which
    returns its own time in ms), called repeat times by each of clients at
    once, for at most duration seconds, after a round to warm up"""
    timings, errors = [], []

    def client(repeat, deadline=None):
        try:
            for _ in range(repeat):
                if deadline and time.monotonic() > deadline:
                    break
                timings.append(function())
        except Exception as exception:
            errors.append(exception)

    def run(repeat, deadline=None):
        if clients == 1:
            return client(repeat, deadline)
        threads = [threading.Thread(target=client, args=(repeat, deadline))
            for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    # warm the caches, as a user's second click would, of every worker
    run(1 if clients == 1 else 2)
    warm_up = len(timings)
    timings.clear()
    start = time.perf_counter()
    run(repeat, time.monotonic() + duration if duration else None)
    if errors:
        raise errors[0]
    rate = len(timings) / (time.perf_counter() - start)
    return (percentile(timings, 0.5), percentile(timings, 0.95), rate,
        len(timings) + warm_up)


def bench_workdir(backend_name):
    "The folder of the benchmark's configuration and SQLite databases"
    workdir = Path(os.environ.get('AUTOLEAD_BENCH_DIR', tempfile.gettempdir())
        ) / f'autolead-bench-{backend_name}'
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir


def start_trytond(config, env, database, port):
    "Start trytond on loopback; return the process and its URL once it answers"
    return serve([str(BIN / 'trytond'), '-c', str(config), '-d', database],
        env, port)


def serve(argv, env, port):
    "Start the server argv; return the process and its URL once it answers"
    server = subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f'http://127.0.0.1:{port}'
    try:
        wait_for(url)
    except BaseException:
        server.terminate()
        server.wait(10)
        raise
    return server, url


def wait_for(url):
    for _ in range(300):
        try:
            urllib.request.urlopen(url + '/', timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"trytond did not answer on {url}")


def start_gunicorn(config, env, database, port, workers):
    "Serve trytond.application:app with gunicorn workers on loopback"
    if not (BIN / 'gunicorn').exists():
        sys.exit("--workers needs gunicorn: "
            f"{BIN / 'pip'} install -e '{REPO}[bench]'")
    env = dict(env, TRYTOND_DATABASE_NAMES=database)
    return serve(
        [str(BIN / 'gunicorn'), '--workers', str(workers),
            '--bind', f'127.0.0.1:{port}', '--timeout', '120',
            '--log-level', 'warning', 'trytond.application:app'],
        env, port)


def cpu_seconds(pid):
    "CPU time used so far by a process and its children still running"
    tick = os.sysconf('SC_CLK_TCK')
    pids = [pid]
    try:
        pids += [int(p) for p in Path(f'/proc/{pid}/task/{pid}/children')
            .read_text().split()]
    except OSError:
        pass
    total = 0
    for process in pids:
        try:
            stat = Path(f'/proc/{process}/stat').read_text()
        except OSError:
            continue
        fields = stat.rsplit(')', 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def paths(head, rep, sql, sample):
    "[(label, rpc timer, raw SQL timer)] of the desk paths"
    lead = 'model.autolead.lead'
    fields = ['name', 'company_name', 'email', 'phone', 'source', 'stage',
        'stage.rec_name', 'owner', 'owner.rec_name', 'create_date']
    form = list(head.call(f'{lead}.fields_view_get', None, 'form')['fields'])
    # what sao reads for a page of the list: every field of the tree view
    # (the optional columns too), with the names of the many2ones
    tree = head.call(f'{lead}.fields_view_get', None, 'tree')['fields']
    tree_fields = sorted(tree) + ['_timestamp'] + sorted(
        f'{n}.rec_name' for n, f in tree.items() if f['type'] == 'many2one')
    text = sample['email'].split('@')[0]
    newest = 'ORDER BY create_date DESC, id ASC LIMIT 50'
    columns = ('SELECT id, name, company_name, email, phone, source, stage, '
        'owner, create_date FROM autolead_lead')

    def search(session, domain, order=None, fields=fields):
        return lambda: session.timed(f'{lead}.search_read', domain, 0, 50,
            order, fields)[0]
    return [
        ("lead list: 50, source filter, newest first",
            search(head, [['source', '=', 'website']],
                [['create_date', 'DESC']]),
            lambda: sql(f"{columns} WHERE source = %s AND active {newest}",
                ('website',))),
        ("lead list as sao reads it: every tree field",
            search(head, [['source', '=', 'website']],
                [['create_date', 'DESC']], tree_fields),
            lambda: sql("SELECT l.*, s.colour, (SELECT COUNT(*) "
                "FROM autolead_lead_note AS n WHERE n.lead = l.id) "
                "FROM autolead_lead AS l "
                "JOIN autolead_lead_stage AS s ON s.id = l.stage "
                "WHERE l.source = %s AND l.active "
                "ORDER BY l.create_date DESC, l.id ASC LIMIT 50",
                ('website',))),
        ("search box: a whole email",
            search(head, [['rec_name', 'ilike', f'%{sample["email"]}%']]),
            lambda: sql(f"{columns} WHERE email_key = %s {newest}",
                (sample['email'].lower(),))),
        ("search box: a whole phone number",
            search(head, [['rec_name', 'ilike', f'%{sample["phone"]}%']]),
            lambda: sql(f"{columns} WHERE phone_key = %s {newest}",
                (sample['phone_key'],))),
        ("search box: part of an email (text search)",
            search(head, [['rec_name', 'ilike', f'%{text}%']]),
            lambda: sql(f"{columns} WHERE COALESCE(email, '') ILIKE %s "
                f"{newest}",
                (f'%{text}%',))),
        ("open a lead form",
            lambda: head.timed(f'{lead}.read', [sample['id']], form)[0],
            lambda: sql('SELECT * FROM autolead_lead WHERE id = %s',
                (sample['id'],))),
        ("representative's list under record rules",
            search(rep, [], [['create_date', 'DESC']]),
            lambda: sql(f"{columns} WHERE owner = %s AND active {newest}",
                (rep.user_id,))),
        ("representative's lead count (tab badge)",
            lambda: rep.timed(f'{lead}.search_count', [])[0],
            lambda: sql('SELECT COUNT(*) FROM autolead_lead '
                'WHERE owner = %s AND active', (rep.user_id,))),
        ]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--db', default='sqlite://')
    parser.add_argument('--database', default=None)
    parser.add_argument('--leads', type=int, default=1_000_000)
    parser.add_argument('--repeat', type=int, default=40,
        help="calls of each path (by each client)")
    parser.add_argument('--no-update', action='store_true',
        help="do not run trytond-admin on an existing database")
    parser.add_argument('--json', help="also write the figures there")
    parser.add_argument('--workers', type=int, default=0,
        help="serve with gunicorn and that many processes "
        "(default: trytond's own server)")
    parser.add_argument('--clients', type=int, default=1,
        help="clients calling each path at once (at most 32)")
    parser.add_argument('--duration', type=float, default=30,
        help="at most that many seconds per path with --clients")
    args = parser.parse_args()
    args.clients = max(1, min(args.clients, 32))
    duration = args.duration if args.clients > 1 else None
    backend_name = args.db.split(':')[0]
    args.database = args.database or f'bench_{args.leads}'
    workdir = bench_workdir(backend_name)
    port = free_port()
    config, env = write_config(args, workdir, port)
    generated = prepare(args, config, env)
    load_before = os.getloadavg()[0]
    if args.workers:
        server, url = start_gunicorn(
            config, env, args.database, port, args.workers)
        served = (f"gunicorn, {args.workers} worker processes, "
            f"{args.clients} concurrent clients")
    else:
        server, url = start_trytond(config, env, args.database, port)
        served = f"trytond's own server, {args.clients} client(s)"
    try:
        head = Session(url, args.database, 'bench_0', 'bench-pass-0')
        rep = Session(url, args.database, 'bench_20', 'bench-pass-20')
        sql = raw_sql_timer(args, config)
        # a lead in the middle of the representative's, however few
        count = rep.call('model.autolead.lead.search_count', [])
        if not count:
            sys.exit("bench_20 owns no lead: generate more leads")
        sample = rep.call('model.autolead.lead.search_read', [],
            min(500, count // 2), 1, [['id', 'ASC']],
            ['email', 'phone', 'phone_key', 'id'])[0]
        rows = []
        for label, rpc, raw in paths(head, rep, sql, sample):
            cpu = cpu_seconds(server.pid)
            p50, p95, rate, calls = measure(
                rpc, args.repeat, args.clients, duration)
            cpu = (cpu_seconds(server.pid) - cpu) * 1000 / calls
            s50, *_ = measure(raw, args.repeat)
            rows.append((label, p50, p95, s50, rate, cpu))
    finally:
        server.terminate()
        server.wait(10)

    lines = [
        f"Auto Lead desk paths over JSON-RPC, {args.leads:,} leads, "
        f"{backend_name}, {served}, {args.repeat} runs each"
        + (f" (at most {duration:.0f} s)" if duration else ""),
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average "
        f"{load_before:.1f} before and {os.getloadavg()[0]:.1f} after the "
        f"run; data generated in {generated:.0f} s; "
        f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC",
        "",
        f"{'path':<46} {'p50 ms':>8} {'p95 ms':>8} {'CPU ms':>7} "
        f"{'calls/s':>8} {'SQL p50':>8} {'ratio':>7}  "
        f"goal p95 <= {GOAL_MS} ms",
        ]
    figures = []
    postgresql = backend_name == 'postgresql'
    for label, p50, p95, s50, rate, cpu in rows:
        ok = 'ok' if p95 <= GOAL_MS else f'missed by {p95 - GOAL_MS:.0f} ms'
        lines.append(f"{label:<46} {p50:8.1f} {p95:8.1f} {cpu:7.1f} "
            f"{rate:8.1f} {s50:8.2f} {p50 / max(s50, 0.01):6.0f}x  {ok}")
        figures.append({
                'figure': f'desk: {label} (p95; p50 {p50:.1f} ms)',
                'value': round(p95, 1), 'unit': 'ms',
                'baseline': round(s50, 2),
                'baseline_label': 'raw SQL p50',
                'ratio': round(p50 / max(s50, 0.01), 1),
                # the goal is set for PostgreSQL, SQLite is for a demo
                'goal': f'<= {GOAL_MS} ms' if postgresql
                else f'(<= {GOAL_MS} ms on PostgreSQL)',
                'met': p95 <= GOAL_MS if postgresql else None,
                'server_cpu_ms': round(cpu, 1),
                'calls_per_s': round(rate, 1),
                })
    lines += ["", "CPU ms: CPU time of the trytond processes per call "
        "(PostgreSQL's not counted)."]
    report = '\n'.join(lines)
    print(report)
    results = HERE / 'results'
    results.mkdir(exist_ok=True)
    name = f'desk-{backend_name}' + ('-gunicorn' if args.workers else '')
    (results / f'{name}.txt').write_text(report + '\n')
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == '__main__':
    main()
