#!/usr/bin/env bash
# lbproxy's relay history: one row per exchange with its fields, delivered
# false when the client went away early, lbctl history filters and formats
# (table, JSON, Squid's access.log), the row limit, and rows still queued at
# SIGTERM written before exit.
. "$(dirname "$0")/lib.sh"

DEAD=$(free_port)
B1=$(free_port)
start b1 "$BACKEND" --listen "127.0.0.1:$B1" --name one
L=$(free_port); A=$(free_port)
AD=http://127.0.0.1:$A
start_proxy() {
    start proxy "$LBPROXY" --listen "127.0.0.1:$L" --admin "127.0.0.1:$A" --state-dir "$T/proxy" \
        --state-server "http://127.0.0.1:$DEAD" "$@"
    PROXY=$LAST_PID
    wait_port "$L"
}
start_proxy --connect-ports "$B1"
check "lbproxy listens" wait_port "$A"
wait_port "$B1"
http_status POST "$AD/v1/state" \
    "{\"version\":1,\"groups\":[{\"name\":\"web.test\",\"servers\":[{\"name\":\"127.0.0.1:$B1\",\"load\":0,\"ratio\":1,\"state\":\"up\",\"pinned\":false,\"draining\":false}]}]}" \
    >/dev/null
H() { "$LBCTL" -s "$AD" history "$@"; }
# A query answers from what the writer has committed, without waiting for
# it: a test polls (bounded) until the row it is about is there.
has() { local want=$1; shift; H --limit 1000 -o tsv "$@" | grep -qF -- "$want"; }
px() { curl -s -m 5 -x "127.0.0.1:$L" "$@"; }

is "a request through the group" "$(px http://web.test/)" one
px -o /dev/null http://web.test/status/404
px -o /dev/null "http://127.0.0.1:$B1/direct"
is "no history before anything was relayed elsewhere" "$(H --backend nowhere:80 -o tsv | wc -l)" 0
check "the rows are committed within the flush interval" wait_for 10 has "http://127.0.0.1:$B1/direct"

json=$(H -o json)
is "three rows" "$(echo "$json" | grep -c '"time_ms"')" 3
like "a row has every field" "$json" \
    '"bytes_in": [0-9]+,.*"bytes_out": [1-9][0-9]*,.*"client": "127\.0\.0\.1:[0-9]+",.*"delivered": true,.*"duration_ms": [0-9]+,.*"error": "",.*"group": "web\.test",.*"method": "GET",.*"server": "127\.0\.0\.1:'"$B1"'",.*"status": 200,.*"upstream_proxy": "DIRECT",.*"url": "http://web\.test/"'
like "the 404 is recorded" "$json" '"status": 404,'
like "a host that is no group is relayed as-is" "$json" '"group": "",[^}]*"url": "http://127\.0\.0\.1:'"$B1"'/direct"'

tsv=$(H -o tsv)
is "tsv: one line per row, oldest first" "$(echo "$tsv" | cut -f4 | tr '\n' ' ')" \
    "http://web.test/ http://web.test/status/404 http://127.0.0.1:$B1/direct "
like "table output has a header" "$(H -o table)" '^TIME +CLIENT +METHOD +URL +GROUP +SERVER +STATUS +BYTES +MS +DELIVERED +ERROR'
is "--limit 1 gives the newest" "$(H --limit 1 -o tsv | cut -f4)" "http://127.0.0.1:$B1/direct"
is "--group" "$(H --group web.test -o tsv | wc -l)" 2
is "--backend" "$(H --backend "127.0.0.1:$B1" -o tsv | wc -l)" 3
is "--since 10m" "$(H --since 10m -o tsv | wc -l)" 3
is "--since a Unix time in the future" "$(H --since $(( $(date +%s) + 3600 )) -o tsv | wc -l)" 0
is "--since 0" "$(H --since 0 -o tsv | wc -l)" 3

squid=$(H --format squid --limit 1 --group web.test)
like "--format squid: Squid's native access.log line" "$squid" \
    "^[0-9]{10}\.[0-9]{3} +[0-9]+ 127\.0\.0\.1 TCP_MISS/404 [0-9]+ GET http://web\.test/status/404 - HIER_DIRECT/127\.0\.0\.1:$B1 -$"
like "--format squid: elapsed right-aligned in 6 columns" "$squid" '^[0-9]{10}\.[0-9]{3} [ 0-9]{6} '

# A CONNECT tunnel is one row too, TCP_TUNNEL in Squid's words.
is "a tunnel to a group" "$(curl -s -m 5 -p -x "127.0.0.1:$L" "http://web.test:$B1/")" one
check "the tunnel row is written when it ends" wait_for 5 \
    sh -c "'$LBCTL' -s '$AD' history --limit 1 -o tsv | grep -q CONNECT"
