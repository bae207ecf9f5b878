#!/usr/bin/env bash
# What lbstated was told survives kill -9: groups set through the API, pins,
# drains and subscribers; versions never go back. An edited groups file wins
# over the stored table at the next start.
. "$(dirname "$0")/lib.sh"
RECEIVER=$top_builddir/tests/integration/lbtest-receiver

P=$(free_port)
S=http://127.0.0.1:$P
printf 'web.a.co.jp 127.0.0.1:8081 1\nweb.a.co.jp 127.0.0.1:8082 1\n' > "$T/groups"
run_stated() {
    start lbstated "$LBSTATED" --listen "127.0.0.1:$P" --groups "$T/groups" --state-dir "$T/state"
    STATED=$LAST_PID
    wait_port "$P"
}
version() { state_version "$S/v1/state"; }
run_stated
RC=$(free_port)
start receiver "$RECEIVER" --listen "127.0.0.1:$RC"
wait_port "$RC"

is "groups replaced through the API" \
    "$(http_status PUT "$S/v1/groups" '{"table":"web.a.co.jp 127.0.0.1:8081 1\nweb.a.co.jp 127.0.0.1:8082 1\nweb.a.co.jp 127.0.0.1:8083 4\n"}')" 200
"$LBCTL" -s "$S" pin 127.0.0.1:8081 --state down --load 0 --ratio 3 >/dev/null
is "pin accepted" "$?" 0
"$LBCTL" -s "$S" drain 127.0.0.1:8082 >/dev/null
is "drain accepted" "$?" 0
is "subscriber registered" "$(http_status POST "$S/v1/subscribers" "{\"url\":\"http://127.0.0.1:$RC/v1/state\"}")" 201
check "subscriber got the state" wait_for 3 test -s "$T/receiver.log"
before=$(version)
status_before=$("$LBCTL" -s "$S" -o tsv status | cut -f1-7)

stop "$STATED" KILL
: > "$T/receiver.log"
run_stated
check "lbstated restarted" test -n "$(version)"
check "version after restart is above every version before" test "$(version)" -gt "$before"
is "pins, drains and the API's groups survive kill -9" "$("$LBCTL" -s "$S" -o tsv status | cut -f1-7)" "$status_before"
like "the pin keeps its load and ratio" "$("$LBCTL" -s "$S" -o tsv status | grep 127.0.0.1:8081)" \
    $'127.0.0.1:8081\t0.0\t3.0\t0.00\tdown\tpinned'
like "groups set through the API are in force" "$("$LBCTL" -s "$S" -o tsv groups)" $'127.0.0.1:8083\t4.0'
like "subscribers survive" "$(curl -s "$S/v1/subscribers")" "127.0.0.1:$RC/v1/state"
check "the subscriber gets the state after the restart" wait_for 3 test -s "$T/receiver.log"
check "and it is the new version" wait_for 3 sh -c "tail -n1 '$T/receiver.log' | grep -q ' $(version) '"

# Edited file: it wins over the table the API set.
stop "$STATED" KILL
printf 'web.a.co.jp 127.0.0.1:8081 1\nweb.a.co.jp 127.0.0.1:9999 1\n' > "$T/groups"
run_stated
groups=$("$LBCTL" -s "$S" -o tsv groups)
like "an edited groups file wins at start" "$groups" '127.0.0.1:9999'
check "the API's table is gone" sh -c "! printf '%s' '$groups' | grep -q 8083"
like "the pin of a server still listed survives" "$("$LBCTL" -s "$S" -o tsv status | grep 127.0.0.1:8081)" $'down\tpinned'

# A clean stop (SIGTERM) too.
stop "$STATED" TERM
check "SIGTERM stops lbstated" sh -c "! kill -0 $STATED 2>/dev/null"
check "and logs it" grep -q "SIGTERM: stopping" "$T/lbstated.log"
done_testing
