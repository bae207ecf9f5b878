#!/bin/bash
# lbproxy's request path with DIRECT hosts (no representative names): relay,
# header rewriting, HTTP/1.0, HEAD, bodies both ways, Expect: 100-continue,
# keep-alive reuse of server connections, pipelining, error answers,
# timeouts, history and metrics.
. "$(dirname "$0")/lib.sh"

BP=$(free_port); start backend "$BACKEND" --listen 127.0.0.1:$BP --name b1
PP=$(free_port); AP=$(free_port); SP=$(free_port)
start proxy "$LBPROXY" --listen 127.0.0.1:$PP --admin 127.0.0.1:$AP --state-dir "$T" \
    --state-server http://127.0.0.1:$SP --server-timeout 500ms -v
PROXY_PID=$LAST_PID
wait_port $BP && wait_port $PP && wait_port $AP || { not_ok "daemons started"; done_testing; }
B=http://127.0.0.1:$BP
X=(-s -x http://127.0.0.1:$PP)

# Relay -----------------------------------------------------------------------
out=$(curl "${X[@]}" -i $B/)
like "GET relayed to the server" "$out" $'X-Backend: b1\r'
like "Via added to the response" "$out" $'Via: 1.1 lbproxy\r'
is "body from the server" "$(curl "${X[@]}" $B/)" "b1"

echo=$(curl "${X[@]}" $B/echo?x=1 -H 'Connection: X-Private' -H 'X-Private: secret' -H 'Keep-Alive: 300' \
    -H 'Proxy-Authorization: Basic Zm9vOmJhcg==' -H 'TE: trailers' -H 'Upgrade: websocket' -H 'X-Kept: yes')
like "origin-form target sent to the server" "$echo" "target /echo\?x=1"
like "Host is the URL's authority" "$echo" "header Host: 127.0.0.1:$BP"
like "end-to-end header kept" "$echo" "header X-Kept: yes"
like "Via added to the request" "$echo" "header Via: 1.1 lbproxy"
bad=$(grep -Eic '^header (connection|keep-alive|proxy-connection|proxy-authorization|te|upgrade|x-private):' <<<"$echo")
is "hop-by-hop headers and those named in Connection removed" "$bad" "0"
like "server spoken to in HTTP/1.1" "$echo" "version 1.1"

out=$(curl "${X[@]}" -0 -i -H 'Proxy-Connection:' $B/)
like "HTTP/1.0 client answered" "$out" $'^HTTP/1.1 200 OK\r'
like "HTTP/1.0 client without keep-alive: Connection: close" "$out" $'Connection: close\r'
out=$(curl "${X[@]}" -0 -i -H 'Proxy-Connection: keep-alive' $B/)
like "HTTP/1.0 client asking for keep-alive: Connection: keep-alive" "$out" $'Connection: keep-alive\r'
n=$(curl "${X[@]}" -0 "$B/chunked?n=5000&size=300" | wc -c)
is "chunked answer decoded for an HTTP/1.0 client" "$n" "5000"
out=$(curl "${X[@]}" -0 -i "$B/chunked?n=50" | tr -d '\r')
is "no Transfer-Encoding sent to an HTTP/1.0 client" "$(grep -ci '^transfer-encoding' <<<"$out")" "0"
n=$(curl "${X[@]}" "$B/chunked?n=100000&size=333" | wc -c)
is "chunked answer relayed to an HTTP/1.1 client" "$n" "100000"

out=$(curl "${X[@]}" -I $B/bytes?n=12345 | tr -d '\r')
like "HEAD: headers of the body" "$out" "Content-Length: 12345"
is "status relayed" "$(curl "${X[@]}" -o /dev/null -w '%{http_code}' $B/status/404)" "404"
is "204 relayed" "$(curl "${X[@]}" -o /dev/null -w '%{http_code}' $B/status/204)" "204"

# Request and response bodies --------------------------------------------------
head -c 3000000 /dev/urandom >"$T/up"
check "Content-Length request body streamed both ways intact" \
    bash -c "curl -s -x http://127.0.0.1:$PP --data-binary @$T/up $B/mirror | cmp - $T/up"
check "chunked request body streamed both ways intact" \
    bash -c "curl -s -x http://127.0.0.1:$PP -H 'Transfer-Encoding: chunked' --data-binary @$T/up $B/mirror | cmp - $T/up"
out=$(curl "${X[@]}" -v -H 'Expect: 100-continue' --data-binary @"$T/up" $B/echo 2>&1)
like "Expect: 100-continue: the server's 100 reaches the client" "$out" "< HTTP/1.1 100 Continue"
like "Expect: 100-continue: the body follows" "$out" "body-length 3000000"
code=$(curl "${X[@]}" -o /dev/null -w '%{http_code}' -H 'Expect: 100-continue' --data-binary @"$T/up" $B/status/417)
is "Expect: 100-continue: a final answer instead of 100 is relayed" "$code" "417"

# Keep-alive and pipelining ---------------------------------------------------
stats() { curl -s "$B/stats" | awk -v k="$1" '$1 == k { print $2 }'; }
before=$(stats connections)
urls=(); for i in $(seq 1 20); do urls+=("$B/?i=$i"); done
for i in 1 2 3; do curl "${X[@]}" "${urls[@]}" >/dev/null; done
after=$(stats connections)
used=$((after - before - 1))  # the /stats request itself is one connection
if [ "$used" -le 2 ]; then ok "60 requests on keep-alive used $used new server connection(s)"
else not_ok "60 requests on keep-alive used $used new server connections"; fi

exec 3<>/dev/tcp/127.0.0.1/$PP
printf 'GET %s/slow?ms=300 HTTP/1.1\r\nHost: a\r\n\r\nGET %s/echo?second HTTP/1.1\r\nHost: a\r\n\r\nGET %s/status/202 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' \
    "$B" "$B" "$B" >&3
order=$(timeout 5 cat <&3 | tr -d '\r' | grep -E '^(HTTP/1.1 [0-9]+|target )' | cut -d' ' -f1,2 | tr '\n' ' ')
exec 3<&-
is "pipelined requests answered in order" "$order" "HTTP/1.1 200 HTTP/1.1 200 target /echo?second HTTP/1.1 202 "

# Errors made by lbproxy ------------------------------------------------------
DEAD=$(free_port)
out=$(curl "${X[@]}" -w ' %{http_code}' http://127.0.0.1:$DEAD/)
like "refused connect: 502 with the cause" "$out" "cannot connect to 127.0.0.1:$DEAD: Connection refused.* 502$"
out=$(curl "${X[@]}" -w ' %{http_code}' "$B/slow?ms=3000")
like "silent server: 504 after --server-timeout" "$out" "did not answer within 500ms.* 504$"
out=$(curl "${X[@]}" -w ' %{http_code}' "$B/bad")
like "ambiguous response framing: 502" "$out" "sent a bad response.* 502$"
out=$(curl "${X[@]}" -w ' %{http_code}' "$B/status/10")
like "status code outside 100-599: 502 naming it" "$out" "status code outside 100-599.* 502$"
out=$(curl "${X[@]}" -w ' %{http_code}' "$B/reset")
like "reset before the answer: 502" "$out" "connection lost before answering.* 502$"
n=$(curl "${X[@]}" -o /dev/null -w '%{http_code} %{size_download}' "$B/cut?n=1000")
is "answer cut by the server: the client gets what came, then the close" "$n" "200 1000"
out=$(curl -s -w ' %{http_code}' http://127.0.0.1:$PP/index.html)
like "origin-form request (not a proxy request): 400" "$out" "absolute URL.* 400$"
out=$(curl "${X[@]}" -w ' %{http_code}' http://127.0.0.1:$PP/)
like "request to the proxy itself: 508" "$out" "itself.* 508$"
is "the proxy still serves after all that" "$(curl "${X[@]}" $B/)" "b1"

# History and metrics -----------------------------------------------------------
# A client that goes away early: the row says the answer was not delivered.
curl "${X[@]}" --max-time 1 "$B/bytes?n=2000000000" -o /dev/null
curl "${X[@]}" "$B/?last=1" >/dev/null
# Answered from what the writer has committed: wait (bounded) for the last row.
wait_for 10 sh -c "curl -s 'http://127.0.0.1:$AP/v1/history?limit=200' | grep -qF '?last=1'"
hist=$(curl -s "http://127.0.0.1:$AP/v1/history?limit=200")
row() { tr '{' '\n' <<<"$hist" | grep -F "$1"; }
like "history: a delivered exchange" "$(row '?last=1')" '"delivered":true'
like "history: server recorded" "$(row '?last=1')" "\"server\":\"127.0.0.1:$BP\""
like "history: status recorded" "$(row '?last=1')" '"status":200'
like "history: upstream proxy DIRECT" "$(row '?last=1')" '"upstream_proxy":"DIRECT"'
like "history: an early disconnect is not delivered" "$(row 'bytes?n=2000000000')" '"delivered":false'
like "history: an error answer recorded with its sentence" "$(row "127.0.0.1:$DEAD")" '"status":502'
m=$(curl -s "http://127.0.0.1:$AP/metrics")
like "metrics: requests counted" "$m" "lbproxy_requests_total [1-9][0-9]*"
like "metrics: upstream errors counted" "$m" 'lbproxy_upstream_errors_total\{kind="connect"\} [1-9]'
like "metrics: open client connections" "$m" "lbproxy_client_connections [0-9]"
like "metrics: refused requests by status" "$m" 'lbproxy_refused_requests_total\{status="400"\} [1-9]'

# -n checks the configuration; a bad flag value is a usage error.
out=$("$LBPROXY" -n --state-dir "$T" --allow 10.0.0.0/8 --connect-ports 443,8000-8100)
is "-n: configuration OK" "$out" "configuration OK"
"$LBPROXY" -n --state-dir "$T" --allow 10.0.0.300/8 2>"$T/err"; rc=$?
is "bad --allow: exit 64" "$rc" "64"
like "bad --allow: the message names the flag" "$(cat "$T/err")" "^lbproxy: --allow: bad network '10.0.0.300/8'"
"$LBPROXY" -n --state-dir "$T" --connect-ports 443,x 2>"$T/err"; rc=$?
is "bad --connect-ports: exit 64" "$rc" "64"

stop "$PROXY_PID"
like "SIGTERM: clean stop" "$(tail -n 3 "$T/proxy.log")" "stopping"
done_testing
