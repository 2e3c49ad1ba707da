"""Jobs: firebreak.run_job and firebreak.JobRun on the C++ JobRun, against a
real HTTP receiver that records check-ins and pushes."""

import fcntl
import http.server
import json
import sys
import threading

import pytest

import firebreak
from conftest import run_logged


class Receiver:
    """An HTTP server that records (method, path, body) and answers 200."""

    def __init__(self):
        calls = self.calls = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def _record(self):
                size = int(self.headers.get("Content-Length") or 0)
                calls.append((self.command, self.path, self.rfile.read(size).decode()))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = do_GET = _record

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def paths(self, method):
        return [p for m, p, _ in self.calls if m == method]


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture(autouse=True)
def no_job_environment(monkeypatch):
    for name in ("FIREBREAK_JOB_CHECKIN_URL", "FIREBREAK_PUSHGATEWAY_URL",
                 "FIREBREAK_JOB_LOCK_FILE"):
        monkeypatch.delenv(name, raising=False)


def options(receiver, **extra):
    return dict(checkin_url=receiver.url + "/ping/nightly", pushgateway_url=receiver.url,
                delivery_attempts=1, delivery_timeout=2.0, **extra)


def test_a_successful_run_checks_in_pushes_and_records(receiver):
    registry = firebreak.Registry()
    seen = {}

    def body(run):
        seen["run_id"] = run.run_id
        seen["context"] = firebreak.current_log_context()
        run.add_items(7)

    assert firebreak.run_job(body, name="nightly", registry=registry,
                             **options(receiver)) == 0
    rid = seen["run_id"]
    assert seen["context"] == {"job": "nightly", "job_run_id": rid}
    assert receiver.paths("POST") == [f"/ping/nightly/start?rid={rid}", f"/ping/nightly?rid={rid}"]
    pushes = [(p, b) for m, p, b in receiver.calls if m == "PUT"]
    assert [p for p, _ in pushes] == ["/metrics/job/nightly"] * 2
    assert "job_last_success_timestamp_seconds" in pushes[1][1]
    assert "job_items_processed 7" in pushes[1][1]
    body_text, _ = registry.expose()
    assert 'job_runs_total{job="nightly",outcome="success"} 1' in body_text.decode()
    assert firebreak.current_log_context() == {}


@pytest.mark.parametrize("body, status, ping", [
    (lambda run: False, 1, "fail"),
    (lambda run: 3, 3, "3"),
    (lambda run: {}["missing"], 1, "fail"),
    (lambda run: sys.exit(4), 4, "4"),
    (lambda run: run.fail("by hand"), 1, "fail"),
])
def test_failures_end_the_run_with_an_exit_status_and_a_failure_ping(receiver, body, status, ping):
    assert firebreak.run_job(body, name="nightly", **options(receiver)) == status
    last = receiver.paths("POST")[-1]
    assert last.startswith(f"/ping/nightly/{ping}?rid=")


def test_a_run_locked_out_by_another_does_not_run_and_sends_nothing(receiver, tmp_path):
    lock = tmp_path / "nightly.lock"
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        called = []
        status = firebreak.run_job(lambda run: called.append(1), name="nightly",
                                   **options(receiver, lock_file=str(lock)))
        assert status == firebreak.JOB_EXIT_LOCKED == 75
        assert called == [] and receiver.calls == []
        with pytest.raises(firebreak.JobLocked):
            with firebreak.JobRun("nightly", **options(receiver, lock_file=str(lock))):
                pytest.fail("the body ran")
    # Released: the next run gets it.
    assert firebreak.run_job(lambda run: None, name="nightly",
                             **options(receiver, lock_file=str(lock))) == 0


def test_the_context_manager_fails_on_an_exception_and_lets_it_go_on(receiver):
    with pytest.raises(ValueError):
        with firebreak.JobRun("nightly", **options(receiver)) as run:
            assert firebreak.current_log_context()["job_run_id"] == run.run_id
            raise ValueError("bad input")
    assert run.outcome == "failure" and run.exit_status == 1
    assert receiver.paths("POST")[-1].startswith("/ping/nightly/fail?rid=")
    with firebreak.JobRun("nightly", **options(receiver)) as ok:
        ok.add_items(2)
    assert ok.outcome == "success"
    with pytest.raises(ValueError, match="closed"):
        ok.add_items(1)


def test_bad_options_are_clear_errors():
    with pytest.raises(ValueError, match="push_method"):
        firebreak.JobRun("nightly", push_method="patch")
    with pytest.raises(ValueError, match="checkin"):
        firebreak.JobRun("nightly", checkin_url="ftp://nowhere")
    with pytest.raises(ValueError, match="name"):
        firebreak.JobRun("")


def test_an_unreachable_receiver_never_fails_the_job():
    # A closed port: the check-in fails, is logged, and the run goes on.
    assert firebreak.run_job(lambda run: None, name="nightly",
                             checkin_url="http://127.0.0.1:9/ping/nightly",
                             delivery_attempts=1, delivery_timeout=0.5) == 0


def test_job_lines_carry_job_and_run_id(tmp_path, receiver):
    lines = run_logged(tmp_path, f"""
        def body(run):
            firebreak.log.info("step", n=1)
            raise RuntimeError("disk full")
        status = firebreak.run_job(body, name="nightly", checkin_url="{receiver.url}/ping/nightly",
                                   delivery_attempts=1)
        assert status == 1, status
    """)
    by = {l["event"]: l for l in lines}
    rid = by["job_started"]["job_run_id"]
    assert by["step"]["job"] == "nightly" and by["step"]["job_run_id"] == rid
    finished = by["job_finished"]
    assert finished["level"] == "error" and finished["job_run_id"] == rid
    assert "RuntimeError: disk full" in json.dumps(finished)
