#!/usr/bin/env bash
# lbctl against a real lbstated: output formats, idempotent admin actions,
# exit codes and one-line errors.
. "$(dirname "$0")/lib.sh"

P=$(free_port)
S=http://127.0.0.1:$P
echo lbctl-token > "$T/token"
echo wrong > "$T/wrong"
printf 'host1.a.co.jp 127.0.0.1:8081 2\nhost1.a.co.jp 127.0.0.1:8082 1\nhost1.a.co.jp 127.0.0.1:8083 2\n' > "$T/groups"
start lbstated "$LBSTATED" --listen "127.0.0.1:$P" --groups "$T/groups" --state-dir "$T/state" --token-file "$T/token"
check "lbstated listens" wait_port "$P"
curl -s -o /dev/null -H 'Authorization: Bearer lbctl-token' -X POST "$S/v1/reports" --data-binary \
    '{"notifier":"t","interval_ms":60000,"servers":[{"addr":"127.0.0.1:8081","load":20,"state":"up"},{"addr":"127.0.0.1:8082","load":15,"state":"up"},{"addr":"127.0.0.1:8083","load":0,"state":"down"}]}'
ctl() { "$LBCTL" -s "$S" --token-file "$T/token" "$@"; }

out=$(ctl status)
is "status is tab-separated without header into a pipe" "$(printf '%s\n' "$out" | head -1)" \
    $'host1.a.co.jp\t127.0.0.1:8081\t20.0\t2.0\t10.00\tup\t-\t'"$(printf '%s\n' "$out" | head -1 | cut -f8)"$'\t0'
is "status has one line per server" "$(printf '%s\n' "$out" | wc -l)" 3
like "status -o table has a header" "$(ctl -o table status)" '^GROUP +SERVER +LOAD +RATIO +RELLOAD +STATE +FLAGS +AGE'
like "status -o json is the state" "$(ctl -o json status)" '"version": [0-9]+'
like "options may follow the command" "$(ctl status -o json host1.a.co.jp)" '"name": "host1.a.co.jp"'
is "status of one group" "$(ctl status host1.a.co.jp | wc -l)" 3
# Group names are host names: any case finds them, as lbproxy does.
is "status of a group named in another case" "$(ctl status HOST1.A.co.jp | cut -f1 | sort -u)" host1.a.co.jp
like "GET /v1/state?group= in another case" "$(curl -s "$S/v1/state?group=Host1.A.CO.JP")" '"name":"host1\.a\.co\.jp"'
like "GET /v1/select?group= in another case" "$(curl -s "$S/v1/select?group=HOST1.A.CO.JP")" '"group":"host1\.a\.co\.jp","server":"127\.0\.0\.1:808[12]"'
is "a group named in no case is still 404" "$(http_status GET "$S/v1/state?group=host1.a.co.jp.x")" 404

is "pin prints the server" "$(ctl pin 127.0.0.1:8081)" $'127.0.0.1:8081\tdown\tpinned\thost1.a.co.jp'
is "pin again succeeds (idempotent)" "$(ctl pin 127.0.0.1:8081; echo $?)" $'127.0.0.1:8081\tdown\tpinned\thost1.a.co.jp\n0'
is "pin with load and ratio" "$(ctl pin 127.0.0.1:8081 --state up --load 0 --ratio 3)" $'127.0.0.1:8081\tup\tpinned\thost1.a.co.jp'
like "status shows the pin's load and ratio" "$(ctl status | grep 8081)" $'0.0\t3.0\t0.00\tup\tpinned'
is "unpin" "$(ctl unpin 127.0.0.1:8081)" $'127.0.0.1:8081\tup\t-\thost1.a.co.jp'
is "drain" "$(ctl drain 127.0.0.1:8082)" $'127.0.0.1:8082\tup\tdraining\thost1.a.co.jp'
is "undrain" "$(ctl undrain 127.0.0.1:8082)" $'127.0.0.1:8082\tup\t-\thost1.a.co.jp'
# A server in several groups: a pin applies in all, and says which.
is "groups set with a server in two groups" "$(http_status PUT "$S/v1/groups" \
    '{"table":"host1.a.co.jp 127.0.0.1:8081 2\nhost1.a.co.jp 127.0.0.1:8082 1\nhost1.a.co.jp 127.0.0.1:8083 2\nimg.a.co.jp 127.0.0.1:8081 1\n"}' lbctl-token)" 200
