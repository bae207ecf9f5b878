#!/bin/bash
# lbsniff on capture files written by sniffgen (pcap_dump on a dead handle):
# exact --stdout lines on every link type and from a pipe, the metrics,
# watch-file names, reports to a real lbstated at the end of the file, and
# every bad input with its documented exit code.
. "$(dirname "$0")/lib.sh"

SNIFFGEN=$top_builddir/tests/bench/sniffgen
[ -x "$LBSNIFF" ] || skip_all "lbsniff not built"
[ -x "$SNIFFGEN" ] || skip_all "sniffgen not built (make check builds it)"

W=(--watch 127.0.0.1:8080 --watch '[::1]:8081')
"$SNIFFGEN" scenario "$T/eth.pcap" 1 >/dev/null

# The scenario's known traffic (see sniffgen.cpp), interval 1 s.
tab=$'\t'
expected=$(tr ' ' '\t' <<'EOF'
1700000000.000 127.0.0.1:8080 up 6 6 344 2 2
1700000000.000 [::1]:8081 unknown 0 0 0 0 0
1700000001.000 127.0.0.1:8080 up 0 0 0 0 0
1700000001.000 [::1]:8081 down 3 3 180 3 0
1700000002.000 127.0.0.1:8080 up 3 3 120 3 0
1700000002.000 [::1]:8081 down 0 0 0 0 0
1700000003.000 127.0.0.1:8080 up 0 0 0 0 0
1700000003.000 [::1]:8081 down 0 0 0 0 0
1700000004.000 127.0.0.1:8080 down 0 0 0 0 0
1700000004.000 [::1]:8081 down 0 0 0 0 0
1700000005.000 127.0.0.1:8080 down 0 0 0 0 0
1700000005.000 [::1]:8081 up 2 2 120 2 0
EOF
)

out=$("$LBSNIFF" -q -r "$T/eth.pcap" "${W[@]}" --stdout --syn-timeout 2); rc=$?
is "Ethernet file: exit 0" "$rc" 0
is "Ethernet file: exact counts, states and transitions" "$out" "$expected"

for dlt in 113:cooked 276:cooked-v2 0:bsd-loopback 108:openbsd-loopback 12:raw-ip; do
    "$SNIFFGEN" scenario "$T/$dlt.pcap" "${dlt%%:*}" >/dev/null
    out=$("$LBSNIFF" -q -r "$T/$dlt.pcap" "${W[@]}" --stdout --syn-timeout 2)
    is "${dlt#*:} file: the same lines" "$out" "$expected"
done

out=$(cat "$T/eth.pcap" | "$LBSNIFF" -q -r - "${W[@]}" --stdout --syn-timeout 2)
is "a pipe on standard input (-r -): the same lines" "$out" "$expected"

# A pipe that goes quiet (tcpdump -U -w - on a quiet network): the open
# interval is reported with the clock, not at the next packet or the end.
if command -v tcpdump >/dev/null; then
    ( tcpdump -r "$T/eth.pcap" -c 4 -w - 2>/dev/null; sleep 4 ) |
        "$LBSNIFF" -q -r - "${W[@]}" --stdout >"$T/quiet.out" &
    quiet=$!
    if wait_for 3 grep -q '^1700000000\.000' "$T/quiet.out"; then
        ok "a quiet pipe: the interval is reported before the end of input"
    else
        not_ok "a quiet pipe: the interval is reported before the end of input"
    fi
    wait "$quiet"
    is "... and lbsniff ends with its input" "$?" 0
fi

out=$("$LBSNIFF" -q -r "$T/eth.pcap" "${W[@]}" --stdout --syn-timeout 2 --metric requests | head -n 1 | cut -f 4)
is "--metric requests: load is requests per second" "$out" 2
out=$("$LBSNIFF" -q -r "$T/eth.pcap" "${W[@]}" --stdout --syn-timeout 2 --metric bytes | head -n 1 | cut -f 4)
is "--metric bytes: load is bytes per second" "$out" 344
out=$("$LBSNIFF" -q -r "$T/eth.pcap" "${W[@]}" --stdout --syn-timeout 2 --metric connections --interval 500ms |
      head -n 1 | cut -f 4,7)
is "--metric connections with --interval 500ms: per second" "$out" "4${tab}2"

printf '# watched servers\nweb1  127.0.0.1:8080\nweb6  [::1]:8081  # IPv6\n' >"$T/watch"
out=$("$LBSNIFF" -q -r "$T/eth.pcap" --watch-file "$T/watch" --stdout | cut -f 2 | sort -u | tr '\n' ' ')
is "--watch-file: lines name the servers as the file does" "$out" "web1 web6 "

filter=$("$LBSNIFF" -r "$T/eth.pcap" "${W[@]}" --print-filter)
like "--print-filter prints the watch list's filter" "$filter" '^tcp and \(\(dst host 127\.0\.0\.1 and dst port 8080\)'
if command -v tcpdump >/dev/null; then
    check "tcpdump takes the printed filter" tcpdump -r "$T/eth.pcap" -w /dev/null "$filter"
