#!/usr/bin/env python3
"""A small Python service instrumented with prometheus_client only, for the
end-to-end tests of `firebreak watch` (tests/e2e/watch_python_test.cc): watch
must monitor a service it did not instrument, in another language, exactly as
it monitors the kit's.

It is written the way a Python team would write it: module-level metrics in
prometheus_client's default registry (which adds process_* and python_*), a
WSGI app that serves /metrics with make_wsgi_app() beside its own routes, and
a batch job that pushes its own registry to a Pushgateway. The series follow
Firebreak's signal schema (docs/metrics.md), without the kit's service_ready: watch
learns readiness from probing /readyz.

    python_service.py --mode api|worker|job [--port PORT] [--fault NAME[=VALUE]]...
                      [--ready-gauge]
                      [--every SECONDS --checkin-url URL --pushgateway-url URL... --job NAME]

--ready-gauge exports a hand-made readiness gauge, service_ready (1 while
/readyz would answer 200, else 0), as a team without the kit writes one.

Logs the event `listening` (one JSON line: "server": "http", "address":
"127.0.0.1:PORT") once serving (--port 0 picks one), as the kit's services do.

Endpoints: GET /metrics, GET /livez, GET /readyz (200 "ok"; 503 while
never_ready or draining), POST /fault with a JSON object whose keys are merged
into the fault switches:
  never_ready (bool)  every mode: /readyz answers 503
  slow_ms (number)    api: each request takes this long (0: a few ms); worker: each message
  stall (bool)        worker: the loop keeps turning (heartbeat) but consumes nothing
  hang (bool)         worker: the loop blocks (no heartbeat, nothing consumed)
  idle (bool)         worker: nothing is fed to the queue
  fail (bool)         job: runs fail
SIGTERM: not ready first, then exits after a short drain.
"""

import argparse
import concurrent.futures
import json
import os
import random
import signal
import socketserver
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    make_wsgi_app,
    push_to_gateway,
)

SERVICE_VERSION = "1.0.0"
# The kit's buckets for http_server_request_duration_seconds (docs/metrics.md).
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
ITEM_ROUTE = "/items/{id}"
QUEUE = "orders"

# --- fault switches -----------------------------------------------------------

_faults_lock = threading.Lock()
_faults = {"never_ready": False, "slow_ms": 0, "stall": False, "hang": False, "idle": False,
           "fail": False}
_draining = threading.Event()


def fault(name):
    with _faults_lock:
        return _faults[name]


def set_faults(changes):
    """Merges `changes` (a dict) into the switches; ValueError on an unknown
    name or a value of the wrong type."""
    if not isinstance(changes, dict):
        raise ValueError("expected a JSON object")
    checked = {}
    for name, value in changes.items():
        if name not in _faults:
            raise ValueError("unknown fault %r (known: %s)" % (name, ", ".join(sorted(_faults))))
        if name == "slow_ms":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError("slow_ms: expected a number >= 0")
        elif not isinstance(value, bool):
            raise ValueError("%s: expected true or false" % name)
        checked[name] = value
    with _faults_lock:
        _faults.update(checked)
        current = dict(_faults)
    log("info", "fault_set", faults=current)
    return current


def parse_fault_arg(arg):
    """--fault NAME or NAME=VALUE (VALUE as JSON: true, 400, ...)."""
    name, sep, value = arg.partition("=")
    if not sep:
        return {name: True}
    try:
        return {name: json.loads(value)}
    except ValueError:
        raise argparse.ArgumentTypeError("--fault %s: VALUE is not JSON" % arg)


# --- logs: one JSON object a line on stdout ------------------------------------

_log_lock = threading.Lock()
_context = {"service": "python-service", "version": SERVICE_VERSION, "workload": ""}


def log(level, event, **fields):
    record = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        + ".%06dZ" % (time.time() % 1 * 1e6),
        "level": level,
        "event": event,
    }
    record.update(_context)
    record.update(fields)
    with _log_lock:
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()


# --- api ------------------------------------------------------------------------

REQUEST_DURATION = None
ACTIVE_REQUESTS = None


