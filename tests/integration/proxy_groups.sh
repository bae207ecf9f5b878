#!/bin/bash
# Representative names end to end: lbstated holds the groups and the loads,
# two lbproxy instances get the state pushed (--state-mode periodic, loads
# included) and relay requests for host1.a.co.jp to a real server chosen by
# load and ratio, rewriting the target (and Host with --host-header server).
# One runs --policy least, which makes the reference example of lbkit(7)
# exact (loads 20/15/0, ratios 2/1/2, third down: all to the first server);
# the other the default adaptive, checked statistically. Also: a load change,
# pin down/unpin, all down (503 with the sentence), a group whose servers all
# refuse (502 naming each), CONNECT to a representative name, and a server
# killed in the middle of a run while GETs keep succeeding.
. "$(dirname "$0")/lib.sh"

G=host1.a.co.jp
P1=$(free_port); start b1 "$BACKEND" --listen 127.0.0.1:$P1 --name b1; B1_PID=$LAST_PID
P2=$(free_port); start b2 "$BACKEND" --listen 127.0.0.1:$P2 --name b2
P3=$(free_port); start b3 "$BACKEND" --listen 127.0.0.1:$P3 --name b3
S1=127.0.0.1:$P1 S2=127.0.0.1:$P2 S3=127.0.0.1:$P3
# A group whose servers refuse every connection.
DG=dead.a.co.jp D1=127.0.0.1:$(free_port) D2=127.0.0.1:$(free_port)
cat >"$T/groups" <<EOF
# representative  server  ratio
$G  $S1  2
$G  $S2  1
$G  $S3  2
$DG  $D1  1
$DG  $D2  1
EOF
SP=$(free_port); mkdir -p "$T/stated" "$T/proxy"
start stated "$LBSTATED" --listen 127.0.0.1:$SP --groups "$T/groups" --state-dir "$T/stated"
wait_port $SP || { not_ok "lbstated started"; done_testing; }
ST=http://127.0.0.1:$SP

# report L1 L2 L3 [S3STATE]: one lbsniff-like report (a long interval keeps it fresh).
report() {
    local body
    body=$(printf '{"notifier":"test","interval_ms":60000,"servers":[{"addr":"%s","load":%s,"state":"up"},{"addr":"%s","load":%s,"state":"up"},{"addr":"%s","load":%s,"state":"%s"}]}' \
        "$S1" "$1" "$S2" "$2" "$S3" "$3" "${4:-up}")
    http_status POST "$ST/v1/reports" "$body" >/dev/null
}
report 20 15 0 down

# Two proxies on the same state: L (--policy least) and P (default adaptive).
LP=$(free_port); LA=$(free_port); mkdir -p "$T/least"
start least "$LBPROXY" --listen 127.0.0.1:$LP --admin 127.0.0.1:$LA --state-dir "$T/least" \
    --state-server "$ST" --state-mode periodic --state-interval 200ms --policy least --host-header server
PP=$(free_port); AP=$(free_port)
start proxy "$LBPROXY" --listen 127.0.0.1:$PP --admin 127.0.0.1:$AP --state-dir "$T/proxy" \
    --state-server "$ST" --state-mode periodic --state-interval 200ms --connect-ports 80 -v
