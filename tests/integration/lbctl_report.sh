#!/usr/bin/env bash
# lbctl report: lines "server load state" or lbsniff --stdout posted to a real
# lbstated; bad lines named FILE:LINE while the good ones are applied; and
# lbsniff --stdout | lbctl report - has the effect of lbsniff --report.
. "$(dirname "$0")/lib.sh"

P=$(free_port)
S=http://127.0.0.1:$P
echo report-token >"$T/token"
printf 'www.a.test 127.0.0.1:8081 2\nwww.a.test 127.0.0.1:8082 1\nwww.a.test 127.0.0.1:8083 1\n' >"$T/groups"
start lbstated "$LBSTATED" --listen "127.0.0.1:$P" --groups "$T/groups" --state-dir "$T/state" \
    --token-file "$T/token" --stale-after 1h
STATED_LOG=$T/lbstated.log
check "lbstated listens" wait_port "$P"
ctl() { "$LBCTL" -s "$S" --token-file "$T/token" "$@"; }
# row SERVER: group, server, load, ratio, relload, state, flags of SERVER.
row() { ctl -o tsv status | awk -F'\t' -v s="$1" '$2 == s' | cut -f 1-7; }
reports() { curl -s "$S/metrics" | awk '$1 == "lbstated_reports_total" { print $2 }'; }
tab=$'\t'

# Good lines -----------------------------------------------------------------
cat >"$T/good" <<'EOF'
# loads measured by hand
127.0.0.1:8081 20 up
127.0.0.1:8082	15.5	down   # a comment after the columns

  127.0.0.1:8083   0.25 unknown
EOF
ctl report "$T/good" >"$T/out" 2>"$T/err"
is "good lines: exit 0" "$?" 0
is "... nothing on standard output or error" "$(cat "$T/out" "$T/err")" ""
is "... 8081 applied" "$(row 127.0.0.1:8081)" "www.a.test${tab}127.0.0.1:8081${tab}20.0${tab}2.0${tab}10.00${tab}up${tab}-"
is "... 8082 applied" "$(row 127.0.0.1:8082)" "www.a.test${tab}127.0.0.1:8082${tab}15.5${tab}1.0${tab}15.50${tab}down${tab}-"
like "... 8083 applied" "$(row 127.0.0.1:8083)" "${tab}0\.2[0-9]?${tab}1\.0${tab}.*${tab}unknown${tab}-$"
like "... from the default notifier lbctl@HOST" "$(cat "$STATED_LOG")" "report from lbctl@$(hostname): state changed"

# Bad lines: FILE:LINE, the good ones applied, exit 65 ------------------------
cat >"$T/bad" <<'EOF'
127.0.0.1:8081 30 up
127.0.0.1:8082 -1 up
127.0.0.1:8083 3 sideways
only two
127.0.0.1:8081 abc up
1700000000.000 127.0.0.1:8082 up 4 x 0 0 0
127.0.0.1:8082 7 up
EOF
ctl report "$T/bad" >/dev/null 2>"$T/err"
is "bad lines: exit 65" "$?" 65
is "... one message per bad line, FILE:LINE: reason" "$(cat "$T/err")" \
"lbctl: $T/bad:2: load '-1': not a number of 0 or more
lbctl: $T/bad:3: state 'sideways': not up, down or unknown
lbctl: $T/bad:4: expected 3 columns (server load state) or the 8 of lbsniff --stdout (time server state load packets bytes conns reqs), got 2
lbctl: $T/bad:5: load 'abc': not a number of 0 or more
lbctl: $T/bad:6: count 'x': not a whole number of 0 or more"
like "... the good lines applied (8081)" "$(row 127.0.0.1:8081)" "${tab}30\.0${tab}2\.0${tab}15\.00${tab}up${tab}"
like "... the good lines applied (8082, last line wins)" "$(row 127.0.0.1:8082)" "${tab}7\.0${tab}1\.0${tab}7\.00${tab}up${tab}"

# Standard input ------------------------------------------------------------------
printf '127.0.0.1:8083 4 up\nnonsense\n' | ctl report - >/dev/null 2>"$T/err"
is "stdin (-) with a bad line: exit 65" "$?" 65
is "... named stdin:LINE" "$(cat "$T/err")" \
    "lbctl: stdin:2: expected 3 columns (server load state) or the 8 of lbsniff --stdout (time server state load packets bytes conns reqs), got 1"
like "... the good line applied" "$(row 127.0.0.1:8083)" "${tab}4\.0${tab}1\.0${tab}4\.00${tab}up${tab}"
printf '127.0.0.1:8083 5 down\n' | ctl report -n bench-box >/dev/null 2>&1
is "no FILE is standard input: exit 0" "$?" 0
like "... applied" "$(row 127.0.0.1:8083)" "${tab}5\.0${tab}.*${tab}down${tab}"
like "... from the notifier of -n" "$(cat "$STATED_LOG")" "report from bench-box: state changed"

# Batches: up to 500 servers per request, in the order read (the last wins)
r0=$(reports)
for i in $(seq 1 400); do
    printf '127.0.0.1:8081 %d up\n127.0.0.1:8082 %d up\n127.0.0.1:8083 %d up\n' "$i" "$((i + 1))" "$((i + 2))"
