"""The customer portal under load: 50 signed-in customers at once.

    .autolead/venv/bin/python bench/portal_load.py
        [--db sqlite://] [--customers 20000] [--tickets 200000]
        [--users 50] [--duration 30] [--think 2] [--repeat 30]
        [--database NAME]
        [--no-update] [--json figures.json]

Creates the database (kept, with its data, when it exists), activates Auto
Lead, fills it with bench/generate.py (customers, tickets with messages, a few
leads), gives every generated customer a confirmed web.user
(customer<N>@bench.example / portal-bench, bulk SQL with one password hash),
starts trytond on loopback and runs a load generator in this process: one
thread per customer, each with its own cookie jar, signs in once through the
sign-in form (GET for the CSRF token, POST, cookie `autolead_session`), then
loops for --duration seconds over its ticket list, the list with a keyword
search and the page of one of its tickets, waiting --think seconds on average
(uniformly 0.5x to 1.5x) between two pages as a person reading would.

In the same run it measures the baselines: the same three pages for one
customer alone (no think time), the portal's stylesheet (a static file
served by the same server, no database) under the same load, and the load
again without think time (each user clicks as soon as the last page
arrived: the server's capacity). Prints requests, errors, throughput and
p50/p95/p99 per page and writes bench/results/portal-<backend>.txt.
Goal: p95 <= 100 ms for each page with 50 users, no errors.
"""
import argparse
import json
import os
import platform
import random
import re
import sys
import threading
import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from desk import (  # noqa: E402
    bench_workdir, free_port, run, start_trytond, write_config)
from desk import prepare as prepare_desk  # noqa: E402
from rpc import percentile  # noqa: E402

GOAL_MS = 100
PASSWORD = 'portal-bench'
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
TICKET_LINK = re.compile(r'/portal/tickets/(\d+)"')
# words of generate.py's subjects and messages, as a customer would type them
KEYWORDS = ['invoice', 'delayed', 'refund', 'screenshot', 'export', 'login']
PAGES = ['ticket list', 'ticket list, keyword search', 'ticket page']


def email(index):
    return f'customer{index}@bench.example'


def prepare(args, config, env):
    """Create, activate and fill the database as the desk bench does, with
    the customers' web users; return the generation time"""
    seconds = prepare_desk(args, config, env,
        '--tickets', args.tickets, '--customers', args.customers)
    start = time.perf_counter()
    run(sys.executable, __file__, '--web-users', '-c', config,
        '--database', args.database, env=env)
    return seconds + time.perf_counter() - start


def create_web_users(config, database):
    """Give each generated customer (party code BENCH<N>) a confirmed
    web.user, with bulk SQL and one password hash"""
    import datetime

    from trytond import config as tconfig
    tconfig.update_etc(str(config))
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool(database)
    pool.init()
    with Transaction().start(database, 0, context={}) as transaction:
        WebUser = pool.get('web.user')
        Party = pool.get('party.party')
        web_user = WebUser.__table__()
        party = Party.__table__()
        cursor = transaction.connection.cursor()
        cursor.execute(*web_user.select(web_user.id,
                where=web_user.email.like('%@bench.example'), limit=1))
        if cursor.fetchone():
            return
        cursor.execute(*party.select(party.id, party.code,
                where=party.code.like('BENCH%')))
        parties = cursor.fetchall()
        password_hash = WebUser.hash_password(PASSWORD)
        now = datetime.datetime.now()
        rows = [[email(code[len('BENCH'):]), True, password_hash, party_id,
                True, 0, now] for party_id, code in parties]
        start = time.perf_counter()
        for i in range(0, len(rows), 5000):
            cursor.execute(*web_user.insert(
                    [web_user.email, web_user.email_valid,
                        web_user.password_hash, web_user.party,
                        web_user.active, web_user.create_uid,
                        web_user.create_date],
                    rows[i:i + 5000]))
        transaction.commit()
        print(f'[portal] {len(rows):,} web users in '
            f'{time.perf_counter() - start:.1f} s', flush=True)


