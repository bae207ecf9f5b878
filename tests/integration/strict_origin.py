#!/usr/bin/env python3
"""A test origin server that reads requests strictly by RFC 9112: the oracle
of proxy_smuggling.sh. What lbproxy sends it must be one unambiguous request
stream, which a strict reader and any lenient one read alike.

    strict_origin.py --port PORT --log-dir DIR [--responses FILE]

It listens on 127.0.0.1:PORT. Per TCP connection it appends every byte
received to DIR/conn-<id>.raw, and to DIR/events.jsonl one JSON object a line
    {"ev": "open"|"recv"|"request"|"violation"|"incomplete"|"close",
     "conn": ID, "t": MONOTONIC_SECONDS, ...}
written before the answer goes out, so a client that holds an answer can
read its event. A "request" has seq ("<conn>-<n>", sent back as
X-Origin-Seq), method, target, headers, body (decoded) and wire (the body's
bytes as they were framed). A "violation" is bytes a strict server must
refuse: answered by a 400 with X-Origin-Error, and the connection closed.
"incomplete" is a connection that ended in the middle of a message, which is
no violation: a proxy that refuses a body after it forwarded the head has to
end the connection that way. Bytes are logged as Latin-1 text.

A request is answered 200 with the body "METHOD TARGET BODYLEN\\n", so that a
client can tell its own answer from another's. A target /respond/NAME gets
instead the raw response NAME of --responses (format in
tests/data/smuggling/README), without X-Origin-Seq. SIGUSR1 closes every
connection (and logs {"ev": "reset", "conn": 0}), for the next case to start
on a clean slate after a failure."""
import argparse
import itertools
import json
import os
import re
import signal
import socket
import socketserver
import sys
import threading
import time

TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
REQUEST_LINE = re.compile(rb"(" + TOKEN + rb") ([\x21-\x7e]+) HTTP/1\.([01])")
FIELD_VALUE = re.compile(rb"[\t \x21-\x7e\x80-\xff]*")
QUOTED = rb'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
CHUNK_EXT = rb"(?:[ \t]*;[ \t]*" + TOKEN + rb"(?:[ \t]*=[ \t]*(?:" + TOKEN + rb"|" + QUOTED + rb"))?)*"
CHUNK_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})" + CHUNK_EXT)
MAX_LINE = 64 * 1024
MAX_MESSAGE = 1 << 20


# The data files ---------------------------------------------------------------

def unescape(text):
    r"""Bytes from the escaped text of a data file: \r \n \t \\ \xNN."""
    simple = {"r": "\r", "n": "\n", "t": "\t", "\\": "\\"}
    return re.sub(r"\\(x[0-9a-fA-F]{2}|[rnt\\])",
                  lambda m: simple.get(m.group(1)) or chr(int(m.group(1)[1:], 16)), text).encode("latin-1")


def read_blocks(path):
    """The blocks of a data file, as dicts of key -> [values] in order."""
    blocks, cur = [], None
    with open(path, encoding="latin-1") as fh:
        for raw in fh:
            line = raw.rstrip("\n")
            if line.startswith("#"):
                continue
            if not line:
                cur = None
                continue
            key, sep, value = line.partition(": ")
            if not sep:
                key, value = key.rstrip(":"), ""
            if cur is None:
                cur = {}
                blocks.append(cur)
            cur.setdefault(key, []).append(value)
    return blocks


def load_responses(path):
    """NAME -> (byte pieces with a pause between them, close after sending)."""
    out = {}
    for b in read_blocks(path) if path else []:
        data = b"".join(unescape(v) for v in b.get("send", []))
        out[b["response"][0]] = (data.split(b"@PAUSE@"), b.get("close", ["no"])[0] == "yes")
    return out


# Strict parsing -----------------------------------------------------------------

class Violation(Exception):
    pass


class NeedMore(Exception):
    pass


