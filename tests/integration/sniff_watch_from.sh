#!/bin/bash
# lbsniff --watch-from with a real lbstated: the watch list is the groups
# table's servers inside --watch-net, joined with --watch; a server added to
# the groups table through the API is watched (and reported) without a
# restart; -n checks the URL and the networks. Probes only: no root needed.
. "$(dirname "$0")/lib.sh"

[ -x "$LBSNIFF" ] || skip_all "lbsniff not built"
[ -x "$BACKEND" ] || skip_all "test backend not built (make check builds it)"
command -v curl >/dev/null || skip_all "curl not installed"

web1=$(free_port); web2=$(free_port); stated=$(free_port); api=$(free_port); dead=$(free_port)
start web1 "$BACKEND" --listen "127.0.0.1:$web1" --name web1
start web2 "$BACKEND" --listen "127.0.0.1:$web2" --name web2
check "backends listen" wait_port "$web2"
printf 'www 127.0.0.1:%s 1\n' "$web1" >"$T/groups"
start lbstated "$LBSTATED" --listen "127.0.0.1:$stated" --groups "$T/groups" --state-dir "$T/state"
check "lbstated listens" wait_port "$stated"
S=http://127.0.0.1:$stated

# -n checks what a start checks -------------------------------------------
out=$("$LBSNIFF" -n --probe tcp --watch-from "127.0.0.1:$stated" --watch-net 127.0.0.0/8 2>&1)
is "-n with --watch-from: configuration OK" "$?/$out" "0/configuration OK"
out=$("$LBSNIFF" -n --probe tcp --watch-from "127.0.0.1:$stated" --watch-net 10.0.0.0/8 2>&1)
is "-n: no server of the table in --watch-net is a configuration error (78)" "$?" 78
like "... that says so" "$out" 'no server of the groups table is in --watch-net'
out=$("$LBSNIFF" -n --probe tcp --watch-from "127.0.0.1:$dead" 2>&1)
is "-n: an lbstated that does not answer is 69" "$?" 69
like "... naming the URL" "$out" "--watch-from http://127.0.0.1:$dead/v1/groups"
out=$("$LBSNIFF" -n --probe tcp --watch 127.0.0.1:1 --watch-net 127.0.0.0/8 2>&1)
is "--watch-net without --watch-from is a usage error" "$?" 64
out=$("$LBSNIFF" -n --probe tcp --watch-from "127.0.0.1:$stated" --watch-net 127.0.0.300/8 2>&1)
is "a bad --watch-net is a usage error" "$?" 64

# Following the groups table ------------------------------------------------
start lbsniff "$LBSNIFF" --probe tcp --probe-interval 200ms --interval 300ms --up-after 1 \
    --watch-from "127.0.0.1:$stated" --watch-net 127.0.0.0/8 --watch "127.0.0.1:$dead" \
    --report "$S" --listen "127.0.0.1:$api"
check "lbsniff serves --listen" wait_port "$api"
watched() { curl -s --max-time 5 "http://127.0.0.1:$api/v1/health" | grep -q "\"name\":\"127.0.0.1:$1\""; }
server_state() {
    curl -s "$S/v1/state" | grep -o "\"name\":\"127.0.0.1:$1\"[^}]*\"state\":\"[a-z]*\"" |
        grep -o '"state":"[a-z]*"' | cut -d'"' -f4
}
check "the table's server is watched" watched "$web1"
check "... and --watch's too (union)" watched "$dead"
check "web2, not in the table, is not" test "$(watched "$web2"; echo $?)" = 1
state_is() { test "$(server_state "$1")" = "$2"; }  # polled by wait_for
check "web1 is reported up" wait_for 10 state_is "$web1" up

table=$(printf 'www 127.0.0.1:%s 1\\nwww 127.0.0.1:%s 1\\n' "$web1" "$web2")
is "the groups table gets web2 through the API" "$(http_status PUT "$S/v1/groups" "{\"table\":\"$table\"}")" 200
check "lbsniff watches web2 without a restart" wait_for 10 watched "$web2"
check "... and reports it up" wait_for 10 state_is "$web2" up
check "the change is logged" grep -q 'groups changed: 3 server(s) watched' "$T/lbsniff.log"

done_testing
