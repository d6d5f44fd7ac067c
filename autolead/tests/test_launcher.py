"""`./autolead.sh run` end to end, as a user meets it

The launcher starts on a temporary AUTOLEAD_HOME (SQLite there, or a new
database on the PostgreSQL of the test run) and free ports, reusing the
installed venv, sao and htmx (AUTOLEAD_INSTALL). Then, over the desk's
JSON-RPC: a new lead is notified by mail and scored by the queue, a file of
3,000 leads goes through the import wizard and the queue, an agent's reply
reaches the customer's mailbox; Ctrl-C stops every process it started.
"""
import base64
import email
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request
from email.header import decode_header, make_header
from pathlib import Path

from trytond.tests.test_tryton import drop_db

REPO = Path(__file__).resolve().parents[2]
# the venv of this test run: <install>/venv
INSTALL = Path(sys.prefix).parent
ROWS = 3000


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def wait_for(test, timeout, message):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := test():
            return result
        time.sleep(0.5)
    raise AssertionError(message)


def processes_using(path):
    "The processes whose command line names path"
    found = []
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / 'cmdline').read_bytes()
        except OSError:
            continue
        if str(path).encode() in cmdline:
            found.append((int(entry.name), cmdline.replace(b'\0', b' ')))
    return found


@unittest.skipUnless((REPO / 'autolead.sh').exists(),
    "the launcher is not beside the module")
