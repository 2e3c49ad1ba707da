"""Type stubs for firebreak._core, the C++ core (libfirebreak) bound with pybind11."""

from typing import Any, Callable, Dict, Sequence, Tuple

class MetricError(ValueError):
    """A bad metric name, label, unit or bucket layout, or a registration that
    conflicts with an existing family. The message names the offending value."""

class AdminError(OSError):
    """The admin server cannot start, e.g. "cannot listen on 127.0.0.1:9464:
    Address already in use"."""

class MultiprocessError(OSError):
    """Multi-process mode cannot create, open or join the shared file; the
    message names the path and the reason."""

class Counter:
    """A handle to one counter series. Recording takes no lock and never raises."""
    def inc(self, amount: float = 1.0) -> None:
        """Adds `amount` (default 1); negative and NaN amounts are ignored."""
    @property
    def value(self) -> float:
        """The current total."""

class Gauge:
    """A handle to one gauge series."""
    def set(self, value: float) -> None:
        """Sets the value."""
    def inc(self, amount: float = 1.0) -> None:
        """Adds `amount`."""
    def dec(self, amount: float = 1.0) -> None:
        """Subtracts `amount`."""
    def set_to_current_time(self) -> None:
        """Sets the value to the current Unix time in seconds."""
    @property
    def value(self) -> float:
        """The current value."""

class Histogram:
    """A handle to one histogram series. Observing takes no lock."""
    def observe(self, value: float) -> None:
        """Counts `value` into its bucket and the sum; NaN is ignored."""
    @property
    def count(self) -> int:
        """Observations so far."""
    @property
    def sum(self) -> float:
        """Sum of the observations."""

class _Family:
    @property
    def name(self) -> str:
        """The family's name."""
    @property
    def label_names(self) -> list[str]:
        """The declared label names."""
    @property
    def overflowed(self) -> int:
        """Label sets refused so far by the cardinality guard (max_series)."""

class CounterFamily(_Family):
    """All series of one counter."""
    def labels(self, *values: object, **by_name: object) -> Counter:
        """The series for these label values (by position in declaration
        order, or by name), created on first use. Keep the handle. Raises
        ValueError on a wrong count or name."""
    def inc(self, amount: float = 1.0) -> None:
        """Unlabelled families only: adds to the one series."""

class GaugeFamily(_Family):
    """All series of one gauge."""
    def labels(self, *values: object, **by_name: object) -> Gauge:
        """As CounterFamily.labels."""
    def set(self, value: float) -> None:
        """Unlabelled families only: sets the one series."""
    def inc(self, amount: float = 1.0) -> None:
        """Unlabelled families only."""
    def dec(self, amount: float = 1.0) -> None:
        """Unlabelled families only."""

class HistogramFamily(_Family):
    """All series of one histogram."""
    def labels(self, *values: object, **by_name: object) -> Histogram:
        """As CounterFamily.labels."""
    def observe(self, value: float) -> None:
        """Unlabelled families only: observes into the one series."""

class Registry:
    """Owns metric families and produces scrapes."""
    def __init__(self) -> None: ...
    def counter(self, name: str, help: str, *, labels: Sequence[str] = (), unit: str = "",
                max_series: int = 10000) -> CounterFamily:
        """Registers a counter family (name with or without _total), or returns
        the same one again. Raises MetricError for a bad or conflicting spec."""
    def gauge(self, name: str, help: str, *, labels: Sequence[str] = (), unit: str = "",
              max_series: int = 10000, combine: str = "live_sum") -> GaugeFamily:
        """Registers a gauge family, as counter(). `combine`: how a
        multi-process service's processes combine it ("live_sum", "sum",
        "max", "min", "per_pid", "serving")."""
    def histogram(self, name: str, help: str, *, labels: Sequence[str] = (), unit: str = "",
                  max_series: int = 10000,
                  buckets: Sequence[float] | None = None) -> HistogramFamily:
        """Registers a histogram family, as counter(); `buckets` are finite,
        strictly increasing upper bounds (default 5ms..10s)."""
    def gauge_callback(self, name: str, help: str, read: Callable[[], float], *,
                       unit: str = "") -> None:
        """An unlabelled gauge whose value read() returns at each scrape."""
    def counter_callback(self, name: str, help: str, read: Callable[[], float], *,
                         unit: str = "") -> None:
        """An unlabelled counter whose total read() returns at each scrape."""
    def expose(self, accept: str = "") -> tuple[bytes, str]:
        """A scrape as (body, content_type): Prometheus text 0.0.4, or
        OpenMetrics 1.0 when `accept` prefers it."""

