#!/usr/bin/env bash
# lbstated's control API: reports, state, versions, staleness, central
# selection, groups, and every kind of bad input (state left unchanged).
. "$(dirname "$0")/lib.sh"

P=$(free_port)
S=http://127.0.0.1:$P
TOK=s3cret-token
echo "$TOK" > "$T/token"
cat > "$T/groups" <<'G'
# reference example of lbkit(7)
host1.a.co.jp  127.0.0.1:8081  2
host1.a.co.jp  127.0.0.1:8082  1
host1.a.co.jp  127.0.0.1:8083  2
other.a.co.jp  127.0.0.1:8091  1
G
start lbstated "$LBSTATED" --listen "127.0.0.1:$P" --groups "$T/groups" --state-dir "$T/state" \
    --token-file "$T/token" --stale-after 8s
check "lbstated listens" wait_port "$P"

post() {  # post METHOD PATH BODY [TOKEN]
    http_status "$1" "$S$2" "$3" "${4-$TOK}"
}
version() { state_version "$S/v1/state"; }
server_state() {  # server_state NAME
    curl -s "$S/v1/state" | tr '{' '\n' | grep "\"name\":\"$1\"" | grep -o '"state":"[a-z]*"' | cut -d'"' -f4
}
REPORT='{"notifier":"lan-a","interval_ms":1000,"servers":[
  {"addr":"127.0.0.1:8081","load":20,"state":"up"},
  {"addr":"127.0.0.1:8082","load":15,"state":"up"},
  {"addr":"127.0.0.1:8083","load":0,"state":"down"}]}'

is "health answers" "$(http_status GET "$S/v1/health")" 200
like "metrics are Prometheus text" "$(curl -s "$S/metrics")" "# TYPE lbkit_api_requests_total counter"
v0=$(version)
is "servers start unknown" "$(server_state 127.0.0.1:8081)" unknown

is "report accepted" "$(post POST /v1/reports "$REPORT")" 200
v1=$(version)
check "report increases the version" test "$v1" -gt "$v0"
is "reported up" "$(server_state 127.0.0.1:8081)" up
is "reported down" "$(server_state 127.0.0.1:8083)" down

# Central selection: the reference example picks among the up servers only.
is "select answers" "$(http_status GET "$S/v1/select?group=host1.a.co.jp&client=c1")" 200
like "select never picks the down server" "$(last_body)" '"server":"127.0.0.1:808[12]"'
is "select of an unknown group" "$(http_status GET "$S/v1/select?group=nope")" 404
is "select without group" "$(http_status GET "$S/v1/select")" 400
is "select may use an unknown server when none is up" "$(http_status GET "$S/v1/select?group=other.a.co.jp")" 200
post POST /v1/reports '{"notifier":"lan-b","servers":[{"addr":"127.0.0.1:8091","load":0,"state":"down"}]}' >/dev/null
is "select with no server up" "$(http_status GET "$S/v1/select?group=other.a.co.jp")" 503
like "503 says which group and why" "$(last_body)" 'no server of group other.a.co.jp is up \(1 known: 1 down\)'

# Bad input: a clear JSON error, the right status, and nothing changes.
post POST /v1/reports "$REPORT" >/dev/null
before=$(version)
is "malformed JSON is 400" "$(post POST /v1/reports '{"notifier":')" 400
like "malformed JSON error is a sentence" "$(last_body)" '"error":"body is not valid JSON"'
is "wrong type is 400" "$(post POST /v1/reports '{"notifier":"a","servers":[{"addr":"127.0.0.1:8081","load":"high","state":"up"}]}')" 400
like "wrong type names the field" "$(last_body)" 'servers\[0\]\.load: must be a number'
is "bad state word is 400" "$(post POST /v1/reports '{"notifier":"a","servers":[{"addr":"127.0.0.1:8081","load":1,"state":"fine"}]}')" 400
is "JSON array body is 400" "$(post POST /v1/reports '[1,2]')" 400
head -c 1500000 /dev/zero | tr '\0' ' ' > "$T/big"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "$S/v1/reports" -H "Authorization: Bearer $TOK" \
    -H 'Content-Type: application/json' --data-binary @"$T/big")