wait_port $LP && wait_port $PP || { not_ok "lbproxy started"; done_testing; }
X=(-s -x http://127.0.0.1:$PP)
XL=(-s -x http://127.0.0.1:$LP)
# shares N CURL-ARGS...: how many of N sequential requests each backend answered.
shares() {
    local n=$1 i; shift
    for ((i = 0; i < n; i++)); do curl "$@"; done | sort | uniq -c | awk '{ printf "%s=%s ", $2, $1 }'
}
# count NAME SHARES: how many requests NAME answered (0 when none).
count() { local n; n=$(sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$2"); echo "${n:-0}"; }
# sees ADMINPORT REGEX: that proxy's own view of the state (GET /v1/state) matches.
sees() { curl -s "http://127.0.0.1:$1/v1/state" | grep -Eq "$2"; }
# both_see REGEX: both proxies have the state in question.
both_see() { sees "$LA" "$1" && sees "$AP" "$1"; }
pinned() { both_see "\"name\":\"$1\",\"pinned\":$2"; }
load_is() { both_see "\"load\":$2(\.0)?,\"name\":\"$1\""; }
wait_for 10 load_is "$S1" 20 || { not_ok "state pushed to both proxies"; done_testing; }
ok "state pushed to both proxies"

# Reference example: relative loads 20/2 = 10 and 15/1 = 15, third down.
is "reference example, least: all to the lowest relative load" "$(shares 30 "${XL[@]}" http://$G/)" "b1=30 "
s=$(shares 100 "${X[@]}" http://$G/)
diag "reference example, adaptive: $s"
is "reference example, adaptive: the down server gets nothing" "$(count b3 "$s")" "0"
check "reference example, adaptive: the lower relative load gets more ($s)" test "$(count b1 "$s")" -gt "$(count b2 "$s")"
b2_before=$(count b2 "$s")
echo=$(curl "${X[@]}" "http://$G/echo?q=1")
like "target rewritten to the real server" "$echo" "target /echo\?q=1"
like "Host kept as the client sent it (--host-header original, the default)" "$echo" "header Host: $G"
echo=$(curl "${XL[@]}" "http://$G/echo?q=1")
like "--host-header server: target rewritten to the real server" "$echo" "target /echo\?q=1"
like "--host-header server: Host rewritten to the real server" "$echo" "header Host: 127\.0\.0\.1:$P1"
"$LBPROXY" -n --state-dir "$T" --host-header client 2>"$T/err"; rc=$?
is "bad --host-header: exit 64" "$rc" "64"
like "bad --host-header: the message names the flag" "$(cat "$T/err")" "host-header"

# Every server of a group refuses: the 502 and the history row name each.
out=$(curl "${X[@]}" -w ' %{http_code}' http://$DG/)
like "all servers refuse: 502 naming the group" "$out" "no server of group $DG could be reached: .* 502$"
like "all servers refuse: the 502 names the first server and why" "$out" "$D1: Connection refused"
like "all servers refuse: the 502 names the second server and why" "$out" "$D2: Connection refused"
dead_row() { curl -s "http://127.0.0.1:$AP/v1/history?limit=50" | tr '{' '\n' | grep -F "\"group\":\"$DG\""; }
wait_for 5 dead_row
hist=$(dead_row)
like "all servers refuse: the history error names both servers" "$hist" "$D1: Connection refused; $D2: Connection refused|$D2: Connection refused; $D1: Connection refused"

# The load moves: 60/2 = 30 against 0/1 = 0.
report 60 0 0 down
wait_for 5 load_is "$S1" 60 || diag "a proxy did not see the new load"
is "load change, least: all to the other server" "$(shares 30 "${XL[@]}" http://$G/)" "b2=30 "
s=$(shares 100 "${X[@]}" http://$G/)
diag "load change, adaptive: $s"
check "load change, adaptive: the unloaded server's share grows ($b2_before -> $(count b2 "$s") of 100)" \
    test "$(count b2 "$s")" -gt "$b2_before"

# Pinned down: no traffic; unpinned: back.
http_status PUT "$ST/v1/servers/$S2/pin" '{"state":"down"}' >/dev/null
wait_for 5 pinned "$S2" true || diag "a proxy did not see the pin"
s=$(shares 30 "${X[@]}" http://$G/)
is "b2 pinned down: no traffic to it (adaptive)" "$(count b2 "$s")" "0"
is "b2 pinned down: no traffic to it (least)" "$(shares 20 "${XL[@]}" http://$G/)" "b1=20 "
http_status DELETE "$ST/v1/servers/$S2/pin" >/dev/null
wait_for 5 pinned "$S2" false || diag "a proxy did not see the unpin"
is "b2 unpinned: traffic back (least)" "$(shares 20 "${XL[@]}" http://$G/)" "b2=20 "

# All down: 503 and the sentence that says which group and why.
http_status PUT "$ST/v1/servers/$S1/pin" '{"state":"down"}' >/dev/null
http_status PUT "$ST/v1/servers/$S2/pin" '{"state":"down"}' >/dev/null
wait_for 5 pinned "$S1" true; wait_for 5 pinned "$S2" true
out=$(curl "${X[@]}" -w ' %{http_code}' http://$G/)
like "all down: 503 naming the group" "$out" "no server of group $G is up \(3 known: 1 down, 2 pinned down\).* 503$"
http_status DELETE "$ST/v1/servers/$S1/pin" >/dev/null
http_status DELETE "$ST/v1/servers/$S2/pin" >/dev/null

# Equal relative loads, all three up: adaptive spreads by ratio.
report 0 0 0 up
wait_for 5 pinned "$S1" false; wait_for 5 pinned "$S2" false
wait_for 5 both_see "\"name\":\"$S3\",\"pinned\":false,\"ratio\":[0-9.]+,\"reported_state\":\"up\""
wait_for 5 load_is "$S1" 0
s=$(shares 200 "${X[@]}" http://$G/)
diag "shares with equal loads, ratios 2/1/2: $s"
# Expected 80/40/80 of 200; a binomial spread of 3 sigma is about 21.
near() { local got; got=$(count "$1" "$s"); [ $((got - $2)) -le 25 ] && [ $(($2 - got)) -le 25 ]; }
if near b1 80 && near b2 40 && near b3 80; then ok "equal loads: shares follow the ratios 2/1/2"
else
    not_ok "equal loads: shares follow the ratios 2/1/2 (got $s)"
    diag "lbproxy's state: $(curl -s "http://127.0.0.1:$AP/v1/state")"
fi

# CONNECT to the representative name is balanced too.
out=$(curl -s -p -x http://127.0.0.1:$PP http://$G/)
like "CONNECT to a representative name reaches a real server" "$out" "^b[123]$"

# A server killed in the middle of a run: every GET still succeeds (connect
# failures mark it suspect and go elsewhere; a request cut before any answer
# byte is retried once on another server).
run() { for ((i = 0; i < 60; i++)); do curl "${X[@]}" -o /dev/null -w '%{http_code}\n' "http://$G/slow?ms=15"; done; }
run >"$T/r1" & R1=$!
run >"$T/r2" & R2=$!
run >"$T/r3" & R3=$!
sleep 0.4
kill -9 "$B1_PID"
wait "$R1" "$R2" "$R3" 2>/dev/null
codes=$(sort "$T/r1" "$T/r2" "$T/r3" | uniq -c | awk '{ printf "%s=%s ", $2, $1 }')
is "backend killed mid-run: all 180 GETs succeeded" "$codes" "200=180 "
like "metrics: selections per server" "$(curl -s http://127.0.0.1:$AP/metrics)" \
    "lbproxy_selections_total\{group=\"$G\",server=\"$S2\"\} [1-9]"
done_testing
