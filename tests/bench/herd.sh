#!/bin/bash
# Herd: 50 simulated proxies on the real selection code (lib/select.cpp), 4
# servers with ratios 2:1:2:1 whose load is what they received over the
# report interval. Scenarios a (equal loads), b (figures 1, 5 and 10 s old,
# loads following the shares), c (foreign load on one server) and a server
# that turns slow, for least, p2c and the default policy; the worst figure
# of each. See herd.cpp for what is modelled and lbkit(7) for the targets.
. "$(dirname "$0")/lib.bash"

need_exe "$BENCHBIN/herd" tests/bench/herd
"$BENCHBIN/herd" --proxies 50 --rate 200 --ratios 2,1,2,1
