#!/usr/bin/env bash
# Long polling on lbstated's GET /v1/state (since=N&wait=D): answered at once
# when the version is past N, on the change otherwise, or after D with the
# same version; a report that changes nothing is no change; bad arguments refused; clients that leave while waiting are
# forgotten; and lbctl status --watch on top of it.
. "$(dirname "$0")/lib.sh"

P=$(free_port)
S=http://127.0.0.1:$P
printf 'www.a.test 127.0.0.1:8081 1\nwww.a.test 127.0.0.1:8082 1\nother.a.test 127.0.0.1:8091 1\n' >"$T/groups"
start lbstated "$LBSTATED" --listen "127.0.0.1:$P" --groups "$T/groups" --state-dir "$T/state"
check "lbstated listens" wait_port "$P"
report_server "$S" 8081 up 5 >/dev/null
ctl() { "$LBCTL" -s "$S" "$@"; }
version() { state_version "$S/v1/state"; }
# poll QUERY OUT: GET /v1/state?QUERY, the body to OUT; prints "status seconds".
poll() { curl -s -o "$2" -w '%{http_code} %{time_total}' --max-time 20 "$S/v1/state?$1"; }
# less A B: A < B, both decimal.
less() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
body_version() { grep -o '"version":[0-9]*' "$1" | head -1 | cut -d: -f2; }
waiting() { curl -s "$S/metrics" | awk '$1 == "lbkit_api_waiting_requests" { print $2 }'; }
waiting_is() { [ "$(waiting)" = "$1" ]; }
waiting_ge() { [ "$(waiting)" -ge "$1" ]; }

v=$(version)
check "a version to start from" test -n "$v"

# Answered at once ---------------------------------------------------------
read -r code secs < <(poll "since=$((v - 1))&wait=10s" "$T/a")
is "since below the version: 200" "$code" 200
check "... at once (${secs}s)" less "$secs" 1
is "... with the version" "$(body_version "$T/a")" "$v"
read -r code secs < <(poll "since=$v" "$T/a")
is "since without wait: 200" "$code" 200
check "... at once (${secs}s)" less "$secs" 1
read -r code secs < <(poll "since=$v&wait=0" "$T/a")
check "wait=0: at once (${secs}s)" less "$secs" 1

# Waits, and is answered on a change ---------------------------------------
poll "since=$v&wait=10s" "$T/b" >"$T/b.status" &
waiter=$!
wait_for 5 waiting_is 1
is "the request waits (lbkit_api_waiting_requests 1)" "$(waiting)" 1
check "... and is not answered yet" kill -0 "$waiter"
ctl pin 127.0.0.1:8082 >/dev/null
wait "$waiter"
read -r code secs <"$T/b.status"
is "a change answers the waiting request: 200" "$code" 200
check "... soon after the change (${secs}s)" less "$secs" 5
v2=$(body_version "$T/b")
check "... with the new version ($v2 > $v)" test "$v2" -gt "$v"
like "... and the new state" "$(cat "$T/b")" '"name":"127\.0\.0\.1:8082","pinned":true'
is "no request waits any more" "$(waiting)" 0

# A report changes the version too.
poll "since=$v2&wait=10s" "$T/c" >"$T/c.status" &
waiter=$!
wait_for 5 waiting_is 1
report_server "$S" 8081 up 7 >/dev/null
wait "$waiter"
read -r code secs <"$T/c.status"
check "a report answers the waiting request (${secs}s)" less "$secs" 5
v3=$(body_version "$T/c")
check "... with a newer version ($v3 > $v2)" test "$v3" -gt "$v2"

# A report that repeats what the state shows (same state, same load) keeps
# the version and wakes no one; a changed one wakes the waiting request at once.
is "an identical report: 200" "$(report_server "$S" 8081 up 7)" 200
like "... answered with the version it keeps" "$(last_body)" "\"version\":$v3[,}]"
report_server "$S" 8081 up 7 >/dev/null
is "two identical reports: the version is unchanged" "$(version)" "$v3"
poll "since=$v3&wait=10s" "$T/i" >"$T/i.status" &
waiter=$!
wait_for 5 waiting_is 1
report_server "$S" 8081 up 7 >/dev/null
report_server "$S" 8081 up 7 >/dev/null
sleep 0.5
check "a long poll is not answered by identical reports" kill -0 "$waiter"
is "... it still waits" "$(waiting)" 1
report_server "$S" 8081 up 8 >/dev/null
wait "$waiter"
read -r code secs <"$T/i.status"
is "a changed report answers it: 200" "$code" 200
check "... at once, well before the wait of 10s (${secs}s)" less "$secs" 3
v3i=$(body_version "$T/i")
check "... with a newer version ($v3i > $v3)" test "$v3i" -gt "$v3"
like "... and the new load" "$(cat "$T/i")" '"load":8'
v3=$v3i

