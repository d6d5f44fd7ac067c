"""Run Tryton's queue (ir.queue) on SQLite.

trytond-worker waits for PostgreSQL's NOTIFY on the database connection,
which SQLite has not. This loop pulls the same queue with the same
`ir.queue.pull` and runs each task with trytond's own `run_task`, polling
once a second instead of waiting for a notification. On PostgreSQL the
launcher starts the real trytond-worker.

Auto Lead's `ir.queue` (autolead/ir.py) makes both hold the same promises:
a task that fails is retried with back-off, then kept as failed with its
error; a task whose worker was killed runs again.

    python scripts/sqlite_worker.py -c trytond.conf -d autolead
"""
import argparse
import logging
import signal
import sys
import time

logger = logging.getLogger('autolead.sqlite_worker')


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('-c', '--config', required=True)
    parser.add_argument('-d', '--database', required=True)
    parser.add_argument('--poll', type=float, default=1.0)
    args = parser.parse_args()

    from trytond import config
    config.update_etc(args.config)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr,
        format='%(process)s [%(asctime)s] %(levelname)s %(name)s %(message)s')

    from trytond import backend
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    from trytond.worker import run_task

    pool = Pool(args.database)
    with Transaction().start(args.database, 0, readonly=True):
        pool.init()
    Queue = pool.get('ir.queue')
    database = backend.Database(args.database).connect()
    connection = database.get_connection(autocommit=True)
    # a task cut short is rolled back and runs again at the next start
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    logger.info("polling the queue of %s", args.database)
    while True:
        try:
            task_id, next_ = Queue.pull(database, connection)
        except Exception:
            logger.exception("pulling a task from the queue failed")
            time.sleep(args.poll)
            continue
        if task_id:
            # run_task logs its failures; Auto Lead's ir.queue records them
            run_task(pool, task_id)
        else:
            time.sleep(min(next_ or args.poll, args.poll))


if __name__ == '__main__':
    main()
