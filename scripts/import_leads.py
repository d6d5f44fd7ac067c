#!/usr/bin/env python3
"""Import a CSV or Excel file of leads from the command line.

    python scripts/import_leads.py -c trytond.conf -d DATABASE leads.csv \\
        [--duplicates flag|skip|update] [--all-or-nothing] [--owner LOGIN]

The file goes through the same import job as the desk wizard, run as the
owner (the administrator when not given), so access rights and record
rules hold. Rejected rows are written next to the file as
rejected-<name>.csv. Exits 1 when the job failed or rows were rejected.
"""
import argparse
import sys
from pathlib import Path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('-c', '--config', required=True)
    parser.add_argument('-d', '--database', required=True)
    parser.add_argument('file', type=Path)
    parser.add_argument('--duplicates', default='flag',
        choices=['flag', 'skip', 'update'])
    parser.add_argument('--all-or-nothing', action='store_true')
    parser.add_argument('--owner', default='admin',
        help="login of the user the leads belong to and who runs the import")
    args = parser.parse_args()

    from trytond import config
    config.update_etc(args.config)
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    pool = Pool(args.database)
    pool.init()
    User = pool.get('res.user')
    Job = pool.get('autolead.lead.import.job')
    with Transaction().start(args.database, 0, readonly=True):
        owner = User.search([('login', '=', args.owner)], limit=1)
        if not owner:
            sys.exit(f"no user with login {args.owner!r}")
        owner_id = owner[0].id
        context = User.get_preferences(context_only=True)
    with Transaction().start(
            args.database, owner_id, context=context) as transaction:
        job, = Job.create([{
                    'file_name': args.file.name,
                    'file_data': args.file.read_bytes(),
                    'duplicates': args.duplicates,
                    'all_or_nothing': args.all_or_nothing,
                    'owner': owner_id,
                    }])
        Job.process([job], commit=True)
        transaction.commit()
        print(f"{args.file.name}: {job.state}, {job.total} rows, "
            f"{job.created} created ({job.flagged} flagged as duplicate), "
            f"{job.updated} updated, {job.skipped} skipped, "
            f"{job.rejected} rejected")
        if job.message:
            print(job.message)
        if job.report:
            report = args.file.with_name(job.report_name)
            report.write_bytes(job.report)
            print(f"rejected rows: {report}")
        return 0 if job.state == 'done' and not job.rejected else 1


if __name__ == '__main__':
    sys.exit(main())
