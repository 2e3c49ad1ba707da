"""Service: identity from arguments and environment, the admin endpoints over
real HTTP, the start-up gate and the drain sequence."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

import firebreak
from conftest import http_get


def identity(s):
    return (s.name, s.version, s.environment, s.workload)


def test_identity_from_arguments():
    s = firebreak.Service(name="checkout", version="1.4.2", environment="staging",
                          workload="worker", admin_address="127.0.0.1:0")
    assert identity(s) == ("checkout", "1.4.2", "staging", "worker")


def test_identity_defaults():
    s = firebreak.Service(admin_address="127.0.0.1:0")
    assert s.name.startswith("unknown_service:")
    assert (s.version, s.environment, s.workload) == ("unknown", "unknown", "api")


def test_environment_overrides_arguments(monkeypatch):
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES",
                       "service.name=from-otel,service.version=2.0,deployment.environment=prod")
    s = firebreak.Service(name="arg", version="1", workload="api", admin_address="127.0.0.1:0")
    assert identity(s) == ("from-otel", "2.0", "prod", "api")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "otel-name")
    assert firebreak.Service(name="arg", admin_address="127.0.0.1:0").name == "otel-name"
    monkeypatch.setenv("FIREBREAK_SERVICE_NAME", "fb-name")
    monkeypatch.setenv("FIREBREAK_SERVICE_VERSION", "3.0")
    monkeypatch.setenv("FIREBREAK_ENVIRONMENT", "canary")
    monkeypatch.setenv("FIREBREAK_WORKLOAD", "job")
    s = firebreak.Service(name="arg", admin_address="127.0.0.1:0")
    assert identity(s) == ("fb-name", "3.0", "canary", "job")


def test_admin_address_from_environment(monkeypatch):
    monkeypatch.setenv("FIREBREAK_ADMIN_ADDR", "127.0.0.1:0")
    with firebreak.Service(name="env-addr", admin_address="127.0.0.1:1") as s:
        assert http_get(s.admin_address, "/livez")[0] == 200


def test_bad_configuration_raises_value_error(monkeypatch):
    with pytest.raises(ValueError, match="workload"):
        firebreak.Service(workload="cron")
    with pytest.raises(ValueError, match="drain_time"):
        firebreak.Service(drain_time=-1)
    monkeypatch.setenv("FIREBREAK_WORKLOAD", "daemon")
    with pytest.raises(ValueError, match="FIREBREAK_WORKLOAD"):
        firebreak.Service(name="x")


def test_admin_port_in_use_raises_admin_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        s = firebreak.Service(admin_address=f"127.0.0.1:{taken.getsockname()[1]}")
        with pytest.raises(firebreak.AdminError, match="cannot listen") as info:
            s.start()
        assert isinstance(info.value, OSError)


def test_admin_endpoints_and_start_up_gate(service):
    address = service.admin_address
    assert address.startswith("127.0.0.1:")
    assert http_get(address, "/livez")[0] == 200
    status, _, body = http_get(address, "/readyz?verbose")
    assert status == 503 and b"[-]startup failed" in body
    service.mark_started()
    assert http_get(address, "/readyz")[:3:2] == (200, b"ok")
    assert http_get(address, "/healthz")[0] == 200
    assert service.health.ready and service.health.started

    status, headers, body = http_get(address, "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in parse_text(body.decode())}
    info = families["target_info"].samples[0]
    assert info.labels == {"service_name": "pytest", "service_version": "1.0.0",
                           "deployment_environment": "unknown", "workload": "api"}
    assert families["service_ready"].samples[0].value == 1
    assert "process_resident_memory_bytes" in families

    status, headers, body = http_get(
        address, "/metrics", {"Accept": "application/openmetrics-text; version=1.0.0"})
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")
    names = {f.name for f in parse_openmetrics(body.decode())}  # the whole scrape parses
    assert {"target_info", "process_cpu_seconds", "health_check_duration_seconds"} <= names


def test_metrics_registered_in_python_are_served(service):
    service.registry.counter("orders_total", "Orders.", labels=["channel"]).labels("web").inc(4)
    service.registry.gauge_callback("queue_length", "Queued.", lambda: 12)
    body = http_get(service.admin_address, "/metrics")[2].decode()
    assert 'orders_total{channel="web"} 4' in body
    assert "queue_length 12" in body


def test_drain_makes_readiness_fail_and_wait_returns_after_drain_time():
    s = firebreak.Service(name="drainer", admin_address="127.0.0.1:0", drain_time=0.5)
    s.start()
    s.mark_started()
    assert http_get(s.admin_address, "/readyz")[0] == 200
    assert not s.stop_requested and not s.wait_for_stop(0.01)
    s.drain()
    assert s.stop_requested and s.wait_for_stop(0)
    status, _, body = http_get(s.admin_address, "/readyz?verbose")
    assert status == 503 and b"[-]shutdown failed: draining" in body
    assert http_get(s.admin_address, "/livez")[0] == 200  # still alive while draining
    began = time.monotonic()
    assert s.wait() == 0
    assert 0.3 < time.monotonic() - began < 3
    with pytest.raises(OSError):  # the admin server has stopped
        http_get(s.admin_address, "/livez", timeout=1)


def test_second_drain_cuts_the_drain_short():
    s = firebreak.Service(admin_address="127.0.0.1:0", drain_time=30)
    s.start()
    began = time.monotonic()
    s.drain()
    s.drain()
    assert s.shutdown() == 0
    assert time.monotonic() - began < 5


def test_drain_on_signal_chains_the_servers_handler():
    received = []
    previous = signal.signal(signal.SIGUSR1, lambda signo, frame: received.append(signo))
    try:
        s = firebreak.Service(admin_address="127.0.0.1:0", drain_time=0.05)
        s.start()
        s.mark_started()
        s.drain_on_signal(signal.SIGUSR1)
        os.kill(os.getpid(), signal.SIGUSR1)
        time.sleep(0.05)  # the handler runs between bytecodes of the main thread
        assert received == [signal.SIGUSR1]  # the server's own handler still ran
        assert s.stop_requested
        assert http_get(s.admin_address, "/readyz")[0] == 503
        assert s.wait() == 0
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_context_manager_starts_and_stops():
    with firebreak.Service(admin_address="127.0.0.1:0", drain_time=30) as s:
        address = s.admin_address
        assert http_get(address, "/livez")[0] == 200
    with pytest.raises(OSError):
        http_get(address, "/livez", timeout=1)


def test_a_running_service_is_stopped_cleanly_at_interpreter_exit(tmp_path):
    """A script that never stops its Service, whose check closes over the
    service (a cycle the garbage collector cannot see through C++), with a
    check and a callback still being called: it exits 0, stopped by the
    atexit hook before Python finalizes."""
    script = tmp_path / "app.py"
    script.write_text(
        "import time, urllib.request, firebreak\n"
        "service = firebreak.Service(name='exiting', admin_address='127.0.0.1:0')\n"
        "service.health.add_readiness('self', lambda: service.stop_requested is False,"
        " interval=0.01)\n"
        "service.registry.gauge_callback('busy', 'x', lambda: sum(range(1000)))\n"
        "service.start()\n"
        "service.mark_started()\n"
        "urllib.request.urlopen('http://' + service.admin_address + '/metrics').read()\n"
        "time.sleep(0.1)\n")
    env = dict(os.environ)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=30, env=env)
    assert result.returncode == 0, result.stderr
    assert '"event":"service_stopped"' in result.stdout


def test_admin_handlers_answer_from_python_and_errors_become_500(service):
    seen = []

    def fault(method, path, query, headers, body):
        seen.append((method, path, query, headers.get("Content-Type"), body))
        return 200, '{"ok": true}\n', "application/json"

    service.add_admin_handler("POST", "/fault", fault)
    service.add_admin_handler("GET", "/boom", lambda *_: 1 / 0)
    service.add_admin_handler("GET", "/wrong", lambda *_: "not a tuple")
    request = urllib.request.Request(f"http://{service.admin_address}/fault?dry=1",
                                     data=b'{"slow_ms": 5}', method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json"
        assert response.read() == b'{"ok": true}\n'
    assert seen == [("POST", "/fault", {"dry": "1"}, "application/json", b'{"slow_ms": 5}')]
    status, _, body = http_get(service.admin_address, "/boom")
    assert status == 500 and b"ZeroDivisionError" in body
    assert http_get(service.admin_address, "/wrong")[0] == 500
    with pytest.raises(firebreak.AdminError):
        service.add_admin_handler("POST", "/fault", fault)  # taken
    with pytest.raises(TypeError):
        service.add_admin_handler("GET", "/x", "not callable")
