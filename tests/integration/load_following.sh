#!/bin/bash
# Load measured on the wire steers every proxy, with default flags, the way
# lbkit(7) tells a user to set it up: three test servers behind one name,
# lbsniff capturing on lo, lbstated, two lbproxy, curl through both.
#   phase 1: no other traffic: each server gets its ratio share (1/3 each);
#   phase 2: a client that runs no lbproxy hammers web1 directly: within two
#            report intervals the proxies send web1 at most 5 % of requests;
#   phase 3: the foreign client stops: web1's share comes back.
# Also: the quiet servers become up by lbsniff's probes alone before any
# request, and the proxies' state carries the loads lbstated holds.
. "$(dirname "$0")/lib.sh"

[ -x "$LBSNIFF" ] || skip_all "lbsniff not built"
[ -x "$BACKEND" ] || skip_all "test backend not built"
[ "$(id -u)" -eq 0 ] || skip_all "live capture on lo needs root"
command -v curl >/dev/null || skip_all "curl not installed"
"$LBSNIFF" -i lo --watch 127.0.0.1:1 -n >/dev/null 2>&1 || skip_all "lbsniff cannot capture on lo here"

REP=www.follow.test
stated=$(free_port); proxy1=$(free_port); admin1=$(free_port); proxy2=$(free_port); admin2=$(free_port)
webs=(web1 web2 web3) ports=()
: >"$T/groups"; : >"$T/watch"
for name in "${webs[@]}"; do
    p=$(free_port); ports+=("$p")
    start "$name" "$BACKEND" --listen "127.0.0.1:$p" --name "$name"
    printf '%s 127.0.0.1:%s 1\n' "$REP" "$p" >>"$T/groups"
    printf '127.0.0.1:%s\n' "$p" >>"$T/watch"
done
for p in "${ports[@]}"; do wait_port "$p" || not_ok "backend on $p started"; done

S=http://127.0.0.1:$stated
start lbstated "$LBSTATED" --listen "127.0.0.1:$stated" --groups "$T/groups" --state-dir "$T/stated"
wait_port "$stated" || not_ok "lbstated started"
start lbsniff "$LBSNIFF" -i lo --watch-file "$T/watch" --report "$S"
start lbproxy1 "$LBPROXY" --listen "127.0.0.1:$proxy1" --admin "127.0.0.1:$admin1" --state-server "$S" \
    --state-dir "$T/proxy1"
start lbproxy2 "$LBPROXY" --listen "127.0.0.1:$proxy2" --admin "127.0.0.1:$admin2" --state-server "$S" \
    --state-dir "$T/proxy2"
for p in $proxy1 $admin1 $proxy2 $admin2; do wait_port "$p" || not_ok "lbproxy port $p opened"; done

# states: the state column of lbctl status for the three servers, in order.
states() {
    local p out=""
    for p in "${ports[@]}"; do
        out+="$("$LBCTL" -s "$S" -o tsv status | awk -F'\t' -v s="127.0.0.1:$p" '$2 == s { print $6 }') "
    done
    echo "${out% }"
}
# Before any request: the probes alone show the quiet servers up.
all_up() { test "$(states)" = "up up up"; }  # polled by wait_for
wait_for 30 all_up
is "quiet servers are up by lbsniff's probes alone" "$(states)" "up up up"

# drive SECONDS: both proxies, 15 requests per second each, at the same
# time; the answers (one server name per line) land in $T/answers.
drive() {
    local n=$(($1 * 15)) k port pids=()
    for k in 1 2; do
        port=$proxy1; [ "$k" = 2 ] && port=$proxy2
        curl -s --max-time $(($1 + 20)) --rate 15/s -x "http://127.0.0.1:$port" \
            "http://$REP/r$k?[1-$n]" >"$T/answers$k" &
        pids+=($!)
    done
    wait "${pids[@]}"
    cat "$T/answers1" "$T/answers2" >"$T/answers"
}
# share NAME: per cent of the last drive's answers from NAME.
share() {
    local total got
    total=$(wc -l <"$T/answers")
    got=$(grep -cx "$1" "$T/answers" || true)
    echo $((total > 0 ? 100 * got / total : 0))
}
# within LOW HIGH VALUE
within() { [ "$3" -ge "$1" ] && [ "$3" -le "$2" ]; }

# Phase 1: equal loads.
drive 8
is "phase 1: every request answered" "$(wc -l <"$T/answers")" 240
for name in "${webs[@]}"; do
    s=$(share "$name")
    check "phase 1: $name gets its ratio share, 33 % +- 10 (got $s %)" within 23 43 "$s"
done
load1=$(curl -s "http://127.0.0.1:$admin1/v1/state" | grep -o '"load":[0-9.e+]*' | grep -vc '"load":0$')
check "phase 1: the proxies' state carries the measured loads ($load1 servers with a load)" test "$load1" -ge 1

# Phase 2: a client that runs no lbproxy hammers web1 (600 requests a
# second) while the proxies keep sending; the first two report intervals
# (and their pushes) are left out of the count.
curl -s --max-time 40 --rate 600/s "http://127.0.0.1:${ports[0]}/foreign?[1-18000]" >/dev/null &
FOREIGN=$!
drive 3
if [ -n "${TRACE_SHARES:-}" ]; then
    (for i in $(seq 1 16); do curl -s "http://127.0.0.1:$admin1/v1/state" | grep -o '"load":[0-9.e+]*\|"share":[0-9.e+-]*' | tr '\n' ' '; echo; sleep 0.5; done) >&2 &
fi
drive 8
s=$(share web1)
check "phase 2: the hammered web1 gets <= 5 % of the proxies' requests (got $s %)" within 0 5 "$s"
for name in web2 web3; do
    s=$(share "$name")
    check "phase 2: $name takes over half (got $s %)" within 38 62 "$s"
done

# Phase 3: the foreign client stops; two report intervals later web1's share
# is back.
kill "$FOREIGN" 2>/dev/null; wait "$FOREIGN" 2>/dev/null
drive 3
drive 8
s=$(share web1)
check "phase 3: web1's share is back, 33 % +- 12 (got $s %)" within 21 45 "$s"

done_testing
