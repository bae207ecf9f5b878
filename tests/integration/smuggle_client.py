#!/usr/bin/env python3
"""The client side of proxy_smuggling.sh: sends each case of the data files
through lbproxy to strict_origin.py and checks that the origin read the
stream as lbproxy did.

    smuggle_client.py --proxy PORT --origin PORT:PID:LOGDIR [--origin ...] FILE...

Per case, client A sends the case's bytes on a new connection and reads until
lbproxy closes it, or a while after a complete answer (for the answers to
any further requests lbproxy read in those bytes), or a silence; then client
B sends "GET /next-<i>" on a new connection: lbproxy normally gives B the
origin connection A's request left in its pool, where a smuggled prefix would
be waiting. Checked for every case:
  - the origin saw no strict-parse violation;
  - the requests the origin parsed are exactly those whose answers
    (X-Origin-Seq) reached A or B: none was hidden in a body;
  - B got its own answer: no smuggled prefix captured its request;
  - every refusal lbproxy made itself says why in its body.
lbkit-cases.txt adds the expectations of each case (format in
tests/data/smuggling/README). Each --origin is one worker: a strict_origin.py
of its own, whose connections lbproxy pools apart, so that workers run cases
side by side without sharing a pooled connection. Prints "ok DESC", "not ok DESC" and "# NOTE"
lines, which proxy_smuggling.sh numbers as TAP."""
import argparse
import json
import os
import re
import signal
import socket
import threading
import time

import strict_origin

CONNECT_TIMEOUT = 3
READ_LIMIT = 3.0       # seconds one client waits for its answers, at most
SILENCE_LIMIT = 1.5    # seconds without a byte after which a client stops waiting
GRACE = 0.25           # seconds A still reads after a complete answer
RUN_LIMIT = 240        # seconds for all the cases
LIST_AT_MOST = 15      # failing case names listed per check


# Cases ------------------------------------------------------------------------

class Case:
    def __init__(self, name, data, block):
        self.name, self.data, self.block = name, data, block

    def get(self, key):
        return self.block.get(key, [None])[0]


def load_cases(path):
    """The cases of a data file, templates expanded (@ORIGIN@ left in)."""
    templates, cases = {}, []
    for block in strict_origin.read_blocks(path):
        data = b"".join(strict_origin.unescape(v) for v in block.get("send", []))
        if "template" in block:
            templates[block["template"][0]] = data
        elif "case" in block and "use" in block:
            gadget = strict_origin.unescape(block["gadget"][0])
            for t in block["use"][0].split():
                cases.append(Case(block["case"][0] + "/" + t, templates[t].replace(b"@GADGET@", gadget), block))
        elif "case" in block:
            cases.append(Case(block["case"][0], data, block))
    return cases


# Client side ------------------------------------------------------------------

class Response:
    def __init__(self):
        self.status, self.headers, self.body, self.wire = 0, [], b"", b""
        self.complete, self.error = False, None

    def header(self, name):
        for k, v in self.headers:
            if k == name.lower():
                return v
        return None

    def from_origin(self):
        return self.header("x-origin-seq") is not None or self.header("x-origin-error") is not None


def decode_chunked(data, pos):
    """(payload, end) of the chunked body at pos; end is None when incomplete,
    raises ValueError when malformed. Lenient: a test client, not the oracle."""
    payload = bytearray()
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return bytes(payload), None
        m = re.match(rb"([0-9A-Fa-f]+)(;[^\r\n]*)?$", data[pos:eol])
        if not m:
            raise ValueError("bad chunk line %r" % data[pos:eol][:40])
        size, pos = int(m.group(1), 16), eol + 2
        if size == 0:
            end = data.find(b"\r\n\r\n", pos - 2)
            return bytes(payload), (end + 4 if end >= 0 else None)
        if len(data) < pos + size + 2:
            return bytes(payload), None
        if data[pos + size:pos + size + 2] != b"\r\n":
            raise ValueError("chunk data not followed by CRLF")
        payload += data[pos:pos + size]
        pos += size + 2


