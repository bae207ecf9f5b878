#!/bin/bash
# CONNECT tunnels: bytes intact both ways, half-close passed on, only the
# ports of --connect-ports, connect failures answered, one history row.
. "$(dirname "$0")/lib.sh"

BP=$(free_port); start backend "$BACKEND" --listen 127.0.0.1:$BP --name b1
DEAD=$(free_port)
PP=$(free_port); AP=$(free_port); SP=$(free_port)
start proxy "$LBPROXY" --listen 127.0.0.1:$PP --admin 127.0.0.1:$AP --state-dir "$T" \
    --state-server http://127.0.0.1:$SP --connect-ports "443,$BP,$DEAD"
wait_port $BP && wait_port $PP || { not_ok "daemons started"; done_testing; }
B=http://127.0.0.1:$BP
X=(-s -p -x http://127.0.0.1:$PP)

curl -s "$B/bytes?n=20000000" -o "$T/direct"
curl "${X[@]}" "$B/bytes?n=20000000" -o "$T/tunnel"
check "20 MB downloaded through a tunnel intact" cmp "$T/direct" "$T/tunnel"
head -c 5000000 /dev/urandom >"$T/up"
check "5 MB sent up and back through a tunnel intact" \
    bash -c "curl -s -p -x http://127.0.0.1:$PP --data-binary @$T/up $B/mirror | cmp - $T/up"
out=$(curl "${X[@]}" -v $B/ 2>&1)
like "tunnel established with 200" "$out" "HTTP/1.1 200 Connection established"
like "the server answers inside the tunnel" "$out" "b1"

# The server closes: the client sees the end of the tunnel.
exec 3<>"/dev/tcp/127.0.0.1/$PP"
printf 'CONNECT 127.0.0.1:%s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n\r\nGET /close HTTP/1.1\r\nHost: a\r\n\r\n' "$BP" "$BP" >&3
if timeout 5 cat <&3 >"$T/raw"; then ok "tunnel closed after the server closed"; else not_ok "tunnel closed after the server closed"; fi
exec 3<&-
like "bytes the client sent with its CONNECT went through" "$(tr -d '\r' <"$T/raw")" $'Connection established\n\nHTTP/1.1 200 OK'

# The client sends its CONNECT, a request and its FIN in one go, so the FIN
# arrives while the server is still being dialed. The server answers and
# keeps the connection open until it hears that EOF: the tunnel must pass it
# on once open, or the client waits for the idle timeout. (perl-base is part
# of every Debian system; bash cannot half-close a socket.)
half_close() {
    perl -MIO::Socket::INET -e '
        my ($port, $target) = @ARGV;
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") or die "connect: $!\n";
        $s->syswrite("CONNECT $target HTTP/1.1\r\nHost: $target\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
        $s->shutdown(1);
        local $SIG{ALRM} = sub { print "TIMEOUT\n"; exit 1 }; alarm 5;
        while ($s->sysread(my $buf, 65536)) { print $buf }
        print "END\n";' "$1" "$2"
}
out=$(half_close "$PP" "127.0.0.1:$BP" | tr -d '\r')
like "a FIN sent with the CONNECT reaches the server, whose answer and end come back" \
    "$out" $'Connection established\n\nHTTP/1.1 200 OK.*\nb1\nEND$'

code=$(curl "${X[@]}" -o /dev/null -w '%{http_connect}' http://127.0.0.1:$SP/)
is "CONNECT to a port not in --connect-ports: 403" "$code" "403"
code=$(curl "${X[@]}" -o /dev/null -w '%{http_connect}' http://127.0.0.1:$DEAD/)
is "CONNECT to a closed port: 502" "$code" "502"
exec 3<>"/dev/tcp/127.0.0.1/$PP"
printf 'CONNECT 127.0.0.1 HTTP/1.1\r\n\r\n' >&3
like "CONNECT without a port: 400" "$(timeout 5 head -n 1 <&3)" "^HTTP/1.1 400"
exec 3<&-

# Answered from what the writer has committed: wait (bounded) for the row.
# The failed CONNECT is the last: once its row is there, all are.
wait_for 10 sh -c "curl -s 'http://127.0.0.1:$AP/v1/history?limit=100' | tr '{' '\n' | grep -F '\"method\":\"CONNECT\"' | grep -qF '\"status\":502'"
hist=$(curl -s "http://127.0.0.1:$AP/v1/history?limit=100" | tr '{' '\n' | grep '"method":"CONNECT"')
like "tunnel recorded in the history" "$hist" "\"url\":\"127.0.0.1:$BP\""
like "a tunnel whose server ended it is delivered" "$hist" '"delivered":true'
like "a failed tunnel recorded with its status" "$hist" '"status":502'
like "tunnels counted" "$(curl -s http://127.0.0.1:$AP/metrics)" "lbproxy_tunnels_total [1-9]"
done_testing
