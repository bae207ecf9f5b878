#!/bin/bash
# What an lbproxy hop costs in front of an upstream proxy: wrk -t1 fetches a
# 100-byte file from the nginx origin through Squid (cache off), once with
# lbproxy in front (its proxy map sends the origin's host through that
# Squid: absolute-form requests, keep-alive pooled per proxy) and once
# straight to Squid with absolute-form request lines. Rounds are
# interleaved and paired (both one after the other, the order swapped every
# round); the median of the per-round ratios of req/s is printed, with each
# side's median req/s and p99. lbproxy and Squid share the two cores with wrk
# and the origin, so the ratio says what the extra process takes from the
# machine, not what it adds on an idle one.
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
need_cmds "upstream proxy" wrk nginx squid curl
raise_fd_limit

ORIGIN=$(free_port)
start_origin "$ORIGIN"
SQUID=$(free_port)
start_squid "$SQUID"
# The group's one server is the origin; its host goes through Squid.
echo "127.0.0.1  127.0.0.1:$SQUID" >"$B/proxymap"
STATED=$(free_port) PROXY=$(free_port) PROXY_ADMIN=$(free_port)
echo "$GROUP 127.0.0.1:$ORIGIN 1" >"$B/groups"
start_lbstated "$STATED" "$B/groups"
report_up "$STATED" "127.0.0.1:$ORIGIN" || die "lbstated refused the report"
start_lbproxy "$PROXY" "$PROXY_ADMIN" "$STATED" "$GROUP" --proxymap "$B/proxymap"
via=$(curl -fsS "http://127.0.0.1:$PROXY_ADMIN/metrics" |
    awk -v p="127.0.0.1:$SQUID" '$1 == "lbproxy_upstream_proxy_requests_total{proxy=\"" p "\"}" { print $2 }')
[ "${via:-0}" -ge 1 ] || die "lbproxy did not send its first request through Squid (proxy map not applied?)"

# name, port, forward-proxy host, PID (the process whose CPU is measured)
declare -A path=(
    [lbproxy-squid]="$PROXY $GROUP $LBPROXY_PID"
    [squid]="$SQUID 127.0.0.1:$ORIGIN $SQUID_PID"
)
# run NAME SECONDS: "req/s p99-ms errors" of one wrk run.
run() {
    local p=(${path[$1]})
    measure "$1" "${p[0]}" "${p[1]}" "${p[2]}" 100b "$2" "$CONNS" | awk '{ print $1, $2, $4 }'
}

for n in "${!path[@]}"; do run "$n" 1 >/dev/null; done   # warm-up
: >"$B/rounds"
for r in $(seq 1 "$RUNS"); do
    a=lbproxy-squid b=squid
    [ $((r % 2)) = 0 ] && { a=squid; b=lbproxy-squid; }
    echo "$r $a $(run "$a" "$DURATION")" >>"$B/rounds"
    echo "$r $b $(run "$b" "$DURATION")" >>"$B/rounds"
done

echo "upstream proxy: wrk -t1 -c$CONNS, 100-byte body, $RUNS paired rounds x ${DURATION}s, order swapped each round"
awk -v runs="$RUNS" '
    function med(a, n,   i, j, t) {
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    { rps[$1, $2] = $3; p99[$1, $2] = $4; err[$2] += $5 }
    END {
        printf "%-22s %9s %9s %7s\n", "path", "req/s", "p99 ms", "errors"
        split("lbproxy-squid squid", who, " ")
        for (k = 1; k <= 2; k++) {
            for (r = 1; r <= runs; r++) { x[r] = rps[r, who[k]]; y[r] = p99[r, who[k]] }
            printf "%-22s %9.0f %9.2f %7d\n", who[k], med(x, runs), med(y, runs), err[who[k]]
        }
        for (r = 1; r <= runs; r++) x[r] = rps[r, "lbproxy-squid"] / rps[r, "squid"]
        printf "\nclient -> lbproxy -> squid / client -> squid, median of round ratios: %.2f\n", med(x, runs)
    }' "$B/rounds"