def parse_responses(data, closed, head_first=False):
    """The responses in data (interim 1xx left out). The last may be
    incomplete, or malformed (error set)."""
    out, pos = [], 0
    while pos < len(data):
        r = Response()
        out.append(r)
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            r.error = "incomplete head"
            break
        lines = data[pos:end].split(b"\r\n")
        m = re.fullmatch(rb"HTTP/1\.[01] ([1-5][0-9][0-9])(?: [^\r\n]*)?", lines[0])
        if not m or any(b"\r" in l or b"\n" in l or b":" not in l for l in lines[1:]):
            r.error = "malformed head"
            break
        r.status = int(m.group(1))
        r.headers = [(k.strip().lower().decode("latin-1"), v.strip().decode("latin-1"))
                     for k, _, v in (l.partition(b":") for l in lines[1:])]
        pos = end + 4
        if r.status < 200:
            out.pop()
            continue
        te, cl = r.header("transfer-encoding"), r.header("content-length")
        if (head_first and len(out) == 1) or r.status in (204, 304):
            r.complete = True
        elif te is not None:
            try:
                r.body, end = decode_chunked(data, pos)
            except ValueError as e:
                r.error = str(e)
                break
            if end is None:
                r.wire = data[pos:]
                break
            r.wire, pos, r.complete = data[pos:end], end, True
        elif cl is not None and cl.isdigit():
            r.body = r.wire = data[pos:pos + int(cl)]
            pos += len(r.body)
            r.complete = len(r.body) == int(cl)
        else:
            r.body = r.wire = data[pos:]
            pos, r.complete = len(data), closed
    return out


def first_complete(data):
    return any(r.complete for r in parse_responses(data, False))


def read(s, enough=None, silence=SILENCE_LIMIT):
    """What comes on s until it closes, enough(all so far) holds, or the
    silence or READ_LIMIT passes: (bytes, closed)."""
    got = bytearray()
    deadline = time.monotonic() + READ_LIMIT
    while time.monotonic() < deadline:
        s.settimeout(min(silence, max(0.01, deadline - time.monotonic())))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return bytes(got), False
        except OSError:
            return bytes(got), True
        if not chunk:
            return bytes(got), True
        got += chunk
        if enough and enough(bytes(got)):
            return bytes(got), False
    return bytes(got), False


def send(port, data):
    """A new connection to the proxy with data sent on it (a proxy that
    refuses early may have closed it: its answer is still there to read)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=CONNECT_TIMEOUT)
    try:
        s.sendall(data)
    except OSError:
        pass
    return s


# The origin's log --------------------------------------------------------------

class Events:
    def __init__(self, path):
        self.path, self.offset = path, 0

    def new(self):
        """Events logged since the last call (whole lines only)."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except FileNotFoundError:
            return []
        cut = data.rfind(b"\n") + 1
        self.offset += cut
        return [json.loads(l) for l in data[:cut].splitlines()]


def canonical_chunks(wire, payload):
    """Is wire payload in chunks "SIZE\\r\\nDATA\\r\\n" (lowercase hex, no
    leading zero, no extension) ending "0\\r\\n\\r\\n", without trailers?"""
    pos, got = 0, b""
    while True:
        m = re.compile(rb"(0|[1-9a-f][0-9a-f]*)\r\n").match(wire, pos)
        if not m:
            return False
        size, pos = int(m.group(1), 16), m.end()
        if size == 0:
            return wire[pos:] == b"\r\n" and got == payload
        if wire[pos + size:pos + size + 2] != b"\r\n":
            return False
        got += wire[pos:pos + size]
        pos += size + 2


# One case ------------------------------------------------------------------------