is "pin names both groups" "$(ctl pin 127.0.0.1:8081)" $'127.0.0.1:8081\tdown\tpinned\thost1.a.co.jp,img.a.co.jp'
like "... as a table" "$(ctl -o table pin 127.0.0.1:8081)" 'SERVER +STATE +FLAGS +GROUPS.*127\.0\.0\.1:8081 +down +pinned +host1\.a\.co\.jp,img\.a\.co\.jp'
like "... in JSON" "$(ctl -o json pin 127.0.0.1:8081 | tr -d ' \n')" '"groups":\["host1\.a\.co\.jp","img\.a\.co\.jp"\]'
like "... and in lbstated's log" "$(grep 'pin 127.0.0.1:8081' "$T/lbstated.log" | tail -1)" 'by 127\.0\.0\.1 \(groups host1\.a\.co\.jp, img\.a\.co\.jp\)$'
is "unpin names both groups" "$(ctl unpin 127.0.0.1:8081)" $'127.0.0.1:8081\tup\t-\thost1.a.co.jp,img.a.co.jp'
is "back to the file's groups" "$(ctl reload 2>/dev/null | wc -l)" 3
is "groups" "$(ctl groups | head -1)" $'host1.a.co.jp\t127.0.0.1:8081\t2.0'
ctl reload >/dev/null 2>"$T/err"
is "reload" "$?" 0
like "reload says from where" "$(cat "$T/err")" "groups reloaded from $T/groups"
is "subscribers (none)" "$(ctl subscribers)" ""

# Errors: one line, the object, the daemon, the cause; sysexits codes.
ctl pin web9:80 >/dev/null 2>"$T/err"
is "unknown server exits 65" "$?" 65
is "unknown server message" "$(cat "$T/err")" \
    "lbctl: pin web9:80: $S: 404 no such server 'web9:80' (servers are named as in the groups table)"
"$LBCTL" -s "$S" --token-file "$T/wrong" pin 127.0.0.1:8081 >/dev/null 2>"$T/err"
is "wrong token exits 77" "$?" 77
like "wrong token message" "$(cat "$T/err")" "^lbctl: pin 127.0.0.1:8081: $S: 401 missing or wrong token"
like "... names the token file whose token was refused" "$(cat "$T/err")" "the daemon refused the token of $T/wrong"
"$LBCTL" -s "$S" unpin 127.0.0.1:8081 >/dev/null 2>"$T/err"
is "no token exits 77" "$?" 77
# The default token file is under the --sysconfdir of this build.
default_token=$("$LBCTL" --help | grep -o '(default [^ ]*/lbkit/token' | cut -d' ' -f2)
if [ ! -e "$default_token" ]; then
    like "... and says that none was sent, and why" "$(cat "$T/err")" "lbctl sent no token: $default_token does not exist"
else
    skip "$default_token exists here: lbctl sent it"
