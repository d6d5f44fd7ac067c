#!/usr/bin/env python3
"""Concurrent writers on the desk: latency, errors and lost updates.

    .autolead/venv/bin/python bench/write_load.py \\
        [--db postgresql://postgres@127.0.0.1:5432/] [--writers 20] \\
        [--duration 60] [--leads 20000] [--workers N] [--no-update]

Prepares a database (bench/generate.py, small by default), starts trytond
(or gunicorn with --workers) and runs `--writers` clients at once through
JSON-RPC for `--duration` seconds. Each writer, as its own sales
representative and support agent, creates leads, sets the expected value of
its own lead, creates tickets and sets the description of its own ticket, in
random order without pause. At the end it checks that every create it was
told succeeded is there and that its lead and ticket hold the last value it
wrote (else: a lost update). Prints p50/p95/max per operation and in all,
the errors and lost updates, and appends them with the command line and the
load average to bench/results/write-load-<backend>.txt.
"""
import argparse
import os
import platform
import random
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from desk import (  # noqa: E402
    bench_workdir, cpu_seconds, free_port, prepare, start_gunicorn,
    start_trytond, write_config)
from rpc import RPCError, Session, percentile  # noqa: E402

PASSWORD = 'writer-bench-1'


def make_writers(config, database, count):
    """Create `count` users in the sales representative and support groups;
    return their logins and the ids of some customers"""
    from trytond import config as tconfig
    tconfig.update_etc(str(config))
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool(database)
    pool.init()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    Party = pool.get('party.party')
    logins = [f'writer{i}' for i in range(count)]
    with Transaction().start(database, 0) as transaction:
        groups = [ModelData.get_id('autolead', g)
            for g in ['group_sales_rep', 'group_support']]
        existing = {u.login for u in User.search(
                [('login', 'in', logins)])}
        User.create([{'login': login, 'name': login.title(),
                    'password': PASSWORD,
                    'groups': [('add', groups)]}
                for login in logins if login not in existing])
        customers = [p.id for p in Party.search([], limit=50)]
        transaction.commit()
    return logins, customers


