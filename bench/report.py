#!/usr/bin/env python3
"""Turns Google Benchmark JSON (with repetitions) into the markdown tables of
bench/RESULTS.md: median per benchmark, its ratio to the baseline measured in
the same run, and each target of the issues with a verdict.

usage: report.py RESULT.json [...]
"""
import json
import sys

# name -> (baseline name or None, how the target reads, check(median_ns, baseline_ns, items_per_s, base_items_per_s))
TARGETS = {
    "BM_Counter_Inc/real_time/threads:1": (
        "BM_Baseline_AtomicFetchAdd/real_time/threads:1", "<= 1.2x baseline",
        lambda t, b, i, bi: t <= 1.2 * b),
    "BM_Counter_Inc/real_time/threads:2": (
        "BM_Baseline_AtomicFetchAdd/real_time/threads:2", ">= 2x baseline throughput",
        lambda t, b, i, bi: i >= 2 * bi),
    "BM_Histogram_Observe/real_time/threads:1": (
        "BM_Baseline_AtomicFetchAdd/real_time/threads:1", "<= 2.5x baseline",
        lambda t, b, i, bi: t <= 2.5 * b),
    "BM_Histogram_Observe/real_time/threads:2": (
        "BM_Baseline_AtomicFetchAdd/real_time/threads:2", "(no lock: scales)",
        lambda t, b, i, bi: i >= 2 * bi),
    "BM_Counter_LabelLookup3/real_time/threads:1": (None, "< 40 ns", lambda t, b, i, bi: t < 40),
    "BM_Counter_LabelLookup3/real_time/threads:2": (None, "< 40 ns per lookup", lambda t, b, i, bi: 2e9 / i < 40),
    "BM_Scrape_10kCounters": (None, "< 4 ms", lambda t, b, i, bi: t < 4e6),
    "BM_Scrape_1kHistograms": (None, "< 3 ms", lambda t, b, i, bi: t < 3e6),
    "BM_Log_Info5Fields": (
        "BM_Baseline_FmtFormatLine", "< 60 ns", lambda t, b, i, bi: t < 60),
    "BM_Log_Disabled": (None, "< 2 ns", lambda t, b, i, bi: t < 2),
    "BM_Log_Throughput/real_time": (None, "> 2 M lines/s", lambda t, b, i, bi: i > 2e6),
    "BM_Span_Sampled": (
        "BM_Baseline_TwoClockReads", "< 100 ns", lambda t, b, i, bi: t < 100),
    "BM_Span_Unsampled": (
        "BM_Baseline_SpanIdRandom", "< 15 ns", lambda t, b, i, bi: t < 15),
    "BM_Span_UnsampledChild": (
        "BM_Baseline_SpanIdRandom", "< 15 ns", lambda t, b, i, bi: t < 15),
    # The export thread's encoding, beside copying the same bytes (no target).
    "BM_Encode_OtlpJson512": ("BM_Baseline_CopyOtlpJson512", "(no target)", lambda t, b, i, bi: True),
    # watch's OTLP trace ingest, beside parsing the same body into a JSON tree.
    "BM_Traces_Ingest": (
        "BM_Baseline_Traces_ParseJson", "<= 1.5x baseline",
        lambda t, b, i, bi: t <= 1.5 * b),
    # The whole rule pack over 100 targets: a small share of one 15 s interval.
    "BM_RulePack_Eval": (
        "BM_Baseline_RulePack_Select", "< 750 ms (5% of a 15 s interval)",
        lambda t, b, i, bi: t < 750e6),
    "BM_RulePack_Eval_DistinctThresholds": (
        "BM_Baseline_RulePack_Select", "< 750 ms (5% of a 15 s interval)",
        lambda t, b, i, bi: t < 750e6),
}

UNIT_NS = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}


def load(paths):
    medians = {}
    context = None
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        context = context or data.get("context", {})
        for b in data["benchmarks"]:
            if b.get("aggregate_name", "median") != "median":
                continue
            name = b.get("run_name", b["name"])
            medians[name] = {
                "ns": b["real_time"] * UNIT_NS[b.get("time_unit", "ns")],
                "items": b.get("items_per_second"),
                "bytes": b.get("bytes"),
            }
    return medians, context


def fmt_ns(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} us"
    return f"{ns:.2f} ns"


def main():
    medians, context = load(sys.argv[1:])
    print(f"Machine: {context.get('num_cpus')} CPUs at {context.get('mhz_per_cpu')} MHz; "
          f"{context.get('date', '')}")
    print()
    print("| benchmark | median | items/s | baseline (same run) | ratio | target | met |")
    print("|---|---|---|---|---|---|---|")
    failures = 0
    for name, m in medians.items():
        base_name, target, check = TARGETS.get(name, (None, "", None))
        base = medians.get(base_name) if base_name else None
        ratio = ""
        if base:
            if name.endswith("threads:2"):
                ratio = f"{m['items'] / base['items']:.2f}x throughput"
            else:
                ratio = f"{m['ns'] / base['ns']:.2f}x time"
        met = ""
        if check:
            ok = check(m["ns"], base["ns"] if base else None, m["items"], base["items"] if base else None)
            met = "yes" if ok else "**no**"
            failures += 0 if ok else 1
        items = f"{m['items'] / 1e6:.1f} M" if m["items"] else ""
        extra = f" ({m['bytes'] / 1024:.0f} KiB body)" if m["bytes"] else ""
        print(f"| `{name}` | {fmt_ns(m['ns'])}{extra} | {items} | "
              f"{fmt_ns(base['ns']) if base else ''} | {ratio} | {target} | {met} |")
    print()
    print(f"{failures} target(s) missed.")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
