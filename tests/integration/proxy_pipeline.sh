#!/bin/bash
# Many pipelined requests that lbproxy answers at once (503: no server of
# the group is up), written on one connection in one go: every one is
# answered, in order, and the proxy lives on; a client that half-closes
# after its requests gets them all answered too, then the connection closed.
# Each answer used to read the next request from inside the one before, one
# nested call chain (~2 KiB of stack) per request in a read: 2,000 in 80 KiB
# took 4 MiB, and with AddressSanitizer's bigger frames more.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || skip_all "python3 not installed"

N=2000 NG=7
L=$(free_port); A=$(free_port); DEAD=$(free_port)
AD=http://127.0.0.1:$A
# A stack of 1 MiB is plenty for a proxy whose depth does not follow its
# input, and shows the fault at any build's frame size. No state server:
# the test posts the state itself, in force for the whole test.
start proxy bash -c 'ulimit -S -s 1024 2>/dev/null; exec "$0" "$@"' "$LBPROXY" \
    --listen "127.0.0.1:$L" --admin "127.0.0.1:$A" --state-dir "$T" --state-server "http://127.0.0.1:$DEAD" \
    --stale-after 10m
PROXY=$LAST_PID
wait_port "$L" && wait_port "$A" || { not_ok "lbproxy started"; done_testing; }

# Groups g0..g6, the only server of each down: the 503 names the group, so
# the answers show which request each one is for.
groups=""
for ((g = 0; g < NG; g++)); do
    groups+="${groups:+,}{\"name\":\"g$g\",\"servers\":[{\"name\":\"127.0.0.1:$DEAD\",\"load\":0,\"ratio\":1,\"state\":\"down\",\"pinned\":false,\"draining\":false}]}"
done
is "state posted" "$(http_status POST "$AD/v1/state" "{\"version\":1,\"groups\":[$groups]}")" 200

# pipeline PORT N NG [half-close]: sends GET http://g(i%NG)/i for i = 1..N
# on one connection in one write (from a thread, so that answers are read
# meanwhile; then shuts its write side down with half-close), and prints
# "STATUS GROUP" for each answer read, in order, until N answers (then
# "eof" when the proxy closes within 5 s), the connection's end or 60 s.
pipeline() {
    timeout 90 python3 - "$@" <<'EOF'
import re, socket, sys, threading, time
port, n, groups = (int(a) for a in sys.argv[1:4])
half_close = sys.argv[4:] == ["half-close"]
reqs = b"".join(b"GET http://g%d/%d HTTP/1.1\r\n\r\n" % (i % groups, i) for i in range(1, n + 1))
s = socket.create_connection(("127.0.0.1", port), timeout=5)
def send():
    s.sendall(reqs)
    if half_close:
        s.shutdown(socket.SHUT_WR)
threading.Thread(target=send, daemon=True).start()
buf, got, deadline = b"", 0, time.monotonic() + 60
while time.monotonic() < deadline:
    end = buf.find(b"\r\n\r\n")
    m = re.search(rb"\r\nContent-Length: (\d+)", buf[:end]) if end >= 0 else None
    if m and len(buf) >= end + 4 + int(m.group(1)):
        body_end = end + 4 + int(m.group(1))
        g = re.search(rb"no server of group (\S+) is up", buf[end:body_end])
        print(buf.split(b" ", 2)[1].decode(), g.group(1).decode() if g else "-")
        buf, got = buf[body_end:], got + 1
        continue
    if got == n and not half_close:
        break
    try:
        data = s.recv(65536)
    except OSError:
        break
    if not data:
        print("eof" if got == n and not buf else "cut")
        break
    buf += data
EOF
}
expected() { for ((i = 1; i <= N; i++)); do echo "503 g$((i % NG))"; done; }
# answered DESC FILE: FILE holds the N answers, in order.
answered() {
    is "$1: $N answers" "$(grep -c '^503 ' "$2")" "$N"
    if cmp -s <(head -n "$N" "$2") <(expected); then ok "$1: each answer is for its own request, in order"
    else
        not_ok "$1: each answer is for its own request, in order"
        diag "first difference: $(diff <(expected) "$2" | head -3 | tr '\n' ' ')"
    fi
}

pipeline "$L" "$N" "$NG" >"$T/answers"
answered "$N pipelined requests" "$T/answers"
check "lbproxy still runs" kill -0 "$PROXY"

# The history has one row per request, in the order they came.
urls() { "$LBCTL" -s "$AD" history --limit "$N" -o tsv | cut -f4; }
all_rows() { [ "$(urls | wc -l)" -eq "$N" ]; }
wait_for 20 all_rows
for ((i = 1; i <= N; i++)); do echo "http://g$((i % NG))/$i"; done >"$T/urls"
if cmp -s <(urls) "$T/urls"; then ok "the history records the $N requests, in order"
else
    not_ok "the history records the $N requests, in order"
    diag "first difference: $(diff "$T/urls" <(urls) | head -3 | tr '\n' ' ')"
fi

# The EOF comes while requests wait: they are answered before the close.
pipeline "$L" "$N" "$NG" half-close >"$T/answers"
answered "$N pipelined requests, then a half-close" "$T/answers"
is "half-close: the proxy closes after the last answer" "$(tail -n 1 "$T/answers")" eof
check "lbproxy still runs after the half-close" kill -0 "$PROXY"
is "the proxy still answers" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -x "127.0.0.1:$L" http://g1/)" 503
done_testing
