#!/bin/sh
# The command line: help texts, exit statuses (0 ok, 1 runtime, 2 usage),
# key round trips, refusal of unsafe key files with the fix, and errors that
# name the offending option or file:line.
. "$(dirname "$0")/lib.sh"
it_init "$1"

# expect STATUS PATTERN CMD...: run, check the exit status and stderr.
expect() {
	_want=$1
	_pat=$2
	shift 2
	"$@" >"$T/out" 2>"$T/err"
	_got=$?
	[ "$_got" = "$_want" ] || fail "$*: exit $_got, want $_want: $(cat "$T/err")"
	[ -z "$_pat" ] || grep -q -- "$_pat" "$T/err" || fail "$*: stderr lacks '$_pat': $(cat "$T/err")"
}

expect 0 "" "$LULL" --help
grep -q "^SYNOPSIS" "$T/out" && grep -q "^EXIT STATUS" "$T/out" || fail "lull --help"
for cmd in genkey pubkey genpsk server client; do
	expect 0 "" "$LULL" $cmd --help
	grep -q "^NAME" "$T/out" && grep -q "^EXAMPLES" "$T/out" || fail "lull $cmd --help"
done
grep -q -- "--heartbeat-interval DURATION" "$T/out" || fail "client --help lacks options"
grep -q "Default: 60s" "$T/out" || fail "client --help lacks defaults"
expect 2 "lull: missing command" "$LULL"
expect 2 "lull: unknown command 'frob'" "$LULL" frob
expect 2 "lull: genkey: unexpected argument" "$LULL" genkey extra
# Three spellings of one report; the release is the one CMake built.
VERSION=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$BUILD_DIR/CMakeCache.txt")
for v in version --version -V; do
	expect 0 "" "$LULL" $v
	grep -qx "lull $VERSION" "$T/out" && grep -qx "liblull $VERSION" "$T/out" &&
		grep -q "^protocol 2 " "$T/out" && grep -q "^OpenSSL 3" "$T/out" &&
		grep -q "^libuv 1\." "$T/out" || fail "lull $v: $(cat "$T/out")"
done
expect 2 "lull: version: takes no arguments" "$LULL" version extra
expect 2 "lull: status: usage: lull status \[--status" "$LULL" status --bogus
expect 1 "lull: status: --status unix:$T/none.sock: No such file or directory" "$LULL" status --status "unix:$T/none.sock"

# Keys.
(umask 077 && "$LULL" genkey >"$T/a.key") || fail genkey
[ "$(wc -c <"$T/a.key")" = 45 ] || fail "genkey: not 44 characters and a newline"
"$LULL" pubkey <"$T/a.key" >"$T/a.pub" || fail pubkey
"$LULL" pubkey <"$T/a.key" | cmp -s - "$T/a.pub" || fail "pubkey is not deterministic"
cmp -s "$T/a.key" "$T/a.pub" && fail "public key equals private key"
(umask 077 && "$LULL" genpsk >"$T/a.psk") || fail genpsk
cmp -s "$T/a.key" "$T/a.psk" && fail "genpsk repeats genkey"
(umask 022 && "$LULL" genkey >"$T/open.key" 2>"$T/err") || fail "genkey to an open file"
grep -q "warning: .*chmod 600" "$T/err" || fail "genkey did not warn about an open file"
echo garbage | "$LULL" pubkey >/dev/null 2>"$T/err" && fail "pubkey accepted garbage"
grep -q "lull: pubkey: stdin: not a key" "$T/err" || fail "pubkey error: $(cat "$T/err")"

