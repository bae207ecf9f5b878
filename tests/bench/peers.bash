# Peers for the proxy benchmarks: the nginx origin, HAProxy, nginx as a
# reverse proxy, Squid, tinyproxy, and lbproxy fed by a real lbstated. Each
# start_* function writes a config under $B, starts the peer as a child in the
# foreground and sets its PID in a variable named after it. Sourced after lib.bash.
. "$(dirname "${BASH_SOURCE[0]}")/../proxies.sh"

# nginx_conf DIR HTTP-LINES: an nginx.conf for one worker in the foreground,
# its pid, logs and temp files under DIR (out of /var), keep-alive held as
# long as a run lasts; HTTP-LINES go inside http { }.
nginx_conf() {
    local d=$1 t
    for t in body proxy fastcgi scgi uwsgi; do mkdir -p "$d/tmp/$t"; done
    cat >"$d/nginx.conf" <<EOF
daemon off;
worker_processes 1;
worker_rlimit_nofile 20000;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 19000; }
http {
    access_log off;
    keepalive_timeout 600s;
    keepalive_requests 100000000;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    scgi_temp_path $d/tmp/scgi;
    uwsgi_temp_path $d/tmp/uwsgi;
$2
}
EOF
}

# start_origin PORT: nginx serving $B/www/100b and $B/www/1m, one worker.
start_origin() {
    local port=$1 d=$B/origin
    mkdir -p "$d" "$B/www"
    head -c 100 /dev/zero | tr '\0' x >"$B/www/100b"
    head -c 1048576 /dev/zero | tr '\0' y >"$B/www/1m"
    chmod -R a+rX "$B/www"
    nginx_conf "$d" "\
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$port backlog=4096;
        root $B/www;
        location / { }
    }"
    start_peer origin "$port" nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log"
    ORIGIN_PID=$LAST_PID
}

# start_haproxy PORT ORIGIN_PORT [SYSLOG_PORT]: one thread, keep-alive both
# sides; with SYSLOG_PORT, an HTTP log line per request (option httplog)
# sent over UDP to 127.0.0.1:SYSLOG_PORT. HAPROXY_NAME (default haproxy)
# names its log and directory, so that two can run.
start_haproxy() {
    local port=$1 origin=$2 syslog=${3:-} name=${HAPROXY_NAME:-haproxy}
    local d=$B/$name global_log="" log=""
    mkdir -p "$d"
    if [ -n "$syslog" ]; then
        global_log="    log 127.0.0.1:$syslog local0"
        log="    log global
    option httplog"
    fi
    # maxconn: HAProxy sizes its fd needs from it; the hard limit is 20,000.
    cat >"$d/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 9000
$global_log
defaults
    mode http
$log
    option http-keep-alive
    timeout connect 5s
    timeout client 600s
    timeout server 600s
    timeout http-keep-alive 600s
frontend bench
    bind 127.0.0.1:$port
    default_backend origin
backend origin
    http-reuse always
    server origin 127.0.0.1:$origin
EOF
    start_peer "$name" "$port" haproxy -db -f "$d/haproxy.cfg"
    HAPROXY_PID=$LAST_PID
}

# start_nginx_proxy PORT ORIGIN_PORT: reverse proxy, one worker, pooled upstream.
start_nginx_proxy() {
    local port=$1 origin=$2 d=$B/nginx-proxy
    mkdir -p "$d"
    nginx_conf "$d" "\
    upstream origin {
        server 127.0.0.1:$origin;
        keepalive 128;
        keepalive_requests 100000000;
    }
    server {
        listen 127.0.0.1:$port backlog=4096;
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }
    }"
    start_peer nginx-proxy "$port" nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log"
    NGINX_PROXY_PID=$LAST_PID
}

