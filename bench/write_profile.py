#!/usr/bin/env python3
"""Where a single desk write spends its time.

    .autolead/venv/bin/python bench/write_profile.py \\
        [--db postgresql://postgres@127.0.0.1:5432/] \\
        [--database bench_write_20000] [--repeat 100] [--login writer0]

Runs on a database bench/write_load.py prepared. Through the ORM, as the
given user, in one transaction per call rolled back afterwards: creates a
lead, sets the expected value of a lead, creates a ticket, sets a ticket's
description, each `--repeat` times under cProfile; prints the mean time per
operation, then the Auto Lead and framework functions taking the most
cumulative time, and the time spent in SQL.
"""
import argparse
import cProfile
import pstats
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from desk import bench_workdir, write_config  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument(
        '--db', default='postgresql://postgres@127.0.0.1:5432/')
    parser.add_argument('--database', default='bench_write_20000')
    parser.add_argument('--repeat', type=int, default=100)
    parser.add_argument('--login', default='writer0')
    parser.add_argument('--top', type=int, default=35)
    parser.add_argument('--only', help="profile this operation only")
    args = parser.parse_args()
    workdir = bench_workdir(args.db.split(':')[0])
    config, _ = write_config(args, workdir, 0)
    from trytond import config as tconfig
    tconfig.update_etc(str(config))
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool(args.database)
    pool.init()
    User = pool.get('res.user')
    Lead = pool.get('autolead.lead')
    Ticket = pool.get('autolead.ticket')
    Party = pool.get('party.party')
    with Transaction().start(args.database, 0) as transaction:
        user, = User.search([('login', '=', args.login)])
        context = User.get_preferences(context_only=True)
        customers = [p.id for p in Party.search([], limit=20)]
    with Transaction().start(args.database, user.id, context=context):
        lead, = Lead.search([('owner', '=', user.id)], limit=1)
        ticket, = Ticket.search([], limit=1)
        lead, ticket = lead.id, ticket.id
    rng = random.Random(1)

    operations = {
        'create lead': lambda n: Lead.create([{
                    'name': f'Profile {n}', 'source': 'website',
                    'email': f'profile{n}@bench.example.com'}]),
        'write lead': lambda n: Lead.write([Lead(lead)], {
                'expected_value': n}),
        'create ticket': lambda n: Ticket.create([{
                    'subject': f'Profile {n}', 'priority': 'normal',
                    'customer': rng.choice(customers)}]),
        'write ticket': lambda n: Ticket.write([Ticket(ticket)], {
                'description': str(n)}),
        }

    def once(operation, n):
        with Transaction().start(
                args.database, user.id, context=context) as transaction:
            with transaction.set_context(_check_access=True):
                operation(n)
            transaction.rollback()

    if args.only:
        operations = {args.only: operations[args.only]}
    for operation in operations.values():
        once(operation, 0)
    profile = cProfile.Profile()
    means = {}
    for name, operation in operations.items():
        start = time.perf_counter()
        profile.enable()
        for n in range(1, args.repeat + 1):
            once(operation, n)
        profile.disable()
        means[name] = (time.perf_counter() - start) / args.repeat * 1000
    for name, mean in means.items():
        print(f"{name}: {mean:.1f} ms per call (profiled)")
    stats = pstats.Stats(profile)
    stats.sort_stats('cumulative')
    print(f"\ntop {args.top} by cumulative time over "
        f"{args.repeat * len(operations)} calls:")
    stats.print_stats(r'autolead|trigger|queue|modelsql|modelstorage',
        args.top)
    statements = sum(v[0] for k, v in stats.stats.items()
        if k[2] == 'execute' and 'trytond/backend' in k[0])
    print(f"SQL statements per call: "
        f"{statements / args.repeat / len(operations):.1f}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
