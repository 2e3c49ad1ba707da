"""Shared fixtures: a started Service on a free port, and a plain HTTP client."""

import os
import urllib.error
import urllib.request

import pytest

import firebreak

IDENTITY_VARIABLES = [
    "OTEL_RESOURCE_ATTRIBUTES", "OTEL_SERVICE_NAME", "FIREBREAK_SERVICE_NAME",
    "FIREBREAK_SERVICE_VERSION", "FIREBREAK_ENVIRONMENT", "FIREBREAK_WORKLOAD",
    "FIREBREAK_ADMIN_ADDR",
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