echo "$(cat "$T/a.pub") alice" >"$T/authorized"
S="server --listen 127.0.0.1:0 --target 127.0.0.1:9 --authorized $T/authorized"
# A --status address that cannot be served stops the start (exit 1).
expect 1 "lull: --status 1.2.3.4: '1.2.3.4': " timeout 10 "$LULL" $S --key "$T/a.key" --status 1.2.3.4
expect 1 "chmod 600 $T/open.key" "$LULL" $S --key "$T/open.key"
expect 1 "$T/missing.key" "$LULL" $S --key "$T/missing.key"
expect 2 "lull: --rekey-bytes: 1X: unknown unit" "$LULL" $S --key "$T/a.key" --rekey-bytes 1X
expect 2 "lull: --heartbeat-interval: -5s: negative" "$LULL" $S --key "$T/a.key" --heartbeat-interval -5s
expect 2 "lull: --srk-keep 0: out of range: must be 1 to 10" "$LULL" $S --key "$T/a.key" --srk-keep 0
expect 2 "lull: server: missing --target" "$LULL" server --listen 127.0.0.1:0 --key "$T/a.key" --authorized "$T/authorized"
expect 2 "lull: --listen: '127.0.0.1': expected HOST:PORT" "$LULL" server --listen 127.0.0.1 --target 127.0.0.1:9 --key "$T/a.key" --authorized "$T/authorized"
expect 2 "lull: --links: must be at least 1" "$LULL" client --listen 127.0.0.1:0 --server 127.0.0.1:9 --key "$T/a.key" --server-pub "$T/a.pub" --links 0
expect 2 "lull: --max-streams: must be at least 1" "$LULL" server --listen 127.0.0.1:0 --target 127.0.0.1:9 --key "$T/a.key" --authorized "$T/authorized" --max-streams 0
printf '%s alice\nbroken\n' "$(cat "$T/a.pub")" >"$T/bad-authorized"
expect 1 "lull: --authorized: $T/bad-authorized:2: expected PUBKEY NAME" "$LULL" server --listen 127.0.0.1:0 --target 127.0.0.1:9 --key "$T/a.key" --authorized "$T/bad-authorized"
printf 'rekey-bytes = 8M\nheartbeat-interval = soon\n' >"$T/lull.conf"
expect 2 "lull: $T/lull.conf:2: heartbeat-interval: soon: not a number" "$LULL" $S --key "$T/a.key" --config "$T/lull.conf"
# A FIFO where a key, authorized or config file should be is refused at
# once (opened with O_NONBLOCK) rather than hanging the start.
mkfifo "$T/fifo"
expect 1 "lull: --key: $T/fifo: not a regular file" timeout 10 "$LULL" $S --key "$T/fifo"
expect 1 "lull: --authorized: $T/fifo: not a regular file" timeout 10 "$LULL" server --listen 127.0.0.1:0 --target 127.0.0.1:9 --key "$T/a.key" --authorized "$T/fifo"
expect 1 "lull: --psk: $T/fifo: not a regular file" timeout 10 "$LULL" client --listen 127.0.0.1:0 --server 127.0.0.1:9 --key "$T/a.key" --server-pub "$T/a.pub" --psk "$T/fifo"
# An unreadable --config file is a runtime failure (exit 1, as lull(1) says).
expect 1 "lull: --config $T/missing.conf: No such file or directory" "$LULL" $S --key "$T/a.key" --config "$T/missing.conf"
expect 1 "lull: --config $T: not a regular file" "$LULL" $S --key "$T/a.key" --config "$T"
C="client --listen 127.0.0.1:0 --server 127.0.0.1:9 --key $T/a.key"
expect 1 "lull: --server-pub: nope: neither a base64 public key nor a readable file" "$LULL" $C --server-pub nope
expect 1 "chmod 600" "$LULL" $C --server-pub "$T/a.pub" --psk "$T/open.key"
# lull(1) LOGGING names every event the daemon logs.
SRC=$(cd "$(dirname "$0")/../.." && pwd)
for ev in $(cat "$SRC"/src/io/*.c "$SRC"/src/cli/*.c | grep -o 'event=[a-z_]*' | sort -u | cut -d= -f2); do
	grep -q "$ev" "$SRC/docs/lull.1" || fail "docs/lull.1 does not document event=$ev"
done
pass "command line"
it_pass
