"""Queue consumers: the C++ kit's WorkerObserver (workload/worker.h) for a
Python loop.

    worker = firebreak.Worker(service)
    worker.watch_queue("orders", lambda: (queue.depth(), queue.oldest_enqueued_at()))
    while not service.stop_requested:
        worker.heartbeat()                       # every turn, work or not
        msg = queue.claim(timeout=1)
        if msg is None:
            continue
        with worker.message("orders", msg.id, msg.headers) as m:
            if not process(msg):
                m.retry("stock service down")    # else ok; an exception: error

Per message: messaging_process_duration_seconds{messaging_destination_name,
outcome}, worker_active_messages, worker_last_success_timestamp_seconds, a
consumer span continuing the producer's traceparent, one message_processed
log record, and message_id / messaging_destination_name in the log context
(C++'s for the thread, and firebreak.log_context's, so that lines logged
from Python carry them too).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from . import _core
from ._logs import _context
from ._util import describe

__all__ = ["Worker", "Message"]


class Message:
    """One message in hand (a context manager). The outcome is ok unless
    set: retry(), error(), dead(); an exception leaving the block is an
    error (and goes on)."""

    __slots__ = ("_scope", "_queue", "_message_id", "_token")

    def __init__(self, worker: "Worker", queue: str, message_id: str,
                 headers: Mapping[str, str] | None) -> None:
        self._scope = _core.MessageScope(worker._observer, queue, str(message_id),
                                         dict(headers or {}))
        self._queue = queue
        self._message_id = str(message_id)
        self._token: Any = None

    def __enter__(self) -> "Message":
        self._token = _context.set(_context.get() + (
            ("messaging_destination_name", self._queue), ("message_id", self._message_id)))
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        try:
            if exc is not None:
                self._scope.set_outcome("error", describe(exc))
            self._scope.close()
        finally:
            _context.reset(self._token)

    def ok(self) -> None:
        self._scope.set_outcome("ok")

    def retry(self, reason: str = "") -> None:
        self._scope.set_outcome("retry", reason)

    def error(self, reason: str = "") -> None:
        self._scope.set_outcome("error", reason)

    def dead(self, reason: str = "") -> None:
        self._scope.set_outcome("dead", reason)

    @property
    def trace_id(self) -> str:
        """The consumer span's trace id ('' when tracing is off)."""
        return self._scope.trace_id


class Worker:
    """The heartbeat, per-message scopes and queue backlog of a consumer.
    `service_or_registry`: a Service (its registry) or a Registry. Thread-safe
    (consumer threads may share one); a message belongs to its thread."""

    def __init__(self, service_or_registry: Any, *, log_messages: bool = True) -> None:
        registry = getattr(service_or_registry, "registry", service_or_registry)
        self._observer = _core.WorkerObserver(registry, log_messages=log_messages)

    def heartbeat(self) -> None:
        """One turn of the loop: worker_heartbeat_timestamp_seconds = now."""
        self._observer.heartbeat()

    def watch_queue(self, queue: str,
                    read: Callable[[], tuple[int, float | None] | None]) -> None:
        """At each scrape, read() gives (depth, oldest_enqueued_at in Unix
        seconds or None when empty), or None when the queue cannot be read;
        it runs on the scraping thread: keep it quick and thread-safe."""
        self._observer.watch_queue(queue, read)

    def unwatch_queue(self, queue: str) -> None:
        self._observer.unwatch_queue(queue)

    def message(self, queue: str, message_id: str,
                headers: Mapping[str, str] | None = None) -> Message:
        """A message in hand; `headers` may carry the producer's
        traceparent / tracestate."""
        return Message(self, queue, message_id, headers)
