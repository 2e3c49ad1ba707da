"""ASGI middleware (Starlette, FastAPI, any ASGI 3 app): what every request
of an API records, as firebreak.wsgi does for WSGI and the C++ kit's
HttpObserver for C++ servers.

    app = starlette.applications.Starlette(routes=[...])
    app = firebreak.asgi.Middleware(app, service)          # outermost

Per HTTP request: the RED metrics (by method, route template, status), a
request id (the client's X-Request-Id when sane, else a UUID v4; echoed in
the response's x-request-id and kept in scope["firebreak.request_id"]), log
context while the application runs (request_id, http_request_method), and
one `http_request` access-log line at the end. Context lives in
contextvars, and an ASGI server runs each request in its own task, so
requests interleaved on one thread never see each other's context.

The route template: `route_of(scope)` when given; else FastAPI's
scope["route"].path; else the Starlette route that matches the request
(Mount prefixes joined), found again after the application answered; else
unmatched. Never the raw path. Lifespan and websocket scopes pass through.
"""

from __future__ import annotations

import time
from typing import Any, Awaitable, Callable

from . import _trace
from ._http import (MiddlewareOptions, finish_request, request_context, request_id_for,
                    start_server_span)
from ._logs import _context

__all__ = ["Middleware", "route_from_scope"]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def route_from_scope(scope: Scope, request: Scope | None = None) -> str:
    """The route template of a request a Starlette or FastAPI app routed
    ("" when none matched fully): FastAPI's scope["route"], else the
    Starlette app's routes matched against `request`, the scope as it came
    in (routers rewrite path and root_path in place as they descend)."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    routes = getattr(scope.get("app"), "routes", None)
    if not routes:
        return ""
    try:
        return _match(routes, request if request is not None else scope, "")
    except Exception:
        return ""


def _match(routes: Any, scope: Scope, prefix: str) -> str:
    from starlette.routing import Match, Mount

    for route in routes:
        match, child = route.matches(scope)
        if match != Match.FULL:
            continue
        if isinstance(route, Mount) and getattr(route, "routes", None):
            inner = dict(scope)
            inner.update(child)
            return _match(route.routes, inner, prefix + route.path)
        return prefix + getattr(route, "path", "")
    return ""


class Middleware(MiddlewareOptions):
    """Wraps an ASGI 3 application (see the module's docstring)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method = scope.get("method", "GET")
        given = traceparent = tracestate = ""
        request_size = 0
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                given = value.decode("latin-1")
            elif name == b"traceparent":
                traceparent = value.decode("latin-1")
            elif name == b"tracestate":
                tracestate = value.decode("latin-1")
            elif name == b"content-length":
                try:
                    request_size = int(value)
                except ValueError:
                    pass
        request_id = request_id_for(given, self.trust_request_id)
        scope["firebreak.request_id"] = request_id
        normalized, context = request_context(method, request_id)
        client = scope.get("client")
        client_address = client[0] if client else ""
        span = start_server_span(method, normalized, traceparent, tracestate,
                                 scope.get("path", ""), client_address)
        state = {"status": 500, "sent": 0}
        header = (b"x-request-id", request_id.encode())

        async def send_counted(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                state["status"] = int(message.get("status", 500))
                message = dict(message)
                message["headers"] = list(message.get("headers", ())) + [header]
            elif message["type"] == "http.response.body":
                state["sent"] += len(message.get("body", b""))
            await send(message)

        request = dict(scope) if self.route_of is None else None
        self._observer.request_started(method)
        token = _context.set(_context.get() + context)
        span_token = _trace.activate(span)
        try:
            await self.app(scope, receive, send_counted)
        except BaseException as e:
            state["status"] = 500
            _trace.record_exception(span, e)
            raise
        finally:
            _trace.deactivate(span_token)
            _context.reset(token)
            try:
                route = (self.route_of(scope) if self.route_of is not None
                         else route_from_scope(scope, request))
            except Exception:
                route = ""
            finish_request(self._observer, method=method, normalized=normalized,
                           route=route if isinstance(route, str) else "",
                           status=state["status"], seconds=time.perf_counter() - started,
                           context=context, unmatched_route=self.unmatched_route,
                           access_log=self.access_log, request_size=request_size,
                           response_size=state["sent"], client_address=client_address, span=span)