def read_line(buf, pos):
    """The line at pos without its CRLF, and where the next line starts."""
    end = buf.find(b"\n", pos)
    if end < 0:
        rest = buf[pos:]
        cr = rest.find(b"\r")
        if 0 <= cr < len(rest) - 1:  # only LF may follow a CR
            raise Violation("bare CR")
        if len(rest) > MAX_LINE:
            raise Violation("line longer than %d bytes" % MAX_LINE)
        raise NeedMore
    if end == pos or buf[end - 1] != 0x0D:
        raise Violation("bare LF")
    line = bytes(buf[pos:end - 1])
    if b"\r" in line:
        raise Violation("bare CR")
    return line, end + 1


def read_fields(buf, pos, what):
    """Header (or trailer) lines up to the empty line: [(name, value)], end."""
    fields = []
    while True:
        line, pos = read_line(buf, pos)
        if not line:
            return fields, pos
        if line[:1] in (b" ", b"\t"):
            raise Violation("obs-fold in the %s" % what)
        name, colon, value = line.partition(b":")
        if not colon or not re.fullmatch(TOKEN, name):
            raise Violation("bad line in the %s: %r" % (what, line[:60]))
        value = value.strip(b" \t")
        if not FIELD_VALUE.fullmatch(value):
            raise Violation("control character in the value of %s" % name.decode("latin-1"))
        fields.append((name, value))


def parse_request(buf):
    """The request at the front of buf, and its length in bytes. Raises
    NeedMore or Violation."""
    line, pos = read_line(buf, 0)
    m = REQUEST_LINE.fullmatch(line)
    if not m:
        raise Violation("bad request line %r" % line[:80])
    method, target, minor = m.groups()
    headers, pos = read_fields(buf, pos, "header section")

    def named(n):
        return [v for k, v in headers if k.lower() == n]
    lengths, codings, hosts = named(b"content-length"), named(b"transfer-encoding"), named(b"host")
    if len(hosts) > 1 or (minor == b"1" and not hosts):
        raise Violation("%d Host headers" % len(hosts))
    if lengths and codings:
        raise Violation("both Content-Length and Transfer-Encoding")
    if len(lengths) > 1:
        raise Violation("%d Content-Length headers" % len(lengths))
    if len(codings) > 1:
        raise Violation("%d Transfer-Encoding headers" % len(codings))
    if lengths and not re.fullmatch(rb"[0-9]{1,15}", lengths[0]):
        raise Violation("Content-Length %r" % lengths[0])
    if codings and (codings[0] != b"chunked" or minor == b"0"):
        raise Violation("Transfer-Encoding %r in HTTP/1.%s" % (codings[0], minor.decode()))
    start = pos
    if lengths:
        n = int(lengths[0])
        if len(buf) - pos < n:
            raise NeedMore
        body, pos = buf[pos:pos + n], pos + n
    elif codings:
        body = bytearray()
        while True:
            line, pos = read_line(buf, pos)
            m = CHUNK_LINE.fullmatch(line)
            if not m:
                raise Violation("bad chunk line %r" % line[:60])
            size = int(m.group(1), 16)
            if size == 0:
                break
            if len(buf) - pos < size + 2:
                raise NeedMore
            if buf[pos + size:pos + size + 2] != b"\r\n":
                raise Violation("chunk data not followed by CRLF")
            body += buf[pos:pos + size]
            pos += size + 2
        _, pos = read_fields(buf, pos, "trailer section")
    else:
        body = b""
    return {"method": method, "target": target, "minor": minor, "headers": headers,
            "body": bytes(body), "wire": bytes(buf[start:pos])}, pos


# The server ---------------------------------------------------------------------

