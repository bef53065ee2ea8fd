#!/bin/sh
# make install DESTDIR=... PREFIX=/usr puts every file where lull(1),
# liblull(3) and the issue say; the example program, compiled with
# pkg-config against that tree only, runs a client/server pair through
# the installed shared library; liblull.so exports lull_* and nothing
# else; make uninstall removes every file again.
. "$(dirname "$0")/lib.sh"
it_init "$1"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
ROOT=$T/root
OLD_PREFIX=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BUILD_DIR/CMakeCache.txt")
# make install reconfigures the build with PREFIX: put the old one back.
restore_prefix() {
	cmake -S "$SRC" -B "$BUILD_DIR" -DCMAKE_INSTALL_PREFIX="${OLD_PREFIX:-/usr/local}" >/dev/null 2>&1
}

make -s -C "$SRC" install DESTDIR="$ROOT" PREFIX=/usr BUILD_DIR="$BUILD_DIR" >"$T/install.log" 2>&1 ||
	{ restore_prefix; fail "make install: $(tail -20 "$T/install.log")"; }
restore_prefix
VERSION=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$BUILD_DIR/CMakeCache.txt")
MAJOR=${VERSION%%.*}
for f in bin/lull lib/liblull.so.$VERSION lib/liblull.so.$MAJOR lib/liblull.so lib/liblull.a \
	include/lull.h include/lull_stream.h lib/pkgconfig/liblull.pc share/man/man1/lull.1 share/man/man5/lull.conf.5 \
	share/man/man3/liblull.3 lib/systemd/system/lull-server.service \
	lib/systemd/system/lull-client@.service lib/sysusers.d/lull.conf \
	share/doc/lull/examples/server.conf share/doc/lull/examples/client.conf \
	share/doc/lull/examples/lull-pair.c; do
	[ -e "$ROOT/usr/$f" ] || fail "make install did not install /usr/$f"
done
[ -x "$ROOT/usr/bin/lull" ] || fail "/usr/bin/lull is not executable"
"$ROOT/usr/bin/lull" version | grep -qx "lull $VERSION" || fail "installed lull version"
grep -q "^ExecStart=/usr/bin/lull server --config /etc/lull/server.conf$" \
	"$ROOT/usr/lib/systemd/system/lull-server.service" || fail "unit names the wrong binary"
for page in man1/lull.1 man5/lull.conf.5 man3/liblull.3; do
	LC_ALL=C.UTF-8 groff -ww -z -man "$ROOT/usr/share/man/$page" >"$T/groff.log" 2>&1 &&
		[ ! -s "$T/groff.log" ] || fail "$page: groff warns: $(cat "$T/groff.log")"
done
pass "make install DESTDIR PREFIX=/usr installed every file"

LIB=$ROOT/usr/lib/liblull.so.$MAJOR
objdump -p "$LIB" | grep -q "SONAME *liblull.so.$MAJOR$" || fail "no SONAME liblull.so.$MAJOR"
# Only the public API: every defined dynamic symbol but the version node.
nm -D --defined-only "$LIB" | awk '$2 != "A" {sub(/@.*/, "", $3); print $3}' >"$T/exports"
[ -s "$T/exports" ] || fail "liblull.so exports nothing"
if grep -v '^lull_' "$T/exports" >"$T/stray"; then
	fail "liblull.so exports more than lull_*: $(head -5 "$T/stray")"
fi
grep -qx lull_conn_new_client "$T/exports" && grep -qx lull_version "$T/exports" ||
	fail "liblull.so lacks the public API"
pass "liblull.so.$MAJOR: SONAME, $(wc -l <"$T/exports") symbols, all lull_*"

# The example, built as a user would: pkg-config against the tree only.
export PKG_CONFIG_PATH="$ROOT/usr/lib/pkgconfig"
[ "$(pkg-config --modversion liblull)" = "$VERSION" ] || fail "pkg-config --modversion"
PC=$(pkg-config --cflags --libs liblull) || fail "pkg-config --cflags --libs liblull"
case "$PC" in
*"-I$ROOT/usr/lib/pkgconfig/../../include"*"-L$ROOT/usr/lib/pkgconfig/../../lib"*) ;;
*) fail "pkg-config does not point into the installed tree: $PC" ;;
esac
SAN=""
[ "$SLOW" = 1 ] || SAN="-fsanitize=address,undefined"
# shellcheck disable=SC2086
cc -std=c17 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror $SAN \
	"$ROOT/usr/share/doc/lull/examples/lull-pair.c" $PC -o "$T/lull-pair" 2>"$T/cc.log" ||
	fail "example does not build with pkg-config: $(cat "$T/cc.log")"
LD_LIBRARY_PATH="$ROOT/usr/lib" ldd "$T/lull-pair" | grep -q "liblull.so.$MAJOR => $ROOT/usr/lib/" ||
	fail "example not linked against the installed liblull.so: $(LD_LIBRARY_PATH="$ROOT/usr/lib" ldd "$T/lull-pair")"
LD_LIBRARY_PATH="$ROOT/usr/lib" timeout 30 "$T/lull-pair" >"$T/pair.log" 2>&1 ||
	fail "example failed: $(cat "$T/pair.log")"
grep -q 'server: message "hello from the client"' "$T/pair.log" &&
	grep -q "epoch 2 after the rekey" "$T/pair.log" || fail "example output: $(cat "$T/pair.log")"
pass "examples/lull-pair.c built by pkg-config ran a client/server pair through liblull.so"

# The units as installed pass systemd-analyze verify, with no warning,
# and a hardening review scores them low exposure.  The staging tree gets
# the targets they name and kill(1) (ExecReload) from this system, as an
# installed system would have them.
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$T/sysroot/usr/bin" "$T/sysroot/usr/lib/systemd/system"
	cp -R "$ROOT/usr/." "$T/sysroot/usr/"
	cp /lib/systemd/system/*.target "$T/sysroot/usr/lib/systemd/system/"
	cp /usr/bin/kill "$T/sysroot/usr/bin/kill" || fail "no /usr/bin/kill"
	for unit in lull-server.service lull-client@office.service; do
		systemd-analyze verify --man=no --root="$T/sysroot" \
			"/usr/lib/systemd/system/$unit" >"$T/verify.log" 2>&1 ||
			fail "systemd-analyze verify $unit: $(cat "$T/verify.log")"
		[ ! -s "$T/verify.log" ] || fail "systemd-analyze verify $unit warns: $(cat "$T/verify.log")"
	done
	for unit in lull-server.service lull-client@.service; do
		systemd-analyze security --offline=yes --threshold=25 --root="$T/sysroot" \
			"$T/sysroot/usr/lib/systemd/system/$unit" >"$T/security.log" 2>&1 ||
			fail "$unit: exposure above 2.5: $(tail -1 "$T/security.log")"
		grep -q "Overall exposure level" "$T/security.log" || fail "no security review of $unit"
	done
	pass "units pass systemd-analyze verify and score exposure at most 2.5"
else
	echo "note: no systemd-analyze, units not verified"
fi

make -s -C "$SRC" uninstall DESTDIR="$ROOT" BUILD_DIR="$BUILD_DIR" >"$T/uninstall.log" 2>&1 ||
	fail "make uninstall: $(cat "$T/uninstall.log")"
left=$(find "$ROOT" -type f -o -type l)
[ -z "$left" ] || fail "make uninstall left: $left"
pass "make uninstall removed every file"
it_pass