# start_squid PORT: forward proxy, cache off, in the foreground (-N).
start_squid() {
    local port=$1 d=$B/squid
    squid_conf "$d" "$port" "access_log none" "max_filedescriptors 20000" \
        "client_persistent_connections on" "server_persistent_connections on"
    start_peer squid "$port" squid -N -f "$d/squid.conf"
    SQUID_PID=$LAST_PID
}

# start_tinyproxy PORT
start_tinyproxy() {
    local port=$1 d=$B/tinyproxy
    tinyproxy_conf "$d" "$port" "Timeout 600" "MaxClients 1000" "LogLevel Critical" "DisableViaHeader Yes"
    start_peer tinyproxy "$port" tinyproxy -d -c "$d/tinyproxy.conf"
    TINYPROXY_PID=$LAST_PID
}

# start_syslog_sink PORT: a UDP receiver on 127.0.0.1:PORT that reads every
# datagram and drops it, as a syslog daemon takes the lines off a sender.
start_syslog_sink() {
    start syslog-sink socat -u "UDP4-RECV:$1,bind=127.0.0.1,rcvbuf=4194304" OPEN:/dev/null
    SYSLOG_SINK_PID=$LAST_PID
}

# start_lbstated PORT GROUPS-FILE: the real state manager on a fresh state dir.
start_lbstated() {
    local port=$1 groups=$2 d=$B/lbstated
    mkdir -p "$d"
    start_peer lbstated "$port" "$LBSTATED" --listen "127.0.0.1:$port" --groups "$groups" \
        --state-dir "$d" --stale-after 1h
    LBSTATED_PID=$LAST_PID
}

# report_up STATED_PORT ADDR...: an lbsniff-like report saying the servers are up.
report_up() {
    local port=$1 body="" a; shift
    for a in "$@"; do body="$body${body:+,}{\"addr\":\"$a\",\"load\":1,\"state\":\"up\"}"; done
    curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' \
        --data "{\"notifier\":\"bench\",\"interval_ms\":600000,\"servers\":[$body]}" \
        "http://127.0.0.1:$port/v1/reports"
}

# start_lbproxy PORT ADMIN_PORT STATED_PORT GROUP [EXTRA FLAGS...]: p2c, history
# on (the default), state pushed on change; waits until a request through the
# proxy to GROUP succeeds, i.e. the state has arrived. LBPROXY_NAME (default
# lbproxy) names its log and state directory, so that two can run.
start_lbproxy() {
    local port=$1 admin=$2 stated=$3 group=$4 name=${LBPROXY_NAME:-lbproxy}; shift 4
    local d=$B/$name
    mkdir -p "$d"
    start_peer "$name" "$port" "$LBPROXY" --listen "127.0.0.1:$port" --admin "127.0.0.1:$admin" \
        --state-server "http://127.0.0.1:$stated" --state-mode change --policy p2c \
        --allow 127.0.0.0/8 --state-dir "$d" "$@"
    LBPROXY_PID=$LAST_PID
    local i
    for i in $(seq 1 100); do
        curl -fsS -o /dev/null -x "127.0.0.1:$port" "http://$group/100b" 2>/dev/null && return 0
        sleep 0.1
    done
    tail -n 20 "$B/$name.log" >&2
    die "$name never relayed http://$group/100b (state not received?)"
}

# start_lbproxy_fed GROUP: lbstated with GROUP made of the origin alone,
# reported up, and lbproxy fed by it; sets STATED, PROXY, PROXY_ADMIN and
# LBPROXY_PID.
start_lbproxy_fed() {
    STATED=$(free_port); PROXY=$(free_port); PROXY_ADMIN=$(free_port)
    echo "$1 127.0.0.1:$ORIGIN 1" >"$B/groups"
    start_lbstated "$STATED" "$B/groups"
    report_up "$STATED" "127.0.0.1:$ORIGIN" || die "lbstated refused the report"
    start_lbproxy "$PROXY" "$PROXY_ADMIN" "$STATED" "$1"
}