class Customer:
    "A signed-in customer with her own cookies"

    def __init__(self, base, index):
        self.base = base
        self.index = index
        self.http = requests.Session()
        self.tickets = []

    def sign_in(self, attempts=3):
        for attempt in range(attempts):
            try:
                page = self.http.get(self.base + '/signin', timeout=60)
                token = TOKEN.search(page.text).group(1)
                response = self.http.post(self.base + '/signin', data={
                        'csrf_token': token, 'email': email(self.index),
                        'password': PASSWORD}, allow_redirects=False,
                    timeout=60)
                if (response.status_code == 303
                        and self.http.cookies.get('autolead_session')):
                    return True
            except (requests.RequestException, AttributeError):
                pass
            time.sleep(0.5 + attempt)
        return False

    def get(self, path, **params):
        "(milliseconds, ok, text) of a GET that must answer 200"
        start = time.perf_counter()
        try:
            response = self.http.get(self.base + path, params=params,
                allow_redirects=False, timeout=60)
            text = response.text
            ok = response.status_code == 200
        except requests.RequestException:
            text, ok = '', False
        return (time.perf_counter() - start) * 1000, ok, text

    def visit(self, rng):
        "List, search and open a ticket: [(page, ms, ok)]"
        elapsed, ok, text = self.get('/tickets')
        self.tickets = TICKET_LINK.findall(text) or self.tickets
        yield (PAGES[0], elapsed, ok)
        elapsed, ok, _ = self.get('/tickets', q=rng.choice(KEYWORDS))
        yield (PAGES[1], elapsed, ok)
        if self.tickets:
            elapsed, ok, _ = self.get(
                f'/tickets/{rng.choice(self.tickets)}')
        else:
            elapsed, ok = 0, False
        yield (PAGES[2], elapsed, ok)


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.timings = {}
        self.errors = {}

    def add(self, page, elapsed, ok):
        with self.lock:
            if ok:
                self.timings.setdefault(page, []).append(elapsed)
            else:
                self.errors[page] = self.errors.get(page, 0) + 1

    def stats(self, page, seconds):
        values = self.timings.get(page, [])
        errors = self.errors.get(page, 0)
        if not values:
            return {'requests': errors, 'errors': errors, 'rate': 0,
                'p50': None, 'p95': None, 'p99': None}
        return {
            'requests': len(values) + errors, 'errors': errors,
            'rate': (len(values) + errors) / seconds,
            'p50': percentile(values, 0.5), 'p95': percentile(values, 0.95),
            'p99': percentile(values, 0.99),
            }