def define_api_metrics():
    global REQUEST_DURATION, ACTIVE_REQUESTS
    REQUEST_DURATION = Histogram(
        "http_server_request_duration_seconds",
        "Duration of HTTP server requests.",
        ["http_request_method", "http_route", "http_response_status_code"],
        buckets=HTTP_BUCKETS,
    )
    ACTIVE_REQUESTS = Gauge(
        "http_server_active_requests",
        "Number of active HTTP server requests.",
        ["http_request_method"],
    )
    # Export the route's series from the start, before its first request.
    REQUEST_DURATION.labels("GET", ITEM_ROUTE, "200")
    ACTIVE_REQUESTS.labels("GET")


def handle_item(item_id):
    """GET /items/{id}: a few milliseconds of work, or slow_ms. Returns the
    status code. Timed by its caller, as a middleware would."""
    slow_ms = fault("slow_ms")
    time.sleep(slow_ms / 1000.0 if slow_ms else random.uniform(0.002, 0.008))
    return 404 if item_id % 50 == 0 else 200


def timed_item_request(item_id):
    """One request through the instrumentation, as the HTTP layer would do it:
    active requests around it, its real duration observed afterwards."""
    with ACTIVE_REQUESTS.labels("GET").track_inprogress():
        start = time.perf_counter()
        status = handle_item(item_id)
        REQUEST_DURATION.labels("GET", ITEM_ROUTE, str(status)).observe(time.perf_counter() - start)
    return status


