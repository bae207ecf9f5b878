#!/usr/bin/env bash
# lbstated pushes the state: on every transition (mode change), every
# interval (mode periodic), with retries while a subscriber fails, and drops
# one unreachable for --drop-after.
. "$(dirname "$0")/lib.sh"
RECEIVER=$top_builddir/tests/integration/lbtest-receiver

P=$(free_port)
S=http://127.0.0.1:$P
TOK=push-token
echo "$TOK" > "$T/token"
printf 'web.a.co.jp 127.0.0.1:8081 1\nweb.a.co.jp 127.0.0.1:8082 1\n' > "$T/groups"
start lbstated "$LBSTATED" --listen "127.0.0.1:$P" --groups "$T/groups" --state-dir "$T/state" \
    --token-file "$T/token" --drop-after 2s
check "lbstated listens" wait_port "$P"

RC=$(free_port); RP=$(free_port)
start change "$RECEIVER" --listen "127.0.0.1:$RC" --token "$TOK" --fail-while "$T/fail"
start periodic "$RECEIVER" --listen "127.0.0.1:$RP" --token "$TOK"
wait_port "$RC"; wait_port "$RP"

subscribe() { http_status POST "$S/v1/subscribers" "$1" "$TOK"; }
pushes() { grep -c . "$T/$1.log" 2>/dev/null || echo 0; }
last_version() { tail -n 1 "$T/$1.log" | cut -d' ' -f2; }
version() { state_version "$S/v1/state"; }
report() { report_server "$S" 8081 "$2" "$1" "$TOK"; }  # report LOAD STATE
at_least() { test "$(pushes "$1")" -ge "$2"; }
has_version() { test "$(last_version "$1")" = "$2"; }

is "change subscriber registered" "$(subscribe "{\"url\":\"http://127.0.0.1:$RC/v1/state\",\"mode\":\"change\"}")" 201
like "registration answers with an id" "$(last_body)" '"id":[0-9]+'
check "registration pushes the state at once" wait_for 3 at_least change 1
first_id=$(last_body | grep -o '"id":[0-9]*')
subscribe "{\"url\":\"http://127.0.0.1:$RC/v1/state\",\"mode\":\"change\"}" >/dev/null
is "re-registration is idempotent (same id)" "$(last_body | grep -o '"id":[0-9]*')" "$first_id"

n=$(pushes change)
is "a transition is reported" "$(report 10 up)" 200
v=$(version)
check "change subscriber gets the new version" wait_for 3 has_version change "$v"
n=$(pushes change)
report 11 up >/dev/null   # load only: no transition
sleep 0.5
is "a load-only change is not pushed in change mode" "$(pushes change)" "$n"

is "periodic subscriber registered" \
    "$(subscribe "{\"url\":\"http://127.0.0.1:$RP/v1/state\",\"mode\":\"periodic\",\"interval_ms\":200}")" 201
periodic_id=$(last_body | grep -o '"id":[0-9]*' | cut -d: -f2)
sleep 1.2
check "periodic subscriber gets a push every interval" at_least periodic 4
check "periodic pushes carry the load-only version" has_version periodic "$(version)"

# A failing subscriber is retried with backoff and catches up when it recovers.
touch "$T/fail"
report 0 down >/dev/null
v=$(version)
sleep 0.6
like "lbctl subscribers shows the failure" "$("$LBCTL" -s "$S" subscribers)" "told to fail"
rm -f "$T/fail"
check "recovered subscriber gets the latest version" wait_for 5 has_version change "$v"
like "metrics count failed pushes" "$(curl -s "$S/metrics")" 'lbstated_pushes_total\{result="failed"\} [1-9]'

# An unreachable subscriber is dropped after --drop-after.
DEAD=$(free_port)
is "unreachable subscriber registered" "$(subscribe "{\"url\":\"http://127.0.0.1:$DEAD/v1/state\"}")" 201
check "unreachable subscriber dropped after --drop-after" wait_for 8 \
    sh -c "! curl -s '$S/v1/subscribers' | grep -q ':$DEAD/'"
check "the drop is logged" grep -q "subscriber http://127.0.0.1:$DEAD/v1/state: dropped: unreachable for 2s" "$T/lbstated.log"
like "the others stay" "$(curl -s "$S/v1/subscribers")" ":$RC/v1/state"

is "delete a subscriber" "$(http_status DELETE "$S/v1/subscribers/$periodic_id" '' "$TOK")" 204
is "delete it again is 404" "$(http_status DELETE "$S/v1/subscribers/$periodic_id" '' "$TOK")" 404
is "delete with a bad id is 400" "$(http_status DELETE "$S/v1/subscribers/abc" '' "$TOK")" 400
n=$(pushes periodic)
sleep 0.5
is "a deleted subscriber gets nothing more" "$(pushes periodic)" "$n"
done_testing
