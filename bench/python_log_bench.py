#!/usr/bin/env python3
"""Times a log call with 5 fields, written as a JSON line to a file, four ways
in the same process and run (issue 15's log target):

  logging + firebreak.LogHandler   logger.info(msg, extra={event + 5 fields})
  logging + a JSON formatter       the same call; a logging.Formatter that
                                   json.dumps the record, to a FileHandler
  structlog                        log.info(event, **5 fields); TimeStamper,
                                   add_log_level, JSONRenderer, WriteLogger
  firebreak.log                    firebreak.log.info(event, msg, **5 fields)

Run with the extension built (scripts/setup) or installed:

  PYTHONPATH=build/python /usr/bin/python3 bench/python_log_bench.py

Every line is written: the kit's queue blocks instead of dropping
(FIREBREAK_LOG_OVERFLOW=block), and each timed loop ends with the kit's
flush, so its background writer's work is inside the time. Figures are the
best of several repeats, in ns per call.
"""

import argparse
import importlib.metadata
import json
import logging
import os
import sys
import tempfile
import time

FIELDS = {"order_id": "o-17", "quantity": 3, "amount": 12.5, "paid": True, "channel": "web"}


class JsonFormatter(logging.Formatter):
    """A typical hand-written JSON formatter: fixed keys, then extra."""

    skip = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}

    def format(self, record):
        line = {
            "timestamp": self.formatTime(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in self.skip:
                line[key] = value
        return json.dumps(line)


def timed_ns(call, number, repeat, flush=None):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            call()
        if flush:
            flush()
        best = min(best, time.perf_counter() - start)
    return best / number * 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    out = tempfile.mkdtemp(prefix="python_log_bench_")
    os.environ["FIREBREAK_LOG_FILE"] = os.path.join(out, "firebreak.log")
    os.environ["FIREBREAK_LOG_FORMAT"] = "json"
    os.environ["FIREBREAK_LOG_OVERFLOW"] = "block"
    os.environ.pop("FIREBREAK_LOG_LEVEL", None)
    import firebreak  # after the environment: the logger reads it on first use
    import structlog

    extra = {"event": "order_created", **FIELDS}

    fb_logger = logging.getLogger("bench.firebreak")
    fb_logger.propagate = False
    fb_logger.addHandler(firebreak.LogHandler())
    fb_logger.setLevel(logging.INFO)

    std_logger = logging.getLogger("bench.stdlib")
    std_logger.propagate = False
    std_handler = logging.FileHandler(os.path.join(out, "stdlib.log"))
    std_handler.setFormatter(JsonFormatter())
    std_logger.addHandler(std_handler)
    std_logger.setLevel(logging.INFO)

    structlog_file = open(os.path.join(out, "structlog.log"), "w")
    structlog.configure(
        processors=[
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.add_log_level,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.WriteLoggerFactory(file=structlog_file),
        cache_logger_on_first_use=True,
    )
    sl = structlog.get_logger()

    cases = [
        ("logging + firebreak.LogHandler",
         lambda: fb_logger.info("Order stored", extra=extra), firebreak.flush_logs),
        ("logging + JSON formatter",
         lambda: std_logger.info("Order stored", extra=extra), std_handler.flush),
        ("structlog", lambda: sl.info("order_created", **FIELDS), structlog_file.flush),
        ("firebreak.log",
         lambda: firebreak.log.info("order_created", "Order stored", **FIELDS),
         firebreak.flush_logs),
    ]
    results = {}
    for name, call, flush in cases:
        call()  # first use: caches, file opened
        results[name] = timed_ns(call, args.number, args.repeat, flush)
    handler_ns = results["logging + firebreak.LogHandler"]
    print(f"python {sys.version.split()[0]}, structlog {importlib.metadata.version('structlog')}, "
          f"{args.number} calls x {args.repeat} repeats")
    print(f"{'case':<34}{'ns/call':>10}{'vs handler':>12}")
    for name, ns in results.items():
        print(f"{name:<34}{ns:>10.0f}{ns / handler_ns:>12.2f}")
    with open(os.environ["FIREBREAK_LOG_FILE"]) as f:
        first = json.loads(f.readline())
    print("a firebreak line:", json.dumps(first))


if __name__ == "__main__":
    main()
