#!/bin/bash
# lbstated ingest: server-reports per second through POST /v1/reports.
# wrk (BENCH_INGEST_CONNS connections, like as many lbsniff notifiers) posts
# reports of SERVERS servers each; the loads change from report to report
# (64 prepared bodies in turn), the states stay up. Server-reports/s =
# reports/s x SERVERS. Only 2xx answers count: wrk counts others as errors.
# Environment: BENCH_DURATION (s per run, 5), BENCH_RUNS (3).
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/peers.bash"

DURATION=${BENCH_DURATION:-5}
RUNS=${BENCH_RUNS:-3}
CONNS=${BENCH_INGEST_CONNS:-16}
SERVERS=50

need_exe "$LBSTATED" lbstated
command -v wrk >/dev/null || skip "lbstated ingest: wrk not installed (tests/bench/setup.sh installs it)"

# 10 groups of 5 servers, addresses that nobody needs to answer on.
for i in $(seq 1 $SERVERS); do
    echo "g$(( (i - 1) / 5 )).ingest.bench 127.0.1.$i:8080 $(( i % 3 + 1 ))"
done >"$B/groups"

{
    echo "local servers = $SERVERS"
    cat <<'EOF'
local reqs = {}
local headers = { ["Content-Type"] = "application/json" }
for n = 1, 64 do
    local parts = {}
    for i = 1, servers do
        parts[i] = string.format('{"addr":"127.0.1.%d:8080","load":%d,"state":"up"}', i, (n * 37 + i * 11) % 500)
    end
    local body = '{"notifier":"bench-ingest","interval_ms":1000,"servers":[' .. table.concat(parts, ",") .. ']}'
    reqs[n] = wrk.format("POST", "/v1/reports", headers, body)
end
local k = 0
request = function()
    k = k % 64 + 1
    return reqs[k]
end
done = function(summary, latency, requests)
    local e = summary.errors
    -- answers other than 2xx/3xx are not reports taken in
    io.write(string.format("RESULT %d %d %d %d\n", summary.requests - e.status, summary.duration,
        e.connect + e.read + e.write + e.status + e.timeout, latency:percentile(99)))
end
EOF
} >"$B/ingest.lua"

PORT=$(free_port)
start_lbstated "$PORT" "$B/groups"
# One report by curl first: a refused body fails here with lbstated's sentence.
body=""
for i in $(seq 1 $SERVERS); do body="$body${body:+,}{\"addr\":\"127.0.1.$i:8080\",\"load\":1,\"state\":\"up\"}"; done
answer=$(curl -sS -w '\n%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data "{\"notifier\":\"bench-ingest\",\"interval_ms\":1000,\"servers\":[$body]}" \
    "http://127.0.0.1:$PORT/v1/reports")
code=${answer##*$'\n'}
case $code in 2??) ;; *) die "lbstated refused a report of $SERVERS servers: $code ${answer%$'\n'*}" ;; esac

echo "lbstated ingest: wrk -t1 -c$CONNS, reports of $SERVERS servers, $RUNS runs x ${DURATION}s"
printf '%-5s %10s %16s %9s %7s %12s %8s\n' run reports/s server-reports/s "p99 ms" errors "cpu lbstated" "cpu wrk"
: >"$B/results"
wrk -t1 -c"$CONNS" -d1s -s "$B/ingest.lua" "http://127.0.0.1:$PORT/" >/dev/null 2>&1   # warm-up
for run in $(seq 1 "$RUNS"); do
    c0=$(cpu_ticks "$LBSTATED_PID"); t0=$(date +%s%N)
    ( wrk -t1 -c"$CONNS" -d"${DURATION}s" -s "$B/ingest.lua" "http://127.0.0.1:$PORT/" >"$B/wrk.out" 2>&1
      times >"$B/wrk.times" )
    t1=$(date +%s%N); c1=$(cpu_ticks "$LBSTATED_PID")
    out=$(grep '^RESULT' "$B/wrk.out") || { cat "$B/wrk.out" >&2; die "wrk failed"; }
    sed -n 2p "$B/wrk.times" | awk -v r="$out" -v n="$SERVERS" -v c="$((c1 - c0))" -v hz="$HZ" \
        -v wall="$(( (t1 - t0) / 1000 ))" -v run="$run" '
        function secs(s,  m) { m = s; sub(/m.*/, "", m); sub(/^[0-9]+m/, "", s); sub(/s$/, "", s); return m * 60 + s }
        { split(r, f, " "); rps = f[2] / f[3] * 1e6
          printf "%-5s %10.0f %16.0f %9.2f %7d %11.0f%% %7.0f%%\n", run, rps, rps * n, f[5] / 1000, f[4],
              c / hz * 1e6 / wall * 100, (secs($1) + secs($2)) * 1e6 / wall * 100 }' | tee -a "$B/results"
done
med=$(awk '{ print $3 }' "$B/results" | median)
errs=$(awk '{ s += $5 } END { print s + 0 }' "$B/results")
printf '%-5s %10s %16.0f\n' median "" "$med"
[ "$errs" = 0 ] || echo "warning: $errs requests failed or were refused (see lbstated's log); they are not counted"
echo "target >= 20000 server-reports/s: $(verdict "$med >= 20000")"
