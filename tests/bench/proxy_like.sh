#!/bin/bash
# Like for like against HAProxy 2.6 (one thread). HAProxy's nearest
# equivalent of lbproxy's relay history is an HTTP log line per request
# (option httplog) sent over UDP to a local syslog receiver that reads and
# drops; so lbproxy with its history is paired with that HAProxy, and
# lbproxy without history (--history-max-rows 0) with HAProxy without logs.
# Rounds are interleaved and paired (both sides of a pairing one after the
# other, the order swapped every round); for each pairing the median of the
# per-round ratios of req/s and of requests per CPU-second of the proxy
# process (utime+stime of all its threads, from /proc) is printed, and the
# p99 each proxy adds over direct at one connection.
# Environment: BENCH_DURATION (s per run, 5), BENCH_RUNS (rounds, 5),
# BENCH_CONNS (50).
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/peers.bash"

DURATION=${BENCH_DURATION:-5}
RUNS=${BENCH_RUNS:-5}
CONNS=${BENCH_CONNS:-50}
GROUP=bench.lbkit

need_exe "$LBPROXY" lbproxy
need_exe "$LBSTATED" lbstated
need_cmds "like for like" wrk nginx haproxy socat curl
raise_fd_limit

ORIGIN=$(free_port)
start_origin "$ORIGIN"
SINK=$(free_port)
start_syslog_sink "$SINK"
HAP_LOG=$(free_port);  HAPROXY_NAME=haproxy-log start_haproxy "$HAP_LOG" "$ORIGIN" "$SINK"; HAP_LOG_PID=$HAPROXY_PID
HAP_NOLOG=$(free_port); HAPROXY_NAME=haproxy-nolog start_haproxy "$HAP_NOLOG" "$ORIGIN"; HAP_NOLOG_PID=$HAPROXY_PID
start_lbproxy_fed "$GROUP"
HIST_ADMIN=$PROXY_ADMIN HIST_PID=$LBPROXY_PID
NOHIST=$(free_port)
LBPROXY_NAME=lbproxy-nohist start_lbproxy "$NOHIST" "$(free_port)" "$STATED" "$GROUP" --history-max-rows 0
NOHIST_PID=$LBPROXY_PID

# name, port, forward-proxy host ("-": origin-form), PID
declare -A path=(
    [lbproxy]="$PROXY $GROUP $HIST_PID"
    [haproxy-log]="$HAP_LOG - $HAP_LOG_PID"
    [lbproxy-nohist]="$NOHIST $GROUP $NOHIST_PID"
    [haproxy-nolog]="$HAP_NOLOG - $HAP_NOLOG_PID"
    [direct]="$ORIGIN - -"
)
pairs=("lbproxy haproxy-log" "lbproxy-nohist haproxy-nolog")

# run NAME SECONDS CONNS: "req/s p99-ms cpu-proxy%" of one wrk run.
run() {
    local p=(${path[$1]})
    measure "$1" "${p[0]}" "${p[1]}" "${p[2]}" 100b "$2" "$3" | awk '{ print $1, $2, $5 }'
}

for n in "${!path[@]}"; do run "$n" 1 "$CONNS" >/dev/null; run "$n" 1 1 >/dev/null; done   # warm-up
: >"$B/rounds"
for r in $(seq 1 "$RUNS"); do
    for pair in "${pairs[@]}"; do
        set -- $pair
        a=$1 b=$2
        [ $((r % 2)) = 0 ] && { a=$2; b=$1; }
        echo "$r $a $(run "$a" "$DURATION" "$CONNS")" >>"$B/rounds"
        echo "$r $b $(run "$b" "$DURATION" "$CONNS")" >>"$B/rounds"
    done
done
# One connection: the latency each hop adds over direct.
: >"$B/c1"
for r in $(seq 1 "$RUNS"); do
    for n in direct lbproxy haproxy-log lbproxy-nohist haproxy-nolog; do
        echo "$r $n $(run "$n" "$DURATION" 1)" >>"$B/c1"
    done
done

echo "like for like: wrk -t1 -c$CONNS, 100-byte body, $RUNS paired rounds x ${DURATION}s, order swapped each round"
echo "(haproxy-log: option httplog, log 127.0.0.1:$SINK local0 to a UDP receiver that drops; lbproxy: history on)"
awk -v pairs="${pairs[*]}" -v runs="$RUNS" '
    function med(a, n,   i, j, t) {
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    FILENAME ~ /rounds$/ { rps[$1, $2] = $3; eff[$1, $2] = ($5 > 0) ? $3 / ($5 / 100) : 0; seen[$2] = 1; next }
    { p99[$1, $2] = $4 }
    END {
        printf "%-16s %9s %14s %12s\n", "proxy", "req/s", "req/cpu-s", "added p99 ms"
        n = split(pairs, pp, " ")
        for (i = 1; i <= n; i++) {
            who = pp[i]
            for (r = 1; r <= runs; r++) { x[r] = rps[r, who]; y[r] = eff[r, who]; z[r] = p99[r, who] - p99[r, "direct"] }
            printf "%-16s %9.0f %14.0f %12.3f\n", who, med(x, runs), med(y, runs), med(z, runs)
            added[who] = med(z, runs)
        }
        printf "\n%-34s %10s %12s %14s %s\n", "pairing (median of round ratios)", "req/s", "req/cpu-s", "target", ""
        for (i = 1; i <= n; i += 2) {
            me = pp[i]; peer = pp[i + 1]
            for (r = 1; r <= runs; r++) { x[r] = rps[r, me] / rps[r, peer]; y[r] = eff[r, me] / eff[r, peer] }
            a = med(x, runs); b = med(y, runs)
            target = (peer == "haproxy-log") ? 1.0 : 0.95
            printf "%-34s %10.2f %12.2f %14s %s\n", me "/" peer, a, b, sprintf("cpu-s >= %.2f", target),
                (b >= target) ? "met" : "MISSED"
        }
        printf "\n%-34s %10s %12s %14s %s\n", "added p99 at one connection", "ms", "", "target", ""
        for (i = 1; i <= n; i += 2) {
            me = pp[i]; peer = pp[i + 1]
            printf "%-34s %10.3f %12s %14s %s\n", me, added[me], "", "<= 1.0", (added[me] <= 1.0) ? "met" : "MISSED"
            printf "%-34s %10.3f\n", peer, added[peer]
            printf "%-34s %10.3f\n", me " minus " peer, added[me] - added[peer]
        }
    }' "$B/rounds" "$B/c1"

read -r requests written dropped errors < <(history_account "$HIST_ADMIN") ||
    die "lbproxy's admin API did not answer for the history account"
echo
echo "lbproxy history: $requests requests, $written rows written, $dropped dropped, $errors lost to write errors"
[ "$dropped" -eq 0 ] && [ "$errors" -eq 0 ] && [ "$written" -ge "$requests" ] ||
    echo "WARNING: not every exchange was recorded; the lbproxy row is measured with part of its history work undone"
