"""Install what is missing, then run Auto Lead or its tests.

Runs on the system Python (standard library only): it creates the virtual
environment, installs the module and the sao desk, and hands over to the
programs installed there.
"""
import argparse
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# the data: configuration, database, logs, mail
HOME = Path(os.environ.get('AUTOLEAD_HOME', REPO / '.autolead'))
# the software: venv, sao and htmx, shared by several homes when set apart
INSTALL = Path(os.environ.get('AUTOLEAD_INSTALL', HOME))
VENV = INSTALL / 'venv'
SAO = INSTALL / 'sao'
SAO_VERSION = '8.0.11'
HTMX = INSTALL / 'htmx'
HTMX_VERSION = '2.0.11'
DATABASE = os.environ.get('AUTOLEAD_DATABASE_NAME', 'autolead')
BROWSER = '/usr/bin/chromium'
# seconds for trytond to answer once started
START_TIMEOUT = int(os.environ.get('AUTOLEAD_START_TIMEOUT', '180'))


def say(message):
    print(f'[autolead] {message}', flush=True)


def run(*args, **kwargs):
    kwargs.setdefault('check', True)
    return subprocess.run([str(a) for a in args], **kwargs)


def pip(*args):
    "Run pip in the venv, keeping only the lines that say something"
    process = subprocess.run(
        [str(venv_python()), '-m', 'pip', *args, '-q',
            '--disable-pip-version-check'],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    noise = ('WARNING: Location', 'BuildBackendWarning', 'Editable')
    for line in process.stdout.splitlines():
        if line.startswith('ERROR') or (
                process.returncode and not line.startswith(noise)):
            print(line, file=sys.stderr)
    if process.returncode:
        sys.exit(f"pip {' '.join(args)} failed")


def can_apt():
    return shutil.which('apt-get') and (
        os.geteuid() == 0 or shutil.which('sudo'))


def apt_install(*packages):
    "Install Debian packages, returning False when that is not possible"
    if not can_apt():
        return False
    sudo = [] if os.geteuid() == 0 else ['sudo', '-n']
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    say(f"installing Debian packages: {' '.join(packages)}")
    marker = INSTALL / '.apt-updated'
    if not marker.exists():
        if run(*sudo, 'apt-get', 'update', '-qq', env=env,
                check=False).returncode:
            return False
        INSTALL.mkdir(parents=True, exist_ok=True)
        marker.touch()
    return not run(
        *sudo, 'apt-get', 'install', '-y', '-qq', *packages,
        env=env, check=False, stdout=subprocess.DEVNULL).returncode


def venv_python():
    return VENV / 'bin' / 'python'


def ensure_venv(extras=('postgresql', 'test')):
    "Create the virtual environment and install the module with extras"
    pyproject = (REPO / 'pyproject.toml').read_bytes()
    wanted = hashlib.sha256(
        pyproject + ','.join(sorted(extras)).encode()).hexdigest()
    marker = VENV / '.autolead-installed'
    if marker.exists() and marker.read_text() == wanted:
        return
    if not venv_python().exists():
        say(f"creating the virtual environment in {VENV}")
        INSTALL.mkdir(parents=True, exist_ok=True)
        if run(sys.executable, '-m', 'venv', VENV, check=False).returncode:
            shutil.rmtree(VENV, ignore_errors=True)
            version = f'{sys.version_info.major}.{sys.version_info.minor}'
            if not apt_install(f'python{version}-venv'):
                sys.exit("python3 -m venv failed: install python3-venv")
            run(sys.executable, '-m', 'venv', VENV)
    say("installing trytond-autolead and its dependencies")
    target = '.[%s]' % ','.join(sorted(extras)) if extras else '.'
    pip('install', '-e', target)
    marker.write_text(wanted)


def ensure_node():
    if shutil.which('npm'):
        return
    if not apt_install('nodejs', 'npm'):
        sys.exit("npm is missing: install Node.js 20 and npm")


def ensure_sao():
    "Install the sao desk from npm into its own folder"
    package = SAO / 'package.json'
    if package.exists() and (SAO / 'node_modules' / 'jquery').exists() \
            and f'"version": "{SAO_VERSION}"' in package.read_text():
        return
    ensure_node()
    say(f"installing the sao desk {SAO_VERSION} from npm")
    download = INSTALL / 'npm-pack'
    shutil.rmtree(download, ignore_errors=True)
    download.mkdir(parents=True)
    run('npm', 'pack', '--silent', f'tryton-sao@{SAO_VERSION}',
        cwd=download, stdout=subprocess.DEVNULL)
    tarball, = download.glob('tryton-sao-*.tgz')
    run('tar', 'xzf', tarball, '-C', download)
    shutil.rmtree(SAO, ignore_errors=True)
    shutil.move(download / 'package', SAO)
    shutil.rmtree(download)
    run('npm', 'install', '--silent', '--omit=dev', '--legacy-peer-deps',
        '--no-audit', '--no-fund', '--no-package-lock', cwd=SAO)


def htmx_script():
    return HTMX / 'node_modules' / 'htmx.org' / 'dist' / 'htmx.min.js'


def ensure_htmx():
    "Install htmx from npm into its own folder for the customer portal"
    package = HTMX / 'node_modules' / 'htmx.org' / 'package.json'
    if htmx_script().exists() \
            and f'"version": "{HTMX_VERSION}"' in package.read_text():
        return
    ensure_node()
    say(f"installing htmx {HTMX_VERSION} from npm for the portal")
    HTMX.mkdir(parents=True, exist_ok=True)
    run('npm', 'install', '--silent', '--no-audit', '--no-fund',
        '--no-package-lock', '--prefix', HTMX, f'htmx.org@{HTMX_VERSION}')


def ensure_pdf_libraries():
    "Pango for weasyprint, which turns the reports into PDF"
    libraries = subprocess.run(
        ['/sbin/ldconfig', '-p'], capture_output=True, text=True).stdout
    if 'libpango-1.0.so.0' in libraries and 'libpangoft2-1.0.so.0' in libraries:
        return True
    if apt_install('libpango-1.0-0', 'libpangoft2-1.0-0'):
        return True
    say("Pango could not be installed: PDF export of reports will fail")
    return False


def ensure_chromium():
    if Path(BROWSER).exists():
        return True
    if apt_install('chromium', 'chromium-driver'):
        return Path(BROWSER).exists()
    say("Chromium could not be installed: browser tests will be skipped")
    return False


def database_uri(args):
    uri = args.db or os.environ.get('TRYTOND_DATABASE__URI') \
        or os.environ.get('TRYTOND_DATABASE_URI') or 'sqlite://'
    return uri


def free_port(host='localhost'):
    "A port nobody listens on now, for a helper of this instance"
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def smtp_uri():
    "The outgoing mail server, or the demo's mail catcher on a free port"
    if os.environ.get('AUTOLEAD_SMTP'):
        return os.environ['AUTOLEAD_SMTP'], None
    port = int(os.environ.get('AUTOLEAD_DEMO_SMTP_PORT') or free_port())
    return f'smtp://localhost:{port}', port


def write_config(uri, listen, smtp):
    (HOME / 'db').mkdir(parents=True, exist_ok=True)
    (HOME / 'attachments').mkdir(parents=True, exist_ok=True)
    config = HOME / 'trytond.conf'
    config.write_text(f"""\
[database]
uri = {uri}
path = {HOME / 'db'}
# sao preselects the database of the address (#autolead) from this list
list = True

[web]
listen = {listen}
root = {SAO}
# the links of the emails sent from the desk open the customer portal
reset_password_url = http://{listen}/{DATABASE}/portal/reset/password
email_validation_url = http://{listen}/{DATABASE}/portal/validate

[queue]
worker = True

[autolead]
# the demo must work on a machine without DNS
check_email_deliverability = False
htmx = {htmx_script()}

[email]
uri = {smtp}
from = Auto Lead <no-reply@autolead.localhost>
""")
    return config


def trytond_bin(name):
    return VENV / 'bin' / name


def module_fingerprint(uri):
    "What the database's activation depends on: the module's files"
    digest = hashlib.sha256(f'{uri}\n{DATABASE}\n'.encode())
    marker = VENV / '.autolead-installed'
    if marker.exists():
        digest.update(marker.read_bytes())
    module = REPO / 'autolead'
    for path in sorted(module.rglob('*')):
        parts = path.relative_to(module).parts
        if (path.is_file() and 'tests' not in parts
                and '__pycache__' not in parts):
            digest.update(str(path.relative_to(module)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def setup_database(config, uri):
    env = dict(os.environ, TRYTOND_CONFIG=str(config))
    created = run(venv_python(), REPO / 'scripts' / 'demo_data.py', 'create',
        '-c', config, '-d', DATABASE, env=env,
        stdout=subprocess.PIPE, text=True).stdout
    print(created, end='', flush=True)
    # the module is updated only when its files changed since the last run
    activated = HOME / f'{DATABASE}.activated'
    fingerprint = module_fingerprint(uri)
    if (created or not activated.exists()
            or activated.read_text() != fingerprint):
        activated.unlink(missing_ok=True)
        activate(config, env)
        activated.write_text(fingerprint)
    else:
        say("the autolead module is up to date")
    run(venv_python(), REPO / 'scripts' / 'demo_data.py', 'load',
        '-c', config, '-d', DATABASE,
        '--leads', os.environ.get('AUTOLEAD_DEMO_LEADS', '300'), env=env)


def activate(config, env):
    passfile = HOME / 'admin-password'
    passfile.write_text('admin-demo\n')
    say("activating or updating the autolead module")
    # trytond-admin asks for the admin's email on a new database, and its
    # --email checks the domain in DNS, which a demo machine may not have:
    # the empty answer goes to its standard input, its questions to its log
    (HOME / 'log').mkdir(parents=True, exist_ok=True)
    log = HOME / 'log' / 'trytond-admin.log'
    with open(log, 'w') as output:
        admin = run(trytond_bin('trytond-admin'), '-c', config,
            '-d', DATABASE, '-u', 'autolead', '--activate-dependencies',
            env=dict(env, TRYTONPASSFILE=str(passfile)),
            input='\n', text=True, stdout=output, stderr=subprocess.STDOUT,
            check=False)
    if admin.returncode:
        sys.stderr.write(log.read_text()[-4000:])
        sys.exit(f"trytond-admin failed, see {log}")


def signal_group(process, signum):
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


def stop_services(processes):
    "Stop each service with its children (trytond-cron runs a pool)"
    for process in processes:
        signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for process in processes:
        try:
            process.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            pass
        signal_group(process, signal.SIGKILL)
        process.wait()


def dead_service(processes):
    for process in processes:
        if process.poll() is not None:
            return process
    return None


def answers(url):
    try:
        urllib.request.urlopen(url, timeout=2).close()
    except urllib.error.HTTPError:
        pass
    except OSError:
        return False
    return True


def listens(port):
    try:
        socket.create_connection(('localhost', port), timeout=1).close()
    except OSError:
        return False
    return True


def port_in_use(host, port):
    "Whether a server listens on the port (as trytond binds: reusing it)"
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, int(port)))
        except OSError:
            return True
    return False


def command_run(args):
    if port_in_use(args.host, args.port):
        sys.exit(f"[autolead] port {args.port} of {args.host} is in use "
            "(another Auto Lead?): choose another with --port, "
            "and another AUTOLEAD_HOME")
    ensure_venv()
    ensure_sao()
    ensure_htmx()
    ensure_pdf_libraries()
    uri = database_uri(args)
    smtp, smtp_port = smtp_uri()
    config = write_config(uri, f'{args.host}:{args.port}', smtp)
    setup_database(config, uri)
    (HOME / 'log').mkdir(exist_ok=True)
    if uri.startswith('sqlite'):
        worker = [venv_python(), REPO / 'scripts' / 'sqlite_worker.py']
    else:
        worker = [trytond_bin('trytond-worker')]
    services = []
    if smtp_port:
        services.append(('smtp', [venv_python(), '-m', 'aiosmtpd', '-n',
                    '-l', f'localhost:{smtp_port}',
                    '-c', 'aiosmtpd.handlers.Mailbox', HOME / 'mail']))
    services += [
        ('trytond', [trytond_bin('trytond'), '-c', config, '-d', DATABASE]),
        ('trytond-cron',
            [trytond_bin('trytond-cron'), '-c', config, '-d', DATABASE]),
        ('worker', [*worker, '-c', config, '-d', DATABASE]),
        ]
    processes, names = [], {}

    def stop(*_):
        stop_services(processes)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, stop)

    def failed(process):
        name = names[process.pid]
        say(f"{name} stopped (exit {process.returncode}), "
            f"see {HOME / 'log' / f'{name}.log'}")
        stop_services(processes)
        sys.exit(1)

    for name, argv in services:
        log = open(HOME / 'log' / f'{name}.log', 'a')
        # each in its own process group, stopped with its children
        processes.append(subprocess.Popen(
                [str(a) for a in argv],
                stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True))
        names[processes[-1].pid] = name
    base = f'http://{args.host}:{args.port}'
    say("starting trytond, trytond-cron, the queue worker"
        + (" and the mail catcher" if smtp_port else ""))
    deadline = time.monotonic() + START_TIMEOUT
    while not (answers(base + '/')
            and (not smtp_port or listens(smtp_port))):
        if process := dead_service(processes):
            failed(process)
        if time.monotonic() > deadline:
            say(f"trytond does not answer on {base} after {START_TIMEOUT} s"
                f", see {HOME / 'log' / 'trytond.log'}")
            stop_services(processes)
            sys.exit(1)
        time.sleep(0.5)
    say("Auto Lead is running (Ctrl-C stops it)")
    print(f"""
  Desk (sao):  {base}/#{DATABASE}
  Portal:      {base}/{DATABASE}/portal/
  Database:    {DATABASE} on {uri.split('@')[-1]}
  Logs:        {HOME / 'log'}
  Mail sent:   {HOME / 'mail' if smtp_port else smtp}

  Demo logins (login / password):
    admin / admin-demo        Auto Lead Administrator
    head / head-demo          Sales Head
    ravi / ravi-demo          Sales Representative
    meera / meera-demo        Sales Representative
    arjun / arjun-demo        Sales Representative
    support / support-demo    Customer Support
    rohit / rohit-demo        Customer Support
    supportlead / supportlead-demo  Support Lead
  Customer web users (email / password), on the portal:
    priya@customer.example / customer-demo
    rahul@customer.example / customer-demo
""", flush=True)
    while True:
        if process := dead_service(processes):
            failed(process)
        time.sleep(1)


