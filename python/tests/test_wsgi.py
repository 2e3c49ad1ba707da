"""WSGI middleware and the Flask integration: RED metrics in the registry
(through the C++ observer), the request id, the route template (never the
raw path), the log context of the view's lines and the access-log line."""

import json

import flask
import pytest
from werkzeug.test import Client

import firebreak
import firebreak.flask
import firebreak.wsgi
from conftest import http_samples, run_logged

UUID_LENGTH = 36


def fetch(client, path, method="GET", **kwargs):
    """A request as a server makes it: the body read, then closed (PEP 3333)."""
    response = client.open(path, method=method, **kwargs)
    response.get_data()
    response.close()
    return response


def make_app(registry):
    app = flask.Flask("shop")

    @app.get("/orders/<order_id>")
    def get_order(order_id):
        return {"id": order_id}

    @app.post("/orders")
    def create_order():
        return {"created": True}, 201

    @app.get("/boom")
    def boom():
        raise RuntimeError("boom")

    @app.get("/stream")
    def stream():
        return flask.Response((b"x" * 10 for _ in range(3)), mimetype="text/plain")

    firebreak.flask.instrument(app, registry)
    return app


def test_flask_requests_are_recorded_by_route_template_method_and_status():
    registry = firebreak.Registry()
    client = Client(make_app(registry))
    for order_id in ("o-1", "o-2", "o-3"):
        assert fetch(client, f"/orders/{order_id}").status_code == 200
    assert fetch(client, "/orders", "POST").status_code == 201
    assert fetch(client, "/nothing/here/1").status_code == 404
    assert fetch(client, "/nothing/here/2").status_code == 404
    assert fetch(client, "/orders/o-1", "DELETE").status_code == 405
    assert fetch(client, "/orders", "BREW").status_code == 405
    assert fetch(client, "/boom").status_code == 500
    assert fetch(client, "/stream").get_data() == b"x" * 30

    counts = http_samples(registry, "http_server_request_duration_seconds_count")
    assert counts == {
        ("GET", "/orders/<order_id>", "200"): 3,
        ("POST", "/orders", "201"): 1,
        ("GET", "unmatched", "404"): 2,
        ("DELETE", "unmatched", "405"): 1,
        ("_OTHER", "unmatched", "405"): 1,
        ("GET", "/boom", "500"): 1,
        ("GET", "/stream", "200"): 1,
    }
    body, _ = registry.expose()
    assert b"o-1" not in body and b"nothing" not in body  # never the raw path
    active = http_samples(registry, "http_server_active_requests")
    assert active and all(v == 0 for v in active.values())


def test_the_request_id_is_taken_when_sane_and_echoed_else_generated():
    app = make_app(firebreak.Registry())
    client = Client(app)
    r = client.get("/orders/o-1", headers={"X-Request-Id": "req-42"})
    assert r.headers["X-Request-Id"] == "req-42"
    r = client.get("/orders/o-1", headers={"X-Request-Id": "bad id with spaces"})
    assert len(r.headers["X-Request-Id"]) == UUID_LENGTH
    r = client.get("/orders/o-1")
    assert len(r.headers["X-Request-Id"]) == UUID_LENGTH
    untrusting = flask.Flask("x")
    untrusting.get("/")(lambda: "ok")
    firebreak.flask.instrument(untrusting, firebreak.Registry(), trust_request_id=False)
    r = Client(untrusting).get("/", headers={"X-Request-Id": "req-42"})
    assert r.headers["X-Request-Id"] != "req-42"


def test_a_plain_wsgi_app_takes_its_route_from_route_of():
    registry = firebreak.Registry()

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hello"]

    routes = {"/health": "/health"}
    wrapped = firebreak.wsgi.Middleware(app, registry,
                                        route_of=lambda env: routes.get(env["PATH_INFO"], ""))
    client = Client(wrapped)
    fetch(client, "/health")
    fetch(client, "/secret/123")
    assert http_samples(registry, "http_server_request_duration_seconds_count") == {
        ("GET", "/health", "200"): 1, ("GET", "unmatched", "200"): 1}


def test_the_views_lines_carry_the_context_and_each_request_has_one_access_line(tmp_path):
    lines = run_logged(tmp_path, """
        import flask, firebreak.flask
        from werkzeug.test import Client
        logging.getLogger().addHandler(firebreak.LogHandler())
        logging.getLogger().setLevel(logging.INFO)
        app = flask.Flask("shop")

        @app.get("/orders/<order_id>")
        def get_order(order_id):
            logging.getLogger("shop").info("read", extra={"event": "order_read"})
            return "ok"

        @app.get("/boom")
        def boom():
            raise RuntimeError("boom")

        firebreak.flask.instrument(app, firebreak.Registry())
        c = Client(app)
        for path, kwargs in [("/orders/o-17?secret=1", dict(headers={"X-Request-Id": "req-9"},
                                                            environ_base={"REMOTE_ADDR": "10.0.0.7"})),
                             ("/boom", {}), ("/missing", {})]:
            r = c.get(path, **kwargs)
            r.get_data()
            r.close()
        firebreak.log.info("after")
    """)
    [read] = [l for l in lines if l["event"] == "order_read"]
    # The view's line and its request's access line share the server span.
    assert (read["request_id"], read["http_request_method"], read["http_route"]) == (
        "req-9", "GET", "/orders/<order_id>")
    access = [l for l in lines if l["event"] == "http_request"]
    assert len(access) == 3
    first = access[0]
    keys = list(first)
    tail = keys[keys.index("workload") + 1:]
    assert tail == ["trace_id", "span_id", "trace_flags",
                    "request_id", "http_request_method", "http_route",
                    "http_response_status_code", "duration_s", "http_request_body_size",
                    "http_response_body_size", "client_address"]
    assert (first["trace_id"], first["span_id"]) == (read["trace_id"], read["span_id"])
    assert first["http_response_status_code"] == 200 and first["level"] == "info"
    assert first["http_response_body_size"] == 2
    assert first["client_address"] == "10.0.0.7"
    assert first["duration_s"] > 0
    assert access[1]["http_response_status_code"] == 500 and access[1]["level"] == "error"
    assert access[2]["http_route"] == "unmatched"
    assert all("o-17" not in json.dumps(l) and "secret" not in json.dumps(l) for l in access)
    [after] = [l for l in lines if l["event"] == "after"]
    assert "request_id" not in after and "http_route" not in after


def test_an_app_that_raises_or_fails_mid_body_counts_as_500_and_leaves_no_active_request():
    registry = firebreak.Registry()

    def raising(environ, start_response):
        raise RuntimeError("before start_response")

    def failing_body(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"partial"
        raise RuntimeError("mid body")

    for app in (raising, failing_body):
        client = Client(firebreak.wsgi.Middleware(app, registry, route_of=lambda env: "/x"))
        with pytest.raises(RuntimeError):
            fetch(client, "/x")
    assert http_samples(registry, "http_server_request_duration_seconds_count") == {
        ("GET", "/x", "500"): 2}
    active = http_samples(registry, "http_server_active_requests")
    assert all(v == 0 for v in active.values())