# history_account ADMIN-PORT: "requests rows-written rows-dropped write-errors"
# of an lbproxy, once its writer has caught up (at most 30 s).
history_account() {
    local i m
    for i in $(seq 1 300); do
        m=$(curl -fsS "http://127.0.0.1:$1/metrics") || return 1
        awk '$1 == "lbproxy_history_queued" { exit !($2 == 0) }' <<<"$m" && break
        sleep 0.1
    done
    awk '$1 == "lbproxy_requests_total" { r = $2 } $1 == "lbproxy_history_rows_written" { w = $2 }
         $1 == "lbproxy_history_rows_dropped" { d = $2 } $1 == "lbproxy_history_write_errors" { e = $2 }
         END { printf "%d %d %d %d\n", r, w, d, e }' <<<"$m"
}

# wrk runs -------------------------------------------------------------------
# wrk_script FILE FORWARD-HOST: absolute-form for a forward proxy without a
# request() function, so wrk builds the request once; done() prints the figures.
wrk_script() {
    {
        if [ "$2" != - ]; then
            echo "wrk.path = \"http://$2\" .. wrk.path"
            echo "wrk.headers[\"Host\"] = \"$2\""
        fi
        cat <<'EOF'
done = function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("RESULT %d %d %d %d %d\n", summary.requests, summary.duration,
        summary.bytes, e.connect + e.read + e.write + e.status + e.timeout,
        latency:percentile(99)))
end
EOF
    } >"$1"
}

# measure NAME PORT HOST PID FILE SECONDS [CONNS]: one wrk run (CONNS, or
# $CONNS, or $CONNS_1M for the 1m file, connections); prints
# "req/s p99-ms MiB/s errors cpu-proxy% cpu-wrk% cpu-origin%".
measure() {
    local name=$1 port=$2 host=$3 pid=$4 file=$5 secs=$6
    local lua=$B/$name.lua p0=0 p1=0 o0 o1 t0 t1 out conns=${CONNS:-50}
    [ "$file" = 1m ] && conns=${CONNS_1M:-$conns}
    [ -n "${7:-}" ] && conns=$7
    wrk_script "$lua" "$host"
    [ "$pid" != - ] && p0=$(cpu_ticks "$pid")
    o0=$(cpu_ticks "$ORIGIN_PID")
    t0=$(date +%s%N)
    ( wrk -t1 -c"$conns" -d"${secs}s" -s "$lua" "http://127.0.0.1:$port/$file" >"$B/wrk.out" 2>&1
      times >"$B/wrk.times" )
    t1=$(date +%s%N)
    [ "$pid" != - ] && p1=$(cpu_ticks "$pid")
    o1=$(cpu_ticks "$ORIGIN_PID")
    out=$(grep '^RESULT' "$B/wrk.out") || { cat "$B/wrk.out" >&2; die "wrk through $name failed"; }
    # times: second line is the children's user and system time, "0m1.230s 0m0.450s".
    sed -n 2p "$B/wrk.times" | awk -v r="$out" -v p="$((p1 - p0))" -v o="$((o1 - o0))" \
        -v hz="$HZ" -v wall="$(( (t1 - t0) / 1000 ))" -v proxied="$pid" '
        function secs(s,  m) { m = s; sub(/m.*/, "", m); sub(/^[0-9]+m/, "", s); sub(/s$/, "", s); return m * 60 + s }
        { split(r, f, " "); n = f[2]; us = f[3]; bytes = f[4]; err = f[5]; p99 = f[6]
          w = (secs($1) + secs($2)) * 1e6
          printf "%.0f %.2f %.1f %d %s %.0f %.0f\n", n / us * 1e6, p99 / 1000, bytes / us * 1e6 / 1048576,
              err, proxied == "-" ? "-" : sprintf("%.0f", p / hz * 1e6 / wall * 100),
              w / wall * 100, o / hz * 1e6 / wall * 100 }'
}
