#!/usr/bin/env bash
# shop-api with the kit fully on vs off, under wrk, in the same run.
#
#   bench/shop_http_bench.sh [--duration S] [--rounds N] [--connections N] [--threads N]
#                            [--breakdown]
#   scripts/bench shop_http              # the same, after setup and build
#
# "on":  request metrics (http_server_*), the http_request access log (JSON
#        lines to a file), and tracing sampled at 100%, every span exported as
#        OTLP/HTTP JSON to a local receiver (shop-otlp-sink) that counts and
#        discards them.
# "off": shop-api --kit off: no request metrics, no access log, no spans, no
#        exporter (the service's admin port and /metrics still run; they are
#        not on the request path).
# --breakdown adds two steps in between, to see where the cost goes:
# "metrics": request metrics and non-recording spans only (no exporter, the
# access log below the log level); "log": metrics and the access log.
# All serve GET /orders/{id} from the same seeded SQLite database, with the
# same server threads. Rounds alternate the order (on/off, off/on, ...) so
# that drift on a shared machine hits both; each run has a warm-up first.
# Prints each run, then the medians, the ratios on/off and the target (within
# 5%): throughput (requests/s) and p99 latency; also the CPU time per request
# of shop-api and of the receiver, which varies far less than throughput when
# other work shares the machine.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=10
rounds=3
connections=16
wrk_threads=1
server_threads=2
modes=(on off)
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --threads) server_threads="$2"; shift 2 ;;
    --breakdown) modes=(on off metrics log); shift ;;
    *) echo "usage: $0 [--duration S] [--rounds N] [--connections N] [--threads N] [--breakdown]" >&2; exit 2 ;;
  esac
done

bin="${SHOP_BENCH_BIN:-build/bin}"
for b in shop-api shop-otlp-sink; do
  [ -x "$bin/$b" ] || { echo "$bin/$b missing: build the shop first (scripts/setup)" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk (scripts/setup)" >&2; exit 1; }

work="$(mktemp -d -t shop-bench.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

hz="$(getconf CLK_TCK)"
# User + system CPU time of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# Waits for "<what> listening on HOST:PORT" in a file; prints HOST:PORT.
wait_listening() {
  local file="$1" what="$2"
  for _ in $(seq 100); do
    if grep -q "^$what listening on " "$file" 2>/dev/null; then
      grep "^$what listening on " "$file" | head -1 | awk '{print $4}'
      return
    fi
    sleep 0.05
  done
  echo "no \"$what listening on\" in $file" >&2
  cat "${file%.out}.err" >&2 || true
  exit 1
}

"$bin/shop-otlp-sink" --listen 127.0.0.1:0 >"$work/sink.out" 2>"$work/sink.err" &
sink_pid=$!
pids+=("$sink_pid")
sink="$(wait_listening "$work/sink.out" otlp)"

export SHOP_BENCH_ORDERS=100
db="$work/shop.db"

# Starts shop-api in a mode; sets api_pid, api_http, api_admin.
start_api() {
  local mode="$1" out="$work/api-$1-$2.out" kit=on
  local env=(FIREBREAK_LOG_FORMAT=json)
  case "$mode" in
    on)
      # A queue sized for ~30k spans/s, so that spans are exported, not dropped.
      env+=(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://$sink/v1/traces"
        OTEL_TRACES_SAMPLER=always_on OTEL_BSP_MAX_QUEUE_SIZE=32768) ;;
    off) kit=off ;;
    metrics) env+=(FIREBREAK_LOG_LEVEL=warn) ;;
    log) ;;
  esac
  env "${env[@]}" "$bin/shop-api" --kit "$kit" --db "$db" --listen 127.0.0.1:0 \
    --admin-addr 127.0.0.1:0 --threads "$server_threads" --drain-seconds 0 \
    >"$out" 2>"${out%.out}.err" &
  api_pid=$!
  pids+=("$api_pid")
  api_admin="$(wait_listening "$out" admin)"
  api_http="$(wait_listening "$out" http)"
}

stop_api() {
  kill "$api_pid"
  wait "$api_pid" 2>/dev/null || true
}

# Seed the orders the benchmark reads.
start_api off seed
for i in $(seq "$SHOP_BENCH_ORDERS"); do
  curl -sf -o /dev/null -H 'Content-Type: application/json' \
    -d "{\"item\":\"item-$((i % 10))\",\"quantity\":$((1 + i % 5))}" "http://$api_http/orders"
