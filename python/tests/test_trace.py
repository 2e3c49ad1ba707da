"""Tracing: spans as context managers and decorators on the C++ tracer, the
current span in a contextvar (per task and thread), W3C propagation, log
lines with the span's ids, the middleware's server spans, and what the
exporter writes (FIREBREAK_TRACES_FILE, OTLP JSON lines)."""

import asyncio
import json

import pytest

import firebreak
from conftest import run_logged


def test_spans_nest_and_the_current_span_follows_the_with_blocks():
    assert firebreak.current_span() is None
    with firebreak.span("outer") as outer:
        assert firebreak.current_span() is outer
        with firebreak.span("inner", kind="client") as inner:
            assert firebreak.current_span() is inner
            assert inner.context.trace_id == outer.context.trace_id
            assert inner.context.span_id != outer.context.span_id
        assert firebreak.current_span() is outer
    assert firebreak.current_span() is None
    with firebreak.span("other") as other:
        assert other.context.trace_id != outer.context.trace_id  # a new trace


def test_inject_and_extract_round_trip_and_bad_headers_start_a_new_trace():
    assert firebreak.inject() == {}  # no current span: nothing to send
    with firebreak.span("call") as s:
        headers = firebreak.inject({"accept": "*/*"})
        assert headers["traceparent"] == s.context.traceparent
        assert headers["accept"] == "*/*"
    remote = firebreak.extract({"TraceParent": headers["traceparent"],
                                "tracestate": "vendor=a1"})
    assert remote.valid and remote.is_remote
    assert (remote.trace_id, remote.span_id) == (s.context.trace_id, s.context.span_id)
    assert remote.tracestate == "vendor=a1"
    with firebreak.span("server", kind="server", parent=remote) as child:
        assert child.context.trace_id == remote.trace_id
    for bad in ({}, {"traceparent": "00-zz-yy-01"},
                {"traceparent": "00-" + "0" * 32 + "-" + "1" * 16 + "-01"}):
        assert not firebreak.extract(bad).valid
        with firebreak.span("fresh", parent=firebreak.extract(bad)) as fresh:
            assert fresh.context.valid


def test_each_asyncio_task_has_its_own_current_span():
    async def task(name):
        with firebreak.span(name) as s:
            await asyncio.sleep(0.01)
            assert firebreak.current_span() is s
            return s.context.trace_id

    async def main():
        return await asyncio.gather(*(task(f"t{i}") for i in range(20)))

    assert len(set(asyncio.run(main()))) == 20


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="kind"):
        with firebreak.span("x", kind="sideways"):
            pass
    with firebreak.span("x") as s:
        with pytest.raises(ValueError, match="status"):
            s.set_status("maybe")


def test_the_exporter_writes_spans_with_parents_events_and_the_logs_carry_their_ids(tmp_path):
    traces = tmp_path / "traces.jsonl"
    lines = run_logged(tmp_path, """
        import asyncio, flask, firebreak.flask
        from werkzeug.test import Client
        service = firebreak.Service(name="shop-api", version="2.0", admin_address="127.0.0.1:0")
        tracing = firebreak.init_tracing(service)
        assert tracing.enabled and tracing.exporter == "file", tracing.exporter

        app = flask.Flask("shop")

        @app.get("/orders/<order_id>")
        def get_order(order_id):
            with firebreak.span("load order", attributes={"order.id": order_id, "n": 3}):
                firebreak.log.info("loaded")
            return "ok"

        @app.get("/boom")
        def boom():
            raise RuntimeError("boom")

        firebreak.flask.instrument(app, service)
        c = Client(app)
        for path in ("/orders/o-1", "/boom"):
            r = c.get(path, headers={"traceparent":
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
            r.get_data(); r.close()

        @firebreak.span("nightly step")
        async def step():
            raise KeyError("gone")
        try:
            asyncio.run(step())
        except KeyError:
            pass
        job_trace = {}
        def body(run):
            with firebreak.span("inside the job") as s:
                job_trace["python"] = s.context.trace_id
        firebreak.run_job(body, name="nightly")
        print(job_trace)
        assert tracing.flush(5.0)
    """, env={"FIREBREAK_TRACES_FILE": str(traces), "OTEL_TRACES_EXPORTER": ""})
    spans = {}
    for line in traces.read_text().splitlines():
        for rs in json.loads(line)["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for s in ss["spans"]:
                    spans.setdefault(s["name"], []).append(s)
    incoming_trace, incoming_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    [server] = spans["GET /orders/<order_id>"]
    assert server["traceId"] == incoming_trace and server["parentSpanId"] == incoming_span
    [load] = spans["load order"]
    assert load["parentSpanId"] == server["spanId"] and load["traceId"] == incoming_trace
    attributes = {a["key"]: a["value"] for a in load["attributes"]}
    assert attributes["order.id"] == {"stringValue": "o-1"}
    assert attributes["n"] == {"intValue": "3"}
    [boom] = spans["GET /boom"]
    assert boom["status"]["code"] == 2  # ERROR
    [step] = spans["nightly step"]
    assert step["status"]["code"] == 2
    assert [e["name"] for e in step["events"]] == ["exception"]
    # A Python span inside a job run is a child of the run's C++ span.
    [job] = spans["job nightly"]
    [inside] = spans["inside the job"]
    assert inside["parentSpanId"] == job["spanId"] and inside["traceId"] == job["traceId"]
    # The log line written inside "load order" carries its ids.
    [loaded] = [l for l in lines if l["event"] == "loaded"]
    assert (loaded["trace_id"], loaded["span_id"]) == (load["traceId"], load["spanId"])
    access = [l for l in lines if l["event"] == "http_request"]
    assert access[0]["span_id"] == server["spanId"]


def test_a_configuration_it_cannot_use_raises():
    import os
    import subprocess
    import sys
    code = "import firebreak; firebreak.init_tracing(service_name='x')"
    env = dict(os.environ, OTEL_TRACES_EXPORTER="otlp", OTEL_EXPORTER_OTLP_PROTOCOL="grpc")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0
    assert "TraceConfigError" in done.stderr and "grpc" in done.stderr
