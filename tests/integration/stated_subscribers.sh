#!/usr/bin/env bash
# lbstated pushes the state: on every transition and on load changes
# coalesced to --push-min-interval and --load-delta (mode change), every
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
sleep 1.1                 # past --push-min-interval since the last push
report 10.5 up >/dev/null # load moved by 5 %: below --load-delta
sleep 0.5
is "a load change below --load-delta is not pushed" "$(pushes change)" "$n"
report 20 up >/dev/null   # load doubled: pushed, with the load
v=$(version)
check "a load change above --load-delta is pushed in change mode" wait_for 3 has_version change "$v"
like "the push carries the new load" "$(tail -n 1 "$T/change.log")" ' 20,0$'

# A storm of load changes (20 reports a second for 2 s) is coalesced to one
# push per --push-min-interval (1 s) and the last figure arrives; a down
# transition in the middle of it goes out at once.
n=$(pushes change)
coalesced_before=$(curl -s "$S/metrics" | awk '/^lbstated_pushes_coalesced_total/ { print $2 }')
storm_start=$(date +%s%3N)
for i in $(seq 1 20); do report $((30 + i * 10)) up >/dev/null; sleep 0.05; done
down_at=$(date +%s%3N)
report 5 down >/dev/null
v_down=$(version)
wait_for 2 has_version change "$v_down"
delay=$(( $(awk -v v="$v_down" '$2 == v { print $1; exit }' "$T/change.log") - down_at ))
# Well under --push-min-interval: the transition did not wait for it.
check "a down transition amid the storm arrives at once (${delay} ms)" test "$delay" -le 500
for i in $(seq 1 20); do report $((300 + i * 10)) up >/dev/null; sleep 0.05; done
storm_ms=$(( $(date +%s%3N) - storm_start ))
sleep 1.5  # past --push-min-interval: what is held back has gone out
# The subscriber holds the storm's last figure (500), or one within
# --load-delta of it: a smaller move is not worth a push.
near_last() { tail -n 1 "$T/change.log" | awk '{ split($4, l, ","); d = l[1] - 500; exit !(d * d <= 0.01 * l[1] * l[1]) }'; }
check "the storm's last figure is delivered, to within --load-delta ($(tail -n 1 "$T/change.log"))" near_last
storm=$(( $(pushes change) - n ))
# One load push per started second of the storm (2 s when the machine is
# idle, longer when it is loaded), the transition, and the last figure.
allowed=$(( (storm_ms + 999) / 1000 + 2 ))
[ "$allowed" -lt 6 ] && allowed=6
check "41 reports in $storm_ms ms cost at most $allowed pushes, the transition included (got $storm)" \
    test "$storm" -le "$allowed"
coalesced=$(curl -s "$S/metrics" | awk '/^lbstated_pushes_coalesced_total/ { print $2 }')
check "/metrics counts the coalesced load changes" test "${coalesced%.*}" -gt "${coalesced_before%.*}"

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