done
stop_api

# "12.34us" / "1.20ms" / "1.00s" -> milliseconds
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000
    printf "%.3f", n }'
}

results="$work/results.tsv"
: >"$results"
for round in $(seq "$rounds"); do
  # Rotate the order each round, so that drift does not favour one mode.
  order=()
  for i in "${!modes[@]}"; do order+=("${modes[$(((i + round) % ${#modes[@]}))]}"); done
  for mode in "${order[@]}"; do
    start_api "$mode" "$round"
    url="http://$api_http/orders/1"
    wrk -t"$wrk_threads" -c"$connections" -d2s -s bench/shop_http_bench.lua "$url" >/dev/null
    api_cpu0="$(cpu_ticks "$api_pid")"
    sink_cpu0="$(cpu_ticks "$sink_pid")"
    out="$(wrk -t"$wrk_threads" -c"$connections" -d"${duration}s" --latency \
      -s bench/shop_http_bench.lua "$url")"
    api_cpu="$(($(cpu_ticks "$api_pid") - api_cpu0))"
    sink_cpu="$(($(cpu_ticks "$sink_pid") - sink_cpu0))"
    requests="$(awk '/requests in/ {print $1}' <<<"$out")"
    # CPU time per request, microseconds: steadier than throughput on a
    # shared machine (it does not count time spent waiting for a core).
    api_us="$(awk -v t="$api_cpu" -v n="$requests" -v hz="$hz" 'BEGIN {printf "%.1f", t * 1e6 / hz / n}')"
    sink_us="$(awk -v t="$sink_cpu" -v n="$requests" -v hz="$hz" 'BEGIN {printf "%.1f", t * 1e6 / hz / n}')"
    rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
    p99="$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")"
    p50="$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")"
    non2xx="$(awk '/Non-2xx/ {print $4}' <<<"$out")"
    metrics="$(curl -s "http://$api_admin/metrics")"
    exported="$(awk '/^trace_spans_exported_total / {print $2}' <<<"$metrics")"
    dropped="$(awk '/^trace_spans_dropped_total / {print $2}' <<<"$metrics")"
    stop_api
    lines="$(grep -c '"event":"http_request"' "$work/api-$mode-$round.out" || true)"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$mode" "$rps" "$p50" "$p99" \
      "${non2xx:-0}" "${exported:-0}" "${dropped:-0}" "$lines" "$api_us" "$sink_us" >>"$results"
    printf 'round %s kit %-7s %10s req/s  p50 %7s ms  p99 %7s ms  cpu/req api %5s us sink %4s us  non-2xx %s  spans exported %s dropped %s  access-log lines %s\n' \
      "$round" "$mode" "$rps" "$p50" "$p99" "$api_us" "$sink_us" "${non2xx:-0}" "${exported:-0}" "${dropped:-0}" "$lines"
  done
done

echo
echo "receiver: $(curl -s "http://$sink/stats")"
/usr/bin/python3 - "$results" "$duration" "$connections" "$server_threads" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
by = {}
for r in rows:
    by.setdefault(r[1], []).append((float(r[2]), float(r[4]), float(r[9]), float(r[10])))
med = {m: tuple(statistics.median(x[i] for x in v) for i in range(4)) for m, v in by.items()}
print(f"shop-api GET /orders/{{id}}, wrk {sys.argv[3]} connections, {sys.argv[4]} server threads, "
      f"{len(by['off'])} rounds x {sys.argv[2]} s, medians:")
print("| kit | requests/s | p99 ms | throughput vs off | p99 vs off | shop-api CPU us/request | receiver CPU us/request |")
print("|---|---:|---:|---:|---:|---:|---:|")
for m in [m for m in ("off", "metrics", "log", "on") if m in med]:
    print(f"| {m} | {med[m][0]:.0f} | {med[m][1]:.3f} | {med[m][0] / med['off'][0]:.3f} | "
          f"{med[m][1] / med['off'][1]:.3f} | {med[m][2]:.1f} | {med[m][3]:.1f} |")
ok = med["on"][0] / med["off"][0] >= 0.95 and med["on"][1] / med["off"][1] <= 1.05
print(f"target (on within 5% of off: throughput >= 0.95x, p99 <= 1.05x): {'met' if ok else 'NOT met'}")
PY
