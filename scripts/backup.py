"""Back up and restore an Auto Lead database with its attachments.

    python scripts/backup.py backup -c trytond.conf -d autolead [-o FILE]
    python scripts/backup.py restore -c trytond.conf -d autolead FILE [--force]

The archive (.tar.gz) holds the database - a consistent SQLite copy taken
with SQLite's online backup, or a pg_dump custom-format dump - and the
attachments folder trytond keeps beside it (`[database] path`/<database>),
with a manifest naming the backend. The backup runs while Auto Lead runs;
stop Auto Lead before a restore, which replaces the database and the
attachments (--force when they exist).
"""
import argparse
import configparser
import datetime
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
from pathlib import Path

FORMAT = 1


class BackupError(Exception):
    pass


def read_config(path):
    "Return the database URI and the data path of a trytond configuration"
    parser = configparser.ConfigParser(interpolation=None)
    if not parser.read(path):
        raise BackupError(f"cannot read the configuration {path}")
    uri = os.environ.get('TRYTOND_DATABASE__URI') or parser.get(
        'database', 'uri', fallback='sqlite://')
    data_path = os.environ.get('TRYTOND_DATABASE__PATH') or parser.get(
        'database', 'path', fallback=None)
    if not data_path:
        raise BackupError(
            f"{path} has no [database] path: it is where the SQLite files "
            "and the attachments are")
    return uri, Path(data_path).expanduser()


def pg_environ(uri):
    "Return the environment for the PostgreSQL clients to reach uri"
    parts = urllib.parse.urlparse(uri)
    env = dict(os.environ)
    if parts.hostname:
        env['PGHOST'] = parts.hostname
    if parts.port:
        env['PGPORT'] = str(parts.port)
    if parts.username:
        env['PGUSER'] = urllib.parse.unquote(parts.username)
    if parts.password:
        env['PGPASSWORD'] = urllib.parse.unquote(parts.password)
    return env


def run(argv, env=None):
    try:
        process = subprocess.run(argv, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError:
        raise BackupError(
            f"{argv[0]} is not installed (apt-get install postgresql-client "
            "of the server's version)")
    if process.returncode:
        raise BackupError(
            f"{' '.join(argv)} failed: {process.stderr.strip()}")
    return process.stdout


def backup(config, database, output=None):
    "Write the archive of database and its attachments; return its path"
    uri, data_path = read_config(config)
    backend = uri.split(':', 1)[0]
    stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
    output = Path(output or f'{database}-{stamp}.tar.gz')
    with tempfile.TemporaryDirectory(prefix='autolead-backup-') as tmp:
        tmp = Path(tmp)
        if backend == 'sqlite':
            source = data_path / f'{database}.sqlite'
            if not source.is_file():
                raise BackupError(f"no SQLite database at {source}")
            dump = tmp / 'database.sqlite'
            # the online backup copies a consistent state even while
            # trytond writes, which copying the file would not
            with sqlite3.connect(f'file:{source}?mode=ro', uri=True) as src, \
                    sqlite3.connect(dump) as dst:
                src.backup(dst)
            src.close()
            dst.close()
        elif backend.startswith('postgresql'):
            dump = tmp / 'database.dump'
            run(['pg_dump', '--format=custom', '--no-owner',
                    f'--file={dump}', database], env=pg_environ(uri))
        else:
            raise BackupError(f"unknown database backend {backend}")
        manifest = {
            'format': FORMAT,
            'backend': 'sqlite' if backend == 'sqlite' else 'postgresql',
            'database': database,
            'date': datetime.datetime.now().isoformat(timespec='seconds'),
            'pg_dump': (run(['pg_dump', '--version']).strip()
                if backend != 'sqlite' else None),
            }
        partial = output.with_name(output.name + '.partial')
        with tarfile.open(partial, 'w:gz') as archive:
            data = json.dumps(manifest, indent=1).encode()
            info = tarfile.TarInfo('manifest.json')
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
            archive.add(dump, dump.name)
            filestore = data_path / database
            if filestore.is_dir():
                archive.add(filestore, 'attachments')
        partial.replace(output)
    return output


def _safe_members(archive):
    for member in archive.getmembers():
        name = Path(member.name)
        if name.is_absolute() or '..' in name.parts or not (
                member.isfile() or member.isdir()):
            raise BackupError(f"unexpected entry {member.name} in archive")
        yield member


def restore(config, database, archive_path, force=False):
    "Replace database and its attachments by those of the archive"
    uri, data_path = read_config(config)
    backend = 'sqlite' if uri.startswith('sqlite') else 'postgresql'
    with tempfile.TemporaryDirectory(prefix='autolead-restore-') as tmp:
        tmp = Path(tmp)
        try:
            with tarfile.open(archive_path, 'r:gz') as archive:
                archive.extractall(tmp, members=_safe_members(archive))
        except (OSError, tarfile.TarError) as error:
            raise BackupError(f"cannot read {archive_path}: {error}")
        try:
            manifest = json.loads((tmp / 'manifest.json').read_text())
        except (OSError, ValueError):
            raise BackupError(f"{archive_path} is not an Auto Lead backup")
        if manifest.get('backend') != backend:
            raise BackupError(
                f"the backup is of a {manifest.get('backend')} database, "
                f"the configuration uses {backend}")
        filestore = data_path / database
        if backend == 'sqlite':
            target = data_path / f'{database}.sqlite'
            if target.exists() and not force:
                raise BackupError(
                    f"{target} exists; stop Auto Lead and add --force "
                    "to replace it")
            data_path.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + '.restoring')
            shutil.copyfile(tmp / 'database.sqlite', partial)
            for suffix in ['-wal', '-shm']:
                Path(f'{target}{suffix}').unlink(missing_ok=True)
            partial.replace(target)
        else:
            env = pg_environ(uri)
            exists = run(['psql', '-d', 'postgres', '-Atc',
                    "SELECT 1 FROM pg_database WHERE datname = "
                    f"'{database.replace(chr(39), chr(39) * 2)}'"], env=env)
            if exists.strip():
                if not force:
                    raise BackupError(
                        f"the database {database} exists; stop Auto Lead "
                        "and add --force to replace it")
                run(['dropdb', database], env=env)
            run(['createdb', database], env=env)
            run(['pg_restore', '--no-owner', '--exit-on-error',
                    '-d', database, str(tmp / 'database.dump')], env=env)
        if filestore.exists():
            shutil.rmtree(filestore)
        if (tmp / 'attachments').is_dir():
            shutil.copytree(tmp / 'attachments', filestore)
    return manifest


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Back up or restore an Auto Lead database "
        "and its attachments")
    commands = parser.add_subparsers(dest='command', required=True)
    for name in ['backup', 'restore']:
        command = commands.add_parser(name)
        command.add_argument('-c', '--config', required=True,
            help="the trytond configuration file")
        command.add_argument('-d', '--database', required=True)
        if name == 'backup':
            command.add_argument('-o', '--output',
                help="the archive to write "
                "(default: <database>-<date>.tar.gz)")
        else:
            command.add_argument('archive')
            command.add_argument('--force', action='store_true',
                help="replace the database and attachments that exist")
    args = parser.parse_args(argv)
    try:
        if args.command == 'backup':
            path = backup(args.config, args.database, args.output)
            print(f"backed up {args.database} to {path}")
        else:
            manifest = restore(
                args.config, args.database, args.archive, args.force)
            print(f"restored {args.database} from the backup of "
                f"{manifest['date']}")
    except BackupError as error:
        print(f"backup.py: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
