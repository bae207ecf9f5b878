#!/usr/bin/env bash
# The README's main job: scripts/demo --once runs the whole topology on
# loopback with every tool's default flags, prints a status table, pins a
# server and shows it take no traffic, and (as root) shows a server loaded by
# a client that runs no lbproxy avoided by the proxy, and back afterwards.
. "$(dirname "$0")/lib.sh"

[ -x "$LBPROXY" ] || skip_all "lbproxy is not built"
LBKIT_BUILD=$top_builddir TMPDIR=$T timeout 180 "$top_srcdir/scripts/demo" --once > "$T/demo.out" 2> "$T/demo.err"
rc=$?
is "scripts/demo --once exits 0" "$rc" 0
out=$(cat "$T/demo.out")
like "it prints a status table" "$out" 'GROUP +SERVER +LOAD +RATIO +RELLOAD +STATE +FLAGS +AGE'
like "it pins a server and shows it" "$out" '127\.0\.0\.1:[0-9]+ +down +pinned'
like "requests went through the proxy" "$out" 'web1 +127\.0\.0\.1:[0-9]+ +2 +[0-9]+% +[1-9][0-9]*%'
pinned_run=$(printf '%s\n' "$out" | sed -n '/web2 gets none/,/unpin/p')
like "the pinned server gets no traffic" "$pinned_run" 'web2 +127\.0\.0\.1:[0-9]+ +1 +0% +0%'
back_run=$(printf '%s\n' "$out" | sed -n '/web2 is back/,$p')
like "after unpin it is back" "$back_run" 'web2 +127\.0\.0\.1:[0-9]+ +1 +[0-9]+% +[1-9][0-9]*%'
if [ "$(id -u)" -eq 0 ]; then
    foreign_run=$(printf '%s\n' "$out" | sed -n '/keeps away/,/foreign client stopped/p')
    like "web1, loaded by a client that runs no lbproxy, gets at most 5 %" "$foreign_run" 'web1 +127\.0\.0\.1:[0-9]+ +2 +0% +[0-5]%'
    returned_run=$(printf '%s\n' "$out" | sed -n '/web1 is back/,/relay history/p')
    like "when that load stops, web1 is back" "$returned_run" 'web1 +127\.0\.0\.1:[0-9]+ +2 +[0-9]+% +[1-9][0-9]%'
else
    skip "the foreign-load part of the demo needs root (lbsniff captures on lo)"
fi
like "the history is shown in Squid's format" "$out" 'TCP_MISS/200 [0-9]+ GET http://www\.demo\.test/demo'
check "nothing is left running" sh -c "! pgrep -f '$T/[l]bkit-demo' >/dev/null"
[ "$rc" -eq 0 ] || diag "$(tail -n 20 "$T/demo.err")"
done_testing
