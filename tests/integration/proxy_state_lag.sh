#!/usr/bin/env bash
# lbproxy whose pushes never arrive (lbstated cannot reach its push URL)
# follows the state at the pace of its health checks, which see lbstated's
# newer version and fetch it; its own /v1/health turns degraded (503) only
# while it lags behind an announced version for longer than --stale-after,
# and is ok again once it caught up. A state server that does not answer
# announces nothing: the state turns stale, the health stays ok.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip_all "no python3"

start_web_test_group
DEAD=$(free_port)   # claimed, never bound: lbstated's pushes to it fail
report_server "$S" "$B1" up >/dev/null
report_server "$S" "$B2" up >/dev/null

# health ADMIN_PORT: "CODE BODY" of the proxy's /v1/health.
health() { local c; c=$(http_status GET "http://127.0.0.1:$1/v1/health"); echo "$c $(last_body)"; }
health_code() { http_status GET "http://127.0.0.1:$1/v1/health"; }
pversion() { state_version "http://127.0.0.1:$1/v1/state"; }
has_version() { test "$(pversion "$1")" = "$2"; }
metrics() { curl -s "http://127.0.0.1:$1/metrics"; }
fetch() { curl -s -m 5 -x "127.0.0.1:$1" http://web.test/; }
names() { for _ in $(seq 1 "$2"); do fetch "$1"; done | sort -u | tr '\n' ' '; }

# 1. Pushes lost: lbstated pushes to a port nothing listens on.
L=$(free_port); A=$(free_port)
start proxy "$LBPROXY" --listen "127.0.0.1:$L" --admin "127.0.0.1:$A" --state-dir "$T/proxy" \
    --state-server "$S" --state-mode change --state-interval 200ms --stale-after 2s \
    --admin-url "http://127.0.0.1:$DEAD/v1/state"
check "lbproxy listens" wait_port "$L"
wait_port "$A"
like "lbstated pushes to the unreachable URL" "$(curl -s "$S/v1/subscribers")" "127.0.0.1:$DEAD/v1/state"
check "the registration's fetch brings the state" wait_for 5 has_version "$A" "$(state_version "$S/v1/state")"
like "health ok while in step" "$(health "$A")" '^200 .*"status":"ok"'
like "health shows the newest version announced" "$(health "$A")" "\"state_newest_version\":$(state_version "$S/v1/state")"
for round in 1 2 3; do
    if [ $((round % 2)) = 1 ]; then report_server "$S" "$B2" down >/dev/null; want="one "
    else report_server "$S" "$B2" up >/dev/null; want="one two "; fi
    v=$(state_version "$S/v1/state")
    check "round $round: version $v arrives without a push, by the health check" wait_for 3 has_version "$A" "$v"
    is "round $round: the traffic follows it" "$(names "$L" 20)" "$want"
    like "round $round: health ok (it never lagged for --stale-after)" "$(health "$A")" '^200 .*"status":"ok"'
done
m=$(metrics "$A")
like "fetches after health checks are counted" "$m" \
    'lbproxy_state_server_requests_total\{state_server="127.0.0.1:'"$P"'",kind="state",result="ok"\} ([4-9]|[1-9][0-9]+)'
like "degraded gauge is 0" "$m" 'lbproxy_state_degraded 0'
like "degraded counter is 0" "$m" 'lbproxy_state_degraded_total 0'

# 2. lbstated stops: it announces nothing. The state turns stale after
# --stale-after; the health stays ok (the proxy serves on its last state).
stop "$STATED"
check "stopped lbstated: the state turns stale" wait_for 5 \
    sh -c "curl -s http://127.0.0.1:$A/v1/health | grep -q '\"state_stale\":true'"
like "stopped lbstated: health still ok, nothing announced" "$(health "$A")" \
    '^200 .*"state_newest_version":0.*"status":"ok"'
is "stopped lbstated: no degraded log line" "$(grep -c 'health degraded' "$T/proxy.log")" 0

# 3. A state server that announces a version it does not serve: a stand-in
# for lbstated serving files (GET only: pull mode needs nothing else).
SP=$(free_port)
mkdir -p "$T/stub/v1"
# stub_state VERSION: the state document lbstated would serve.
stub_state() {
    printf '{"version":%s,"groups":[{"name":"web.test","servers":[{"name":"127.0.0.1:%s","load":1,"ratio":1,"state":"up","pinned":false,"draining":false}]}]}' \
        "$1" "$B1" > "$T/stub/state.tmp" && mv "$T/stub/state.tmp" "$T/stub/v1/state"
}
# stub_health VERSION [STARTED_MS]
stub_health() {
    printf '{"status":"ok","service":"lbstated","started_ms":%s,"pid":1,"state_version":%s}' "${2:-1000}" "$1" \
        > "$T/stub/health.tmp" && mv "$T/stub/health.tmp" "$T/stub/v1/health"
}
stub_state 5; stub_health 5
start stub python3 -m http.server --bind 127.0.0.1 --directory "$T/stub" "$SP"
check "stand-in state server listens" wait_port "$SP"
L2=$(free_port); A2=$(free_port)
start proxy2 "$LBPROXY" --listen "127.0.0.1:$L2" --admin "127.0.0.1:$A2" --state-dir "$T/proxy2" \
    --state-server "http://127.0.0.1:$SP" --state-mode pull --state-interval 200ms --stale-after 1s
wait_port "$A2"
check "pull: the state is pulled" wait_for 5 has_version "$A2" 5
like "pull: health ok" "$(health "$A2")" '^200 .*"status":"ok"'
# Version 6 announced, but GET /v1/state fails (404).
rm -f "$T/stub/v1/state"
stub_health 6
check "lagging for --stale-after: health 503" wait_for 5 sh -c "test \$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$A2/v1/health) = 503"
h=$(health "$A2")
like "degraded status" "$h" '^503 .*"status":"degraded"'
like "degraded reason names both versions" "$h" \
    "\"reason\":\"this proxy holds state version 5 while state server 127.0.0.1:$SP announces version 6, and has been behind for [0-9]+m?s \\(--stale-after 1s\\)\""
like "degraded: the newest version and the lag" "$h" '"state_behind_ms":[1-9][0-9]{3,}.*"state_newest_version":6'
is "still serves on the state held" "$(fetch "$L2")" one
sleep 1
is "one log line when it turns degraded" "$(grep -c 'health degraded' "$T/proxy2.log")" 1
m=$(metrics "$A2")
like "degraded gauge is 1" "$m" 'lbproxy_state_degraded 1'
like "degraded counter counts the turn" "$m" 'lbproxy_state_degraded_total 1'
# The state is served again: caught up at the next health check.
stub_state 6
check "caught up: version 6" wait_for 5 has_version "$A2" 6
check "caught up: health 200" wait_for 3 sh -c "test \$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$A2/v1/health) = 200"
like "caught up: ok, not behind" "$(health "$A2")" '^200 .*"state_behind_ms":0.*"status":"ok"'
is "one log line when it recovers" "$(grep -c 'health ok again' "$T/proxy2.log")" 1
like "degraded gauge is 0 again" "$(metrics "$A2")" 'lbproxy_state_degraded 0'
# The stand-in restarts and counts from 2 again: its state is taken whatever
# its version, and the proxy never lags.
stub_state 2; stub_health 2 2000
check "restarted server: its lower version is taken" wait_for 5 has_version "$A2" 2
sleep 1.5
like "restarted server: health ok" "$(health "$A2")" '^200 .*"status":"ok"'
is "restarted server: no new degraded line" "$(grep -c 'health degraded' "$T/proxy2.log")" 1
done_testing