def command_test(args):
    ensure_venv()
    ensure_sao()
    ensure_htmx()
    ensure_pdf_libraries()
    env = dict(os.environ)
    if not ensure_chromium():
        env['AUTOLEAD_NO_BROWSER'] = 'Chromium could not be installed'
    uri = database_uri(args)
    env['TRYTOND_DATABASE_URI'] = uri
    env.pop('TRYTOND_DATABASE__URI', None)
    env['AUTOLEAD_SAO_ROOT'] = str(SAO)
    env['AUTOLEAD_HTMX'] = str(htmx_script())
    say(f"running the test suite on {uri.split('@')[-1]}")
    result = run(venv_python(), REPO / 'scripts' / 'run_tests.py',
        *args.tests, env=env, check=False)
    sys.exit(result.returncode)


def main():
    parser = argparse.ArgumentParser(prog='autolead.sh')
    commands = parser.add_subparsers(dest='command', required=True)
    run_parser = commands.add_parser(
        'run', help="run Auto Lead with demo data")
    run_parser.add_argument(
        '--db', help="database URI, e.g. postgresql://user@host:5432/ "
        "(default: SQLite in .autolead/db)")
    run_parser.add_argument('--host', default='localhost')
    run_parser.add_argument('--port', default='8000')
    test_parser = commands.add_parser('test', help="run the test suite")
    test_parser.add_argument(
        '--db', help="database URI (default: SQLite, or "
        "TRYTOND_DATABASE_URI)")
    test_parser.add_argument(
        'tests', nargs='*', help="test module names, e.g. test_module")
    args = parser.parse_args()
    {'run': command_run, 'test': command_test}[args.command](args)


if __name__ == '__main__':
    main()
