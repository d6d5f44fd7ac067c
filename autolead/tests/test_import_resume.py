"""An import killed with SIGKILL is found out, shown interrupted with how far
it got, and resumed from its last committed batch without duplicates.

The import runs in a real process (scripts/import_leads.py) on a database of
its own, on the backend of the test run, and is killed with SIGKILL once some
batches are committed."""
import csv
import io
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
from pathlib import Path

from trytond.tests.test_tryton import drop_db

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / 'scripts' / 'import_leads.py'


def lead_file(rows, domain, mobile):
    """CSV bytes of `rows` leads and what importing them in flag mode gives:
    (data, number of new leads, the emails repeated by a later row,
    number of rejected rows)"""
    output = io.StringIO()
    writer = csv.writer(output)
    writer.writerow(['Full Name', 'E-mail', 'Mobile', 'Lead Source'])
    new, repeats, rejected = 0, [], 0
    for i in range(rows):
        if i % 97 == 50:
            writer.writerow([f'Bad {i}', f'broken{i}@', '', 'website'])
            rejected += 1
        elif i % 20 == 19 and (i - 10) % 97 != 50:
            # the contact of a good row ten lines up
            writer.writerow([f'Again {i}', f'p{i - 10}@{domain}', '',
                    'google'])
            repeats.append(f'p{i - 10}@{domain}')
        else:
            writer.writerow([f'Person {i}', f'p{i}@{domain}',
                    f'+91 {mobile}{i:09d}', 'website'])
            new += 1
    return output.getvalue().encode(), new, repeats, rejected


class ImportKillTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.directory = Path(tempfile.mkdtemp(prefix='autolead-resume-'))
        cls.addClassCleanup(shutil.rmtree, cls.directory, True)
        cls.uri = os.environ.get('TRYTOND_DATABASE_URI', 'sqlite://')
        cls.database = f'resume_{os.getpid()}_{int(time.time())}'
        cls.configs = {}
        for mode, parallel_above in [('parallel', 0), ('single', -1)]:
            config = cls.directory / f'{mode}.conf'
            # small batches, each committed: many heartbeats to kill between
            config.write_text(f"""\
[database]
uri = {cls.uri}
path = {cls.directory}
list = False
[autolead]
check_email_deliverability = False
import_chunk = 400
import_commit_every = 0
import_parallel_above = {parallel_above}
""")
            cls.configs[mode] = config
        config = cls.configs['single']
        bin_ = Path(sys.executable).parent
        cls.run_checked(sys.executable, REPO / 'scripts' / 'demo_data.py',
            'create', '-c', config, '-d', cls.database)
        if cls.uri.startswith('postgresql'):
            cls.addClassCleanup(drop_db, cls.database)
        cls.run_checked(bin_ / 'trytond-admin', '-c', config,
            '-d', cls.database, '-u', 'autolead', '--activate-dependencies',
            input='\n')

    @classmethod
    def env(cls):
        env = dict(os.environ,
            TRYTONPASSFILE=str(cls.directory / 'password'))
        for name in ['DB_NAME', 'DB_CACHE', 'TRYTOND_DATABASE_URI',
                'TRYTOND_CONFIG']:
            env.pop(name, None)
        (cls.directory / 'password').write_text('admin-resume\n')
        return env

    @classmethod
    def run_checked(cls, *args, **kwargs):
        process = subprocess.run([str(a) for a in args], env=cls.env(),
            text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            **kwargs)
        if process.returncode:
            raise RuntimeError(f"{args} failed:\n{process.stdout}")
        return process

    def cli(self, mode, *args):
        return subprocess.run(
            [sys.executable, str(SCRIPT), '-c', str(self.configs[mode]),
                '-d', self.database, *map(str, args)],
            env=self.env(), text=True, capture_output=True, timeout=600,
            cwd=self.directory)

    def query(self, sql, *params):
        if self.uri.startswith('postgresql'):
            import psycopg
            parts = urllib.parse.urlsplit(self.uri)
            with psycopg.connect(
                    host=parts.hostname, port=parts.port or 5432,
                    user=parts.username, password=parts.password,
                    dbname=self.database, autocommit=True) as connection:
                return connection.execute(
                    sql.replace('?', '%s'), params).fetchall()
        connection = sqlite3.connect(
            self.directory / f'{self.database}.sqlite', timeout=30)
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            connection.close()

    def job(self, file_name):
        rows = self.query(
            'SELECT id, state, processed, total, created, flagged, rejected,'
            ' message FROM autolead_lead_import_job WHERE file_name = ?',
            file_name)
        return rows[0] if rows else None

    def kill_resume(self, mode, mobile):
        domain = f'{mode}.example.com'
        rows = 20000
        data, new, repeats, rejected = lead_file(rows, domain, mobile)
        path = self.directory / f'{mode}-leads.csv'
        path.write_bytes(data)
        process = subprocess.Popen(
            [sys.executable, str(SCRIPT), '-c', str(self.configs[mode]),
                '-d', self.database, str(path)],
            env=self.env(), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                job = self.job(path.name)
                if job and job[1] == 'running' and (job[2] or 0) >= 2000:
                    break
                self.assertIsNone(process.poll(), "the import ended first")
                time.sleep(0.02)
            else:
                self.fail("no batch was committed in time")
            process.send_signal(signal.SIGKILL)
            process.wait()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

        job_id, state, processed, total, created = self.job(path.name)[:5]
        self.assertEqual(state, 'running')
        self.assertEqual(total, rows)
        self.assertTrue(2000 <= processed < rows, processed)
        committed, = self.query(
            'SELECT count(*) FROM autolead_lead WHERE email LIKE ?',
            f'%@{domain}')[0]
        self.assertEqual(committed, created)

        # found out: its process is gone
        check = self.cli(mode, '--check')
        self.assertEqual(check.returncode, 0, check.stderr)
        self.assertIn(f'job {job_id} {path.name}: interrupted after '
            f'{processed} of {rows} rows', check.stdout)
        job = self.job(path.name)
        self.assertEqual(job[1:4], ('interrupted', processed, rows))
        self.assertIn(f'after {processed} of {rows} rows', job[7])

        resume = self.cli(mode, '--resume', job_id)
        self.assertEqual(resume.returncode, 1, resume.stderr)  # rejections
        self.assertNotIn('Traceback', resume.stderr)
        job = self.job(path.name)
        self.assertEqual(job[1:7], ('done', rows, rows, new + len(repeats),
                len(repeats), rejected))

        leads = self.query(
            'SELECT email, duplicate_of FROM autolead_lead '
            'WHERE email LIKE ?', f'%@{domain}')
        self.assertEqual(len(leads), new + len(repeats))
        originals = [e for e, d in leads if d is None]
        self.assertEqual(len(originals), new)
        self.assertEqual(len(set(originals)), new)
        flagged = [e for e, d in leads if d is not None]
        self.assertEqual(sorted(flagged), sorted(repeats))
        report = (self.directory / f'rejected-{mode}-leads.csv').read_text()
        self.assertEqual(len(report.splitlines()), rejected + 1)

    def test_kill_and_resume_parallel(self):
        "Killed while a second process reads the file"
        self.kill_resume('parallel', 9)

    def test_kill_and_resume_single(self):
        "Killed while reading and storing in one process"
        self.kill_resume('single', 8)

    def test_unreadable_file(self):
        "The command line says what is wrong with a file, no traceback"
        path = self.directory / 'leads.csv'
        path.write_bytes(b'PK\x03\x04' + bytes(300))
        result = self.cli('single', path)
        self.assertEqual(result.returncode, 2)
        self.assertNotIn('Traceback', result.stderr)
        self.assertIn('The Excel file is damaged', result.stderr)
        result = self.cli('single', self.directory / 'missing.csv')
        self.assertEqual(result.returncode, 2)
        self.assertEqual(result.stderr.strip(),
            f"{self.directory / 'missing.csv'}: cannot read the file "
            "(No such file or directory)")
