"""Run Tryton's queue (ir.queue) on SQLite.

trytond-worker waits for PostgreSQL's NOTIFY on the database connection,
which SQLite has not. This loop pulls the same queue with the same
`ir.queue.pull` and runs each task with trytond's own `run_task`, polling
once a second instead of waiting for a notification. On PostgreSQL the
launcher starts the real trytond-worker.

    python scripts/sqlite_worker.py -c trytond.conf -d autolead
"""
import argparse
import logging
import signal
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('-c', '--config', required=True)
    parser.add_argument('-d', '--database', required=True)
    parser.add_argument('--poll', type=float, default=1.0)
    args = parser.parse_args()

    from trytond import config
    config.update_etc(args.config)
    logging.basicConfig(
        level=logging.INFO,
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
    signal.signal(signal.SIGTERM, lambda *_: exit(0))
    logging.getLogger(__name__).info(
        "polling the queue of %s", args.database)
    while True:
        try:
            task_id, next_ = Queue.pull(database, connection)
        except backend.DatabaseOperationalError:
            time.sleep(args.poll)
            continue
        if task_id:
            try:
                run_task(pool, task_id)
            except Exception:
                logging.getLogger(__name__).exception(
                    "task %s failed", task_id)
        else:
            time.sleep(min(next_ or args.poll, args.poll))


if __name__ == '__main__':
    main()
