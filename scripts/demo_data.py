"""Create the Auto Lead database and fill it with demo data.

    python scripts/demo_data.py create -c trytond.conf -d autolead
    python scripts/demo_data.py load -c trytond.conf -d autolead [--leads N]

`load` does nothing when the demo staff already exist, so running Auto Lead
again keeps whatever was changed since.
"""
import argparse
import datetime
import random
from decimal import Decimal

STAFF = [
    # login, name, groups (by XML id)
    ('head', "Sunita Menon", ['group_sales_head']),
    ('ravi', "Ravi Sharma", ['group_sales_rep']),
    ('meera', "Meera Nair", ['group_sales_rep']),
    ('arjun', "Arjun Patel", ['group_sales_rep']),
    ('support', "Kavya Reddy", ['group_support']),
    ]
CUSTOMERS = [
    ("Priya Verma", 'priya@customer.example'),
    ("Rahul Gupta", 'rahul@customer.example'),
    ("Anita Desai", 'anita@customer.example'),
    ("Vikram Singh", 'vikram@customer.example'),
    ("Neha Joshi", 'neha@customer.example'),
    ]
FIRST_NAMES = [
    "Aarav", "Aditi", "Akash", "Ananya", "Deepak", "Divya", "Farhan",
    "Gauri", "Harish", "Isha", "Karan", "Lakshmi", "Manoj", "Nisha",
    "Omkar", "Pooja", "Rohan", "Sanjana", "Tarun", "Uma", "Varun", "Zoya",
    "John", "Maria", "Chen", "Fatima", "Lucas", "Sofia",
    ]
LAST_NAMES = [
    "Agarwal", "Bose", "Chopra", "Das", "Fernandes", "Ghosh", "Iyer",
    "Kapoor", "Kulkarni", "Mehta", "Naidu", "Pillai", "Rao", "Saxena",
    "Thomas", "Varghese", "Smith", "Garcia", "Wang", "Khan",
    ]
COMPANIES = [
    "Sunrise Textiles", "Bluewave Logistics", "Greenleaf Organics",
    "Apex Engineering", "Nimbus Software", "Lotus Healthcare",
    "Orbit Motors", "Saffron Foods", "Crescent Realty", "Vertex Finance",
    "Indigo Travels", "Pinnacle Education", None, None, None,
    ]
SOURCE_WEIGHTS = [
    ('website', 30), ('google', 20), ('facebook', 12), ('referral', 10),
    ('ivr', 8), ('email', 6), ('phone', 6), ('walk_in', 3), ('event', 5),
    ]
STAGE_WEIGHTS = [
    # XML id of autolead.lead.stage or name of a DEMO_STAGES entry
    ('stage_new', 24), ('stage_contacted', 16), ('stage_qualified', 12),
    ('stage_in_progress', 10), ('stage_won', 10), ('stage_lost', 10),
    ("Not Attempted", 6), ("Follow-up", 4), ("Demo Confirmed", 3),
    ("Proposal Sent", 2), ("Close to Won", 2), ("Close to Lost", 1),
    ]
# The optional stages of the seed: name, sequence, colour, probability
DEMO_STAGES = [
    ("Not Attempted", 5, 'danger', 5),
    ("Follow-up", 25, None, 25),
    ("Demo Confirmed", 35, None, 50),
    ("Proposal Sent", 45, 'warning', 70),
    ("Close to Won", 50, 'success', 90),
    ("Close to Lost", 55, 'muted', 10),
    ]
# Allowed moves through the demo stages, by name
DEMO_TRANSITIONS = [
    ("Not Attempted", "Contacted"), ("New", "Not Attempted"),
    ("Contacted", "Follow-up"), ("Follow-up", "Qualified"),
    ("Qualified", "Demo Confirmed"), ("Demo Confirmed", "Proposal Sent"),
    ("Proposal Sent", "Close to Won"), ("Proposal Sent", "Close to Lost"),
    ("Close to Won", "Won"), ("Close to Lost", "Lost"),
    ("Not Attempted", "Lost"), ("Follow-up", "Lost"),
    ("Demo Confirmed", "Lost"), ("Proposal Sent", "Lost"),
    ("Close to Won", "Lost"),
    ]
