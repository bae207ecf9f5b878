#!/bin/bash
# lbctl tables and lbctl proxymap [--pac]. The tables of a real lbproxy after
# pushes (table, tsv, json). The PAC file evaluated by a real PAC engine
# (pacparser): first the rules (case, *.domain only below the domain, exact
# hosts, * as the final return, rules after * never reached, usable proxies
# in order, all when none is usable, DIRECT) from a fixed GET /v1/proxymap
# answer; then, against a real lbproxy with a pushed map and loads fed
# through lbstated, the map as lbctl shows it and the PAC's first proxy for
# each URL against the proxy lbproxy really used (its history's
# upstream_proxy, and the name the "proxy", an lbtest-backend, answers).
. "$(dirname "$0")/lib.sh"

# pacparser is Debian's python3-pacparser, for the system's python3.
PY=
for p in /usr/bin/python3 python3; do
    "$p" -c 'import pacparser' 2>/dev/null && { PY=$p; break; }
done

# find_proxy PAC URL...: what FindProxyForURL returns for each URL, one per
# line; the host is the URL's, as a browser passes it.
find_proxy() {
    local pac=$1; shift
    "$PY" -c '
import sys, urllib.parse, pacparser
pacparser.init()
pacparser.parse_pac_file(sys.argv[1])
for url in sys.argv[2:]:
    print(pacparser.find_proxy(url, urllib.parse.urlsplit(url).hostname))
pacparser.cleanup()
' "$pac" "$@"
}

TOK=map-token
echo "$TOK" >"$T/token"

# lbctl tables against a real lbproxy ------------------------------------------
SP=$(free_port) L=$(free_port) A=$(free_port)
AD=127.0.0.1:$A
B1=$(free_port) B2=$(free_port)
start b1 "$BACKEND" --listen "127.0.0.1:$B1" --name proxy-one
start b2 "$BACKEND" --listen "127.0.0.1:$B2" --name proxy-two
printf '# the upstream proxies are watched servers too\nproxies.test 127.0.0.1:%s 1\nproxies.test 127.0.0.1:%s 1\n' \
    "$B1" "$B2" >"$T/groups"
mkdir -p "$T/stated" "$T/proxy"
start stated "$LBSTATED" --listen "127.0.0.1:$SP" --groups "$T/groups" --state-dir "$T/stated" --token-file "$T/token"
wait_port "$SP" || { not_ok "lbstated started"; done_testing; }
ST=http://127.0.0.1:$SP
start proxy "$LBPROXY" --listen "127.0.0.1:$L" --admin "$AD" --state-dir "$T/proxy" --token-file "$T/token" \
    --state-server "$ST" --state-mode periodic --state-interval 200ms --policy least
wait_port "$A" && wait_port "$B1" && wait_port "$B2" || { not_ok "lbproxy and the backends started"; done_testing; }

is "lbctl tables before any push: no rows" "$("$LBCTL" -s "$AD" tables)" ""
printf '*.a.test 127.0.0.1:%s,127.0.0.1:%s\nb.test 127.0.0.1:%s\nintra.test DIRECT\n' "$B1" "$B2" "$B1" >"$T/proxymap"
"$LBPUSH" -q --token-file "$T/token" --version 41 -f "$T/proxymap" "$AD"
is "lbpush sent the map" "$?" 0
like "tsv: one line per table, name version rows UTC time" "$("$LBCTL" -s "$AD" tables)" \
    "^proxymap	41	3	20[0-9-]+T[0-9:.]+Z$"
table=$("$LBCTL" -s "$AD" -o table tables)
like "table: a header, aligned" "$table" "^TABLE +VERSION +ROWS +UPDATED"
like "table: local time with its zone" "$table" "proxymap +41 +3 +20[0-9-]+ [0-9:.]+ [A-Z+0-9-]+"
is "json: the daemon's answer" "$("$LBCTL" -s "$AD" -o json tables | python3 -c '
import json, sys
tables = sorted(json.load(sys.stdin)["tables"], key=lambda t: t["name"])
print(" ".join("%s=%d/%d" % (t["name"], t["version"], t["rows"]) for t in tables))')" \
    "proxymap=41/3"
"$LBCTL" -s "127.0.0.1:$SP" tables >/dev/null 2>"$T/err"
is "lbctl tables asked of lbstated: 65" "$?" 65
like "says to ask lbproxy" "$(cat "$T/err")" "this is asked of lbproxy's admin API"
"$LBCTL" -s "127.0.0.1:$(free_port)" tables >/dev/null 2>&1
is "lbctl tables, nothing listening: 69" "$?" 69
LBKIT_PROXY=$AD "$LBCTL" tables >"$T/out" 2>&1
like "LBKIT_PROXY names the proxy for tables" "$(cat "$T/out")" "proxymap	41"

