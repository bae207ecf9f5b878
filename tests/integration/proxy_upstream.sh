#!/usr/bin/env bash
# Upstream proxies per destination: lbproxy --proxymap sends each request
# through the proxy its host's rule names, with real Squid and tinyproxy
# started on loopback. Two Squids form a group whose loads lbstated holds
# (fed with lbctl report), so they share the traffic by load, and one
# stopped moves it to the other with no client error; both stopped gives
# the 502 sentence. A representative name is resolved to its real server
# first, then that server's proxy is chosen. CONNECT is chained through
# Squid (bytes intact; a refusal is a 502 naming the proxy). History rows
# and /metrics name the proxy. The table in force: the file, a newer push,
# a newer file after SIGHUP, a bad file refused; kept across a restart.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../proxies.sh"
command -v squid >/dev/null && command -v tinyproxy >/dev/null ||
    skip_all "squid and tinyproxy are not installed (scripts/build installs them)"

TOK=upstream-token
echo "$TOK" >"$T/token"
BP=$(free_port); start backend "$BACKEND" --listen 127.0.0.1:$BP --name b1
SQ1=$(free_port) SQ2=$(free_port) TP=$(free_port)
# test_squid NAME PORT: a Squid that alone knows the test's host names (its
# own hosts file) and refuses a CONNECT to refused.example.test.
test_squid() {
    squid_conf "$T/$1" "$2" "hosts_file $T/$1/hosts" \
        'acl refused_dst dstdomain refused.example.test' 'http_access deny CONNECT refused_dst'
    echo "127.0.0.1 www.example.test refused.example.test" >"$T/$1/hosts"
    start "$1" squid -N -f "$T/$1/squid.conf"
}
test_squid squid1 "$SQ1"; SQ1_PID=$LAST_PID
test_squid squid2 "$SQ2"; SQ2_PID=$LAST_PID
tinyproxy_conf "$T/tiny" "$TP"
start tiny tinyproxy -d -c "$T/tiny/tinyproxy.conf"
S1=127.0.0.1:$SQ1 S2=127.0.0.1:$SQ2 TINY=127.0.0.1:$TP
# A recorder playing an upstream proxy: keeps the first request head it
# gets (connections that send none, as wait_port's, are skipped) and
# answers "ok".
REC=$(free_port)
start recorder python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
s.settimeout(300)
for _ in range(20):
    c, _ = s.accept()
    c.settimeout(10)
    head = b""
    while b"\r\n\r\n" not in head:
        more = c.recv(4096)
        if not more:
            break
        head += more
    if head:
        open(sys.argv[2], "wb").write(head)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
        break
    c.close()
' "$REC" "$T/recorded"

# The two Squids are a group lbsniff could watch; app.test is a group whose
# server is reached through them (only Squid's hosts file knows its name).
cat >"$T/groups" <<EOF
proxies.test  $S1  1
proxies.test  $S2  1
app.test      www.example.test:$BP  1
rec.test      recorder.test:8080  1
EOF
SP=$(free_port)
start stated "$LBSTATED" --listen 127.0.0.1:$SP --groups "$T/groups" --state-dir "$T/stated" \
    --token-file "$T/token" --stale-after 1h
ST=http://127.0.0.1:$SP
wait_port "$SP" && wait_port "$BP" && wait_port "$SQ1" 20 && wait_port "$SQ2" 20 && wait_port "$TP" &&
    wait_port "$REC" ||
    { not_ok "lbstated, backend, squid and tinyproxy started"; done_testing; }
report() { printf '%s %s up\n%s %s up\nwww.example.test:%s 1 up\n' "$S1" "$1" "$S2" "$2" "$BP" |
    "$LBCTL" -s "$ST" --token-file "$T/token" report -; }
report 30 10