def run_case(i, case, proxy, origin):
    """Runs case number i: {check: why it failed}, and what A got."""
    fails = {}
    events = origin.events
    events.new()
    head = case.data.startswith(b"HEAD ")
    follow = case.get("followup") == "same-connection"
    host = origin.host.encode()
    b_req = b"GET http://%s/next-%d HTTP/1.1\r\nHost: %s\r\n\r\n" % (host, i, host)
    try:
        sa = send(proxy, case.data)
    except OSError as e:
        return {"A": "could not talk to the proxy: %s" % e}, "no connection"
    with sa:
        got_a, closed_a = read(sa, first_complete)
        if not closed_a and first_complete(got_a) and not follow:
            more, closed_a = read(sa, silence=GRACE)
            got_a += more
        if case.get("origin-sees"):
            time.sleep(0.05)  # what lbproxy forwarded by mistake is logged by now
        ev = events.new()
        ev_a = list(ev)
        if follow:
            # B on A's connection: its answer comes after A's.
            try:
                sa.sendall(b_req)
            except OSError:
                pass
            got_b, closed_a = read(sa, first_complete)
            closed_b = closed_a
        else:
            try:
                with send(proxy, b_req) as sb:
                    got_b, closed_b = read(sb, first_complete)
            except OSError as e:
                got_b, closed_b = b"", True
                fails["B"] = "could not talk to the proxy: %s" % e
        ev += events.new()
        resp_a = parse_responses(got_a, closed_a, head)
        resp_b = parse_responses(got_b, closed_b)
        parsed = {e["seq"] for e in ev if e["ev"] == "request" and e["seq"]}
        answered = {r.header("x-origin-seq") for r in resp_a + resp_b if r.header("x-origin-seq")}
        if parsed - answered and not closed_a:
            # an answer to A may still be on its way: wait for it, not longer
            more, closed_a = read(sa, lambda b: parsed <= answered | seqs(parse_responses(got_a + b, False)),
                                  silence=0.5)
            got_a += more
            resp_a = parse_responses(got_a, closed_a, head)
            ev += events.new()

    # Invariants.
    violations = [e["why"] for e in ev if e["ev"] == "violation"]
    if violations:
        fails["violation"] = "; ".join(violations)
    parsed = {e["seq"] for e in ev if e["ev"] == "request" and e["seq"]}
    answered = seqs(resp_a + resp_b)
    if parsed != answered:
        hidden = ["%s %s" % (e["method"], e["target"]) for e in ev
                  if e["ev"] == "request" and e["seq"] in parsed - answered]
        why = ["the origin parsed %s that no client got the answer to" % ", ".join(hidden)] if hidden else []
        if answered - parsed:
            why.append("answers %s not in this case's log" % ", ".join(sorted(answered - parsed)))
        fails["count"] = "; ".join(why)
    want_b = b"GET /next-%d 0\n" % i
    b0 = resp_b[0] if resp_b else None
    if not (b0 and b0.complete and b0.status == 200 and b0.body == want_b and b0.header("x-origin-seq")):
        fails["B"] = "B got %s" % describe(b0)
    for r in resp_a[head:] + resp_b:  # (an answer to HEAD has no body to say it in)
        if r.status >= 400 and not r.from_origin() and r.complete and not re.search(rb"[A-Za-z]{3}", r.body):
            fails["sentence"] = "lbproxy's %d has no sentence in its body" % r.status
    a0 = resp_a[0] if resp_a else None
    fails.update(expectations(case, i, a0, resp_a, closed_a, ev, ev_a))
    return fails, describe(a0) if a0 else ("closed" if closed_a else "nothing")


def seqs(responses):
    return {r.header("x-origin-seq") for r in responses if r.header("x-origin-seq")}


def expectations(case, i, a0, resp_a, closed_a, ev, ev_a):
    """The checks a case of lbkit-cases.txt names (README)."""
    fails = {}
    reqs = [e for e in ev if e["ev"] == "request" and e["target"] != "/next-%d" % i]
    expect = case.get("expect")
    if expect == "cut":
        if any(r.complete and not r.error for r in resp_a):
            fails["expect"] = "expected a cut connection, got %s" % describe(a0)
        elif not closed_a:
            fails["expect"] = "expected a cut connection, it stayed open"
    elif expect and not (a0 and a0.complete and str(a0.status) == expect):
        fails["expect"] = "expected %s, got %s" % (expect, describe(a0))
    n = case.get("origin-requests")
    if n is not None and len(reqs) != int(n):
        fails["origin-requests"] = "the origin parsed %d requests from A: %s" % (
            len(reqs), ", ".join("%s %s" % (e["method"], e["target"]) for e in reqs))
    if case.get("origin-method") and any(e["method"] != case.get("origin-method") for e in reqs):
        fails["origin-method"] = "methods at the origin: %s" % ", ".join(e["method"] for e in reqs)
    checks = [("origin-body", lambda e, v: latin1(e["body"]) == strict_origin.unescape(v)),
              ("origin-body-length", lambda e, v: len(e["body"]) == int(v)),
              ("origin-chunks", lambda e, v: canonical_chunks(latin1(e["wire"]), latin1(e["body"])))]
    for key, ok in checks:
        v = case.get(key)
        if v is not None and not (reqs and all(ok(e, v) for e in reqs)):
            fails[key] = "the origin got %s" % ("; ".join(
                "body %r wire %r" % (e["body"][:80], e["wire"][:120]) for e in reqs) or "no request")
    if case.get("origin-sees") == "nothing":
        seen = sum(e["n"] for e in ev_a if e["ev"] == "recv")
        if seen:
            fails["origin-sees"] = "%d bytes reached the origin" % seen
    name = case.get("client-header")
    if name and not (a0 and a0.header(name) is not None):
        fails["client-header"] = "no %s in %s" % (name, describe(a0))
    v = case.get("client-body")
    if v is not None and not (a0 and a0.complete and a0.body == strict_origin.unescape(v)):
        fails["client-body"] = "A got %s" % describe(a0)
    if case.get("client-chunks") and not (a0 and a0.complete and a0.header("transfer-encoding")
                                           and canonical_chunks(a0.wire, a0.body)):
        fails["client-chunks"] = "A got the body %r" % (a0.wire[:120] if a0 else b"")
    return fails


