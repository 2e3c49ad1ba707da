#!/usr/bin/python3
"""Writes <body>.expected for each test body: the samples that Python's own
prometheus_client parsers read from it, in the form Prometheus stores them,
as an independent oracle for watch's exposition parser
(tests/watch/scrape/parser_corpus_test.cc).

  /usr/bin/python3 tests/watch/scrape/data/generate_expected.py tests/watch/scrape/data

One line per sample, in body order: series, value, timestamp, tab-separated.
- series: name{label="value", ...} with labels sorted, empty values dropped,
  escapes \\ \" \n (watch::LabelSet::to_string);
- `le` of histograms and `quantile` of summaries in OpenMetrics float text
  ("1" -> "1.0"), as Prometheus 3 normalises them;
- value: Python's repr (round-trips exactly; inf, -inf, nan);
- timestamp: integer milliseconds, or "-". For OpenMetrics, seconds * 1000
  truncated in double arithmetic, as Prometheus computes it.
"""
import decimal
import math
import os
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

BODIES = {
    "python_client.prom": "text",
    "python_client.openmetrics": "openmetrics",
    "go_prometheus_server.prom": "text",
    "pushgateway.prom": "text",
    "openmetrics_features.openmetrics": "openmetrics",
    "../../../metrics/golden/exposition.prom": "text",
    "../../../metrics/golden/exposition.openmetrics": "openmetrics",
}


def openmetrics_float(f):
    """Prometheus's formatOpenMetricsFloat: Go's strconv 'g' with the shortest
    precision (scientific when the exponent is < -4 or >= 6), plus ".0" when
    the text has neither '.' nor 'e'."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0.0" if math.copysign(1, f) < 0 else "0.0"
    d = decimal.Decimal(repr(f))  # shortest round-trip digits
    sign, digits, exponent = d.as_tuple()
    digits = "".join(map(str, digits)).rstrip("0") or "0"
    exp10 = d.adjusted()
    neg = "-" if sign else ""
    if exp10 < -4 or exp10 >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{neg}{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    if exp10 >= 0:
        whole = digits[:exp10 + 1].ljust(exp10 + 1, "0")
        frac = digits[exp10 + 1:]
    else:
        whole = "0"
        frac = "0" * (-exp10 - 1) + digits
    return f"{neg}{whole}.{frac or '0'}"


def escape(v):
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def series(name, labels, family_type):
    pairs = []
    for k, v in labels.items():
        if v == "":
            continue
        if (family_type == "histogram" and k == "le") or (family_type == "summary" and k == "quantile"):
            v = openmetrics_float(float(v))
        pairs.append((k, v))
    pairs.sort()
    return name + "{" + ", ".join(f'{k}="{escape(v)}"' for k, v in pairs) + "}"


def timestamp_ms(ts, fmt):
    if ts is None:
        return "-"
    if fmt == "text":
        return str(round(ts * 1000))
    seconds = ts if isinstance(ts, float) else float(f"{ts.sec}.{ts.nsec:09d}")
    return str(int(seconds * 1000))


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(__file__)
    for body, fmt in BODIES.items():
        with open(os.path.join(root, body), encoding="utf-8") as f:
            text = f.read()
        parse = parse_text if fmt == "text" else parse_openmetrics
        lines = []
        for family in parse(text):
            for s in family.samples:
                lines.append(f"{series(s.name, s.labels, family.type)}\t{s.value!r}\t"
                             f"{timestamp_ms(s.timestamp, fmt)}")
        out = os.path.join(root, os.path.basename(body) + ".expected")
        with open(out, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        print(f"{out}: {len(lines)} samples")


if __name__ == "__main__":
    main()
