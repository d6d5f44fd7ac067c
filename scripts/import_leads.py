#!/usr/bin/env python3
"""Import a CSV or Excel file of leads from the command line.

    python scripts/import_leads.py -c trytond.conf -d DATABASE leads.csv \\
        [--duplicates flag|skip|update] [--all-or-nothing] [--owner LOGIN] \\
        [--sheet NAME]
    python scripts/import_leads.py -c trytond.conf -d DATABASE --check
    python scripts/import_leads.py -c trytond.conf -d DATABASE --resume JOB

The file goes through the same import job as the desk wizard, run as the
owner (the administrator when not given), so access rights and record
rules hold. Rejected rows are written next to the file as
rejected-<name>.csv (in the current directory after --resume). Exits 1 when the job failed or rows were rejected, 2
when the file cannot be read.

An import whose process was killed stays "running" until it is found out:
--check marks such jobs interrupted and lists them, --resume imports the rest
of one from its last committed batch (the file is kept in the job), without
creating the leads of the committed batches again.
"""
import argparse
import sys
from pathlib import Path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('-c', '--config', required=True)
    parser.add_argument('-d', '--database', required=True)
    parser.add_argument('file', type=Path, nargs='?')
    parser.add_argument('--duplicates', default='flag',
        choices=['flag', 'skip', 'update'])
    parser.add_argument('--all-or-nothing', action='store_true')
    parser.add_argument('--owner', default='admin',
        help="login of the user the leads belong to and who runs the import")
    parser.add_argument('--sheet',
        help="the sheet of an Excel workbook (the first one by default)")
    parser.add_argument('--check', action='store_true',
        help="mark the imports whose process died as interrupted, list them")
    parser.add_argument('--resume', type=int, metavar='JOB',
        help="import the rest of the interrupted import JOB")
    args = parser.parse_args()
    if bool(args.file) + args.check + bool(args.resume) != 1:
        parser.error("give a file, --check or --resume JOB")
    data = None
    if args.file:
        try:
            data = args.file.read_bytes()
        except OSError as exception:
            print(f"{args.file}: cannot read the file "
                f"({exception.strerror})", file=sys.stderr)
            return 2

    from trytond import config
    config.update_etc(args.config)
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    pool = Pool(args.database)
    pool.init()
    User = pool.get('res.user')
    Job = pool.get('autolead.lead.import.job')
    with Transaction().start(args.database, 0) as transaction:
        interrupted = Job.check_interrupted()
        transaction.commit()
        if args.check:
            for job in Job.search([('state', '=', 'interrupted')]):
                print(f"job {job.id} {job.file_name}: interrupted after "
                    f"{job.processed or 0} of {job.total or 0} rows"
                    f"{' (found now)' if job in interrupted else ''}")
            return 0
        if args.resume:
            jobs = Job.search([('id', '=', args.resume)])
            if not jobs or jobs[0].state != 'interrupted':
                print(f"job {args.resume} is not an interrupted import",
                    file=sys.stderr)
                return 2
            owner_id = jobs[0].owner.id
        else:
            owner = User.search([('login', '=', args.owner)], limit=1)
            if not owner:
                print(f"no user with login {args.owner!r}", file=sys.stderr)
                return 2
            owner_id = owner[0].id
        context = User.get_preferences(context_only=True)
    with Transaction().start(
            args.database, owner_id, context=context) as transaction:
        if args.resume:
            job = Job(args.resume)
            name = Path(job.file_name or 'leads.csv')
        else:
            job, = Job.create([{
                        'file_name': args.file.name,
                        'file_data': data,
                        'sheet': args.sheet,
                        'duplicates': args.duplicates,
                        'all_or_nothing': args.all_or_nothing,
                        'owner': owner_id,
                        }])
            name = args.file
        Job.process([job], commit=True)
        transaction.commit()
        job = Job(job.id)
        print(f"{name.name}: {job.state}, {job.total} rows, "
            f"{job.created} created ({job.flagged} flagged as duplicate), "
            f"{job.updated} updated, {job.skipped} skipped, "
            f"{job.rejected} rejected")
        if job.message:
            print(job.message, file=sys.stderr)
        if job.report:
            report = name.with_name(job.report_name)
            report.write_bytes(job.report)
            print(f"rejected rows: {report}")
        if job.state == 'failed' and job.total is None:
            # the file itself could not be read
            return 2
        return 0 if job.state == 'done' and not job.rejected else 1


if __name__ == '__main__':
    sys.exit(main())
