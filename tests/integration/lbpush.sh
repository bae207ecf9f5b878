#!/bin/bash
# lbpush against three real lbproxy instances: one stopped (exit 1, the
# others get the version), restarted (it gets the table at the next run, the
# others count as ok), an older version refused (409) and taken with
# --force, a bad table (exit 65, FILE:LINE, nothing pushed), a wrong token
# (401, the table kept), -o json, -q, --dry-run, -j 1 and -j 8, --clients
# files, usage errors.
. "$(dirname "$0")/lib.sh"

[ -x "$LBPUSH" ] || skip_all "lbpush not built"
TOK=push-token
echo "$TOK" >"$T/token"
echo wrong-token >"$T/wrong"
DEAD=$(free_port)  # a state server that never answers: these proxies need no state

# start_proxy N: lbproxy number N, its admin port in A$N, its PID in PID$N.
start_proxy() {
    local a=A$1 l=L$1
    [ -n "${!a:-}" ] || { printf -v "$a" '%s' "$(free_port)"; printf -v "$l" '%s' "$(free_port)"; }
    mkdir -p "$T/proxy$1"
    start "proxy$1" "$LBPROXY" --listen "127.0.0.1:${!l}" --admin "127.0.0.1:${!a}" --state-dir "$T/proxy$1" \
        --token-file "$T/token" --state-server "http://127.0.0.1:$DEAD"
    printf -v "PID$1" '%s' "$LAST_PID"
    wait_port "${!a}"
}
for n in 1 2 3; do start_proxy $n || { not_ok "lbproxy $n started"; done_testing; }; done
C1=127.0.0.1:$A1 C2=127.0.0.1:$A2 C3=http://127.0.0.1:$A3

# held N: the proxymap version proxy N holds, as lbctl tables says ("" when none).
held() { "$LBCTL" -s "127.0.0.1:$(eval echo "\$A$1")" tables | awk -F '\t' '$1 == "proxymap" { print $2 }'; }
held_all() { echo "$(held 1) $(held 2) $(held 3)"; }
# push ARGS...: lbpush with the token; stdout in $out, stderr in $err, status in $rc.
push() {
    "$LBPUSH" --token-file "$T/token" --timeout 3s "$@" >"$T/out" 2>"$T/err"
    rc=$?
    out=$(cat "$T/out") err=$(cat "$T/err")
}
# field CLIENT COLUMN: one column of the tsv line of CLIENT.
field() { awk -F '\t' -v c="$1" -v n="$2" '$1 == c { print $n }' <<<"$out"; }

MAP=$T/proxymap
printf '# test map\n*.a.test  127.0.0.1:1,127.0.0.1:2\nintra.test DIRECT\n*  DIRECT\n' >"$MAP"
touch -d @1700000000 "$MAP"
V=1700000000

# Usage and input errors: nothing pushed ---------------------------------------
push; is "no arguments: 64" "$rc" 64
like "says -f is required" "$err" "lbpush: usage: -f FILE is required"
push -f "$MAP"; is "no client: 64" "$rc" 64
like "says to name clients" "$err" "no client: name lbproxy admin addresses"
push -t groups -f "$MAP" "$C1"; is "an unknown table: 64" "$rc" 64
push -j 0 -f "$MAP" "$C1"; is "-j 0: 64" "$rc" 64
push --retries -1 -f "$MAP" "$C1"; is "--retries -1: 64" "$rc" 64
push --timeout 2x -f "$MAP" "$C1"; is "a bad --timeout: 64" "$rc" 64
push --version abc -f "$MAP" "$C1"; is "--version abc: 64" "$rc" 64
like "names the value" "$err" "--version 'abc': not a whole number"
push -f "$MAP" ftp://x; is "a bad client address: 64" "$rc" 64
like "names it" "$err" "client 'ftp://x': expected host:port"
push -f "$T/none" "$C1"; is "a missing table file: 66" "$rc" 66
like "names the file" "$err" "lbpush: $T/none: No such file"
push -f "$MAP" --clients "$T/none"; is "a missing --clients file: 66" "$rc" 66
"$LBPUSH" -f "$MAP" --token-file "$T/none" "$C1" >/dev/null 2>&1
is "a missing token file: 66" "$?" 66
is "lbpush --version alone prints the program's version" "$("$LBPUSH" --version)" "lbpush (lbkit) $(sed -n 's/^AC_INIT(\[lbkit\], \[\([^]]*\)\].*/\1/p' "$top_srcdir/configure.ac")"
is "nothing was pushed by any of these" "$(held_all)" "  "

