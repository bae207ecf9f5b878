# Shared helpers for the benchmarks (make bench). Source it from a bench
# script: . "$(dirname "$0")/lib.bash"
# Every peer is started as a child of the script and stopped by its PID by
# the EXIT trap; nothing is left running and no system service is used.
set -u

: "${top_builddir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
LBSTATED=$top_builddir/bin/lbstated/lbstated
LBPROXY=$top_builddir/bin/lbproxy/lbproxy
BENCHBIN=$top_builddir/tests/bench
HZ=$(getconf CLK_TCK)

# Peers that drop privileges (nginx workers, squid) must read and write here.
B=$(mktemp -d "${TMPDIR:-/tmp}/lbkit-bench.XXXXXX")
chmod 755 "$B"

_bench_cleanup() {
    local i p rc
    # Newest first: lbproxy goes before the lbstated it unsubscribes from.
    for ((i = ${#_pids[@]} - 1; i >= 0; i--)); do
        p=${_pids[i]}
        kill "$p" 2>/dev/null || continue
        for _ in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
        rc=$?
        # 143: stopped by our SIGTERM, as asked. Anything else is worth a line.
        case $rc in 0|143) ;; *) echo "# note: ${_names[i]} (pid $p) ended with status $rc when stopped" ;; esac
    done
    release_ports
    if [ -n "${KEEP_TMP:-}" ]; then echo "# logs kept in $B"; else rm -rf "$B"; fi
}
trap _bench_cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '%s\n' "$*"; }
die() { say "$(basename "$0"): $*" >&2; exit 1; }
# skip REASON: this benchmark cannot run here; says so instead of faking figures.
skip() { say "SKIP: $*"; exit 0; }
# need_exe PATH NAME: skip when a binary of the tree was not built.
need_exe() { [ -x "$1" ] || skip "$2 not built ($1 missing)"; }

# need_cmds WHAT CMD...: skips the benchmark WHAT when a command is missing.
need_cmds() {
    local what=$1 c; shift
    for c in "$@"; do
        command -v "$c" >/dev/null || skip "$what: $c not installed (tests/bench/setup.sh installs it)"
    done
}

# The hard limit on open files here is 20,000; every peer inherits the raised soft limit.
raise_fd_limit() {
    local hard
    hard=$(ulimit -Hn)
    [ "$hard" = unlimited ] && hard=20000
    [ "$hard" -gt 20000 ] && hard=20000
    ulimit -n "$hard" || die "cannot raise the open files limit to $hard"
}

# Ports and processes -------------------------------------------------------
RUN_DIR=$B
. "$(dirname "${BASH_SOURCE[0]}")/../procs.sh"

# start_peer NAME PORT CMD...: start and wait for PORT; dies with the log tail.
start_peer() {
    local name=$1 port=$2; shift 2
    start "$name" "$@"
    if ! wait_port "$port" 15; then
        tail -n 20 "$B/$name.log" >&2
        die "$name did not listen on 127.0.0.1:$port"
    fi
}

# /proc figures ----------------------------------------------------------------
# cpu_ticks PID...: utime+stime (clock ticks) summed over the processes and
# all their descendants (nginx workers, squid kids), threads included.
cpu_ticks() {
    cat /proc/[0-9]*/stat 2>/dev/null | awk -v roots=" $* " '
        { pid = $1; rest = $0; sub(/^.*\) /, "", rest); split(rest, f, " ")
          ppid[pid] = f[2]; t[pid] = f[12] + f[13] }
        END {
            n = split(roots, r, " "); for (i = 1; i <= n; i++) in_tree[r[i]] = 1
            do { grown = 0
                 for (p in ppid) if (!(p in in_tree) && (ppid[p] in in_tree)) { in_tree[p] = 1; grown = 1 }
            } while (grown)
            for (p in in_tree) sum += t[p]
            print sum + 0
        }'
}
# rss_kib PID: resident set size (KiB) of the process and its descendants
# (an nginx master and its worker); shared pages count once per process.
rss_kib() {
    local p sum=0 kib
    for p in $(tree_pids "$1"); do
        kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
        sum=$((sum + ${kib:-0}))
    done
    echo "$sum"
}
# tree_pids PID: the process and its descendants.
tree_pids() {
    cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '
        { rest = $0; sub(/^.*\) /, "", rest); split(rest, f, " "); ppid[$1] = f[2] }
        END { t[root] = 1
              do { grown = 0; for (p in ppid) if (!(p in t) && (ppid[p] in t)) { t[p] = 1; grown = 1 } } while (grown)
              for (p in t) if (p in ppid) print p }'
}

# Numbers ------------------------------------------------------------------------
# median: of the numbers on stdin (one a line).
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# percentile P: nearest-rank percentile of the numbers on stdin.
percentile() { sort -g | awk -v p="$1" '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit } r = int((p / 100) * NR + 0.999999); if (r < 1) r = 1; print v[r] }'; }
# verdict OK-EXPRESSION: "met" or "MISSED" from an awk condition.
verdict() { awk "BEGIN { print (($1) ? \"met\" : \"MISSED\") }"; }
