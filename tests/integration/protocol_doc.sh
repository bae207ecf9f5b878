#!/bin/bash
# doc/protocol.md lists every route the daemons serve, and serves no route
# it does not list: the route tables of the sources (one row per route, in
# lbkit::httpd's Route form) against the tables of the document.
. "$(dirname "$0")/lib.sh"

DOC=$top_srcdir/doc/protocol.md
[ -f "$DOC" ] || skip_all "doc/protocol.md not found"

# "METHOD /path" per route, "{}" for every path parameter.
served() {
    grep -ho '{"\(GET\|POST\|PUT\|DELETE\)", "/v1/[^"]*"' "$top_srcdir"/bin/*/*.cpp |
        sed 's/{"\([A-Z]*\)", "\([^"]*\)"/\1 \2/' | sort -u
}
documented() {
    grep -o '^| `\(GET\|POST\|PUT\|DELETE\) /v1/[^`]*`' "$DOC" |
        sed 's/^| `//; s/`$//; s/{[a-z]*}/{}/g' | sort -u
}
served >"$T/served"
documented >"$T/documented"
check "the sources serve some routes" test -s "$T/served"
while read -r route; do
    check "doc/protocol.md lists $route" grep -qxF "$route" "$T/documented"
done <"$T/served"
while read -r route; do
    check "$route, listed in doc/protocol.md, is served" grep -qxF "$route" "$T/served"
done <"$T/documented"

done_testing