fi
out=$("$LBSNIFF" -q -r "$T/eth.pcap" "${W[@]}" --stdout --filter 'ip6' | awk -F'\t' '{ p[$2] += $5 } END { print p["127.0.0.1:8080"], p["[::1]:8081"] }')
is "--filter is and-ed with the watch list" "$out" "0 5"
is "-n checks the configuration" "$("$LBSNIFF" -n -r "$T/eth.pcap" "${W[@]}")" "configuration OK"
"$LBSNIFF" -n -i lbkit-no-such0 "${W[@]}" >/dev/null 2>"$T/n.err"
is "-n checks the interface as a start does (66)" "$?" 66
like "... and names it" "$(cat "$T/n.err")" "capture on lbkit-no-such0: no such interface"
"$LBSNIFF" -n -r "$T/no-such.pcap" "${W[@]}" >/dev/null 2>&1
is "-n checks that the file can be read" "$?" 66

# Reports to a real lbstated at the end of the file ------------------------------
if [ -x "$LBSTATED" ]; then
    port=$(free_port)
    printf 'www 127.0.0.1:8080 1\nwww [::1]:8081 1\n' >"$T/groups"
    mkdir -p "$T/state"
    start lbstated "$LBSTATED" --listen "127.0.0.1:$port" --groups "$T/groups" --state-dir "$T/state"
    wait_port "$port" || not_ok "lbstated started"
    "$LBSNIFF" -r "$T/eth.pcap" "${W[@]}" --syn-timeout 2 --report "http://127.0.0.1:$port" \
        --notifier offline-test 2>"$T/report.log"
    is "reports at the end of the file: exit 0" "$?" 0
    state=$(curl -s "http://127.0.0.1:$port/v1/state")
    like "lbstated has 127.0.0.1:8080 down (its state at the end)" "$state" '"name":"127\.0\.0\.1:8080","pinned":false,"ratio":1\.0,"state":"down"'
    like "lbstated has [::1]:8081 up" "$state" '"name":"\[::1\]:8081","pinned":false,"ratio":1\.0,"state":"up"'
    "$LBSNIFF" -q -r "$T/eth.pcap" --watch 127.0.0.9:80 --report "http://127.0.0.1:$port" 2>"$T/refused.log"
    is "a report lbstated refuses (no such server): exit 76" "$?" 76
    like "... and says why" "$(cat "$T/refused.log")" "refused: 404 no such server '127\.0\.0\.9:80'"
fi
dead=$(free_port)
"$LBSNIFF" -q -r "$T/eth.pcap" "${W[@]}" --report "http://127.0.0.1:$dead" 2>"$T/dead.log"
is "lbstated unreachable at the end of the file: exit 75" "$?" 75
like "... and says so" "$(tail -n 1 "$T/dead.log")" "^lbsniff: report to http://127\.0\.0\.1:$dead/v1/reports: not delivered"

# Probes alone (no capture, no root needed): state from the probes, and
# reports kept while lbstated is away, sent when it comes ------------------------
web=$(free_port); sport=$(free_port)
if [ -x "$BACKEND" ]; then
    start backend "$BACKEND" --listen "127.0.0.1:$web" --name web
else
    start backend "$SNIFFGEN" serve "127.0.0.1:$web"
fi
BACKEND_PID=$LAST_PID
wait_port "$web" || not_ok "backend started"
"$LBSNIFF" --probe http:/health --probe-interval 200ms --interval 200ms --up-after 1 --down-after 2 \
    --watch "127.0.0.1:$web" --stdout --report "http://127.0.0.1:$sport" >"$T/probe.lines" 2>"$T/probe.log" &
PROBE=$!
_pids+=("$PROBE")
wait_for 5 grep -q "${tab}up${tab}" "$T/probe.lines"
like "--probe alone: the backend is up" "$(tail -n 1 "$T/probe.lines")" "127\.0\.0\.1:$web${tab}up${tab}0${tab}"
wait_for 5 grep -q "keeping the latest state" "$T/probe.log"
like "lbstated away: the latest state is kept" "$(cat "$T/probe.log")" "report to http://127\.0\.0\.1:$sport/v1/reports: .*keeping the latest state"
if [ -x "$LBSTATED" ]; then
    printf 'www 127.0.0.1:%s 1\n' "$web" >"$T/groups2"
    mkdir -p "$T/state2"
    start lbstated2 "$LBSTATED" --listen "127.0.0.1:$sport" --groups "$T/groups2" --state-dir "$T/state2"
    wait_port "$sport" || not_ok "lbstated started"
    wait_for 15 grep -q "delivered again" "$T/probe.log"
    like "lbstated back: the reports are delivered again" "$(cat "$T/probe.log")" "report to .*: delivered again"
    like "... and lbstated has the server up" "$(curl -s "http://127.0.0.1:$sport/v1/state")" \
        "\"name\":\"127\.0\.0\.1:$web\",\"pinned\":false,\"ratio\":1\.0,\"state\":\"up\""
