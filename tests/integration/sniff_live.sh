#!/bin/bash
# lbsniff capturing live on lo (needs root, as CI runs) next to a test
# backend and a real lbstated: traffic is counted exactly, a stopped backend
# is reported down within --syn-timeout + one interval (RST path), a server
# whose SYNs go unanswered goes down too (timeout path), a restarted one up;
# -Z, SIGHUP, /metrics, SIGTERM, and no permission -> exit 77.
. "$(dirname "$0")/lib.sh"

SNIFFGEN=$top_builddir/tests/bench/sniffgen
[ -x "$LBSNIFF" ] || skip_all "lbsniff not built"
[ -x "$SNIFFGEN" ] || skip_all "sniffgen not built (make check builds it)"
[ -x "$LBSTATED" ] || skip_all "lbstated not built"
[ "$(id -u)" -eq 0 ] || skip_all "live capture needs root"
command -v curl >/dev/null || skip_all "curl not installed"
"$LBSNIFF" -i lo --watch 127.0.0.1:1 -n >/dev/null 2>&1 || skip_all "lbsniff -n fails here"

INTERVAL_MS=500
SYN_TIMEOUT=1
web=$(free_port); hold=$(free_port); stated=$(free_port); api=$(free_port); extra=$(free_port)

# The backend: the shared test backend when built, else sniffgen's.
start_backend() {
    if [ -x "$BACKEND" ]; then
        start backend "$BACKEND" --listen "127.0.0.1:$web" --name web
    else
        start backend "$SNIFFGEN" serve "127.0.0.1:$web"
    fi
    BACKEND_PID=$LAST_PID
    wait_port "$web"
}
start_backend || not_ok "backend started"
start hold "$SNIFFGEN" hold "127.0.0.1:$hold"
printf 'www 127.0.0.1:%s 1\nwww 127.0.0.1:%s 1\n' "$web" "$hold" >"$T/groups"
mkdir -p "$T/state"
start lbstated "$LBSTATED" --listen "127.0.0.1:$stated" --groups "$T/groups" --state-dir "$T/state"
wait_port "$stated" || not_ok "lbstated started"
printf '127.0.0.1:%s\n127.0.0.1:%s\n' "$web" "$hold" >"$T/watch"
chmod 644 "$T/watch"; chmod 755 "$T"

"$LBSNIFF" -i lo --watch-file "$T/watch" --interval ${INTERVAL_MS}ms --syn-timeout $SYN_TIMEOUT \
    --down-after 2 --up-after 1 --report "http://127.0.0.1:$stated" --listen "127.0.0.1:$api" \
    --notifier live-test -Z nobody --stdout >"$T/lines" 2>"$T/lbsniff.log" &
SNIFF=$!
_pids+=("$SNIFF")
wait_port "$api" || not_ok "lbsniff serves --listen"
wait_for 5 grep -q "running as nobody" "$T/lbsniff.log"

# server_state NAME: its state in lbstated.
server_state() {
    curl -s "http://127.0.0.1:$stated/v1/state" |
        grep -o "\"name\":\"$1\",\"pinned\":[a-z]*,\"ratio\":[0-9.]*,\"state\":\"[a-z]*\"" |
        sed 's/.*"state":"//; s/"$//'
}
# sum COLUMN SERVER: total of a --stdout column.
sum() { awk -F'\t' -v c="$1" -v s="$2" '$2 == s { t += $c } END { print t + 0 }' "$T/lines"; }
# within SECONDS NAME STATE: polls lbstated; prints the milliseconds it took.
within() {
    local start=$(date +%s%N) limit=$(( $1 * 10 )) i
    for ((i = 0; i < limit; i++)); do
        [ "$(server_state "$2")" = "$3" ] && { echo $(( ($(date +%s%N) - start) / 1000000 )); return 0; }
        sleep 0.1
    done
    echo 999999
    return 1
}
# The limit of the issue, --syn-timeout + one interval, plus 500 ms for the
# polling above and a busy CI machine.
LIMIT_MS=$(( SYN_TIMEOUT * 1000 + INTERVAL_MS + 500 ))

is "-Z nobody: lbsniff runs as uid 65534" "$(awk '/^Uid:/ { print $2 $3 }' /proc/$SNIFF/status)" "6553465534"