# The PAC's rules, from a fixed answer of GET /v1/proxymap -------------------------
# up NAME LOAD [GROUP]: a usable proxy; a server of GROUP when given.
up() { printf '{"name":"%s","group":"%s","state":"up","load":%s,"usable":true,"reason":""}' "$1" "${3:-}" "$2"; }
down() { printf '{"name":"%s","group":"","state":"%s","load":null,"usable":false,"reason":"%s"}' "$1" "$2" "$3"; }
FP=$(free_port)
start fixed python3 -c '
import http.server, sys
class Map(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        known = self.path == "/v1/proxymap"
        body = open(sys.argv[2], "rb").read() if known else b"{\"error\":\"no such endpoint\"}"
        self.send_response(200 if known else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Map).serve_forever()
' "$FP" "$T/map.json"
wait_port "$FP" || not_ok "the fixed answer is served"
printf '%s\n' '{"version":7,"origin":"push","source":"127.0.0.1:5555","rules":[' \
    '{"line":1,"pattern":"Intra.Example","direct":true,"proxies":[]},' \
    "{\"line\":2,\"pattern\":\"*.a.test\",\"direct\":false,\"proxies\":[$(up p2:3128 1.5),$(up p1:3128 12.5),$(up p7 20),$(up gp 30 proxies.group),$(down p3 down down)]}," \
    "{\"line\":3,\"pattern\":\"b.test\",\"direct\":false,\"proxies\":[$(down p4:8080 down down),$(down p5:8080 unknown 'no state')]}," \
    "{\"line\":4,\"pattern\":\"*\",\"direct\":false,\"proxies\":[$(up p6:3128 0)]}," \
    '{"line":5,"pattern":"never.test","direct":true,"proxies":[]}]}' >"$T/map.json"
"$LBCTL" -s "127.0.0.1:$FP" proxymap --pac >"$T/map.pac" 2>"$T/err"
is "proxymap --pac: exit 0, nothing on stderr" "$?:$(cat "$T/err")" "0:"
like "the header names the proxy, the version and the time" "$(head -2 "$T/map.pac")" \
    "generated by lbctl from the proxy map of the lbproxy at http://127.0.0.1:$FP,
// version 7 \(push 127\.0\.0\.1:5555\), at 20[0-9-]+T[0-9:.]+Z\.$"
out=$("$LBCTL" -s "127.0.0.1:$FP" -o table proxymap 2>"$T/err")
like "table: the proxies of a rule in order, state, load, and why one is not usable" "$out" \
"PATTERN +PROXY +STATE +LOAD +USABLE +REASON
Intra.Example +DIRECT +- +- +- +-
\*\.a\.test +p2:3128 +up +1\.5 +yes +-
\*\.a\.test +p1:3128 +up +12\.5 +yes +-
\*\.a\.test +p7 +up +20\.0 +yes +-
\*\.a\.test +gp +up +30\.0 +yes +-
\*\.a\.test +p3 +down +- +no +down
b\.test +p4:8080 +down +- +no +down
b\.test +p5:8080 +unknown +- +no +no state
"
like "the note says who pushed the map" "$(cat "$T/err")" "^lbctl: proxy map version 7 pushed by 127.0.0.1:5555$"
if [ -z "$PY" ]; then
    skip "pacparser not installed (apt-get install python3-pacparser): PAC files not evaluated"
else
    got=$(find_proxy "$T/map.pac" http://intra.example/ http://INTRA.Example:8080/x http://x.a.test/ \
        http://Y.X.A.TEST/p http://a.test/ http://b.test/ http://www.b.test/ http://never.test/ http://other/ | tr '\n' '|')
    is "pacparser: each URL gets the rule lbproxy applies" "$got" \
"DIRECT|DIRECT|PROXY p2:3128; PROXY p1:3128; PROXY p7:3128; PROXY gp:80|PROXY p2:3128; PROXY p1:3128; PROXY p7:3128; PROXY gp:80|\
PROXY p6:3128|PROXY p4:8080; PROXY p5:8080|PROXY p6:3128|PROXY p6:3128|PROXY p6:3128|"
fi
# Without *: a host that no rule matches goes DIRECT.
printf '%s\n' '{"version":8,"origin":"file","source":"/etc/lbkit/proxymap","rules":[' \
    "{\"line\":1,\"pattern\":\"*.a.test\",\"direct\":false,\"proxies\":[$(up p1:3128 1)]}]}" >"$T/map.json"
"$LBCTL" -s "127.0.0.1:$FP" proxymap --pac >"$T/map.pac"
if [ -n "$PY" ]; then
    is "pacparser: no rule matches: DIRECT" "$(find_proxy "$T/map.pac" http://x.a.test/ http://a.test/ | tr '\n' '|')" \
        "PROXY p1:3128|DIRECT|"
fi
out=$("$LBCTL" -s "127.0.0.1:$FP" proxymap 2>"$T/err")
is "tsv: pattern proxy state load usable reason" "$out" "*.a.test	p1:3128	up	1.0	yes	-"
is "the note says which file" "$(cat "$T/err")" "lbctl: proxy map version 8 read from the file /etc/lbkit/proxymap"
is "-q: no note" "$("$LBCTL" -q -s "127.0.0.1:$FP" proxymap 2>&1 >/dev/null)" ""
"$LBCTL" -s "127.0.0.1:$FP" -o json proxymap --pac >/dev/null 2>"$T/err"
is "--pac with -o json: 64" "$?" 64
"$LBCTL" -s "127.0.0.1:$SP" proxymap >/dev/null 2>"$T/err"
is "proxymap asked of lbstated: 65" "$?" 65

# Against lbproxy's own GET /v1/proxymap ----------------------------------------------
if [ "$(http_status GET "http://$AD/v1/proxymap")" = 404 ]; then
    skip "lbproxy serves no GET /v1/proxymap yet (the upstream proxy work adds it): not compared with lbproxy's choice"
    done_testing
fi
# The second proxy is far less loaded: lbproxy tries it first.
http_status POST "$ST/v1/reports" "{\"notifier\":\"t\",\"interval_ms\":60000,\"servers\":[
    {\"addr\":\"127.0.0.1:$B1\",\"load\":50,\"state\":\"up\"},{\"addr\":\"127.0.0.1:$B2\",\"load\":5,\"state\":\"up\"}]}" \
    "$TOK" >/dev/null
ordered() { [ "$("$LBCTL" -s "$AD" proxymap 2>/dev/null | awk -F '\t' '$1 == "*.a.test" { printf "%s,", $2 }')" = "$1" ]; }
check "lbproxy's map puts the less loaded proxy first" wait_for 10 ordered "127.0.0.1:$B2,127.0.0.1:$B1,"
out=$("$LBCTL" -s "$AD" proxymap 2>"$T/err")
like "tsv: the rows of the map in order, with state and load" "$out" \
"^\*\.a\.test	127\.0\.0\.1:$B2	up	5\.0	yes	-
\*\.a\.test	127\.0\.0\.1:$B1	up	50\.0	yes	-
b\.test	127\.0\.0\.1:$B1	up	50\.0	yes	-
intra\.test	DIRECT	-	-	-	-$"
like "the note: version 41, pushed" "$(cat "$T/err")" "^lbctl: proxy map version 41 pushed"
is "json: the daemon's answer" "$("$LBCTL" -s "$AD" -o json proxymap | python3 -c '
import json, sys
m = json.load(sys.stdin)
print(m["version"], m["origin"], [r["pattern"] for r in m["rules"]])')" "41 push ['*.a.test', 'b.test', 'intra.test']"
# Whether lbproxy relays through the map's proxies: until its data path
# does, every request goes DIRECT (the history says so) and there is no
# choice to compare with.
# used_proxy URL: the upstream proxy of URL's row in lbproxy's history
# (written off the hot path: polled until the row is there).
used_proxy() {
    local i got
    for ((i = 0; i < 50; i++)); do
        got=$("$LBCTL" -s "$AD" -o json history --limit 20 | python3 -c '
import json, sys
rows = [r for r in json.load(sys.stdin) if r.get("url", "").lower() == sys.argv[1].lower()]
print(rows[-1].get("upstream_proxy", "") if rows else "")' "$1")
        [ -n "$got" ] && break
        sleep 0.1
    done
    echo "$got"
}
curl -s -o /dev/null -m 10 -x "127.0.0.1:$L" http://probe.a.test/
relayed_by=$(used_proxy http://probe.a.test/)
if [ -z "$relayed_by" ] || [ "$relayed_by" = DIRECT ]; then
    skip "lbproxy does not relay through the proxy map's proxies yet (its history says '${relayed_by:-no row}' for a proxied URL): PAC not compared with its choice"
elif [ -n "$PY" ]; then
    "$LBCTL" -s "$AD" proxymap --pac >"$T/real.pac"
    urls=(http://x.a.test/ http://Deep.X.a.test/ http://b.test/)
    mapfile -t pac < <(find_proxy "$T/real.pac" "${urls[@]}")
    for i in "${!urls[@]}"; do
        first=${pac[$i]%%;*}
        first=${first#PROXY }
        answered=$(curl -s -m 10 -x "127.0.0.1:$L" "${urls[$i]}")
        case $answered in proxy-one) used=127.0.0.1:$B1 ;; proxy-two) used=127.0.0.1:$B2 ;; *) used="'$answered'" ;; esac
        is "${urls[$i]}: the PAC's first proxy is the one lbproxy used" "$first" "$used"
        is "${urls[$i]}: and the one its history names" "$(used_proxy "${urls[$i]}")" "$first"
    done
else
    skip "pacparser not installed: PAC not compared with lbproxy's choice"
fi

done_testing
