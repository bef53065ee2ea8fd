#!/bin/sh
# Make sure the Debian packages lull builds and tests with are present.
# As root (CI, a fresh machine) it installs what is missing; otherwise it
# prints the one command that would.
set -eu

need=""
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
for pkg in cmake make gcc clang pkg-config libssl-dev libuv1-dev valgrind clang-format spin; do
	have_pkg "$pkg" || need="$need $pkg"
done
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
