#!/bin/bash
# lbproxy throughput against the usual proxies, all in one run on loopback:
# wrk -t1 with BENCH_CONNS connections fetches 100-byte and 1 MiB files from one
# nginx origin, straight and through lbproxy (p2c, history on, state from a
# real lbstated), HAProxy (1 thread), nginx as reverse proxy (1 worker), Squid
# (cache off) and tinyproxy; and lbproxy once more with its history off
# (lbproxy-nohist), which shows what the relay history costs, since none of
# the peers logs here. Runs are interleaved (every path once, then
# again) so that drift of this noisy machine hits every path alike; the table
# shows medians and the CPU each process used, since wrk, the origin and the
# proxy share the same cores.
# Added latency is measured apart, with one connection (requests one after the
# other): at 50 connections every path saturates the two cores, and its p99
# is then queueing behind the CPU that wrk and the origin share, which says
# more about req/s than about the hop (HAProxy "adds" milliseconds there too).
# Environment: BENCH_DURATION (s per run, 6), BENCH_RUNS (3), BENCH_CONNS (50),
# BENCH_CONNS_1M (connections for the 1 MiB body; default BENCH_CONNS, the
# peer figures the project started from used 10).
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/peers.bash"

DURATION=${BENCH_DURATION:-6}
RUNS=${BENCH_RUNS:-3}
CONNS=${BENCH_CONNS:-50}
CONNS_1M=${BENCH_CONNS_1M:-$CONNS}
GROUP=bench.lbkit

need_cmds "proxy throughput" wrk nginx haproxy squid tinyproxy curl
raise_fd_limit

ORIGIN=$(free_port)
start_origin "$ORIGIN"
HAPROXY=$(free_port);   start_haproxy "$HAPROXY" "$ORIGIN"
NGINXP=$(free_port);    start_nginx_proxy "$NGINXP" "$ORIGIN"
SQUID=$(free_port);     start_squid "$SQUID"
TINY=$(free_port);      start_tinyproxy "$TINY"

# paths: name, proxy port ("-" for none), forward-proxy host ("-" for origin-form), PID.
paths=("direct $ORIGIN - -")
lbproxy_note=""
if [ -x "$LBPROXY" ] && [ -x "$LBSTATED" ]; then
    start_lbproxy_fed "$GROUP"
    paths+=("lbproxy $PROXY $GROUP $LBPROXY_PID")
    NOHIST=$(free_port)
    LBPROXY_NAME=lbproxy-nohist start_lbproxy "$NOHIST" "$(free_port)" "$STATED" "$GROUP" --history-max-rows 0
    paths+=("lbproxy-nohist $NOHIST $GROUP $LBPROXY_PID")
else
    [ -x "$LBPROXY" ] || lbproxy_note="SKIP: lbproxy not built ($LBPROXY missing)"
    [ -x "$LBSTATED" ] || lbproxy_note="SKIP: lbproxy row needs lbstated, not built ($LBSTATED missing)"
fi
paths+=("haproxy $HAPROXY - $HAPROXY_PID"
        "nginx-proxy $NGINXP - $NGINX_PROXY_PID"
        "squid $SQUID 127.0.0.1:$ORIGIN $SQUID_PID"
        "tinyproxy $TINY 127.0.0.1:$ORIGIN $TINYPROXY_PID")

echo "proxy throughput: wrk -t1 -c$CONNS (1 MiB: -c$CONNS_1M), $RUNS runs x ${DURATION}s per path and body, interleaved"
[ -n "$lbproxy_note" ] && echo "$lbproxy_note"
: >"$B/results"
for file in 100b 1m; do
    for p in "${paths[@]}"; do   # warm-up: pools, caches, page cache
        set -- $p; measure "$1" "$2" "$3" "$4" "$file" 1 >/dev/null
    done
    for run in $(seq 1 "$RUNS"); do
        for p in "${paths[@]}"; do
            set -- $p
            echo "$1 $file $run $(measure "$1" "$2" "$3" "$4" "$file" "$DURATION")" >>"$B/results"
        done
    done
done

# Latency of the hop: one connection, 100-byte body, same interleaving.
for p in "${paths[@]}"; do set -- $p; measure "$1" "$2" "$3" "$4" 100b 1 1 >/dev/null; done
for run in $(seq 1 "$RUNS"); do
    for p in "${paths[@]}"; do
        set -- $p
        echo "$1 c1 $run $(measure "$1" "$2" "$3" "$4" 100b "$DURATION" 1)" >>"$B/results"
    done
done

