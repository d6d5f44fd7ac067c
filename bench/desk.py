"""Desk paths through the real RPC layer at volume, against raw SQL.

    python bench/desk.py [--db postgresql://postgres@127.0.0.1:5432/]
        [--leads 1000000] [--repeat 40]

Creates a database (reused, with its data, when it exists), activates Auto Lead, fills it
with bench/generate.py, starts trytond and times, as sao does it over
JSON-RPC, the lead list page of 50 with a filter and sort, a search by email
and by phone, opening a lead form, and a representative's list under record
rules. Each path is compared with the same query in raw SQL on the same
database in the same run. Prints p50/p95 and writes bench/results/.
"""
import argparse
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from rpc import Session, percentile  # noqa: E402

BIN = Path(sys.executable).parent


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def run(*args, **kwargs):
    subprocess.run([str(a) for a in args], check=True, **kwargs)


def prepare(args, workdir, port):
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
    (workdir / 'password').write_text('admin-bench\n')
    demo = REPO / 'scripts' / 'demo_data.py'
    run(sys.executable, demo, 'create', '-c', config, '-d', args.database,
        env=env)
    run(BIN / 'trytond-admin', '-c', config, '-d', args.database,
        '-u', 'autolead', '--activate-dependencies', env=env,
        input='\n', text=True, stdout=subprocess.DEVNULL)
    start = time.perf_counter()
    run(sys.executable, HERE / 'generate.py', '-c', config,
        '-d', args.database, '--leads', str(args.leads), env=env)
    return config, env, time.perf_counter() - start


def raw_sql_timer(args, config):
    "Return a function timing a raw SQL query on the same database"
    from trytond import config as tconfig
    tconfig.update_etc(str(config))
    from trytond import backend
    database = backend.Database(args.database).connect()
    connection = database.get_connection(readonly=True)

    def timed(query, params):
        cursor = connection.cursor()
        start = time.perf_counter()
        cursor.execute(query, params)
        cursor.fetchall()
        return (time.perf_counter() - start) * 1000
    return timed


def measure(label, function, repeat):
    function()  # warm caches once, as a user's second click would
    timings = [function() for _ in range(repeat)]
    return label, percentile(timings, 0.5), percentile(timings, 0.95)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--db', default='sqlite://')
    parser.add_argument('--database', default=None)
    parser.add_argument('--leads', type=int, default=1_000_000)
    parser.add_argument('--repeat', type=int, default=40)
    args = parser.parse_args()
    backend_name = args.db.split(':')[0]
    args.database = args.database or f'bench_{args.leads}'
    workdir = Path(os.environ.get('AUTOLEAD_BENCH_DIR', tempfile.gettempdir())
        ) / f'autolead-bench-{backend_name}'
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config, env, generated = prepare(args, workdir, port)
    server = subprocess.Popen(
        [str(BIN / 'trytond'), '-c', str(config), '-d', args.database],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f'http://127.0.0.1:{port}'
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(url + '/', timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        head = Session(url, args.database, 'bench_0', 'bench-pass-0')
        rep = Session(url, args.database, 'bench_20', 'bench-pass-20')
        sql = raw_sql_timer(args, config)
        marker = '%s' if backend_name == 'postgresql' else '?'
        fields = ['name', 'company_name', 'email', 'phone', 'source',
            'owner.rec_name', 'create_date']
        sample = head.call('model.autolead.lead.search_read',
            [['source', '=', 'website']], 500, 1, [['id', 'ASC']],
            ['email', 'phone', 'id'])[0]

        def list_page():
            return head.timed('model.autolead.lead.search_read',
                [['source', '=', 'website']], 0, 50,
                [['create_date', 'DESC']], fields)[0]

        def by_email():
            return head.timed('model.autolead.lead.search_read',
                [['rec_name', 'ilike', f'%{sample["email"]}%']], 0, 50,
                None, fields)[0]

        def by_phone():
            return head.timed('model.autolead.lead.search_read',
                [['phone', '=', sample['phone']]], 0, 50, None, fields)[0]

        def open_form():
            total = head.timed('model.autolead.lead.read', [sample['id']],
                list(head.call('model.autolead.lead.fields_get', None)))[0]
            return total

        def rep_list():
            return rep.timed('model.autolead.lead.search_read', [], 0, 50,
                [['create_date', 'DESC']], fields)[0]

        def rep_count():
            return rep.timed('model.autolead.lead.search_count', [])[0]

        q = marker
        rep_id = rep.user_id
        rows = [
            (measure("lead list: 50, source filter, newest first", list_page,
                    args.repeat),
                measure("", lambda: sql(
                        'SELECT id, name, email FROM autolead_lead '
                        f'WHERE source = {q} ORDER BY create_date DESC '
                        'LIMIT 50', ('website',)), args.repeat)),
            (measure("search by email (rec_name ilike)", by_email,
                    args.repeat),
                measure("", lambda: sql(
                        'SELECT id FROM autolead_lead WHERE email_key = '
                        f'{q} LIMIT 50', (sample['email'],)), args.repeat)),
            (measure("search by phone", by_phone, args.repeat),
                measure("", lambda: sql(
                        f'SELECT id FROM autolead_lead WHERE phone = {q} '
                        'LIMIT 50', (sample['phone'],)), args.repeat)),
            (measure("open a lead form (read all fields)", open_form,
                    args.repeat),
                measure("", lambda: sql(
                        f'SELECT * FROM autolead_lead WHERE id = {q}',
                        (sample['id'],)), args.repeat)),
            (measure("representative's list under record rules", rep_list,
                    args.repeat),
                measure("", lambda: sql(
                        'SELECT id, name FROM autolead_lead WHERE owner = '
                        f'{q} ORDER BY create_date DESC LIMIT 50',
                        (rep_id,)), args.repeat)),
            (measure("representative's lead count (tab badge)", rep_count,
                    args.repeat),
                measure("", lambda: sql(
                        'SELECT COUNT(*) FROM autolead_lead WHERE owner = '
                        f'{q}', (rep_id,)), args.repeat)),
            ]
    finally:
        server.terminate()
        server.wait(10)

    lines = [
        f"Auto Lead desk paths over JSON-RPC, {args.leads:,} leads, "
        f"{backend_name}, {args.repeat} runs each",
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; data generated in "
        f"{generated:.0f} s",
        "",
        f"{'path':<48} {'p50 ms':>8} {'p95 ms':>8} {'SQL p50':>8} "
        f"{'ratio':>7}  goal p95 <= 50 ms",
        ]
    for (label, p50, p95), (_, s50, _) in rows:
        ok = 'ok' if p95 <= 50 else f'missed by {p95 - 50:.0f} ms'
        lines.append(f"{label:<48} {p50:8.1f} {p95:8.1f} {s50:8.2f} "
            f"{p50 / max(s50, 0.01):6.0f}x  {ok}")
    report = '\n'.join(lines)
    print(report)
    results = HERE / 'results'
    results.mkdir(exist_ok=True)
    (results / f'desk-{backend_name}.txt').write_text(report + '\n')


if __name__ == '__main__':
    main()
