#!/bin/bash
# Passive ejection end to end: three backends behind one group, one of them
# answering every request with 500. lbproxy ejects it after --eject-after
# (default 5) consecutive failures, so a run of 60 requests sees at most
# five 500s; /v1/state and /metrics show the ejection, lbstated counts it in
# ejected_by (the server stays "up": the sniffer's word stands) and lbctl
# status shows it. The backend is then fixed; after --ejection-time the
# server returns (slow start), lbstated hears of it, and it gets traffic
# again. A second group whose three servers all fail keeps two of them in
# (--max-ejection-percent 50).
. "$(dirname "$0")/lib.sh"

G=host1.a.co.jp G2=all-fail.a.co.jp
TOK=eject-token
echo "$TOK" >"$T/token"
P1=$(free_port); start b1 "$BACKEND" --listen 127.0.0.1:$P1 --name b1
P2=$(free_port); start b2 "$BACKEND" --listen 127.0.0.1:$P2 --name b2
P3=$(free_port); start b3 "$BACKEND" --listen 127.0.0.1:$P3 --name b3 --status 500; B3_PID=$LAST_PID
F1=$(free_port); start f1 "$BACKEND" --listen 127.0.0.1:$F1 --name f1 --status 503
F2=$(free_port); start f2 "$BACKEND" --listen 127.0.0.1:$F2 --name f2 --status 503
F3=$(free_port); start f3 "$BACKEND" --listen 127.0.0.1:$F3 --name f3 --status 503
S1=127.0.0.1:$P1 S2=127.0.0.1:$P2 S3=127.0.0.1:$P3
cat >"$T/groups" <<EOF2
$G  $S1  1
$G  $S2  1
$G  $S3  1
$G2  127.0.0.1:$F1  1
$G2  127.0.0.1:$F2  1
$G2  127.0.0.1:$F3  1
EOF2
SP=$(free_port); mkdir -p "$T/stated" "$T/proxy"
start_stated() {
    start stated "$LBSTATED" --listen 127.0.0.1:$SP --groups "$T/groups" --state-dir "$T/stated" --token-file "$T/token"
    STATED_PID=$LAST_PID
}
start_stated
wait_port $SP || { not_ok "lbstated started"; done_testing; }
ST=http://127.0.0.1:$SP
for p in $P1 $P2 $P3 $F1 $F2 $F3; do report_server "$ST" "$p" up 0 "$TOK" >/dev/null; done

# A second state server that is down: reports to it fail, logged once.
PP=$(free_port); AP=$(free_port); DEAD=$(free_port)
start proxy "$LBPROXY" --listen 127.0.0.1:$PP --admin 127.0.0.1:$AP --state-dir "$T/proxy" \
    --token-file "$T/token" --state-server "$ST" --state-server "http://127.0.0.1:$DEAD" \
    --state-mode periodic --state-interval 200ms --ejection-time 15s --slow-start 2s
