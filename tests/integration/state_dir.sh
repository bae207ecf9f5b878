#!/bin/bash
# A daemon's state directory: one lbstated and one lbproxy per directory
# (a second one exits 75 naming the first one's pid, and the first one's
# state is untouched), both may share a directory, and the state files are
# readable by their owner alone.
. "$(dirname "$0")/lib.sh"

D=$T/state
S1=$(free_port); S2=$(free_port)
start lbstated1 "$LBSTATED" --listen "127.0.0.1:$S1" --state-dir "$D"
STATED_PID=$LAST_PID
wait_port "$S1" || not_ok "lbstated started"
"$LBSTATED" --listen "127.0.0.1:$S2" --state-dir "$D" >"$T/second.out" 2>"$T/second.err"
is "a second lbstated on the same --state-dir exits 75" "$?" 75
like "it names the directory and the running one's pid" "$(cat "$T/second.err")" \
    "^lbstated: state directory $D is in use by lbstated \\(pid $STATED_PID\\)"
is "the first one still answers" "$(http_status GET "http://127.0.0.1:$S1/v1/health")" 200

A1=$(free_port); P1=$(free_port); A2=$(free_port); P2=$(free_port)
start lbproxy1 "$LBPROXY" --listen "127.0.0.1:$P1" --admin "127.0.0.1:$A1" --state-dir "$D" \
    --state-server "http://127.0.0.1:$S1"
PROXY_PID=$LAST_PID
wait_port "$A1" || not_ok "lbproxy started beside lbstated in the same directory"
ok "lbproxy and lbstated share a state directory"
"$LBPROXY" --listen "127.0.0.1:$P2" --admin "127.0.0.1:$A2" --state-dir "$D" \
    --state-server "http://127.0.0.1:$S1" >"$T/second.out" 2>"$T/second.err"
is "a second lbproxy on the same --state-dir exits 75" "$?" 75
like "it names the running one's pid" "$(cat "$T/second.err")" "in use by lbproxy \\(pid $PROXY_PID\\)"

for f in lbstated.db lbproxy.db; do
    is "$f is readable by its owner alone" "$(stat -c %a "$D/$f")" 600
done
for f in "$D"/*.db-wal; do
    [ -e "$f" ] && is "$(basename "$f") is readable by its owner alone" "$(stat -c %a "$f")" 600
done

# A state file made 0644 by an earlier version is tightened at start.
stop "$STATED_PID"
chmod 644 "$D/lbstated.db"
start lbstated3 "$LBSTATED" --listen "127.0.0.1:$S2" --state-dir "$D"
wait_port "$S2" || not_ok "lbstated started again once the first one stopped"
ok "the directory is free again once its lbstated stopped"
is "an existing state file is made 0600" "$(stat -c %a "$D/lbstated.db")" 600

done_testing
