# Configurations of real forward proxies (Squid, tinyproxy) for the tests
# and benchmarks that put one behind or beside lbproxy: foreground, loopback
# only, no cache directory, pid file and logs in the given directory.
# Run as root, both drop their privileges (Squid only with
# cache_effective_user set), so the directory is made theirs.

# proxy_dir DIR USER:GROUP: DIR, writable by the proxy's user when root.
proxy_dir() {
    mkdir -p "$1"
    if [ "$(id -u)" -eq 0 ]; then
        chown "$2" "$1"
        chmod o+x "$(dirname "$1")"   # the proxy's user must reach its directory
    fi
}

# squid_conf DIR PORT [LINE...]: DIR/squid.conf for Squid on 127.0.0.1:PORT,
# clients from loopback only, no access log unless a LINE asks for one;
# LINEs go before the access rules (acls, "http_access deny ..."). Run it
# as: squid -N -f DIR/squid.conf
squid_conf() {
    local d=$1 port=$2 line
    shift 2
    proxy_dir "$d" proxy:proxy
    {
        echo "http_port 127.0.0.1:$port"
        echo "pid_filename $d/squid.pid"
        echo "cache_log $d/cache.log"
        echo "cache_store_log none"
        echo "cache deny all"
        echo "cache_mem 0 MB"
        echo "coredump_dir $d"
        echo "netdb_filename none"
        echo "pinger_enable off"
        echo "visible_hostname lbkit-test"
        echo "shutdown_lifetime 1 seconds"
        [ "$(id -u)" -eq 0 ] && echo "cache_effective_user proxy"
        echo "acl loopback_clients src 127.0.0.0/8"
        for line in "$@"; do echo "$line"; done
        echo "http_access allow loopback_clients"
        echo "http_access deny all"
    } >"$d/squid.conf"
}

# tinyproxy_conf DIR PORT [LINE...]: DIR/tinyproxy.conf for tinyproxy on
# 127.0.0.1:PORT, clients from loopback only. Run it as:
# tinyproxy -d -c DIR/tinyproxy.conf
tinyproxy_conf() {
    local d=$1 port=$2 line
    shift 2
    proxy_dir "$d" nobody:nogroup
    {
        [ "$(id -u)" -eq 0 ] && printf 'User nobody\nGroup nogroup\n'
        echo "Port $port"
        echo "Listen 127.0.0.1"
        echo "Allow 127.0.0.0/8"
        echo "LogFile \"$d/tinyproxy.log\""
        echo "PidFile \"$d/tinyproxy.pid\""
        for line in "$@"; do echo "$line"; done
    } >"$d/tinyproxy.conf"
}
