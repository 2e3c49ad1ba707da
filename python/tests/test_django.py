"""Django integration: the route template Django resolved (never the raw
path) reaches the WSGI middleware's metrics and access log; unmatched
requests count as such; the view's log lines carry the route."""

import io

import pytest

django = pytest.importorskip("django")

from django.conf import settings  # noqa: E402

if not settings.configured:
    settings.configure(
        DEBUG=False, ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__, SECRET_KEY="test",
        MIDDLEWARE=["firebreak.django.RouteMiddleware"], USE_TZ=True,
        LOGGING_CONFIG=None)
    django.setup()

from django.http import HttpResponse, JsonResponse  # noqa: E402
from django.urls import include, path, re_path  # noqa: E402

import firebreak  # noqa: E402
import firebreak.django  # noqa: E402
from conftest import http_samples, run_logged  # noqa: E402


def get_order(request, order_id):
    return JsonResponse({"id": order_id})


def legacy(request, code):
    return HttpResponse("legacy")


def boom(request):
    raise RuntimeError("boom")


shop_patterns = [path("orders/<int:order_id>", get_order)]
urlpatterns = [
    path("api/v1/", include(shop_patterns)),
    re_path(r"^legacy/(?P<code>[a-z]+)/$", legacy),
    path("boom", boom),
]


def call(app, path_info, method="GET"):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path_info, "SERVER_NAME": "testserver",
               "SERVER_PORT": "80", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""),
               "SERVER_PROTOCOL": "HTTP/1.1", "QUERY_STRING": "", "wsgi.errors": io.StringIO()}
    status = []
    body = app(environ, lambda s, h, exc_info=None: status.append(s))
    data = b"".join(body)
    body.close()
    return int(status[0].split()[0]), data


def test_django_routes_are_templates_and_unmatched_paths_are_not_labels():
    from django.core.wsgi import get_wsgi_application

    registry = firebreak.Registry()
    app = firebreak.django.instrument(get_wsgi_application(), registry)
    for order in (1, 2, 3):
        assert call(app, f"/api/v1/orders/{order}") == (200, b'{"id": %d}' % order)
    assert call(app, "/legacy/abc/")[0] == 200
    assert call(app, "/no/such/page")[0] == 404
    assert call(app, "/boom")[0] == 500
    counts = http_samples(registry, "http_server_request_duration_seconds_count")
    assert counts == {
        ("GET", "/api/v1/orders/<int:order_id>", "200"): 3,
        ("GET", "/^legacy/(?P<code>[a-z]+)/$", "200"): 1,
        ("GET", "unmatched", "404"): 1,
        ("GET", "/boom", "500"): 1,
    }


def test_the_access_log_and_the_views_lines_carry_the_route(tmp_path):
    lines = run_logged(tmp_path, '''
        import io
        import django
        from django.conf import settings
        settings.configure(ALLOWED_HOSTS=["*"], ROOT_URLCONF="urls_for_test", SECRET_KEY="x",
                           MIDDLEWARE=["firebreak.django.RouteMiddleware"], LOGGING_CONFIG=None)
        import sys, types
        from django.http import HttpResponse
        from django.urls import path
        def view(request, order_id):
            firebreak.log.info("order_read", "", order_id=order_id)
            return HttpResponse("ok")
        sys.modules["urls_for_test"] = types.SimpleNamespace(
            urlpatterns=[path("orders/<int:order_id>", view)])
        django.setup()
        import firebreak.django
        from django.core.wsgi import get_wsgi_application
        app = firebreak.django.instrument(get_wsgi_application(), firebreak.Registry())
        body = app({"REQUEST_METHOD": "GET", "PATH_INFO": "/orders/7", "SERVER_NAME": "t",
                    "SERVER_PORT": "80", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
                    "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.errors": io.StringIO()},
                   lambda s, h, e=None: None)
        b"".join(body)
        body.close()
    ''')
    view = [line for line in lines if line.get("event") == "order_read"]
    access = [line for line in lines if line.get("event") == "http_request"]
    assert view and view[0]["http_route"] == "/orders/<int:order_id>"
    assert access and access[0]["http_route"] == "/orders/<int:order_id>"
    assert access[0]["http_response_status_code"] == 200
    assert "/orders/7" not in str(access[0])