# One proxy down: exit 1, the two others get the version -------------------------
stop "$PID3"
push --retries 1 -f "$MAP" "$C1" "$C2" "$C3"
is "one proxy down: exit 1" "$rc" 1
is "the first: ok, version $V" "$(field "$C1" 2) $(field "$C1" 3) $(field "$C1" 5)" "ok $V pushed"
is "the second: ok" "$(field "$C2" 2)" ok
is "the stopped one: failed, no version" "$(field "$C3" 2) $(field "$C3" 3)" "failed -"
like "after its retry" "$(field "$C3" 5)" "\(2 tries\)$"
is "three lines, in the order given" "$(cut -f1 <<<"$out" | tr '\n' ' ')" "$C1 $C2 $C3 "
is "the summary on stderr" "$err" "lbpush: 3 clients: 2 ok, 1 failed (proxymap version $V)"
is "lbctl tables: the two running proxies have it" "$(held 1) $(held 2)" "$V $V"
like "with its rows" "$("$LBCTL" -s "$C1" tables)" "^proxymap	$V	3	20[0-9-]+T"

# Restarted, it gets the table on the next run; the others count as ok ------------
start_proxy 3
push -f "$MAP" "$C1" "$C2" "$C3"
is "the next run: exit 0" "$rc" 0
is "the others: already in force" "$(field "$C1" 2) $(field "$C1" 5) $(field "$C2" 5)" \
    "ok already in force already in force"
is "the restarted one: pushed" "$(field "$C3" 2) $(field "$C3" 5)" "ok pushed"
is "all three hold version $V" "$(held_all)" "$V $V $V"
is "summary" "$err" "lbpush: 3 clients: 3 ok (proxymap version $V)"

# An older version: refused without --force, taken with it ------------------------
push --version 5 -f "$MAP" "$C1" "$C2"
is "an older version: exit 1" "$rc" 1
is "refused, with the version in force" "$(field "$C1" 2) $(field "$C1" 3)" "refused $V"
like "the reason is lbproxy's 409" "$(field "$C1" 5)" "^409 proxymap: version 5 is not newer than version $V in force$"
is "and no retry" "$(field "$C1" 5 | grep -c tries)" 0
is "versions unchanged" "$(held_all)" "$V $V $V"
push --force --version 5 -f "$MAP" "$C1" "$C2"
is "--force: exit 0" "$rc" 0
is "taken by both" "$(held 1) $(held 2) $(held 3)" "5 5 $V"
push -f "$MAP" "$C1" "$C2" "$C3"
is "the file's version again: exit 0" "$rc" 0
is "all back on $V" "$(held_all)" "$V $V $V"

# A bad table: exit 65 with FILE:LINE, nothing pushed ------------------------------
printf '* DIRECT\nbad/host DIRECT\n' >"$T/bad"
push -f "$T/bad" "$C1" "$C2" "$C3"
is "a bad table: exit 65" "$rc" 65
is "FILE:LINE and nothing pushed" "$err" \
    "lbpush: $T/bad:2: bad pattern 'bad/host' (a host, *.domain or *); nothing pushed"
is "nothing on stdout" "$out" ""
is "versions unchanged" "$(held_all)" "$V $V $V"

# A wrong token: refused with 401, the old table kept ------------------------------
"$LBPUSH" --token-file "$T/wrong" --version 1700000100 -f "$MAP" "$C1" >"$T/out" 2>"$T/err"
rc=$? out=$(cat "$T/out")
is "a wrong token: exit 1" "$rc" 1
is "refused" "$(field "$C1" 2)" refused
like "401 from lbproxy" "$(field "$C1" 5)" "^401 "
is "the old table kept" "$(held 1)" "$V"

