# Loopback ports and background processes, shared by the integration tests
# (tests/integration/lib.sh) and the benchmarks (tests/bench/lib.bash).
# The sourcing library sets RUN_DIR, its temporary directory (logs and the
# ports handed out), and from its EXIT trap stops what is in _pids and calls
# release_ports.
_pids=()
_names=()

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Ports handed out are claimed in a directory shared by every test and
# benchmark on the machine: make -j runs several at once, and a port one test
# keeps closed on purpose (a dead server) must not be bound by another, nor
# two calls made before either port is bound return the same one. A claim is
# a directory holding the claiming script's PID; the script's EXIT trap
# releases its claims (release_ports), and a claim whose script is gone lapses.
PORT_CLAIMS=${TMPDIR:-/tmp}/lbkit-ports

# claim_port PORT: true when this script now holds PORT. ($$ is the script's
# PID in the $(...) subshells free_port runs in, too.)
claim_port() {
    local d=$PORT_CLAIMS/$1 owner
    mkdir -p "$PORT_CLAIMS" 2>/dev/null
    if ! mkdir "$d" 2>/dev/null; then
        owner=$(cat "$d/pid" 2>/dev/null)
        # No PID yet: being claimed right now.
        { [ -z "$owner" ] || kill -0 "$owner" 2>/dev/null; } && return 1
        rm -rf "$d"
        mkdir "$d" 2>/dev/null || return 1
    fi
    echo "$$" >"$d/pid"
    echo "$1" >>"$RUN_DIR/ports"
}

release_ports() {
    local p
    [ -f "$RUN_DIR/ports" ] || return 0
    while read -r p; do rm -rf "${PORT_CLAIMS:?}/$p"; done <"$RUN_DIR/ports"
}

# free_port: a loopback port nobody listens on or has claimed, below the
# ephemeral range (32768-60999) so that no outgoing connection takes it
# meanwhile.
free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 12700))
        port_busy "$p" && continue
        claim_port "$p" || continue
        echo "$p"
        return 0
    done
    echo "no free loopback port" >&2
    return 1
}

# wait_port PORT [SECONDS]: until something listens on PORT.
wait_port() {
    local i limit=$(( ${2:-10} * 20 ))
    for ((i = 0; i < limit; i++)); do port_busy "$1" && return 0; sleep 0.05; done
    return 1
}

# wait_for SECONDS CMD...: polls CMD until it succeeds.
wait_for() {
    local limit=$(( $1 * 20 )) i; shift
    for ((i = 0; i < limit; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
    return 1
}

# start NAME CMD...: runs CMD in the background, output to $RUN_DIR/NAME.log;
# sets $LAST_PID.
start() {
    local name=$1; shift
    "$@" >>"$RUN_DIR/$name.log" 2>&1 &
    LAST_PID=$!
    _pids+=("$LAST_PID")
    _names+=("$name")
}

# stop PID [SIGNAL]: signal and reap.
stop() { kill "-${2:-TERM}" "$1" 2>/dev/null; wait "$1" 2>/dev/null; return 0; }
