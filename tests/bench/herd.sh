#!/bin/bash
# Herd: 50 simulated proxies on the real selection code (lib/select.cpp), 4
# servers with ratios 2:1:2:1 whose load is what they received in the last
# second; per-second shares for least and p2c and the worst deviation from
# the ratio share after the warm-up. See herd.cpp for what is modelled.
. "$(dirname "$0")/lib.bash"

need_exe "$BENCHBIN/herd" tests/bench/herd
"$BENCHBIN/herd" --proxies 50 --rate 200 --seconds 30 --warmup 5 --ratios 2,1,2,1
