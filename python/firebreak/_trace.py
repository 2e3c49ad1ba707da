"""Tracing: W3C trace context in and out, spans as context managers and
decorators, the C++ kit's sampler and OTLP/HTTP exporter.

    tracing = firebreak.init_tracing(service)     # OTEL_* as in C++; off without an exporter

    with firebreak.span("charge card", attributes={"order.id": order_id}) as s:
        headers = firebreak.inject({})            # traceparent for the next hop
        ...

    @firebreak.span("rebuild index")
    def rebuild(): ...

The current span lives in a contextvars.ContextVar: each asyncio task and
thread has its own. A span started with no current Python span takes the C++
thread's current one as parent (a job run's, a message's), so Python spans
nest under the kit's. Log lines carry the current span's trace_id, span_id
and trace_flags.
"""

from __future__ import annotations

import atexit
import contextvars
import traceback
from typing import Any, Mapping

from . import _core
from ._util import describe, each_call

__all__ = ["span", "current_span", "inject", "extract", "init_tracing", "record_exception"]


class _Active:
    """The current span; its context and packed context (what a child span
    and a log line read) are made on first use, not at every span start."""

    __slots__ = ("span", "_context", "_packed")

    def __init__(self, s: _core.Span) -> None:
        self.span = s
        self._context: _core.SpanContext | None = None
        self._packed: bytes | None = None

    @property
    def context(self) -> _core.SpanContext:
        if self._context is None:
            self._context = self.span.context
        return self._context

    @property
    def packed(self) -> bytes:
        if self._packed is None:
            self._packed = self.context.packed
        return self._packed


_current: contextvars.ContextVar[_Active | None] = contextvars.ContextVar(
    "firebreak_span", default=None)


def current_span() -> _core.Span | None:
    """The span current here (this task or thread), or None."""
    active = _current.get()
    return active.span if active is not None else None


def _packed_current() -> bytes | None:
    active = _current.get()
    return active.packed if active is not None else None


def record_exception(s: _core.Span, exc: BaseException) -> None:
    """An `exception` event (type, message, stack trace) and status ERROR."""
    s.add_event("exception", {
        "exception.type": type(exc).__qualname__,
        "exception.message": str(exc),
        "exception.stacktrace": "".join(traceback.format_exception(exc)),
    })
    s.set_status("error", describe(exc))


def start(name: str, kind: str = "internal",
          parent: _core.SpanContext | None = None) -> _core.Span:
    """A span started under `parent`, else the current Python span, else the
    C++ thread's current span (or none)."""
    if parent is None:
        active = _current.get()
        if active is not None:
            parent = active.context
    return _core.start_span(name, kind, parent)


def activate(s: _core.Span) -> contextvars.Token:
    """Makes `s` current (contextvars); reset the token to undo."""
    return _current.set(_Active(s))


def deactivate(token: contextvars.Token) -> None:
    _current.reset(token)


class span:
    """A span for a `with` block (yielding the Span) or a decorated function
    (a new span per call; async functions too). An exception leaving it is
    recorded (an `exception` event, status ERROR) and goes on.

    kind: internal (default), server, client, producer or consumer.
    parent: a SpanContext (e.g. firebreak.extract(headers)); default the
    current span."""

    def __init__(self, name: str, *, kind: str = "internal",
                 parent: _core.SpanContext | None = None,
                 attributes: Mapping[str, Any] | None = None) -> None:
        self._name = name
        self._kind = kind
        self._parent = parent
        self._attributes = dict(attributes or {})
        self._stack: list[tuple[_core.Span, contextvars.Token]] = []

    def __enter__(self) -> _core.Span:
        s = start(self._name, self._kind, self._parent)
        for key, value in self._attributes.items():
            s.set_attribute(key, value)
        self._stack.append((s, activate(s)))
        return s

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        s, token = self._stack.pop()
        try:
            if exc is not None:
                record_exception(s, exc)
            s.end()
        finally:
            deactivate(token)

    def __call__(self, fn):  # as a decorator: a new span per call
        name = self._name
        options = dict(kind=self._kind, parent=self._parent, attributes=self._attributes)
        return each_call(fn, lambda: span(name, **options))


def inject(headers: dict[str, str] | None = None,
           context: _core.SpanContext | None = None) -> dict[str, str]:
    """Sets traceparent (and tracestate) for `context`, default the current
    span's, in `headers` (a new dict when None) and returns it. Nothing when
    there is no valid context."""
    out = {} if headers is None else headers
    if context is None:
        active = _current.get()
        if active is None:
            return out
        context = active.context
    out.update(_core.inject(context))
    return out


def extract(headers: Mapping[str, str]) -> _core.SpanContext:
    """The remote context in traceparent / tracestate (names in any case);
    an invalid context when missing or malformed (a span under it starts a
    new trace)."""
    return _core.extract(dict(headers))


_tracings: list[tuple[_core.Tracing, Any]] = []


def init_tracing(service: Any = None, *, service_name: str = "", service_version: str = "",
                 environment: str = "", registry: Any = None) -> _core.Tracing:
    """Builds the process's tracer as the C++ kit's init_tracing does
    (OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_*, FIREBREAK_TRACES_FILE,
    OTEL_TRACES_SAMPLER, ...); off unless an exporter is configured.
    `service`: a Service, whose identity and registry (for
    trace_spans_exported_total and trace_spans_dropped_total) are used.
    Flushed and shut down at exit. Raises TraceConfigError (a ValueError) for
    a configuration it cannot use."""
    if service is not None:
        service_name = service_name or service.name
        service_version = service_version or service.version
        environment = environment or service.environment
        registry = registry if registry is not None else service.registry
    tracing = _core.init_tracing(service_name=service_name, service_version=service_version,
                                 environment=environment, registry=registry)
    _tracings.append((tracing, registry))  # the registry outlives the tracing
    return tracing


@atexit.register
def _shutdown_tracing() -> None:
    while _tracings:
        tracing, _ = _tracings.pop()
        tracing.shutdown()
