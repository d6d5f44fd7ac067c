"""scripts/backup.py on a real database and attachments folder

A live trytond (SQLite file or PostgreSQL, the backend of the test run)
is backed up while it serves, its data changed, then stopped and
restored; the restarted server shows the old data and attachment."""
import base64
import subprocess
import sys
import time
import unittest
import urllib.request
from pathlib import Path

from .live_server import REPO, LiveServer
from .test_races import Desk

BACKUP = REPO / 'scripts' / 'backup.py'


class BackupServer(LiveServer):
    def restart(self):
        "Start trytond again on the same database"
        bin_ = Path(sys.executable).parent
        self.process = subprocess.Popen(
            [str(bin_ / 'trytond'), '-c', str(self.config),
                '-d', self.database],
            env=self._env(), stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + '/', timeout=1)
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("trytond did not restart")

    def halt(self):
        self.process.terminate()
        self.process.wait(10)


def attachment_data(value):
    if isinstance(value, dict):
        return base64.b64decode(value['base64'])
    return value


class BackupTestCase(unittest.TestCase):
    "A backup taken while serving restores the database and attachments"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = BackupServer(leads=10).start()
        cls.addClassCleanup(cls.server.stop)

    def backup_script(self, *args):
        return subprocess.run(
            [sys.executable, str(BACKUP), *map(str, args)],
            env=self.server._env(), text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def test_backup_change_restore(self):
        "Restoring brings back the data and attachment of the backup time"
        server = self.server
        admin = Desk(server, 'admin', 'admin-demo')
        lead_id, = admin('model.autolead.lead.search', [], 0, 1, None)
        name = admin('model.autolead.lead.read', [lead_id], ['name'])[0][
            'name']
        contract = b'%PDF-1.4 signed contract\n' * 100
        attachment_id, = admin('model.ir.attachment.create', [{
                    'name': 'contract.pdf',
                    'resource': f'autolead.lead,{lead_id}',
                    'data': {'__class__': 'bytes',
                        'base64': base64.b64encode(contract).decode()},
                    }])
        self.assertTrue(any((server.directory / server.database).rglob('*')),
            "the attachment is not in the filestore")
        archive = server.directory / 'backup.tar.gz'

        done = self.backup_script('backup', '-c', server.config,
            '-d', server.database, '-o', archive)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertTrue(archive.is_file())

        admin('model.autolead.lead.write', [lead_id], {'name': "Changed"})
        admin('model.ir.attachment.delete', [attachment_id])
        new_id, = admin('model.autolead.lead.create', [{
                    'name': "Made after the backup", 'source': 'phone'}])

        refused = self.backup_script('restore', '-c', server.config,
            '-d', server.database, archive)
        self.assertEqual(refused.returncode, 1)
        self.assertIn('--force', refused.stderr)
        self.assertNotIn('Traceback', refused.stderr)

        server.halt()
        done = self.backup_script('restore', '-c', server.config,
            '-d', server.database, archive, '--force')
        self.assertEqual(done.returncode, 0, done.stderr)
        server.restart()

        admin = Desk(server, 'admin', 'admin-demo')
        self.assertEqual(admin('model.autolead.lead.read', [lead_id],
                ['name'])[0]['name'], name)
        self.assertEqual(admin('model.autolead.lead.search',
                [('id', '=', new_id)], 0, None, None), [])
        attachment, = admin('model.ir.attachment.read', [attachment_id],
            ['name', 'data'])
        self.assertEqual(attachment['name'], 'contract.pdf')
        self.assertEqual(attachment_data(attachment['data']), contract)

    def test_not_a_backup(self):
        "A file that is not a backup is refused with a sentence"
        server = self.server
        bogus = server.directory / 'leads.csv'
        bogus.write_text('name,email\n')
        done = self.backup_script('restore', '-c', server.config,
            '-d', server.database, bogus, '--force')
        self.assertEqual(done.returncode, 1)
        self.assertIn('cannot read', done.stderr)
        self.assertNotIn('Traceback', done.stderr)

