"""Fill an Auto Lead database with realistic volume, fast.

    python bench/generate.py -c trytond.conf -d bench_1m --leads 1000000

Run it on a database where autolead is activated (trytond-admin). Staff go
through the ORM (passwords, groups); the bulk (customers, leads, notes,
tickets, messages) is written with COPY on PostgreSQL and executemany on
SQLite, with the normalised keys the module itself computes, so indexes,
dedup and record rules see what production data looks like. On PostgreSQL
the secondary indexes of the big tables are dropped during the load and
rebuilt after it, as a bulk load should, then the tables are analysed.

Default volume: 1,000,000 leads (sources, stages, owners, about one note
each), 200,000 tickets with about three messages each, 50 staff and 20,000
customers. Nothing is generated when the database already holds leads.
"""
import argparse
import datetime
import random
import time

BATCH = 20_000
SOURCES = ['website', 'google', 'facebook', 'referral', 'ivr', 'email',
    'phone', 'walk_in', 'event', 'import']
FIRST = ['Aarav', 'Aditi', 'Akash', 'Ananya', 'Deepak', 'Divya', 'Farhan',
    'Gauri', 'Harish', 'Isha', 'Karan', 'Lakshmi', 'Manoj', 'Nisha', 'Omkar',
    'Pooja', 'Rohan', 'Sanjana', 'Tarun', 'Uma', 'Varun', 'Zoya']
LAST = ['Agarwal', 'Bose', 'Chopra', 'Das', 'Fernandes', 'Ghosh', 'Iyer',
    'Kapoor', 'Kulkarni', 'Mehta', 'Naidu', 'Pillai', 'Rao', 'Saxena']
COMPANIES = ['Sunrise Textiles', 'Bluewave Logistics', 'Greenleaf Organics',
    'Apex Engineering', 'Nimbus Software', 'Lotus Healthcare', 'Orbit Motors']
TERRITORIES = ['Mumbai', 'Delhi', 'Bengaluru', 'Chennai', 'Pune', 'Kolkata']
NOTES = ['Called, asked to call back next week.',
    'Interested in a demo for the sales team.',
    'Sent the proposal by email.', 'Budget approved, waiting for legal.',
    'Not interested for now.', 'Requested pricing for 50 seats.']
SUBJECTS = ['Cannot log in to the portal', 'Invoice amount looks wrong',
    'Delivery delayed', 'Request for a product demo',
    'How do I export my data?', 'App crashes on start',
    'Change of billing address', 'Refund not received']
MESSAGES = ['Please find the screenshot attached.',
    'We are looking into it and will update you today.',
    'Thanks, that solved it.', 'Could you share your order number?',
    'Escalated to the logistics team.']


def log(message):
    print(f'[generate] {message}', flush=True)


