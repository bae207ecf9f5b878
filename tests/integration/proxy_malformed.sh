#!/bin/bash
# Request smuggling and malformed requests: every ambiguous framing, obs-fold,
# bad chunk size and bad header is refused with 400 and the connection
# closed, and nothing smuggled reaches the server; a transfer coding other
# than chunked: 501. Too large a head: 431.
# Too slow a head: 408. Not HTTP/1.x: 505.
. "$(dirname "$0")/lib.sh"

BP=$(free_port); start backend "$BACKEND" --listen 127.0.0.1:$BP --name b1
PP=$(free_port); AP=$(free_port); SP=$(free_port)
start proxy "$LBPROXY" --listen 127.0.0.1:$PP --admin 127.0.0.1:$AP --state-dir "$T" \
    --state-server http://127.0.0.1:$SP --header-timeout 1s --max-header 8KiB
wait_port $BP && wait_port $PP || { not_ok "daemons started"; done_testing; }
B=http://127.0.0.1:$BP

# raw DATA: sends DATA (printf %b escapes) on a new connection; the answer
# goes to $T/raw. Fails when the proxy left the connection open for 5 s.
raw() {
    exec 3<>"/dev/tcp/127.0.0.1/$PP" || return 2
    printf '%b' "$1" >&3
    timeout 5 cat <&3 >"$T/raw"
    local rc=$?
    exec 3<&-
    [ "$rc" -ne 124 ]
}
status() { head -n 1 "$T/raw" | tr -d '\r'; }

# refused NAME STATUS DATA
refused() {
    if raw "$3"; then closed=yes; else closed=no; fi
    is "$1: $2 and connection closed" "$(status | cut -d' ' -f1,2) closed=$closed" "HTTP/1.1 $2 closed=yes"
    like "$1: the answer says why" "$(tail -n 1 "$T/raw")" "[a-z]"
}

SMUGGLED="GET $B/smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
refused "Content-Length with Transfer-Encoding" 400 \
    "POST $B/echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n$SMUGGLED"
refused "Transfer-Encoding with Content-Length" 400 \
    "POST $B/echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n$SMUGGLED"
refused "two differing Content-Lengths" 400 \
    "POST $B/echo HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\n$SMUGGLED"
refused "Content-Length list" 400 \
    "POST $B/echo HTTP/1.1\r\nHost: a\r\nContent-Length: 0, 44\r\n\r\n$SMUGGLED"
refused "Content-Length not a number" 400 \
    "POST $B/echo HTTP/1.1\r\nHost: a\r\nContent-Length: +44\r\n\r\n$SMUGGLED"
refused "obs-fold" 400 \
    "GET $B/ HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n"
refused "obs-fold with a tab" 400 \
    "GET $B/ HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\tmore\r\n\r\n"
refused "blank before the colon" 400 \
    "POST $B/echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"
refused "Transfer-Encoding that is not chunked" 501 \
    "POST $B/echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n$SMUGGLED"
refused "chunked not last" 501 \
    "POST $B/echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"
refused "two Host headers" 400 \
    "GET $B/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"
refused "bare CR in a header" 400 \
    "GET $B/ HTTP/1.1\r\nHost: a\r\nX-A: 1\rX-B: 2\r\n\r\n"
refused "NUL in a header" 400 \
    "GET $B/ HTTP/1.1\r\nHost: a\r\nX-A: 1\x00\r\n\r\n"
refused "garbage request line" 400 "HELLO THERE\r\n\r\n"
refused "bad chunk size" 400 \
    "POST $B/echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n$SMUGGLED"
refused "chunk size overflow" 400 \
    "POST $B/echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\nabc\r\n0\r\n\r\n$SMUGGLED"
refused "HTTP/2.0 request line" 505 "GET $B/ HTTP/2.0\r\nHost: a\r\n\r\n"

big=$(head -c 9000 /dev/zero | tr '\0' a)
refused "header section over --max-header" 431 "GET $B/ HTTP/1.1\r\nHost: a\r\nX-Big: $big\r\n\r\n"
refused "request line over --max-header" 431 "GET $B/$big HTTP/1.1\r\nHost: a\r\n\r\n"
is "a head just under --max-header passes" \
    "$(curl -s -x http://127.0.0.1:$PP -o /dev/null -w '%{http_code}' -H "X-Big: ${big:0:7000}" $B/)" "200"

# A client that sends half a head and waits.
start=$(date +%s)
refused "head not complete within --header-timeout" 408 "GET $B/ HTTP/1.1\r\nHost: a\r\n"
is "408 came after about --header-timeout" "$(( $(date +%s) - start <= 3 ))" "1"

# The server may have seen the heads of the two bad-chunk requests (their
# bodies were refused before any byte went on), never a smuggled request.
stats=$(curl -s $B/stats)
is "nothing smuggled reached the server" "$(grep -c '^path /smuggled ' <<<"$stats")" "0"
like "the requests that passed did reach it" "$stats" "path / 1"
is "the proxy still serves" "$(curl -s -x http://127.0.0.1:$PP $B/)" "b1"
done_testing
