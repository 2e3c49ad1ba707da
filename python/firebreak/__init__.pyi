"""Type stubs for firebreak (see firebreak/__init__.py)."""

import contextlib
import signal
from typing import Any

from ._core import AdminError as AdminError
from ._core import Counter as Counter
from ._core import CounterFamily as CounterFamily
from ._core import Gauge as Gauge
from ._core import GaugeFamily as GaugeFamily
from ._core import Health as Health
from ._core import Histogram as Histogram
from ._core import HistogramFamily as HistogramFamily
from ._core import MetricError as MetricError
from ._core import MultiprocessError as MultiprocessError
from ._core import Registry as Registry
from ._core import Service as _CoreService
from ._core import is_valid_label_name as is_valid_label_name
from ._core import is_valid_metric_name as is_valid_metric_name
from ._core import register_process_metrics as register_process_metrics
from ._jobs import JOB_EXIT_LOCKED as JOB_EXIT_LOCKED
from ._jobs import JobLocked as JobLocked
from ._jobs import JobRun as JobRun
from ._jobs import run_job as run_job
from ._logs import LogHandler as LogHandler
from ._core import SpanContext as SpanContext
from ._core import TraceConfigError as TraceConfigError
from ._core import Tracing as Tracing
from ._trace import current_span as current_span
from ._trace import extract as extract
from ._trace import init_tracing as init_tracing
from ._trace import inject as inject
from ._trace import record_exception as record_exception
from ._trace import span as span
from ._workers import Message as Message
from ._workers import Worker as Worker
from ._logs import current_log_context as current_log_context
from ._logs import flush_logs as flush_logs
from ._logs import log as log
from ._logs import log_context as log_context

class Service(_CoreService):
    """A service's identity, metrics registry, health and admin server."""
    def drain_on_signal(self, signum: int = signal.SIGTERM) -> None:
        """Chains drain() in front of the handler installed for `signum`."""
    def shutdown(self) -> int:
        """drain() unless already draining, then wait()."""
    def __enter__(self) -> Service: ...
    def __exit__(self, *exc: object) -> None: ...

class time_histogram(contextlib.ContextDecorator):
    """Observes a block's or a call's duration in seconds into a histogram."""
    def __init__(self, histogram: Histogram) -> None: ...
    def __enter__(self) -> time_histogram: ...
    def __exit__(self, *exc: object) -> None: ...
