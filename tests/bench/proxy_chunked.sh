#!/bin/bash
# Chunked-body relay rate, before and after: this tree's lbproxy against a
# BASELINE lbproxy built from an earlier commit, and HAProxy (one thread,
# which decodes and re-encodes chunked bodies) as the like-for-like peer.
# lbtest-backend is the origin: responses are its /chunked?n=SIZE&size=CHUNK
# (a chunked body of SIZE bytes in chunks of CHUNK), fetched with wrk
# (keep-alive); request bodies are uploaded chunked (Transfer-Encoding:
# chunked, chunks of CHUNK) by wrk to its / (which reads the body and answers
# a short text). Before the rounds every path relays every case once with curl
# and the body that arrives is checked, so that a proxy breaking the bodies
# cannot look fast.
# Both lbproxies run side by side, fed by the same lbstated, history off
# (--history-max-rows 0; HAProxy logs nothing either), so that the relay is
# what is measured. Rounds are paired and interleaved: current and baseline one
# after the other, the order swapped every round, HAProxy at the ends; per
# case the table gives the medians of req/s, body MB/s (10^6 bytes of decoded
# body) and the proxy's CPU, then the medians of the per-round ratios
# current/baseline (req/s, and body bytes per CPU-second of the proxy) and
# current/HAProxy, and whether the target holds: current/baseline >= 0.90 in
# every case. On two cores wrk and the backend take their share of the CPU the
# proxy needs, so a slower relay lowers req/s less than it lowers the bytes
# per proxy CPU-second: both verdicts are printed. The CPU that other
# processes used during the rounds is printed too; a build or a test run
# beside the benchmark skews every figure.
# Baseline: BASELINE_REV (default 2cec516, the commit before the canonical
# chunked relay) is built once in a temporary git worktree, configured as this
# build directory was (config.status --config), and the binary kept in
# $top_builddir/bench-baseline/<commit>/ for the next run; LBPROXY_BASELINE=
# /path/to/lbproxy uses that binary instead. Out of a git checkout (a
# release tarball) the baseline columns are skipped, and said so.
# Environment: BENCH_DURATION (s per run, 2), BENCH_RUNS (rounds, 7),
# BENCH_CONNS (10), BENCH_CASES (names of the cases to run, default all),
# BASELINE_REV, LBPROXY_BASELINE.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/peers.bash"

DURATION=${BENCH_DURATION:-2}
RUNS=${BENCH_RUNS:-7}
CONNS=${BENCH_CONNS:-10}
BASELINE_REV=${BASELINE_REV:-2cec516}
BACKEND_BIN=$top_builddir/tests/backend/lbtest-backend
GROUP=bench.lbkit
TARGET=0.90

# cases: name, direction (resp: download, req: upload), body bytes, chunk bytes.
cases=("resp-64K/16K resp 65536 16384"
       "resp-1M/16K resp 1048576 16384"
       "resp-1M/1K resp 1048576 1024"
       "req-64K/16K req 65536 16384"
       "req-1M/1K req 1048576 1024")