def load(customers, duration, think, static=None, seed=8):
    """Every customer loops over its pages for duration seconds; return the
    recorder and the seconds it took"""
    recorder = Recorder()
    stop = time.perf_counter() + duration

    def user(customer):
        rng = random.Random(seed + customer.index)
        # start spread over the first think time, as people do
        time.sleep(rng.uniform(0, think))
        while time.perf_counter() < stop:
            for page, elapsed, ok in customer.visit(rng):
                recorder.add(page, elapsed, ok)
                if think:
                    time.sleep(think * rng.uniform(0.5, 1.5))
                if time.perf_counter() >= stop:
                    return
            if static:
                elapsed, ok, _ = customer.get(static)
                recorder.add('static file (portal.css)', elapsed, ok)
    start = time.perf_counter()
    threads = [threading.Thread(target=user, args=(c,)) for c in customers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return recorder, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--db', default='sqlite://')
    parser.add_argument('--database', default=None)
    parser.add_argument('--customers', type=int, default=20_000)
    parser.add_argument('--tickets', type=int, default=None,
        help="default: ten per customer")
    parser.add_argument('--leads', type=int, default=1_000,
        help="leads generated alongside (the portal does not show them)")
    parser.add_argument('--users', type=int, default=50)
    parser.add_argument('--duration', type=float, default=30)
    parser.add_argument('--think', type=float, default=2,
        help="mean seconds between two pages of a user")
    parser.add_argument('--repeat', type=int, default=30,
        help="rounds of the one-user baseline")
    parser.add_argument('--no-update', action='store_true',
        help="do not run trytond-admin on an existing database")
    parser.add_argument('--json', help="also write the figures there")
    parser.add_argument('--web-users', action='store_true',
        help=argparse.SUPPRESS)
    parser.add_argument('-c', '--config', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.web_users:
        return create_web_users(args.config, args.database)
    if args.tickets is None:
        args.tickets = args.customers * 10
    backend_name = args.db.split(':')[0]
    args.database = args.database or f'bench_portal_{args.customers}'
    workdir = bench_workdir(backend_name)
    port = free_port()
    config, env = write_config(args, workdir, port)
    generated = prepare(args, config, env)
    server, url = start_trytond(config, env, args.database, port)
    base = f'{url}/{args.database}/portal'
    static = '/static/portal.css'
    step = max(args.customers // args.users, 1)
    try:
        # one customer alone: the baseline of the same pages
        alone = Customer(base, 1)
        if not alone.sign_in():
            raise SystemExit("a customer could not sign in")
        for _ in alone.visit(random.Random(0)):
            pass  # warm the server's caches once
        single = Recorder()
        rng = random.Random(1)
        single_start = time.perf_counter()
        for _ in range(args.repeat):
            for page, elapsed, ok in alone.visit(rng):
                single.add(page, elapsed, ok)
            single.add('static file (portal.css)', *alone.get(static)[:2])
        single_seconds = time.perf_counter() - single_start
        # the crowd signs in, a few at a time
        crowd = [Customer(base, i * step) for i in range(args.users)]
        signin_start = time.perf_counter()
        signed = 0
        lock = threading.Lock()

        def sign_in(customer):
            nonlocal signed
            if customer.sign_in():
                with lock:
                    signed += 1
        threads = [threading.Thread(target=sign_in, args=(c,))
            for c in crowd]
        for i, thread in enumerate(threads):
            thread.start()
            if i % 10 == 9:
                time.sleep(0.2)
        for thread in threads:
            thread.join()
        signin_seconds = time.perf_counter() - signin_start
        signin_errors = args.users - signed
        crowd = [c for c in crowd if c.http.cookies.get('autolead_session')]
        for customer in crowd:
            customer.tickets = TICKET_LINK.findall(
                customer.get('/tickets')[2])
        think, think_seconds = load(crowd, args.duration, args.think,
            static=static)
        busy, busy_seconds = load(crowd, min(args.duration, 15), 0)
    finally:
        server.terminate()
        server.wait(10)

    pages = PAGES + ['static file (portal.css)']
    lines = [
        f"Auto Lead portal under load, {backend_name}, "
        f"{args.customers:,} customers with web users, "
        f"{args.tickets:,} tickets with messages",
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average "
        f"{os.getloadavg()[0]:.1f}; data generated in {generated:.0f} s",
        f"{len(crowd)} users signed in in {signin_seconds:.1f} s "
        f"({signin_errors} failed); server: trytond (werkzeug, threaded), "
        "one process",
        "",
        ]
    figures = []
    header = (f"{'page':<30} {'requests':>8} {'errors':>6} {'req/s':>7} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")

    def table(title, recorder, seconds):
        lines.extend([title, header])
        total = errors = 0
        for page in pages:
            s = recorder.stats(page, seconds)
            if not s['requests']:
                continue
            total += s['requests']
            errors += s['errors']
            lines.append(f"{page:<30} {s['requests']:8} {s['errors']:6} "
                f"{s['rate']:7.1f} " + ' '.join(
                    f"{s[p]:7.1f}" if s[p] is not None else f"{'-':>7}"
                    for p in ['p50', 'p95', 'p99']))
        lines.append(f"{'all pages':<30} {total:8} {errors:6} "
            f"{total / seconds:7.1f}")
        lines.append('')
        return total, errors

    total, errors = table(
        f"{len(crowd)} users, {args.think:g} s think time, "
        f"{think_seconds:.0f} s", think, think_seconds)
    table(f"{len(crowd)} users, no think time (capacity), "
        f"{busy_seconds:.0f} s", busy, busy_seconds)
    table(f"1 user alone (baseline), {args.repeat} rounds, no think time",
        single, single_seconds)
    worst = 0
    for page in pages:
        s = think.stats(page, think_seconds)
        b = single.stats(page, single_seconds)
        if s['p95'] is None:
            continue
        goal = page in PAGES
        if goal:
            worst = max(worst, s['p95'])
        figures.append({
                'figure': f"portal: {page}, {len(crowd)} users "
                f"(p95; p50 {s['p50']:.1f}, p99 {s['p99']:.1f} ms, "
                f"{s['requests']} requests, {s['errors']} errors)",
                'value': round(s['p95'], 1), 'unit': 'ms',
                'baseline': round(b['p95'], 1) if b['p95'] else None,
                'baseline_label': '1 user p95',
                'ratio': round(s['p95'] / b['p95'], 1) if b['p95'] else None,
                'goal': f'<= {GOAL_MS} ms' if goal else None,
                'met': (s['p95'] <= GOAL_MS and not s['errors'])
                if goal else None,
                })
    b = busy.stats(PAGES[0], busy_seconds)
    figures.append({
            'figure': f"portal: errors ({total:,} requests, {len(crowd)} "
            f"users signed in, {signin_errors} sign-ins failed)",
            'value': errors + signin_errors, 'unit': '', 'goal': '0',
            'met': errors + signin_errors == 0})
    figures.append({
            'figure': f"portal: throughput with {len(crowd)} users, "
            f"{args.think:g} s think time",
            'value': round(total / think_seconds, 1), 'unit': 'req/s',
            'baseline': round(sum(busy.stats(p, busy_seconds)['requests']
                    for p in pages) / busy_seconds, 1),
            'baseline_label': 'capacity, no think time'})
    figures.append({
            'figure': "portal: ticket list, no think time (capacity) "
            f"(p95; p50 {b['p50'] or 0:.0f} ms)",
            'value': round(b['p95'] or 0, 1), 'unit': 'ms'})
    ok = worst <= GOAL_MS and not errors and not signin_errors
    lines.append(f"goal: p95 <= {GOAL_MS} ms for each page with "
        f"{len(crowd)} users, no errors: "
        + ('met' if ok else f'missed (worst p95 {worst:.0f} ms, '
            f'{errors + signin_errors} errors)'))
    report = '\n'.join(lines)
    print(report)
    results = HERE / 'results'
    results.mkdir(exist_ok=True)
    (results / f'portal-{backend_name}.txt').write_text(report + '\n')
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == '__main__':
    main()
