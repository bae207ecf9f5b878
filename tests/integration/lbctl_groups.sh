#!/usr/bin/env bash
# Where the groups in force came from: GET /v1/groups and lbctl groups name
# the --groups file or the API, with the time; at start lbstated says when it
# keeps the API's table over an unchanged file, and how to go back to it.
. "$(dirname "$0")/lib.sh"

P=$(free_port)
S=http://127.0.0.1:$P
printf 'web.a.co.jp 127.0.0.1:8081 1\n' > "$T/groups"
run_stated() {
    start lbstated "$LBSTATED" --listen "127.0.0.1:$P" --groups "$T/groups" --state-dir "$T/state"
    STATED=$LAST_PID
    wait_port "$P"
}
G() { TZ=UTC LBKIT_STATED=$S "$LBCTL" groups "$@"; }
run_stated
check "lbstated listens" wait_port "$P"

before=$(date +%s)
json=$(curl -s "$S/v1/groups")
like "GET /v1/groups: from the file" "$json" '"origin":"file"'
like "... its path" "$json" "\"source\":\"$T/groups\""
like "... and the file reload returns to" "$json" "\"groups_file\":\"$T/groups\""
set_ms=$(printf '%s' "$json" | grep -o '"set_ms":[0-9]*' | cut -d: -f2)
check "... and when it was read (Unix ms, not in the future)" test "${set_ms:-0}" -gt 0 -a "$((${set_ms:-0} / 1000))" -le "$before"
G >"$T/out" 2>"$T/err"
is "lbctl groups: the rows on stdout" "$(cat "$T/out")" $'web.a.co.jp\t127.0.0.1:8081\t1.0'
like "... where they came from on stderr, with the local time and zone" "$(cat "$T/err")" \
    "^lbctl: groups read from the file $T/groups at [-0-9]{10} [:0-9]{8}\.[0-9]{3} UTC$"
is "... not with -q" "$(G -q 2>&1 >/dev/null)" ""
like "... in JSON as the daemon says" "$(G -o json)" '"origin": "file"'

is "groups set through the API" \
    "$(http_status PUT "$S/v1/groups" '{"table":"web.a.co.jp 127.0.0.1:8082 1\n"}')" 200
like "GET /v1/groups: from the API" "$(curl -s "$S/v1/groups")" '"origin":"api"'
G >/dev/null 2>"$T/err"
like "lbctl groups: set through the API, by whom, when, and how to go back" "$(cat "$T/err")" \
    "^lbctl: groups set through the API by 127\.0\.0\.1 at [-0-9]{10} [:0-9]{8}\.[0-9]{3} UTC; \`lbctl reload\` returns to the file $T/groups$"

# A restart over the unchanged file keeps the API's table, and says so.
stop "$STATED" TERM
: > "$T/lbstated.log"
run_stated
is "after a restart the API's table is still in force" "$(G 2>/dev/null | cut -f2)" 127.0.0.1:8082
like "... and lbstated's log says it kept it and how to return to the file" "$(cat "$T/lbstated.log")" \
    "keeping the groups of api \(127\.0\.0\.1\) over $T/groups, unchanged since it was last read; \`lbctl reload\` or SIGHUP returns to the file"
like "... the time it was set is kept" "$(G 2>&1 >/dev/null)" "set through the API by .* at [-0-9]{10} "
LBKIT_STATED=$S "$LBCTL" reload >/dev/null 2>&1
like "lbctl reload returns to the file" "$(G 2>&1 >/dev/null)" "^lbctl: groups read from the file $T/groups at "

# A restart over the file the table came from logs nothing of the kind.
stop "$STATED" TERM
: > "$T/lbstated.log"
run_stated
is "a restart keeps the file's table" "$(G 2>/dev/null | cut -f2)" 127.0.0.1:8081
is "... without the note of a kept API table" "$(grep -c 'keeping the groups' "$T/lbstated.log")" 0
verbose=$(G -v 2>&1 >/dev/null)
like "-v: each request and its answer on stderr" "$verbose" \
    "lbctl: GET $S/v1/groups.*"$'\n'"lbctl: 200 in [0-9]+ ms"
done_testing
