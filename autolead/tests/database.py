"""Unit tests on a database where Auto Lead is activated"""
from trytond.tests.test_tryton import TestCase, activate_module, drop_db


class DatabaseTestCase(TestCase):
    """Tests run in transactions on the test database with Auto Lead,
    dropped at the end so that the next class can restore its own copy
    (PostgreSQL refuses to drop a database with open connections)"""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        activate_module('autolead')

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        drop_db()
