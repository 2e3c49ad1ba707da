"""Multi-process mode under gunicorn: 4 workers recycled by max_requests and
killed with SIGKILL while requests flow, one admin port for the service.
Every request is counted exactly once in the merged /metrics, readiness is
every worker's, and nothing is left behind when gunicorn stops."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from conftest import http_get

CONFIG = '''
import os
import firebreak.multiprocess

firebreak.multiprocess.serve(name="mp-app", admin_address=os.environ["ADMIN_ADDR"],
                             file=os.environ["MP_FILE"])
'''

APP = '''
import os
import firebreak

service = firebreak.Service(name="mp-app")
service.start()
service.mark_started()
hits = service.registry.counter("hits_total", "Requests served.", labels=["path"])
took = service.registry.histogram("hit_duration_seconds", "Time per request.",
                                  unit="seconds", buckets=[0.5, 1.0])
in_flight = service.registry.gauge("hits_in_flight", "Requests in progress.")
seen = service.registry.gauge("hit_last_pid", "Pid of each worker.", combine="per_pid")

# A dependency every worker checks (the test removes it).
service.health.add_readiness("dependency",
                             lambda: not os.path.exists(os.environ["DEPENDENCY_DOWN"]),
                             interval=0.1)

def app(environ, start_response):
    path = environ["PATH_INFO"]
    in_flight.labels().inc()
    hits.labels(path).inc()
    took.labels().observe(0.25)
    seen.labels().set(os.getpid())
    in_flight.labels().dec()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Connection", "close")])
    return [str(os.getpid()).encode()]
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metric(text, name, labels=""):
    match = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.M)
    return float(match.group(1)) if match else None


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.mark.skipif(shutil.which("gunicorn") is None, reason="gunicorn not installed")
def test_gunicorn_workers_recycled_and_killed_lose_no_count(tmp_path):
    (tmp_path / "gconf.py").write_text(CONFIG)
    (tmp_path / "app.py").write_text(APP)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    port, admin_port = free_port(), free_port()
    admin = f"127.0.0.1:{admin_port}"
    env = dict(os.environ, ADMIN_ADDR=admin, MP_FILE=str(run_dir / "metrics.fbm"),
               DEPENDENCY_DOWN=str(tmp_path / "dependency-down"))
    env.pop("FIREBREAK_MULTIPROCESS_FILE", None)
    inherited = [os.path.abspath(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), *inherited])
    master = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(tmp_path / "gconf.py"), "-w", "4",
         "--max-requests", "25", "--max-requests-jitter", "10", "-b", f"127.0.0.1:{port}",
         "--graceful-timeout", "5", "app:app"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def scrape():
            try:
                return http_get(admin, "/metrics")[2].decode()
            except OSError:  # not listening yet
                assert master.poll() is None, master.stdout.read()
                return ""

        wait_until(lambda: metric(scrape(), "multiprocess_processes") == 5, 30,
                   "4 workers and the admin process did not all join")
        wait_until(lambda: http_get(admin, "/readyz")[0] == 200, 10, "never ready")

        sent = 0
        pids = set()
        killed = 0
        for i in range(400):
            status, _, body = http_get(f"127.0.0.1:{port}", f"/p{i % 3}")
            if status == 200:
                sent += 1
                pids.add(int(body))
            if i % 100 == 50:  # a worker killed outright, between two requests
                os.kill(int(body), signal.SIGKILL)
                killed += 1
        assert sent == 400
        assert len(pids) > 8, "max_requests did not recycle the workers"

        text = scrape()
        total = sum(metric(text, "hits_total", f'{{path="/p{k}"}}') or 0 for k in range(3))
        assert total == 400, text
        assert metric(text, "hit_duration_seconds_count") == 400
        assert metric(text, "hit_duration_seconds_bucket", '{le="0.5"}') == 400
        assert metric(text, "hit_duration_seconds_sum") == 100.0
        assert metric(text, "hits_in_flight") == 0
        # Per-pid gauges: only live workers, so the family stays small; every
        # worker that has exited is folded. (A worker recycled by the last
        # requests may still be exiting: wait for it.)
        def settled():
            now = scrape()
            exited = metric(now, "multiprocess_processes_exited_total") or 0
            return (len(re.findall(r"^hit_last_pid\{", now, re.M)) <= 4
                    and exited >= len(pids) - 4)
        wait_until(settled, 10, "exited workers were not folded")
        assert metric(text, "multiprocess_slots_full") == 0
        assert metric(text, "process_cpu_seconds_total") > 0
        assert metric(text, "target_info",
                      '{service_name="mp-app",service_version="unknown",'
                      'deployment_environment="unknown",workload="api"}') == 1
        # The merged scrape is valid exposition in both formats.
        if shutil.which("promtool"):
            result = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                                    capture_output=True)
            assert result.returncode == 0, result.stdout + result.stderr
        openmetrics = http_get(admin, "/metrics",
                               {"Accept": "application/openmetrics-text; version=1.0.0"})[2]
        families = {f.name: f for f in text_string_to_metric_families(openmetrics.decode())}
        assert sum(s.value for s in families["hits"].samples if s.name == "hits_total") == 400
        # The files: the shared one alone, its size fixed however many workers came and went.
        assert os.listdir(run_dir) == ["metrics.fbm"]

        # Readiness is the workers': their dependency down, the service is
        # not ready (the admin process's own checks all pass).
        (tmp_path / "dependency-down").touch()
        wait_until(lambda: http_get(admin, "/readyz")[0] == 503, 10,
                   "unready workers did not make /readyz fail")
        assert b"[-]processes failed" in http_get(admin, "/readyz?verbose")[2]
        assert http_get(admin, "/livez")[0] == 200

        master.send_signal(signal.SIGTERM)
        output = master.communicate(timeout=30)[0]
        assert master.returncode == 0, output
        wait_until(lambda: not os.listdir(run_dir), 10, "the shared file was left behind")
    finally:
        if master.poll() is None:
            master.kill()
            master.wait()