class Health:
    """Liveness and readiness checks with cached results, the start-up gate
    and draining."""
    def add_readiness(self, name: str, check: Callable[[], Any], *, timeout: float = 1.0,
                      interval: float = 5.0) -> None:
        """Adds a readiness check: None or True passes, False fails,
        (False, reason) fails with a reason, raising fails."""
    def add_liveness(self, name: str, check: Callable[[], Any], *, timeout: float = 1.0,
                     interval: float = 5.0) -> None:
        """Adds a liveness check, as add_readiness."""
    def mark_started(self) -> None:
        """Opens the start-up gate. Idempotent."""
    def start_draining(self) -> None:
        """Readiness becomes false at once, for good."""
    @property
    def started(self) -> bool: ...
    @property
    def draining(self) -> bool: ...
    @property
    def live(self) -> bool:
        """Whether every liveness check passes."""
    @property
    def ready(self) -> bool:
        """started, not draining, and every readiness check passing."""
    def report(self, kind: str = "readiness") -> dict[str, Any]:
        """The cached state: {'ok', 'checks': [{'name', 'ok', 'reason', 'ran',
        'duration_seconds'}]}."""

class Service:
    """A service's identity, registry, health and admin server."""
    def __init__(self, *, name: str = "", version: str = "", environment: str = "",
                 workload: str = "api", admin_address: str = "127.0.0.1:9464",
                 drain_time: float = 5.0, process_metrics: bool = True,
                 multiprocess: str = "auto", multiprocess_file: str = "",
                 ready_when_all: bool = True, max_processes: int = 64,
                 multiprocess_master: int = 0) -> None:
        """multiprocess: "auto" (join when FIREBREAK_MULTIPROCESS_FILE is
        set), "off", "serve" (create the shared file and serve the admin port
        for every process) or "join" (record into it, bind no port)."""
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def environment(self) -> str: ...
    @property
    def workload(self) -> str: ...
    @property
    def registry(self) -> Registry:
        """The registry the admin server's /metrics serves."""
    @property
    def health(self) -> Health: ...
    def start(self) -> None:
        """Starts the admin server and health runner; AdminError if it cannot bind."""
    @property
    def admin_address(self) -> str:
        """The bound host:port; '' before start()."""
    def mark_started(self) -> None:
        """Opens the start-up gate."""
    def drain(self) -> None:
        """Begins shutdown: not ready at once; a second call ends the drain early."""
    @property
    def stop_requested(self) -> bool: ...
    def wait_for_stop(self, timeout: float) -> bool:
        """Waits up to `timeout` seconds for drain(); True if it was called."""
    def add_admin_handler(self, method: str, path: str,
                          handler: Callable[[str, str, Dict[str, str], Dict[str, str], bytes],
                                            Tuple[Any, ...]]) -> None:
        """Routes `method` on the exact admin `path` to handler(method, path,
        query, headers, body) -> (status, body[, content_type])."""
    def wait(self) -> int:
        """Blocks until drain(), waits the drain time, stops the admin server; 0."""

def register_process_metrics(registry: Registry) -> None:
    """Adds the process_* families to a registry (once per registry)."""
def is_valid_metric_name(name: str) -> bool: ...
def is_valid_label_name(name: str) -> bool: ...

# Logs (python/src/logs.cc); firebreak.LogHandler and firebreak.log use them.
def log_emit(
    level: int,
    event: str,
    msg: str,
    context: tuple[tuple[str, Any], ...] | None,
    fields: dict[str, Any] | None,
) -> None:
    """Writes one line through the kit's logger: level 0 (trace) to 5 (fatal)."""

def log_enabled(level: int) -> bool:
    """Whether lines at this level are written."""

def flush_logs() -> None:
    """Blocks until every line logged before the call is written."""

# HTTP API metrics (workload/http.h); firebreak.wsgi uses them.
class HttpObserver:
    """http_server_request_duration_seconds and http_server_active_requests in
    a registry, recorded per request without a scope."""
    def __init__(self, registry: Registry, *, unmatched_route: str = "unmatched",
                 max_series: int = 10000) -> None: ...
    def request_started(self, method: str) -> None:
        """A request began: active requests of its method +1."""
    def request_finished(self, method: str, route: str, status: int, seconds: float) -> None:
        """A request ended: active -1, its duration observed ('' route: unmatched)."""

