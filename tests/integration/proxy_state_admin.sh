#!/usr/bin/env bash
# lbproxy's admin API without lbstated: pushed state (token, versions, bad
# input refused with the state unchanged), client tables (versions, 409,
# 400 NAME:LINE, kept across a restart), health, metrics, bad flags.
. "$(dirname "$0")/lib.sh"

TOK=admin-token
echo "$TOK" > "$T/token"
DEAD=$(free_port)   # a state server that never answers
B1=$(free_port)
start b1 "$BACKEND" --listen "127.0.0.1:$B1" --name one
L=$(free_port); A=$(free_port)
AD=http://127.0.0.1:$A
start_proxy() {
    start proxy "$LBPROXY" --listen "127.0.0.1:$L" --admin "127.0.0.1:$A" --state-dir "$T/proxy" \
        --token-file "$T/token" --state-server "http://127.0.0.1:$DEAD" "$@"
    PROXY=$LAST_PID
    wait_port "$A"
}
start_proxy
check "lbproxy admin listens" wait_port "$A"
wait_port "$B1"

state_json() {  # VERSION SERVER_PORT [STATE]
    echo "{\"version\":$1,\"groups\":[{\"name\":\"web.test\",\"servers\":[{\"name\":\"127.0.0.1:$2\",\"load\":1,\"ratio\":1,\"state\":\"${3:-up}\",\"pinned\":false,\"draining\":false}]}]}"
}
pstate() { curl -s "$AD/v1/state"; }
pversion() { state_version "$AD/v1/state"; }

# No state yet: starting, not ok -----------------------------------------------
is "health before any state: 503" "$(http_status GET "$AD/v1/health")" 503
like "says it is starting and from which server" "$(last_body)" \
    "\"reason\":\"no state from http://127.0.0.1:$DEAD yet\".*\"status\":\"starting\""