# -o json: one object per client and line -------------------------------------------
push -o json --version 1700000100 -f "$MAP" "$C1" "$C2"
is "-o json: exit 0" "$rc" 0
is "-o json parses, one object a line" "$(python3 -c '
import json, sys
for line in sys.stdin:
    o = json.loads(line)
    print(o["client"], o["status"], o["version"], o["attempts"], o["reason"], type(o["ms"]).__name__)
' <<<"$out" | tr '\n' ';')" "$C1 ok 1700000100 1 pushed int;$C2 ok 1700000100 1 pushed int;"

# -q: silent on success, the failed lines and the summary otherwise ----------------------
push -q --version 1700000100 -f "$MAP" "$C1" "$C2"
is "-q on success: exit 0" "$rc" 0
is "-q on success: nothing on stdout or stderr" "$out|$err" "|"
stop "$PID3"
push -q --retries 0 --version 1700000100 -f "$MAP" "$C1" "$C2" "$C3"
is "-q with a failure: exit 1" "$rc" 1
is "only the failed line" "$(cut -f1,2 <<<"$out")" "$C3	failed"
like "and the summary" "$err" "^lbpush: 3 clients: 2 ok, 1 failed"
start_proxy 3

# --dry-run: asks, pushes nothing ---------------------------------------------------
push --dry-run --version 1700000200 -f "$MAP" "$C1" "$C2" "$C3"
is "--dry-run: exit 0" "$rc" 0
is "would push over what each holds" "$(field "$C1" 2) $(field "$C1" 3) $(field "$C1" 5)" \
    "push 1700000100 would push version 1700000200 over 1700000100"
is "the third holds $V" "$(field "$C3" 3)" "$V"
like "says nothing was pushed" "$err" "3 would take it \(proxymap version 1700000200; dry run, nothing pushed\)"
is "versions unchanged" "$(held_all)" "1700000100 1700000100 $V"
push --dry-run --version 5 -f "$MAP" "$C1"
is "--dry-run of an older version: exit 1, would be refused" "$rc $(field "$C1" 2)" "1 refused"
push --dry-run --version 1700000100 -f "$MAP" "$C1"
is "--dry-run of the version in force: ok" "$rc $(field "$C1" 2) $(field "$C1" 5)" "0 ok already in force"

# -j 1 and -j 8, and a --clients file ---------------------------------------------
printf '# the proxies\n%s\n\n  %s  # second\n%s\n%s\n' "$C1" "$C2" "$C3" "http://$C1" >"$T/clients"
push -j 1 --version 1700000300 -f "$MAP" --clients "$T/clients"
is "-j 1 with --clients: exit 0" "$rc" 0
is "each proxy once (the same one named twice gets one push)" "$(wc -l <<<"$out")" 3
is "all hold it" "$(held_all)" "1700000300 1700000300 1700000300"
push -j 8 --version 1700000400 -f "$MAP" --clients "$T/clients" "$C2"
is "-j 8: exit 0" "$rc" 0
is "all hold it" "$(held_all)" "1700000400 1700000400 1700000400"
printf '%s\nnot a client\n' "$C1" >"$T/badclients"
push --version 1700000500 -f "$MAP" --clients "$T/badclients"
is "a bad --clients line: exit 65" "$rc" 65
like "FILE:LINE" "$err" "^lbpush: $T/badclients:2: expected 1 columns"
printf '# none\n' >"$T/noclients"
push --version 1700000500 -f "$MAP" --clients "$T/noclients"
is "a --clients file without clients: exit 65" "$rc" 65
is "nothing pushed" "$(held 1)" 1700000400

# A proxy that does not answer in time: failed after --timeout, not hung ----------
SLOW=$(free_port)
start slow python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
' "$SLOW"
wait_port "$SLOW"
"$LBPUSH" --token-file "$T/token" --timeout 300ms --retries 1 --version 1700000500 -f "$MAP" "127.0.0.1:$SLOW" "$C1" \
    >"$T/out" 2>"$T/err"
rc=$? out=$(cat "$T/out")
is "a silent proxy: exit 1" "$rc" 1
like "failed on the timeout, after its retry" "$(field "127.0.0.1:$SLOW" 5)" "timed out.*\(2 tries\)$"
is "the other one got it meanwhile" "$(field "$C1" 2)" ok

done_testing
