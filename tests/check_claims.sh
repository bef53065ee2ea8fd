#!/bin/sh
# check_claims.sh - docs/claims.md names only what exists.
#
#   tests/check_claims.sh [SOURCE_DIR]
#
# Every `path` and `path:name` in backticks in docs/claims.md is checked: the
# file must exist, and the name must be defined in it: a C function
# (a line that starts with its type and has `name(`), a test mutation
# (`MUTATION(name,`), a Promela claim, inline or process (`ltl name`,
# `inline name`, `proctype name`), or a shell function (`name()`); a unit
# test must also be named a second time (called from main or listed in a
# table), so a test that is defined but no longer run fails too.  A renamed
# function or test, or a deleted script, fails the check with the reference
# that went stale.
set -eu
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
doc="$root/docs/claims.md"
[ -f "$doc" ] || { echo "check_claims: $doc missing" >&2; exit 1; }

refs=$(grep -o '`[A-Za-z0-9_./-]*\.\(c\|h\|sh\|pml\)\(:[A-Za-z_][A-Za-z0-9_]*\)\?`' "$doc" | tr -d '`' | sort -u)
[ -n "$refs" ] || { echo "check_claims: no references found in $doc" >&2; exit 1; }
bad=0
n=0
for ref in $refs; do
	n=$((n + 1))
	file=${ref%%:*}
	name=""
	[ "$file" != "$ref" ] && name=${ref#*:}
	if [ ! -f "$root/$file" ]; then
		echo "check_claims: $ref: no file $file" >&2
		bad=1
		continue
	fi
	[ -z "$name" ] && continue
	case "$file" in
	*.c | *.h) re="^([A-Za-z_][A-Za-z0-9_ *]*[ *])?$name\(|^MUTATION\($name," ;;
	*.pml) re="^(ltl|inline|proctype) +$name\b" ;;
	*.sh) re="^ *$name *\(\)" ;;
	esac
	if ! grep -Eq "$re" "$root/$file"; then
		echo "check_claims: $ref: $name is not defined in $file" >&2
		bad=1
		continue
	fi
	# A unit test must also be run: named again after its definition
	# (called from main, or listed in its table).
	case "$file" in
	tests/*.c | sim/*.c)
		uses=$(grep -E "(^|[^A-Za-z0-9_])$name(\(|,)" "$root/$file" |
			grep -Evc "^(static|void|int|MUTATION)|^[[:space:]]*(//|/\*|\*)") || true
		if [ "$uses" -lt 1 ]; then
			echo "check_claims: $ref: $name is defined but never run" >&2
			bad=1
		fi
		;;
	esac
done
[ $bad = 0 ] && echo "check_claims: $n references, all present"
exit $bad
