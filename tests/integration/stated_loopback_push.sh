#!/usr/bin/env bash
# A subscriber on another host that registers a loopback push URL
# (127.0.0.1, ::1, localhost) is refused with 400 and a sentence saying what
# to do: every push would come back to lbstated's own host. A URL the
# manager can reach is accepted and pushed to; from lbstated's own host a
# loopback URL stays right.
#
# "Another host" is a network namespace this test makes: lbstated runs in a
# namespace (NS_M) on 10.203.N.1 and fd00:203:N::1, the "client host" is a
# second namespace (NS_P) on 10.203.N.2 and fd00:203:N::2, joined by a veth
# pair. Nothing leaves the two namespaces; both are deleted on exit, even
# after a failure. Needs root and ip(8): skipped otherwise.
. "$(dirname "$0")/lib.sh"
RECEIVER=$top_builddir/tests/integration/lbtest-receiver

[ "$(id -u)" = 0 ] || skip_all "needs root to create network namespaces"
command -v ip >/dev/null 2>&1 || skip_all "no ip(8) to create network namespaces"

N=$(( $$ % 200 + 20 ))   # one /24 per run: runs at once do not meet
NS_M=lbk-stated-$$ NS_P=lbk-client-$$
VM=lbkm$$ VP=lbkp$$      # at most 15 characters
M4=10.203.$N.1 P4=10.203.$N.2
M6=fd00:203:$N::1 P6=fd00:203:$N::2

ns_cleanup() {
    ip netns del "$NS_M" 2>/dev/null
    ip netns del "$NS_P" 2>/dev/null
    ip link del "$VM" 2>/dev/null  # still in the root namespace if the setup stopped half-way
    true
}
# The daemons first (lib.sh's _cleanup), then the namespaces they ran in.
trap '_cleanup; ns_cleanup' EXIT
trap 'exit 143' TERM INT HUP

inm() { ip netns exec "$NS_M" "$@"; }
inp() { ip netns exec "$NS_P" "$@"; }
if ! { ip netns add "$NS_M" && ip netns add "$NS_P" &&
       ip link add "$VM" type veth peer name "$VP" &&
       ip link set "$VM" netns "$NS_M" && ip link set "$VP" netns "$NS_P" &&
       inm ip link set lo up && inp ip link set lo up &&
       inm ip addr add "$M4/24" dev "$VM" && inp ip addr add "$P4/24" dev "$VP" &&
       inm ip link set "$VM" up && inp ip link set "$VP" up; } 2>"$T/netns.err"; then
    skip_all "cannot create network namespaces: $(head -n 1 "$T/netns.err")"
fi
# IPv6 when the kernel has it (nodad: usable at once).
v6=1
{ inm ip -6 addr add "$M6/64" dev "$VM" nodad && inp ip -6 addr add "$P6/64" dev "$VP" nodad; } 2>/dev/null || v6=
diag "namespaces $NS_M ($M4${v6:+, $M6}) and $NS_P ($P4${v6:+, $P6})"

TOK=ns-token
echo "$TOK" >"$T/token"
printf 'www.a.test 127.0.0.1:8081 1\n' >"$T/groups"
# Every address of the manager's namespace, so that its own loopback and
# veth address and the client's namespace all reach it; a token is required.
listen=":7400"
[ -n "$v6" ] && listen="[::]:7400"
start lbstated ip netns exec "$NS_M" "$LBSTATED" --listen "$listen" --groups "$T/groups" \
    --state-dir "$T/state" --token-file "$T/token"
up() { inm curl -s -o /dev/null --max-time 1 "http://127.0.0.1:7400/v1/health"; }
check "lbstated listens in its namespace" wait_for 10 up
reach() { inp curl -s -o /dev/null --max-time 1 "http://$M4:7400/v1/health"; }
check "the client namespace reaches it on $M4" wait_for 5 reach

# subscribe NS URL MANAGER_HOST: POST /v1/subscribers from namespace NS to
# the manager at MANAGER_HOST (bracketed for IPv6); prints the status, the
# body in $T/body.
subscribe() {
    ip netns exec "$1" curl -s -o "$T/body" -w '%{http_code}' --max-time 5 -X POST \
        -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' \
        --data-binary "{\"url\":\"$2\",\"mode\":\"change\"}" "http://$3:7400/v1/subscribers"
}
subscribers() { inm curl -s --max-time 5 "http://127.0.0.1:7400/v1/subscribers"; }
refusal='"error":"url: host [^ ]+ means lbstated.s own host \(loopback\), but the subscription comes from [^ ]+ on another host: every push would go to lbstated.s host, not to the proxy; register a URL this manager can reach \(lbproxy --admin on an address reachable from the manager, with --token-file, or --admin-url\), or use lbproxy --state-mode pull, in which the proxy connects to the manager itself"'

