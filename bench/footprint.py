#!/usr/bin/python3
"""watch beside Prometheus on the same target, in the same run.

Starts bench's synthetic target (N series), Prometheus 2.42 (Debian's) and
`firebreak watch`, both scraping it at the same interval with a WAL on disk,
and reports, as watch/Prometheus ratios:

- CPU per stored sample (utime + stime from /proc over the measured
  window, divided by the samples each stored in it: Prometheus's
  prometheus_tsdb_head_samples_appended_total, watch's
  watch_tsdb_head_samples_appended_total), WAL included;
- RSS after scraping, and after a set of heavy queries (count of every
  series, a sum of rates over every series, a 1 h range query), with each
  query's time.

  scripts/bench footprint [--series 10000] [--warmup 60] [--seconds 120] [--interval 1]
  scripts/bench footprint --watch-only --series 1000000 --interval 15 --restart

--watch-only leaves Prometheus out (a size only watch is measured at) and
reports whether scrapes and rule evaluations kept their interval, memory
per series, bytes per sample on disk; --restart then stops watch (SIGTERM)
and starts it again, and kills it (SIGKILL) and starts it again, timing
each start until watch answers and reporting its replay.

The synthetic target shares the two cores; it serves both scrapers the same
body, so it weighs on both alike. Prints a Markdown table for
bench/RESULTS.md.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def memory(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
    return out


def get(url, timeout=600):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def counter(url, name, default=None):
    total = None
    for line in get(url).splitlines():
        if line.startswith(name) and (line[len(name)] in " {"):
            total = (total or 0) + float(line.rsplit(" ", 1)[1])
    if total is None:
        if default is not None:
            return default
        raise RuntimeError(f"{name} not found at {url}")
    return total


def wait_up(url, what, proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            get(url, timeout=2)
            return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not come up at {url}")


def query(base, q, range_seconds=None):
    """Seconds the query took and the number of series it returned."""
    now = time.time()
    if range_seconds:
        params = {"query": q, "start": now - range_seconds, "end": now, "step": "15"}
        url = f"{base}/api/v1/query_range?" + urllib.parse.urlencode(params)
    else:
        url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": now})
    start = time.time()
    body = get(url)
    took = time.time() - start
    data = json.loads(body)
    if data.get("status") != "success":
        raise RuntimeError(f"{q}: {body[:300]}")
    return took, len(data["data"]["result"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=10000)
    ap.add_argument("--warmup", type=float, default=60)
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--interval", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    ap.add_argument("--watch-only", action="store_true", help="no Prometheus beside watch")
    ap.add_argument("--restart", action="store_true", help="time restarts (SIGTERM, SIGKILL)")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="fb-footprint-")
    tport, pport, wport = free_port(), free_port(), free_port()
    iv = f"{args.interval}s"
    procs = []
    try:
        target = subprocess.Popen([os.path.join(BIN, "synthetic_target"), "--series",
                                   str(args.series), "--port", str(tport)],
                                  stdout=subprocess.DEVNULL)
        procs.append(target)
        wait_up(f"http://127.0.0.1:{tport}/metrics", "synthetic_target", target)

        with open(os.path.join(work, "prometheus.yml"), "w") as f:
            f.write(f"global: {{scrape_interval: {iv}, scrape_timeout: {iv}, "
                    f"evaluation_interval: 15s}}\n"
                    f"scrape_configs:\n  - job_name: synthetic\n"
                    f"    static_configs: [{{targets: ['127.0.0.1:{tport}']}}]\n")
        prom = None
        if not args.watch_only:
            prom = subprocess.Popen(["prometheus", f"--config.file={work}/prometheus.yml",
                                     f"--storage.tsdb.path={work}/prometheus",
                                     f"--web.listen-address=127.0.0.1:{pport}",
                                     "--log.level=warn"],
                                    stdout=subprocess.DEVNULL, stderr=open(f"{work}/prom.err", "w"))
            procs.append(prom)
        with open(os.path.join(work, "firebreak.yaml"), "w") as f:
            f.write(f"listen: 127.0.0.1:{wport}\n"
                    f"storage: {{path: watch.db}}\n"
                    f"global: {{scrape_interval: {iv}, scrape_timeout: {iv}, body_size_limit: 0}}\n"
                    f"targets:\n  - name: synthetic\n"
                    f"    metrics_url: http://127.0.0.1:{tport}/metrics\n")
        def start_watch():
            p = subprocess.Popen([os.path.join(BIN, "firebreak"), "watch", "--config",
                                  f"{work}/firebreak.yaml"],
                                 stdout=subprocess.DEVNULL, stderr=open(f"{work}/watch.err", "a"))
            procs.append(p)
            return p

        watch = start_watch()
        pbase, wbase = f"http://127.0.0.1:{pport}", f"http://127.0.0.1:{wport}"
        if prom:
            wait_up(f"{pbase}/-/ready", "prometheus", prom)
        wait_up(f"{wbase}/readyz", "firebreak watch", watch)
        if args.watch_only:
            return watch_only(args, work, wbase, watch, start_watch)

        print(f"footprint: {args.series} series every {iv}; warm-up {args.warmup:.0f} s, "
              f"measuring {args.seconds:.0f} s; data in {work}", file=sys.stderr)
        time.sleep(args.warmup)
        p_samples = "prometheus_tsdb_head_samples_appended_total"
        w_samples = "watch_tsdb_head_samples_appended_total"
        before = {
            "p_cpu": cpu_seconds(prom.pid), "w_cpu": cpu_seconds(watch.pid),
            "p_n": counter(f"{pbase}/metrics", p_samples),
            "w_n": counter(f"{wbase}/metrics", w_samples),
        }
        time.sleep(args.seconds)
        after = {
            "p_cpu": cpu_seconds(prom.pid), "w_cpu": cpu_seconds(watch.pid),
            "p_n": counter(f"{pbase}/metrics", p_samples),
            "w_n": counter(f"{wbase}/metrics", w_samples),
        }
        p_us = (after["p_cpu"] - before["p_cpu"]) / max(after["p_n"] - before["p_n"], 1) * 1e6
        w_us = (after["w_cpu"] - before["w_cpu"]) / max(after["w_n"] - before["w_n"], 1) * 1e6
        mem_scraped = {"prometheus": memory(prom.pid), "watch": memory(watch.pid)}

        queries = [
            ("count({__name__=~\".+\"})", None),
            ("sum by (shard) (rate({__name__=~\"synthetic_metric_.+\"}[5m]))", None),
            ("sum by (shard) (rate({__name__=~\"synthetic_metric_.+\"}[1m]))", 3600),
        ]
        times = []
        for q, rng in queries:
            pt, pn = query(pbase, q, rng)
            wt, wn = query(wbase, q, rng)
            times.append((q, rng, pt, wt, pn, wn))
        time.sleep(2)
        mem_queried = {"prometheus": memory(prom.pid), "watch": memory(watch.pid)}

        def mib(b):
            return b / 1048576

        print(f"\n### {args.series} series every {iv} ({args.seconds:.0f} s measured, "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n")
        print("| figure | watch | Prometheus 2.42 | watch / Prometheus |")
        print("|---|---:|---:|---:|")
        print(f"| samples stored in the window | {after['w_n'] - before['w_n']:.0f} | "
              f"{after['p_n'] - before['p_n']:.0f} | |")
        print(f"| CPU per stored sample | {w_us:.3f} µs | {p_us:.3f} µs | **{w_us / p_us:.2f}** |")
        for label, mem in (("after scraping", mem_scraped), ("after the queries", mem_queried)):
            w, p = mem["watch"], mem["prometheus"]
            print(f"| RSS {label} | {mib(w['VmRSS']):.0f} MiB (anon {mib(w['RssAnon']):.0f}) | "
                  f"{mib(p['VmRSS']):.0f} MiB (anon {mib(p['RssAnon']):.0f}) | "
                  f"**{w['VmRSS'] / p['VmRSS']:.2f}** |")
        for q, rng, pt, wt, pn, wn in times:
            kind = f"range 1h, step 15s" if rng else "instant"
            print(f"| `{q}` ({kind}; {wn} / {pn} series) | {wt * 1000:.0f} ms | "
                  f"{pt * 1000:.0f} ms | {wt / pt:.2f} |")
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


def watch_only(args, work, wbase, watch, start_watch):
    """watch alone at a size: does it keep its intervals, what does it cost."""
    metrics = f"{wbase}/metrics"
    print(f"footprint (watch only): {args.series} series every {args.interval}s; warm-up "
          f"{args.warmup:.0f} s, measuring {args.seconds:.0f} s; data in {work}", file=sys.stderr)
    time.sleep(args.warmup)
    b = {"cpu": cpu_seconds(watch.pid), "n": counter(metrics, "watch_tsdb_head_samples_appended_total"),
         "scrapes": counter(metrics, "watch_scrapes_total"),
         "evals": counter(metrics, "watch_rule_group_evaluations_total", 0), "t": time.time()}
    time.sleep(args.seconds)
    a = {"cpu": cpu_seconds(watch.pid), "n": counter(metrics, "watch_tsdb_head_samples_appended_total"),
         "scrapes": counter(metrics, "watch_scrapes_total"),
         "evals": counter(metrics, "watch_rule_group_evaluations_total", 0), "t": time.time()}
    span = a["t"] - b["t"]
    targets = json.loads(get(f"{wbase}/api/v1/targets"))["data"]["activeTargets"]
    groups = json.loads(get(f"{wbase}/api/v1/rules"))["data"]["groups"]
    mem = memory(watch.pid)
    head_series = counter(metrics, "watch_head_series")
    samples_held = (a["n"])  # every sample appended since start is still held (no retention yet)
    disk = dir_bytes(os.path.join(work, "firebreak-watch-tsdb"))
    wal = dir_bytes(os.path.join(work, "firebreak-watch-tsdb", "wal"))
    chunks = dir_bytes(os.path.join(work, "firebreak-watch-tsdb", "chunks_head"))
    print(f"\n### watch alone: {args.series} series every {args.interval}s "
          f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n")
    print("| figure | value |")
    print("|---|---:|")
    print(f"| series in the head | {head_series:.0f} |")
    print(f"| scrapes in {span:.0f} s (on time: {span / args.interval:.1f}) | "
          f"{a['scrapes'] - b['scrapes']:.0f} |")
    print(f"| last scrape took | {targets[0]['lastScrapeDuration'] * 1000:.0f} ms |")
    evals = a["evals"] - b["evals"]
    expect = sum(span / g["interval"] for g in groups)
    print(f"| rule group evaluations in {span:.0f} s (on time: {expect:.1f}) | {evals:.0f} |")
    print(f"| slowest rule group evaluation | "
          f"{max(g['evaluationTime'] for g in groups) * 1000:.0f} ms |")
    print(f"| CPU per stored sample | "
          f"{(a['cpu'] - b['cpu']) / max(a['n'] - b['n'], 1) * 1e6:.3f} µs |")
    print(f"| RSS | {mem['VmRSS'] / 1048576:.0f} MiB (anon {mem['RssAnon'] / 1048576:.0f}) |")
    print(f"| RSS per series | {mem['VmRSS'] / max(head_series, 1):.0f} B |")
    print(f"| bytes per sample on disk (WAL + chunk files + checkpoint) | "
          f"{disk / max(samples_held, 1):.2f} (WAL {wal / max(samples_held, 1):.2f}, "
          f"chunks {chunks / max(samples_held, 1):.2f}) |")
    if args.restart:
        for how, sig in (("SIGTERM (checkpoint at stop)", signal.SIGTERM),
                         ("SIGKILL (WAL replay)", signal.SIGKILL)):
            watch.send_signal(sig)
            watch.wait(timeout=600)
            start = time.time()
            watch = start_watch()
            wait_up(f"{wbase}/readyz", "firebreak watch", watch, timeout=1200)
            took = time.time() - start
            replay = counter(metrics, "watch_tsdb_recovery_duration_seconds")
            print(f"| restart after {how}: answering after | {took:.1f} s (replay {replay:.1f} s) |")
            time.sleep(2 * args.interval)
    return 0


if __name__ == "__main__":
    main()