# Median of each column per path and body, then the table and the ratios.
awk -v runs="$RUNS" '
    function med(a, n,   i, j, t) {
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    { k = $1 " " $2; if (!(k in cnt)) order[++nk] = k; c = ++cnt[k]
      for (i = 4; i <= 10; i++) v[k, i, c] = $i }
    END {
        printf "%-14s %-5s %9s %8s %8s %7s %10s %8s %11s %14s\n", "path", "body", "req/s", "p99 ms", "MiB/s", "errors", "cpu proxy", "cpu wrk", "cpu origin", "req/proxy-cpu-s"
        for (x = 1; x <= nk; x++) {
            k = order[x]; split(k, kk, " ")
            for (i = 4; i <= 10; i++) {
                if (v[k, i, 1] == "-") { m[k, i] = "-"; continue }
                for (c = 1; c <= cnt[k]; c++) a[c] = v[k, i, c] + 0
                m[k, i] = med(a, cnt[k])
            }
            eff[k] = (m[k, 8] == "-" || m[k, 8] == 0) ? "-" : m[k, 4] / (m[k, 8] / 100)
            printf "%-14s %-5s %9.0f %8.2f %8.1f %7d %10s %7.0f%% %10.0f%% %14s\n", kk[1], kk[2] == "100b" ? "100B" : kk[2] == "1m" ? "1MiB" : "100B*",
                m[k, 4], m[k, 5], m[k, 6], m[k, 7], m[k, 8] == "-" ? "-" : sprintf("%.0f%%", m[k, 8]), m[k, 9], m[k, 10],
                eff[k] == "-" ? "-" : sprintf("%.0f", eff[k])
            med_rps[k] = m[k, 4]; med_p99[k] = m[k, 5]; med_mib[k] = m[k, 6]
        }
        print "(medians of " runs " runs; cpu: share of one core during the run, proxy and origin include their workers;"
        print " req/proxy-cpu-s: requests per CPU-second of the proxy, the steadier figure when the machine is shared;"
        print " 100B*: one connection, requests one after the other, for the latency of the hop)"
        if (!(("lbproxy 100b") in med_rps)) exit
        printf "\n%-38s %10s %10s %8s %s\n", "ratio", "100B", "1MiB", "target", ""
        ratio("lbproxy/haproxy req/s", "lbproxy", "haproxy", 1.0)
        ratio("lbproxy/squid req/s", "lbproxy", "squid", 3.0)
        ratio("lbproxy/nginx-proxy req/s", "lbproxy", "nginx-proxy", 0)
        effratio("lbproxy/haproxy req per CPU-s", "lbproxy", "haproxy")
        effratio("lbproxy/squid req per CPU-s", "lbproxy", "squid")
        if (("lbproxy-nohist 100b") in med_rps) {
            ratio("lbproxy-nohist/haproxy req/s", "lbproxy-nohist", "haproxy", 0)
            effratio("lbproxy-nohist/haproxy req per CPU-s", "lbproxy-nohist", "haproxy")
            effratio("lbproxy/lbproxy-nohist req per CPU-s", "lbproxy", "lbproxy-nohist")
        }
        added("lbproxy added p99 over direct, ms", "lbproxy", 0)
        added("haproxy added p99 over direct, ms", "haproxy", 0)
        printf "\n%-38s %10s %10s %8s %s\n", "latency, one connection", "100B", "", "target", ""
        hop("lbproxy added p99 over direct, ms", "lbproxy", 1.0)
        hop("haproxy added p99 over direct, ms", "haproxy", 0)
        hop("squid added p99 over direct, ms", "squid", 0)
    }
    function ratio(label, me, peer, target,   a, b) {
        a = med_rps[me " 100b"] / med_rps[peer " 100b"]; b = med_rps[me " 1m"] / med_rps[peer " 1m"]
        printf "%-38s %10.2f %10.2f %8s %s\n", label, a, b, target ? sprintf(">= %.1f", target) : "", target ? (a >= target ? "met" : "MISSED") " (100B)" : ""
    }
    function effratio(label, me, peer,   a, b) {
        a = eff[me " 100b"] / eff[peer " 100b"]; b = eff[me " 1m"] / eff[peer " 1m"]
        printf "%-38s %10.2f %10.2f\n", label, a, b
    }
    function hop(label, p, target,   a) {
        a = med_p99[p " c1"] - med_p99["direct c1"]
        printf "%-38s %10.3f %10s %8s %s\n", label, a, "", target ? sprintf("<= %.1f", target) : "", target ? (a <= target ? "met" : "MISSED") : ""
    }
    function added(label, p, target,   a, b) {
        a = med_p99[p " 100b"] - med_p99["direct 100b"]; b = med_p99[p " 1m"] - med_p99["direct 1m"]
        printf "%-38s %10.2f %10.2f %8s %s\n", label, a, b, target ? sprintf("<= %.1f", target) : "", target ? (a <= target ? "met" : "MISSED") " (100B)" : ""
    }' "$B/results"

# "History on" must mean every exchange recorded: a writer that fell behind
# and dropped rows would flatter the lbproxy row.
if [ -n "${PROXY_ADMIN:-}" ]; then
    read -r requests written dropped errors < <(history_account "$PROXY_ADMIN") ||
        die "lbproxy's admin API did not answer for the history account"
    echo
    echo "lbproxy history during the bench: $requests requests, $written rows written," \
         "$dropped dropped, $errors lost to write errors"
    [ "$dropped" -eq 0 ] && [ "$errors" -eq 0 ] && [ "$written" -ge "$requests" ] ||
        echo "WARNING: not every exchange was recorded; the lbproxy row is measured with part of its history work undone"
fi