def run_api_traffic(rate_per_second):
    """Simulated clients: ~rate_per_second requests a second on /items/{id},
    each on a pool thread (slow requests overlap as they would on a server)."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=64)
    period = 1.0 / rate_per_second
    next_at = time.monotonic()
    item_id = 0
    while True:
        item_id += 1
        pool.submit(timed_item_request, item_id)
        next_at += period
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            next_at = time.monotonic()  # fell behind (the machine is busy): do not burst


# --- worker ---------------------------------------------------------------------


class Worker:
    """An in-process queue fed at a steady rate and a consumer loop."""

    def __init__(self, feed_per_second):
        self.feed_period = 1.0 / feed_per_second
        self.queue = deque()  # (message id, enqueued at, time.time())
        self.cond = threading.Condition()
        labels = {"messaging_destination_name": QUEUE}
        self.heartbeat = Gauge(
            "worker_heartbeat_timestamp_seconds",
            "Unix time of the worker loop's last turn, work or not.",
            ["messaging_destination_name"],
        ).labels(**labels)
        self.last_success = Gauge(
            "worker_last_success_timestamp_seconds",
            "Unix time the worker last finished a message successfully (0: never).",
            ["messaging_destination_name"],
        ).labels(**labels)
        self.active = Gauge(
            "worker_active_messages",
            "Messages being processed.",
            ["messaging_destination_name"],
        ).labels(**labels)
        self.process_duration = Histogram(
            "messaging_process_duration_seconds",
            "Duration of processing one message.",
            ["messaging_destination_name", "outcome"],
            buckets=HTTP_BUCKETS,
        )
        self.process_ok = self.process_duration.labels(QUEUE, "ok")
        # Read at scrape time, so they are exact whenever watch looks.
        Gauge(
            "queue_depth", "Messages waiting on the queue.", ["messaging_destination_name"]
        ).labels(**labels).set_function(self._depth)
        Gauge(
            "queue_oldest_message_age_seconds",
            "Age of the oldest message waiting on the queue (0 when empty).",
            ["messaging_destination_name"],
        ).labels(**labels).set_function(self._oldest_age)

    def _depth(self):
        with self.cond:
            return len(self.queue)

    def _oldest_age(self):
        with self.cond:
            return max(0.0, time.time() - self.queue[0][1]) if self.queue else 0.0

    def feed(self):
        message_id = 0
        while True:
            time.sleep(self.feed_period)
            if fault("idle"):
                continue
            message_id += 1
            with self.cond:
                if len(self.queue) < 100000:
                    self.queue.append((message_id, time.time()))
                    self.cond.notify()

    def consume(self):
        while True:
            while fault("hang"):
                # Blocked inside a turn (a deadlock, a call without a
                # timeout): the heartbeat stops while scrapes go on.
                time.sleep(0.05)
            self.heartbeat.set_to_current_time()
            if fault("stall"):
                # The loop turns and the process answers scrapes, but nothing
                # is consumed: a heartbeat alone is not progress.
                time.sleep(0.1)
                continue
            with self.cond:
                if not self.queue:
                    self.cond.wait(timeout=0.1)
                    continue
                message_id, _ = self.queue.popleft()
            with self.active.track_inprogress():
                start = time.perf_counter()
                slow_ms = fault("slow_ms")
                time.sleep(slow_ms / 1000.0 if slow_ms else random.uniform(0.002, 0.01))
                self.process_ok.observe(time.perf_counter() - start)
                self.last_success.set_to_current_time()


# --- job ------------------------------------------------------------------------


class Job:
    """A scheduled job, run every `every` seconds: check-ins healthchecks
    style (<checkin_url>/start, then <checkin_url> or <checkin_url>/fail) and
    its job_* families pushed to a Pushgateway after each run (and at its
    start too with push_start, so that a hung run is seen without pings)."""

    def __init__(self, name, every, checkin_url, pushgateway_urls, push_start=False):
        self.name = name
        self.every = every
        self.push_start = push_start
        self.checkin_url = checkin_url.rstrip("/") if checkin_url else ""
        self.pushgateway_urls = pushgateway_urls
        # Its own registry: only the job's families are pushed, not process_*.
        self.registry = CollectorRegistry()
        r = self.registry
        self.last_start = Gauge(
            "job_last_start_timestamp_seconds", "Unix time the last run started.", registry=r
        )
        self.last_duration = Gauge(
            "job_last_duration_seconds", "Duration of the last finished run.", registry=r
        )
        self.items = Gauge("job_items_processed", "Items the last run processed.", registry=r)
        self.runs = Counter("job_runs", "Finished runs by outcome.", ["outcome"], registry=r)
        # Registered on the first success / failure, so that a job that never
        # succeeded pushes no job_last_success_timestamp_seconds (rather than 0).
        self.last_success = None
        self.last_failure = None

    def ping(self, suffix):
        if not self.checkin_url:
            return
        url = self.checkin_url + suffix
        try:
            with urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"),
                                        timeout=5) as response:
                response.read()
        except (urllib.error.URLError, OSError) as e:
            log("warn", "checkin_failed", url=url, error=str(e))

    def push(self):
        for url in self.pushgateway_urls:
            try:
                push_to_gateway(url, job=self.name, registry=self.registry, timeout=5)
            except (urllib.error.URLError, OSError) as e:
                log("warn", "push_failed", url=url, error=str(e))

    def run_once(self):
        self.ping("/start")
        started = time.time()
        self.last_start.set(started)
        if self.push_start:
            self.push()
        log("info", "job_started", job=self.name)
        try:
            while fault("hang"):
                # A run that never finishes: a lock, a call without a timeout.
                time.sleep(0.05)
            time.sleep(0.1)
            items = random.randint(10, 100)
            if fault("fail"):
                raise RuntimeError("fault: fail")
        except Exception as e:  # any failure of the run is reported, not raised
            duration = time.time() - started
            if self.last_failure is None:
                self.last_failure = Gauge(
                    "job_last_failure_timestamp_seconds",
                    "Unix time the last failed run finished.",
                    registry=self.registry,
                )
            self.last_failure.set_to_current_time()
            self.last_duration.set(duration)
            self.runs.labels("error").inc()
            self.push()
            self.ping("/fail")
            log("error", "job_finished", job=self.name, outcome="error", error=str(e),
                duration_seconds=duration)
            return
        duration = time.time() - started
        if self.last_success is None:
            self.last_success = Gauge(
                "job_last_success_timestamp_seconds",
                "Unix time the last successful run finished.",
                registry=self.registry,
            )
        self.last_success.set_to_current_time()
        self.last_duration.set(duration)
        self.items.set(items)
        self.runs.labels("ok").inc()
        self.push()
        self.ping("")
        log("info", "job_finished", job=self.name, outcome="ok", items=items,
            duration_seconds=duration)

    def loop(self):
        next_at = time.monotonic()
        while True:
            self.run_once()
            next_at += self.every
            time.sleep(max(0.0, next_at - time.monotonic()))


# --- HTTP -----------------------------------------------------------------------


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


def make_app(mode):
    metrics_app = make_wsgi_app()

    def reply(start_response, status, body, content_type="text/plain; charset=utf-8"):
        data = body.encode()
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(data)))])
        return [data]

    def app(environ, start_response):
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        if path == "/metrics" and method == "GET":
            return metrics_app(environ, start_response)
        if path == "/livez" and method == "GET":
            return reply(start_response, "200 OK", "ok\n")
        if path == "/readyz" and method == "GET":
            if _draining.is_set():
                return reply(start_response, "503 Service Unavailable", "draining\n")
            if fault("never_ready"):
                return reply(start_response, "503 Service Unavailable", "not ready: never_ready\n")
            return reply(start_response, "200 OK", "ok\n")
        if path == "/fault" and method == "POST":
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                body = environ["wsgi.input"].read(length) if length > 0 else b""
                current = set_faults(json.loads(body or b"null"))
            except ValueError as e:
                return reply(start_response, "400 Bad Request", str(e) + "\n")
            return reply(start_response, "200 OK", json.dumps(current) + "\n",
                         "application/json")
        if mode == "api" and path.startswith("/items/") and method == "GET":
            try:
                item_id = int(path[len("/items/"):])
            except ValueError:
                return reply(start_response, "404 Not Found", "not found\n")
            status = timed_item_request(item_id)
            return reply(start_response, "200 OK" if status == 200 else "404 Not Found",
                         json.dumps({"id": item_id}) + "\n", "application/json")
        return reply(start_response, "404 Not Found", "not found\n")

    return app


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["api", "worker", "job"], required=True)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--fault", action="append", default=[], type=parse_fault_arg,
                        metavar="NAME[=VALUE]")
    parser.add_argument("--rate", type=float, default=20.0,
                        help="api: simulated requests a second; worker: messages fed a second")
    parser.add_argument("--every", type=float, default=60.0, help="job: seconds between runs")
    parser.add_argument("--checkin-url", default="", help="job: e.g. http://127.0.0.1:9095/ping/NAME")
    parser.add_argument("--pushgateway-url", action="append", default=[],
                        help="job: e.g. http://127.0.0.1:9091 (repeat to push to several)")
    parser.add_argument("--ready-gauge", action="store_true",
                        help="export service_ready, a hand-made readiness gauge")
    parser.add_argument("--job", default="python-job", help="job: the Pushgateway job name")
    parser.add_argument("--push-start", action="store_true",
                        help="job: push at the start of each run too, not only at its end")
    args = parser.parse_args()

    _context["workload"] = args.mode
    _context["service"] = "python-" + args.mode
    for f in args.fault:
        try:
            set_faults(f)
        except ValueError as e:
            parser.error("--fault: %s" % e)

    Info("target", "Service metadata.").info({
        "service_name": _context["service"],
        "service_version": SERVICE_VERSION,
        "deployment_environment": "test",
        "workload": args.mode,
    })

    if args.ready_gauge:
        Gauge("service_ready", "1 when the service is ready to take traffic.").set_function(
            lambda: 0 if (_draining.is_set() or fault("never_ready")) else 1)

    threads = []
    if args.mode == "api":
        define_api_metrics()
        threads.append(threading.Thread(target=run_api_traffic, args=(args.rate,)))
    elif args.mode == "worker":
        worker = Worker(feed_per_second=args.rate if args.rate > 0 else 10.0)
        threads.append(threading.Thread(target=worker.feed))
        threads.append(threading.Thread(target=worker.consume))
    else:
        job = Job(args.job, args.every, args.checkin_url, args.pushgateway_url, args.push_start)
        threads.append(threading.Thread(target=job.loop))

    server = make_server("127.0.0.1", args.port, make_app(args.mode),
                         server_class=ThreadingWSGIServer, handler_class=QuietHandler)

    def on_sigterm(signo, frame):
        # Not ready first, so that nothing routes new work here, then exit.
        _draining.set()
        log("info", "draining")
        threading.Thread(target=lambda: (time.sleep(0.2), server.shutdown()), daemon=True).start()

    signal.signal(signal.SIGTERM, on_sigterm)

    for t in threads:
        t.daemon = True
        t.start()
    log("info", "listening", server="http", address="127.0.0.1:%d" % server.server_port)
    server.serve_forever()
    server.server_close()
    log("info", "stopped")
    # The simulated traffic and the queue threads hold nothing to flush.
    os._exit(0)


if __name__ == "__main__":
    main()
