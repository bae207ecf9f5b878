#!/bin/bash
# --allow: clients outside the allowed networks get 403 and nothing else.
. "$(dirname "$0")/lib.sh"

BP=$(free_port); start backend "$BACKEND" --listen 127.0.0.1:$BP --name b1
SP=$(free_port)
P1=$(free_port); A1=$(free_port)
mkdir -p "$T/one" "$T/two"
start proxy1 "$LBPROXY" --listen 127.0.0.1:$P1 --admin 127.0.0.1:$A1 --state-dir "$T/one" \
    --state-server http://127.0.0.1:$SP --allow 127.0.0.1/32
P2=$(free_port); A2=$(free_port)
start proxy2 "$LBPROXY" --listen 127.0.0.1:$P2 --admin 127.0.0.1:$A2 --state-dir "$T/two" \
    --state-server http://127.0.0.1:$SP --allow 10.0.0.0/8 --allow 127.0.0.2
wait_port $BP && wait_port $P1 && wait_port $P2 || { not_ok "daemons started"; done_testing; }
B=http://127.0.0.1:$BP

is "allowed client served" "$(curl -s -x http://127.0.0.1:$P1 $B/)" "b1"
out=$(curl -s --interface 127.0.0.2 -x http://127.0.0.1:$P1 -w ' %{http_code}' $B/)
like "client outside --allow: 403 that says why" "$out" "client 127.0.0.2 is not allowed.* 403$"
code=$(curl -s --interface 127.0.0.2 -p -x http://127.0.0.1:$P1 -o /dev/null -w '%{http_connect}' $B/)
is "client outside --allow: CONNECT refused too" "$code" "403"
is "the refused client's request never reached the server" "$(curl -s $B/stats | grep '^requests')" "requests 2"

is "--allow is repeatable: second network allowed" \
    "$(curl -s --interface 127.0.0.2 -x http://127.0.0.1:$P2 $B/)" "b1"
code=$(curl -s -x http://127.0.0.1:$P2 -o /dev/null -w '%{http_code}' $B/)
is "--allow given: loopback is no longer allowed by default" "$code" "403"
like "refusals counted" "$(curl -s http://127.0.0.1:$A1/metrics)" 'lbproxy_refused_requests_total\{status="403"\} 2'
done_testing
