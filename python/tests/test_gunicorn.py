"""SIGTERM drain under gunicorn's own signal handling: the Service is created
in each worker (post_worker_init), drain_on_signal() chains onto the worker's
SIGTERM handler, and worker_exit runs shutdown(). SIGTERM to the master: the
worker's /readyz turns 503 at once while the worker finishes, the drain time
passes, and gunicorn exits 0 as it would without the kit."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import http_get

CONFIG = '''
import os, signal, firebreak

services = {}

def post_worker_init(worker):
    service = firebreak.Service(name="gunicorn-app", admin_address="127.0.0.1:0",
                                drain_time=1.0)
    service.start()
    service.mark_started()
    service.drain_on_signal(signal.SIGTERM)
    services[os.getpid()] = service
    with open(os.environ["ADMIN_FILE"] + ".tmp", "w") as f:
        f.write(service.admin_address)
    os.rename(os.environ["ADMIN_FILE"] + ".tmp", os.environ["ADMIN_FILE"])

def worker_exit(server, worker):
    service = services.pop(os.getpid(), None)
    if service is not None:
        service.shutdown()
'''

APP = '''
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("gunicorn") is None, reason="gunicorn not installed")
def test_sigterm_to_gunicorn_drains_the_worker(tmp_path):
    (tmp_path / "gconf.py").write_text(CONFIG)
    (tmp_path / "app.py").write_text(APP)
    admin_file = tmp_path / "admin"
    port = free_port()
    env = dict(os.environ, ADMIN_FILE=str(admin_file))
    inherited = [os.path.abspath(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), *inherited])
    master = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(tmp_path / "gconf.py"), "-w", "1",
         "-b", f"127.0.0.1:{port}", "--graceful-timeout", "10", "app:app"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        while not admin_file.exists():
            assert master.poll() is None, master.stdout.read()
            assert time.monotonic() < deadline, "no worker came up"
            time.sleep(0.05)
        admin = admin_file.read_text()
        assert http_get(f"127.0.0.1:{port}", "/")[2] == b"hello"
        assert http_get(admin, "/readyz")[0] == 200

        master.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 2
        status = 200
        while status == 200 and time.monotonic() < deadline:
            status, _, body = http_get(admin, "/readyz?verbose")
            time.sleep(0.02)
        assert status == 503 and b"shutdown failed: draining" in body
        assert http_get(admin, "/livez")[0] == 200  # alive while draining
        output = master.communicate(timeout=20)[0]
        assert master.returncode == 0, output
        assert '"event":"service_draining"' in output
        assert '"event":"service_stopped"' in output
    finally:
        if master.poll() is None:
            master.kill()
            master.wait()
