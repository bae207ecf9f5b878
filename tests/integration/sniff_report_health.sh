#!/bin/bash
# lbsniff's report health with a real lbstated: with a wrong token every
# report is refused (401), /v1/health says so per report URL and is not ok,
# and the latest figures are kept; with the right token in the file and a
# SIGHUP they are resent at once and health is ok again. Probes only: no
# capture, no root needed.
. "$(dirname "$0")/lib.sh"

[ -x "$LBSNIFF" ] || skip_all "lbsniff not built"
[ -x "$BACKEND" ] || skip_all "test backend not built (make check builds it)"
command -v curl >/dev/null || skip_all "curl not installed"

web=$(free_port); stated=$(free_port); api=$(free_port)
start backend "$BACKEND" --listen "127.0.0.1:$web" --name web
check "backend listens" wait_port "$web"
echo right-token >"$T/stated.token"
echo wrong-token >"$T/sniff.token"
printf 'www 127.0.0.1:%s 1\n' "$web" >"$T/groups"
start lbstated "$LBSTATED" --listen "127.0.0.1:$stated" --groups "$T/groups" --state-dir "$T/state" \
    --token-file "$T/stated.token"
check "lbstated listens" wait_port "$stated"
start lbsniff "$LBSNIFF" --probe tcp --probe-interval 200ms --watch "127.0.0.1:$web" --interval 300ms \
    --up-after 1 --report "127.0.0.1:$stated" --token-file "$T/sniff.token" --listen "127.0.0.1:$api"
SNIFF=$LAST_PID
check "lbsniff serves --listen" wait_port "$api"

health() { curl -s --max-time 5 "http://127.0.0.1:$api/v1/health"; }
health_has() { health | grep -q "$1"; }
server_state() {
    curl -s "http://127.0.0.1:$stated/v1/state" | grep -o "\"name\":\"127.0.0.1:$web\"[^}]*\"state\":\"[a-z]*\"" |
        grep -o '"state":"[a-z]*"' | cut -d'"' -f4
}

check "refused reports make health not ok" wait_for 10 health_has '"status":"reports failing"'
h=$(health)
like "... with a sentence naming the URL and the 401" "$h" "\"reason\":\"report to http://127.0.0.1:$stated/v1/reports: [0-9]+ in a row refused \\(401"
like "... and the figures kept to resend" "$h" 'kept to resend'
like "per URL: last result refused" "$h" '"last_result":"refused"'
like "per URL: consecutive failures counted" "$h" '"consecutive_failures":[1-9]'
like "per URL: a server waits to be resent" "$h" '"waiting":1'
is "lbstated has no state from lbsniff" "$(server_state)" unknown
check "the refusal is logged once" test "$(grep -c 'refused: 401' "$T/lbsniff.log")" -eq 1

echo right-token >"$T/sniff.token"
kill -HUP "$SNIFF"
reported_up() { test "$(server_state)" = up; }  # polled by wait_for
check "after SIGHUP with the right token the server is reported up" wait_for 10 reported_up
check "health is ok again" wait_for 5 health_has '"status":"ok"'
h=$(health)
like "per URL: last result ok" "$h" '"last_result":"ok"'
like "per URL: no failure in a row" "$h" '"consecutive_failures":0'
check "the log says the reports went again" grep -q 'delivered again' "$T/lbsniff.log"

# A report lbstated calls malformed is dropped, not resent: lbstated
# answers 400 for a report sent to a path that is not the reports route.
stop "$SNIFF"
start bad "$LBSNIFF" --probe tcp --probe-interval 200ms --watch "127.0.0.1:$web" --interval 300ms \
    --report "http://127.0.0.1:$stated/v1/groups" --token-file "$T/sniff.token" --listen "127.0.0.1:$api"
check "lbsniff serves --listen" wait_port "$api"
check "a malformed report makes health not ok" wait_for 10 health_has 'refused as malformed'
like "... and it is dropped, not kept" "$(health)" '"last_result":"dropped".*"waiting":0|"waiting":0.*"last_result":"dropped"'

done_testing
