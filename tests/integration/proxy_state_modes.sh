#!/usr/bin/env bash
# lbproxy gets the state from a real lbstated in each --state-mode (change,
# periodic, pull): the first state, a transition, and the traffic that
# follows it; push modes register and unregister themselves; pull mode
# pulls on a request, and on a health check that sees a newer version.
. "$(dirname "$0")/lib.sh"

start_web_test_group

# report SERVER_PORT STATE: what lbsniff would send.
report() { report_server "$S" "$1" "$2"; }
stated_version() { state_version "$S/v1/state"; }
report "$B1" up >/dev/null
report "$B2" up >/dev/null

# proxy_state ADMIN: the proxy's view, one line per server "name state".
proxy_version() { state_version "http://127.0.0.1:$1/v1/state"; }
has_version() { test "$(proxy_version "$1")" = "$2"; }
# fetch PROXY_PORT: the backend's name through the proxy.
fetch() { curl -s -m 5 -x "127.0.0.1:$1" http://web.test/; }
# names PROXY_PORT N: which backends answered N requests, sorted, unique.
names() { for _ in $(seq 1 "$2"); do fetch "$1"; done | sort -u | tr '\n' ' '; }

for mode in change periodic pull; do
    L=$(free_port); A=$(free_port)
    start "proxy-$mode" "$LBPROXY" --listen "127.0.0.1:$L" --admin "127.0.0.1:$A" --state-dir "$T/p-$mode" \
        --state-server "$S" --state-mode "$mode" --state-interval 200ms
    pid=$LAST_PID
    check "$mode: lbproxy listens" wait_port "$L"
    wait_port "$A"
    check "$mode: proxy has lbstated's version" wait_for 5 has_version "$A" "$(stated_version)"
    like "$mode: both backends serve" "$(names "$L" 30)" "^one two $"
    if [ "$mode" != pull ]; then
        subs=$(curl -s "$S/v1/subscribers")
        like "$mode: registered with lbstated" "$subs" "\"url\":\"http://127.0.0.1:$A/v1/state\\?source=127.0.0.1%3A$P\""
        like "$mode: registered in mode $mode" "$subs" "\"mode\":\"$mode\""
    else
        unlike_subs=$(curl -s "$S/v1/subscribers" | grep -c ":$A/" || true)
        is "$mode: no registration" "$unlike_subs" 0
    fi

    # A transition at lbstated reaches the proxy and moves the traffic.
    report "$B2" down >/dev/null
    v=$(stated_version)
    if [ "$mode" = pull ]; then
        is "$mode: the next request pulls the state first" "$(fetch "$L")" one
    fi
    check "$mode: transition delivered (version $v)" wait_for 5 has_version "$A" "$v"
    is "$mode: traffic avoids the down server" "$(names "$L" 20)" "one "
    report "$B2" up >/dev/null
    v=$(stated_version)
    # Pull mode without a request: the health check sees the newer version
    # and pulls it in the background.
    check "$mode: recovery delivered" wait_for 5 has_version "$A" "$v"

    if [ "$mode" = periodic ]; then
        # A load-only report is no transition: only periodic pushes carry it.
        report_server "$S" "$B1" up 7 >/dev/null
        check "$mode: a load-only change arrives with the next push" wait_for 3 has_version "$A" "$(stated_version)"
        like "$mode: pushes arrive every interval" "$(curl -s "http://127.0.0.1:$A/metrics")" \
            'lbproxy_state_updates_total\{outcome="(same|accepted)"\} ([3-9]|[1-9][0-9]+)'
        report "$B1" up >/dev/null   # load 1 again: equal loads for the next mode
    fi
    if [ "$mode" = pull ]; then
        like "$mode: pulls are counted" "$(curl -s "http://127.0.0.1:$A/metrics")" \
            'lbproxy_state_server_requests_total\{state_server="127.0.0.1:'"$P"'",kind="state",result="ok"\} [1-9]'
    fi
    stop "$pid"
    if [ "$mode" != pull ]; then
        is "$mode: SIGTERM unregisters" "$(curl -s "$S/v1/subscribers" | grep -c ":$A/" || true)" 0
    fi
done

# Two state servers: the newest version wins, whichever sends it.
P2=$(free_port)
start lbstated2 "$LBSTATED" --listen "127.0.0.1:$P2" --groups "$T/groups" --state-dir "$T/stated2"
wait_port "$P2"
L=$(free_port); A=$(free_port)
start proxy-two "$LBPROXY" --listen "127.0.0.1:$L" --admin "127.0.0.1:$A" --state-dir "$T/p-two" \
    --state-server "$S" --state-server "http://127.0.0.1:$P2/" --state-interval 200ms
wait_port "$A"
v1=$(stated_version); v2=$(state_version "http://127.0.0.1:$P2/v1/state")
newest=$(( v1 > v2 ? v1 : v2 ))
check "two state servers: the proxy holds the newest version ($newest)" wait_for 5 has_version "$A" "$newest"
subs2=$(curl -s "http://127.0.0.1:$P2/v1/subscribers")
like "two state servers: registered with the second too" "$subs2" ":$A/v1/state"
done_testing
