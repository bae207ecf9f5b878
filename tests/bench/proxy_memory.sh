#!/bin/bash
# lbproxy memory with many idle keep-alive clients: idle_clients opens
# BENCH_IDLE connections (default 10,000) through the proxy, sends one
# request on each, reads the answer and keeps them all open and idle; then
# the proxy's VmRSS is read from /proc. HAProxy, nginx and Squid are measured
# the same way for comparison, at most 9,000 clients: HAProxy sizes its file
# limit from maxconn and the hard limit here is 20,000.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/peers.bash"

CLIENTS=${BENCH_IDLE:-10000}
PEER_CLIENTS=$(( CLIENTS < 9000 ? CLIENTS : 9000 ))
GROUP=bench.lbkit
TOOL=$BENCHBIN/idle_clients

need_exe "$TOOL" "tests/bench/idle_clients"
need_cmds "proxy memory" nginx haproxy squid curl
raise_fd_limit

ORIGIN=$(free_port)
start_origin "$ORIGIN"

# hold NAME PID PORT CLIENTS TARGET HOST: prints one table row.
hold() {
    local name=$1 pid=$2 port=$3 n=$4 target=$5 host=$6 before after ready i tool
    sleep 0.5
    before=$(rss_kib "$pid")
    "$TOOL" --proxy "127.0.0.1:$port" --target "$target" --host "$host" --connections "$n" \
        --timeout 120 >"$B/clients-$name.out" 2>&1 &
    tool=$!
    _pids+=("$tool")
    _names+=(idle_clients)
    for i in $(seq 1 1300); do
        grep -q '^ready' "$B/clients-$name.out" && break
        kill -0 "$tool" 2>/dev/null || break
        sleep 0.1
    done
    ready=$(grep '^ready' "$B/clients-$name.out") || { cat "$B/clients-$name.out" >&2; die "idle_clients through $name did not finish"; }
    sleep 1   # let the proxy settle (history batches, pools)
    after=$(rss_kib "$pid")
    stop "$tool"
    set -- $ready
    printf '%-12s %8d %8d %8d %12.1f %12.1f %11.1f\n' "$name" "$n" "$2" "$4" \
        "$(awk -v k="$before" 'BEGIN { print k / 1024 }')" "$(awk -v k="$after" 'BEGIN { print k / 1024 }')" \
        "$(awk -v a="$after" -v b="$before" -v n="$2" 'BEGIN { print n ? (a - b) / n : 0 }')"
    echo "$name $after" >>"$B/rss"
    [ "$4" = 0 ] || sed -n 's/^ready .*(\(.*\))$/  first failure: \1/p' "$B/clients-$name.out"
}

echo "proxy memory: RSS with idle keep-alive clients (each sent one request, then stays open)"
printf '%-12s %8s %8s %8s %12s %12s %11s\n' path clients idle failed "RSS before" "RSS after" "KiB/client"
: >"$B/rss"
lbproxy_ran=no
if [ -x "$LBPROXY" ] && [ -x "$LBSTATED" ]; then
    start_lbproxy_fed "$GROUP"
    hold lbproxy "$LBPROXY_PID" "$PROXY" "$CLIENTS" "http://$GROUP/100b" "$GROUP"
    stop "$LBPROXY_PID"
    lbproxy_ran=yes
fi

P=$(free_port); start_haproxy "$P" "$ORIGIN"
hold haproxy "$HAPROXY_PID" "$P" "$PEER_CLIENTS" /100b "127.0.0.1:$ORIGIN"
stop "$HAPROXY_PID"
P=$(free_port); start_nginx_proxy "$P" "$ORIGIN"
hold nginx-proxy "$NGINX_PROXY_PID" "$P" "$PEER_CLIENTS" /100b "127.0.0.1:$ORIGIN"
stop "$NGINX_PROXY_PID"
P=$(free_port); start_squid "$P"
hold squid "$SQUID_PID" "$P" "$PEER_CLIENTS" "http://127.0.0.1:$ORIGIN/100b" "127.0.0.1:$ORIGIN"
stop "$SQUID_PID"
echo "(RSS in MiB; nginx counts master and worker; tinyproxy closes every connection, so it is left out)"

if [ $lbproxy_ran = yes ]; then
    rss=$(awk '$1 == "lbproxy" { print $2 }' "$B/rss")
    echo "target lbproxy RSS with $CLIENTS idle clients <= 32 MiB: $(verdict "$rss <= 32768")"
else
    [ -x "$LBPROXY" ] || echo "SKIP: lbproxy not built ($LBPROXY missing)"
    [ -x "$LBSTATED" ] || echo "SKIP: lbproxy row needs lbstated, not built ($LBSTATED missing)"
fi