if [ -n "${BENCH_CASES:-}" ]; then   # e.g. BENCH_CASES="resp-1M/1K req-1M/1K"
    all=("${cases[@]}"); cases=()
    for c in "${all[@]}"; do [[ " $BENCH_CASES " == *" ${c%% *} "* ]] && cases+=("$c"); done
    [ ${#cases[@]} -gt 0 ] || die "BENCH_CASES=$BENCH_CASES names none of: $(printf '%s ' "${all[@]%% *}")"
fi

need_exe "$LBPROXY" lbproxy
need_exe "$LBSTATED" lbstated
need_exe "$BACKEND_BIN" lbtest-backend
need_cmds "chunked relay" wrk haproxy curl
raise_fd_limit

# Baseline ------------------------------------------------------------------------
# baseline_lbproxy: sets BASE_BIN to the baseline lbproxy, building it when
# it is not cached; otherwise sets BASE_WHY and returns 1.
_wt=""
_baseline_cleanup() {
    [ -n "$_wt" ] || return 0
    git -C "$top_srcdir" worktree remove --force "$_wt" >/dev/null 2>&1
    git -C "$top_srcdir" worktree prune >/dev/null 2>&1
    _wt=""
}
trap '_baseline_cleanup; _bench_cleanup' EXIT

baseline_lbproxy() {
    local sha dir lock args rc
    command -v git >/dev/null || { BASE_WHY="git not installed"; return 1; }
    git -C "$top_srcdir" rev-parse --git-dir >/dev/null 2>&1 ||
        { BASE_WHY="$top_srcdir is not a git checkout (a release tarball?), no commit to build"; return 1; }
    sha=$(git -C "$top_srcdir" rev-parse --verify -q "$BASELINE_REV^{commit}") ||
        { BASE_WHY="revision $BASELINE_REV not found in $top_srcdir"; return 1; }
    # Configured as this build directory was: the same compiler flags on both
    # sides (a build-sanitize directory gets a sanitized baseline).
    args=()
    if [ -x "$top_builddir/config.status" ]; then
        eval "args=($("$top_builddir/config.status" --config))"
    fi
    dir=$top_builddir/bench-baseline/${sha:0:12}
    [ ${#args[@]} -gt 0 ] && dir=$dir-$(printf '%s\n' "${args[@]}" | cksum | cut -d' ' -f1)
    BASE_BIN=$dir/lbproxy
    [ -x "$BASE_BIN" ] && return 0
    mkdir -p "$dir" || { BASE_WHY="cannot create $dir"; return 1; }
    # One build at a time (two make bench in the same build directory).
    exec {lock}>"$dir/.lock"
    if ! flock -w 1800 "$lock"; then
        exec {lock}>&-
        BASE_WHY="timed out waiting for another build of the baseline ($dir/.lock)"
        return 1
    fi
    if [ -x "$BASE_BIN" ]; then exec {lock}>&-; return 0; fi
    say "building the baseline lbproxy ($BASELINE_REV, ${sha:0:12}) in a temporary git worktree; log: $dir/build.log"
    _wt=$B/baseline-src
    {
        git -C "$top_srcdir" worktree add --detach "$_wt" "$sha" &&
        (cd "$_wt" && timeout 600 autoreconf -fi) &&
        mkdir -p "$B/baseline-build" &&
        (cd "$B/baseline-build" && timeout 600 "$_wt/configure" -q "${args[@]}") &&
        timeout 1800 make -C "$B/baseline-build" -j2 -s bin/lbproxy/lbproxy &&
        cp "$B/baseline-build/bin/lbproxy/lbproxy" "$dir/lbproxy.tmp" &&
        mv "$dir/lbproxy.tmp" "$BASE_BIN"
    } >"$dir/build.log" 2>&1
    rc=$?
    [ $rc -eq 0 ] && printf 'revision %s (%s)\nbuilt %s\nconfigure %s\n' "$BASELINE_REV" "$sha" \
        "$(date -u +%FT%TZ)" "${args[*]}" >"$dir/BUILT"
    _baseline_cleanup
    rm -rf "$B/baseline-build" "$dir/lbproxy.tmp"
    exec {lock}>&-
    if [ $rc -ne 0 ]; then
        tail -n 15 "$dir/build.log"
        BASE_WHY="the build of $BASELINE_REV failed (log: $dir/build.log)"
        return 1
    fi
}

BASE_BIN="" BASE_WHY=""
if [ -n "${LBPROXY_BASELINE:-}" ]; then
    [ -x "$LBPROXY_BASELINE" ] || die "LBPROXY_BASELINE=$LBPROXY_BASELINE is not an executable"
    BASE_BIN=$LBPROXY_BASELINE
    base_label="$LBPROXY_BASELINE (LBPROXY_BASELINE)"
elif baseline_lbproxy; then
    base_label="$BASELINE_REV, $BASE_BIN"
else
    BASE_BIN=""
fi

# Peers ---------------------------------------------------------------------------
ORIGIN=$(free_port)
start_peer backend "$ORIGIN" "$BACKEND_BIN" --listen "127.0.0.1:$ORIGIN" --name backend
HAPROXY=$(free_port)
start_haproxy "$HAPROXY" "$ORIGIN"
STATED=$(free_port)
echo "$GROUP 127.0.0.1:$ORIGIN 1" >"$B/groups"
start_lbstated "$STATED" "$B/groups"
report_up "$STATED" "127.0.0.1:$ORIGIN" || die "lbstated refused the report"
declare -A port_of pid_of host_of
names=(current)
CUR=$(free_port)
LBPROXY_NAME=lbproxy-current start_lbproxy "$CUR" "$(free_port)" "$STATED" "$GROUP" --history-max-rows 0
port_of[current]=$CUR pid_of[current]=$LBPROXY_PID host_of[current]=$GROUP
if [ -n "$BASE_BIN" ]; then
    BASE=$(free_port)
    LBPROXY=$BASE_BIN LBPROXY_NAME=lbproxy-baseline start_lbproxy "$BASE" "$(free_port)" "$STATED" "$GROUP" \
        --history-max-rows 0
    port_of[baseline]=$BASE pid_of[baseline]=$LBPROXY_PID host_of[baseline]=$GROUP
    names+=(baseline)
fi
port_of[haproxy]=$HAPROXY pid_of[haproxy]=$HAPROXY_PID host_of[haproxy]=-
names+=(haproxy)

# Scripts and checks --------------------------------------------------------------
# case_url I: the path and query wrk and curl ask for in case I.
case_url() {
    local c=(${cases[$1]})
    if [ "${c[1]}" = resp ]; then echo "/chunked?n=${c[2]}&size=${c[3]}"; else echo /upload; fi
}

# make_lua NAME I: $B/NAME-I.lua, the wrk script of path NAME in case I. An
# upload's whole request (head, chunks, last chunk) is built once by wrk.format,
# which wrk.init calls once: no Lua runs per request.
make_lua() {
    local name=$1 i=$2 f=$B/$1-$2.lua host=${host_of[$1]} c=(${cases[$2]}) target hosthdr
    wrk_script "$f" "$host"
    [ "${c[1]}" = req ] || return 0
    if [ "$host" = - ]; then
        target=/upload hosthdr=127.0.0.1:${port_of[$name]}
    else
        target=http://$host/upload hosthdr=$host
    fi
    cat >>"$f" <<EOF
local size, chunk = ${c[2]}, ${c[3]}
local parts, sent = {}, 0
while sent < size do
    local k = math.min(chunk, size - sent)
    parts[#parts + 1] = string.format("%x\r\n", k) .. string.rep("x", k) .. "\r\n"
    sent = sent + k
end
local req = "POST $target HTTP/1.1\r\nHost: $hosthdr\r\nContent-Type: application/octet-stream\r\n"
    .. "Transfer-Encoding: chunked\r\n\r\n" .. table.concat(parts) .. "0\r\n\r\n"
wrk.format = function() return req end
EOF
}

# curl_via NAME PATH CURL-ARGS...: curl through path NAME (bounded in time).
curl_via() {
    local name=$1 p=$2; shift 2
    if [ "${host_of[$name]}" = - ]; then
        curl -fsS --max-time 30 "$@" "http://127.0.0.1:${port_of[$name]}$p"
    else
        curl -fsS --max-time 30 -x "127.0.0.1:${port_of[$name]}" "$@" "http://${host_of[$name]}$p"
    fi
}

# check NAME I: the body path NAME relays in case I is the one sent.
check() {
    local name=$1 i=$2 c=(${cases[$2]}) got want
    if [ "${c[1]}" = resp ]; then
        want=$(curl -fsS --max-time 30 "http://127.0.0.1:$ORIGIN$(case_url "$i")" | cksum)
        got=$(curl_via "$name" "$(case_url "$i")" | cksum)
    else
        [ -f "$B/up-${c[2]}" ] || head -c "${c[2]}" /dev/zero | tr '\0' x >"$B/up-${c[2]}"
        want="body-length ${c[2]}"
        got=$(curl_via "$name" /echo -H 'Transfer-Encoding: chunked' --data-binary "@$B/up-${c[2]}" |
              grep '^body-length')
    fi
    [ "$got" = "$want" ] || die "$name relays a wrong body in case ${c[0]} (got '$got', want '$want')"
}

# run NAME I SECONDS: "req/s errors cpu-proxy%" of one wrk run.
run() {
    local name=$1 i=$2 secs=$3 pid=${pid_of[$1]} p0 p1 t0 t1 out
    p0=$(cpu_ticks "$pid")
    t0=$(date +%s%N)
    timeout -k 5 $((secs + 30)) wrk -t1 -c"$CONNS" -d"${secs}s" --timeout 10s -s "$B/$name-$i.lua" \
        "http://127.0.0.1:${port_of[$name]}$(case_url "$i")" >"$B/wrk.out" 2>&1
    t1=$(date +%s%N)
    p1=$(cpu_ticks "$pid")
    out=$(grep '^RESULT' "$B/wrk.out") || { cat "$B/wrk.out" >&2; die "wrk through $name failed (case $i)"; }
    awk -v r="$out" -v p="$((p1 - p0))" -v hz="$HZ" -v wall="$(( (t1 - t0) / 1000 ))" \
        'BEGIN { split(r, f, " "); printf "%.1f %d %.1f\n", f[2] / f[3] * 1e6, f[5], p / hz * 1e6 / wall * 100 }'
}

for i in "${!cases[@]}"; do
    for n in "${names[@]}"; do make_lua "$n" "$i"; check "$n" "$i"; done
done

# Rounds ----------------------------------------------------------------------------
echo "chunked relay: wrk -t1 -c$CONNS, $RUNS paired rounds x ${DURATION}s per case, order swapped each round;"
echo "lbproxy history off, HAProxy 1 thread without logs, origin lbtest-backend"
echo "current:  $LBPROXY"
if [ -n "$BASE_BIN" ]; then echo "baseline: $base_label"; else echo "baseline: none, columns skipped: $BASE_WHY"; fi
# CPU that processes outside the benchmark used meanwhile (a build, a test
# run): busy time of the machine (/proc/stat) minus what the peers and this
# script's children (wrk, curl, awk) used.
machine_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
# children_ticks FILE: the children's CPU in clock ticks, from FILE written
# by `times` in this shell (in a $(...) subshell, times would say 0).
children_ticks() { sed -n 2p "$1" | awk -v hz="$HZ" '
    function secs(s,  m) { m = s; sub(/m.*/, "", m); sub(/^[0-9]+m/, "", s); sub(/s$/, "", s); return m * 60 + s }
    { printf "%.0f\n", (secs($1) + secs($2)) * hz }'; }
times >"$B/times0"
ours0=$(( $(cpu_ticks "${_pids[@]}") + $(children_ticks "$B/times0") )) busy0=$(machine_busy) wall0=$(date +%s%N)

: >"$B/rounds"
for i in "${!cases[@]}"; do
    for n in "${names[@]}"; do run "$n" "$i" 1 >/dev/null; done   # warm-up: pools, buffers
    for r in $(seq 1 "$RUNS"); do
        order=("${names[@]}")
        if [ $((r % 2)) = 0 ]; then   # reversed: haproxy, baseline, current
            order=(); for ((k = ${#names[@]} - 1; k >= 0; k--)); do order+=("${names[k]}"); done
        fi
        for n in "${order[@]}"; do
            run "$n" "$i" "$DURATION" >"$B/run.out"   # not in $(...): a failed run ends the script
            echo "$i $r $n $(cat "$B/run.out")" >>"$B/rounds"
        done
    done
done

times >"$B/times1"
ours1=$(( $(cpu_ticks "${_pids[@]}") + $(children_ticks "$B/times1") )) busy1=$(machine_busy) wall1=$(date +%s%N)
other=$(awk -v t="$(( busy1 - busy0 - (ours1 - ours0) ))" -v hz="$HZ" -v us="$(( (wall1 - wall0) / 1000 ))" \
    'BEGIN { o = t / hz * 1e6 / us * 100; printf "%.0f\n", o < 0 ? 0 : o }')

cases_flat=$(printf '%s;' "${cases[@]}")
awk -v runs="$RUNS" -v cases="$cases_flat" -v names="${names[*]}" -v target="$TARGET" '
    function med(a, n,   i, j, t) {
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    # spread A N M: "M [q1-q3]" of A, which med() has just sorted.
    function spread(a, n, m,   k) {
        k = int((n + 3) / 4)
        return sprintf("%.2f [%.2f-%.2f]", m, a[k], a[n + 1 - k])
    }
    { rps[$1, $2, $3] = $4; err[$1, $3] += $5; cpu[$1, $2, $3] = $6 }
    END {
        nc = split(cases, cc, ";") - 1; nn = split(names, nm, " ")
        base = (nm[2] == "baseline")
        printf "%-13s %-9s %9s %9s %9s %12s %7s\n", "case", "path", "req/s", "MB/s", "cpu", "MB/cpu-s", "errors"
        for (i = 1; i <= nc; i++) {
            split(cc[i], c, " "); ci = i - 1; size[ci] = c[3]; label[ci] = c[1]
            for (k = 1; k <= nn; k++) {
                n = nm[k]
                for (r = 1; r <= runs; r++) {
                    x[r] = rps[ci, r, n]; y[r] = cpu[ci, r, n]
                    z[r] = y[r] > 0 ? rps[ci, r, n] * size[ci] / 1e6 / (y[r] / 100) : 0
                }
                m = med(x, runs)
                printf "%-13s %-9s %9.0f %9.1f %8.0f%% %12.0f %7d\n", k == 1 ? c[1] : "", n, m, m * size[ci] / 1e6,
                    med(y, runs), med(z, runs), err[ci, n]
                if (err[ci, n] > 0) warn = warn sprintf("WARNING: %d failed requests through %s in %s: its rate is not a relay rate\n", err[ci, n], n, c[1])
            }
        }
        print "(medians of " runs " rounds; MB/s: decoded body, 10^6 bytes; cpu: share of one core the proxy used;"
        print " MB/cpu-s: body bytes relayed per CPU-second of the proxy)"
        printf "\n%-13s %-21s %-21s %-21s %8s %s\n", "ratio", "cur/base req/s", "cur/base MB/cpu-s", "cur/haproxy req/s", "target", ""
        bad = ""; badcpu = ""
        for (ci = 0; ci < nc; ci++) {
            for (r = 1; r <= runs; r++) {
                h[r] = rps[ci, r, "current"] / rps[ci, r, "haproxy"]
                if (!base) continue
                x[r] = rps[ci, r, "current"] / rps[ci, r, "baseline"]
                y[r] = 0
                if (cpu[ci, r, "current"] > 0 && cpu[ci, r, "baseline"] > 0)
                    y[r] = (rps[ci, r, "current"] / cpu[ci, r, "current"]) / (rps[ci, r, "baseline"] / cpu[ci, r, "baseline"])
            }
            if (base) {
                a = med(x, runs); b = med(y, runs)
                met = a >= target && err[ci, "current"] == 0
                if (!met) bad = bad " " label[ci]
                if (b < target) badcpu = badcpu " " label[ci]
                sa = spread(x, runs, a); sb = spread(y, runs, b)
                printf "%-13s %-21s %-21s %-21s %8s %s\n", label[ci], sa, sb, spread(h, runs, med(h, runs)), ">= " target, met ? "met" : "MISSED"
            } else
                printf "%-13s %-21s %-21s %-21s\n", label[ci], "-", "-", spread(h, runs, med(h, runs))
        }
        print "(median of the per-round ratios, and in brackets their lower and upper quartiles: the spread of a round)"
        printf "%s", warn
        printf "\n10 %% target, current/baseline >= %s in every case: ", target
        if (!base) { print "not checked, no baseline"; exit }
        print "req/s " (bad == "" ? "met" : "MISSED in" bad) "; body per proxy CPU-second " (badcpu == "" ? "met" : "MISSED in" badcpu)
    }' "$B/rounds"
echo "other processes used ${other}% of a core during the rounds ($(nproc) cores)"
[ "$other" -gt 15 ] && echo "WARNING: the machine was not idle; every figure above is skewed, the ratios less than the rates"
exit 0
