#!/usr/bin/python3
"""Peer checks: real implementations of the exposition formats read what we write.

Run with Debian's /usr/bin/python3 (python3-prometheus-client). Subcommands:

  exporter          peer-exporter's output, parsed by prometheus_client's text or
                    OpenMetrics parser, must hold exactly the families, types, HELP,
                    units, label sets and values its manifest says were recorded.
  promtool-exporter `promtool check metrics` finds nothing to say about
                    peer-exporter's text output.
  process           the process_* families match what prometheus_client's own
                    ProcessCollector reads for the same live process.
  promtool-service  `promtool check metrics` finds nothing to say about
                    minimal-service's /metrics (fetched with curl).
  service           minimal-service's /metrics, fetched with each Accept header,
                    is served in the negotiated format, parses with both parsers,
                    holds the families every Firebreak service must expose and
                    those minimal-service documents, with their types, HELP,
                    units and label sets, every family well-formed (cumulative
                    buckets ending in +Inf == _count, ...), the same in both formats.

Exit status 0 when every check passed; else 1, after listing every failure.
"""

import argparse
import gzip
import json
import math
import os
import selectors
import subprocess
import sys
import tempfile
import time
import urllib.request

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text
from prometheus_client.process_collector import ProcessCollector

OPENMETRICS_ACCEPT = "application/openmetrics-text; version=1.0.0"
# What Prometheus 2.x sends when scraping (scrape_protocols default).
PROMETHEUS_2_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
TEXT_CONTENT_TYPE = "text/plain; version=0.0.4"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0"


class Checks:
    """Collects failures instead of stopping at the first one."""

    def __init__(self, what):
        self.what = what
        self.failures = []
        self.passed = 0

    def check(self, ok, message):
        if ok:
            self.passed += 1
        else:
            self.failures.append(message)
        return ok

    def finish(self):
        if self.failures:
            print(f"FAIL {self.what}: {len(self.failures)} problem(s), {self.passed} checks passed")
            for f in self.failures:
                print("  - " + f)
            return 1
        print(f"ok {self.what}: {self.passed} checks passed")
        return 0