fi
stop "$BACKEND_PID"
wait_for 5 grep -q "${tab}down${tab}" "$T/probe.lines"
like "--probe alone: the stopped backend is down" "$(tail -n 1 "$T/probe.lines")" "127\.0\.0\.1:$web${tab}down${tab}0${tab}"
like "... the log says why" "$(cat "$T/probe.log")" "127\.0\.0\.1:$web: down: the probe failed"
stop "$PROBE"

# Bad input: a sentence and the documented exit code, never a crash -------------
# expect DESC CODE REGEX CMD...: exit status CODE and a line of standard
# error matching REGEX.
expect() {
    local desc=$1 code=$2 regex=$3; shift 3
    "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    is "$desc: exit $code" "$rc" "$code"
    if grep -qE -- "$regex" "$T/err"; then
        ok "$desc: says why"
    else
        not_ok "$desc: says why"
        diag "pattern: '$regex'"
        sed 's/^/# stderr: /' "$T/err"
    fi
}
head -c -30 "$T/eth.pcap" >"$T/cut.pcap"
expect "truncated file" 65 "^lbsniff: read $T/cut\.pcap: truncated" \
    "$LBSNIFF" -q -r "$T/cut.pcap" "${W[@]}" --stdout --syn-timeout 2
is "truncated file: what was read is still reported" "$(head -n 1 "$T/out")" "$(head -n 1 <<<"$expected")"
head -c 24 "$T/eth.pcap" >"$T/corrupt.pcap"
head -c 3000 /dev/urandom >>"$T/corrupt.pcap"
"$LBSNIFF" -q -r "$T/corrupt.pcap" "${W[@]}" --stdout >/dev/null 2>&1
rc=$?
like "random bytes after a good header: exit 0 or 65, no crash" "$rc" '^(0|65)$'
head -c 4000 /dev/urandom >"$T/junk.pcap"
expect "not a capture file" 65 "^lbsniff: read $T/junk\.pcap: not a capture file lbsniff can read" \
    "$LBSNIFF" -r "$T/junk.pcap" "${W[@]}"
: >"$T/empty.pcap"
expect "empty file" 65 "^lbsniff: read $T/empty\.pcap: " "$LBSNIFF" -r "$T/empty.pcap" "${W[@]}"
"$SNIFFGEN" dlt "$T/wifi.pcap" 105
expect "unknown link type" 65 "link type IEEE802_11 \(105\) is not supported" \
    "$LBSNIFF" -r "$T/wifi.pcap" "${W[@]}"
expect "missing file" 66 "^lbsniff: read $T/missing\.pcap: No such file" \
    "$LBSNIFF" -r "$T/missing.pcap" "${W[@]}"
expect "unresolvable watch name" 68 "^lbsniff: watch no-such-host\.invalid:80 \(--watch\): cannot resolve" \
    "$LBSNIFF" -r "$T/eth.pcap" --watch no-such-host.invalid:80
expect "bad filter" 64 "^lbsniff: --filter 'port eighty': " \
    "$LBSNIFF" -r "$T/eth.pcap" "${W[@]}" --filter 'port eighty'
printf 'web1 127.0.0.1:8080\nweb2 127.0.0.1:99999\n' >"$T/badwatch"
expect "bad watch file line" 78 "^lbsniff: $T/badwatch:2: bad port '99999'" \
    "$LBSNIFF" -r "$T/eth.pcap" --watch-file "$T/badwatch"
printf '# nothing\n' >"$T/emptywatch"
expect "empty watch file" 78 "no server in it" "$LBSNIFF" -r "$T/eth.pcap" --watch-file "$T/emptywatch"
expect "bad --watch" 64 "^lbsniff: --watch: bad port" "$LBSNIFF" -r "$T/eth.pcap" --watch web:http
expect "neither -i, -r nor --probe" 64 "give -i IFACE to capture, -r FILE to read a capture file, or --probe" \
    "$LBSNIFF" "${W[@]}"
expect "both -i and -r" 64 "^lbsniff: usage: " "$LBSNIFF" -i lo -r "$T/eth.pcap" "${W[@]}"
expect "no server to watch" 64 "no server to watch" "$LBSNIFF" -r "$T/eth.pcap"
expect "--probe on a file" 64 "needs a live capture" "$LBSNIFF" -r "$T/eth.pcap" "${W[@]}" --probe tcp
expect "bad --metric" 64 "^lbsniff: usage: " "$LBSNIFF" -r "$T/eth.pcap" "${W[@]}" --metric load
expect "bad --interval" 64 "^lbsniff: usage: .*bad duration" "$LBSNIFF" -r "$T/eth.pcap" "${W[@]}" --interval 2x
expect "unknown -Z user" 67 "^lbsniff: -Z no-such-user-lbsniff: no such user" \
    "$LBSNIFF" -r "$T/eth.pcap" "${W[@]}" -Z no-such-user-lbsniff

done_testing
