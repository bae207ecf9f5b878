#!/bin/bash
# make check: every seed of the fuzz targets' corpora replayed by the target
# built without libFuzzer (replay_main.cpp), one TAP line per seed. A seed
# fails when the target aborts on it (an invariant of http_message.cpp or
# proxy_connect_answer.cpp violated) or crashes; its output follows as
# comments. Seeds are tests/fuzz/*-corpus/; a crash that make fuzz found
# is added there as a regression seed.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"

n=0 failed=0
replay() {
    local target=$1 dir=$2 f out rc
    if [ ! -x "$target" ]; then
        n=$((n + 1)) failed=$((failed + 1))
        echo "not ok $n - $(basename "$target") not built"
        return
    fi
    for f in "$dir"/*; do
        [ -f "$f" ] || continue
        n=$((n + 1))
        out=$("$target" "$f" 2>&1)
        rc=$?
        if [ "$rc" -eq 0 ]; then
            echo "ok $n - $(basename "$dir")/$(basename "$f")"
        else
            failed=$((failed + 1))
            echo "not ok $n - $(basename "$dir")/$(basename "$f") (exit $rc)"
            printf '%s\n' "$out" | head -n 40 | sed 's/^/# /'
        fi
    done
}

replay "$top_builddir/tests/fuzz/http_message_replay" "$top_srcdir/tests/fuzz/http-corpus"
replay "$top_builddir/tests/fuzz/proxy_connect_replay" "$top_srcdir/tests/fuzz/proxy-connect-corpus"
echo "1..$n"
[ "$failed" -eq 0 ]
