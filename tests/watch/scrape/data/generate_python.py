#!/usr/bin/python3
"""Writes the bodies a Python service using prometheus_client serves, in both
formats, as test data for the exposition parser (tests/watch/scrape/).

Run with Debian's interpreter (python3-prometheus-client):
  /usr/bin/python3 tests/watch/scrape/data/generate_python.py tests/watch/scrape/data

The registry has fixed values (no process or platform collectors, created
timestamps pinned) so the output is the same on every run.
"""
import sys
import time
from unittest import mock

from prometheus_client import (CollectorRegistry, Counter, Enum, Gauge, Histogram, Info,
                               Summary, generate_latest)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics


def build():
    registry = CollectorRegistry()
    with mock.patch("time.time", return_value=1767225600.25):
        requests = Counter("shop_requests", "Requests handled.", ["method", "route"],
                           registry=registry)
        requests.labels("GET", "/orders").inc(41)
        requests.labels("POST", "/orders/{id}").inc(2.5, exemplar={"trace_id": "4bf92f3577b34da6"})
        errors = Counter("shop_errors_total", "Errors, with a \"quoted\" word and a \\ backslash.",
                         registry=registry)
        errors.inc(3)
        queue = Gauge("queue_depth", "Messages waiting.\nSecond line.", ["queue"],
                      registry=registry)
        queue.labels('emails "high" \\ prio\nnewline').set(7)
        queue.labels("café ☕").set(-1.5)
        queue.labels("inf").set(float("inf"))
        queue.labels("minus_inf").set(float("-inf"))
        queue.labels("nan").set(float("nan"))
        temp = Gauge("room_temperature_celsius", "Temperature.", unit="celsius",
                     registry=registry)
        temp.set(21.125)
        latency = Histogram("http_server_request_duration_seconds", "Request latency.",
                            ["http_route"], buckets=[0.005, 0.1, 1, 2.5, 10],
                            registry=registry)
        for v in (0.001, 0.05, 0.3, 0.3, 4, 20):
            latency.labels("/orders").observe(v)
        latency.labels("/orders").observe(0.25, exemplar={"trace_id": "a1b2", "span_id": "c3"})
        summary = Summary("job_duration_seconds", "Job run time.", registry=registry)
        summary.observe(12.5)
        summary.observe(7.25)
        info = Info("build", "Build information.", registry=registry)
        info.info({"version": "1.2.3", "revision": "abc123"})
        state = Enum("worker_state", "Worker state.", states=["idle", "busy", "stopped"],
                     registry=registry)
        state.state("busy")
        big = Gauge("big_numbers", "Big and small.", ["kind"], registry=registry)
        big.labels("big").set(1.5e300)
        big.labels("small").set(2e-310)
        big.labels("int").set(12345678901234567890)
        registry.register(Timestamped())
    return registry


class Timestamped:
    """A custom collector with explicit sample timestamps (ms in text, s in OpenMetrics)."""

    def collect(self):
        g = GaugeMetricFamily("last_batch_size", "Items in the last batch.", labels=["source"])
        g.add_metric(["import"], 250, timestamp=1767225600.123)
        g.add_metric(["export"], 17, timestamp=1767225599)
        yield g


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    registry = build()
    with open(f"{out}/python_client.prom", "wb") as f:
        f.write(generate_latest(registry))
    with open(f"{out}/python_client.openmetrics", "wb") as f:
        f.write(generate_openmetrics(registry))


if __name__ == "__main__":
    main()
