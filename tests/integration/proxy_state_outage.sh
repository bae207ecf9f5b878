#!/usr/bin/env bash
# lbproxy across lbstated outages and its own restarts: pins through lbctl
# move the traffic; with lbstated stopped the proxy serves on the last state,
# a restarted proxy has that state from SQLite before lbstated answers, an
# unconfirmed state ages to unknown, and lbstated coming back (a restart) is
# noticed and registered with again.
. "$(dirname "$0")/lib.sh"

P=$(free_port)
S=http://127.0.0.1:$P
TOK=outage-token
echo "$TOK" > "$T/token"
B1=$(free_port); B2=$(free_port)
start b1 "$BACKEND" --listen "127.0.0.1:$B1" --name one
start b2 "$BACKEND" --listen "127.0.0.1:$B2" --name two
printf 'web.test 127.0.0.1:%s 1\nweb.test 127.0.0.1:%s 1\n' "$B1" "$B2" > "$T/groups"
start_stated() {
    start lbstated "$LBSTATED" --listen "127.0.0.1:$P" --groups "$T/groups" --state-dir "$T/stated" \
        --token-file "$T/token"
    STATED=$LAST_PID
    wait_port "$P"
}
start_stated
wait_port "$B1"; wait_port "$B2"
for b in "$B1" "$B2"; do report_server "$S" "$b" up 1 "$TOK" >/dev/null; done

L=$(free_port); A=$(free_port)
start_proxy() {
    start proxy "$LBPROXY" --listen "127.0.0.1:$L" --admin "127.0.0.1:$A" --state-dir "$T/proxy" \
        --token-file "$T/token" --state-server "$S" --state-mode change --state-interval 200ms "$@"
    PROXY=$LAST_PID
    wait_port "$L"
}
start_proxy
pstate() { curl -s "http://127.0.0.1:$A/v1/state"; }
pversion() { state_version "http://127.0.0.1:$A/v1/state"; }
sversion() { state_version "$S/v1/state"; }
synced() { test "$(pversion)" = "$(sversion)"; }
fetch() { curl -s -m 5 -x "127.0.0.1:$L" http://web.test/; }
names() { for _ in $(seq 1 "$1"); do fetch; done | sort -u | tr '\n' ' '; }
check "proxy has the state" wait_for 5 synced

# Pin down through lbctl: no traffic; unpin: back.
check "lbctl pin" "$LBCTL" -s "$S" --token-file "$T/token" pin "127.0.0.1:$B2"
check "pin delivered" wait_for 5 synced
like "proxy shows the pin" "$(pstate)" "\"name\":\"127.0.0.1:$B2\"[^}]*\"pinned\":true"
is "pinned down server gets no traffic" "$(names 30)" "one "
check "lbctl unpin" "$LBCTL" -s "$S" --token-file "$T/token" unpin "127.0.0.1:$B2"
check "unpin delivered" wait_for 5 synced
is "unpinned server gets traffic again" "$(names 30)" "one two "

# lbstated stops: the proxy keeps serving on the last state, pin included.
"$LBCTL" -s "$S" --token-file "$T/token" pin "127.0.0.1:$B1" >/dev/null
wait_for 5 synced
V=$(pversion)
stop "$STATED"
sleep 0.5
is "lbstated stopped: requests still served on the last state" "$(names 20)" "two "
is "lbstated stopped: state version kept" "$(pversion)" "$V"
like "lbstated stopped: the source is marked unreachable" "$(pstate)" '"reachable":false'

# lbproxy restarts while lbstated is down: the state comes from SQLite.
stop "$PROXY"
start_proxy --stale-after 2s
is "restarted proxy: state version from SQLite" "$(pversion)" "$V"
like "restarted proxy: servers from SQLite" "$(pstate)" "\"name\":\"127.0.0.1:$B2\""
is "restarted proxy serves before lbstated answers" "$(names 10)" "two "
# No lbstated confirms the state: after --stale-after the servers count as
# unknown (used since none is up), but the pin stays.
check "unconfirmed state turns stale" wait_for 5 sh -c "curl -s http://127.0.0.1:$A/v1/state | grep -q '\"stale\":true'"
like "stale servers are unknown" "$(pstate)" "\"name\":\"127.0.0.1:$B2\"[^}]*\"state\":\"unknown\""
like "a pinned server keeps its pin" "$(pstate)" "\"name\":\"127.0.0.1:$B1\"[^}]*\"state\":\"down\""
is "stale state still serves" "$(names 10)" "two "

# lbstated comes back (a new instance): the proxy registers again by itself.
start_stated
check "proxy registers again when lbstated is back" wait_for 10 \
    sh -c "curl -s $S/v1/subscribers | grep -q ':$A/v1/state'"
check "state fresh again" wait_for 5 sh -c "curl -s http://127.0.0.1:$A/v1/state | grep -q '\"stale\":false'"
"$LBCTL" -s "$S" --token-file "$T/token" unpin "127.0.0.1:$B1" >/dev/null
check "changes flow again after the outage" wait_for 5 synced
is "both servers serve after the outage" "$(names 30)" "one two "

# A quick lbstated restart (same port, new instance) between two health checks.
# The proxy must have met the current instance first (pushes from it do not
# count: lbstated kept the subscription in its state file), or the next
# health check finds a first instance rather than a new one.
check "proxy in touch with lbstated before the quick restart" wait_for 10 \
    sh -c "curl -s http://127.0.0.1:$A/v1/state | grep -q '\"reachable\":true'"
stop "$STATED"
start_stated
check "restart noticed and registered again" wait_for 10 \
    grep -q "state server $S: restarted" "$T/proxy.log"
"$LBCTL" -s "$S" --token-file "$T/token" pin "127.0.0.1:$B2" >/dev/null
check "pushes arrive from the restarted lbstated" wait_for 5 synced
is "and steer the traffic" "$(names 20)" "one "
done_testing
