"""Run the Auto Lead test suite with unittest on the configured backend.

    python scripts/run_tests.py [test_module ...]

AUTOLEAD_TEST_PATTERN (a shell pattern such as '*internal_messaging*')
narrows the run to the tests and scenarios whose name matches.

The database comes from TRYTOND_DATABASE_URI (SQLite in memory when unset).
Activated databases are cached for the run only, so a changed module is
never tested against a stale copy. Ends with a line
`tests: N passed, N failed, N skipped` and exits non-zero on any failure.
"""
import os
import sys
import tempfile
import time
import unittest
import warnings
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / 'autolead' / 'tests'
PACKAGE = 'trytond.modules.autolead.tests'


_TEMPLATES = set()


def _pg_cache_per_run():
    """Name the template databases of DB_CACHE=postgresql:// after this run

    trytond names them after the modules only, so two runs at once on the
    same server (worktrees, CI beside a developer) would restore each other's
    template, built from other code, or drop it while the other restores."""
    from trytond.tests import test_tryton

    cache_file = test_tryton._db_cache_file
    run = os.environ['DB_NAME']

    def _db_cache_file(path, name):
        template = cache_file(path, f'{run}:{name}')
        _TEMPLATES.add(template[len('postgresql://') + 1:])
        return template
    test_tryton._db_cache_file = _db_cache_file


def _pg_drop_cache_templates():
    "Drop the template databases of this run"
    from trytond.transaction import Transaction

    with Transaction().start(
            None, 0, close=True, autocommit=True) as transaction:
        database = transaction.database
        for name in database.list():
            if name in _TEMPLATES:
                database.drop(transaction.connection, name)


def _pg_trigram_on_create():
    "Give the test databases pg_trgm before activation, as the launcher does"
    from trytond import backend

    init = backend.Database.init

    def init_with_trigram(self):
        connection = self.get_connection()
        try:
            with connection.cursor() as cursor:
                cursor.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
            connection.commit()
        finally:
            self.put_connection(connection)
        return init(self)
    backend.Database.init = init_with_trigram


def main(names):
    uri = os.environ.setdefault('TRYTOND_DATABASE_URI', 'sqlite://')
    postgresql = uri.startswith('postgresql')
    if postgresql:
        os.environ.setdefault(
            'DB_NAME', f'test_autolead_{int(time.time())}_{os.getpid()}')
        os.environ['DB_CACHE'] = 'postgresql://'
    else:
        os.environ['DB_CACHE'] = tempfile.mkdtemp(prefix='autolead-dbcache-')

    from trytond.tests import test_tryton  # noqa: F401 sets up the pool
    # without a size, trytond 8.0's grouped_slice yields one id at a time:
    # a query per record
    warnings.filterwarnings('error',
        message='grouped_slice without size', category=DeprecationWarning)
    if postgresql:
        _pg_trigram_on_create()
        _pg_cache_per_run()

    loader = unittest.TestLoader()
    if pattern := os.environ.get('AUTOLEAD_TEST_PATTERN'):
        # e.g. '*internal_messaging*' for one scenario, '*test_accept*'
        loader.testNamePatterns = [pattern]
    suite = unittest.TestSuite()
    names = names or sorted(p.stem for p in TESTS.glob('test_*.py'))
    for name in names:
        suite.addTests(loader.loadTestsFromName(f'{PACKAGE}.{name}'))
    try:
        result = unittest.TextTestRunner(verbosity=2).run(suite)
    finally:
        if postgresql:
            _pg_drop_cache_templates()
    failed = len(result.failures) + len(result.errors) + len(
        result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = max(result.testsRun - failed - skipped, 0)
    backend = 'postgresql' if postgresql else 'sqlite'
    print(f"{backend}: {passed} passed, {failed} failed, {skipped} skipped")
    return 0 if result.wasSuccessful() and result.testsRun else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