TERRITORIES = ["Mumbai", "Bengaluru", "Delhi NCR", "Chennai", "Pune"]
INDUSTRIES = [
    "Textiles", "Logistics", "Agriculture", "Engineering", "Software",
    "Healthcare", "Automotive", "Food", "Real Estate", "Finance",
    ]
JOB_TITLES = [
    "Owner", "Director", "Purchase Manager", "Operations Head", "CFO",
    "IT Manager", None,
    ]
TAGS = ["VIP", "Budget approved", "Decision maker", "Needs demo"]
NOTES = [
    "Called, asked to call back next week.",
    "Interested in the annual plan, sent the brochure.",
    "Wants a discount for 50 seats.",
    "Decision expected after the board meeting.",
    ]


def _weighted(rng, weights):
    values, counts = zip(*weights)
    return rng.choices(values, counts)[0]


def create_database(name):
    from trytond import backend

    database = backend.Database()
    database.connect()
    if name in database.list():
        enable_trigram(name)
        return False
    connection = database.get_connection(autocommit=True)
    try:
        database.create(connection, name)
    finally:
        database.put_connection(connection)
    enable_trigram(name)
    return True


def enable_trigram(name):
    """Let PostgreSQL build the trigram indexes of the search box: Tryton
    creates them only when pg_trgm is in the database before activation"""
    from trytond import backend

    if backend.name != 'postgresql':
        return
    import psycopg
    database = backend.Database(name).connect()
    connection = database.get_connection(autocommit=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    except psycopg.Error as exception:
        print(f"[autolead] pg_trgm unavailable, search without trigram "
            f"indexes: {exception}")
    finally:
        database.put_connection(connection)


def load_demo(leads=300, seed=2026):
    "Fill the database of the current transaction with demo data"
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    Party = pool.get('party.party')
    WebUser = pool.get('web.user')
    Lead = pool.get('autolead.lead')

    if User.search([('login', '=', STAFF[0][0])]):
        return False
    rng = random.Random(seed)
    company = _load_demo_company()

    staff = {}
    for login, name, groups in STAFF:
        staff[login], = User.create([{
                    'login': login,
                    'name': name,
                    'email': f'{login}@autolead.example',
                    'password': f'{login}-demo',
                    'groups': [('add', [
                                ModelData.get_id('autolead', g)
                                for g in groups])],
                    'companies': [('add', [company.id])],
                    'company': company.id,
                    }])
    admin, = User.search([('login', '=', 'admin')])
    User.write([admin], {
            'name': "Auto Lead Administrator",
            'companies': [('add', [company.id])],
            'company': company.id,
            })

    for name, email in CUSTOMERS:
        party, = Party.create([{
                    'name': name,
                    'contact_mechanisms': [('create', [{
                                    'type': 'email', 'value': email}])],
                    }])
        WebUser.create([{
                    'email': email,
                    'email_valid': True,
                    'password': 'customer-demo',
                    'party': party.id,
                    }])

    reps = [staff[login] for login, _, groups in STAFF
        if 'group_sales_rep' in groups]
    stages = _load_demo_stages()
    lost_reasons = pool.get('autolead.lead.lost_reason').search([])
    Tag = pool.get('autolead.lead.tag')
    tags = Tag.create([{'name': n} for n in TAGS])
    now = datetime.datetime.now()
    today = datetime.date.today()
    values = []
    for i in range(leads):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = rng.choice(COMPANIES)
        stage = stages[_weighted(rng, STAGE_WEIGHTS)]
        values.append({
                'name': f'{first} {last}',
                'company_name': company,
                'job_title': rng.choice(JOB_TITLES),
                'email': f'{first}.{last}{i}@example.com'.lower(),
                'phone': f'+91 9{rng.randrange(10**8, 10**9)}',
                'source': _weighted(rng, SOURCE_WEIGHTS),
                'territory': rng.choice(TERRITORIES),
                'industry': rng.choice(INDUSTRIES),
                'expected_value': rng.randrange(10, 500) * 1000,
                'stage': stage.id,
                'lost_reason': (rng.choice(lost_reasons).id
                    if stage.kind == 'lost' else None),
                'next_follow_up': (
                    today + datetime.timedelta(days=rng.randrange(-5, 10))
                    if stage.kind == 'open' and rng.random() < 0.5
                    else None),
                'tags': [('add', rng.sample(
                                [t.id for t in tags], rng.randrange(3)))],
                'owner': rng.choice(reps).id if rng.random() < 0.9 else None,
                })
    _demo_outcomes(values, stages, lost_reasons)
    created = Lead.create(values)
    # Spread creation dates over the past year, more of them recent, so that
    # reports, targets and the scoring see a history
    dates = random.Random(seed + 1)
    created_at = {
        lead.id: now - datetime.timedelta(
            days=int(365 * dates.random() ** 2),
            minutes=dates.randrange(1440))
        for lead in created}
    _load_demo_activity(rng, created, created_at, now)
    _load_demo_rules(reps)
    table = Lead.__table__()
    cursor = Transaction().connection.cursor()
    for lead in created:
        cursor.execute(*table.update(
                [table.create_date], [created_at[lead.id]],
                where=table.id == lead.id))
    _load_repeat_contacts(Lead, created, rng)
    load_helpdesk_demo(rng, staff)
    _load_automation_demo(rng, staff, reps, created)
    _load_reporting_demo(rng, reps, created)
    _train_demo_models()
    return True


# how often the closed demo leads of a source were won: a pattern for lead
# scoring to learn (with random outcomes it learns nothing)
WIN_RATES = {'referral': 0.9, 'website': 0.75, 'event': 0.7, 'google': 0.5}


def _demo_outcomes(values, stages, lost_reasons):
    "Won or lost as the source suggests, with its own random generator"
    rng = random.Random(7)
    won, lost = stages['stage_won'], stages['stage_lost']
    for value in values:
        if value['stage'] in {won.id, lost.id}:
            is_won = rng.random() < WIN_RATES.get(value['source'], 0.1)
            value['stage'] = won.id if is_won else lost.id
            value['lost_reason'] = (
                None if is_won else rng.choice(lost_reasons).id)


def _load_demo_company():
    """The company the demo team works for, so that the administrator is not
    sent through Tryton's configuration wizard at every sign-in"""
    from trytond.pool import Pool

    pool = Pool()
    Company = pool.get('company.company')
    Currency = pool.get('currency.currency')
    Country = pool.get('country.country')
    Party = pool.get('party.party')
    ConfigItem = pool.get('ir.module.config_wizard.item')

    rupee, = Currency.create([{
                'name': "Indian Rupee", 'code': 'INR', 'symbol': '₹',
                'rounding': Decimal('0.01'), 'digits': 2,
                }])
    india, = Country.create([{'name': "India", 'code': 'IN'}])
    party, = Party.create([{
                'name': "Auto Lead Demo Pvt. Ltd.",
                'addresses': [('create', [{
                                'street': "12 MG Road",
                                'postal_code': '560001',
                                'city': "Bengaluru",
                                'country': india.id,
                                }])],
                }])
    company, = Company.create([{
                'party': party.id,
                'currency': rupee.id,
                }])
    # the company is set up: nothing left for the configuration wizard
    ConfigItem.write(ConfigItem.search([('state', '=', 'open')]), {
            'state': 'done'})
    return company


def _load_demo_stages():
    "Add the optional seed stages; return every stage by XML id or name"
    from trytond.pool import Pool

    pool = Pool()
    ModelData = pool.get('ir.model.data')
    Stage = pool.get('autolead.lead.stage')
    Transition = pool.get('autolead.lead.stage.transition')

    stages = {s.name: s for s in Stage.search([])}
    Stage.create([{
                'name': name,
                'sequence': sequence,
                'kind': 'open',
                'colour': colour,
                'probability': probability,
                } for name, sequence, colour, probability in DEMO_STAGES
            if name not in stages])
    stages = {s.name: s for s in Stage.search([])}
    Transition.create([{
                'from_stage': stages[a].id,
                'to_stage': stages[b].id,
                } for a, b in DEMO_TRANSITIONS])
    for fs_id in ['stage_new', 'stage_contacted', 'stage_qualified',
            'stage_in_progress', 'stage_won', 'stage_lost']:
        stages[fs_id] = Stage(ModelData.get_id('autolead', fs_id))
    return stages


def _load_demo_activity(rng, leads, created_at, now):
    "Notes and interactions on some leads, in their first month"
    from trytond.pool import Pool

    pool = Pool()
    Note = pool.get('autolead.lead.note')
    Interaction = pool.get('autolead.lead.interaction')
    notes, interactions = [], []

    def during(lead, days, minutes):
        "A moment of the lead's first month, before now"
        moment = created_at[lead.id] + datetime.timedelta(
            days=days, minutes=minutes)
        return min(moment, now - datetime.timedelta(minutes=minutes))

    for lead in leads:
        if lead.stage.name in {"New", "Not Attempted"}:
            continue
        for _ in range(rng.randrange(3)):
            notes.append({
                    'lead': lead.id,
                    'author': lead.owner.id if lead.owner else None,
                    'date': during(
                        lead, rng.randrange(30), rng.randrange(600)),
                    'text': rng.choice(NOTES),
                    })
        for _ in range(rng.randrange(1, 3)):
            interactions.append({
                    'lead': lead.id,
                    'user': lead.owner.id if lead.owner else None,
                    'date': during(
                        lead, rng.randrange(30), rng.randrange(600)),
                    'type': rng.choice(['call', 'call', 'email', 'meeting']),
                    'direction': rng.choice(['outbound', 'inbound']),
                    'outcome': rng.choice(
                        ['reached', 'no_answer', 'interested', 'call_back']),
                    'summary': rng.choice(NOTES),
                    })
    Note.create(notes)
    Interaction.create(interactions)


def _load_demo_rules(reps):
    "Leads without owner from the website go round-robin to the reps"
    from trytond.pool import Pool

    Rule = Pool().get('autolead.lead.assignment.rule')
    Rule.create([{
                'name': "Mumbai to Ravi",
                'sequence': 10,
                'territory': "Mumbai",
                'method': 'fixed',
                'user': reps[0].id,
                }, {
                'name': "Website round-robin",
                'sequence': 20,
                'source': 'website',
                'method': 'round_robin',
                'team': [('add', [r.id for r in reps])],
                }])


# dedup / import / capture
def _load_repeat_contacts(Lead, created, rng, count=12):
    "Contacts coming back, so the Duplicates lists are not empty"
    values = []
    for lead in rng.sample(list(created), min(count, len(created))):
        retyped = rng.random() < 0.5
        values.append({
                'name': lead.name,
                'email': None if retyped else lead.email.upper(),
                'phone': lead.phone.replace('+91 ', '0') if retyped else None,
                'source': rng.choice(['website', 'google', 'phone']),
                'owner': lead.owner.id if lead.owner else None,
                })
    Lead.create(values)


# Helpdesk demo ---------------------------------------------------------------
HELPDESK_STAFF = [
    ('rohit', "Rohit Kulkarni", ['group_support']),
    ('supportlead', "Farah Khan", ['group_support_lead']),
    ]
TICKET_CATEGORIES = ["Billing", "Technical", "Account", "Delivery"]
TICKET_TAGS = ["vip", "bug", "refund", "follow-up"]
SLA_TARGETS = [
    # priority, response hours, resolution hours
    ('low', 24, 120), ('normal', 8, 48), ('high', 2, 24), ('urgent', 1, 8),
    ]
CANNED_RESPONSES = [
    ("Acknowledgement", "Hello {customer},\n\nThank you for writing to us "
        "about {ticket}. I am looking into it and will get back to you "
        "shortly.\n\n{agent}"),
    ("Need more details", "Hello {customer},\n\nCould you send a screenshot "
        "and the exact time the problem happened?\n\n{agent}"),
    ("Resolved", "Hello {customer},\n\nThe issue in {ticket} is fixed. "
        "Reply to this email if anything is still wrong.\n\n{agent}"),
    ]
TICKET_SUBJECTS = [
    ("Invoice shows the wrong amount", "Billing"),
    ("Cannot log in to the portal", "Account"),
    ("Refund not received", "Billing"),
    ("Report export fails with an error", "Technical"),
    ("Delivery delayed by two weeks", "Delivery"),
    ("Please update our GST number", "Account"),
    ("App crashes when uploading photos", "Technical"),
    ("Duplicate charge on credit card", "Billing"),
    ("Password reset email never arrives", "Account"),
    ("Wrong item delivered", "Delivery"),
    ("Dashboard loads very slowly", "Technical"),
    ("Need a copy of last year's invoices", "Billing"),
    ]
CUSTOMER_LINES = [
    "Could you please look into this today?",
    "I attached the details in my previous email.",
    "This is the second time it happens this month.",
    "Thanks, that helped partly, but the problem is still there.",
    ]
AGENT_LINES = [
    "Thanks for the details, I am checking with the team.",
    "Could you confirm the date and time it happened?",
    "I have applied a fix on our side, please try again.",
    "The refund was issued today; it takes 3-5 working days.",
    ]
INTERNAL_LINES = [
    "Escalated to engineering, waiting for their answer.",
    "Customer is on the annual plan, handle with priority.",
    ]
ENQUIRIES = [
    ("Sam Thomas", "Orbit Motors", "Price list for 20 seats", 'website'),
    ("Leena Das", None, "Do you offer a free trial?", 'website'),
    ("Imran Sheikh", "Saffron Foods", "Integration with our ERP", 'email'),
    ("Kiran Rao", None, "Opening hours of your Pune office", 'phone'),
    ("Anjali Bose", "Lotus Healthcare", "On-site training options", 'email'),
    ("Maria Garcia", None, "Partnership enquiry", 'website'),
    ("Chen Wang", "Nimbus Software", "API rate limits", 'chat'),
    ("Tom Smith", None, "Discount for NGOs?", 'social'),
    ]
TICKET_STATES = [
    'new', 'new', 'new', 'accepted', 'accepted', 'accepted', 'accepted',
    'resolved', 'resolved', 'resolved', 'rejected', 'reopened',
    ]


def load_helpdesk_demo(rng, staff, tickets=36):
    "Categories, service levels, canned responses, tickets and enquiries"
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    Party = pool.get('party.party')
    WebUser = pool.get('web.user')
    Category = pool.get('autolead.ticket.category')
    Tag = pool.get('autolead.ticket.tag')
    SLA = pool.get('autolead.ticket.sla')
    Canned = pool.get('autolead.canned_response')
    Ticket = pool.get('autolead.ticket')
    Message = pool.get('autolead.ticket.message')
    Enquiry = pool.get('autolead.enquiry')
    EnquiryMessage = pool.get('autolead.enquiry.message')
    Conversation = pool.get('autolead.conversation')

    staff = dict(staff)
    for login, name, groups in HELPDESK_STAFF:
        staff[login], = User.create([{
                    'login': login,
                    'name': name,
                    'email': f'{login}@autolead.example',
                    'password': f'{login}-demo',
                    'groups': [('add', [
                                ModelData.get_id('autolead', g)
                                for g in groups])],
                    }])
    agents = [staff['support'], staff['rohit']]

    categories = {c.name: c for c in Category.create(
            [{'name': n} for n in TICKET_CATEGORIES])}
    tags = Tag.create([{'name': n} for n in TICKET_TAGS])
    SLA.create([{
                'priority': priority,
                'response_time': datetime.timedelta(hours=response),
                'resolution_time': datetime.timedelta(hours=resolution),
                } for priority, response, resolution in SLA_TARGETS])
    Canned.create([{'name': n, 'body': b} for n, b in CANNED_RESPONSES])

    customers = []
    for name, email in CUSTOMERS:
        party, = Party.search([('name', '=', name)], limit=1)
        web_users = WebUser.search([('email', '=', email)], limit=1)
        customers.append((party, web_users[0] if web_users else None))

    now = datetime.datetime.now()
    sla = {p: (r, s) for p, r, s in SLA_TARGETS}
    values, states = [], []
    for i in range(tickets):
        party, web_user = rng.choice(customers)
        subject, category = rng.choice(TICKET_SUBJECTS)
        priority = rng.choice(['low', 'normal', 'normal', 'high', 'urgent'])
        state = TICKET_STATES[i % len(TICKET_STATES)]
        if state == 'new':
            created = now - datetime.timedelta(minutes=rng.randrange(10, 600))
        else:
            created = now - datetime.timedelta(
                hours=rng.randrange(2, 24 * 4), minutes=rng.randrange(60))
        response, resolution = sla[priority]
        agent = rng.choice(agents) if state != 'new' else None
        accepted_at = (created + datetime.timedelta(
                minutes=rng.randrange(10, 60 * response * 2))
            if agent else None)
        resolved_at = (accepted_at + datetime.timedelta(
                hours=rng.randrange(1, resolution))
            if state == 'resolved' else None)
        if accepted_at and accepted_at > now:
            accepted_at = now
        if resolved_at and resolved_at > now:
            resolved_at = now
        values.append({
                'customer': party.id,
                'web_user': web_user.id if web_user else None,
                'subject': subject,
                'description': f"{subject}. {rng.choice(CUSTOMER_LINES)}",
                'category': categories[category].id,
                'tags': [('add', [t.id for t in rng.sample(
                                tags, rng.randrange(0, 3))])],
                'priority': priority,
                'state': 'accepted' if agent else 'new',
                'accepted_by': agent.id if agent else None,
                'accepted_at': accepted_at,
                'resolved_at': resolved_at,
                'response_due': created + datetime.timedelta(hours=response),
                'resolution_due': (
                    created + datetime.timedelta(hours=resolution)),
                })
        states.append((created, state, agent, party, web_user))
    created_tickets = Ticket.create(values)

    table = Ticket.__table__()
    cursor = Transaction().connection.cursor()
    messages = []
    for ticket, (created, state, agent, party, web_user) in zip(
            created_tickets, states):
        cursor.execute(*table.update(
                [table.create_date], [created],
                where=table.id == ticket.id))
        if not agent:
            continue
        date = ticket.accepted_at
        for turn in range(rng.randrange(1, 5)):
            date += datetime.timedelta(minutes=rng.randrange(5, 240))
            if turn % 2:
                messages.append({
                        'ticket': ticket.id, 'date': min(date, now),
                        'author_user': None,
                        'author_web_user': web_user.id if web_user else None,
                        'author_email': (
                            None if web_user else 'customer@example.com'),
                        'body': rng.choice(CUSTOMER_LINES),
                        })
            else:
                messages.append({
                        'ticket': ticket.id, 'date': min(date, now),
                        'author_user': agent.id,
                        'body': rng.choice(AGENT_LINES),
                        })
        if rng.random() < 0.3:
            messages.append({
                    'ticket': ticket.id, 'date': min(date, now),
                    'author_user': agent.id, 'internal': True,
                    'body': rng.choice(INTERNAL_LINES),
                    })
    with Transaction().set_context(autolead_notify=False):
        Message.create(messages)
    by_state = {}
    for ticket, (_, state, _, _, _) in zip(created_tickets, states):
        by_state.setdefault(state, []).append(ticket)
    for state, state_tickets in by_state.items():
        Ticket.write(state_tickets, {'state': state})

    enquiries = Enquiry.create([{
                'name': name,
                'company_name': company,
                'email': '%s@%s.example' % (
                    name.split()[0].lower(),
                    (company or 'mail').split()[0].lower()),
                'subject': subject,
                'message': f"Hello, {subject.lower()}? Thanks, {name}",
                'source': source,
                } for name, company, subject, source in ENQUIRIES])
    accepted = enquiries[:4]
    Enquiry.write(accepted, {
            'state': 'accepted',
            'accepted_by': agents[0].id,
            'accepted_at': now - datetime.timedelta(hours=3),
            })
    Enquiry.write(enquiries[4:6], {
            'state': 'resolved',
            'accepted_by': agents[1].id,
            'accepted_at': now - datetime.timedelta(days=2),
            'resolved_at': now - datetime.timedelta(days=1),
            })
    EnquiryMessage.create([{
                'enquiry': e.id, 'direction': 'outgoing',
                'author_user': e.accepted_by.id,
                'body': f"Hello {e.name}, thanks for your interest. "
                "Our price list is attached.",
                } for e in enquiries[:6] if e.accepted_by])

    admin, = User.search([('login', '=', 'admin')])
    for other, subject, lines in [
            (staff['ravi'], "Follow-ups this week", [
                    (admin, "Please call back the Orbit Motors lead today."),
                    (staff['ravi'], "Done, they want a demo on Friday."),
                    (admin, "Great, book the meeting room."),
                    ]),
            (staff['support'], "Weekend cover", [
                    (admin, "Who is on call this Sunday?"),
                    ]),
            ]:
        conversation, = Conversation.create([{
                    'subject': subject,
                    'participants': [('add', [admin.id, other.id])],
                    }])
        for author, body in lines:
            with Transaction().set_user(author.id):
                conversation.post(body)


# --- automation: tasks, calls, appointments, campaigns ---
def _load_automation_demo(rng, staff, reps, leads):
    "Tasks, calls, appointments (some today) and three campaigns"
    from trytond.pool import Pool

    pool = Pool()
    Party = pool.get('party.party')
    Task = pool.get('autolead.task')
    TaskRule = pool.get('autolead.task.rule')
    Call = pool.get('autolead.call')
    Appointment = pool.get('autolead.appointment')
    Campaign = pool.get('autolead.campaign')

    now = datetime.datetime.now().replace(second=0, microsecond=0)
    today = now.replace(hour=0, minute=0)
    owned = [l for l in leads if l.owner]
    customers = Party.search([('name', 'in', [n for n, _ in CUSTOMERS])])

    TaskRule.create([{
                'stage_name': "Contacted",
                'task_name': "Follow up with {lead}",
                'delay': 2,
                'priority': '2',
                }, {
                'stage_name': "Qualified",
                'task_name': "Send a quotation to {lead}",
                'delay': 1,
                }])

    tasks = []
    for lead in rng.sample(owned, min(30, len(owned))):
        due = today + datetime.timedelta(
            days=rng.randrange(-4, 8), hours=rng.randrange(9, 18))
        state = rng.choice(['pending', 'pending', 'in_progress', 'completed'])
        tasks.append({
                'name': rng.choice([
                        f"Follow up with {lead.name}",
                        f"Send the brochure to {lead.name}",
                        f"Prepare a quotation for {lead.name}"]),
                'lead': lead.id,
                'assignee': lead.owner.id,
                'due': due,
                'priority': rng.choice(['0', '1', '1', '2', '3']),
                'state': state,
                'completed_at': now if state == 'completed' else None,
                })
    Task.create(tasks)

    calls = []
    for lead in rng.sample(owned, min(24, len(owned))):
        scheduled = today + datetime.timedelta(
            days=rng.randrange(-3, 4), hours=rng.randrange(9, 19))
        done = scheduled < now
        outcome = rng.choice(['rnr', 'busy', 'connected', 'connected'])
        calls.append({
                'subject': f"Call {lead.name}",
                'lead': lead.id,
                'phone': lead.phone,
                'caller': lead.owner.id,
                'direction': rng.choice(['outgoing'] * 4 + ['incoming']),
                'scheduled_at': scheduled,
                'state': 'done' if done else 'scheduled',
                'outcome': outcome if done else None,
                'done_at': scheduled if done else None,
                })
    Call.create(calls)

    first_of_month = today.replace(day=1)
    previous_month = (first_of_month - datetime.timedelta(days=1)).replace(
        day=1)
    plan = (
        # start, state
        [(today + datetime.timedelta(hours=h), 'confirmed')
            for h in (10, 12, 15, 17)]
        + [(first_of_month + datetime.timedelta(
                    days=rng.randrange(max(now.day - 1, 1)), hours=11),
                'completed') for _ in range(5)]
        + [(previous_month + datetime.timedelta(
                    days=rng.randrange(27), hours=14), 'completed')
            for _ in range(4)]
        + [(today + datetime.timedelta(days=d, hours=11), 'draft')
            for d in (2, 5)]
        + [(today + datetime.timedelta(days=3, hours=16), 'cancelled')])
    appointments = []
    for start, state in plan:
        lead = rng.choice(owned)
        party = rng.choice(customers) if customers and rng.random() < .4 \
            else None
        appointments.append({
                'name': f"Product demo for {lead.name}",
                'kind': 'demo',
                'start': start,
                'duration': datetime.timedelta(minutes=rng.choice([30, 60])),
                'location': rng.choice([
                        "Online (video call)", "Client office",
                        "Auto Lead office, Bengaluru"]),
                'lead': lead.id,
                'party': party.id if party else None,
                'organizer': lead.owner.id,
                'participants': [('add', [lead.owner.id])],
                'state': state,
                })
    Appointment.create(appointments)

    head = staff['head']
    referral, promotion, greetings = Campaign.create([{
                'title': "Refer a Friend",
                'code': 'refer-a-friend',
                'description': "Bring a friend: you both get a month free.",
                'type': 'referral',
                'visibility': 'public',
                'start_date': today.date() - datetime.timedelta(days=30),
                'end_date': today.date() + datetime.timedelta(days=60),
                'owner': head.id,
                'state': 'active',
                'views': 412,
                'likes': 57,
                }, {
                'title': "Monsoon Offer",
                'code': 'monsoon-offer',
                'description': "15% off the yearly plan.",
                'type': 'promotion',
                'visibility': 'internal',
                'start_date': today.date() + datetime.timedelta(days=7),
                'owner': head.id,
                'state': 'new',
                }, {
                'title': "Festive Greetings",
                'code': 'festive-greetings',
                'type': 'greetings',
                'visibility': 'private',
                'owner': head.id,
                'state': 'active',
                'greeting_subject': "Season's greetings from Auto Lead",
                'greeting_body': "Dear {name},\n\nWishing you a joyful "
                "festive season.\n\nThe Auto Lead team",
                'greeting_at': today + datetime.timedelta(days=10, hours=9),
                'greeting_parties': [('add', [c.id for c in customers])],
                }])
    referred = [l for l in leads if l.source == 'referral'][:12]
    pool.get('autolead.lead').write(referred, {'campaign': referral.id})


def _train_demo_models():
    "Train lead scoring and tag suggestions, so the desk shows scores"
    from trytond.pool import Pool
    pool = Pool()
    pool.get('autolead.lead.scoring.run').train()
    pool.get('autolead.ticket.tagging.run').train()


def _load_reporting_demo(rng, reps, leads):
    """Close the won and lost leads some days after they came in, give each
    representative a target for the month and mail the heads a daily report"""
    from sql import Null
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    pool = Pool()
    Lead = pool.get('autolead.lead')
    Target = pool.get('autolead.sales.target')
    Schedule = pool.get('autolead.report.schedule')
    ModelData = pool.get('ir.model.data')
    User = pool.get('res.user')

    table = Lead.__table__()
    cursor = Transaction().connection.cursor()
    now = datetime.datetime.now()
    # the creation dates were set in SQL: read them there, not from the
    # records' cache
    cursor.execute(*table.select(table.id, table.create_date))
    created_at = dict(cursor)
    for lead in Lead.browse([l.id for l in leads]):
        if lead.stage_kind == 'open':
            continue
        create_date = created_at[lead.id]
        if isinstance(create_date, str):
            create_date = datetime.datetime.fromisoformat(create_date)
        closed_at = min(
            create_date + datetime.timedelta(
                days=rng.randrange(1, 30), hours=rng.randrange(8, 19)),
            now)
        cursor.execute(*table.update(
                [table.closed_at], [closed_at],
                where=(table.id == lead.id) & (table.closed_at != Null)))
    # the dates above were changed in SQL, under the rollups' feet
    pool.get('autolead.rollup.lead.owner_day').rebuild_all()
    today = datetime.date.today()
    first = today.replace(day=1)
    last = (first + datetime.timedelta(days=32)).replace(day=1) - (
        datetime.timedelta(days=1))
    Target.create([{
                'user': rep.id,
                'from_date': first,
                'to_date': last,
                'revenue': rng.randrange(5, 20) * 100000,
                'deals': rng.randrange(3, 10),
                } for rep in reps])
    heads = User.search([('groups', '=', ModelData.get_id(
                    'autolead', 'group_sales_head'))])
    Schedule.create([{
                'name': name,
                'report': report,
                'covers': covers,
                'format': 'xlsx',
                'frequency': 'daily',
                'time': datetime.time(19, 0),
                'recipients': [('add', [h.id for h in heads])],
                } for name, report, covers in [
                ("Evening sales report", 'autolead.reporting.rep', 'today'),
                ("Today's demos", 'autolead.reporting.appointment', 'today'),
                ("Tomorrow's demos", 'autolead.reporting.appointment',
                    'tomorrow'),
                ]])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('command', choices=['create', 'load'])
    parser.add_argument('-c', '--config', required=True)
    parser.add_argument('-d', '--database', required=True)
    parser.add_argument('--leads', type=int, default=300)
    args = parser.parse_args()

    from trytond import config
    config.update_etc(args.config)

    if args.command == 'create':
        if create_database(args.database):
            print(f"[autolead] created database {args.database}")
        return

    from trytond.pool import Pool
    from trytond.transaction import Transaction
    Pool(args.database).init()
    # The demo's past events are not news: no notification rule runs
    context = {'autolead_notify': False}
    with Transaction().start(
            args.database, 0, context=context) as transaction:
        if load_demo(leads=args.leads):
            transaction.commit()
            print(f"[autolead] loaded demo data ({args.leads} leads)")


if __name__ == '__main__':
    main()