def latin1(text):
    return text.encode("latin-1")


def describe(r):
    if r is None:
        return "no answer"
    s = "%d" % r.status if r.status else "?"
    if r.error:
        s += " (%s)" % r.error
    elif not r.complete:
        s += " (incomplete)"
    s += " from the origin" if r.from_origin() else ""
    return "%s %r" % (s, r.body[:60])


class Origin:
    def __init__(self, spec):
        port, pid, logdir = spec.split(":", 2)
        self.host, self.pid = "127.0.0.1:%s" % port, int(pid)
        self.events = Events(os.path.join(logdir, "events.jsonl"))

    def reset(self):
        """Closes every connection of this origin, so that what a failed case
        left on a pooled connection does not fail the next cases too."""
        os.kill(self.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and not any(e["ev"] == "reset" for e in self.events.new()):
            time.sleep(0.01)
        time.sleep(0.05)  # for lbproxy to see its idle connections close


# Reporting ------------------------------------------------------------------------

def tap(ok, desc, notes=()):
    print(("ok " if ok else "not ok ") + desc)
    for n in notes:
        print("# " + n)


INVARIANTS = [("violation", "the origin saw no strict-parse violation"),
              ("count", "every request the origin parsed was answered to a client (none hidden in a body)"),
              ("B", "client B got its own answer (no smuggled prefix captured its request)"),
              ("sentence", "every refusal by lbproxy says why in its body")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proxy", type=int, required=True)
    ap.add_argument("--origin", action="append", required=True, help="PORT:PID:LOGDIR of a strict_origin.py")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    origins = [Origin(o) for o in a.origin]
    started = time.monotonic()
    # The cases, numbered once for all (the number names B's target).
    files = [(path, load_cases(path)) for path in a.files]
    work = [c for _, cases in files for c in cases]
    todo = list(enumerate(work, 1))
    results = {}
    lock = threading.Lock()

    def worker(origin):
        while time.monotonic() - started < RUN_LIMIT:
            with lock:
                if not todo:
                    return
                i, case = todo.pop(0)
            c = Case(case.name, case.data.replace(b"@ORIGIN@", origin.host.encode()), case.block)
            try:
                fails, summary = run_case(i, c, a.proxy, origin)
            except Exception as e:  # the harness's own fault: a failure, with its cause
                fails, summary = {"harness": "%s: %s" % (type(e).__name__, e)}, "harness error"
            if fails:
                origin.reset()
            results[i] = (fails, summary)

    threads = [threading.Thread(target=worker, args=(o,)) for o in origins]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    i = 0
    for path, cases in files:
        src = os.path.basename(path)
        named = any(c.get("expect") for c in cases)
        failed = {k: [] for k, _ in INVARIANTS}
        outcomes = {}
        for case in cases:
            i += 1
            if i not in results:
                continue
            fails, summary = results[i]
            key = re.sub(r" b?['\"].*", "", summary)
            outcomes[key] = outcomes.get(key, 0) + 1
            if named:
                tap(not fails, "%s: %s" % (case.name, case.get("title") or case.get("expect")),
                    ["%s: %s" % kv for kv in fails.items()] + (["A got %s" % summary] if fails else []))
                continue
            for k in failed:
                if k in fails:
                    failed[k].append("%s: %s" % (case.name, fails[k]))
            if "harness" in fails:  # B's answer went unchecked
                failed["B"].append("%s: %s" % (case.name, fails["harness"]))
        if named:
            continue
        print("# %s: %d cases; lbproxy's answers to A: %s" % (
            src, len(cases), ", ".join("%s x%d" % kv for kv in sorted(outcomes.items()))))
        for k, desc in INVARIANTS:
            names = failed[k]
            tap(not names, "%s: %s" % (src, desc),
                names[:LIST_AT_MOST] + (["... and %d more" % (len(names) - LIST_AT_MOST)]
                                        if len(names) > LIST_AT_MOST else []))
    tap(len(results) == len(work), "all %d cases ran within %d s (%d did, in %.0f s)" % (
        len(work), RUN_LIMIT, len(results), time.monotonic() - started))


if __name__ == "__main__":
    main()