body=$(curl -s -m 10 -x "127.0.0.1:$L" http://web.test/)
like "a name that does not resolve before any state: the 502 says no state has arrived" "$body" \
    "no state from http://127.0.0.1:$DEAD yet: representative names are not known"

# Pushed state ---------------------------------------------------------------
is "POST /v1/state without the token: 401" "$(http_status POST "$AD/v1/state" "$(state_json 10 "$B1")")" 401
is "POST /v1/state: 200" "$(http_status POST "$AD/v1/state" "$(state_json 10 "$B1")" "$TOK")" 200
like "accepted" "$(last_body)" '"accepted":true'
is "the proxy uses it" "$(curl -s -m 5 -x "127.0.0.1:$L" http://web.test/)" one
is "an older version: 200 (lbstated must not retry)" \
    "$(http_status POST "$AD/v1/state" "$(state_json 9 1)" "$TOK")" 200
like "but not taken" "$(last_body)" '"accepted":false,"outcome":"older","version":10'
is "bad JSON: 400" "$(http_status POST "$AD/v1/state" '{"version":' "$TOK")" 400
like "with a JSON sentence" "$(last_body)" '^\{"error":"state refused: '
is "a bad state name: 400" "$(http_status POST "$AD/v1/state" "$(state_json 11 "$B1" sideways)" "$TOK")" 400
like "naming the field" "$(last_body)" 'groups\[0\]\.servers\[0\]\.state'
is "a bad server name: 400" "$(http_status POST "$AD/v1/state" "$(state_json 12 99999)" "$TOK")" 400
is "missing groups: 400" "$(http_status POST "$AD/v1/state" '{"version":13}' "$TOK")" 400
is "a negative version: 400" "$(http_status POST "$AD/v1/state" "$(state_json -1 "$B1")" "$TOK")" 400
is "state unchanged after bad input" "$(pversion)" 10
like "servers unchanged after bad input" "$(pstate)" "\"name\":\"127.0.0.1:$B1\"[^}]*\"state\":\"up\""
like "refusals are counted" "$(curl -s "$AD/metrics")" 'lbproxy_state_updates_total\{outcome="rejected"\} [4-9]'
like "GET /v1/state?group=" "$(curl -s "$AD/v1/state?group=web.test")" '"name":"web.test"'
is "GET /v1/state?group=unknown: 404" "$(http_status GET "$AD/v1/state?group=nope")" 404
is "health once a state arrived: 200" "$(http_status GET "$AD/v1/health")" 200
like "health names the state" "$(last_body)" '"state_version":10.*"status":"ok"'
like "metrics show the version" "$(curl -s "$AD/metrics")" 'lbproxy_state_version 10'

# Client tables --------------------------------------------------------------
put_table() { http_status PUT "$AD/v1/tables/$1" "{\"version\":$2,\"table\":\"$3\"}" "${4-$TOK}"; }
is "PUT proxymap without the token: 401" "$(put_table proxymap 1 '* DIRECT' '')" 401
is "PUT proxymap v3" "$(put_table proxymap 3 '# map\n*.a.co.jp proxy1:3128,proxy2:3128\n* DIRECT\n')" 200
like "answers version and rows" "$(last_body)" '"rows":2.*"version":3'
like "GET proxymap" "$(curl -s "$AD/v1/tables/proxymap")" '"table":"# map\\n\*\.a\.co\.jp proxy1:3128,proxy2:3128\\n\* DIRECT\\n"'
is "the same version again: 409" "$(put_table proxymap 3 '* DIRECT')" 409
like "409 says why" "$(last_body)" 'version 3 is not newer than version 3 in force'
is "an older version: 409" "$(put_table proxymap 2 '* DIRECT')" 409
like "409 carries the version in force" "$(last_body)" '"version":3[,}]'
forced() { http_status PUT "$AD/v1/tables/proxymap" "{\"version\":$1,\"table\":\"$2\",\"force\":$3}" "$TOK"; }
is "force must be true or false: 400" "$(forced 2 '* DIRECT' 1)" 400
is "an older version with force: 400 for a bad table still" "$(forced 2 'bad/host DIRECT' true)" 400
like "the table in force stays" "$(curl -s "$AD/v1/tables/proxymap")" '"version":3'
is "force:false is no force: 409" "$(forced 2 '* DIRECT' false)" 409
is "force without the token: 401" \
    "$(http_status PUT "$AD/v1/tables/proxymap" '{"version":2,"table":"* DIRECT","force":true}')" 401
is "an older version with force: taken" "$(forced 2 '* DIRECT' true)" 200
like "version 2 in force" "$(curl -s "$AD/v1/tables/proxymap")" '"version":2'
is "back to version 3" "$(put_table proxymap 3 '# map\n*.a.co.jp proxy1:3128,proxy2:3128\n* DIRECT\n')" 200
is "a bad line: 400" "$(put_table proxymap 4 '* DIRECT\nbad/host DIRECT\n')" 400
like "400 names table and line" "$(last_body)" '"error":"proxymap:2: bad pattern'
like "the old table stays" "$(curl -s "$AD/v1/tables/proxymap")" '"version":3'
# A table this release does not use would have no effect: refused.
is "charsets: 501" "$(put_table charsets 1 'old.example EUC-JP\nsj.example SHIFT_JIS')" 501
like "501 says why" "$(last_body)" '"error":"table charsets is not used by this release of lbproxy"'
is "sessions: 501" "$(put_table sessions 1 'shop.example /login /logout 127.0.0.1:7402')" 501
is "version 0: 400" "$(put_table proxymap 0 '')" 400
is "a version that is not a whole number: 400" "$(put_table proxymap 5.5 '')" 400
is "unknown table: 404" "$(put_table groups 1 '')" 404
is "never pushed table: 404" "$(http_status GET "$AD/v1/tables/nothing")" 404
is "not JSON: 400" "$(http_status PUT "$AD/v1/tables/proxymap" 'x' "$TOK")" 400
# A byte that is not UTF-8 in the URL goes into the JSON sentence replaced,
# instead of making the JSON writer throw and the daemon exit.
is "table named with %ff: 404" "$(http_status GET "$AD/v1/tables/x%ff")" 404
like "its sentence has U+FFFD for the byte" "$(last_body)" $'"error":"[^"]*x\xef\xbf\xbd'
is "the admin API still answers after it" "$(http_status GET "$AD/v1/tables")" 200
is "GET /v1/tables lists the table kept" "$(curl -s "$AD/v1/tables" | grep -o '"name":"[a-z]*"')" '"name":"proxymap"'

# Everything received survives a restart.
stop "$PROXY"
start_proxy
like "tables survive a restart" "$(curl -s "$AD/v1/tables/proxymap")" '"version":3'
is "pushed state survives a restart" "$(pversion)" 10
is "and is used at once" "$(curl -s -m 5 -x "127.0.0.1:$L" http://web.test/)" one
is "a newer state replaces it" "$(http_status POST "$AD/v1/state" "$(state_json 11 "$B1" down)" "$TOK")" 200
like "503 once the only server is down" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -x "127.0.0.1:$L" http://web.test/)" 503
stop "$PROXY"

# Bad flags are usage errors (64) with one line.
"$LBPROXY" --state-mode sideways --state-dir "$T/x" >/dev/null 2>"$T/err"
is "--state-mode sideways: exit 64" "$?" 64
"$LBPROXY" --state-server ftp://x --admin "127.0.0.1:$(free_port)" --listen "127.0.0.1:$(free_port)" \
    --state-dir "$T/x" 2>"$T/err" >/dev/null
is "--state-server ftp://x: exit 64" "$?" 64
like "names the flag" "$(cat "$T/err")" "--state-server 'ftp://x': expected host:port or http://host:port"
"$LBPROXY" -n --state-server ftp://x >/dev/null 2>"$T/err"
is "-n checks --state-server as a start does" "$?" 64
is "-n takes a state server as host:port, as lbctl and lbsniff do" \
    "$("$LBPROXY" -n --state-server "127.0.0.1:$(free_port)" 2>&1)" "configuration OK"
"$LBPROXY" --state-interval 1ms --state-dir "$T/x" 2>"$T/err" >/dev/null
is "--state-interval 1ms: exit 64" "$?" 64
"$LBPROXY" --policy central --state-mode pull --admin "127.0.0.1:$A" --listen "127.0.0.1:$L" \
    --state-dir "$T/x" -n >/dev/null 2>&1
is "-n checks the configuration" "$?" 0
done_testing
