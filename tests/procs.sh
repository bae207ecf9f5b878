# Loopback ports and background processes, shared by the integration tests
# (tests/integration/lib.sh) and the benchmarks (tests/bench/lib.bash).
# The sourcing library sets RUN_DIR, its temporary directory (logs and the
# ports handed out), and stops what is in _pids from its EXIT trap.
_pids=()
_names=()

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port: a loopback port nobody listens on, below the ephemeral range
# (32768-60999) so that no outgoing connection takes it meanwhile. Callers
# run it in $(...), a subshell that forgets every variable: the ports handed
# out are kept in $RUN_DIR/ports, so two calls made before either port is bound
# never return the same one.
free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 12700))
        grep -qx "$p" "$RUN_DIR/ports" 2>/dev/null && continue
        port_busy "$p" && continue
        echo "$p" >>"$RUN_DIR/ports"
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