# Traffic is counted: 20 requests, each on its own connection.
for i in $(seq 1 20); do curl -s -o /dev/null "http://127.0.0.1:$web/n$i"; done
sleep 1.2
is "20 connections counted" "$(sum 7 127.0.0.1:$web)" 20
is "20 requests counted" "$(sum 8 127.0.0.1:$web)" 20
packets=$(sum 5 127.0.0.1:$web)
check "at least 4 packets per connection counted ($packets)" test "$packets" -ge 80
is "lbstated has the backend up" "$(server_state 127.0.0.1:$web)" up
metrics=$(curl -s "http://127.0.0.1:$api/metrics")
like "/metrics: requests per server" "$metrics" "lbsniff_requests_total\{server=\"127\.0\.0\.1:$web\"\} 20"
like "/metrics: no capture drop" "$metrics" 'lbsniff_capture_dropped 0'
like "/v1/health names the capture" "$(curl -s "http://127.0.0.1:$api/v1/health")" '"capture":"lo"'

# Backend stopped: connections are refused (RST) -> down within
# --syn-timeout + one interval.
stop "$BACKEND_PID"
( for i in $(seq 1 30); do curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$web/"; sleep 0.1; done ) &
tries=$!
took=$(within $((SYN_TIMEOUT + 2)) 127.0.0.1:$web down)
is "backend stopped: lbstated has it down" "$(server_state 127.0.0.1:$web)" down
check "... within --syn-timeout + one interval (${took} ms, limit $LIMIT_MS)" test "$took" -le "$LIMIT_MS"
kill "$tries" 2>/dev/null; wait "$tries" 2>/dev/null

# SYNs left unanswered (a listener that never accepts): down after the timeout.
held=()
for i in 1 2 3 4; do
    (exec 3<>"/dev/tcp/127.0.0.1/$hold") 2>/dev/null &
    held+=($!)
done
took=$(within $((SYN_TIMEOUT * 3 + 2)) 127.0.0.1:$hold down)
is "unanswered SYNs: lbstated has the server down" "$(server_state 127.0.0.1:$hold)" down
check "... within --syn-timeout + one interval of the SYNs (${took} ms, limit $LIMIT_MS)" test "$took" -le "$LIMIT_MS"
like "the log says why" "$(cat "$T/lbsniff.log")" "127\.0\.0\.1:$hold: down: a SYN went unanswered"
for p in "${held[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done

# Restarted: up again within an interval of the first answered SYN.
start_backend || not_ok "backend restarted"
curl -s -o /dev/null "http://127.0.0.1:$web/"
took=$(within 2 127.0.0.1:$web up)
is "backend restarted: lbstated has it up" "$(server_state 127.0.0.1:$web)" up
check "... within one interval (${took} ms)" test "$took" -le $(( INTERVAL_MS + 500 ))

# SIGHUP reads the watch file again (readable by nobody).
printf '127.0.0.1:%s\n127.0.0.1:%s\n127.0.0.1:%s\n' "$web" "$hold" "$extra" >"$T/watch"
kill -HUP "$SNIFF"
wait_for 3 grep -q "reload: 3 server" "$T/lbsniff.log"
like "SIGHUP: the new watch list is in force" "$(curl -s "http://127.0.0.1:$api/v1/health")" "\"name\":\"127\.0\.0\.1:$extra\""
printf 'bad line with too many columns\n' >"$T/watch"
kill -HUP "$SNIFF"
wait_for 3 grep -q "keeping the watch list in force" "$T/lbsniff.log"
like "SIGHUP with a bad file: the old list stays" "$(curl -s "http://127.0.0.1:$api/v1/health")" "\"name\":\"127\.0\.0\.1:$extra\""

kill -TERM "$SNIFF"
wait "$SNIFF"
is "SIGTERM: exit 0" "$?" 0
like "SIGTERM: the kernel's counters are logged" "$(cat "$T/lbsniff.log")" "capture on lo: [0-9]+ packets received, 0 dropped by the kernel"

# Without the right to capture: exit 77 and a sentence.
if command -v setpriv >/dev/null; then
    setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all --bounding-set=-all \
        "$LBSNIFF" -i lo --watch "127.0.0.1:$web" 2>"$T/perm.log"
    is "no permission to capture: exit 77" "$?" 77
    like "... says what to do" "$(tail -n 1 "$T/perm.log")" "^lbsniff: capture on lo: no permission to capture \(run as root"
fi
"$LBSNIFF" -i lbsniff-nosuch0 --watch "127.0.0.1:$web" 2>"$T/nodev.log"
is "no such interface: exit 66" "$?" 66

done_testing
