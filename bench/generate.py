"""Fill an Auto Lead database with realistic volume, fast.

    python bench/generate.py -c trytond.conf -d bench --leads 1000000

Staff go through the ORM (passwords, groups); the bulk (leads, notes,
customers, tickets, messages) is inserted with python-sql in batches, with the
normalised keys the module itself would compute, so indexes and record rules
see exactly what production data looks like.
"""
import argparse
import datetime
import random
import time

BATCH = 5000
SOURCES = ['website', 'google', 'facebook', 'referral', 'ivr', 'email',
    'phone', 'walk_in', 'event']
FIRST = ['Aarav', 'Aditi', 'Akash', 'Ananya', 'Deepak', 'Divya', 'Farhan',
    'Gauri', 'Harish', 'Isha', 'Karan', 'Lakshmi', 'Manoj', 'Nisha', 'Omkar',
    'Pooja', 'Rohan', 'Sanjana', 'Tarun', 'Uma', 'Varun', 'Zoya']
LAST = ['Agarwal', 'Bose', 'Chopra', 'Das', 'Fernandes', 'Ghosh', 'Iyer',
    'Kapoor', 'Kulkarni', 'Mehta', 'Naidu', 'Pillai', 'Rao', 'Saxena']
COMPANIES = ['Sunrise Textiles', 'Bluewave Logistics', 'Greenleaf Organics',
    'Apex Engineering', 'Nimbus Software', 'Lotus Healthcare', 'Orbit Motors']
NOTES = ['Called, asked to call back next week.',
    'Interested in a demo for the sales team.',
    'Sent the proposal by email.', 'Budget approved, waiting for legal.',
    'Not interested for now.', 'Requested pricing for 50 seats.']


def log(message):
    print(f'[generate] {message}', flush=True)


def insert(cursor, table, columns, rows):
    for start in range(0, len(rows), BATCH):
        cursor.execute(*table.insert(
                [getattr(table, c) for c in columns],
                rows[start:start + BATCH]))


def present(pool, name):
    try:
        pool.get(name)
    except KeyError:
        return False
    return True


def create_staff(pool, count):
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    existing = User.search([('login', 'like', 'bench_%')])
    if existing:
        return existing
    rep = ModelData.get_id('autolead', 'group_sales_rep')
    head = ModelData.get_id('autolead', 'group_sales_head')
    support = ModelData.get_id('autolead', 'group_support')
    values = []
    for i in range(count):
        group = head if i < 2 else support if i < 10 else rep
        values.append({
                'login': f'bench_{i}', 'name': f'Bench User {i}',
                'password': f'bench-pass-{i}',
                'groups': [('add', [group])]})
    return User.create(values)


def generate_leads(pool, cursor, rng, count, owners, now):
    from trytond.modules.autolead.normalize import normalize_company
    Lead = pool.get('autolead.lead')
    table = Lead.__table__()
    columns = ['name', 'company_name', 'email', 'email_key', 'phone',
        'phone_key', 'company_key', 'source', 'owner', 'create_uid',
        'create_date']
    extra = {}
    if 'stage' in Lead._fields:
        Stage = pool.get('autolead.lead.stage')
        stages = [s.id for s in Stage.search([])]
        extra['stage'] = lambda: rng.choice(stages)
    if 'status' in Lead._fields:
        statuses = [k for k, _ in Lead._fields['status'].selection]
        extra['status'] = lambda: rng.choice(statuses)
    if 'active' in Lead._fields:
        extra['active'] = lambda: True
    columns += list(extra)
    company_keys = {c: normalize_company(c) for c in COMPANIES}
    log(f'inserting {count} leads')
    start = time.perf_counter()
    rows = []
    for i in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = rng.choice(COMPANIES) if rng.random() < 0.6 else None
        email = f'{first}.{last}.{i}@example.com'.lower()
        digits = f'{9000000000 + i}'
        owner = rng.choice(owners)
        rows.append([
                f'{first} {last}', company, email, email,
                f'+91 {digits[:5]} {digits[5:]}', '+91' + digits,
                company_keys.get(company), rng.choice(SOURCES), owner, owner,
                now - datetime.timedelta(minutes=rng.randrange(525600))]
            + [f() for f in extra.values()])
        if len(rows) >= 50_000:
            insert(cursor, table, columns, rows)
            rows = []
    insert(cursor, table, columns, rows)
    log(f'leads: {count / (time.perf_counter() - start):,.0f} rows/s')


def generate_notes(pool, cursor, rng, per_lead, now):
    if not present(pool, 'autolead.lead.note'):
        log('no autolead.lead.note model: notes skipped')
        return
    Note = pool.get('autolead.lead.note')
    Lead = pool.get('autolead.lead')
    lead = Lead.__table__()
    table = Note.__table__()
    text_field = next(
        (n for n in ['text', 'body', 'note', 'comment']
            if n in Note._fields), None)
    cursor.execute(*lead.select(lead.id, lead.owner))
    leads = list(cursor)
    columns = ['lead', text_field, 'create_uid', 'create_date']
    if 'author' in Note._fields:
        columns.append('author')
    if 'date' in Note._fields:
        columns.append('date')
    rows = []
    for lead_id, owner in leads:
        for _ in range(rng.randrange(per_lead * 2 + 1)):
            when = now - datetime.timedelta(minutes=rng.randrange(525600))
            row = [lead_id, rng.choice(NOTES), owner, when]
            if 'author' in columns:
                row.append(owner)
            if 'date' in columns:
                row.append(when.date()
                    if Note._fields['date']._type == 'date' else when)
            rows.append(row)
        if len(rows) >= 50_000:
            insert(cursor, table, columns, rows)
            rows = []
    insert(cursor, table, columns, rows)
    log('notes inserted')


def generate_customers(pool, cursor, count, now):
    Party = pool.get('party.party')
    table = Party.__table__()
    cursor.execute(*table.select(table.id, where=table.code.like('BENCH%'),
            limit=1))
    if cursor.fetchone():
        return
    rows = [[f'Customer {i}', f'BENCH{i}', True, 0, now]
        for i in range(count)]
    insert(cursor, table, ['name', 'code', 'active', 'create_uid',
            'create_date'], rows)
    log(f'{count} customers inserted')


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('-c', '--config', required=True)
    parser.add_argument('-d', '--database', required=True)
    parser.add_argument('--leads', type=int, default=1_000_000)
    parser.add_argument('--notes-per-lead', type=int, default=1)
    parser.add_argument('--staff', type=int, default=50)
    parser.add_argument('--customers', type=int, default=20_000)
    parser.add_argument('--seed', type=int, default=8)
    args = parser.parse_args()

    from trytond import config
    config.update_etc(args.config)
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    pool = Pool(args.database)
    pool.init()
    rng = random.Random(args.seed)
    now = datetime.datetime.now()
    with Transaction().start(args.database, 0, context={}) as transaction:
        staff = create_staff(pool, args.staff)
        owners = [u.id for u in staff[10:]]
        cursor = transaction.connection.cursor()
        generate_customers(pool, cursor, args.customers, now)
        Lead = pool.get('autolead.lead')
        if not Lead.search([], limit=1):
            generate_leads(pool, cursor, rng, args.leads, owners, now)
            generate_notes(pool, cursor, rng, args.notes_per_lead, now)
        transaction.commit()
    from trytond import backend
    if backend.name == 'postgresql':
        with Transaction().start(args.database, 0) as transaction:
            transaction.connection.cursor().execute('ANALYZE')
            transaction.commit()
    log('done')


if __name__ == '__main__':
    main()