# From the other host: loopback URLs refused ---------------------------------
for url in "http://127.0.0.1:7401/v1/state?source=$M4%3A7400" "http://localhost:7401/v1/state" \
    "http://127.0.0.2:7401/v1/state" "http://[::1]:7401/v1/state"; do
    is "from $P4, $url: 400" "$(subscribe "$NS_P" "$url" "$M4")" 400
    like "... with the sentence saying what to do" "$(last_body)" "$refusal"
done
like "... naming the host and the peer" "$(subscribe "$NS_P" "http://127.0.0.1:7401/v1/state" "$M4"; last_body)" \
    "host 127\.0\.0\.1 means .* comes from $P4 on another host"
is "nothing was registered" "$(subscribers)" "[]"
check "the refusal is logged" grep -q "subscriber http://127.0.0.1:7401/v1/state from [^ ]*$P4 refused: its host is this host's loopback" \
    "$T/lbstated.log"
if [ -n "$v6" ]; then
    is "from $P6 (IPv6), http://[::1]:7401: 400" "$(subscribe "$NS_P" "http://[::1]:7401/v1/state" "[$M6]")" 400
    like "... with the sentence" "$(last_body)" "host ::1 means .* comes from $P6 on another host"
    is "from $P6, http://localhost:7401: 400" "$(subscribe "$NS_P" "http://localhost:7401/v1/state" "[$M6]")" 400
else
    skip "no IPv6 in this kernel"
fi

# From the other host: a URL the manager reaches is accepted and pushed to -----
start receiver ip netns exec "$NS_P" "$RECEIVER" --listen "$P4:7401" --token "$TOK"
rup() { inp curl -s -o /dev/null --max-time 1 "http://$P4:7401/v1/health"; }
wait_for 5 rup
is "from $P4, http://$P4:7401/v1/state: 201" "$(subscribe "$NS_P" "http://$P4:7401/v1/state" "$M4")" 201
like "... registered" "$(subscribers)" "\"url\":\"http://$P4:7401/v1/state\""
pushed() { grep -Eq '^[0-9]+ [0-9]+ 1 ' "$T/receiver.log"; }
check "... and the state is pushed to it across the namespaces" wait_for 5 pushed
delivered() { subscribers | grep -q '"delivered_version":[1-9]'; }
check "... delivered (lbctl subscribers would show it)" wait_for 5 delivered
if [ -n "$v6" ]; then
    is "from $P6, http://[$P6]:7402/v1/state: 201" "$(subscribe "$NS_P" "http://[$P6]:7402/v1/state" "[$M6]")" 201
else
    skip "no IPv6 in this kernel"
fi

# From lbstated's own host, a loopback URL is right ----------------------------
is "from the manager's host on 127.0.0.1: 201" "$(subscribe "$NS_M" "http://127.0.0.1:7403/v1/state" 127.0.0.1)" 201
is "from the manager's host on its own $M4: 201" "$(subscribe "$NS_M" "http://localhost:7404/v1/state" "$M4")" 201
if [ -n "$v6" ]; then
    is "from the manager's host on ::1: 201" "$(subscribe "$NS_M" "http://[::1]:7405/v1/state" "[::1]")" 201
else
    skip "no IPv6 in this kernel"
fi

# A real lbproxy on the client host with its admin API on loopback: told why.
if [ -x "$LBPROXY" ]; then
    start lbproxy ip netns exec "$NS_P" "$LBPROXY" --listen 127.0.0.1:3128 --admin 127.0.0.1:7401 \
        --state-dir "$T/proxy" --state-server "http://$M4:7400" --token-file "$T/token"
    told() { grep -q "POST /v1/subscribers: 400 url: host 127.0.0.1 means lbstated's own host" "$T/lbproxy.log"; }
    check "lbproxy with --admin 127.0.0.1 on another host logs the refusal and what to do" wait_for 10 told
    check "... in a warning naming the state server" grep -q "state server http://$M4:7400: POST /v1/subscribers: 400 " "$T/lbproxy.log"
else
    skip "lbproxy not built"
fi
check "lbstated is still running" kill -0 "${_pids[0]}"
done_testing
