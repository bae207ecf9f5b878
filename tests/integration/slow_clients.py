#!/usr/bin/env python3
"""Opens N connections to 127.0.0.1:PORT and, for at most SECONDS, either
sends a request head one byte a second that never ends (drip) or sends
nothing (hold); returns early when the server has closed them all.
Prints "opened N closed C last_close_s T" (T: seconds from the start to the
last close seen, -1 when none closed)."""
import argparse
import select
import socket
import time

HEAD = b"GET /v1/health HTTP/1.1\r\nHost: slow\r\nX-Pad: " + b"a" * 4096


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["drip", "hold"])
    ap.add_argument("port", type=int)
    ap.add_argument("count", type=int)
    ap.add_argument("seconds", type=float)
    a = ap.parse_args()
    start = time.monotonic()
    conns = []
    for _ in range(a.count):
        s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
        s.setblocking(False)
        conns.append(s)
    open_ = {s: 0 for s in conns}  # socket -> bytes of HEAD sent
    closed, last_close = 0, -1.0
    next_drip = start
    while open_ and time.monotonic() - start < a.seconds:
        now = time.monotonic()
        if a.mode == "drip" and now >= next_drip:
            next_drip = now + 1
            for s, sent in list(open_.items()):
                try:
                    s.send(HEAD[sent:sent + 1])
                    open_[s] = sent + 1
                except OSError:
                    pass  # the close is seen by the read below
        readable, _, _ = select.select(list(open_), [], [], 0.2)
        for s in readable:
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                del open_[s]
                s.close()
                closed += 1
                last_close = time.monotonic() - start
    print("opened %d closed %d last_close_s %.1f" % (len(conns), closed, last_close))


main()