class LauncherTestCase(unittest.TestCase):
    "./autolead.sh run works for a user and stops cleanly"

    def setUp(self):
        for name in ['venv', 'sao', 'htmx']:
            if not (INSTALL / name).exists():
                self.skipTest(f"{INSTALL / name} is missing")
        self.home = Path(tempfile.mkdtemp(prefix='autolead-home-'))
        self.addCleanup(shutil.rmtree, self.home, ignore_errors=True)
        self.port = free_port()
        self.database = f'launcher_{os.getpid()}_{int(time.time())}'
        self.uri = os.environ.get('TRYTOND_DATABASE_URI', 'sqlite://')
        env = dict(os.environ,
            AUTOLEAD_HOME=str(self.home),
            AUTOLEAD_INSTALL=str(INSTALL),
            AUTOLEAD_DATABASE_NAME=self.database,
            AUTOLEAD_DEMO_LEADS='60')
        for name in ['DB_NAME', 'DB_CACHE', 'TRYTOND_CONFIG',
                'TRYTOND_DATABASE_URI', 'TRYTOND_DATABASE__URI',
                'AUTOLEAD_SMTP', 'AUTOLEAD_DEMO_SMTP_PORT']:
            env.pop(name, None)
        argv = [str(REPO / 'autolead.sh'), 'run',
            '--host', '127.0.0.1', '--port', str(self.port)]
        if not self.uri.startswith('sqlite'):
            argv += ['--db', self.uri]
            self.addCleanup(drop_db, self.database)
        self.output = self.home.parent / f'{self.home.name}.out'
        self.addCleanup(self.output.unlink, missing_ok=True)
        self.env, self.argv = env, argv
        self.launcher = subprocess.Popen(argv, env=env,
            stdout=open(self.output, 'w'), stderr=subprocess.STDOUT)
        self.addCleanup(self.kill_leftovers)

    def kill_leftovers(self):
        if self.launcher.poll() is None:
            self.launcher.kill()
            self.launcher.wait()
        for pid, _ in processes_using(self.home):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def read_output(self):
        return self.output.read_text()

    def check_login_dialog(self):
        "The desk's address fills in the database of sao's login dialog"
        from .live_server import BROWSER, BROWSER_ARGS, browser_missing
        if browser_missing():
            return
        from playwright.sync_api import sync_playwright
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=BROWSER, args=BROWSER_ARGS)
            try:
                page = browser.new_page()
                page.goto(f'http://127.0.0.1:{self.port}/#{self.database}')
                field = page.locator('#database:visible')
                field.wait_for(timeout=30_000)
                self.assertEqual(field.input_value(), self.database)
            finally:
                browser.close()

    def rpc(self, method, *params):
        request = urllib.request.Request(
            f'http://127.0.0.1:{self.port}/rpc/',
            headers={'Content-Type': 'application/json'},
            data=json.dumps({'id': 1, 'method': method,
                    'params': params}).encode())
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)['result']

    def desk(self, login, password):
        "Call the desk's JSON-RPC as login"
        url = f'http://127.0.0.1:{self.port}/{self.database}/rpc/'
        headers = {'Content-Type': 'application/json'}

        def call(method, *params):
            request = urllib.request.Request(url, headers=headers,
                data=json.dumps({'id': 1, 'method': method,
                        'params': params}).encode())
            with urllib.request.urlopen(request, timeout=60) as response:
                answer = json.load(response)
            self.assertNotIn('error', answer, answer.get('error'))
            return answer['result']
        user_id, session = call(
            'common.db.login', login, {'password': password}, 'en')[:2]
        headers['Authorization'] = 'Session ' + base64.b64encode(
            f'{login}:{user_id}:{session}'.encode()).decode()
        return call

    def mails(self):
        "The messages in the demo's Maildir as (subject, body)"
        found = []
        for path in (self.home / 'mail').glob('*/*'):
            message = email.message_from_bytes(path.read_bytes())
            body = ''.join(
                part.get_payload(decode=True).decode(
                    part.get_content_charset() or 'utf-8', 'replace')
                for part in message.walk()
                if part.get_content_maintype() == 'text')
            found.append((str(make_header(decode_header(
                                message['Subject'] or ''))), body))
        return found

    def mail_with(self, subject, text):
        return [m for m in self.mails() if subject in m[0] and text in m[1]]

    def test_run_as_a_user(self):
        "Start, create a lead, import a file, answer a ticket, stop"
        started = time.monotonic()
        wait_for(lambda: 'Auto Lead is running' in self.read_output()
            or self.launcher.poll() is not None, 300,
            "the launcher did not start in 300 s")
        output = self.read_output()
        self.assertIsNone(self.launcher.poll(), output)
        self.assertIn(f'http://127.0.0.1:{self.port}/#{self.database}',
            output)
        self.assertNotIn('email for', output)
        # the URLs are printed once trytond answers
        urllib.request.urlopen(
            f'http://127.0.0.1:{self.port}/', timeout=10).close()
        # a second instance on the same port is refused before anything
        second = subprocess.run([str(REPO / 'autolead.sh'), 'run',
                '--host', '127.0.0.1', '--port', str(self.port)],
            env=dict(self.env, AUTOLEAD_HOME=str(self.home / 'second')),
            capture_output=True, text=True, timeout=60)
        self.assertNotEqual(second.returncode, 0)
        self.assertIn(f'port {self.port} of 127.0.0.1 is in use',
            second.stderr)
        self.assertFalse((self.home / 'second').exists())
        # sao fills in the login dialog's database from this list
        self.assertIn(self.database, self.rpc('common.db.list'))
        self.check_login_dialog()
        phases = {'start': time.monotonic() - started}

        # a sales representative creates a lead
        ravi = self.desk('ravi', 'ravi-demo')
        stamp = time.time_ns()
        lead_id, = ravi('model.autolead.lead.create', [{
                    'name': f"Launcher Lead {stamp}",
                    'email': f'launcher.{stamp}@prospect.example',
                    'source': 'website',
                    }], {})
        wait_for(lambda: self.mail_with('New lead', f'Launcher Lead {stamp}'),
            60, "the new-lead notification did not reach the Maildir")
        wait_for(lambda: ravi('model.autolead.lead.read', [lead_id],
                ['score'], {})[0]['score'] is not None, 60,
            "the new lead was not scored")
        phases['lead'] = time.monotonic() - started - sum(phases.values())

        # the administrator imports 3,000 leads through the desk's wizard
        admin = self.desk('admin', 'admin-demo')
        rows = ['name,email,phone,source'] + [
            f'Imported {stamp} {i},imported.{stamp}.{i}@prospect.example,'
            f',referral' for i in range(ROWS)]
        data = {'__class__': 'bytes', 'base64': base64.b64encode(
                '\n'.join(rows).encode()).decode()}
        session, _, _ = admin('wizard.autolead.lead.import.create', {})
        admin('wizard.autolead.lead.import.execute', session, {}, 'start', {})
        start = {'file_data': data, 'file_name': 'leads.csv',
            'duplicates': 'flag', 'all_or_nothing': False, 'notify': False}
        result = admin('wizard.autolead.lead.import.execute', session,
            {'start': start}, 'preview', {})
        preview = result['view']['defaults']
        self.assertEqual(preview['total'], ROWS)
        admin('wizard.autolead.lead.import.execute', session,
            {'start': start, 'preview': preview}, 'import_', {})
        admin('wizard.autolead.lead.import.delete', session, {})
        job_id, = admin('model.autolead.lead.import.job.search',
            [('file_name', '=', 'leads.csv')], 0, None, [('id', 'DESC')], {})

        def job():
            job, = admin('model.autolead.lead.import.job.read', [job_id],
                ['state', 'total', 'created', 'rejected'], {})
            return job
        # more than 2,000 rows: the wizard hands the file to the queue
        self.assertIn(job()['state'], {'waiting', 'running'})
        wait_for(lambda: job()['state'] != 'running'
            and job()['state'] in {'done', 'failed'}, 120,
            "the queued import did not end")
        self.assertEqual(
            {k: job()[k] for k in ['state', 'total', 'created', 'rejected']},
            {'state': 'done', 'total': ROWS, 'created': ROWS, 'rejected': 0})
        phases['import'] = time.monotonic() - started - sum(phases.values())

        # an agent takes a ticket from the queue and answers the customer
        agent = self.desk('support', 'support-demo')
        ticket_id = agent('model.autolead.ticket.search',
            [('state', '=', 'new')], 0, 1, None, {})[0]
        agent('model.autolead.ticket.accept', [ticket_id], {})
        ticket, = agent('model.autolead.ticket.read', [ticket_id],
            ['number'], {})
        answer = f"We have fixed it ({stamp})."
        agent('model.autolead.ticket.message.create', [{
                    'ticket': ticket_id, 'body': answer}], {})
        wait_for(lambda: self.mail_with(f"[{ticket['number']}]", answer),
            90, "the agent's reply did not reach the Maildir")
        phases['reply'] = time.monotonic() - started - sum(phases.values())

        # Ctrl-C stops the launcher and every process it started
        self.assertTrue(processes_using(self.home))
        self.launcher.send_signal(signal.SIGINT)
        self.assertEqual(self.launcher.wait(30), 0)
        wait_for(lambda: not processes_using(self.home), 15,
            f"processes left running: {processes_using(self.home)}")
        phases['stop'] = time.monotonic() - started - sum(phases.values())

        # started again, the unchanged module is not updated; a service that
        # dies is named with its log and the launcher stops the others
        with socket.socket() as taken:
            taken.bind(('127.0.0.1', 0))
            taken.listen()
            env = dict(self.env,
                AUTOLEAD_DEMO_SMTP_PORT=str(taken.getsockname()[1]))
            self.launcher = subprocess.Popen(self.argv, env=env,
                stdout=open(self.output, 'w'), stderr=subprocess.STDOUT)
            self.assertEqual(self.launcher.wait(240), 1, self.read_output())
        output = self.read_output()
        self.assertIn('the autolead module is up to date', output)
        self.assertIn(
            f"smtp stopped (exit 1), see {self.home / 'log' / 'smtp.log'}",
            output)
        wait_for(lambda: not processes_using(self.home), 15,
            f"processes left running: {processes_using(self.home)}")
        phases['restart'] = time.monotonic() - started - sum(phases.values())
        # about a minute on SQLite, two on PostgreSQL, on a quiet machine
        sys.stderr.write(' '.join(f'{k} {v:.0f} s,' for k, v in phases.items())
            + ' ')
