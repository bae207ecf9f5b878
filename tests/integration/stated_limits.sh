#!/usr/bin/env bash
# The limits of lbstated's API listener: 200 clients sending a request head
# one byte a second are all closed soon after --header-timeout while a
# normal request is answered; with --max-connections 5 a sixth connection
# waits without holding the daemon and is served once another closes; bad
# limits are usage errors.
. "$(dirname "$0")/lib.sh"
SLOW="python3 $top_srcdir/tests/integration/slow_clients.py"
command -v python3 >/dev/null || skip_all "python3 is needed for the slow clients"

# less A B: A < B, both decimal.
less() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
metric() { curl -s --max-time 5 "$1/metrics" | awk -v n="$2" '$1 == n { print $2 }'; }

# Header timeout ------------------------------------------------------------
P=$(free_port)
S=http://127.0.0.1:$P
start lbstated "$LBSTATED" --listen "127.0.0.1:$P" --state-dir "$T/a" --header-timeout 2s
check "lbstated listens" wait_port "$P"
$SLOW drip "$P" 200 20 >"$T/drip" 2>"$T/drip.err" &
slow=$!
sleep 1
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$S/v1/health")
is "a normal request is answered while 200 slow clients are connected" "$code" 200
wait "$slow"
read -r _ opened _ closed _ last <"$T/drip" || true
is "the 200 slow connections were opened" "${opened:-}" 200
is "lbstated closed all of them" "${closed:-}" 200
check "... within the 2s header timeout and a margin (last at ${last:-?}s)" less "${last:-99}" 8
is "they are counted in /metrics" "$(metric "$S" lbkit_api_header_timeouts_total)" 200
like "the log says why, once" "$(grep -c 'did not arrive within 2s (--header-timeout)' "$T/lbstated.log")" '^1$'
is "no connection is left open" "$(metric "$S" lbkit_api_connections)" 1

# Connection limit ----------------------------------------------------------
P2=$(free_port)
S2=http://127.0.0.1:$P2
start capped "$LBSTATED" --listen "127.0.0.1:$P2" --state-dir "$T/b" --max-connections 5 --header-timeout 30s
check "lbstated with --max-connections 5 listens" wait_port "$P2"
$SLOW hold "$P2" 5 6 >"$T/hold" 2>"$T/hold.err" &
hold=$!
wait_for 5 grep -q 'the limit (--max-connections)' "$T/capped.log"
check "reaching the limit is logged" grep -q '5 connections open, the limit (--max-connections)' "$T/capped.log"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$S2/v1/health")
is "a sixth connection waits while five are open" "$code" 000
check "the daemon still runs" kill -0 "$LAST_PID"
wait "$hold"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$S2/v1/health")
is "once they close, requests are answered again" "$code" 200
# At least once: when the five close, the queued connections may fill it again.
reached=$(metric "$S2" lbkit_api_connection_limit_reached_total)
check "the limit is counted in /metrics ($reached)" test "${reached%.*}" -ge 1
is "... with the limit itself" "$(metric "$S2" lbkit_api_max_connections)" 5

# Bad limits ------------------------------------------------------------------
for bad in "--max-connections 0" "--header-timeout 0" "--idle-timeout 0" "--idle-timeout soon"; do
    # shellcheck disable=SC2086
    "$LBSTATED" -n --state-dir "$T/c" $bad >"$T/out" 2>&1
    is "lbstated $bad: usage error (64)" "$?" 64
done
like "the message names the flag" "$("$LBSTATED" -n --state-dir "$T/c" --header-timeout 0 2>&1)" 'header-timeout'

done_testing
