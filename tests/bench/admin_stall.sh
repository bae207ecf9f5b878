#!/bin/bash
# Does the admin API stall the relay? lbproxy (history on, state from a real
# lbstated) with its history filled to 100,000 rows; wrk -t1 -c1 measures
# the latency of proxied 100-byte requests one after the other, first alone,
# then while `lbctl history --limit 100000` runs in a loop against the admin
# API (each answer is tens of MB of JSON). Target with the loop running:
# p99 <= 1 ms and max <= 20 ms.
# A control run puts the same query loop on a twin lbproxy (its own history
# of as many rows, same origin): the same CPU taken from the machine, none
# from the measured proxy's loop. What the query loop adds beyond the control
# is what the admin API costs the data path; the rest is the machine's cores
# shared by wrk, the origin, the proxy, lbctl and the query.
# Environment: BENCH_DURATION (s per run, 10).
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/peers.bash"

DURATION=${BENCH_DURATION:-10}
ROWS=100000
GROUP=bench.lbkit
LBCTL=$top_builddir/bin/lbctl/lbctl

need_exe "$LBPROXY" lbproxy
need_exe "$LBSTATED" lbstated
need_exe "$LBCTL" lbctl
need_cmds "admin stall" wrk nginx curl
raise_fd_limit

ORIGIN=$(free_port)
start_origin "$ORIGIN"
start_lbproxy_fed "$GROUP"
TWIN=$(free_port) TWIN_ADMIN=$(free_port)
LBPROXY_NAME=twin start_lbproxy "$TWIN" "$TWIN_ADMIN" "$STATED" "$GROUP"

LUA=$B/latency.lua
cat >"$LUA" <<EOF
wrk.path = "http://$GROUP" .. wrk.path
wrk.headers["Host"] = "$GROUP"
done = function(summary, latency, requests)
    io.write(string.format("RESULT %d %d %d %d\n", summary.requests,
        latency:percentile(99), latency.max,
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
EOF

# fill PORT ADMIN: wrk at 20 connections until the proxy's writer has
# committed $ROWS rows (bounded: at most 12 runs of 5 s).
fill() {
    local i written
    for i in $(seq 1 12); do
        read -r _ written _ _ < <(history_account "$2") || die "lbproxy's admin API did not answer"
        [ "$written" -ge "$ROWS" ] && break
        wrk -t1 -c20 -d5s -s "$LUA" "http://127.0.0.1:$1/100b" >/dev/null 2>&1
    done
    [ "$written" -ge "$ROWS" ] || die "the history holds only $written rows after 60 s of load"
    rows=$("$LBCTL" -s "http://127.0.0.1:$2" history --limit "$ROWS" -o tsv | wc -l)
    [ "$rows" -ge "$ROWS" ] || die "lbctl history --limit $ROWS gave $rows rows"
}
fill "$PROXY" "$PROXY_ADMIN"
fill "$TWIN" "$TWIN_ADMIN"

# c1 LABEL: one run at one connection; prints "requests p99-ms max-ms errors".
c1() {
    wrk -t1 -c1 -d"${DURATION}s" -s "$LUA" "http://127.0.0.1:$PROXY/100b" >"$B/wrk-$1.out" 2>&1
    grep '^RESULT' "$B/wrk-$1.out" | awk '{ printf "%d %.3f %.3f %d\n", $2, $3 / 1000, $4 / 1000, $5 }' ||
        { cat "$B/wrk-$1.out" >&2; die "wrk ($1) failed"; }
}

wrk -t1 -c1 -d1s -s "$LUA" "http://127.0.0.1:$PROXY/100b" >/dev/null 2>&1   # warm-up
read -r quiet_n quiet_p99 quiet_max quiet_err < <(c1 quiet)

# loaded LABEL ADMIN: a run at one connection while a shell child runs the
# query loop against ADMIN; it notes the rows and the ms of every answer in
# $B/queries-LABEL. The loop ends after its current query.
loaded() {
    local q=$B/queries-$1 loop
    : >"$q"; rm -f "$B/stop"
    (
        while [ ! -e "$B/stop" ]; do
            t0=$(date +%s%N)
            "$LBCTL" -s "http://127.0.0.1:$2" history --limit "$ROWS" -o tsv >"$B/history.tsv" 2>>"$B/lbctl.err" &&
                echo "$(wc -l <"$B/history.tsv") $(( ($(date +%s%N) - t0) / 1000000 ))" >>"$q"
        done
    ) &
    loop=$!
    _pids+=("$loop"); _names+=("history loop")
    sleep 1
    c1 "$1"
    touch "$B/stop"; wait "$loop" 2>/dev/null
}
loaded busy "$PROXY_ADMIN" >"$B/busy.result"
loaded twin "$TWIN_ADMIN" >"$B/twin.result"
read -r busy_n busy_p99 busy_max busy_err <"$B/busy.result"
read -r twin_n twin_p99 twin_max twin_err <"$B/twin.result"
queries=$(wc -l <"$B/queries-busy")
full=$(awk -v n="$ROWS" '$1 >= n' "$B/queries-busy" | wc -l)

echo "admin stall: wrk -t1 -c1, ${DURATION}s per run, 100-byte body through lbproxy, history of $ROWS rows"
printf '%-34s %9s %8s %8s %7s\n' run requests "p99 ms" "max ms" errors
printf '%-34s %9d %8.3f %8.3f %7d\n' "alone" "$quiet_n" "$quiet_p99" "$quiet_max" "$quiet_err"
printf '%-34s %9d %8.3f %8.3f %7d\n' "lbctl history --limit $ROWS loop" "$busy_n" "$busy_p99" "$busy_max" "$busy_err"
printf '%-34s %9d %8.3f %8.3f %7d\n' "control: the loop on a twin lbproxy" "$twin_n" "$twin_p99" "$twin_max" "$twin_err"
echo "(history queries answered during the run: $queries, $full of them with all $ROWS rows;" \
     "median $(cut -d' ' -f2 "$B/queries-busy" | median) ms each, lbctl's parsing and printing included;" \
     "load average $(cut -d' ' -f1 /proc/loadavg))"
[ "$queries" -gt 0 ] || echo "WARNING: no history query finished during the run; lbctl said: $(tail -n 1 "$B/lbctl.err" 2>/dev/null)"
printf '\n%-34s %9s %8s %s\n' "with the query loop" value target ""
printf '%-34s %9.3f %8s %s\n' "p99 ms" "$busy_p99" "<= 1" "$(verdict "$busy_p99 <= 1")"
printf '%-34s %9.3f %8s %s\n' "max ms" "$busy_max" "<= 20" "$(verdict "$busy_max <= 20")"
printf '%-34s %9.3f %8s %s\n' "p99 ms minus the control's" "$(awk -v a="$busy_p99" -v b="$twin_p99" 'BEGIN { print a - b }')" "" \
    "(what the admin API itself adds)"
