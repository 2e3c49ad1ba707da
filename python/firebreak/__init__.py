"""Firebreak for Python services: the kit's C++ core as a Python package.

    import firebreak

    service = firebreak.Service(name="checkout", version="1.4.2", workload="api")
    orders = service.registry.counter("orders_total", "Orders accepted.", labels=["channel"])
    web_orders = orders.labels("web")          # resolve once, keep the handle
    service.health.add_readiness("db", lambda: db.ping(), timeout=0.5)
    service.start()                            # admin server on 127.0.0.1:9464
    ...                                        # load config, warm caches
    service.mark_started()                     # ready once "db" passes
    web_orders.inc()

The admin server (/livez, /readyz, /healthz, /metrics), the health runner and
metric recording are C++ (libfirebreak); this package adds the Python-side
conveniences. docs/python.md is the guide.
"""

from __future__ import annotations

import atexit
import contextlib
import signal as _signal
import time as _time
import weakref
from typing import Any

from ._core import (
    AdminError,
    Counter,
    CounterFamily,
    Gauge,
    GaugeFamily,
    Health,
    Histogram,
    HistogramFamily,
    MetricError,
    MultiprocessError,
    Registry,
    is_valid_label_name,
    is_valid_metric_name,
    register_process_metrics,
)
from ._core import Service as _CoreService
from ._jobs import JOB_EXIT_LOCKED, JobLocked, JobRun, run_job
from ._logs import LogHandler, current_log_context, flush_logs, log, log_context
from ._trace import current_span, extract, init_tracing, inject, record_exception, span
from ._workers import Message, Worker
from ._core import SpanContext, TraceConfigError, Tracing

__all__ = [
    "AdminError",
    "Counter",
    "CounterFamily",
    "Gauge",
    "GaugeFamily",
    "Health",
    "Histogram",
    "HistogramFamily",
    "JOB_EXIT_LOCKED",
    "JobLocked",
    "JobRun",
    "LogHandler",
    "Message",
    "MetricError",
    "MultiprocessError",
    "Registry",
    "Service",
    "SpanContext",
    "TraceConfigError",
    "Tracing",
    "Worker",
    "current_log_context",
    "current_span",
    "extract",
    "flush_logs",
    "init_tracing",
    "inject",
    "is_valid_label_name",
    "is_valid_metric_name",
    "log",
    "log_context",
    "record_exception",
    "register_process_metrics",
    "run_job",
    "span",
    "time_histogram",
]

class Service(_CoreService):
    """A service's identity, metrics registry, health and admin server.

    Identity: each of name, version, environment and workload comes from the
    arguments unless the environment overrides it (OTEL_RESOURCE_ATTRIBUTES,
    OTEL_SERVICE_NAME, FIREBREAK_SERVICE_NAME, FIREBREAK_SERVICE_VERSION,
    FIREBREAK_ENVIRONMENT, FIREBREAK_WORKLOAD; FIREBREAK_ADMIN_ADDR for the
    admin address), exactly as in the C++ kit.

    The Service installs no signal handler of its own: the web server
    (gunicorn, uvicorn) owns SIGTERM. Call drain() from its shutdown hook, or
    let drain_on_signal() chain onto the handler the server installed.

    As a context manager it starts on entry and, on exit, drains without
    waiting and stops the admin server.

    A started Service that is still running when the interpreter exits is
    stopped by an atexit hook, before Python finalizes: its C++ threads never
    call into an interpreter that is shutting down.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _live_services.add(self)

    def drain_on_signal(self, signum: int = _signal.SIGTERM) -> None:
        """Chains drain() in front of the handler currently installed for
        `signum` (call it after the server installed its own, e.g. in
        gunicorn's post_worker_init hook or an ASGI lifespan startup). The
        previous handler still runs, so the server shuts down as it would
        have; /readyz answers 503 from the moment the signal arrives. Main
        thread only (Python's rule for signal handlers)."""
        previous = _signal.getsignal(signum)

        def handler(signo: int, frame: Any) -> None:
            self.drain()
            if callable(previous):
                previous(signo, frame)

        _signal.signal(signum, handler)

    def shutdown(self) -> int:
        """drain() (unless it was already called: a second call would cut the
        drain short) then wait(): not ready at once, the drain time passes
        with /readyz answering 503, then the admin server stops. Returns 0."""
        if not self.stop_requested:
            self.drain()
        return self.wait()

    def __enter__(self) -> "Service":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.drain()
        self.drain()  # a second request cuts the drain time short
        self.wait()


_live_services: "weakref.WeakSet[Service]" = weakref.WeakSet()


@atexit.register
def _stop_live_services() -> None:
    for service in list(_live_services):
        if service.admin_address:  # started
            service.drain()
            service.drain()  # no drain time at exit
            service.wait()


class time_histogram(contextlib.ContextDecorator):
    """Observes the duration of a block or a function call, in seconds, into
    a histogram handle:

        with firebreak.time_histogram(store_latency):
            store(order)

        @firebreak.time_histogram(store_latency)
        def store(order): ...
    """

    def __init__(self, histogram: Histogram) -> None:
        self._histogram = histogram
        self._start = 0.0

    def _recreate_cm(self) -> "time_histogram":
        # A fresh timer per decorated call, so concurrent calls don't share one.
        return time_histogram(self._histogram)

    def __enter__(self) -> "time_histogram":
        self._start = _time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self._histogram.observe(_time.perf_counter() - self._start)