fi
DEAD=$(free_port)
"$LBCTL" -s "127.0.0.1:$DEAD" status >/dev/null 2>"$T/err"
is "lbstated not running exits 69" "$?" 69
like "and names the URL it tried" "$(cat "$T/err")" "^lbctl: status: http://127.0.0.1:$DEAD: .*onnect"
"$LBCTL" --token-file /nonexistent/token -s "$S" pin 127.0.0.1:8081 >/dev/null 2>"$T/err"
is "missing token file exits 66" "$?" 66
ctl >/dev/null 2>&1
is "no command is a usage error" "$?" 64
ctl pin >/dev/null 2>&1
is "pin without server is a usage error" "$?" 64
ctl pin 127.0.0.1:8081 --state sideways >/dev/null 2>&1
is "bad --state is a usage error" "$?" 64
ctl -o xml status >/dev/null 2>&1
is "bad -o is a usage error" "$?" 64
ctl stauts >/dev/null 2>"$T/err"
is "an unknown command is a usage error" "$?" 64
like "it is named, with the nearest command" "$(cat "$T/err")" "^lbctl: usage: unknown command 'stauts' \(did you mean 'status'\?\)"
ctl status --wacth >/dev/null 2>"$T/err"
like "an unknown option is named, with the nearest one" "$(cat "$T/err")" "unknown option '--wacth' \(did you mean '--watch'\?\)"
ctl pin 127.0.0.1:8081 --ratio 0 >/dev/null 2>"$T/err"
is "--ratio 0 is a usage error" "$?" 64
is "... said in a sentence" "$(head -n 1 "$T/err")" "lbctl: usage: --ratio: must be > 0"
ctl history >/dev/null 2>"$T/err"    # -s names lbstated, which keeps no history
is "history asked of lbstated is a data error" "$?" 65
like "... that says where the history lives" "$(cat "$T/err")" "no such endpoint.*lbproxy's admin API \(by default http://127.0.0.1:7401\)"
ctl history --limit 0 >/dev/null 2>"$T/err"
like "a bad history option points to lbctl history --help" "$(cat "$T/err")" "Run 'lbctl history --help'"
# The daemons' URLs from the environment, as PGHOST; -s wins.
is "LBKIT_STATED names lbstated" "$(LBKIT_STATED=$S "$LBCTL" --token-file "$T/token" status | wc -l)" 3
is "... also without a scheme" "$(LBKIT_STATED=127.0.0.1:$P "$LBCTL" status | wc -l)" 3
is "-s wins over LBKIT_STATED" "$(LBKIT_STATED=127.0.0.1:$DEAD "$LBCTL" -s "$S" status | wc -l)" 3
LBKIT_STATED=$S LBKIT_PROXY=127.0.0.1:$DEAD "$LBCTL" history >/dev/null 2>"$T/err"
is "history talks to LBKIT_PROXY, not LBKIT_STATED" "$?" 69
like "... and names its URL" "$(cat "$T/err")" "^lbctl: history: http://127.0.0.1:$DEAD: "
LBKIT_STATED=127.0.0.1:$DEAD LBKIT_PROXY=$S "$LBCTL" status >/dev/null 2>"$T/err"
like "status talks to LBKIT_STATED, not LBKIT_PROXY" "$(cat "$T/err")" "^lbctl: status: http://127.0.0.1:$DEAD: "
LBKIT_STATED=ftp://x "$LBCTL" status >/dev/null 2>"$T/err"
is "a bad LBKIT_STATED is a configuration error" "$?" 78
is "... named" "$(cat "$T/err")" "lbctl: LBKIT_STATED 'ftp://x': expected host:port or http://host:port"
is "an empty LBKIT_STATED is as unset" "$(LBKIT_STATED= "$LBCTL" -s "$S" status | wc -l)" 3
# history's server filter is --backend: --server after history is refused,
# not read as the daemon's URL (which printed nothing).
ctl history --server 127.0.0.1:8081 >/dev/null 2>"$T/err"
is "history --server is a usage error" "$?" 64
like "... that names --backend and -s" "$(head -n 1 "$T/err")" "^lbctl: usage: --server: the server filter of history is --backend SERVER; the daemon's URL is -s URL$"
LBKIT_PROXY=127.0.0.1:$DEAD "$LBCTL" history -s "127.0.0.1:$DEAD" --backend 127.0.0.1:8081 >/dev/null 2>"$T/err"
is "history -s URL --backend SERVER is understood" "$?" 69
like "--version" "$("$LBCTL" --version)" '^lbctl \(lbkit\) [0-9]'
like "--help lists the commands" "$("$LBCTL" --help)" 'status.*pin.*unpin.*drain.*undrain.*subscribers.*groups.*reload'
done_testing
