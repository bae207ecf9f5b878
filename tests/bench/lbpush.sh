#!/bin/bash
# lbpush fan-out: a proxy map sent to BENCH_PUSH_CLIENTS (1,000) lbproxy-like
# admin APIs on loopback, all held by one receiver process (table_receiver,
# which answers as lbproxy does: 200 for a newer version, 409 with the version
# in force otherwise). Wall time of the whole run with -j 32 and -j 128, each
# sending a new version, then a run where every client already holds it, and
# one with -j 1000 (every transfer at once: lbpush raises its open files limit).
# Target: <= 5 s for 1,000 clients.
. "$(dirname "$0")/lib.bash"

CLIENTS=${BENCH_PUSH_CLIENTS:-1000}
LBPUSH=$top_builddir/bin/lbpush/lbpush
TOOL=$BENCHBIN/table_receiver

need_exe "$LBPUSH" lbpush
need_exe "$TOOL" tests/bench/table_receiver
raise_fd_limit

start receiver "$TOOL" --listeners "$CLIENTS" --clients "$B/clients"
for _ in $(seq 1 200); do [ -s "$B/clients" ] && break; sleep 0.05; done
[ -s "$B/clients" ] || { tail -n 20 "$B/receiver.log" >&2; die "the receiver did not list its listeners"; }
printf '# bench map\n*.a.bench  127.0.0.1:3128,127.0.0.1:3129\nintra.bench  DIRECT\n*  DIRECT\n' >"$B/proxymap"

# run J VERSION: lbpush to every client; prints "J seconds ok-count".
run() {
    local t0 t1 ok
    t0=$(date +%s.%N)
    "$LBPUSH" -j "$1" --version "$2" -o tsv -f "$B/proxymap" --clients "$B/clients" >"$B/out.$1.$2" 2>"$B/err.$1.$2"
    local rc=$?
    t1=$(date +%s.%N)
    ok=$(awk -F '\t' '$2 == "ok"' "$B/out.$1.$2" | wc -l)
    [ "$rc" -eq 0 ] || say "# lbpush -j $1 exited $rc: $(cat "$B/err.$1.$2")"
    awk -v a="$t0" -v b="$t1" -v j="$1" -v ok="$ok" -v n="$CLIENTS" -v why="$3" \
        'BEGIN { printf "%-8s %-26s %8.2f s  %d/%d ok\n", "-j " j, why, b - a, ok, n }'
}

say "lbpush to $CLIENTS clients on loopback (target: <= 5 s)"
printf '%-8s %-26s %10s  %s\n' PARALLEL RUN WALL CLIENTS
run 32 1 "new version"
run 128 2 "new version"
run 128 2 "already in force"
run 1000 3 "new version, all at once"