# Times out with the same version -------------------------------------------
read -r code secs < <(poll "since=$v3&wait=1s" "$T/d")
is "no change within wait: 200" "$code" 200
check "... after the wait (${secs}s)" less 0.9 "$secs"
check "... not much later" less "$secs" 3
is "... with the same version" "$(body_version "$T/d")" "$v3"
read -r code secs < <(poll "since=$v3&wait=700ms" "$T/d")
check "wait in milliseconds (${secs}s)" less 0.6 "$secs"

# With a group ----------------------------------------------------------------
poll "group=www.a.test&since=$v3&wait=10s" "$T/e" >"$T/e.status" &
waiter=$!
wait_for 5 waiting_is 1
ctl unpin 127.0.0.1:8082 >/dev/null
wait "$waiter"
read -r code secs <"$T/e.status"
is "group and since: answered on the change" "$code" 200
check "... soon (${secs}s)" less "$secs" 5
like "... with that group" "$(cat "$T/e")" '"name":"www\.a\.test"'
if grep -q other.a.test "$T/e"; then not_ok "... and only that group"; else ok "... and only that group"; fi
v4=$(body_version "$T/e")
is "an unknown group is refused at once" "$(http_status GET "$S/v1/state?group=nope&since=$v4&wait=10s")" 404

# Bad arguments -----------------------------------------------------------------
bad() {  # bad QUERY REGEX
    is "$1: 400" "$(http_status GET "$S/v1/state?$1")" 400
    like "... says why" "$(last_body)" "$2"
}
bad "since=abc&wait=1s" "since 'abc': not a whole number from 0 to"
bad "since=-1&wait=1s" "since '-1': not a whole number from 0 to"
bad "since=99999999999999999999&wait=1s" "not a whole number from 0 to"
bad "since=1&wait=soon" "wait: bad duration 'soon'"
bad "since=1&wait=2m" "wait '2m': longer than the limit of 1m"
bad "wait=5s" "wait needs since"
is "lbstated still answers" "$(http_status GET "$S/v1/health")" 200

# Clients that leave while waiting ----------------------------------------------
v5=$(version)
for i in 1 2 3 4 5 6 7 8; do
    curl -s -o /dev/null --max-time 0.5 "$S/v1/state?since=$v5&wait=30s" &
done
wait_for 5 waiting_ge 1
sleep 1
wait_for 5 waiting_is 0
is "clients that closed while waiting are forgotten" "$(waiting)" 0
ctl pin 127.0.0.1:8091 >/dev/null
is "a change after they left: lbstated answers" "$(http_status GET "$S/v1/health")" 200
# Keep-alive: the connection of an answered long poll serves the next request.
out=$(curl -s -w '\n%{num_connects}\n' "$S/v1/state?since=$(version)&wait=300ms" "$S/v1/health")
like "a long poll and a request after it on one connection" "$out" '"status":"ok".*'$'\n''0$'
check "lbstated is still running" kill -0 "${_pids[0]}"

# lbctl status --watch ------------------------------------------------------------
v6=$(version)
ctl -o tsv status --watch --count 2 >"$T/w.out" 2>"$T/w.err" &
watcher=$!
wait_for 5 test -s "$T/w.out"
ctl pin 127.0.0.1:8081 --state up --load 9 >/dev/null
v7=$(version)
wait_for 10 bash -c "! kill -0 $watcher"
wait "$watcher"
is "status --watch --count 2: exit 0" "$?" 0
is "... two blocks of three rows" "$(wc -l <"$T/w.out")" 6
is "... the first with the version then" "$(head -n 3 "$T/w.out" | cut -f 1 | sort -u)" "$v6"
is "... the second with the new version" "$(tail -n 3 "$T/w.out" | cut -f 1 | sort -u)" "$v7"
like "... and the change" "$(grep 8081 "$T/w.out" | tail -n 1)" $'^'"$v7"$'\twww.a.test\t127.0.0.1:8081\t9.0\t1.0\t9.00\tup\tpinned\t'
is "... nothing on standard error" "$(cat "$T/w.err")" ""

ctl -o table status www.a.test --watch --count 2 >"$T/t.out" &
watcher=$!
wait_for 5 test -s "$T/t.out"
ctl unpin 127.0.0.1:8081 >/dev/null
wait_for 10 bash -c "! kill -0 $watcher"
like "table: a line naming each version" "$(grep -c '^version [0-9]* at ' "$T/t.out")" '^2$'
is "... a header per block" "$(grep -c '^GROUP  *SERVER' "$T/t.out")" 2
is "... blocks apart by a blank line" "$(grep -c '^$' "$T/t.out")" 1
is "... only the group asked" "$(grep -c other.a.test "$T/t.out")" 0

