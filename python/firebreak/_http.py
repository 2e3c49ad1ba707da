"""What the WSGI and ASGI middleware share: the request's id and context,
and its end (metrics through the C++ observer, the access-log line)."""

from __future__ import annotations

from typing import Any, Callable

from . import _core
from ._logs import ERROR, INFO, _context

Context = tuple[tuple[str, Any], ...]


class MiddlewareOptions:
    """The options both middleware take (firebreak.wsgi, firebreak.asgi)."""

    def __init__(
        self,
        app: Any,
        service_or_registry: Any,
        *,
        route_of: Callable[[dict[str, Any]], str] | None = None,
        access_log: bool = True,
        trust_request_id: bool = True,
        unmatched_route: str = "unmatched",
    ) -> None:
        self.app = app
        self.route_of = route_of
        self.access_log = access_log
        self.trust_request_id = trust_request_id
        self.unmatched_route = unmatched_route
        # The registry's families (registered once; another observer on the
        # same registry records into the same series).
        self._observer = _core.HttpObserver(registry_of(service_or_registry),
                                            unmatched_route=unmatched_route)


def registry_of(target: Any) -> Any:
    """A Service's registry, or the registry itself."""
    return getattr(target, "registry", target)


def request_id_for(given: str, trust: bool) -> str:
    """The client's request id when `trust` and it is sane, else a new one."""
    if trust and given and _core.is_valid_request_id(given):
        return given
    return _core.generate_request_id()


def request_context(method: str, request_id: str) -> tuple[str, Context]:
    """The method as metrics record it, and the log context of a request
    while the application runs."""
    normalized = _core.normalize_http_method(method)
    context: Context = (("request_id", request_id), ("http_request_method", normalized))
    if normalized != method:
        context += (("http_request_method_original", method[:64]),)
    return normalized, context


def start_server_span(method: str, normalized: str, traceparent: str, tracestate: str,
                      path: str, client_address: str) -> _core.Span:
    """The request's server span, as the C++ HttpObserver starts it: its
    parent is the context in traceparent / tracestate (a new trace when
    missing or malformed), its name the method until the route is known."""
    headers = {"traceparent": traceparent} if traceparent else {}
    if traceparent and tracestate:
        headers["tracestate"] = tracestate
    s = _core.start_span(normalized, "server", _core.extract(headers))
    if s.is_recording:
        s.set_attribute("http.request.method", normalized)
        if normalized != method:
            s.set_attribute("http.request.method_original", method[:64])
        if path:
            s.set_attribute("url.path", path)
        if client_address:
            s.set_attribute("client.address", client_address)
    return s


def end_server_span(s: _core.Span, normalized: str, route: str, status: int) -> None:
    if s.is_recording:
        if route:
            s.set_name(f"{normalized} {route}")
            s.set_attribute("http.route", route)
        s.set_attribute("http.response.status_code", status)
        if status >= 500:
            s.set_status("error")
    s.end()


def finish_request(observer: Any, *, method: str, normalized: str, route: str, status: int,
                   seconds: float, context: Context, unmatched_route: str, access_log: bool,
                   request_size: int, response_size: int, client_address: str,
                   span: _core.Span) -> None:
    """Records the request's metrics, ends its span and writes its
    `http_request` line (error for 5xx, with the span's trace ids), in the
    C++ kit's key order."""
    observer.request_finished(method, route, status, seconds)
    packed = span.context.packed
    end_server_span(span, normalized, route, status)
    if not access_log:
        return
    level = ERROR if status >= 500 else INFO
    if not _core.log_enabled(level):
        return
    _core.log_emit(level, "http_request", "",
                   _context.get() + context + (("http_route", route or unmatched_route),), {
        "http_response_status_code": status,
        "duration_s": seconds,
        "http_request_body_size": request_size,
        "http_response_body_size": response_size,
        "client_address": client_address,
    }, packed)
