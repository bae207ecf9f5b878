#!/bin/bash
# lbstated fan-out: BENCH_SUBSCRIBERS (1,000) subscribers in mode "change",
# all held by one receiver process (fanout_receiver); BENCH_ROUNDS (20) times
# a report flips a server up or down, and the receiver times how long until
# the last subscriber holds the new version.
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