class Writer(threading.Thread):
    def __init__(self, url, database, login, customers, deadline, seed):
        super().__init__()
        self.session = Session(url, database, login, PASSWORD)
        self.login = login
        # this run's records only, whatever earlier runs left
        self.prefix = f'{login}-{int(time.time())}'
        self.customers = customers
        self.deadline = deadline
        self.rng = random.Random(seed)
        self.timings = defaultdict(list)
        self.errors = []
        self.created = defaultdict(int)
        self.counter = 0
        self.last = {}
        self.lead, = self.session.call('model.autolead.lead.create', [{
                    'name': f'{login} own', 'source': 'website'}])
        self.ticket, = self.session.call('model.autolead.ticket.create', [{
                    'subject': f'{login} own', 'priority': 'normal',
                    'customer': self.rng.choice(customers)}])

    def operation(self, kind):
        self.counter += 1
        n = self.counter
        if kind == 'create lead':
            return ('model.autolead.lead.create', [{
                        'name': f'{self.prefix} lead {n}',
                        'email': f'{self.prefix}.{n}@bench.example.com',
                        'source': 'website'}])
        if kind == 'write lead':
            return ('model.autolead.lead.write', [self.lead],
                {'expected_value': str(n)})
        if kind == 'create ticket':
            return ('model.autolead.ticket.create', [{
                        'subject': f'{self.prefix} ticket {n}',
                        'priority': 'normal',
                        'customer': self.rng.choice(self.customers)}])
        return ('model.autolead.ticket.write', [self.ticket],
            {'description': str(n)})

    def run(self):
        kinds = ['create lead', 'write lead', 'create ticket',
            'write ticket']
        while time.monotonic() < self.deadline:
            kind = self.rng.choice(kinds)
            method, *params = self.operation(kind)
            start = time.perf_counter()
            try:
                self.session.call(method, *params)
            except (RPCError, OSError) as exception:
                self.errors.append(f'{kind}: {exception}'[:300])
                continue
            finally:
                self.timings[kind].append(
                    (time.perf_counter() - start) * 1000)
            if kind.startswith('create'):
                self.created[kind] += 1
            else:
                self.last[kind] = self.counter

    def lost(self):
        "What this writer was told was done and is not"
        lost = []
        call = self.session.call
        leads = call('model.autolead.lead.search_count',
            [('name', 'like', f'{self.prefix} lead %')])
        if leads != self.created['create lead']:
            lost.append(f"{self.login}: {leads} leads of "
                f"{self.created['create lead']} created")
        tickets = call('model.autolead.ticket.search_count',
            [('subject', 'like', f'{self.prefix} ticket %')])
        if tickets != self.created['create ticket']:
            lost.append(f"{self.login}: {tickets} tickets of "
                f"{self.created['create ticket']} created")
        if 'write lead' in self.last:
            value, = call('model.autolead.lead.read', [self.lead],
                ['expected_value'])
            amount = value['expected_value']
            if isinstance(amount, dict):
                # JSON-RPC's Decimal
                amount = amount['decimal']
            if float(amount or 0) != self.last['write lead']:
                lost.append(f"{self.login}: lead value "
                    f"{value['expected_value']} != {self.last['write lead']}")
        if 'write ticket' in self.last:
            value, = call('model.autolead.ticket.read', [self.ticket],
                ['description'])
            if value['description'] != str(self.last['write ticket']):
                lost.append(f"{self.login}: ticket description "
                    f"{value['description']} != {self.last['write ticket']}")
        return lost


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument(
        '--db', default='postgresql://postgres@127.0.0.1:5432/')
    parser.add_argument('--database', default=None)
    parser.add_argument('--leads', type=int, default=20_000)
    parser.add_argument('--writers', type=int, default=20)
    parser.add_argument('--duration', type=float, default=60)
    parser.add_argument('--workers', type=int, default=0,
        help="serve with gunicorn and that many processes")
    parser.add_argument('--no-update', action='store_true',
        help="use the database as it is (already prepared)")
    args = parser.parse_args()
    backend_name = args.db.split(':')[0]
    args.database = args.database or f'bench_write_{args.leads}'
    workdir = bench_workdir(backend_name)
    port = free_port()
    config, env = write_config(args, workdir, port)
    if not args.no_update:
        prepare(args, config, env, '--staff', '20', '--customers', '2000')
    logins, customers = make_writers(config, args.database, args.writers)
    if args.workers:
        server, url = start_gunicorn(
            config, env, args.database, port, args.workers)
        served = f"gunicorn, {args.workers} worker processes"
    else:
        server, url = start_trytond(config, env, args.database, port)
        served = "trytond's own server"
    load_before = os.getloadavg()
    try:
        deadline = time.monotonic() + 1e9
        writers = [Writer(url, args.database, login, customers, deadline, i)
            for i, login in enumerate(logins)]
        deadline = time.monotonic() + args.duration
        cpu_before = cpu_seconds(server.pid)
        for writer in writers:
            writer.deadline = deadline
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()
        cpu = cpu_seconds(server.pid) - cpu_before
        load_after = os.getloadavg()
        lost = [l for w in writers for l in w.lost()]
    finally:
        server.terminate()
        server.wait(30)

    timings = defaultdict(list)
    for writer in writers:
        for kind, values in writer.timings.items():
            timings[kind].extend(values)
    everything = [t for values in timings.values() for t in values]
    errors = [e for w in writers for e in w.errors]
    lines = [
        f"Concurrent desk writes ({backend_name}, {served})",
        f"command: {' '.join(sys.argv)}",
        f"machine: {platform.node()} {platform.machine()}, "
        f"{os.cpu_count()} CPU, Python {platform.python_version()}; "
        f"load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after",
        f"{args.writers} writers for {args.duration:.0f} s on "
        f"{args.leads} generated leads: {len(everything)} writes "
        f"({len(everything) / args.duration:.1f}/s); the server's CPU "
        f"{cpu:.1f} s, {cpu / max(len(everything), 1) * 1000:.0f} ms per "
        "write",
        ]
    for kind in sorted(timings):
        values = timings[kind]
        lines.append(f"  {kind}: {len(values)}, p50 "
            f"{percentile(values, 0.5):.0f} ms, p95 "
            f"{percentile(values, 0.95):.0f} ms, max {max(values):.0f} ms")
    p95 = percentile(everything, 0.95)
    lines += [
        f"all: p50 {percentile(everything, 0.5):.0f} ms, p95 {p95:.0f} ms, "
        f"max {max(everything):.0f} ms",
        f"errors: {len(errors)}; lost updates: {len(lost)}",
        "goal p95 <= 150 ms, 0 errors, 0 lost updates: "
        + ("met" if p95 <= 150 and not errors and not lost else "missed"),
        ]
    lines += [f"  error: {e}" for e in errors[:3]]
    lines += [f"  lost: {l}" for l in lost[:3]]
    print('\n'.join(lines))
    results = HERE / 'results'
    results.mkdir(exist_ok=True)
    with open(results / f'write-load-{backend_name}.txt', 'a') as out:
        out.write(time.strftime('%Y-%m-%d %H:%M UTC\n', time.gmtime()))
        out.write('\n'.join(lines) + '\n\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