ctl -o json status --watch --count 1 >"$T/j.out"
like "json: one answer per line" "$(cat "$T/j.out")" '^\{"groups":.*"version":[0-9]+\}$'

# SIGTERM and a closed pipe end it quietly with 0.
"$LBCTL" -s "$S" status --watch >"$T/s.out" 2>"$T/s.err" &
watcher=$!
wait_for 5 test -s "$T/s.out"
kill -TERM "$watcher"
wait "$watcher"
is "SIGTERM: exit 0" "$?" 0
is "... quietly" "$(cat "$T/s.err")" ""
( ctl -o tsv status --watch 2>"$T/p.err"; echo "$?" >"$T/p.rc" ) | head -n 1 >"$T/p.out" &
wait_for 5 test -s "$T/p.out"
ctl pin 127.0.0.1:8081 >/dev/null
wait_for 10 test -s "$T/p.rc"
is "standard output closed (| head -n 1): exit 0" "$(cat "$T/p.rc")" 0
is "... quietly" "$(cat "$T/p.err")" ""

# lbstated away: --watch says so, retries, and goes on when it is back.
Q=$(free_port)
"$LBCTL" -s "127.0.0.1:$Q" -o tsv status --watch --count 1 >"$T/r.out" 2>"$T/r.err" &
watcher=$!
wait_for 5 grep -q retrying "$T/r.err"
like "lbstated unreachable: says so" "$(head -n 1 "$T/r.err")" "^lbctl: status: http://127\.0\.0\.1:$Q: .*; retrying in 1s$"
check "... and does not exit" kill -0 "$watcher"
start lbstated2 "$LBSTATED" --listen "127.0.0.1:$Q" --groups "$T/groups" --state-dir "$T/state2"
wait_for 15 bash -c "! kill -0 $watcher"
wait "$watcher"
is "... then prints the state once it answers: exit 0" "$?" 0
is "... three rows" "$(wc -l <"$T/r.out")" 3
like "... and says it is reachable again" "$(tail -n 1 "$T/r.err")" "reachable again$"

# lbproxy's admin API long-polls the same way ---------------------------------------
if [ -x "$LBPROXY" ]; then
    L=$(free_port) A=$(free_port)
    AD=http://127.0.0.1:$A
    start lbproxy "$LBPROXY" --listen "127.0.0.1:$L" --admin "127.0.0.1:$A" --state-dir "$T/proxy" \
        --state-server "$S"
    wait_port "$A" || not_ok "lbproxy admin listens"
    synced() { [ -n "$(state_version "$AD/v1/state")" ] && [ "$(state_version "$AD/v1/state")" = "$(version)" ]; }
    wait_for 10 synced
    pv=$(state_version "$AD/v1/state")
    check "lbproxy has the state of lbstated (version $pv)" synced
    curl -s -o "$T/pp" -w '%{http_code} %{time_total}' --max-time 20 "$AD/v1/state?since=$pv&wait=10s" >"$T/pp.status" &
    waiter=$!
    sleep 0.3
    check "lbproxy: the request waits" kill -0 "$waiter"
    ctl unpin 127.0.0.1:8081 >/dev/null
    wait "$waiter"
    read -r code secs <"$T/pp.status"
    is "lbproxy: the state pushed by lbstated answers it: 200" "$code" 200
    check "... soon (${secs}s)" less "$secs" 5
    pv2=$(body_version "$T/pp")
    check "... with the new version ($pv2 > $pv)" test "$pv2" -gt "$pv"
    is "lbproxy: bad since: 400" "$(http_status GET "$AD/v1/state?since=x&wait=1s")" 400
    read -r code secs < <(curl -s -o "$T/pp" -w '%{http_code} %{time_total}' "$AD/v1/state?since=$pv2&wait=500ms")
    check "lbproxy: no change within wait: answered after it (${secs}s)" less 0.4 "$secs"
    "$LBCTL" -s "$AD" -o tsv status --watch --count 1 >"$T/pw.out"
    is "lbctl status --watch on lbproxy's admin API" "$(cut -f 1 "$T/pw.out" | sort -u)" "$pv2"
else
    skip "lbproxy not built"
fi

ctl status --count 2 >/dev/null 2>"$T/err"
is "--count without --watch is a usage error" "$?" 64
ctl status nope --watch >/dev/null 2>"$T/err"
is "--watch on an unknown group exits 65" "$?" 65
done_testing
