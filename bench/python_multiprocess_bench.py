#!/usr/bin/env python3
"""Times a multi-process scrape after worker churn, beside prometheus_client's
multi-process mode in the same run (issue 15):

  scrape after 0, N and 2N exited workers (N: --workers, default 1000)

Each "worker" is a forked process that records --series counter series
(default 1,000) and one default-bucket histogram, then exits, as a gunicorn worker recycled by
max_requests would. Four stay alive throughout. prometheus_client keeps one
file per worker pid and merges them all at each scrape; firebreak folds an
exited worker's slot into the totals and reuses it. Reported: ms per scrape
(best of --repeat), and the files/bytes left on disk.

  PYTHONPATH=build/python /usr/bin/python3 bench/python_multiprocess_bench.py
"""

import argparse
import os
import re
import shutil
import signal
import tempfile
import time


def churn(record, workers):
    """Forks `workers` short-lived processes that call record() and exit."""
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            record()
            os._exit(0)
        os.waitpid(pid, 0)


def live(record, count):
    """`count` processes that record and stay alive; returns their pids."""
    pids = []
    for _ in range(count):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            record()
            os.write(write_end, b"1")  # recorded: the scrape may start
            signal.pause()
            os._exit(0)
        os.close(write_end)
        os.read(read_end, 1)
        os.close(read_end)
        pids.append(pid)
    return pids


def best_ms(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def disk(path):
    files = [os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs]
    return len(files), sum(os.stat(f).st_blocks * 512 for f in files)


def bench_prometheus_client(workers, series, repeat, tmp):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tmp
    import prometheus_client
    from prometheus_client import multiprocess

    requests = prometheus_client.Counter("requests", "Requests.", ["route"])
    latency = prometheus_client.Histogram("latency_seconds", "Latency.")

    def record():
        for r in range(series):
            requests.labels(f"/r{r}").inc()
        latency.observe(0.2)

    registry = prometheus_client.CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    alive = live(record, 4)
    try:
        before = best_ms(lambda: prometheus_client.generate_latest(registry), repeat)
        churn(record, workers)
        after = best_ms(lambda: prometheus_client.generate_latest(registry), repeat)
        churn(record, workers)
        after2 = best_ms(lambda: prometheus_client.generate_latest(registry), repeat)
        text = prometheus_client.generate_latest(registry).decode()
    finally:
        for pid in alive:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    del os.environ["PROMETHEUS_MULTIPROC_DIR"]
    return before, after, after2, disk(tmp), text


def bench_firebreak(workers, series, repeat, tmp):
    import firebreak

    service = firebreak.Service(name="bench", multiprocess="serve",
                                multiprocess_file=os.path.join(tmp, "metrics.fbm"),
                                process_metrics=False)
    requests = service.registry.counter("requests", "Requests.", labels=["route"])
    latency = service.registry.histogram("latency_seconds", "Latency.", unit="seconds")

    def record():
        for r in range(series):
            requests.labels(f"/r{r}").inc()
        latency.labels().observe(0.2)

    alive = live(record, 4)
    try:
        before = best_ms(lambda: service.registry.expose(), repeat)
        churn(record, workers)
        after = best_ms(lambda: service.registry.expose(), repeat)
        churn(record, workers)
        after2 = best_ms(lambda: service.registry.expose(), repeat)
        text = service.registry.expose()[0].decode()
    finally:
        for pid in alive:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    return before, after, after2, disk(tmp), text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1000)
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    total = 2 * args.workers + 4
    expected = re.compile(r'^requests_total\{route="/r0"\} (\S+)$', re.M)
    rows = []
    for name, bench in (("prometheus_client", bench_prometheus_client),
                        ("firebreak", bench_firebreak)):
        tmp = tempfile.mkdtemp(prefix=f"mp-bench-{name}-")
        try:
            before, after, after2, (files, size), text = bench(args.workers, args.series,
                                                               args.repeat, tmp)
        finally:
            shutil.rmtree(tmp)
        match = expected.search(text)
        exact = bool(match) and float(match.group(1)) == total
        rows.append((name, before, after, after2, files, size, exact))
    print(f"scrape of {args.series} counter series + a histogram with 4 live workers, "
          f"before, after {args.workers} and after {2 * args.workers} exited ones "
          f"(best of {args.repeat}):")
    print(f"{'':20} {'ms before':>10} {'ms after N':>10} {'ms after 2N':>11} {'files':>6} "
          f"{'KiB on disk':>12}  counts exact")
    for name, before, after, after2, files, size, exact in rows:
        print(f"{name:20} {before:10.2f} {after:10.2f} {after2:11.2f} {files:6d} "
              f"{size / 1024:12.0f}  {exact}")
    pc, fb = rows
    print(f"after 2N, prometheus_client / firebreak: {pc[3] / fb[3]:.1f}x")


if __name__ == "__main__":
    main()
