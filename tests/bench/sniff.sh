#!/bin/bash
# lbsniff benchmark, in one run on this machine:
#  1. offline: a generated pcap of 10 million packets (8 watched web servers
#     plus 20% noise); packets/s of "lbsniff -r FILE" vs
#     "tcpdump -r FILE -w /dev/null FILTER" with the same filter (lbsniff
#     --print-filter); median of 3 alternating runs, wall clock and CPU time
#     (the machine is shared: CPU time is the steadier figure). Target >= 1.0x.
#  2. live: 50,000 request segments/s to a watched server on lo for 10 s,
#     put there with pcap_inject (one packet each: TCP writes would be
#     merged by the kernel); every one must be counted and pcap_stats must
#     report no drop (needs root).
# SNIFF_PACKETS, SNIFF_RATE and SNIFF_SECONDS change the sizes.
. "$(dirname "$0")/lib.bash"

LBSNIFF=$top_builddir/bin/lbsniff/lbsniff
SNIFFGEN=$BENCHBIN/sniffgen
PACKETS=${SNIFF_PACKETS:-10000000}
RATE=${SNIFF_RATE:-50000}
SECONDS_LIVE=${SNIFF_SECONDS:-10}
need_exe "$LBSNIFF" lbsniff
[ -x "$SNIFFGEN" ] || make -s -C "$top_builddir" tests/bench/sniffgen >/dev/null || skip "sniffgen cannot be built"
command -v tcpdump >/dev/null || skip "tcpdump not installed (apt-get install tcpdump)"

# 1. Offline ----------------------------------------------------------------------
say "lbsniff offline: generating $PACKETS packets (8 servers + noise)..."
gen=$("$SNIFFGEN" bench "$B/bench.pcap" "$PACKETS") || die "sniffgen bench failed"
say "  $gen, $(( $(stat -c %s "$B/bench.pcap") / 1048576 )) MiB"
W=()
for i in 1 2 3 4 5 6 7 8; do W+=(--watch "10.1.0.$i:80"); done
filter=$("$LBSNIFF" -r "$B/bench.pcap" "${W[@]}" --print-filter) || die "lbsniff --print-filter failed"
cat "$B/bench.pcap" >/dev/null  # both read from the page cache

# timed NAME CMD...: appends "wall cpu" seconds to $B/NAME.times.
timed() {
    local name=$1; shift
    local TIMEFORMAT='%R %U %S'
    { time "$@" >/dev/null 2>"$B/$name.err"; } 2>"$B/$name.t" || { cat "$B/$name.err" >&2; die "$name failed"; }
    awk '{ printf "%s %.3f\n", $1, $2 + $3 }' "$B/$name.t" >>"$B/$name.times"
}
for run in 1 2 3; do
    timed tcpdump tcpdump -r "$B/bench.pcap" -w /dev/null "$filter"
    timed lbsniff "$LBSNIFF" -q -r "$B/bench.pcap" "${W[@]}"
done
rate() { awk -v n="$PACKETS" -v s="$1" 'BEGIN { printf "%.0f", n / s }'; }
tw=$(cut -d' ' -f1 "$B/tcpdump.times" | median); tc=$(cut -d' ' -f2 "$B/tcpdump.times" | median)
lw=$(cut -d' ' -f1 "$B/lbsniff.times" | median); lc=$(cut -d' ' -f2 "$B/lbsniff.times" | median)
ratio_wall=$(awk -v a="$tw" -v b="$lw" 'BEGIN { printf "%.2f", a / b }')
ratio_cpu=$(awk -v a="$tc" -v b="$lc" 'BEGIN { printf "%.2f", a / b }')
say ""
printf '%-44s %12s %12s %14s %14s\n' "offline, $PACKETS packets (median of 3)" "wall s" "CPU s" "packets/s wall" "packets/s CPU"
printf '%-44s %12s %12s %14s %14s\n' "tcpdump -r FILE -w /dev/null FILTER" "$tw" "$tc" "$(rate "$tw")" "$(rate "$tc")"
printf '%-44s %12s %12s %14s %14s\n' "lbsniff -r FILE --watch x8" "$lw" "$lc" "$(rate "$lw")" "$(rate "$lc")"
say "lbsniff / tcpdump: ${ratio_cpu}x by CPU time, ${ratio_wall}x by wall clock (target >= 1.0x): $(verdict "$ratio_cpu >= 1.0")"
counts=$("$LBSNIFF" -q -r "$B/bench.pcap" "${W[@]}" --stdout |
         awk -F'\t' '{ p += $5; c += $7; r += $8 } END { printf "%d packets to the servers, %d connections, %d requests", p, c, r }')
say "lbsniff counted: $counts (generated: $gen)"
rm -f "$B/bench.pcap"

# 2. Live on lo -------------------------------------------------------------------
say ""
if [ "$(id -u)" -ne 0 ]; then
    say "live: SKIP: capturing on lo needs root"
    exit 0
fi
web=$(free_port); api=$(free_port)
start sniff "$LBSNIFF" -i lo --watch "127.0.0.1:$web" --listen "127.0.0.1:$api" --stdout
SNIFF=$LAST_PID
wait_port "$api" 10 || die "lbsniff did not start: $(tail -n 5 "$B/sniff.log")"
t0=$(cpu_ticks "$SNIFF")
load=$("$SNIFFGEN" inject lo "127.0.0.1:$web" "$RATE" "$SECONDS_LIVE") || die "sniffgen inject failed"
sleep 1.5  # the last interval
t1=$(cpu_ticks "$SNIFF")
metrics=$(curl -s "http://127.0.0.1:$api/metrics")
metric() { awk -v m="$1" '$1 == m { print $2 }' <<<"$metrics"; }
counted=$(awk -v s="lbsniff_packets_total{server=\"127.0.0.1:$web\"}" '$1 == s { print $2 }' <<<"$metrics")
reqs=$(awk -v s="lbsniff_requests_total{server=\"127.0.0.1:$web\"}" '$1 == s { print $2 }' <<<"$metrics")
recv=$(metric lbsniff_capture_received); drop=$(metric lbsniff_capture_dropped); ifdrop=$(metric lbsniff_capture_if_dropped)
stop "$SNIFF"
read -r sent took <<<"$load"
per_s() { awk -v n="$1" -v s="$took" 'BEGIN { printf "%.0f", n / s }'; }
say "live on lo, ${took} s: $sent request segments injected to 127.0.0.1:$web ($(per_s "$sent")/s)"
say "  lbsniff counted $counted packets and $reqs requests to the server ($(per_s "$counted")/s)"
say "  pcap_stats: $recv received (lo counts each packet twice), $drop dropped, $ifdrop dropped by the interface"
say "  lbsniff CPU: $(awk -v t=$((t1 - t0)) -v hz="$HZ" -v s="$took" 'BEGIN { printf "%.1f%%", 100 * t / hz / s }') of one core"
say "  no drop, every packet and request counted at $RATE packets/s: $(verdict "$drop + $ifdrop == 0 && $counted == $sent && $reqs == $sent")"
