"""ASGI middleware on a Starlette app: route templates (mounts included),
request ids, context per request when requests interleave on one thread, the
access line, and a real uvicorn server."""

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import http_samples, run_logged

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import asgi_app  # noqa: E402


async def call(app, method, path, headers=()):
    """One HTTP request through an ASGI app: (status, headers, body)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "client": ("10.0.0.7", 5000),
             "server": ("test", 80),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers]}
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body


def test_starlette_routes_mounts_and_failures_are_recorded_by_template():
    import firebreak
    import firebreak.asgi

    registry = firebreak.Registry()
    app = firebreak.asgi.Middleware(asgi_app.inner, registry)

    async def main():
        for order_id in ("o-1", "o-2"):
            assert (await call(app, "GET", f"/orders/{order_id}"))[0] == 200
        assert (await call(app, "GET", "/api/items/9"))[0] == 200
        assert (await call(app, "GET", "/nowhere/1"))[0] == 404
        assert (await call(app, "POST", "/orders/o-1"))[0] == 405
        with pytest.raises(RuntimeError):
            await call(app, "GET", "/boom")
    asyncio.run(main())
    assert http_samples(registry, "http_server_request_duration_seconds_count") == {
        ("GET", "/orders/{order_id}", "200"): 2,
        ("GET", "/api/items/{item_id}", "200"): 1,
        ("GET", "unmatched", "404"): 1,
        ("POST", "unmatched", "405"): 1,
        ("GET", "/boom", "500"): 1,
    }
    body, _ = registry.expose()
    assert b"o-1" not in body and b"nowhere" not in body


def test_the_request_id_is_taken_when_sane_and_echoed():
    async def main():
        _, headers, _ = await call(asgi_app.app, "GET", "/orders/o-1",
                                   headers=[("X-Request-Id", "req-42")])
        assert headers[b"x-request-id"] == b"req-42"
        _, headers, _ = await call(asgi_app.app, "GET", "/orders/o-1",
                                   headers=[("X-Request-Id", "no spaces please")])
        assert len(headers[b"x-request-id"]) == 36
    asyncio.run(main())


def test_interleaved_requests_on_one_thread_keep_their_own_context(tmp_path):
    lines = run_logged(tmp_path, f"""
        import asyncio, sys
        sys.path.insert(0, {HERE!r})
        import asgi_app
        from test_asgi import call

        async def main():
            await asyncio.gather(*(
                call(asgi_app.app, "GET", f"/orders/o-{{i}}", headers=[("X-Request-Id", f"req-{{i}}")])
                for i in range(30)))
        asyncio.run(main())
        firebreak.log.info("after")
    """)
    reads = [l for l in lines if l["event"] == "order_read"]
    assert len(reads) == 30
    for line in reads:
        assert line["request_id"] == line["seen"] == "req-" + line["order_id"][2:]
        assert line["http_request_method"] == "GET"
    access = [l for l in lines if l["event"] == "http_request"]
    assert len(access) == 30
    assert {l["request_id"] for l in access} == {f"req-{i}" for i in range(30)}
    assert all(l["http_route"] == "/orders/{order_id}" for l in access)
    assert all(l["client_address"] == "10.0.0.7" and l["http_response_body_size"] > 0
               for l in access)
    [after] = [l for l in lines if l["event"] == "after"]
    assert "request_id" not in after


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_under_uvicorn(tmp_path):
    port = free_port()
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""),
               FIREBREAK_LOG_FILE=str(tmp_path / "out.log"), FIREBREAK_LOG_FORMAT="json")
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "asgi_app:app", "--host", "127.0.0.1", "--port",
         str(port), "--no-access-log", "--lifespan", "off"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(base + "/orders/o-1", timeout=2) as r:
                    assert r.status == 200 and len(r.headers["x-request-id"]) == 36
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        with urllib.request.urlopen(base + "/metrics", timeout=5) as r:
            text = r.read().decode()
        assert ('http_server_request_duration_seconds_count{http_request_method="GET",'
                'http_route="/orders/{order_id}",http_response_status_code="200"} 1') in text
    finally:
        server.terminate()
        server.wait(timeout=10)