PROXY_PID=$LAST_PID
wait_port $PP && wait_port $AP || { not_ok "lbproxy started"; done_testing; }
PROXY_ID=127.0.0.1:$AP
X=(-s -x http://127.0.0.1:$PP)

# server_json ADMIN_OR_STATED_URL SERVER: that server's object in the state.
server_json() { curl -s "$1/v1/state" | grep -o "{[^{}]*\"name\":\"$2\"[^{}]*}" | head -1; }
# field JSON KEY: a scalar field of a flat JSON object.
field() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" <<<"$1" | tr -d '"'; }
proxy_field() { field "$(server_json "http://127.0.0.1:$AP" "$1")" "$2"; }
stated_field() { field "$(server_json "$ST" "$1")" "$2"; }
in_state() { [ "$(proxy_field "$S3" state)" = up ]; }
wait_for 10 in_state || { not_ok "state pushed to lbproxy"; done_testing; }
ok "state pushed to lbproxy"

# codes N URL: the status codes and answering backends of N requests, counted.
codes() {
    local i
    for ((i = 0; i < $1; i++)); do curl "${X[@]}" -o /dev/null -w '%header{x-backend} %{http_code}\n' "$2"; done |
        sort | uniq -c |
        awk '{ printf "%s/%s=%s ", $2, $3, $1 }'
}
# count KEY TALLY: how many requests KEY (backend/code) had in TALLY.
count() { local n; n=$(grep -o "$1=[0-9]*" <<<"$2" | cut -d= -f2); echo "${n:-0}"; }

s=$(codes 60 "http://$G/")
diag "60 requests, one backend failing: $s"
fails=$(count b3/500 "$s")
check "the failing backend answered at most 5 of 60 ($fails)" test "$fails" -le 5
check "and was tried before it went out ($fails)" test "$fails" -ge 1
is "the others answered the rest" "$(($(count b1/200 "$s") + $(count b2/200 "$s")))" "$((60 - fails))"

is "/v1/state: the server is ejected" "$(proxy_field "$S3" ejected)" true
is "/v1/state: its first ejection" "$(proxy_field "$S3" ejections)" 1
until_ms=$(proxy_field "$S3" ejected_until_ms)
check "/v1/state: ejected until a time in the future ($until_ms)" test "${until_ms:-0}" -gt "$(date +%s%3N)"
is "/v1/state: the healthy ones are not" "$(proxy_field "$S1" ejected),$(proxy_field "$S2" ejected)" "false,false"
like "/v1/state: the group counts it" "$(curl -s "http://127.0.0.1:$AP/v1/state?group=$G")" "\"ejected\":1,\"name\":\"$G\""
m=$(curl -s "http://127.0.0.1:$AP/metrics")
like "metrics: ejected servers of the group" "$m" "lbproxy_ejected_servers\{group=\"$G\"\} 1"
like "metrics: ejections of the server" "$m" "lbproxy_ejections_total\{server=\"$S3\"\} 1"
like "log: the ejection is a warning" "$(cat "$T/proxy.log")" "server $S3: 5 failures in a row; ejected for"

ejected_by() { [ "$(stated_field "$S3" ejected_by)" = "$1" ]; }
wait_for 5 ejected_by 1
is "lbstated: ejected by one proxy" "$(stated_field "$S3" ejected_by)" 1
is "lbstated: the server's state stays the sniffer's" "$(stated_field "$S3" state)" up
is "lbstated: the others are not" "$(stated_field "$S1" ejected_by)" 0
row=$("$LBCTL" -s "$ST" status "$G" | grep -F "$S3")
is "lbctl status: state up, EJECTED 1 (last column)" "$(cut -f6,9 <<<"$row")" $'up\t1'
like "lbctl status -o table: EJECTED column" "$("$LBCTL" -s "$ST" -o table status)" "AGE +EJECTED"

# lbstated restarts and has forgotten the ejection (it keeps ejections in
# memory); lbproxy sees the new instance and reports it again.
stop "$STATED_PID"
start_stated
wait_port $SP || { not_ok "lbstated restarted"; done_testing; }
if wait_for 10 ejected_by 1; then ok "lbstated restarted: lbproxy reports its ejection again"
else not_ok "lbstated restarted: lbproxy reports its ejection again"; fi
like "log: the ejection reported again" "$(cat "$T/proxy.log")" \
    "state server 127.0.0.1:$SP restarted: 1 ejection in force reported again"
like "lbstated: the ejection names the proxy" "$(curl -s -X POST -H "Authorization: Bearer $TOK" \
    --data-binary "{\"proxy\":\"$PROXY_ID\",\"until_ms\":60000}" "$ST/v1/servers/$S3/ejection")" \
    "\"proxies\":\[\{\"proxy\":\"$PROXY_ID\""
is "lbstated: reporting an ejection needs the token" \
    "$(http_status POST "$ST/v1/servers/$S3/ejection" "{\"proxy\":\"x\",\"until_ms\":1000}")" 401
is "lbstated: an ejection of an unknown server is 404" \
    "$(http_status POST "$ST/v1/servers/nosuch:80/ejection" "{\"proxy\":\"x\",\"until_ms\":1000}" "$TOK")" 404
is "lbstated: a bad until_ms is 400" \
    "$(http_status POST "$ST/v1/servers/$S3/ejection" "{\"proxy\":\"x\",\"until_ms\":0}" "$TOK")" 400

# The backend is fixed; the ejection ends on time and the server gets traffic
# again. --ejection-time is long enough that the 60 requests above (seconds
# on a loaded machine) end before it does.
stop "$B3_PID"
start b3 "$BACKEND" --listen 127.0.0.1:$P3 --name b3
wait_port $P3 || not_ok "backend b3 restarted"
back() { [ "$(proxy_field "$S3" ejected)" = false ]; }
if wait_for 25 back; then ok "the server returns after --ejection-time"; else not_ok "the server returns after --ejection-time"; fi
ramp=$(proxy_field "$S3" slow_start)
check "it returns with slow start (share factor $ramp below 1)" awk "BEGIN { exit !($ramp >= 0.1 && $ramp < 1) }"
like "log: the return" "$(cat "$T/proxy.log")" "server $S3: ejection over; back with slow start"
wait_for 5 ejected_by 0
is "lbstated: the return is reported" "$(stated_field "$S3" ejected_by)" 0
sleep 2  # the slow start ends
s=$(codes 60 "http://$G/")
diag "60 requests after the return: $s"
check "the returned server gets traffic again" test "$(count b3/200 "$s")" -ge 1
is "and no request failed" "$(count b3/500 "$s")" 0

# All three servers of a group failing: 50% of three is one, the others stay in.
s=$(codes 40 "http://$G2/")
diag "40 requests, all backends failing: $s"
like "all failing: the group has one server ejected" "$(curl -s "http://127.0.0.1:$AP/v1/state?group=$G2")" \
    "\"ejected\":1,\"name\":\"$G2\""
is "all failing: every request was still answered by a backend" \
    "$(($(count f1/503 "$s") + $(count f2/503 "$s") + $(count f3/503 "$s")))" 40
like "log: the others are kept by --max-ejection-percent" "$(cat "$T/proxy.log")" \
    "failures in a row, but group $G2 has as many servers ejected as --max-ejection-percent 50 allows; kept"

is "reports to a state server that is down: logged once" \
    "$(grep -c "state server http://127.0.0.1:$DEAD: .*further failed reports are not logged" "$T/proxy.log")" 1
ejected_total() { curl -s "$ST/v1/state" | grep -o '"ejected_by":[0-9]*' | awk -F: '{ s += $2 } END { print s + 0 }'; }
is "lbstated: the ejection in the all-failing group is counted" "$(ejected_total)" 1
stop "$PROXY_PID"
is "lbstated: a proxy that stops ends its ejections there" "$(ejected_total)" 0
like "lbstated: told by the proxy, not by expiry" "$(cat "$T/stated.log")" \
    "server 127\.0\.0\.1:($F1|$F2|$F3) back in proxy $PROXY_ID"
done_testing
