# Shared helpers for the integration tests: TAP output, free loopback ports,
# daemons started in the background and always stopped by the EXIT trap.
# Source it from a test: . "$(dirname "$0")/lib.sh"
set -u

: "${top_builddir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
LBSTATED=$top_builddir/bin/lbstated/lbstated
LBCTL=$top_builddir/bin/lbctl/lbctl
LBPROXY=$top_builddir/bin/lbproxy/lbproxy
LBSNIFF=$top_builddir/bin/lbsniff/lbsniff
LBPUSH=$top_builddir/bin/lbpush/lbpush
BACKEND=$top_builddir/tests/backend/lbtest-backend

T=$(mktemp -d "${TMPDIR:-/tmp}/lbkit-test.XXXXXX")
_n=0
_failed=0

_cleanup() {
    local p
    for p in "${_pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${_pids[@]}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
    done
    wait 2>/dev/null
    if [ "$_failed" -ne 0 ] || [ -n "${KEEP_TMP:-}" ]; then
        for f in "$T"/*.log; do [ -f "$f" ] && { echo "# --- $f"; tail -n 30 "$f" | sed 's/^/# /'; }; done
    fi
    release_ports
    rm -rf "$T"
}
trap _cleanup EXIT

# TAP ----------------------------------------------------------------------
ok() { _n=$((_n + 1)); echo "ok $_n - $*"; }
not_ok() { _n=$((_n + 1)); _failed=$((_failed + 1)); echo "not ok $_n - $*"; }
diag() { echo "# $*"; }
# check DESC CMD...: passes when CMD exits 0.
check() { local d=$1; shift; if "$@" >/dev/null 2>&1; then ok "$d"; else not_ok "$d"; diag "command: $*"; fi; }
# is DESC GOT EXPECTED
is() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; diag "got:      '$2'"; diag "expected: '$3'"; fi; }
# like DESC GOT REGEX
like() { if [[ $2 =~ $3 ]]; then ok "$1"; else not_ok "$1"; diag "got:     '$2'"; diag "pattern: '$3'"; fi; }
# skip_all REASON: the whole test does not apply here.
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
# skip REASON: this one check does not apply here (counted as skipped).
skip() { _n=$((_n + 1)); echo "ok $_n # SKIP $*"; }
done_testing() { echo "1..$_n"; [ "$_failed" -eq 0 ]; exit $?; }

# Ports and processes -------------------------------------------------------
RUN_DIR=$T
. "$(dirname "${BASH_SOURCE[0]}")/../procs.sh"

# Helpers over curl -----------------------------------------------------------
# http_status METHOD URL [BODY] [TOKEN]: prints the status code.
http_status() {
    local args=(-s -o "$T/body" -w '%{http_code}' -X "$1" "$2")
    [ -n "${3:-}" ] && args+=(--data-binary "$3" -H 'Content-Type: application/json')
    [ -n "${4:-}" ] && args+=(-H "Authorization: Bearer $4")
    curl "${args[@]}"
}
last_body() { cat "$T/body"; }

# lbstated and lbproxy helpers ------------------------------------------------
# start_web_test_group: two test servers (B1 "one", B2 "two") of ratio 1 in
# group web.test, and lbstated holding it at $S (port $P, pid $STATED).
start_web_test_group() {
    P=$(free_port)
    S=http://127.0.0.1:$P
    B1=$(free_port); B2=$(free_port)
    start b1 "$BACKEND" --listen "127.0.0.1:$B1" --name one
    start b2 "$BACKEND" --listen "127.0.0.1:$B2" --name two
    printf 'web.test 127.0.0.1:%s 1\nweb.test 127.0.0.1:%s 1\n' "$B1" "$B2" >"$T/groups"
    start lbstated "$LBSTATED" --listen "127.0.0.1:$P" --groups "$T/groups" --state-dir "$T/stated"
    STATED=$LAST_PID
    check "lbstated listens" wait_port "$P"
    wait_port "$B1"; wait_port "$B2"
}
# state_version URL: the version of the state document at URL (lbstated's or
# lbproxy's /v1/state); empty when nothing answers.
state_version() { curl -s "$1" | grep -o '"version":[0-9]*' | head -1 | cut -d: -f2; }
# report_server STATED_URL PORT STATE [LOAD] [TOKEN]: what lbsniff would send
# about 127.0.0.1:PORT; prints the status code.
report_server() {
    http_status POST "$1/v1/reports" \
        "{\"notifier\":\"t\",\"interval_ms\":60000,\"servers\":[{\"addr\":\"127.0.0.1:$2\",\"load\":${4:-1},\"state\":\"$3\"}]}" \
        "${5:-}"
}
