"""The queue with a real worker process on a real database

On SQLite the worker is scripts/sqlite_worker.py, as the launcher runs it; on
PostgreSQL it is trytond-worker. The tasks are the module's own (a queued
import, a queued write), the failures real ones and the kill a SIGKILL of
the worker's process group.
"""
import datetime
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path
from types import SimpleNamespace

from trytond.config import config
from trytond.pool import Pool
from trytond.tests.test_tryton import drop_db, with_transaction
from trytond.transaction import Transaction, check_access

from .database import DatabaseTestCase

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


class WorkerDatabase:
    "A database with Auto Lead activated and a queue worker to start"

    def __init__(self, **settings):
        self.directory = Path(tempfile.mkdtemp(prefix='autolead-queue-'))
        self.name = f'queue_{os.getpid()}_{int(time.time())}'
        self.uri = os.environ.get('TRYTOND_DATABASE_URI', 'sqlite://')
        self.config = self.directory / 'trytond.conf'
        self.settings = settings
        self.process = None
        self.log = self.directory / 'worker.log'

    @property
    def sqlite(self):
        return self.uri.startswith('sqlite')

    def _env(self):
        env = dict(os.environ, TRYTOND_CONFIG=str(self.config),
            TRYTONPASSFILE=str(self.directory / 'password'))
        for name in ['DB_NAME', 'DB_CACHE', 'TRYTOND_DATABASE_URI']:
            env.pop(name, None)
        return env

    def _run(self, *args):
        # an empty line answers trytond-admin's question for an email
        process = subprocess.run([str(a) for a in args], env=self._env(),
            text=True, input='\n',
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if process.returncode:
            raise RuntimeError(f"{args} failed:\n{process.stdout}")

    def create(self):
        settings = ''.join(
            f'{k} = {v}\n' for k, v in self.settings.items())
        self.config.write_text(f"""\
[database]
uri = {self.uri}
path = {self.directory}
list = False
[queue]
worker = True
[autolead]
check_email_deliverability = False
{settings}""")
        (self.directory / 'password').write_text('admin\n')
        self._run(sys.executable, REPO / 'scripts' / 'demo_data.py',
            'create', '-c', self.config, '-d', self.name)
        self._run(BIN / 'trytond-admin', '-c', self.config, '-d', self.name,
            '-u', 'autolead', '--activate-dependencies')
        if self.sqlite:
            # this process opens the same file
            self._path = config.get('database', 'path')
            config.set('database', 'path', str(self.directory))
        with Transaction().start(self.name, 0, readonly=True):
            Pool(self.name).init()
        return self

    def start_worker(self):
        if self.sqlite:
            argv = [sys.executable, REPO / 'scripts' / 'sqlite_worker.py',
                '-c', self.config, '-d', self.name, '--poll', '0.2']
        else:
            argv = [BIN / 'trytond-worker', '-c', self.config,
                '-d', self.name, '-n', '1', '-t', '1']
        self.process = subprocess.Popen([str(a) for a in argv],
            env=self._env(), stdout=open(self.log, 'a'),
            stderr=subprocess.STDOUT, start_new_session=True)

    def kill_worker(self, signum=signal.SIGKILL):
        os.killpg(self.process.pid, signum)
        self.process.wait(10)
        self.process = None

    def worker_log(self):
        return self.log.read_text()

    def drop(self):
        if self.process:
            self.kill_worker()
        Pool.stop(self.name)
        if self.sqlite:
            config.set('database', 'path', self._path)
        else:
            drop_db(self.name)
        shutil.rmtree(self.directory, ignore_errors=True)


def wait_for(test, timeout, message, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := test():
            return result
        time.sleep(0.2)
    if log and log.exists():
        message += '\n' + log.read_text()[-3000:]
    raise AssertionError(message)


class QueueTestCase(unittest.TestCase):
    "Queued tasks run, fail visibly, and survive a killed worker"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.database = WorkerDatabase(
            queue_retries=3, queue_retry_delay=0.5, queue_stalled_after=3,
            import_chunk=100).create()
        cls.addClassCleanup(cls.database.drop)

    def tearDown(self):
        if self.database.process:
            self.database.kill_worker()

    def transaction(self, user=0, readonly=False):
        return Transaction().start(
            self.database.name, user, readonly=readonly)

    def admin(self):
        with self.transaction(readonly=True):
            User = Pool().get('res.user')
            admin, = User.search([('login', '=', 'admin')])
            return admin.id

    def import_job(self, rows, duplicates='flag'):
        "Queue the import of a file as the desk does for long files"
        lines = ['name,email,source'] + [
            f'Lead {self.id()[-8:]} {i},{os.getpid()}.{i}.{time.time_ns()}'
            f'@example.com,website' for i in range(rows)]
        with self.transaction(self.admin()) as transaction:
            ImportJob = Pool().get('autolead.lead.import.job')
            job, = ImportJob.create([{
                        'file_name': 'leads.csv',
                        'file_data': '\n'.join(lines).encode(),
                        'duplicates': duplicates,
                        }])
            with transaction.set_context(autolead_import_commit=True):
                task_id, = ImportJob.__queue__.process([job])
            return job.id, task_id, lines[1:]

    def read(self, model, id_, names):
        with self.transaction(readonly=True):
            values, = Pool().get(model).read([id_], names)
            return SimpleNamespace(**values)

    def task(self, task_id):
        return self.read('ir.queue', task_id, ['state', 'attempts',
                'error', 'failed_at', 'finished_at'])

    def job(self, job_id):
        return self.read('autolead.lead.import.job', job_id,
            ['state', 'created', 'total', 'processed'])

    def leads_with_emails(self, emails):
        with self.transaction(readonly=True):
            Lead = Pool().get('autolead.lead')
            return Lead.search_count([('email', 'in', emails)])

    def test_worker_runs_queued_tasks(self):
        "The worker runs every queued task to its end"
        job_id, task_id, rows = self.import_job(50)
        with self.transaction(self.admin()):
            Lead = Pool().get('autolead.lead')
            lead, = Lead.create([{'name': "Queued", 'source': 'website'}])
            write_id, = Lead.__queue__.write(
                [lead], {'medium': "written by the worker"})
        self.database.start_worker()

        wait_for(lambda: self.task(write_id).state == 'done'
            and self.task(task_id).state == 'done', 60,
            "the queued tasks did not run", self.database.log)
        job = self.job(job_id)
        self.assertEqual((job.state, job.created, job.total),
            ('done', 50, 50))
        self.assertEqual(self.leads_with_emails(
                [r.split(',')[1] for r in rows]), 50)
        self.assertEqual(
            self.read('autolead.lead', lead.id, ['medium']).medium,
            "written by the worker")
        self.assertEqual(self.task(task_id).attempts, 0)

    def test_failing_task_is_retried_then_failed(self):
        "A failing task is retried with back-off, then kept as failed"
        with self.transaction(self.admin()):
            pool = Pool()
            Lead = pool.get('autolead.lead')
            Queue = pool.get('ir.queue')
            lead, = Lead.create([{'name': "Bad", 'source': 'website'}])
            invalid_id, = Lead.__queue__.write([lead], {'email': 'not-mail'})
            missing_id = Queue.push('default', {
                    'model': 'autolead.lead', 'method': 'no_such_method',
                    'user': 0, 'context': {}, 'instances': [lead.id],
                    'args': [], 'kwargs': {}})
        started = time.monotonic()
        self.database.start_worker()

        wait_for(lambda: self.task(invalid_id).state == 'failed'
            and self.task(missing_id).state == 'failed', 60,
            "the failing tasks were not given up")
        # back-off: 0.5 s then 1 s between the three attempts
        self.assertGreater(time.monotonic() - started, 1.5)
        invalid, missing = self.task(invalid_id), self.task(missing_id)
        self.assertEqual((invalid.attempts, missing.attempts), (3, 3))
        self.assertIn('not-mail', invalid.error)
        self.assertNotIn('Traceback', invalid.error)
        self.assertIn('no_such_method', missing.error)
        self.assertIsNotNone(invalid.failed_at)
        self.assertIsNone(invalid.finished_at)
        self.assertIsNone(
            self.read('autolead.lead', lead.id, ['email']).email)
        log = self.database.worker_log()
        self.assertEqual(log.count(f'task {invalid_id} '), 3, log)
        self.assertIn('given up', log)

        # the administrator sees it and runs it again; the worker takes it
        with self.transaction(self.admin()) as transaction, check_access():
            Queue = Pool().get('ir.queue')
            failed = Queue.search([('state', '=', 'failed')])
            self.assertEqual({t.id for t in failed}, {invalid_id, missing_id})
            Queue.rerun(Queue.browse([invalid_id]))
        wait_for(lambda: self.task(invalid_id).attempts == 1, 30,
            "the task run again did not run")
        wait_for(lambda: self.task(invalid_id).state == 'failed', 30,
            "the task run again was not given up again")

    def test_role_without_access_refused(self):
        "A sales representative neither reads the queue nor runs a task again"
        from trytond.model.exceptions import AccessError
        with self.transaction() as transaction:
            pool = Pool()
            User = pool.get('res.user')
            ModelData = pool.get('ir.model.data')
            Queue = pool.get('ir.queue')
            rep, = User.create([{'login': 'queue_rep', 'name': "Rep",
                        'groups': [('add', [ModelData.get_id(
                                        'autolead', 'group_sales_rep')])]}])
            task_id = Queue.push('default', {'model': 'autolead.lead',
                    'method': 'write', 'user': 0, 'context': {},
                    'instances': [], 'args': [{}], 'kwargs': {}})
            transaction.commit()
            with transaction.set_user(rep.id), check_access():
                with self.assertRaises(AccessError):
                    Queue.search([])
                with self.assertRaises(AccessError):
                    Queue.rerun(Queue.browse([task_id]))

    def test_killed_worker_loses_nothing(self):
        "A task whose worker is killed runs again after the restart"
        # enough rows for the import to be still running when it is killed
        ROWS = 20000
        job_id, task_id, rows = self.import_job(ROWS, duplicates='skip')
        self.database.start_worker()
        wait_for(lambda: (self.job(job_id).processed or 0) > 0, 60,
            "the import did not start")
        self.database.kill_worker()
        # stopped half-way (the import commits its batches as it goes)
        self.assertIn(self.job(job_id).state, {'running', 'interrupted'})
        self.assertEqual(self.task(task_id).state, 'running')
        self.assertLess(self.leads_with_emails(
                [r.split(',')[1] for r in rows]), ROWS)

        self.database.start_worker()
        wait_for(lambda: self.task(task_id).state == "done", 300,
            "the interrupted task did not run again")
        task = self.task(task_id)
        self.assertEqual(task.attempts, 1)
        self.assertIn('stopped', task.error)
        self.assertEqual(self.job(job_id).state, 'done')
        self.assertEqual(self.leads_with_emails(
                [r.split(',')[1] for r in rows]), ROWS)
        self.assertIn(f'task {task_id} was interrupted',
            self.database.worker_log())


class QueueCleanTestCase(DatabaseTestCase):
    "Tryton's clean-up of the queue"

    @with_transaction()
    def test_clean_keeps_failed_tasks(self):
        "The daily clean-up deletes old finished tasks, never failed ones"
        Queue = Pool().get('ir.queue')
        long_ago = datetime.datetime.now() - datetime.timedelta(days=90)
        data = {'model': 'autolead.lead', 'method': 'write', 'user': 0,
            'context': {}, 'instances': [], 'args': [{}], 'kwargs': {}}
        finished, failed = Queue.create([{
                    'name': 'default', 'data': data,
                    'enqueued_at': long_ago, 'dequeued_at': long_ago,
                    'finished_at': long_ago,
                    }, {
                    'name': 'default', 'data': data,
                    'enqueued_at': long_ago, 'dequeued_at': long_ago,
                    'failed_at': long_ago, 'attempts': 5, 'error': "Boom",
                    }])

        Queue.clean()

        self.assertEqual(Queue.search([]), [failed])
        self.assertEqual(failed.state, 'failed')
