#!/bin/bash
# Request smuggling through lbproxy, driven by outside corpora as data
# (tests/data/smuggling: llhttp's request vectors, smuggler's and HTTP Request
# Smuggler's mutations) and by lbkit's own cases with their expected answers.
# The origin is strict_origin.py, which reads requests strictly by RFC 9112
# and logs what it parsed: whatever lbproxy forwards, the origin must never
# read the stream differently from lbproxy (no violation, no request hidden in
# a body, no request of the next client captured). smuggle_client.py is the
# client side; one TAP line per corpus file and check, one per lbkit case.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || skip_all "no python3"
D=$top_srcdir/tests/data/smuggling

# Several origins, one per worker of the client: lbproxy pools their
# connections apart, so the cases run side by side without sharing one, and
# the silences some cases wait out overlap.
WORKERS=8
origins=() ports=()
for w in $(seq 1 $WORKERS); do
    OP=$(free_port)
    start origin$w python3 "$top_srcdir/tests/integration/strict_origin.py" --port "$OP" \
        --log-dir "$T/origin$w" --responses "$D/responses.txt"
    origins+=(--origin "$OP:$LAST_PID:$T/origin$w") ports+=("$OP")
done
PP=$(free_port); AP=$(free_port); SP=$(free_port)
start proxy "$LBPROXY" --listen 127.0.0.1:$PP --admin 127.0.0.1:$AP --state-dir "$T" \
    --state-server http://127.0.0.1:$SP
for p in "${ports[@]}" $PP; do wait_port "$p" || { not_ok "daemons started"; done_testing; }; done

# The client's lines become this script's TAP lines, numbered here.
while IFS= read -r line; do
    case $line in
        "ok "*) ok "${line#ok }" ;;
        "not ok "*) not_ok "${line#not ok }" ;;
        "# "*) diag "${line#\# }" ;;
        "client exit "*) is "the client ran to its end" "${line#client exit }" 0 ;;
        *) diag "$line" ;;
    esac
done < <(PYTHONDONTWRITEBYTECODE=1 timeout 300 \
    python3 -u "$top_srcdir/tests/integration/smuggle_client.py" --proxy "$PP" "${origins[@]}" \
    "$D/lbkit-cases.txt" "$D/llhttp-requests.txt" "$D/smuggler-mutations.txt" "$D/portswigger-desync.txt" \
    2>"$T/client.log"; echo "client exit $?")
[ -s "$T/client.log" ] && tail -n 20 "$T/client.log" | sed 's/^/# /'

is "lbproxy still serves" "$(curl -s -x http://127.0.0.1:$PP http://127.0.0.1:$OP/last)" "GET /last 0"
done_testing