is "oversized body is 413" "$code" 413
like "413 is a JSON sentence" "$(last_body)" '"error":"body larger than'
is "unknown server is 404" "$(post POST /v1/reports '{"notifier":"a","servers":[{"addr":"10.1.2.3:80","load":1,"state":"up"}]}')" 404
like "404 names the server" "$(last_body)" "no such server '10.1.2.3:80'"
is "missing token is 401" "$(post POST /v1/reports "$REPORT" '')" 401
is "wrong token is 401" "$(post POST /v1/reports "$REPORT" wrong-token)" 401
like "401 is a JSON sentence" "$(last_body)" '"error":"missing or wrong token'
is "pin of an unknown server is 404" "$(post PUT /v1/servers/nosuch:80/pin '{"state":"down"}')" 404
is "pin with a bad field is 400" "$(post PUT /v1/servers/127.0.0.1:8081/pin '{"state":"sideways"}')" 400
is "pin without token is 401" "$(post PUT /v1/servers/127.0.0.1:8081/pin '{"state":"down"}' '')" 401
is "bad groups table is 400" "$(post PUT /v1/groups '{"table":"a b 1\nc d zero\n"}')" 400
like "bad groups line is FILE:LINE" "$(last_body)" 'groups:2: ratio .zero. is not a number'
is "bad subscriber URL is 400" "$(post POST /v1/subscribers '{"url":"file:///etc/passwd"}')" 400
is "wrong method is 405" "$(http_status DELETE "$S/v1/state")" 405
is "unknown endpoint is 404" "$(http_status GET "$S/v2/nothing")" 404
# Bytes that are not UTF-8 in a URL end up in the error sentence: they come
# out as U+FFFD, where the JSON writer used to throw and lbstated to exit.
is "pin of a server named with %ff is 404" "$(post PUT /v1/servers/127.0.0.1:8081%ff/pin '{"state":"down"}')" 404
like "the sentence names it, the byte replaced" "$(last_body)" $'no such server \'127\\.0\\.0\\.1:8081\xef\xbf\xbd\''
is "state of group %ff is 404" "$(http_status GET "$S/v1/state?group=%ff")" 404
is "select for client %ff answers" "$(http_status GET "$S/v1/select?group=host1.a.co.jp&client=%ff")" 200
is "lbstated still answers after them" "$(http_status GET "$S/v1/health")" 200
is "no bad request changed the version" "$(version)" "$before"
is "no bad request changed a state" "$(server_state 127.0.0.1:8081)" up

# Reads need no token.
is "state readable without token" "$(http_status GET "$S/v1/state?group=host1.a.co.jp")" 200
is "state of an unknown group is 404" "$(http_status GET "$S/v1/state?group=nope")" 404

# Soft state: without reports for --stale-after the servers become unknown.
state_is() { test "$(server_state "$1")" = "$2"; }
check "stale reports become unknown" wait_for 14 state_is 127.0.0.1:8081 unknown
check "staleness increased the version" test "$(version)" -gt "$before"

# Groups: reload keeps the old table when the new one is bad.
cp "$T/groups" "$T/groups.good"
printf 'host1.a.co.jp 127.0.0.1:8081 2\nhost1.a.co.jp 127.0.0.1:8082 -1\n' > "$T/groups"
is "reload of a bad file is 400" "$(post POST /v1/groups/reload '')" 400
like "reload error names FILE:LINE" "$(last_body)" "$T/groups:2: ratio must be > 0"
check "a failed reload through the API is logged too" \
    grep -q "reload at the request of 127.0.0.1: $T/groups:2: ratio must be > 0; keeping the groups in force" "$T/lbstated.log"
kill -HUP "$LAST_PID"
check "SIGHUP with a bad file logs FILE:LINE" wait_for 3 grep -q "groups:2: ratio must be > 0; keeping the groups in force" "$T/lbstated.log"
is "old groups still in force" "$(curl -s "$S/v1/groups" | grep -o '127.0.0.1:8083' | head -1)" 127.0.0.1:8083
like "/metrics shows 127.0.0.1:8083 while it is in the groups" "$(curl -s "$S/metrics")" 'server="127.0.0.1:8083"'
printf 'host1.a.co.jp 127.0.0.1:8081 2\nnew.a.co.jp 127.0.0.1:9001 1\n' > "$T/groups"
kill -HUP "$LAST_PID"
check "SIGHUP loads the new table" wait_for 3 sh -c "curl -s '$S/v1/groups' | grep -q new.a.co.jp"
curl -s "$S/metrics" >"$T/metrics"
is "/metrics drops the series of a server the new groups left out" "$(grep -c 'server="127.0.0.1:8083"' "$T/metrics")" 0
like "/metrics has the new group's server" "$(cat "$T/metrics")" 'group="new.a.co.jp",server="127.0.0.1:9001"' 
is "reload through the API" "$(post POST /v1/groups/reload '')" 200

# Configuration checks and refusals at start.
"$LBSTATED" -n --groups "$T/groups" >"$T/n.out" 2>&1
is "-n accepts a good table" "$?:$(cat "$T/n.out")" "0:configuration OK"
printf 'g a 1\ng b\n' > "$T/bad"
"$LBSTATED" -n --groups "$T/bad" 2>"$T/n.err"
is "-n refuses a bad table with 65" "$?" 65
like "-n names FILE:LINE" "$(cat "$T/n.err")" "^lbstated: $T/bad:2: expected 3 columns"
"$LBSTATED" --listen 0.0.0.0:$(free_port) --state-dir "$T/s2" --token-file /dev/null 2>"$T/n.err"
is "empty token file is a configuration error" "$?" 78
"$LBSTATED" --listen "0.0.0.0:$(free_port)" --state-dir "$T/s2" 2>"$T/n.err"
is "non-loopback listen without token refused" "$?" 78
like "refusal says why" "$(cat "$T/n.err")" "refusing a non-loopback address without a token"
# (Bounded: should the first lbstated be gone, this one would serve forever.)
timeout 10 "$LBSTATED" --listen "127.0.0.1:$P" --state-dir "$T/s3" 2>"$T/n.err"
is "busy port is unavailable (69)" "$?" 69
"$LBSTATED" --stale-after 2x 2>"$T/n.err"
is "bad duration is a usage error" "$?" 64
done_testing