done >"$T/many"
ctl report "$T/many" 2>"$T/err"
is "1200 lines: exit 0" "$?" 0
is "... in 3 requests" "$(( $(reports) - r0 ))" 3
like "... the last line of each server wins" "$(row 127.0.0.1:8081)$(row 127.0.0.1:8083)" \
    "${tab}400\.0${tab}.*${tab}402\.0${tab}"

# A pipe that goes quiet: what was read is sent at once, not at the end.
( printf '127.0.0.1:8083 11 up\n'; sleep 3; printf '127.0.0.1:8083 12 up\n' ) | ctl report - &
reporter=$!
eleven() { row 127.0.0.1:8083 | grep -q $'\t11\.0\t'; }
wait_for 2 eleven
check "a quiet pipe: the lines read are reported before the end of input" eleven
wait "$reporter"
is "... and the rest at the end: exit 0" "$?" 0
like "... applied" "$(row 127.0.0.1:8083)" "${tab}12\.0${tab}"

# lbstated refusing ----------------------------------------------------------------
printf '127.0.0.1:8081 1 up\n' | "$LBCTL" -s "$S" report - >/dev/null 2>"$T/err"
is "no token: exit 77" "$?" 77
like "... says why" "$(cat "$T/err")" "^lbctl: report: $S: 401 missing or wrong token"
printf '127.0.0.9:80 1 up\n' | ctl report >/dev/null 2>"$T/err"
is "only servers lbstated does not know: exit 65" "$?" 65
like "... says which" "$(cat "$T/err")" "^lbctl: report: $S: 404 no such server '127\.0\.0\.9:80' in the groups table"
printf '127.0.0.9:80 1 up\n127.0.0.1:8081 2 up\n' | ctl report >/dev/null 2>"$T/err"
is "one server lbstated does not know among others: exit 65" "$?" 65
is "... says which" "$(cat "$T/err")" "lbctl: report: $S: server '127.0.0.9:80' is not in the groups table: ignored"
like "... and the others are applied" "$(row 127.0.0.1:8081)" "${tab}2\.0${tab}2\.0${tab}1\.00${tab}up${tab}"
DEAD=$(free_port)
printf '127.0.0.1:8081 1 up\n' | "$LBCTL" -s "127.0.0.1:$DEAD" report >/dev/null 2>"$T/err"
is "lbstated not running: exit 69" "$?" 69
like "... names the URL" "$(cat "$T/err")" "^lbctl: report: http://127\.0\.0\.1:$DEAD: "
ctl report "$T/nonexistent" >/dev/null 2>"$T/err"
is "a file that cannot be read: exit 66" "$?" 66
like "... says why" "$(cat "$T/err")" "^lbctl: $T/nonexistent: No such file"
ctl report --interval 0 "$T/good" >/dev/null 2>&1
is "--interval 0 is a usage error" "$?" 64

# lbsniff --stdout | lbctl report - has the effect of lbsniff --report ---------------
SNIFFGEN=$top_builddir/tests/bench/sniffgen
if [ -x "$LBSNIFF" ] && [ -x "$SNIFFGEN" ]; then
    "$SNIFFGEN" scenario "$T/eth.pcap" 1 >/dev/null
    W=(--watch 127.0.0.1:8080 --watch '[::1]:8081')
    printf 'www 127.0.0.1:8080 1\nwww [::1]:8081 2\n' >"$T/groups2"
    A=$(free_port) B=$(free_port)
    start stated_a "$LBSTATED" --listen "127.0.0.1:$A" --groups "$T/groups2" --state-dir "$T/a" --stale-after 1h
    start stated_b "$LBSTATED" --listen "127.0.0.1:$B" --groups "$T/groups2" --state-dir "$T/b" --stale-after 1h
    wait_port "$A" && wait_port "$B" || not_ok "the two lbstated listen"
    "$LBSNIFF" -q -r "$T/eth.pcap" "${W[@]}" --syn-timeout 2 --report "http://127.0.0.1:$A"
    is "lbsniff --report: exit 0" "$?" 0
    "$LBSNIFF" -q -r "$T/eth.pcap" "${W[@]}" --syn-timeout 2 --stdout | "$LBCTL" -s "127.0.0.1:$B" report -
    is "lbsniff --stdout | lbctl report -: exit 0" "$?" 0
    status_of() { "$LBCTL" -s "127.0.0.1:$1" -o tsv status | cut -f 1-7; }
    is "... the same state in lbstated as lbsniff --report gives" "$(status_of "$B")" "$(status_of "$A")"
    like "... which is the state at the end of the capture" "$(status_of "$B")" \
        "^www${tab}127\.0\.0\.1:8080${tab}0\.0${tab}1\.0${tab}0\.00${tab}down${tab}-"$'\n'"www${tab}\[::1\]:8081${tab}2\.0${tab}2\.0${tab}1\.00${tab}up${tab}-$"
    n=$(curl -s "http://127.0.0.1:$B/metrics" | awk '$1 == "lbstated_reports_total" { print $2 }')
    is "... one report per interval of the capture" "$n" 6
else
    skip "lbsniff or sniffgen not built: the pipe is not compared"
fi
done_testing