like "tunnel row in Squid format" "$(H --limit 1 --format squid)" \
    "^[0-9]{10}\.[0-9]{3} +[0-9]+ 127\.0\.0\.1 TCP_TUNNEL/200 [0-9]+ CONNECT web\.test:$B1 - HIER_DIRECT/127\.0\.0\.1:$B1 -$"

# The client goes away early: the row says not delivered.
curl -s -m 5 -x "127.0.0.1:$L" "http://web.test/bytes?n=200000000" 2>/dev/null | head -c 100000 >/dev/null
check "an early disconnect is recorded" wait_for 10 sh -c "'$LBCTL' -s '$AD' history --failed -o tsv | grep -q '/bytes?n=200000000'"
row=$(H --failed -o json)
like "early disconnect: delivered false" "$row" '"delivered": false,[^}]*"url": "http://web\.test/bytes\?n=200000000"'
like "early disconnect: fewer bytes than the body" "$(echo "$row" | grep -o '"bytes_out": [0-9]*' | tail -1)" '"bytes_out": [0-9]+'
out=$(echo "$row" | grep -o '"bytes_out": [0-9]*' | tail -1 | grep -o '[0-9]*$')
check "early disconnect: bytes_out under the body size" test "$out" -lt 200000000
like "early disconnect in Squid format: _ABORTED" "$(H --failed --format squid)" "TCP_MISS_ABORTED/200 [0-9]+ GET http://web\.test/bytes"
# A slow answer the client does not wait for: still one row, once the
# server answered (whether a small answer written into the closed socket
# counts as delivered is the request path's call).
curl -s -m 0.3 -x "127.0.0.1:$L" "http://web.test/slow?ms=1500" >/dev/null 2>&1
check "a client that gave up before the answer is recorded" wait_for 10 \
    sh -c "'$LBCTL' -s '$AD' history -o tsv | grep -q '/slow?ms=1500'"
like "with the time the server took" "$(H --limit 1 -o json)" '"duration_ms": 1[5-9][0-9][0-9],'

# No server: 503 and a failed row naming the cause.
http_status POST "$AD/v1/state" \
    "{\"version\":2,\"groups\":[{\"name\":\"web.test\",\"servers\":[{\"name\":\"127.0.0.1:$B1\",\"load\":0,\"ratio\":1,\"state\":\"down\",\"pinned\":false,\"draining\":false}]}]}" \
    >/dev/null
px -o /dev/null http://web.test/none
wait_for 10 has /none --failed
like "the 503 row has the error" "$(H --failed --limit 1 -o json)" '"error": "[^"]*web\.test[^"]*",[^}]*"status": 503'
like "in Squid format without a server" "$(H --failed --limit 1 --format squid)" "TAG_NONE/503 [0-9]+ GET http://web\.test/none - HIER_NONE/- -$"

# Bad questions.
is "limit=abc: 400" "$(http_status GET "$AD/v1/history?limit=abc")" 400
is "since=yesterday: 400" "$(http_status GET "$AD/v1/history?since=yesterday")" 400
"$LBCTL" -s "$AD" history --since yesterday >/dev/null 2>"$T/err"
is "lbctl history --since yesterday: exit 64" "$?" 64
like "says what --since takes" "$(cat "$T/err")" "--since 'yesterday': not Unix seconds nor a duration"
"$LBCTL" -s "http://127.0.0.1:$DEAD" history >/dev/null 2>"$T/err"
is "lbctl history with no lbproxy: exit 69" "$?" 69

# Rows queued at SIGTERM are written before exit; history survives a restart.
http_status POST "$AD/v1/state" \
    "{\"version\":3,\"groups\":[{\"name\":\"web.test\",\"servers\":[{\"name\":\"127.0.0.1:$B1\",\"load\":0,\"ratio\":1,\"state\":\"up\",\"pinned\":false,\"draining\":false}]}]}" \
    >/dev/null
before=$(H --limit 1000 -o tsv | wc -l)
for i in 1 2 3 4 5; do px -o /dev/null "http://web.test/last$i"; done
stop "$PROXY"
start_proxy --history-max-rows 5
is "rows queued at SIGTERM were written" "$(H --limit 1000 -o tsv | grep -c '/last[1-5]')" 5
for i in $(seq 1 8); do px -o /dev/null "http://web.test/bound$i"; done
wait_for 10 has /bound8
rows=$(H --limit 1000 -o tsv)
is "--history-max-rows 5 keeps five rows" "$(echo "$rows" | wc -l)" 5
is "the newest ones" "$(echo "$rows" | cut -f4 | tr '\n' ' ')" \
    "http://web.test/bound4 http://web.test/bound5 http://web.test/bound6 http://web.test/bound7 http://web.test/bound8 "
diag "rows before the restart: $before"
stop "$PROXY"
start_proxy --history-max-rows 0
px -o /dev/null http://web.test/off
like "--history-max-rows 0 records nothing new" "$(H --limit 1000 -o tsv | cut -f4 | tr '\n' ' ')" "bound8 $"
like "and says so" "$(curl -s "$AD/v1/history")" '"enabled":false'
done_testing
