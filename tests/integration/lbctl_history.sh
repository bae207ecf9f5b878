#!/usr/bin/env bash
# lbctl history against a real lbproxy: the GROUP column, the time of a row
# in each format (local with its zone in a table, ISO 8601 UTC in TSV), and
# the Squid format (the server as host:port, TAG_NONE when none was
# reached, refused with -o).
. "$(dirname "$0")/lib.sh"

DEAD=$(free_port)
B1=$(free_port)
start b1 "$BACKEND" --listen "127.0.0.1:$B1" --name one
L=$(free_port); A=$(free_port)
AD=http://127.0.0.1:$A
start proxy "$LBPROXY" --listen "127.0.0.1:$L" --admin "127.0.0.1:$A" --state-dir "$T/proxy" \
    --state-server "http://127.0.0.1:$DEAD" --connect-ports "$B1"
check "lbproxy listens" wait_port "$A"
wait_port "$L"
wait_port "$B1"
http_status POST "$AD/v1/state" \
    "{\"version\":1,\"groups\":[{\"name\":\"web.test\",\"servers\":[{\"name\":\"127.0.0.1:$B1\",\"load\":0,\"ratio\":1,\"state\":\"up\",\"pinned\":false,\"draining\":false}]},{\"name\":\"down.test\",\"servers\":[{\"name\":\"127.0.0.1:$DEAD\",\"load\":0,\"ratio\":1,\"state\":\"down\",\"pinned\":false,\"draining\":false}]},{\"name\":\"gone.test\",\"servers\":[{\"name\":\"127.0.0.1:$DEAD\",\"load\":0,\"ratio\":1,\"state\":\"up\",\"pinned\":false,\"draining\":false}]}]}" \
    >/dev/null
H() { LBKIT_PROXY=$AD "$LBCTL" history "$@"; }
px() { curl -s -m 5 -x "127.0.0.1:$L" "$@"; }

is "a request through the group" "$(px http://web.test/)" one
px -o /dev/null "http://127.0.0.1:$B1/direct"
px -o /dev/null http://down.test/
check "three rows written" wait_for 5 sh -c "[ \$(LBKIT_PROXY=$AD '$LBCTL' history -o tsv | wc -l) = 3 ]"

# GROUP: after URL, '-' for a host that is no group.
is "tsv: GROUP after URL" "$(H -o tsv | cut -f4,5)" \
    "http://web.test/	web.test
http://127.0.0.1:$B1/direct	-
http://down.test/	down.test"
is "--group in another case" "$(H --group WEB.Test -o tsv | cut -f5)" web.test
like "table: a GROUP column" "$(H -o table | head -1)" '^TIME +CLIENT +METHOD +URL +GROUP +SERVER +STATUS'

# The time of the first row, in each format, against date(1).
ms=$(H -o json --limit 3 | grep -o '"time_ms": [0-9]*' | head -1 | grep -o '[0-9]*$')
s=$((ms / 1000)); frac=$(printf '%03d' $((ms % 1000)))
is "tsv: time in ISO 8601 UTC, one word" "$(TZ=JST-9 H -o tsv | head -1 | cut -f1)" \
    "$(date -u -d "@$s" +%Y-%m-%dT%H:%M:%S).${frac}Z"
like "... whatever TZ says" "$(TZ=America/New_York H -o tsv | head -1 | cut -f1)" \
    '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'
is "table: local time with its zone" "$(TZ=Asia/Tokyo H -o table | sed -n 2p | cut -c1-27)" \
    "$(TZ=Asia/Tokyo date -d "@$s" '+%Y-%m-%d %H:%M:%S').$frac JST"
like "... UTC when TZ is UTC" "$(TZ=UTC H -o table | sed -n 2p)" '^[-0-9]{10} [:0-9]{8}\.[0-9]{3} UTC '
# --format squid: the peer as host:port, TAG_NONE when no server was reached.
like "squid: the server as HIER_DIRECT/host:port" "$(H --format squid --group web.test)" \
    " TCP_MISS/200 [0-9]+ GET http://web\.test/ - HIER_DIRECT/127\.0\.0\.1:$B1 -$"
like "squid: no server up is TAG_NONE, HIER_NONE" "$(H --format squid --group down.test)" \
    " TAG_NONE/503 [0-9]+ GET http://down\.test/ - HIER_NONE/- -$"
is "squid: a CONNECT that reached no server is TAG_NONE too" \
    "$(curl -s -m 5 -o /dev/null -w '%{http_connect}' -p -x "127.0.0.1:$L" "http://down.test:$B1/")" 503
check "the tunnel row is written" wait_for 5 \
    sh -c "LBKIT_PROXY=$AD '$LBCTL' history --limit 1 -o tsv | grep -q CONNECT"
like "... TAG_NONE/503, not TCP_TUNNEL" "$(H --format squid --limit 1)" " TAG_NONE/503 [0-9]+ CONNECT down\.test:$B1 - HIER_NONE/- -$"
for o in json tsv; do
    H --format squid -o $o >"$T/out" 2>"$T/err"
    is "--format squid with -o $o is a usage error" "$?" 64
    is "... that says so" "$(head -n 1 "$T/err")" \
        "lbctl: usage: --format squid: prints Squid's access.log lines, not -o $o: give one or the other"
    is "... and prints nothing" "$(cat "$T/out")" ""
done

# A server up in the state whose connect fails: chosen, named, not reached.
is "a group whose only server refuses: 502" "$(px -o /dev/null -w '%{http_code}' http://gone.test/)" 502
check "its row is written" wait_for 5 \
    sh -c "LBKIT_PROXY=$AD '$LBCTL' history --group gone.test -o tsv | grep -q gone"
like "json: the row says the server was not reached" "$(H --group gone.test -o json)" \
    '"reached": false,[^}]*"server": "127\.0\.0\.1:'"$DEAD"'"'
like "json: a row through a server says it was reached" "$(H --group web.test -o json)" '"reached": true'
like "squid: a failed connect is TAG_NONE, naming the server tried" "$(H --format squid --group gone.test)" \
    " TAG_NONE/502 [0-9]+ GET http://gone\.test/ - HIER_DIRECT/127\.0\.0\.1:$DEAD -$"
done_testing
