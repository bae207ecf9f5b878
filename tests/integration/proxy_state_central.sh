#!/usr/bin/env bash
# --policy central: lbstated's GET /v1/select picks the server; its 503
# sentence reaches the client; with lbstated gone the proxy chooses locally.
. "$(dirname "$0")/lib.sh"

start_web_test_group
report() { report_server "$S" "$1" "$2"; }
report "$B1" up >/dev/null
report "$B2" up >/dev/null

L=$(free_port); A=$(free_port)
start proxy "$LBPROXY" --listen "127.0.0.1:$L" --admin "127.0.0.1:$A" --state-dir "$T/proxy" \
    --state-server "$S" --policy central --client-id test-client --state-interval 200ms
wait_port "$L"
sversion() { state_version "$S/v1/state"; }
pversion() { state_version "http://127.0.0.1:$A/v1/state"; }
synced() { test "$(pversion)" = "$(sversion)"; }
fetch() { curl -s -m 5 -x "127.0.0.1:$L" http://web.test/; }
names() { for _ in $(seq 1 "$1"); do fetch; done | sort -u | tr '\n' ' '; }
selects() { curl -s "http://127.0.0.1:$A/metrics" | grep "kind=\"select\",result=\"$1\"" | awk '{print $2}'; }
check "proxy has the state" wait_for 5 synced

is "central: both servers are used" "$(names 30)" "one two "
is "central: every choice asked lbstated" "$(selects ok)" 30
# lbstated answers from its own view, even before the proxy has it.
"$LBCTL" -s "$S" pin "127.0.0.1:$B2" >/dev/null
is "central: lbstated's choice is followed" "$(names 20)" "one "
report "$B1" down >/dev/null
"$LBCTL" -s "$S" pin --state down "127.0.0.1:$B2" >/dev/null
check "state delivered" wait_for 5 synced
code=$(curl -s -m 5 -o "$T/503" -w '%{http_code}' -x "127.0.0.1:$L" http://web.test/)
is "central: no server up is a 503" "$code" 503
like "with lbstated's sentence" "$(cat "$T/503")" "no server of group web.test is up"

# lbstated stops: local p2c on the last state.
report "$B1" up >/dev/null
"$LBCTL" -s "$S" unpin "127.0.0.1:$B2" >/dev/null
check "state delivered" wait_for 5 synced
stop "$STATED"
is "central without lbstated: requests still served" "$(names 20)" "one two "
like "fallbacks are counted" "$(curl -s "http://127.0.0.1:$A/metrics")" 'lbproxy_central_fallbacks_total [1-9]'
done_testing
