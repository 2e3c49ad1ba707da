"""Metrics: handles, label handles, validation, the cardinality guard,
callbacks and the exposition formats, checked by prometheus_client's own
parsers and by promtool."""

import math
import shutil
import subprocess
import threading

import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

import firebreak

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def samples(registry, accept=""):
    """{(sample name, sorted labels): value} of a scrape, parsed by prometheus_client."""
    body, _ = registry.expose(accept)
    parse = parse_openmetrics if accept else parse_text
    out = {}
    for family in parse(body.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_counter_handles_and_labels():
    r = firebreak.Registry()
    orders = r.counter("orders_total", "Orders.", labels=["channel", "region"])
    web = orders.labels("web", "eu")
    web.inc()
    web.inc(2.5)
    web.inc(-1)  # ignored: a counter never goes down
    web.inc(float("nan"))
    assert web.value == 3.5
    # The same series by name, and by values that are not strings.
    assert orders.labels(region="eu", channel="web").value == 3.5
    orders.labels("app", 7).inc()
    assert orders.name == "orders"  # counters are named without _total, as in C++
    assert orders.label_names == ["channel", "region"]
    got = samples(r)
    assert got[("orders_total", (("channel", "web"), ("region", "eu")))] == 3.5
    assert got[("orders_total", (("channel", "app"), ("region", "7")))] == 1


def test_gauge_and_histogram_handles():
    r = firebreak.Registry()
    depth = r.gauge("queue_depth", "Messages waiting.", labels=["queue"]).labels("orders")
    depth.set(10)
    depth.inc()
    depth.dec(3)
    assert depth.value == 8
    clock = r.gauge("last_success_timestamp_seconds", "Last success.", unit="seconds")
    clock.labels().set_to_current_time()
    assert clock.labels().value > 1.6e9

    latency = r.histogram("store_duration_seconds", "Store time.", unit="seconds",
                          buckets=[0.1, 1, 10]).labels()
    for v in (0.05, 0.5, 5, 50, float("nan")):
        latency.observe(v)
    assert latency.count == 4
    assert latency.sum == pytest.approx(55.55)
    got = samples(r)
    bucket = lambda le: got[("store_duration_seconds_bucket", (("le", le),))]
    assert [bucket("0.1"), bucket("1"), bucket("10"), bucket("+Inf")] == [1, 2, 3, 4]
    assert got[("queue_depth", (("queue", "orders"),))] == 8


def test_unlabelled_family_records_directly_and_labelled_refuses():
    r = firebreak.Registry()
    jobs = r.counter("jobs_total", "Jobs.")
    jobs.inc()
    jobs.inc(2)
    assert jobs.labels().value == 3
    g = r.gauge("temperature_celsius", "T.", unit="celsius")
    g.set(20)
    g.inc(2)
    g.dec()
    assert g.labels().value == 21
    h = r.histogram("size_bytes", "Sizes.", unit="bytes", buckets=[10, 100])
    h.observe(50)
    assert h.labels().count == 1
    labelled = r.counter("hits_total", "Hits.", labels=["page"])
    with pytest.raises(ValueError, match="has labels"):
        labelled.inc()


def test_time_histogram_as_context_manager_and_decorator():
    r = firebreak.Registry()
    h = r.histogram("work_duration_seconds", "Work.", unit="seconds").labels()
    with firebreak.time_histogram(h):
        pass

    @firebreak.time_histogram(h)
    def work(x):
        return x * 2

    assert work(21) == 42
    threads = [threading.Thread(target=work, args=(1,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert h.count == 6
    assert 0 <= h.sum < 1


@pytest.mark.parametrize("call, message", [
    (lambda r: r.counter("bad name", "x"), "invalid metric name"),
    (lambda r: r.counter("ok_total", "x", labels=["bad-label"]), "label"),
    (lambda r: r.counter("ok_total", "x", labels=["__reserved"]), "label"),
    (lambda r: r.gauge("latency_ms", "x", unit="seconds"), "seconds"),
    (lambda r: r.histogram("h_seconds", "x", buckets=[1, 0.5]), "must increase strictly"),
])
def test_validation_errors_are_value_errors_with_the_cpp_message(call, message):
    r = firebreak.Registry()
    with pytest.raises(firebreak.MetricError, match=message) as info:
        call(r)
    assert isinstance(info.value, ValueError)


def test_conflicting_registration_and_wrong_label_count():
    r = firebreak.Registry()
    first = r.counter("requests_total", "Requests.", labels=["code"])
    again = r.counter("requests", "Requests.", labels=["code"])  # same family, without _total
    again.labels("200").inc()
    assert first.labels("200").value == 1
    with pytest.raises(ValueError):
        r.gauge("requests_total", "Requests.", labels=["code"])
    with pytest.raises(ValueError):
        r.counter("requests_total", "Requests.", labels=["method"])
    with pytest.raises(ValueError):
        first.labels("200", "GET")
    with pytest.raises(ValueError, match="missing label code"):
        first.labels(method="GET")
    with pytest.raises(ValueError, match="not both"):
        first.labels("200", code="200")


def test_cardinality_guard_sends_extra_label_sets_to_the_overflow_series():
    r = firebreak.Registry()
    users = r.counter("logins_total", "Logins.", labels=["user"], max_series=2)
    for name in ("a", "b", "c", "d"):
        users.labels(name).inc()
    assert users.overflowed == 2
    got = samples(r)
    assert got[("logins_total", (("user", "a"),))] == 1
    assert got[("logins_total", (("otel_metric_overflow", "true"),))] == 2
    assert got[("metric_series_overflow_total", (("metric", "logins"),))] == 2


# A raising callback is reported through sys.unraisablehook, as Python does
# for errors it cannot raise to a caller; pytest turns that into a warning.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_callback_metrics_read_python_at_scrape_time():
    r = firebreak.Registry()
    queue = [1, 2, 3]
    r.gauge_callback("queue_length", "Items queued.", lambda: len(queue))
    r.counter_callback("read_bytes_total", "Bytes read.", lambda: 1024, unit="bytes")
    r.gauge_callback("broken", "Raises.", lambda: 1 / 0)
    got = samples(r)
    assert got[("queue_length", ())] == 3
    assert got[("read_bytes_total", ())] == 1024
    assert math.isnan(got[("broken", ())])
    queue.append(4)
    assert samples(r)[("queue_length", ())] == 4


def test_openmetrics_by_accept_header():
    r = firebreak.Registry()
    r.counter("orders_total", "Orders.", labels=["channel"]).labels("web").inc(3)
    body, content_type = r.expose("text/plain")
    assert content_type.startswith("text/plain; version=0.0.4")
    assert b"# EOF" not in body
    body, content_type = r.expose(OPENMETRICS)
    assert content_type.startswith("application/openmetrics-text; version=1.0.0")
    assert body.endswith(b"# EOF\n")
    got = samples(r, OPENMETRICS)
    assert got[("orders_total", (("channel", "web"),))] == 3
    assert ("orders_created", (("channel", "web"),)) in got


def test_process_metrics():
    r = firebreak.Registry()
    firebreak.register_process_metrics(r)
    got = samples(r)
    assert got[("process_resident_memory_bytes", ())] > 0
    assert got[("process_open_fds", ())] > 0
    assert got[("process_cpu_seconds_total", ())] >= 0


def test_name_checks():
    assert firebreak.is_valid_metric_name("http_server_requests_total")
    assert not firebreak.is_valid_metric_name("1abc")
    assert firebreak.is_valid_label_name("route")
    assert not firebreak.is_valid_label_name("__name__")


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_accepts_the_service_scrape(service):
    r = service.registry
    r.counter("orders_total", "Orders.", labels=["channel"]).labels('we"b\\').inc()
    r.histogram("store_duration_seconds", "Store time.", unit="seconds").labels().observe(0.3)
    r.gauge_callback("queue_length", "Items queued.", lambda: 5)
    # promtool reads the Prometheus text format (its linter takes OpenMetrics'
    # counter HELP, named without _total, for a missing one); the OpenMetrics
    # form is checked by prometheus_client's OpenMetrics parser above.
    body, _ = r.expose("")
    result = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_handles_keep_their_registry_alive_and_check_argument_types():
    h = firebreak.Registry().counter("orphans_total", "x", labels=["k"]).labels(k="v")
    import gc
    gc.collect()
    h.inc(amount=2)
    assert h.value == 2
    assert isinstance(h, firebreak.Counter)
    with pytest.raises(TypeError):
        h.inc("3")
    with pytest.raises(TypeError):
        h.inc(1, 2)
    g = firebreak.Registry().gauge("g", "x").labels()
    g.inc(amount=2)
    g.dec(amount=0.5)
    assert g.value == 1.5
    with pytest.raises(TypeError):
        g.set(None)
    hist = firebreak.Registry().histogram("h_seconds", "x").labels()
    with pytest.raises(TypeError):
        hist.observe("slow")
    assert hist.count == 0
