#!/usr/bin/env python3
"""A Flask app under gunicorn and wrk: requests/s bare, with the full kit,
and with prometheus_client + logging, in the same run (issue 15).

One sync gunicorn worker (one core) and wrk (one thread, 4 connections) on
the other core; the three forms take turns, --rounds times, --duration
seconds each; each figure is the median of its rounds. The kit's form
samples every request (OTEL_TRACES_SAMPLER=always_on) and exports its spans
to a file; both instrumented forms write one access-log line a request to a
file on tmpfs. The figures: requests/s, and each form's cost per request
beyond the bare app's (1/rate - 1/bare_rate), which does not depend on how
fast this machine is.

  PYTHONPATH=build/python /usr/bin/python3 bench/python_flask_bench.py
"""

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_form(mode, duration, tmp):
    port = free_port()
    env = dict(os.environ, BENCH_MODE=mode, BENCH_LOG_FILE=os.path.join(tmp, f"{mode}.log"),
               FIREBREAK_LOG_FILE=os.path.join(tmp, f"{mode}-kit.log"),
               FIREBREAK_TRACES_FILE=os.path.join(tmp, f"{mode}-spans.json"),
               OTEL_TRACES_SAMPLER="always_on",
               PYTHONPATH=os.pathsep.join([HERE, os.environ.get("PYTHONPATH", "")]))
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", "python_flask_app:app"],
        cwd=HERE, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}/items/42"
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(url, timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"{mode}: the app did not start: "
                                       f"{server.stderr.read().decode()[-2000:]}")
                time.sleep(0.1)
        out = subprocess.run(["wrk", "-t1", "-c4", f"-d{duration}s", url],
                             capture_output=True, text=True, check=True).stdout
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        if re.search(r"Non-2xx or 3xx responses", out):
            raise RuntimeError(f"{mode}: errors under load:\n{out}")
        return rate
    finally:
        server.terminate()
        server.wait(timeout=20)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    forms = ["bare", "firebreak", "prometheus"]
    rates = {f: [] for f in forms}
    with tempfile.TemporaryDirectory(prefix="flask-bench-", dir="/dev/shm") as tmp:
        for _ in range(args.rounds):
            for form in forms:
                rates[form].append(run_form(form, args.duration, tmp))
        kit_lines = sum(1 for _ in open(os.path.join(tmp, "firebreak-kit.log")))
        spans = os.path.getsize(os.path.join(tmp, "firebreak-spans.json"))
    bare = statistics.median(rates["bare"])
    print(f"one sync gunicorn worker under wrk -t1 -c4, {args.rounds} x {args.duration} s each, "
          "median:")
    print(f"{'form':12} {'req/s':>9} {'vs bare':>8} {'us/request beyond bare':>24}  rounds")
    for form in forms:
        rate = statistics.median(rates[form])
        extra = (1 / rate - 1 / bare) * 1e6
        print(f"{form:12} {rate:9.0f} {rate / bare:8.2f} {extra:24.1f}  "
              f"{' '.join(f'{r:.0f}' for r in rates[form])}")
    print(f"(the kit wrote {kit_lines} log lines and {spans} bytes of spans)")


if __name__ == "__main__":
    main()
