#!/usr/bin/env python3
"""Times the Python package's recording paths beside prometheus_client's, in
the same process and run (issue 15's performance targets):

  counter_inc          Counter.inc() on a kept handle
  histogram_observe    Histogram.observe() on a kept handle (default buckets)
  labels_inc           family.labels("GET", "200").inc(): lookup + record

Run with the extension built (scripts/setup) or installed:

  PYTHONPATH=build/python /usr/bin/python3 bench/python_metrics_bench.py

Each figure is the best of several repeats of a timeit loop, in ns per call.
The statements are compiled into timeit's loop (no wrapper function); the
cost of calling a no-op method defined in Python is printed for scale.
"""

import argparse
import timeit

import prometheus_client

import firebreak


def best_ns(stmt, names, number, repeat):
    """Best-of-`repeat` ns per execution of the statement `stmt` (a string,
    compiled into timeit's loop, so no wrapper function is timed)."""
    return min(timeit.repeat(stmt, number=number, repeat=repeat, globals=names)) / number * 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    fb = firebreak.Registry()
    fb_counter = fb.counter("bench_total", "Bench.").labels()
    fb_hist = fb.histogram("bench_seconds", "Bench.", unit="seconds").labels()
    fb_family = fb.counter("bench_requests_total", "Bench.", labels=["method", "code"])

    pc = prometheus_client.CollectorRegistry()
    pc_counter = prometheus_client.Counter("bench", "Bench.", registry=pc)
    pc_hist = prometheus_client.Histogram("bench_seconds", "Bench.", registry=pc)
    pc_family = prometheus_client.Counter("bench_requests", "Bench.", ["method", "code"],
                                          registry=pc)

    class Noop:
        def call(self, *args):
            pass

    names = dict(fb_counter=fb_counter, fb_hist=fb_hist, fb_family=fb_family,
                 pc_counter=pc_counter, pc_hist=pc_hist, pc_family=pc_family, noop=Noop())
    cases = [
        ("counter_inc", "fb_counter.inc()", "pc_counter.inc()"),
        ("histogram_observe", "fb_hist.observe(0.02)", "pc_hist.observe(0.02)"),
        ("labels_inc", 'fb_family.labels("GET", "200").inc()',
         'pc_family.labels("GET", "200").inc()'),
    ]
    floor = best_ns("noop.call()", names, args.number, args.repeat)
    print(f"for scale: calling a no-op method defined in Python takes {floor:.0f} ns")
    print(f"{'case':<20}{'firebreak ns':>14}{'prometheus_client ns':>22}{'ratio':>8}")
    for name, fb_stmt, pc_stmt in cases:
        a = best_ns(fb_stmt, names, args.number, args.repeat)
        b = best_ns(pc_stmt, names, args.number, args.repeat)
        print(f"{name:<20}{a:>14.0f}{b:>22.0f}{a / b:>8.2f}")

if __name__ == "__main__":
    main()
