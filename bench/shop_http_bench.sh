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
# "metrics": request metrics and non-recording spans only (no exporter,
# shop-api --access-log off); "log": metrics and the access log.
#
# One shop-api per mode, all started first and warmed up, serving GET
# /orders/{id} from the same seeded SQLite database with the same server
# threads; only the one under wrk is busy. Each round runs wrk against every
# mode once, back to back, in an order that rotates from round to round; the
# ratios to "off" are taken within each round and their median reported. On a
# shared machine throughput drifts by ±10% over tens of seconds; short runs
# paired this way cancel the drift (an off-vs-off run of 10 rounds gives
# medians within ±1%), where runs minutes apart do not.
# Prints each run, then the medians, the ratios on/off and the target (within
# 5%): throughput (requests/s) and p99 latency; also the CPU time per request
# of shop-api and of the receiver (exact, from the scheduler's per-thread run
# times), which moves far less than throughput when other work shares the
# machine.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=2
rounds=10
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
command -v jq >/dev/null || { echo "jq missing: apt-get install jq (scripts/setup)" >&2; exit 1; }

work="$(mktemp -d -t shop-bench.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# CPU time of every thread of a process, in nanoseconds (exact: the
# scheduler's run time, not sampled ticks). %.0f: mawk's %d stops at 2^31.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{n += $1} END {printf "%.0f", n}'; }

# Waits for the `listening` log event of a server ("admin", "http", "otlp")
# in a file of JSON log lines; prints its address, HOST:PORT.
wait_listening() {
  local file="$1" server="$2" found
  for _ in $(seq 100); do
    found="$(jq -R -r --arg server "$server" \
      'fromjson? | select(.event == "listening" and .server == $server) | .address' \
      "$file" 2>/dev/null | head -1)"
    if [ -n "$found" ]; then
      echo "$found"
      return
    fi
    sleep 0.05
  done
  echo "no \"listening\" event of server $server in $file" >&2
  cat "${file%.out}.err" >&2 || true
  exit 1
}

"$bin/shop-otlp-sink" --listen 127.0.0.1:0 >"$work/sink.out" 2>"$work/sink.err" &
sink_pid=$!
pids+=("$sink_pid")
sink="$(wait_listening "$work/sink.out" otlp)"

export SHOP_BENCH_ORDERS=100
db="$work/shop.db"

declare -A api_pid api_http api_admin
# Starts shop-api in a mode (its output in $work/api-MODE.out).
start_api() {
  local mode="$1" out="$work/api-$1.out" kit=on access_log=on
  local env=(FIREBREAK_LOG_FORMAT=json)
  case "$mode" in
    on)
      # A queue sized for ~30k spans/s, so that spans are exported, not dropped.
      env+=(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://$sink/v1/traces"
        OTEL_TRACES_SAMPLER=always_on OTEL_BSP_MAX_QUEUE_SIZE=32768) ;;
    off | seed) kit=off ;;
    metrics) access_log=off ;;
    log) ;;
  esac
  env "${env[@]}" "$bin/shop-api" --kit "$kit" --access-log "$access_log" --db "$db" --listen 127.0.0.1:0 \
    --admin-addr 127.0.0.1:0 --threads "$server_threads" --drain-seconds 0 \
    >"$out" 2>"${out%.out}.err" &
  api_pid[$mode]=$!
  pids+=("$!")
  api_admin[$mode]="$(wait_listening "$out" admin)"
  api_http[$mode]="$(wait_listening "$out" http)"
}

# Seed the orders the benchmark reads.
start_api seed
for i in $(seq "$SHOP_BENCH_ORDERS"); do
  curl -sf -o /dev/null -H 'Content-Type: application/json' \
    -d "{\"item\":\"item-$((i % 10))\",\"quantity\":$((1 + i % 5))}" \
    "http://${api_http[seed]}/orders"
done
kill "${api_pid[seed]}"
wait "${api_pid[seed]}" 2>/dev/null || true

for mode in "${modes[@]}"; do
  start_api "$mode"
  wrk -t"$wrk_threads" -c"$connections" -d2s -s bench/shop_http_bench.lua \
    "http://${api_http[$mode]}/orders/1" >/dev/null
done

# "12.34us" / "1.20ms" / "1.00s" -> milliseconds
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000
    printf "%.3f", n }'
}

