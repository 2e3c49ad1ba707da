"""Health checks written in Python: results, reasons, exceptions, timeouts,
caching, and the GIL: C++ threads serve probes and scrapes while Python is
busy or blocked."""

import ctypes
import subprocess
import threading
import time

import pytest

import firebreak
from conftest import http_get


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def check_reason(service, name):
    for c in service.health.report("readiness")["checks"] + \
            service.health.report("liveness")["checks"]:
        if c["name"] == name and c["ran"]:
            return c["ok"], c["reason"]
    return None


@pytest.mark.parametrize("result, expected", [
    (None, (True, "")),
    (True, (True, "")),
    (False, (False, "")),
    ((False, "replica lag 30s"), (False, "replica lag 30s")),
    ((True, "ignored"), (True, "")),
])
def test_check_results(service, result, expected):
    service.health.add_readiness("dep", lambda: result, interval=0.05)
    assert wait_until(lambda: check_reason(service, "dep") is not None)
    assert check_reason(service, "dep") == expected


def test_exception_fails_the_check_with_its_message(service):
    def broken():
        raise ConnectionError("db refused")

    service.health.add_readiness("db", broken, interval=0.05)
    service.mark_started()
    assert wait_until(lambda: check_reason(service, "db") is not None)
    assert check_reason(service, "db") == (False, "threw: ConnectionError: db refused")
    status, _, body = http_get(service.admin_address, "/readyz?verbose")
    assert status == 503 and b"[-]db failed: threw: ConnectionError: db refused" in body


def test_timeout_fails_a_slow_check_and_probes_stay_fast(service):
    release = threading.Event()
    service.health.add_readiness("slow", lambda: release.wait(10), timeout=0.2, interval=0.05)
    service.mark_started()
    try:
        assert wait_until(lambda: check_reason(service, "slow") is not None)
        assert check_reason(service, "slow") == (False, "timed out after 200ms")
        for path in ("/livez", "/readyz", "/metrics"):
            began = time.monotonic()
            status = http_get(service.admin_address, path)[0]
            assert time.monotonic() - began < 1.0, path  # the check blocks for 10 s
            assert status == (503 if path == "/readyz" else 200)
    finally:
        release.set()


def test_liveness_check_and_cached_results(service):
    calls = []
    service.health.add_liveness("loop", lambda: calls.append(1) is None, interval=60)
    assert wait_until(lambda: check_reason(service, "loop") == (True, ""))
    for _ in range(20):  # probes read the cached result: no extra runs
        assert http_get(service.admin_address, "/livez")[0] == 200
    assert len(calls) == 1
    assert service.health.live


def test_bad_check_registration(service):
    with pytest.raises(ValueError):
        service.health.add_readiness("startup", lambda: True)
    with pytest.raises(ValueError):
        service.health.add_readiness("bad name!", lambda: True)
    with pytest.raises(ValueError, match="timeout"):
        service.health.add_readiness("x", lambda: True, timeout=0)
    with pytest.raises(TypeError):
        service.health.add_readiness("y", 42)
    service.health.add_readiness("twice", lambda: True)
    with pytest.raises(ValueError):
        service.health.add_liveness("twice", lambda: True)


def test_admin_server_answers_while_python_holds_the_gil(service):
    """The main thread blocks in a C call without releasing the GIL (a PyDLL
    call keeps it); curl, another process, still gets /livez, /readyz and
    /metrics at once, because the C++ server never needs Python for them."""
    service.mark_started()
    assert http_get(service.admin_address, "/readyz")[0] == 200
    libc = ctypes.PyDLL(None)  # calls through PyDLL hold the GIL
    urls = [f"http://{service.admin_address}{p}" for p in ("/livez", "/readyz", "/metrics")]
    curls = [subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
                               "--max-time", "5", url], stdout=subprocess.PIPE, text=True)
             for url in urls]
    began = time.monotonic()
    libc.usleep(1_500_000)  # 1.5 s with the GIL held
    assert time.monotonic() - began >= 1.4
    for c in curls:
        code, seconds = c.communicate(timeout=10)[0].split()
        assert code == "200"
        assert float(seconds) < 1.0, f"answered after {seconds}s: waited for the GIL"


def test_python_check_does_not_hold_the_gil_between_calls(service):
    """Checks take the GIL only for their call: a Python thread counting in a
    loop keeps making progress while a check runs every 10 ms."""
    service.health.add_readiness("busy", lambda: True, interval=0.01)
    counter = [0]
    stop = time.monotonic() + 0.5
    while time.monotonic() < stop:
        counter[0] += 1
    assert counter[0] > 10_000
    assert check_reason(service, "busy") == (True, "")
