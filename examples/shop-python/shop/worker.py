"""shop-worker: turns order.created messages into invoices.

    python -m shop.worker [--admin-addr 127.0.0.1:9465]
"""

import argparse
import random
import sys
import time

import firebreak

from . import db, run
from .faults import Faults


def main(argv):
    parser = argparse.ArgumentParser(prog="shop-worker")
    parser.add_argument("--admin-addr", default="127.0.0.1:9465")
    parser.add_argument("--poll-ms", type=int, default=100)
    parser.add_argument("--lease-seconds", type=float, default=30.0)
    args = parser.parse_args(argv)

    service = firebreak.Service(name="shop-worker", version="1.0.0", workload="worker",
                                admin_address=args.admin_addr, drain_time=1.0,
                                multiprocess="off")
    faults = Faults("worker")
    faults.install(service)
    worker = firebreak.Worker(service)
    worker.watch_queue(db.QUEUE, db.queue_state)
    run.start(service)

    while not service.stop_requested:
        worker.heartbeat()  # every turn, work or not
        if faults.get("stall"):  # turning, but finishing nothing
            service.wait_for_stop(args.poll_ms / 1000)
            continue
        claimed = db.claim(args.lease_seconds)
        if claimed is None:
            service.wait_for_stop(args.poll_ms / 1000)
            continue
        message_id, lease, payload, headers, attempts = claimed
        with worker.message(db.QUEUE, message_id, headers) as m:
            slow_ms = faults.get("slow_ms")
            if slow_ms:
                time.sleep(slow_ms / 1000)
            if random.random() < faults.get("fail_rate"):
                m.retry("fault switch fail_rate")
                db.retry(message_id, lease, min(30.0, 0.1 * 2 ** attempts))
                continue
            order_id = payload["order_id"]
            if not db.ack(message_id, lease, order_id, amount_cents=100 * order_id % 9000 + 500):
                m.retry("lease lost")
    return service.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
