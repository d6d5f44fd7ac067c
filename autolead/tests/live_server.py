"""A real trytond serving the sao desk, for the browser tests.

It creates its own database on the backend of the test run (SQLite file or
PostgreSQL), activates Auto Lead with trytond-admin, loads a small demo and
starts `trytond` on a free port of the loopback interface.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BROWSER = '/usr/bin/chromium'
BROWSER_ARGS = [
    '--no-sandbox', '--disable-background-networking', '--disable-gpu',
    '--disable-component-update', '--disable-sync', '--no-first-run',
    '--disable-quic']
ARTIFACTS = Path(os.environ.get(
        'AUTOLEAD_TEST_ARTIFACTS', REPO / 'test-artifacts'))


def browser_missing():
    "Return why the browser tests cannot run, or None"
    if reason := os.environ.get('AUTOLEAD_NO_BROWSER'):
        return reason
    if not os.path.exists(BROWSER):
        return f"{BROWSER} is not installed (apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright)"
    if not (REPO / 'scripts' / 'demo_data.py').exists():
        return "the scripts folder is not beside the module"
    if not Path(sao_root(), 'index.html').exists():
        return "the sao desk is not installed (run ./autolead.sh test)"
    return None


def sao_root():
    return os.environ.get(
        'AUTOLEAD_SAO_ROOT', str(REPO / '.autolead' / 'sao'))


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class LiveServer:
    def __init__(self, leads=40):
        self.leads = leads
        self.directory = Path(tempfile.mkdtemp(prefix='autolead-live-'))
        self.database = f'live_{os.getpid()}_{int(time.time())}'
        self.port = _free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        self.uri = os.environ.get('TRYTOND_DATABASE_URI', 'sqlite://')
        self.config = self.directory / 'trytond.conf'
        self.process = None

    def _env(self):
        env = dict(os.environ, TRYTOND_CONFIG=str(self.config),
            TRYTONPASSFILE=str(self.directory / 'password'))
        for name in ['DB_NAME', 'DB_CACHE', 'TRYTOND_DATABASE_URI']:
            env.pop(name, None)
        return env

    def _run(self, *args, **kwargs):
        process = subprocess.run(
            [str(a) for a in args], env=self._env(), text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kwargs)
        if process.returncode:
            raise RuntimeError(
                f"{' '.join(map(str, args))} failed:\n{process.stdout}")

    def start(self):
        self.config.write_text(f"""\
[database]
uri = {self.uri}
path = {self.directory}
list = False
[web]
listen = 127.0.0.1:{self.port}
root = {sao_root()}
[autolead]
check_email_deliverability = False
""")
        bin_ = Path(sys.executable).parent
        demo = REPO / 'scripts' / 'demo_data.py'
        passfile = self.directory / 'password'
        passfile.write_text('admin-demo\n')
        self._run(sys.executable, demo, 'create', '-c', self.config,
            '-d', self.database)
        self._run(bin_ / 'trytond-admin', '-c', self.config,
            '-d', self.database, '-u', 'autolead', '--activate-dependencies',
            input='\n')
        self._run(sys.executable, demo, 'load', '-c', self.config,
            '-d', self.database, '--leads', str(self.leads))
        self.log = open(self.directory / 'trytond.log', 'w')
        self.process = subprocess.Popen(
            [str(bin_ / 'trytond'), '-c', str(self.config),
                '-d', self.database],
            env=self._env(), stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + '/', timeout=1)
                return self
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(
            f"trytond did not start, see {self.directory / 'trytond.log'}")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        if self.uri.startswith('postgresql'):
            from trytond.tests.test_tryton import drop_db
            drop_db(self.database)
        shutil.rmtree(self.directory, ignore_errors=True)


class BrowserTestCase(unittest.TestCase):
    "Start a live server and a headless Chromium once per test class"
    leads = 40

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if reason := browser_missing():
            raise unittest.SkipTest(reason)
        from playwright.sync_api import sync_playwright
        cls.server = LiveServer(leads=cls.leads).start()
        cls.addClassCleanup(cls.server.stop)
        cls.playwright = sync_playwright().start()
        cls.addClassCleanup(cls.playwright.stop)
        cls.browser = cls.playwright.chromium.launch(
            executable_path=BROWSER, args=BROWSER_ARGS)
        cls.addClassCleanup(cls.browser.close)

    def new_page(self, width=1280, height=800):
        context = self.browser.new_context(
            viewport={'width': width, 'height': height})
        self.addCleanup(context.close)
        page = context.new_page()
        page.set_default_timeout(20_000)
        return page

    def screenshot(self, page, name):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f'{name}.png'))