# A counter's value on a mode's /metrics (0 when absent), as an integer: awk
# would print a million and more in exponent form, which $(( )) refuses.
counter() {
  curl -s "http://${api_admin[$1]}/metrics" | awk -v n="$2" '$1 == n {v = $2} END {printf "%.0f\n", v}'
}

results="$work/results.tsv"
: >"$results"
for round in $(seq "$rounds"); do
  # Rotate the order each round, so that drift does not favour one mode.
  order=()
  for i in "${!modes[@]}"; do order+=("${modes[$(((i + round) % ${#modes[@]}))]}"); done
  for mode in "${order[@]}"; do
    pid="${api_pid[$mode]}"
    log="$work/api-$mode.out"
    exported0="$(counter "$mode" trace_spans_exported_total)"
    dropped0="$(counter "$mode" trace_spans_dropped_total)"
    log0="$(stat -c %s "$log")"
    api_cpu0="$(cpu_ns "$pid")"
    sink_cpu0="$(cpu_ns "$sink_pid")"
    out="$(wrk -t"$wrk_threads" -c"$connections" -d"${duration}s" --latency \
      -s bench/shop_http_bench.lua "http://${api_http[$mode]}/orders/1")"
    api_cpu="$(($(cpu_ns "$pid") - api_cpu0))"
    sink_cpu="$(($(cpu_ns "$sink_pid") - sink_cpu0))"
    requests="$(awk '/requests in/ {print $1}' <<<"$out")"
    api_us="$(awk -v t="$api_cpu" -v n="$requests" 'BEGIN {printf "%.1f", t / 1000 / n}')"
    sink_us="$(awk -v t="$sink_cpu" -v n="$requests" 'BEGIN {printf "%.1f", t / 1000 / n}')"
    rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
    p99="$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")"
    p50="$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")"
    non2xx="$(awk '/Non-2xx/ {print $4}' <<<"$out")"
    # What this run's requests left behind: spans (the exporter may still be
    # sending the last batch; it is counted in the next run of this mode) and
    # access-log lines (the writer's last batch likewise).
    exported="$(($(counter "$mode" trace_spans_exported_total) - exported0))"
    dropped="$(($(counter "$mode" trace_spans_dropped_total) - dropped0))"
    lines="$(tail -c +"$((log0 + 1))" "$log" | grep -c '"event":"http_request"' || true)"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$mode" "$rps" "$p50" "$p99" \
      "${non2xx:-0}" "$exported" "$dropped" "$lines" "$api_us" "$sink_us" >>"$results"
    printf 'round %s kit %-7s %10s req/s  p50 %7s ms  p99 %7s ms  cpu/req api %5s us sink %4s us  non-2xx %s  spans exported %s dropped %s  access-log lines %s\n' \
      "$round" "$mode" "$rps" "$p50" "$p99" "$api_us" "$sink_us" "${non2xx:-0}" "$exported" "$dropped" "$lines"
  done
done

echo
echo "receiver: $(curl -s "http://$sink/stats")"
/usr/bin/python3 - "$results" "$duration" "$connections" "$server_threads" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
by, rounds = {}, {}
for r in rows:
    v = (float(r[2]), float(r[4]), float(r[9]), float(r[10]))
    by.setdefault(r[1], []).append(v)
    rounds.setdefault(r[0], {})[r[1]] = v
med = {m: tuple(statistics.median(x[i] for x in v) for i in range(4)) for m, v in by.items()}
# Ratios to "off" within each round (paired), then their median.
def ratio(m, i):
    return statistics.median(r[m][i] / r["off"][i] for r in rounds.values() if m in r and "off" in r)
print(f"shop-api GET /orders/{{id}}, wrk {sys.argv[3]} connections, {sys.argv[4]} server threads, "
      f"{len(by['off'])} rounds x {sys.argv[2]} s, medians (ratios: median of each round's):")
print("| kit | requests/s | p99 ms | throughput vs off | p99 vs off | shop-api CPU us/request | receiver CPU us/request |")
print("|---|---:|---:|---:|---:|---:|---:|")
for m in [m for m in ("off", "metrics", "log", "on") if m in med]:
    print(f"| {m} | {med[m][0]:.0f} | {med[m][1]:.3f} | {ratio(m, 0):.3f} | "
          f"{ratio(m, 1):.3f} | {med[m][2]:.1f} | {med[m][3]:.1f} |")
ok = ratio("on", 0) >= 0.95 and ratio("on", 1) <= 1.05
print(f"target (on within 5% of off: throughput >= 0.95x, p99 <= 1.05x): {'met' if ok else 'NOT met'}")
PY
