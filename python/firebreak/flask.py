"""Flask integration: the WSGI middleware (firebreak.wsgi) plus the route
template Flask matched (`request.url_rule.rule`, e.g. "/orders/<order_id>"),
never the raw path.

    app = flask.Flask(__name__)
    firebreak.flask.instrument(app, service)

After routing, the route is written to environ["firebreak.route"] for the
metrics and the access log, and added to the log context (http_route) for
the lines the view logs. Requests that match no route (404, 405) count as
http_route="unmatched".
"""

from __future__ import annotations

from typing import Any

import flask

from . import wsgi
from ._logs import _context

__all__ = ["instrument"]

_TOKEN = "_firebreak_log_token"


def instrument(app: flask.Flask, service_or_registry: Any, **options: Any) -> flask.Flask:
    """Wraps app.wsgi_app in firebreak.wsgi.Middleware (`options` are its
    keyword arguments) and registers the hooks that give it the route.
    Returns the app."""
    app.wsgi_app = wsgi.Middleware(app.wsgi_app, service_or_registry, **options)

    # A URL value preprocessor runs after routing and before every
    # before_request function (one of which may answer the request itself).
    @app.url_value_preprocessor
    def _firebreak_route(_endpoint: str | None, _values: dict[str, Any] | None) -> None:
        rule = flask.request.url_rule
        route = rule.rule if rule is not None else ""
        flask.request.environ[wsgi.ROUTE_KEY] = route
        if route:
            setattr(flask.g, _TOKEN, _context.set(_context.get() + (("http_route", route),)))

    @app.teardown_request
    def _firebreak_context(_exc: BaseException | None) -> None:
        token = getattr(flask.g, _TOKEN, None)
        if token is not None:
            _context.reset(token)

    return app
