"""WSGI middleware: what every request of an API records, as the C++ kit's
HttpObserver does (docs/metrics.md "HTTP API", docs/logs.md).

    app.wsgi_app = firebreak.wsgi.Middleware(app.wsgi_app, service)   # any WSGI app
    firebreak.flask.instrument(app, service)                          # Flask: also the route

Per request:
- metrics: http_server_request_duration_seconds{http_request_method,
  http_route, http_response_status_code} and http_server_active_requests
  {http_request_method}, recorded by the C++ observer (methods outside the
  standard set as "_OTHER", a request no route matched as
  http_route="unmatched");
- a request id: the client's X-Request-Id when sane, else a new UUID v4,
  echoed in the response's X-Request-Id and kept in
  environ["firebreak.request_id"];
- log context (firebreak.log_context) with request_id and
  http_request_method while the application runs, http_route too once the
  framework integration knows it;
- one `http_request` access-log line when the response is closed (error for
  5xx): the context above plus http_response_status_code, duration_s,
  http_request_body_size, http_response_body_size, client_address. Never the
  raw path.

The route template comes from the framework, never from the path:
environ["firebreak.route"] (set by firebreak.flask, or by your own hook once
routing is done; "" when no route matched), else `route_of(environ)`, else
the request counts as unmatched.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Iterator

from . import _trace
from ._http import (MiddlewareOptions, finish_request, request_context, request_id_for,
                    start_server_span)
from ._logs import _context

__all__ = ["Middleware", "ROUTE_KEY", "REQUEST_ID_KEY"]

ROUTE_KEY = "firebreak.route"
REQUEST_ID_KEY = "firebreak.request_id"
REQUEST_ID_HEADER = "X-Request-Id"


class Middleware(MiddlewareOptions):
    """Wraps a WSGI application (see the module's docstring)."""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        started = time.perf_counter()
        method = environ.get("REQUEST_METHOD", "GET")
        request_id = request_id_for(environ.get("HTTP_X_REQUEST_ID", ""), self.trust_request_id)
        environ[REQUEST_ID_KEY] = request_id
        normalized, context = request_context(method, request_id)
        span = start_server_span(method, normalized, environ.get("HTTP_TRACEPARENT", ""),
                                 environ.get("HTTP_TRACESTATE", ""), environ.get("PATH_INFO", ""),
                                 environ.get("REMOTE_ADDR", ""))
        request = _Request(self, environ, method, normalized, context, started, span)

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            request.status = _status_code(status)
            headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status, headers, exc_info)

        self._observer.request_started(method)
        token = _context.set(_context.get() + context)
        span_token = _trace.activate(span)
        try:
            body = self.app(environ, start)
        except BaseException as e:
            request.status = 500
            _trace.record_exception(span, e)
            request.finish()
            raise
        finally:
            _trace.deactivate(span_token)
            _context.reset(token)
        return _Body(body, request)


def _status_code(status: str) -> int:
    try:
        return int(status.split(" ", 1)[0])
    except ValueError:
        return 0


class _Request:
    __slots__ = ("middleware", "environ", "method", "normalized", "context", "started", "span",
                 "status", "sent", "finished")

    def __init__(self, middleware: Middleware, environ: dict[str, Any], method: str,
                 normalized: str, context: tuple[tuple[str, Any], ...], started: float,
                 span: Any) -> None:
        self.middleware = middleware
        self.environ = environ
        self.method = method
        self.normalized = normalized
        self.context = context
        self.span = span
        self.started = started
        self.status = 500  # until start_response says otherwise
        self.sent = 0
        self.finished = False

    def route(self) -> str:
        route = self.environ.get(ROUTE_KEY)
        if route is None and self.middleware.route_of is not None:
            try:
                route = self.middleware.route_of(self.environ)
            except Exception:
                route = ""
        return route if isinstance(route, str) else ""

    def finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        seconds = time.perf_counter() - self.started
        try:
            request_size = int(self.environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            request_size = 0
        m = self.middleware
        finish_request(m._observer, method=self.method, normalized=self.normalized,
                       route=self.route(), status=self.status,
                       seconds=seconds, context=self.context, unmatched_route=m.unmatched_route,
                       access_log=m.access_log, request_size=request_size,
                       response_size=self.sent, client_address=self.environ.get("REMOTE_ADDR", ""),
                       span=self.span)


class _Body:
    """The application's response, counted as it is sent; the request ends
    when the server closes it (PEP 3333), or when it is exhausted."""

    __slots__ = ("_body", "_request")

    def __init__(self, body: Iterable[bytes], request: _Request) -> None:
        self._body = body
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        request = self._request
        try:
            for chunk in self._body:
                request.sent += len(chunk)
                yield chunk
        except GeneratorExit:
            raise  # the server stopped reading: close() ends the request
        except BaseException:
            request.status = 500
            request.finish()
            raise
        request.finish()

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._request.finish()
