#!/bin/bash
# Installs what make bench measures against, when missing: wrk, the Debian
# proxies (HAProxy, nginx, Squid, tinyproxy), tcpdump (lbsniff's peer), curl,
# socat (the syslog receiver of HAProxy's logs). Quick when all are
# present. The benchmarks start every peer themselves, as children on private
# ports, so the system services these packages would start are kept off.
set -eu

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have wrk || need+=(wrk)
have haproxy || need+=(haproxy)
have nginx || need+=(nginx-light)
have squid || need+=(squid)
have tinyproxy || need+=(tinyproxy)
have curl || need+=(curl)
have socat || need+=(socat)
have tcpdump || need+=(tcpdump)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "setup.sh: missing ${need[*]}: run make bench as root or apt-get install them" >&2
    exit 69
fi

# policy-rc.d answering 101 tells the packages' scripts not to start services.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
fi
echo "setup.sh: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
if [ -d /run/systemd/system ]; then
    systemctl disable --now nginx haproxy squid tinyproxy >/dev/null 2>&1 || true
fi
