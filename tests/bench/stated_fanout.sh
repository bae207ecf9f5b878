#!/bin/bash
# lbstated fan-out: BENCH_SUBSCRIBERS (1,000) subscribers in mode "change",
# all held by one receiver process (fanout_receiver); BENCH_ROUNDS (20) times
# a report flips a server up or down, and the receiver times how long until
# the last subscriber holds the new version. A second run does the same
# amid a report storm (every server's load changing every 100 ms): pushes per
# subscriber per second must stay at 1 / --push-min-interval (plus the
# flips), and the flips must still arrive within 200 ms (p99).
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/peers.bash"

SUBS=${BENCH_SUBSCRIBERS:-1000}
ROUNDS=${BENCH_ROUNDS:-20}
TOOL=$BENCHBIN/fanout_receiver

need_exe "$LBSTATED" lbstated
need_exe "$TOOL" tests/bench/fanout_receiver
raise_fd_limit

cat >"$B/groups" <<EOF
fanout.bench 127.0.1.1:8080 2
fanout.bench 127.0.1.2:8080 1
EOF
PORT=$(free_port)
start_lbstated "$PORT" "$B/groups"
"$TOOL" --stated "127.0.0.1:$PORT" --subscribers "$SUBS" --rounds "$ROUNDS" --server 127.0.1.1:8080 --stated-pid "$LBSTATED_PID" \
    || { tail -n 20 "$B/lbstated.log" >&2; die "fan-out run failed"; }
say ""
say "amid a report storm:"
"$TOOL" --stated "127.0.0.1:$PORT" --subscribers "$SUBS" --rounds "$ROUNDS" --server 127.0.1.1:8080 --stated-pid "$LBSTATED_PID" \
    --gap-ms 500 --storm-ms 100 --storm-server 127.0.1.1:8080 --storm-server 127.0.1.2:8080 \
    || { tail -n 20 "$B/lbstated.log" >&2; die "fan-out run amid a storm failed"; }
