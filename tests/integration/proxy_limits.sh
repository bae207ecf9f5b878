#!/bin/bash
# Limits: out of file descriptors, lbproxy pauses accepting instead of
# spinning and serves again once descriptors are free; idle keep-alive
# connections are closed after --idle-timeout; at --max-connections new
# clients wait until one closes.
. "$(dirname "$0")/lib.sh"

BP=$(free_port); start backend "$BACKEND" --listen 127.0.0.1:$BP --name b1
PP=$(free_port); AP=$(free_port); SP=$(free_port)
start proxy bash -c "ulimit -n 64 && exec \"\$0\" \"\$@\"" "$LBPROXY" --listen 127.0.0.1:$PP --admin 127.0.0.1:$AP \
    --state-dir "$T" --state-server http://127.0.0.1:$SP --idle-timeout 1s
PROXY_PID=$LAST_PID
wait_port $BP && wait_port $PP || { not_ok "daemons started"; done_testing; }
B=http://127.0.0.1:$BP

# Idle keep-alive connection: closed by the proxy after --idle-timeout.
exec 3<>"/dev/tcp/127.0.0.1/$PP"
printf 'GET %s/ HTTP/1.1\r\nHost: a\r\n\r\n' "$B" >&3
start_s=$(date +%s%N)
if timeout 5 cat <&3 >"$T/raw"; then ok "idle keep-alive connection closed by the proxy"
else not_ok "idle keep-alive connection closed by the proxy"; fi
exec 3<&-
ms=$(( ($(date +%s%N) - start_s) / 1000000 ))
if [ "$ms" -ge 800 ] && [ "$ms" -le 3000 ]; then ok "closed after about --idle-timeout (${ms} ms)"
else not_ok "closed after about --idle-timeout (${ms} ms)"; fi
like "the answer came first" "$(head -n 1 "$T/raw")" "^HTTP/1.1 200"

# Open more connections than the proxy has descriptors for.
fds=()
for i in $(seq 1 80); do
    exec {fd}<>"/dev/tcp/127.0.0.1/$PP" && fds+=("$fd")
done
wait_for 5 grep -q "pausing new connections" "$T/proxy.log"
like "out of descriptors: accepting paused, said once per pause" "$(grep -c 'pausing new connections' "$T/proxy.log")" "^[1-9]"
check "the proxy is still alive" kill -0 "$PROXY_PID"
for fd in "${fds[@]}"; do exec {fd}<&-; done
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -x http://127.0.0.1:$PP $B/)
is "descriptors free again: served" "$code" "200"
cpu=$(awk '{ print $14 + $15 }' "/proc/$PROXY_PID/stat")
sleep 1
cpu2=$(awk '{ print $14 + $15 }' "/proc/$PROXY_PID/stat")
if [ $((cpu2 - cpu)) -le 20 ]; then ok "no busy loop afterwards ($((cpu2 - cpu)) ticks in 1 s)"
else not_ok "busy loop: $((cpu2 - cpu)) ticks in 1 s"; fi

# --max-connections: at the limit new clients wait in the kernel's queue
# and are served once a connection closes.
CP=$(free_port); CA=$(free_port)
start capped "$LBPROXY" --listen 127.0.0.1:$CP --admin 127.0.0.1:$CA --state-dir "$T/capped" \
    --state-server http://127.0.0.1:$SP --max-connections 2
wait_port $CP || not_ok "capped proxy started"
exec 4<>"/dev/tcp/127.0.0.1/$CP" 5<>"/dev/tcp/127.0.0.1/$CP"
wait_for 5 grep -q "max-connections 2 reached" "$T/capped.log"
like "at --max-connections: said in the log" "$(cat "$T/capped.log")" "--max-connections 2 reached: new clients wait"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 -x http://127.0.0.1:$CP $B/)
is "a third client waits (no answer within 1 s)" "$code" "000"
# (without the two connections: a child holding them would keep them open)
curl -s -o "$T/waited" -w '%{http_code}' --max-time 10 -x http://127.0.0.1:$CP $B/ >"$T/waited.code" 4<&- 5<&- &
waiter=$!
sleep 0.5
exec 4<&-
wait "$waiter"
is "once a client closes, the waiting one is served" "$(cat "$T/waited.code")" 200
like "the limit is counted" "$(curl -s "http://127.0.0.1:$CA/metrics")" 'lbproxy_connection_limit_reached_total [1-9]'
exec 5<&-
done_testing