class Loader:
    "Write many rows into a table: COPY on PostgreSQL, executemany else"

    def __init__(self, transaction):
        from trytond import backend
        self.transaction = transaction
        self.postgresql = backend.name == 'postgresql'

    def write(self, table, columns, rows):
        cursor = self.transaction.connection.cursor()
        names = ', '.join(f'"{c}"' for c in columns)
        count = 0
        if self.postgresql:
            with cursor.copy(
                    f'COPY "{table}" ({names}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            return count
        query = (f'INSERT INTO "{table}" ({names}) VALUES '
            f'({", ".join("?" * len(columns))})')
        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH:
                cursor.executemany(query, batch)
                count += len(batch)
                batch = []
        cursor.executemany(query, batch)
        return count + len(batch)

    def drop_indexes(self, table):
        "Drop the secondary indexes of table, return what rebuilds them"
        if not self.postgresql:
            return []
        cursor = self.transaction.connection.cursor()
        cursor.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.tablename = %s AND NOT EXISTS ("
            "SELECT 1 FROM pg_constraint c "
            "WHERE c.conindid = (quote_ident(i.indexname))::regclass)",
            (table,))
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        return [definition for _, definition in indexes]

    def create_indexes(self, definitions):
        cursor = self.transaction.connection.cursor()
        for definition in definitions:
            cursor.execute(definition)


def create_staff(pool, count):
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    existing = User.search([('login', 'like', 'bench_%')], order=[('id', 'ASC')])
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


def minutes_ago(rng, now, span=525600):
    return now - datetime.timedelta(minutes=rng.randrange(span))


def generate_customers(loader, pool, count, now):
    Party = pool.get('party.party')
    columns = ['name', 'code', 'active', 'create_uid', 'create_date']
    if 'customer_status' in Party._fields:
        columns.append('customer_status')
    rows = ([f'Customer {i}', f'BENCH{i}', True, 0, now, 'active'][
            :len(columns)] for i in range(count))
    loader.write(Party._table, columns, rows)
    cursor = loader.transaction.connection.cursor()
    table = Party.__table__()
    cursor.execute(*table.select(table.id, where=table.code.like('BENCH%')))
    return [i for i, in cursor]


def generate_leads(loader, pool, rng, count, owners, now):
    from trytond.modules.autolead.normalize import normalize_company
    Lead = pool.get('autolead.lead')
    Stage = pool.get('autolead.lead.stage')
    stages = [(s.id, s.kind) for s in Stage.search([])]
    open_stages = [s for s in stages if s[1] == 'open'] or stages
    company_keys = {c: normalize_company(c) for c in COMPANIES}
    columns = ['name', 'company_name', 'email', 'email_key', 'phone',
        'phone_key', 'company_key', 'source', 'territory', 'owner', 'stage',
        'stage_kind', 'lead_kind', 'active', 'create_uid', 'create_date']

    def rows():
        for i in range(count):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            company = rng.choice(COMPANIES) if rng.random() < 0.6 else None
            email = f'{first}.{last}.{i}@example.com'.lower()
            digits = f'{6000000000 + i * 3}'
            owner = rng.choice(owners)
            # most leads sit in the open pipeline, a fifth are closed
            stage, kind = rng.choice(
                open_stages if rng.random() < 0.8 else stages)
            yield [f'{first} {last}', company, email, email,
                f'+91 {digits[:5]} {digits[5:]}', '+91' + digits,
                company_keys.get(company), rng.choice(SOURCES),
                rng.choice(TERRITORIES), owner, stage, kind, 'new', True,
                owner, minutes_ago(rng, now)]
    log(f'inserting {count:,} leads')
    start = time.perf_counter()
    loader.write(Lead._table, columns, rows())
    log(f'leads: {count / (time.perf_counter() - start):,.0f} rows/s')


def generate_notes(loader, pool, rng, now):
    Lead = pool.get('autolead.lead')
    Note = pool.get('autolead.lead.note')
    cursor = loader.transaction.connection.cursor()
    lead = Lead.__table__()
    cursor.execute(*lead.select(lead.id, lead.owner))
    leads = cursor.fetchall()

    def rows():
        for lead_id, owner in leads:
            for _ in range(rng.randrange(3)):
                when = minutes_ago(rng, now)
                yield [lead_id, owner, when, rng.choice(NOTES), owner, when]
    start = time.perf_counter()
    count = loader.write(Note._table,
        ['lead', 'author', 'date', 'text', 'create_uid', 'create_date'],
        rows())
    log(f'{count:,} notes: {count / (time.perf_counter() - start):,.0f} '
        'rows/s')


def generate_tickets(loader, pool, rng, count, customers, agents, now):
    Ticket = pool.get('autolead.ticket')
    Message = pool.get('autolead.ticket.message')
    if not customers or not count:
        return
    states = ['new', 'accepted', 'accepted', 'resolved', 'resolved',
        'resolved', 'rejected', 'reopened']
    priorities = [k for k, _ in Ticket._fields['priority'].selection]

    def rows():
        for i in range(count):
            state = rng.choice(states)
            created = minutes_ago(rng, now)
            agent = rng.choice(agents) if state != 'new' else None
            yield [f'BT{i:07d}', rng.choice(SUBJECTS),
                'Reported from the portal.', rng.choice(priorities),
                rng.choice(customers), state, agent,
                created + datetime.timedelta(hours=1) if agent else None,
                created + datetime.timedelta(hours=4),
                created + datetime.timedelta(days=2), 0, created]
    start = time.perf_counter()
    loader.write(Ticket._table, ['number', 'subject', 'description',
            'priority', 'customer', 'state', 'accepted_by', 'accepted_at',
            'response_due', 'resolution_due', 'create_uid', 'create_date'],
        rows())
    cursor = loader.transaction.connection.cursor()
    ticket = Ticket.__table__()
    cursor.execute(*ticket.select(ticket.id, ticket.accepted_by,
            ticket.create_date, where=ticket.number.like('BT%')))
    tickets = cursor.fetchall()

    def messages():
        for ticket_id, agent, created in tickets:
            for n in range(1 + rng.randrange(5)):
                when = created + datetime.timedelta(minutes=30 * n)
                by_agent = agent and n % 2
                yield [ticket_id, agent if by_agent else None,
                    None if by_agent else 'customer@example.com',
                    when, rng.choice(MESSAGES), False, 0, when]
    written = loader.write(Message._table, ['ticket', 'author_user',
            'author_email', 'date', 'body', 'internal', 'create_uid',
            'create_date'], messages())
    log(f'{count:,} tickets, {written:,} messages in '
        f'{time.perf_counter() - start:.0f} s')


def generate(database, leads, tickets, staff, customers, seed=8):
    "Fill database; return the seconds it took, None when already filled"
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    pool = Pool(database)
    pool.init()
    rng = random.Random(seed)
    now = datetime.datetime.now()
    start = time.perf_counter()
    with Transaction().start(database, 0, context={}) as transaction:
        Lead = pool.get('autolead.lead')
        if Lead.search([], limit=1):
            log('the database already holds leads: nothing generated')
            return None
        users = create_staff(pool, staff)
        owners = [u.id for u in users[10:]] or [u.id for u in users]
        agents = [u.id for u in users[2:10]] or owners
        loader = Loader(transaction)
        rebuild = []
        for model in ['autolead.lead', 'autolead.lead.note',
                'autolead.ticket', 'autolead.ticket.message']:
            rebuild += loader.drop_indexes(pool.get(model)._table)
        party_ids = generate_customers(loader, pool, customers, now)
        generate_leads(loader, pool, rng, leads, owners, now)
        generate_notes(loader, pool, rng, now)
        generate_tickets(
            loader, pool, rng, tickets, party_ids, agents, now)
        if rebuild:
            index_start = time.perf_counter()
            cursor = transaction.connection.cursor()
            cursor.execute("SET maintenance_work_mem = '256MB'")
            loader.create_indexes(rebuild)
            log(f'{len(rebuild)} indexes rebuilt in '
                f'{time.perf_counter() - index_start:.0f} s')
        rollup_start = time.perf_counter()
        # the leads, notes and tickets went in by raw SQL
        pool.get('autolead.rollup.lead.owner_day').rebuild_all()
        log(f'report rollups rebuilt in '
            f'{time.perf_counter() - rollup_start:.0f} s')
        transaction.commit()
    if loader.postgresql:
        # VACUUM sets the visibility map the index-only scans (counts) need
        with Transaction().start(
                database, 0, autocommit=True) as transaction:
            cursor = transaction.connection.cursor()
            for model in ['party.party', 'autolead.lead',
                    'autolead.lead.note', 'autolead.ticket',
                    'autolead.ticket.message']:
                cursor.execute(
                    f'VACUUM ANALYZE "{pool.get(model)._table}"')
    else:
        with Transaction().start(database, 0) as transaction:
            transaction.connection.cursor().execute('ANALYZE')
            transaction.commit()
    elapsed = time.perf_counter() - start
    log(f'done in {elapsed:.0f} s')
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('-c', '--config', required=True)
    parser.add_argument('-d', '--database', required=True)
    parser.add_argument('--leads', type=int, default=1_000_000)
    parser.add_argument('--tickets', type=int, default=None,
        help="default: a fifth of the leads")
    parser.add_argument('--staff', type=int, default=50)
    parser.add_argument('--customers', type=int, default=20_000)
    parser.add_argument('--seed', type=int, default=8)
    args = parser.parse_args()
    from trytond import config
    config.update_etc(args.config)
    tickets = args.tickets if args.tickets is not None else args.leads // 5
    generate(args.database, args.leads, tickets, args.staff,
        args.customers, args.seed)


if __name__ == '__main__':
    main()