class Log:
    def __init__(self, directory):
        self.dir = directory
        self.lock = threading.Lock()
        self.events = open(os.path.join(directory, "events.jsonl"), "a", encoding="ascii")

    def event(self, conn, ev, **fields):
        fields.update(ev=ev, conn=conn, t=round(time.monotonic(), 4))
        line = json.dumps(fields, default=lambda b: b.decode("latin-1"))
        with self.lock:
            self.events.write(line + "\n")
            self.events.flush()

    def raw(self, conn, data):
        with open(os.path.join(self.dir, "conn-%d.raw" % conn), "ab") as fh:
            fh.write(data)


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        srv, sock = self.server, self.request
        self.conn, self.served = next(srv.ids), 0
        sock.settimeout(60)
        with srv.lock:
            srv.live.add(sock)
        srv.log.event(self.conn, "open")
        buf, why = bytearray(), "eof"
        try:
            while True:
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    if sock in srv.reset:
                        why = "reset"
                    elif buf:
                        srv.log.event(self.conn, "incomplete", pending=len(buf))
                    break
                srv.log.raw(self.conn, data)
                srv.log.event(self.conn, "recv", n=len(data))
                buf += data
                try:
                    if not self.answer(buf):
                        why = "closed here"
                        break
                except OSError as e:  # the peer went away before its answer
                    why = "send failed: %s" % e
                    break
        finally:
            with srv.lock:
                srv.live.discard(sock)
                srv.reset.discard(sock)
            srv.log.event(self.conn, "close", why=why)

    def answer(self, buf):
        """Answers the complete requests at the front of buf and removes them;
        False when the connection is to be closed."""
        while buf:
            try:
                req, used = parse_request(buf)
            except NeedMore:
                if len(buf) > MAX_MESSAGE:
                    return self.refuse("message larger than %d bytes" % MAX_MESSAGE)
                return True
            except Violation as e:
                return self.refuse(str(e))
            del buf[:used]
            self.served += 1
            close = req["minor"] == b"0" or any(
                k.lower() == b"connection" and b"close" in [t.strip().lower() for t in v.split(b",")]
                for k, v in req["headers"])
            canned = None
            if req["target"].startswith(b"/respond/"):
                canned = req["target"][len(b"/respond/"):].split(b"?")[0].decode("latin-1")
            seq = None if canned else "%d-%d" % (self.conn, self.served)
            self.server.log.event(self.conn, "request", seq=seq, canned=canned, method=req["method"],
                                  target=req["target"], headers=req["headers"], body=req["body"], wire=req["wire"])
            if canned:
                pieces, close_after = self.server.responses.get(
                    canned, ([b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"], True))
                for i, piece in enumerate(pieces):
                    if i:
                        time.sleep(0.2)  # the proxy has passed the earlier piece on by now
                    self.request.sendall(piece)
                close = close or close_after
            else:
                body = b"%s %s %d\n" % (req["method"], req["target"], len(req["body"]))
                head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Origin-Seq: %s\r\n" % (len(body), seq.encode())
                if close:
                    head += b"Connection: close\r\n"
                self.request.sendall(head + b"\r\n" + (b"" if req["method"] == b"HEAD" else body))
            if close:
                return False
        return True

    def refuse(self, why):
        self.server.log.event(self.conn, "violation", why=why)
        text = re.sub(r"[^ -~]", "?", why).encode()
        self.request.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\nX-Origin-Error: %s\r\n"
                             b"Connection: close\r\n\r\n%s\n" % (len(text) + 1, text, text))
        return False


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log-dir", required=True)
    ap.add_argument("--responses")
    a = ap.parse_args()
    os.makedirs(a.log_dir, exist_ok=True)
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.log = Log(a.log_dir)
    srv.responses = load_responses(a.responses)
    srv.ids = itertools.count(1)
    srv.lock = threading.Lock()
    srv.live, srv.reset = set(), set()

    def reset(signum, frame):
        with srv.lock:
            socks = list(srv.live)
            srv.reset.update(socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        srv.log.event(0, "reset", closed=len(socks))

    signal.signal(signal.SIGUSR1, reset)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
