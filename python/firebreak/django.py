"""Django integration: the WSGI middleware (firebreak.wsgi) plus the route
template Django resolved (`request.resolver_match.route`, e.g.
"/orders/<int:order_id>"), never the raw path.

In wsgi.py:

    from django.core.wsgi import get_wsgi_application
    import firebreak.django
    application = firebreak.django.instrument(get_wsgi_application(), service)

and in settings.py, early in MIDDLEWARE:

    MIDDLEWARE = ["firebreak.django.RouteMiddleware", ...]

Once Django has resolved the URL, the route (with a leading "/"; for an
include(), the joined pattern) is written to environ["firebreak.route"] for
the metrics and the access log, and added to the log context (http_route)
for the lines the view logs. Requests that match no pattern (404) count as
http_route="unmatched".
"""

from __future__ import annotations

from typing import Any, Callable

from . import wsgi
from ._logs import _context

__all__ = ["RouteMiddleware", "instrument", "route_of_match"]


def instrument(application: Callable[..., Any], service_or_registry: Any,
               **options: Any) -> wsgi.Middleware:
    """Wraps Django's WSGI application in firebreak.wsgi.Middleware
    (`options` are its keyword arguments). Add RouteMiddleware to
    MIDDLEWARE for the route."""
    return wsgi.Middleware(application, service_or_registry, **options)


def route_of_match(match: Any) -> str:
    """The route template of a ResolverMatch: "/" + its `route` ("" when
    there is none)."""
    route = getattr(match, "route", None) if match is not None else None
    if not isinstance(route, str):
        return ""
    return "/" + route.lstrip("/")


class RouteMiddleware:
    """Django middleware that hands the resolved route to the WSGI middleware
    (request.META is the WSGI environ) and to the log context."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        request._firebreak_token = None
        try:
            return self.get_response(request)
        finally:
            token = request._firebreak_token
            if token is not None:
                _context.reset(token)

    def process_view(self, request: Any, view_func: Any, view_args: Any,
                     view_kwargs: Any) -> None:
        route = route_of_match(getattr(request, "resolver_match", None))
        request.META[wsgi.ROUTE_KEY] = route
        if route:
            request._firebreak_token = _context.set(_context.get() + (("http_route", route),))
        return None
