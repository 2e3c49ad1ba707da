"""shop-daily: aggregates a day's orders into daily_reports, prunes done
messages. One run (a cron job or systemd timer), or --every SECONDS.

    python -m shop.daily --checkin-url http://127.0.0.1:9095/ping/shop-daily
"""

import argparse
import datetime
import sys
import time

import firebreak

from . import db, run
from .faults import Faults


def run_once(faults, service, options):
    def body(job_run):
        slow_ms = faults.get("slow_ms")
        if slow_ms:  # as if waiting on a lock
            service.wait_for_stop(slow_ms / 1000)
        if faults.get("fail"):
            raise RuntimeError("fault switch fail")
        day = datetime.date.today()
        start = time.mktime(day.timetuple())
        orders, _ = db.daily_report(start, start + 86400, day.isoformat())
        job_run.add_items(orders)

    return firebreak.run_job(body, name="shop-daily", registry=service, **options)


def main(argv):
    parser = argparse.ArgumentParser(prog="shop-daily")
    parser.add_argument("--every", type=float, default=0, help="seconds between runs; 0: once")
    parser.add_argument("--admin-addr", default="127.0.0.1:0")
    parser.add_argument("--checkin-url", default="")
    parser.add_argument("--pushgateway-url", default="")
    args = parser.parse_args(argv)
    options = {"checkin_url": args.checkin_url, "pushgateway_url": args.pushgateway_url}

    service = firebreak.Service(name="shop-daily", version="1.0.0", workload="job",
                                admin_address=args.admin_addr, drain_time=0,
                                multiprocess="off")
    faults = Faults("daily")
    faults.install(service)
    if not args.every:
        return run_once(faults, service, options)
    run.start(service)
    while not service.stop_requested:
        run_once(faults, service, options)
        service.wait_for_stop(args.every)
    return service.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
