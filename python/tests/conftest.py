"""Shared fixtures: a started Service on a free port, and a plain HTTP client."""

import json
import os
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request

import pytest

import firebreak

IDENTITY_VARIABLES = [
    "OTEL_RESOURCE_ATTRIBUTES", "OTEL_SERVICE_NAME", "FIREBREAK_SERVICE_NAME",
    "FIREBREAK_SERVICE_VERSION", "FIREBREAK_ENVIRONMENT", "FIREBREAK_WORKLOAD",
    "FIREBREAK_ADMIN_ADDR", "FIREBREAK_MULTIPROCESS_FILE",
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Each test starts without identity variables (the developer's shell may set them)."""
    for name in IDENTITY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def http_get(address, path, headers=None, timeout=5.0):
    """GET http://address/path; returns (status, headers, body bytes), also for 4xx/5xx."""
    request = urllib.request.Request(f"http://{address}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.fixture
def service():
    """A started Service on a free port, drained and stopped at the end."""
    s = firebreak.Service(name="pytest", version="1.0.0", admin_address="127.0.0.1:0",
                          drain_time=0.05)
    s.start()
    yield s
    s.drain()
    s.wait()


def run_logged(tmp_path, code, env=None):
    """Runs `code` in a child interpreter (after `import firebreak, logging`)
    with the kit's JSON logs going to a file, and returns the parsed lines. A
    child, because the logger's configuration (file, format, level) is per
    process. Fails the test when the child fails."""
    log_file = tmp_path / "out.log"
    child_env = dict(os.environ)
    child_env.update({"FIREBREAK_LOG_FILE": str(log_file), "FIREBREAK_LOG_FORMAT": "json",
                      "FIREBREAK_LOG_OVERFLOW": "block"})
    child_env.pop("FIREBREAK_LOG_LEVEL", None)
    child_env.update(env or {})
    script = "import firebreak, logging\n" + textwrap.dedent(code) + "\nfirebreak.flush_logs()\n"
    done = subprocess.run([sys.executable, "-c", script], env=child_env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = log_file.read_text().splitlines() if log_file.exists() else []
    return [json.loads(line) for line in lines]


def http_samples(registry, name):
    """{(method, route, status): value} of an HTTP family's samples named
    `name` (a histogram's _count, or the active-requests gauge: absent labels
    are "") in a scrape of `registry`, read by prometheus_client's parser."""
    from prometheus_client.parser import text_string_to_metric_families

    body, _ = registry.expose()
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            if s.name == name:
                out[tuple(s.labels.get(k, "") for k in
                          ("http_request_method", "http_route", "http_response_status_code"))] = s.value
    return out
