"""Logs in the kit's JSON schema (docs/logs.md), written by the C++ writer.

Two ways in, both ending in the same line:

    import logging, firebreak

    logging.getLogger().addHandler(firebreak.LogHandler())   # every library's logs
    logging.getLogger("shop").info("Order stored", extra={"event": "order_created",
                                                          "order_id": "o-17"})

    firebreak.log.info("order_created", "Order stored", order_id="o-17")  # no logging module

Context (request id, route, message id, job run id, trace ids) lives in a
contextvars.ContextVar, so it is right under asyncio (each task sees its own)
and per thread:

    with firebreak.log_context(request_id=rid, http_route="/orders/{id}"):
        ...   # every line logged here carries both, in the schema's order
"""

from __future__ import annotations

import contextvars
import itertools
import logging
from typing import Any

from . import _core
from ._util import each_call
from ._trace import _packed_current

__all__ = ["LogHandler", "log", "log_context", "current_log_context", "flush_logs"]

TRACE, DEBUG, INFO, WARN, ERROR, FATAL = range(6)

# (key, value) pairs, innermost last: an immutable tuple, so a task or thread
# that copied the context never sees another's changes.
_context: contextvars.ContextVar[tuple[tuple[str, Any], ...]] = contextvars.ContextVar(
    "firebreak_log_context", default=()
)


class log_context:
    """Adds fields to the log context for the duration of a `with` block (or
    of a decorated function). Inner values for a key replace outer ones. The
    fields are written after the service identity, in the schema's order:
    request_id, http_*, messaging_*, message_id, job, job_run_id, then others.
    """

    __slots__ = ("_fields", "_tokens")

    def __init__(self, **fields: Any) -> None:
        self._fields = tuple(fields.items())
        self._tokens: list[contextvars.Token] = []

    def __enter__(self) -> "log_context":
        self._tokens.append(_context.set(_context.get() + self._fields))
        return self

    def __exit__(self, *exc: object) -> None:
        _context.reset(self._tokens.pop())

    def __call__(self, fn):  # as a decorator: a fresh scope per call
        fields = dict(self._fields)
        return each_call(fn, lambda: log_context(**fields))


def current_log_context() -> dict[str, Any]:
    """The fields in scope here, as a dict (later keys win)."""
    return dict(_context.get())


def flush_logs() -> None:
    """Blocks until every line logged before the call is written."""
    _core.flush_logs()


def _writer(level: int, name: str):
    def write(event: str, msg: str = "", **fields: Any) -> None:
        # log_emit returns at once when the level is off, before reading
        # anything else.
        _core.log_emit(level, event, msg, _context.get() or None, fields or None,
                       _packed_current())

    write.__name__ = write.__qualname__ = name
    write.__doc__ = f"Writes a line at level {name}: event, optional human msg, then fields."
    return staticmethod(write)


class _Log:
    """firebreak.log.info(event, msg="", **fields) and the other levels:
    straight to the C++ writer, without the logging module's records."""

    __slots__ = ()

    @staticmethod
    def enabled(level: int) -> bool:
        return _core.log_enabled(level)

    trace = _writer(TRACE, "trace")
    debug = _writer(DEBUG, "debug")
    info = _writer(INFO, "info")
    warn = _writer(WARN, "warn")
    error = _writer(ERROR, "error")
    fatal = _writer(FATAL, "fatal")


log = _Log()

# A LogRecord's own attributes, set by its __init__ in this order; the
# `extra=` keys follow them in the record's __dict__ (makeRecord adds them
# after construction), so the fields are the items past the first
# _RECORD_SIZE, less what formatters add later.
_RECORD_OWN = logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys()
_RECORD_SIZE = len(_RECORD_OWN)
_RECORD_ATTRIBUTES = frozenset(_RECORD_OWN) | {"message", "asctime", "event", "taskName"}


def _level_of(levelno: int) -> int:
    if levelno >= logging.CRITICAL:
        return FATAL
    if levelno >= logging.ERROR:
        return ERROR
    if levelno >= logging.WARNING:
        return WARN
    if levelno >= logging.INFO:
        return INFO
    if levelno >= logging.DEBUG:
        return DEBUG
    return TRACE


class LogHandler(logging.Handler):
    """A logging.Handler that writes records in the kit's schema through the
    C++ writer (asynchronous, bounded, drops counted in
    log_records_dropped_total, console form on a terminal).

    - event: the record's `event` extra, else `default_event` ("log");
    - msg: record.getMessage();
    - fields: `logger` (the logger's name), then every `extra=` key, then,
      for a record with an exception, `error` (its text), `error_type` and
      `stack` (the formatted traceback);
    - the log context (log_context) as the C++ kit writes its scopes.

    FIREBREAK_LOG_LEVEL filters in C++ as well as the handler's own level.
    """

    def __init__(self, level: int = logging.NOTSET, default_event: str = "log") -> None:
        super().__init__(level)
        if not default_event:
            raise ValueError("default_event must not be empty")
        self.default_event = default_event

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = _level_of(record.levelno)
            if not _core.log_enabled(level):
                return
            attributes = record.__dict__
            event = attributes.get("event")
            if not isinstance(event, str) or not event:
                event = self.default_event
            fields: dict[str, Any] = {"logger": record.name}
            if len(attributes) > _RECORD_SIZE:
                extras = itertools.islice(attributes.items(), _RECORD_SIZE, None)
                if type(record) is not logging.LogRecord:
                    # A custom record class may set more in its __init__.
                    extras = iter(attributes.items())
                for key, value in extras:
                    if key not in _RECORD_ATTRIBUTES:
                        fields[key] = value
            if record.exc_info and record.exc_info[1] is not None:
                exc = record.exc_info[1]
                fields["error"] = str(exc)
                fields["error_type"] = type(exc).__qualname__
                fields["stack"] = logging.Formatter().formatException(record.exc_info)
            elif record.stack_info:
                fields["stack"] = record.stack_info
            _core.log_emit(level, event, record.getMessage(), _context.get() or None, fields,
                           _packed_current())
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        _core.flush_logs()
