#!/usr/bin/env python3
"""Times the Python package's recording paths beside prometheus_client's, in
the same process and run (issue 15's performance targets):

  counter_inc          Counter.inc() on a kept handle
  histogram_observe    Histogram.observe() on a kept handle (default buckets)
  labels_inc           family.labels("GET", "200").inc(): lookup + record

Run with the extension built (scripts/setup) or installed:

  PYTHONPATH=build/python /usr/bin/python3 bench/python_metrics_bench.py

Each figure is the best of several repeats of a timeit loop, in ns per call.
The loop's own cost (a Python call of a no-op method) is printed too, since
it is part of every figure for both libraries.
"""

import argparse
import timeit

import prometheus_client

import firebreak


def best_ns(stmt, number, repeat):
    return min(timeit.repeat(stmt, number=number, repeat=repeat)) / number * 1e9


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
        def call(self):
            pass

    noop = Noop()
    cases = [
        ("counter_inc", fb_counter.inc, pc_counter.inc),
        ("histogram_observe", lambda: fb_hist.observe(0.02), lambda: pc_hist.observe(0.02)),
        ("labels_inc", lambda: fb_family.labels("GET", "200").inc(),
         lambda: pc_family.labels("GET", "200").inc()),
    ]
    print(f"python no-op method call: {best_ns(noop.call, args.number, args.repeat):.0f} ns")
    print(f"{'case':<20}{'firebreak ns':>14}{'prometheus_client ns':>22}{'ratio':>8}")
    for name, fb_fn, pc_fn in cases:
        a = best_ns(fb_fn, args.number, args.repeat)
        b = best_ns(pc_fn, args.number, args.repeat)
        print(f"{name:<20}{a:>14.0f}{b:>22.0f}{a / b:>8.2f}")


if __name__ == "__main__":
    main()
