#!/bin/bash
# Manual pages: every page in man/ is clean under mandoc -Tlint, and each
# tool's page lists exactly the options its --help prints (in SYNOPSIS or in
# a .It line of an option or command list), so page and code never drift.
. "$(dirname "$0")/lib.sh"

command -v mandoc >/dev/null 2>&1 || skip_all "mandoc not installed (apt-get install mandoc)"
mandir=$top_srcdir/man

# Options printed by `BIN [SUB] --help` (CLI11 format: "  -v,--verbose  text"),
# one per line, for the tool and each of its subcommands.
help_options() {
    local bin=$1 sub out
    out=$("$bin" --help 2>&1) || return 1
    printf '%s\n' "$out" | awk '/^[ \t]+-/ { n = split($1, a, ","); for (i = 1; i <= n; i++) print a[i] }'
    for sub in $(printf '%s\n' "$out" | awk '/^Subcommands:/ { s = 1; next } /^[^ \t]/ { s = 0 } s && /^[ \t]+[a-z]/ { print $1 }'); do
        "$bin" "$sub" --help 2>&1 |
            awk '/^[ \t]+-/ { n = split($1, a, ","); for (i = 1; i <= n; i++) print a[i] }'
    done
}

# Options named by the page's SYNOPSIS and by its .It lines: the arguments
# of each Fl macro ("Fl -listen" is --listen, "Fl nqv" is -n -q -v,
# "Fl h | -help" is -h and --help), up to the next macro.
page_options() {
    awk '
        /^\.Sh / { syn = ($2 == "SYNOPSIS") }
        !(syn || /^\.It /) { next }
        {
            fl = 0
            for (i = 1; i <= NF; i++) {
                t = $i
                sub(/^\./, "", t)
                if (t == "Fl") { fl = 1; continue }
                if (t ~ /^[A-Z][a-z][a-z]?$/) { fl = 0; continue }
                if (!fl || t == "|") continue
                if (t ~ /^-[A-Za-z0-9][A-Za-z0-9-]*$/) { print "-" t; continue }
                if (t ~ /^[A-Za-z0-9]+$/)
                    for (j = 1; j <= length(t); j++) print "-" substr(t, j, 1)
            }
        }' "$1"
}

# Every page lints clean.
pages=("$mandir"/*.[1-9])
for page in "${pages[@]}"; do
    [ -f "$page" ] || continue
    is "$(basename "$page"): mandoc -Tlint -W warning is clean" \
        "$(mandoc -Tlint -W warning "$page" 2>&1)" ""
done

# The lint above really fails on a broken page (the test tests something).
printf '.Dd November 25, 2026\n.Dt BROKEN 8\n.Os\n.Sh NAME\n.Nm broken\n.Nd x\n.Sh DESCRIPTION\n.Bl -tag\n.It Fl x\n' >"$T/broken.8"
like "mandoc -Tlint reports a broken page" "$(mandoc -Tlint -W warning "$T/broken.8" 2>&1)" "WARNING|ERROR"

tested=0
for tool in lbstated lbctl lbproxy lbsniff lbpush; do
    case $tool in
    lbstated) bin=$LBSTATED ;;
    lbctl) bin=$LBCTL ;;
    lbproxy) bin=$LBPROXY ;;
    lbsniff) bin=$LBSNIFF ;;
    lbpush) bin=$LBPUSH ;;
    esac
    [ -x "$bin" ] || { diag "$tool not built: options not compared"; continue; }
    page=$(ls "$mandir/$tool".[1-9] 2>/dev/null | head -n 1)
    if [ -z "$page" ]; then
        not_ok "$tool has a manual page in man/"
        continue
    fi
    tested=$((tested + 1))
    if ! help=$(help_options "$bin" | sort -u) || [ -z "$help" ]; then
        not_ok "$tool --help prints its options"
        continue
    fi
    documented=$(page_options "$page" | sort -u)
    missing=$(comm -23 <(printf '%s\n' "$help") <(printf '%s\n' "$documented") | tr '\n' ' ')
    extra=$(comm -13 <(printf '%s\n' "$help") <(printf '%s\n' "$documented") | tr '\n' ' ')
    is "$(basename "$page"): every option of $tool --help is documented" "$missing" ""
    is "$(basename "$page"): every option documented is in $tool --help" "$extra" ""
done
[ "$tested" -gt 0 ] || diag "no tool built yet: only the pages were linted"

done_testing