def normalize_http_method(method: str) -> str:
    """The method as metrics record it: a standard method, else '_OTHER'."""

def is_valid_request_id(request_id: str) -> bool:
    """Whether a client's X-Request-Id is usable as is."""

def generate_request_id() -> str:
    """A new request id: a random UUID v4."""

# Jobs (workload/job.h); firebreak.JobRun and firebreak.run_job use it.
JOB_EXIT_LOCKED: int

class JobRun:
    """One run of a scheduled job: metrics, check-ins, push, overlap lock."""
    def __init__(self, *, name: str, registry: Registry | None = None, checkin_url: str = "",
                 pushgateway_url: str = "", push_method: str = "put", lock_file: str = "",
                 delivery_attempts: int = 3, delivery_timeout: float = 3.0) -> None: ...
    @property
    def acquired(self) -> bool: ...
    @property
    def name(self) -> str: ...
    @property
    def run_id(self) -> str: ...
    @property
    def items(self) -> int: ...
    @property
    def finished(self) -> bool: ...
    @property
    def outcome(self) -> str:
        """running, success, failure or skipped."""
    @property
    def exit_status(self) -> int: ...
    @property
    def duration_seconds(self) -> float: ...
    def add_items(self, n: int = 1) -> None: ...
    def succeed(self) -> int: ...
    def fail(self, reason: str = "") -> int: ...
    def finish(self, exit_status: int, reason: str = "") -> int: ...
    def close(self) -> None:
        """Ends a run that was not ended (a failure); releases the lock."""

# Workers (workload/worker.h); firebreak.Worker uses them.
class WorkerObserver:
    def __init__(self, registry: Registry, *, log_messages: bool = True) -> None: ...
    def heartbeat(self) -> None: ...
    def watch_queue(self, queue: str,
                    read: Callable[[], tuple[int, float | None] | None]) -> None: ...
    def unwatch_queue(self, queue: str) -> None: ...

class MessageScope:
    def __init__(self, worker: WorkerObserver, queue: str, message_id: str,
                 headers: dict[str, str] = ...) -> None: ...
    def set_outcome(self, outcome: str, reason: str = "") -> None:
        """ok, error, retry or dead."""
    def close(self) -> str:
        """Records the message once and ends its span and log context."""
    @property
    def closed(self) -> bool: ...
    @property
    def trace_id(self) -> str: ...

# Tracing (trace.h); firebreak.span, inject, extract and init_tracing use it.
class TraceConfigError(ValueError): ...

class SpanContext:
    """A span's W3C trace context (immutable)."""
    @property
    def trace_id(self) -> str: ...
    @property
    def span_id(self) -> str: ...
    @property
    def trace_flags(self) -> int: ...
    @property
    def sampled(self) -> bool: ...
    @property
    def is_remote(self) -> bool: ...
    @property
    def valid(self) -> bool: ...
    @property
    def packed(self) -> bytes:
        """Trace id, span id and flags (25 bytes), what log_emit takes."""
    @property
    def traceparent(self) -> str: ...
    @property
    def tracestate(self) -> str: ...

class Span:
    """A span in progress; ends at end()."""
    @property
    def context(self) -> SpanContext: ...
    @property
    def is_recording(self) -> bool: ...
    def set_attribute(self, key: str, value: str | int | float | bool) -> None: ...
    def add_event(self, name: str, attributes: dict[str, Any] = ...) -> None: ...
    def add_link(self, context: SpanContext, attributes: dict[str, Any] = ...) -> None: ...
    def set_status(self, code: str, message: str = "") -> None:
        """ok, error or unset."""
    def set_name(self, name: str) -> None: ...
    def end(self) -> None: ...

def start_span(name: str, kind: str = "internal", parent: SpanContext | None = None) -> Span:
    """kind: internal, server, client, producer or consumer."""

def extract(headers: dict[str, str]) -> SpanContext: ...
def inject(context: SpanContext) -> dict[str, str]: ...

class Tracing:
    """What init_tracing() set up."""
    @property
    def enabled(self) -> bool: ...
    @property
    def exporter(self) -> str: ...
    @property
    def destination(self) -> str: ...
    @property
    def sampler(self) -> str: ...
    def flush(self, timeout: float = 5.0) -> bool: ...
    def shutdown(self) -> None: ...

def init_tracing(*, service_name: str = "", service_version: str = "", environment: str = "",
                 registry: Registry | None = None) -> Tracing: ...