def same_value(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b


def number(text):
    """A manifest number: exact decimal text, or nan/inf/-inf."""
    return float(text)


def canonical_labels(labels):
    """Label sets as Prometheus compares them: an empty value is an absent label;
    le compared as a number ("1" == "1.0")."""
    out = []
    for name, value in labels.items():
        if value == "":
            continue
        if name == "le":
            value = repr(float(value))
        out.append((name, value))
    return tuple(sorted(out))


def sample_key(name, labels):
    return (name, canonical_labels(labels))


def show_key(key):
    name, labels = key
    return name + "{" + ",".join(f"{k}={v!r}" for k, v in labels) + "}"


# ---------------------------------------------------------------------------
# Expected samples, derived from peer-exporter's manifest (what it recorded).


def expected_family_samples(family, openmetrics, created):
    """Returns {key: (value, tolerance_kind)}, {key} of optional samples (value given)."""
    name, kind = family["name"], family["type"]
    expected, optional = {}, {}
    for series in family["series"]:
        labels = dict(series["labels"])
        if kind == "counter":
            total = math.fsum(number(v) for v in series["increments"])
            expected[sample_key(name + "_total", labels)] = (total, "exact")
        elif kind == "gauge":
            value = 0.0
            for op, arg in series["ops"]:
                arg = number(arg)
                if op == "set":
                    value = arg
                elif op == "inc":
                    value += arg
                elif op == "dec":
                    value -= arg
                else:
                    raise ValueError(f"unknown gauge op {op}")
            expected[sample_key(name, labels)] = (value, "exact")
        elif kind == "histogram":
            observations = [number(v) for v in series["observations"]]
            bounds = [number(b) for b in family["bounds"]] + [math.inf]
            for bound in bounds:
                le = "+Inf" if bound == math.inf else repr(bound)
                count = sum(1 for v in observations if v <= bound)
                expected[sample_key(name + "_bucket", {**labels, "le": le})] = (count, "exact")
            expected[sample_key(name + "_count", labels)] = (len(observations), "exact")
            # The sum's rounding depends on the order of additions: compare closely.
            expected[sample_key(name + "_sum", labels)] = (math.fsum(observations), "close")
        else:
            raise ValueError(f"unknown type {kind}")
        if openmetrics and kind in ("counter", "histogram"):
            key = sample_key(name + "_created", labels)
            if series.get("created") is True:
                expected[key] = (created, "exact")
            elif series.get("created") == "optional":
                optional[key] = (created, "exact")
    return expected, optional


def compare_family_samples(checks, family_name, parsed_samples, expected, optional):
    seen = {}
    for s in parsed_samples:
        key = sample_key(s.name, s.labels)
        checks.check(key not in seen, f"{family_name}: sample {show_key(key)} written twice")
        seen[key] = s.value
        checks.check(s.timestamp is None, f"{family_name}: {show_key(key)} has a timestamp")
    for key, (value, how) in expected.items():
        if not checks.check(key in seen, f"{family_name}: missing sample {show_key(key)}"):
            continue
        got = seen[key]
        if how == "close":
            ok = math.isclose(got, value, rel_tol=1e-12, abs_tol=1e-12)
        else:
            ok = same_value(got, value)
        checks.check(ok, f"{family_name}: {show_key(key)} = {got!r}, recorded {value!r}")
    for key, got in seen.items():
        if key in expected:
            continue
        if key in optional:
            value = optional[key][0]
            checks.check(
                same_value(got, value),
                f"{family_name}: optional {show_key(key)} = {got!r}, expected {value!r}",
            )
            continue
        checks.check(False, f"{family_name}: unexpected sample {show_key(key)} = {got!r}")


def run_exporter(exporter, fmt, manifest_path=None, extra=()):
    cmd = [exporter, "--format", fmt] + list(extra)
    if manifest_path:
        cmd += ["--manifest", manifest_path]
    result = subprocess.run(cmd, capture_output=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"{cmd} exited {result.returncode}: {result.stderr.decode()}")
    return result.stdout.decode("utf-8")


def cmd_exporter(args):
    checks = Checks(f"peer-exporter {args.format} output against its manifest")
    openmetrics = args.format == "openmetrics"
    with tempfile.TemporaryDirectory() as tmp:
        manifest_path = os.path.join(tmp, "manifest.json")
        body = run_exporter(args.exporter, args.format, manifest_path)
        with open(manifest_path, encoding="utf-8") as f:
            manifest = json.load(f)
    created = number(manifest["created"])
    wanted = {f["name"]: f for f in manifest["families"]}
    checks.check(len(wanted) == len(manifest["families"]), "manifest lists a family twice")

    if openmetrics:
        checks.check(body.endswith("\n# EOF\n"), "OpenMetrics output does not end with '# EOF\\n'")
        checks.check(body.count("# EOF") == 1, "'# EOF' appears more than once")
    else:
        checks.check("# EOF" not in body, "text format output contains '# EOF'")
    parse = parse_openmetrics if openmetrics else parse_text
    try:
        families = list(parse(body))
    except Exception as e:  # the parser's verdict is the point of the test
        checks.check(False, f"prometheus_client could not parse the output: {e!r}")
        print(body)
        return checks.finish()

    seen_names = [f.name for f in families]
    checks.check(
        len(seen_names) == len(set(seen_names)),
        f"families split or repeated: {sorted(n for n in seen_names if seen_names.count(n) > 1)}",
    )
    checks.check(
        set(seen_names) == set(wanted),
        f"family names differ: missing {sorted(set(wanted) - set(seen_names))}, "
        f"unexpected {sorted(set(seen_names) - set(wanted))}",
    )
    for fam in families:
        want = wanted.get(fam.name)
        if want is None:
            continue
        checks.check(fam.type == want["type"], f"{fam.name}: type {fam.type}, registered {want['type']}")
        checks.check(
            fam.documentation == want["help"],
            f"{fam.name}: HELP {fam.documentation!r}, registered {want['help']!r}",
        )
        want_unit = want["unit"] if openmetrics else ""
        checks.check(fam.unit == want_unit, f"{fam.name}: unit {fam.unit!r}, expected {want_unit!r}")
        expected, optional = expected_family_samples(want, openmetrics, created)
        compare_family_samples(checks, fam.name, fam.samples, expected, optional)
        label_names = set(want["label_names"])
        for s in fam.samples:
            names = set(s.labels) - {"le"}
            checks.check(
                names <= label_names,
                f"{fam.name}: sample {s.name} has labels {sorted(names)}, declared {sorted(label_names)}",
            )
    if checks.failures:
        print(body)
    return checks.finish()


# ---------------------------------------------------------------------------
# promtool


def promtool_check(checks, promtool, body, what, expected_lints=()):
    """promtool must find nothing wrong, except exactly `expected_lints`."""
    result = subprocess.run(
        [promtool, "check", "metrics"], input=body.encode("utf-8"), capture_output=True, timeout=30
    )
    output = (result.stdout + result.stderr).decode("utf-8", "replace")
    lines = sorted(line for line in output.splitlines() if line.strip())
    want_rc = 3 if expected_lints else 0  # promtool's exit status for lint findings
    checks.check(
        result.returncode == want_rc and lines == sorted(expected_lints),
        f"promtool check metrics on {what}: exit {result.returncode}, said:\n{output}",
    )


# peer-exporter writes one family named like a recording rule's output, to see
# the parsers take colons; promtool rightly says exporters should not.
EXPORTER_EXPECTED_LINTS = ("peer:recorded:ratio metric names should not contain ':'",)


def cmd_promtool_exporter(args):
    checks = Checks("promtool check metrics on peer-exporter's text output")
    body = run_exporter(args.exporter, "text")
    checks.check(len(body) > 1000, "peer-exporter wrote almost nothing")
    promtool_check(checks, args.promtool, body, "peer-exporter", EXPORTER_EXPECTED_LINTS)
    return checks.finish()


# ---------------------------------------------------------------------------
# process_* against prometheus_client's ProcessCollector on the same process


def cmd_process(args):
    checks = Checks("process_* against prometheus_client's ProcessCollector")
    proc = subprocess.Popen(
        [args.exporter, "--format", "text", "--process"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        body = proc.stdout.read().decode("utf-8")  # EOF once it wrote; it then waits on stdin
        ready = proc.stderr.readline()  # once its descriptors are as when it scraped
        checks.check(ready == b"ready\n", f"peer-exporter --process said {ready!r}, not ready")
        ours = {f.name: f for f in parse_text(body)}
        theirs = {f.name: f for f in ProcessCollector(pid=lambda: proc.pid, registry=None).collect()}
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
    checks.check(proc.returncode == 0, f"peer-exporter --process exited {proc.returncode}")
    checks.check(
        set(ours) == set(theirs),
        f"families differ: ours {sorted(ours)}, prometheus_client's {sorted(theirs)}",
    )

    def value(families, name):
        return families[name].samples[0].value if name in families else math.nan

    for name in sorted(set(ours) & set(theirs)):
        a, b = ours[name], theirs[name]
        checks.check(a.type == b.type, f"{name}: type {a.type}, prometheus_client {b.type}")
        checks.check(
            a.documentation == b.documentation,
            f"{name}: HELP {a.documentation!r}, prometheus_client {b.documentation!r}",
        )
        checks.check(
            [s.name for s in a.samples] == [s.name for s in b.samples],
            f"{name}: samples {[s.name for s in a.samples]}, prometheus_client {[s.name for s in b.samples]}",
        )

    ours_v = {n: value(ours, n) for n in ours}
    theirs_v = {n: value(theirs, n) for n in theirs}
    start, their_start = ours_v.get("process_start_time_seconds"), theirs_v.get("process_start_time_seconds")
    if start is not None and their_start is not None:
        checks.check(
            abs(start - their_start) <= 0.011,
            f"process_start_time_seconds {start!r}, prometheus_client {their_start!r}",
        )
        checks.check(
            time.time() - 600 < start <= time.time(), f"process_start_time_seconds {start!r} is not recent"
        )
    checks.check(
        ours_v.get("process_max_fds") == theirs_v.get("process_max_fds"),
        f"process_max_fds {ours_v.get('process_max_fds')!r}, "
        f"prometheus_client {theirs_v.get('process_max_fds')!r}",
    )
    # prometheus_client lists /proc/<pid>/fd from outside the process: an exact
    # count, which ours must equal (it leaves out the descriptor it lists with).
    checks.check(
        ours_v.get("process_open_fds") == theirs_v.get("process_open_fds"),
        f"process_open_fds {ours_v.get('process_open_fds')!r}, "
        f"prometheus_client {theirs_v.get('process_open_fds')!r}",
    )
    cpu, their_cpu = ours_v.get("process_cpu_seconds", math.nan), theirs_v.get("process_cpu_seconds", math.nan)
    checks.check(
        0 <= cpu <= their_cpu <= cpu + 0.5,
        f"process_cpu_seconds {cpu!r}, prometheus_client read {their_cpu!r} later",
    )
    # Memory moves a little between the two reads (stdio buffers): compare closely.
    for name, slack in (("process_resident_memory_bytes", 2 << 20), ("process_virtual_memory_bytes", 4 << 20)):
        a, b = ours_v.get(name, math.nan), theirs_v.get(name, math.nan)
        checks.check(a > 0 and abs(a - b) <= slack, f"{name} {a!r}, prometheus_client {b!r}")
    if checks.failures:
        print(body)
    return checks.finish()


# ---------------------------------------------------------------------------
# minimal-service over HTTP


def listening_address(line, server):
    """The address of a `listening` log event of `server` in one line of a
    service's stdout (a JSON record), else None."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("event") != "listening":
        return None
    if record.get("server") != server or not isinstance(record.get("address"), str):
        return None
    return record["address"]


class Service:
    """Runs minimal-service on an ephemeral port."""

    def __init__(self, binary, extra=()):
        # JSON logs on stdout whatever the caller's environment says.
        env = {k: v for k, v in os.environ.items() if not k.startswith("FIREBREAK_LOG_")}
        self.proc = subprocess.Popen(
            [binary, "--admin-addr", "127.0.0.1:0", "--startup-delay", "0", "--drain-seconds", "0"]
            + list(extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.address = None
        self.output = []
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 15
        buffered = b""
        while self.address is None and time.monotonic() < deadline:
            if not selector.select(timeout=max(0, deadline - time.monotonic())):
                break
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                break
            buffered += chunk
            *lines, buffered = buffered.split(b"\n")
            for line in lines:
                text = line.decode("utf-8", "replace")
                self.output.append(text)
                if self.address is None:
                    self.address = listening_address(text, "admin")
        selector.close()
        if self.address is None:
            self.stop()
            raise RuntimeError(
                "minimal-service logged no `listening` event of server admin; stdout:\n"
                + "\n".join(self.output)
                + "\nstderr:\n"
                + self.proc.stderr.read().decode("utf-8", "replace")
            )
        self.wait_for_first_checks(deadline)

    def wait_for_first_checks(self, deadline):
        """Waits until every health check has run once, so that two scrapes
        in a row see the same series (on a loaded machine the first scrape
        can come before the health runner's first round)."""
        wanted = [f'health_check_duration_seconds_count{{check="{c}"}}' for c, _ in MINIMAL_SERVICE_CHECKS]
        body = ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://{self.address}/metrics", timeout=5) as r:
                    body = r.read().decode("utf-8")
            except OSError:
                body = ""
            if all(w in body for w in wanted):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("minimal-service's health checks did not run within 15 s; /metrics:\n" + body)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def curl(curl_bin, url, accept=None):
    """GET with curl; returns (status, content_type, body)."""
    cmd = [curl_bin, "-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code} %{content_type}", url]
    if accept is not None:
        cmd[1:1] = ["-H", f"Accept: {accept}"]
    result = subprocess.run(cmd, capture_output=True, timeout=20)
    if result.returncode != 0:
        raise RuntimeError(f"curl {url} failed: {result.stderr.decode()}")
    out = result.stdout.decode("utf-8")
    body, _, trailer = out.rpartition("\n")
    status, _, content_type = trailer.partition(" ")
    return int(status), content_type, body


def curl_gzip(curl_bin, url, accept=None):
    """GET with Accept-Encoding: gzip, undecoded; returns (status, headers, raw body bytes)."""
    with tempfile.NamedTemporaryFile() as head:
        cmd = [curl_bin, "-sS", "--max-time", "10", "-H", "Accept-Encoding: gzip", "-D", head.name, url]
        if accept is not None:
            cmd[1:1] = ["-H", f"Accept: {accept}"]
        result = subprocess.run(cmd, capture_output=True, timeout=20)
        if result.returncode != 0:
            raise RuntimeError(f"curl {url} failed: {result.stderr.decode()}")
        with open(head.name, encoding="latin-1") as f:
            lines = f.read().splitlines()
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return status, headers, result.stdout


def cmd_promtool_service(args):
    checks = Checks("promtool check metrics on minimal-service /metrics")
    with Service(args.service) as svc:
        status, content_type, body = curl(args.curl, f"http://{svc.address}/metrics")
    checks.check(status == 200, f"GET /metrics: status {status}")
    checks.check(content_type.startswith(TEXT_CONTENT_TYPE), f"Content-Type {content_type!r}")
    checks.check("# TYPE " in body, "no families in /metrics")
    promtool_check(checks, args.promtool, body, "minimal-service /metrics")
    if checks.failures:
        print(body)
    return checks.finish()


# What every Firebreak service exposes (docs/metrics.md, "Every service"), and
# what minimal-service documents it records: family name (as the parsers
# report it) -> (type, label names, HELP or None when not pinned, unit).
PROCESS_HELP = {
    "process_start_time_seconds": "Start time of the process since unix epoch in seconds.",
    "process_cpu_seconds": "Total user and system CPU time spent in seconds.",
    "process_resident_memory_bytes": "Resident memory size in bytes.",
    "process_open_fds": "Number of open file descriptors.",
    "process_max_fds": "Maximum number of open file descriptors.",
}
EXPECTED_FAMILIES = {
    "target_info": ("gauge", {"service_name", "service_version", "deployment_environment", "workload"}, None, ""),
    "process_start_time_seconds": ("gauge", set(), PROCESS_HELP["process_start_time_seconds"], "seconds"),
    "process_cpu_seconds": ("counter", set(), PROCESS_HELP["process_cpu_seconds"], "seconds"),
    "process_resident_memory_bytes": ("gauge", set(), PROCESS_HELP["process_resident_memory_bytes"], "bytes"),
    "process_open_fds": ("gauge", set(), PROCESS_HELP["process_open_fds"], ""),
    "process_max_fds": ("gauge", set(), PROCESS_HELP["process_max_fds"], ""),
    "service_ready": ("gauge", set(), None, ""),
    "health_check_status": ("gauge", {"check", "kind"}, None, ""),
    "health_check_duration_seconds": ("histogram", {"check"}, None, "seconds"),
    # minimal-service's own (examples/minimal/main.cc)
    "minimal_work_items": ("counter", {"kind"}, "Work items processed, by kind.", ""),
    "minimal_queue_depth": ("gauge", set(), "Work items waiting.", ""),
    "minimal_work_duration_seconds": ("histogram", {"kind"}, "Time to process a work item, by kind.", "seconds"),
}
# minimal-service's checks: (check, kind) label pairs of health_check_status.
MINIMAL_SERVICE_CHECKS = {("database", "readiness"), ("work-loop", "liveness")}
# The kit's default latency buckets (docs/metrics.md), which minimal_work_duration_seconds uses.
DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, math.inf]


def check_well_formed(checks, families, fmt):
    """Structural rules every family must follow, whatever it is."""
    names = [f.name for f in families]
    checks.check(len(names) == len(set(names)), f"{fmt}: a family appears twice")
    for fam in families:
        where = f"{fmt} {fam.name}"
        checks.check(fam.type in ("counter", "gauge", "histogram"), f"{where}: type {fam.type}")
        checks.check(fam.documentation != "", f"{where}: no HELP")
        keys = [sample_key(s.name, s.labels) for s in fam.samples]
        checks.check(len(keys) == len(set(keys)), f"{where}: a series is written twice")
        if fam.type == "gauge":
            checks.check(all(s.name == fam.name for s in fam.samples), f"{where}: odd sample names")
        elif fam.type == "counter":
            allowed = {fam.name + "_total"} | ({fam.name + "_created"} if fmt == "openmetrics" else set())
            checks.check(all(s.name in allowed for s in fam.samples), f"{where}: odd sample names")
            for s in fam.samples:
                if s.name.endswith("_total"):
                    checks.check(s.value >= 0, f"{where}: negative counter {s.value}")
        elif fam.type == "histogram":
            series = {}
            for s in fam.samples:
                base = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
                series.setdefault(base, []).append(s)
            for base, samples in series.items():
                buckets = [s for s in samples if s.name == fam.name + "_bucket"]
                count = [s.value for s in samples if s.name == fam.name + "_count"]
                total = [s.value for s in samples if s.name == fam.name + "_sum"]
                bounds = [float(s.labels["le"]) for s in buckets]
                counts = [s.value for s in buckets]
                tag = f"{where}{dict(base)}"
                checks.check(len(buckets) >= 1 and bounds[-1] == math.inf, f"{tag}: no +Inf bucket")
                checks.check(bounds == sorted(set(bounds)), f"{tag}: bounds {bounds} not increasing")
                checks.check(counts == sorted(counts), f"{tag}: bucket counts {counts} not cumulative")
                checks.check(
                    len(count) == 1 and counts and counts[-1] == count[0],
                    f"{tag}: +Inf bucket {counts[-1:]} != _count {count}",
                )
                checks.check(len(total) == 1, f"{tag}: _sum missing")


def cmd_service(args):
    checks = Checks("minimal-service /metrics with prometheus_client's parsers")
    with Service(args.service) as svc:
        url = f"http://{svc.address}/metrics"
        responses = {
            "text": curl(args.curl, url),
            "openmetrics": curl(args.curl, url, OPENMETRICS_ACCEPT),
            "prometheus2": curl(args.curl, url, PROMETHEUS_2_ACCEPT),
            "explicit-text": curl(args.curl, url, "text/plain; version=0.0.4"),
        }
        # Compressed, as Prometheus asks: Python's gzip decodes what we compressed.
        gz_status, gz_headers, gz_raw = curl_gzip(args.curl, url, OPENMETRICS_ACCEPT)
    checks.check(gz_status == 200, f"gzip: status {gz_status}")
    checks.check(gz_headers.get("content-encoding") == "gzip", f"gzip: headers {gz_headers}")
    try:
        gz_body = gzip.decompress(gz_raw).decode("utf-8")
        checks.check(gz_body.endswith("# EOF\n"), "gzip: decoded body does not end with '# EOF'")
        gz_families = {f.name for f in parse_openmetrics(gz_body)}
        checks.check(set(EXPECTED_FAMILIES) <= gz_families,
                     f"gzip: families missing: {sorted(set(EXPECTED_FAMILIES) - gz_families)}")
    except Exception as e:
        checks.check(False, f"gzip: body does not decode and parse: {e!r}")
    parsed = {}
    for name, (status, content_type, body) in responses.items():
        fmt = "openmetrics" if name in ("openmetrics", "prometheus2") else "text"
        checks.check(status == 200, f"{name}: status {status}")
        want_type = OPENMETRICS_CONTENT_TYPE if fmt == "openmetrics" else TEXT_CONTENT_TYPE
        checks.check(content_type.startswith(want_type), f"{name}: Content-Type {content_type!r}, want {want_type}")
        if fmt == "openmetrics":
            checks.check(body.endswith("# EOF\n"), f"{name}: body does not end with '# EOF'")
        else:
            checks.check("# EOF" not in body, f"{name}: text body holds '# EOF'")
        try:
            families = list((parse_openmetrics if fmt == "openmetrics" else parse_text)(body))
        except Exception as e:
            checks.check(False, f"{name}: prometheus_client could not parse the body: {e!r}\n{body}")
            continue
        check_well_formed(checks, families, fmt)
        parsed[name] = {f.name: f for f in families}

    for fmt in ("text", "openmetrics"):
        fams = parsed.get(fmt)
        if fams is None:
            continue
        for name, (kind, label_names, help_text, unit) in EXPECTED_FAMILIES.items():
            fam = fams.get(name)
            if not checks.check(fam is not None, f"{fmt}: family {name} missing"):
                continue
            checks.check(fam.type == kind, f"{fmt} {name}: type {fam.type}, want {kind}")
            if help_text is not None:
                checks.check(fam.documentation == help_text, f"{fmt} {name}: HELP {fam.documentation!r}")
            want_unit = unit if fmt == "openmetrics" else ""
            checks.check(fam.unit == want_unit, f"{fmt} {name}: unit {fam.unit!r}, want {want_unit!r}")
            checks.check(len(fam.samples) > 0, f"{fmt} {name}: no samples")
            for s in fam.samples:
                got = set(s.labels) - {"le"}
                checks.check(got == label_names, f"{fmt} {name}: labels {sorted(got)}, want {sorted(label_names)}")
        if "health_check_status" in fams:
            pairs = {(s.labels.get("check"), s.labels.get("kind")) for s in fams["health_check_status"].samples}
            checks.check(pairs == MINIMAL_SERVICE_CHECKS, f"{fmt} health_check_status series {sorted(pairs)}")
        for name, label in (("minimal_work_items", "kind"), ("minimal_work_duration_seconds", "kind")):
            if name in fams:
                kinds = {s.labels.get(label) for s in fams[name].samples}
                checks.check(kinds == {"small", "large"}, f"{fmt} {name}: kinds {sorted(kinds)}")
        if "minimal_work_duration_seconds" in fams:
            for kind in ("small", "large"):
                bounds = [float(s.labels["le"]) for s in fams["minimal_work_duration_seconds"].samples
                          if s.name.endswith("_bucket") and s.labels.get("kind") == kind]
                checks.check(bounds == DEFAULT_BUCKETS, f"{fmt} minimal_work_duration_seconds{{kind={kind}}}: le {bounds}")
        if "target_info" in fams:
            for s in fams["target_info"].samples:
                checks.check(s.value == 1, f"{fmt} target_info = {s.value}")
                checks.check(
                    s.labels.get("workload") in ("api", "worker", "job"),
                    f"{fmt} target_info workload={s.labels.get('workload')!r}",
                )
        for s in fams.get("health_check_status", None).samples if "health_check_status" in fams else []:
            checks.check(s.value in (0, 1), f"{fmt} health_check_status{s.labels} = {s.value}")
            checks.check(s.labels.get("kind") in ("liveness", "readiness"), f"{fmt} health_check_status kind {s.labels}")
        if "process_start_time_seconds" in fams:
            start = fams["process_start_time_seconds"].samples[0].value
            checks.check(time.time() - 600 < start <= time.time(), f"{fmt}: process_start_time_seconds {start}")

    # Both formats describe the same families, types, HELP, units and series.
    text, om = parsed.get("text"), parsed.get("openmetrics")
    if text and om:
        checks.check(set(text) == set(om), f"families differ: text only {sorted(set(text) - set(om))}, "
                     f"openmetrics only {sorted(set(om) - set(text))}")
        for name in sorted(set(text) & set(om)):
            a, b = text[name], om[name]
            checks.check(a.type == b.type, f"{name}: text type {a.type}, openmetrics {b.type}")
            checks.check(a.documentation == b.documentation, f"{name}: HELP differs between formats")
            series_a = {sample_key(s.name, s.labels) for s in a.samples}
            series_b = {sample_key(s.name, s.labels) for s in b.samples if not s.name.endswith("_created")}
            checks.check(series_a == series_b, f"{name}: series differ between formats: "
                         f"{sorted(map(show_key, series_a ^ series_b))}")
            unit_ok = b.unit == "" or name.endswith("_" + b.unit)
            checks.check(unit_ok, f"{name}: unit {b.unit!r} is not the name's suffix")
    if checks.failures:
        for name, (_, _, body) in responses.items():
            print(f"--- {name}\n{body}")
    return checks.finish()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--promtool", default="promtool")
    parser.add_argument("--curl", default="curl")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("exporter")
    p.add_argument("--exporter", required=True)
    p.add_argument("--format", choices=["text", "openmetrics"], required=True)
    p = sub.add_parser("promtool-exporter")
    p.add_argument("--exporter", required=True)
    p = sub.add_parser("process")
    p.add_argument("--exporter", required=True)
    for name in ("promtool-service", "service"):
        p = sub.add_parser(name)
        p.add_argument("--service", required=True)
    args = parser.parse_args()
    handlers = {
        "exporter": cmd_exporter,
        "promtool-exporter": cmd_promtool_exporter,
        "process": cmd_process,
        "promtool-service": cmd_promtool_service,
        "service": cmd_service,
    }
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