MAP=$T/proxymap
FILE_V=$(( $(date +%s) - 100 ))
write_map() {  # MTIME: the map file with these rules, modified at MTIME
    cat >"$MAP"
    touch -d "@$1" "$MAP"
}
write_map "$FILE_V" <<EOF
# destination      proxies
localhost          $TINY
*.example.test     proxies.test
127.0.0.1          DIRECT
recorder.test      127.0.0.1:$REC
EOF
PP=$(free_port) AP=$(free_port)
AD=http://127.0.0.1:$AP
start_proxy() {
    start proxy "$LBPROXY" --listen 127.0.0.1:$PP --admin 127.0.0.1:$AP --state-dir "$T/proxy" \
        --token-file "$T/token" --state-server "$ST" --state-mode periodic --state-interval 200ms \
        --proxymap "$MAP" --connect-ports "$BP" --suspect-time 1m -v
    PROXY=$LAST_PID
    wait_port "$PP" && wait_port "$AP"
}
start_proxy || { not_ok "lbproxy started"; done_testing; }
X=(-s -m 20 -x http://127.0.0.1:$PP)
pmap() { curl -s "$AD/v1/proxymap"; }
sees_loads() { pmap | grep -q "\"load\":10.0,\"name\":\"$S2\".*\"load\":30.0,\"name\":\"$S1\""; }
wait_for 10 sees_loads || diag "no loads in $(pmap)"

# GET /v1/proxymap: the file in force, the proxies in the order tried now.
like "the file's table is in force at start" "$(cat "$T/proxy.log")" \
    "proxy map version $FILE_V from $MAP in force \\(4 rules\\)"
like "GET /v1/proxymap: version, origin, source" "$(pmap)" \
    "^\\{\"origin\":\"file\",\"rules\":\\[.*\\],\"source\":\"$MAP\",\"version\":$FILE_V\\}$"
like "GET /v1/proxymap: the group's proxies by load, less loaded first" "$(pmap)" \
    "\"line\":3,\"pattern\":\"\\*\\.example\\.test\",\"proxies\":\\[\\{\"group\":\"proxies.test\",\"load\":10.0,\"name\":\"$S2\",\"reason\":\"\",\"state\":\"up\",\"usable\":true\\},\\{\"group\":\"proxies.test\",\"load\":30.0,\"name\":\"$S1\""
like "GET /v1/proxymap: a host:port proxy no group has is unknown, usable, load null" "$(pmap)" \
    "\"group\":\"\",\"load\":null,\"name\":\"$TINY\",\"reason\":\"\",\"state\":\"unknown\",\"usable\":true"
like "GET /v1/proxymap: DIRECT rules" "$(pmap)" '"direct":true,"line":4,"pattern":"127.0.0.1","proxies":\[\]'

# Requests follow the map per pattern ---------------------------------------
like "localhost: through tinyproxy" "$(curl "${X[@]}" "http://localhost:$BP/echo")" "header Via: .*tinyproxy"
out=$(curl "${X[@]}" "http://www.example.test:$BP/echo")
like "*.example.test: through Squid (which alone resolves the name)" "$out" "header Via: .*squid"
like "... sent in absolute-form: Squid relayed it as a request for the origin" "$out" "target /echo"
out=$(curl "${X[@]}" "http://127.0.0.1:$BP/echo")
like "127.0.0.1: DIRECT" "$out" "target /echo"
if [[ $out == *squid* || $out == *tinyproxy* ]]; then not_ok "DIRECT: no upstream proxy's Via"; else ok "DIRECT: no upstream proxy's Via"; fi
out=$(curl "${X[@]}" "http://app.test/echo?q=1")
like "a representative name: its real server reached through the proxy of that server's host" "$out" \
    "header Via: .*squid"

hist() { curl -s "$AD/v1/history?limit=500" | tr '{' '\n'; }
app_row() { hist | grep -F '"url":"http://app.test/echo?q=1"'; }
wait_for 5 app_row
like "history: group, real server and the upstream proxy" "$(app_row)" \
    "\"group\":\"app.test\".*\"server\":\"www.example.test:$BP\".*\"upstream_proxy\":\"127.0.0.1:($SQ1|$SQ2)\""
like "history: tinyproxy's exchange" "$(hist | grep -F "http://localhost:$BP/echo")" "\"upstream_proxy\":\"$TINY\""
like "history: DIRECT" "$(hist | grep -F "http://127.0.0.1:$BP/echo")" '"upstream_proxy":"DIRECT"'

# What goes to the proxy, as a recorder that plays one sees it: the request
# line in absolute form with the real server's authority, Host as
# --host-header says (the client's, by default); Squid itself then rewrites
# Host from the URL, as HTTP asks of it.
out=$(curl "${X[@]}" "http://rec.test/echo?q=1")
is "the recorder answered" "$out" "ok"
wait_for 5 test -s "$T/recorded"
like "through a proxy: absolute form, the real server's authority" "$(head -1 "$T/recorded")" \
    "^GET http://recorder.test:8080/echo\?q=1 HTTP/1.1"
like "... and the Host the client sent (--host-header original)" "$(cat "$T/recorded")" $'\r\nHost: rec.test\r\n'

# Two proxies share by load: Squid 2 reports a third of Squid 1's load.
count() { curl -s "$AD/metrics" | awk -v p="$1" '$1 == "lbproxy_upstream_proxy_requests_total{proxy=\"" p "\"}" { print $2 }'; }
c1=$(count "$S1") c2=$(count "$S2")
for _ in $(seq 1 60); do curl "${X[@]}" -o /dev/null "http://www.example.test:$BP/"; done
d1=$(( $(count "$S1") - ${c1:-0} )) d2=$(( $(count "$S2") - ${c2:-0} ))
diag "60 requests: $S1 (load 30) $d1, $S2 (load 10) $d2"
is "all 60 went through the two Squids" "$((d1 + d2))" 60
check "the less loaded Squid carried more ($d2 against $d1)" test "$d2" -gt "$d1"
d1_first=$d1
report 5 50
wait_for 10 sh -c "curl -s $AD/v1/proxymap | grep -q '\"load\":5.0,\"name\":\"$S1\"'"
c1=$(count "$S1") c2=$(count "$S2")
for _ in $(seq 1 60); do curl "${X[@]}" -o /dev/null "http://www.example.test:$BP/"; done
d1=$(( $(count "$S1") - c1 )) d2=$(( $(count "$S2") - c2 ))
diag "loads reversed, 60 requests: $S1 (load 5) $d1, $S2 (load 50) $d2"
# Adaptive reads the new figure of Squid 2 as mostly its own traffic (it
# sent Squid 2 most), Squid 1's as load from elsewhere: the shares move
# toward equal relative loads, not all the way round.
check "loads reversed: Squid 1's share grows ($d1_first -> $d1 of 60)" test "$d1" -gt "$d1_first"

# CONNECT chained through Squid ---------------------------------------------
curl -s "http://127.0.0.1:$BP/bytes?n=5000000" -o "$T/direct"
curl "${X[@]}" -p "http://www.example.test:$BP/bytes?n=5000000" -o "$T/tunnel"
check "CONNECT through Squid: 5 MB intact" cmp "$T/direct" "$T/tunnel"
head -c 2000000 /dev/urandom >"$T/up"
check "CONNECT through Squid: 2 MB up and back intact" \
    bash -c "curl -s -m 20 -p -x http://127.0.0.1:$PP --data-binary @$T/up http://www.example.test:$BP/mirror | cmp - $T/up"
exec 3<>"/dev/tcp/127.0.0.1/$PP"
printf 'CONNECT refused.example.test:%s HTTP/1.1\r\nHost: refused.example.test:%s\r\n\r\n' "$BP" "$BP" >&3
out=$(timeout 10 cat <&3 | tr -d '\r')
exec 3<&-
like "CONNECT refused by Squid: 502 naming the proxy and its status line" "$out" \
    "^HTTP/1.1 502 .*upstream proxy 127.0.0.1:($SQ1|$SQ2) refused CONNECT refused.example.test:$BP: HTTP/1.1 403 Forbidden"
tunnel_row() { hist | grep -F "\"method\":\"CONNECT\"" | grep -F "www.example.test:$BP"; }
wait_for 5 tunnel_row
like "history: the tunnel's proxy" "$(tunnel_row | head -1)" "\"upstream_proxy\":\"127.0.0.1:($SQ1|$SQ2)\""
like "metrics: a refused CONNECT is counted for its proxy" "$(curl -s "$AD/metrics")" \
    "lbproxy_upstream_proxy_errors_total\\{proxy=\"127.0.0.1:($SQ1|$SQ2)\",kind=\"refused\"\\} 1"
like "metrics: requests per proxy, DIRECT too" "$(curl -s "$AD/metrics")" \
    "lbproxy_upstream_proxy_requests_total\\{proxy=\"DIRECT\"\\} [1-9]"

# Tables this release does not use: 501 ------------------------------------
put_table() {  # NAME VERSION TEXT
    http_status PUT "$AD/v1/tables/$1" "{\"version\":$2,\"table\":\"$3\"}" "$TOK"
}
is "PUT charsets: 501" "$(put_table charsets 1 'old.example EUC-JP')" 501
like "... with a sentence" "$(last_body)" '"error":"table charsets is not used by this release of lbproxy"'
is "PUT sessions: 501" "$(put_table sessions 1 'a.test /in /out')" 501

# File or push: the newest version wins -------------------------------------
is "a push older than the file: 409" "$(put_table proxymap $((FILE_V - 1)) '* DIRECT')" 409
PUSH_V=$((FILE_V + 50))
is "a push newer than the file: 200" \
    "$(put_table proxymap $PUSH_V "localhost DIRECT\\n*.example.test proxies.test\\n")" 200
like "the push is in force" "$(pmap)" "\"origin\":\"push\",.*\"source\":\"127.0.0.1\",\"version\":$PUSH_V"
out=$(curl "${X[@]}" "http://localhost:$BP/echo")
if [[ $out == *tinyproxy* ]]; then not_ok "localhost: DIRECT now"; else ok "localhost: DIRECT now"; fi
kill -HUP "$PROXY"
wait_for 5 grep -q "reload: proxy map $MAP: version $FILE_V is not newer than version $PUSH_V" "$T/proxy.log"
like "SIGHUP with an older file: the push stays" "$(pmap)" "\"origin\":\"push\""
stop "$PROXY"
start_proxy
like "after a restart: the pushed table is still in force" "$(pmap)" "\"origin\":\"push\".*\"version\":$PUSH_V"

NEW_V=$((FILE_V + 80))
write_map "$NEW_V" <<EOF
localhost          $TINY
*.example.test     proxies.test
EOF
kill -HUP "$PROXY"
wait_for 5 sh -c "curl -s $AD/v1/proxymap | grep -q '\"version\":$NEW_V'"
like "SIGHUP with an edited file: the file takes over" "$(pmap)" "\"origin\":\"file\",.*\"version\":$NEW_V"
like "... localhost through tinyproxy again" "$(curl "${X[@]}" "http://localhost:$BP/echo")" "header Via: .*tinyproxy"
printf '* proxies.test\n*.x.test a:1,,b:2\n' >"$MAP"
touch -d "@$((NEW_V + 10))" "$MAP"
kill -HUP "$PROXY"
wait_for 5 grep -q "$MAP:2: empty proxy" "$T/proxy.log"
like "a bad file: FILE:LINE in the log" "$(cat "$T/proxy.log")" "proxy map refused: $MAP:2: empty proxy in 'a:1,,b:2'"
like "... the table in force stays" "$(pmap)" "\"version\":$NEW_V"

# A proxy stops: traffic moves; both stop: 502 with the sentence -----------
stop "$SQ1_PID"
codes=$(for _ in $(seq 1 20); do curl "${X[@]}" -o /dev/null -w '%{http_code}\n' "http://www.example.test:$BP/"; done | sort | uniq -c | awk '{ printf "%s=%s ", $2, $1 }')
is "one Squid stopped: every request still answered" "$codes" "200=20 "
like "... the refusing proxy is counted" "$(curl -s "$AD/metrics")" \
    "lbproxy_upstream_proxy_errors_total\\{proxy=\"$S1\",kind=\"connect\"\\} [1-9]"
like "... and shown suspect" "$(pmap)" "\"name\":\"$S1\",\"reason\":\"suspect\",\"state\":\"up\",\"usable\":false"
stop "$SQ2_PID"
out=$(curl "${X[@]}" -w ' %{http_code}' "http://www.example.test:$BP/")
like "both stopped: 502 that names the pattern and why" "$out" \
    "no upstream proxy for \\*\\.example\\.test is usable \\(2 known: (1 suspect, 1 refused|1 refused, 1 suspect)\\).* 502$"
out=$(curl "${X[@]}" -w ' %{http_code}' "http://www.example.test:$BP/")
like "... and the next request too (both suspect now)" "$out" \
    "no upstream proxy for \\*\\.example\\.test is usable \\(2 known: 2 suspect\\).* 502$"
no_proxy_row() { hist | grep -F '(2 known: 2 suspect)'; }
wait_for 5 no_proxy_row
like "history: no proxy carried the 502, none is named" "$(no_proxy_row | head -1)" '"upstream_proxy":"-"'
like "lbctl history --format squid: HIER_NONE" \
    "$("$LBCTL" -s "$AD" history --format squid | grep -F "/502 " | grep -F "http://www.example.test:$BP/" | tail -1)" \
    'TAG_NONE/502 .* HIER_NONE/- -$'

done_testing
