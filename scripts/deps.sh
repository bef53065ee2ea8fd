#!/bin/sh
# Make sure the Debian packages lull builds and tests with are present.
# As root (CI, a fresh machine) it installs what is missing; otherwise it
# prints the one command that would.
set -eu

need=""
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
# libsystemd-dev: sd_notify; libmicrohttpd-dev: the --status server;
# prometheus (promtool, a server to scrape), systemd (systemd-analyze),
# groff-base, binutils and python3: what the install, notify and metrics
# tests check with.  redis-server, redis-tools, netcat-openbsd, socat: real
# programs the integration tests carry through a link (it_real_*.sh).
# spin: make test model-checks the rekey rules (model/).
for pkg in cmake make gcc clang pkg-config libssl-dev libuv1-dev valgrind clang-format \
	libsystemd-dev libmicrohttpd-dev prometheus systemd groff-base binutils python3 \
	redis-server redis-tools netcat-openbsd socat spin; do
	have_pkg "$pkg" || need="$need $pkg"
done
# haproxy: tests/integration/it_haproxy.sh puts a real one in front of two servers.
have_pkg haproxy || need="$need haproxy"
[ -z "$need" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "deps: installing:$need"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need
else
	echo "deps: missing Debian packages:$need" >&2
	echo "deps: install them with: sudo apt-get install -y$need" >&2
	exit 1
fi
