#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The folded and top outputs against what `go tool pprof` makes of the pprof
# file written from the same profile: the top table (header, flat, cum,
# percentages, order, inline marks) must equal `go tool pprof -top` with no
# node dropped, and the folded stacks must equal those rebuilt from
# `go tool pprof -traces`.
#
# usage: pprof-flat-consumer.sh TEST_PPROFOUT_FLAT GOLDEN_DIR
# exit: 0 pass, 1 fail, 77 skip (no go), 99 framework error

test_bin=$1
golden=$2
if [ ! -x "$test_bin" ] || [ ! -d "$golden" ]; then
	echo "usage: pprof-flat-consumer.sh TEST_PPROFOUT_FLAT GOLDEN_DIR" >&2
	exit 99
fi
if ! command -v go >/dev/null 2>&1; then
	echo "skip: go not found" >&2
	exit 77
fi

tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/cache" "$tmp/home" || exit 99
# Offline, and nothing written outside $tmp.
export GOPROXY=off GO111MODULE=off GOCACHE="$tmp/cache" HOME="$tmp/home"

# It also checks its outputs against the golden files.
"$test_bin" "$golden" "$tmp/t.prof" || exit $?

pprof() {
	go tool pprof "$@" "$tmp/t.prof" 2>"$tmp/stderr" || {
		echo "go tool pprof $* failed:" >&2
		cat "$tmp/stderr" >&2
		exit 99
	}
}

failures=0

# same WANT_FILE GOT_FILE WHAT
same() {
	if ! cmp -s "$1" "$2"; then
		echo "FAIL: $3 differs from go tool pprof:" >&2
		diff -u "$1" "$2" >&2
		failures=$((failures + 1))
	fi
}

# top: pprof's header adds File, Time, Duration... lines cprof leaves out.
pprof -top -nodefraction=0 >"$tmp/pprof-top"
grep -E '^Type: ' "$tmp/pprof-top" >"$tmp/want-top" || exit 99
sed -n '/^Showing nodes accounting for /,$p' "$tmp/pprof-top" >>"$tmp/want-top"
same "$tmp/want-top" "$golden/top.txt" "top.txt"

# folded: -traces lists samples leaf first, one frame a line, values in ns;
# it leaves out samples with no stack.
pprof -traces -unit=ns >"$tmp/traces"
awk '
function flush() {
	if (stack != "" && value != 0)
		sum[stack] += value
	stack = ""
	value = 0
}
/^-----------\+/ { flush(); on = 0; next }
!on && /^ *(-?[0-9.]+ns|0)   / {
	sub(/^ +/, "")
	value = $1
	sub(/ns$/, "", value)
	sub(/^[^ ]+   /, "")
	on = 1
}
on {
	sub(/^ +/, "")
	sub(/ \(inline\)$/, "")
	gsub(/;/, "?")
	stack = stack == "" ? $0 : $0 ";" stack
}
END {
	flush()
	for (s in sum)
		if (sum[s] != 0)
			printf "%s %.0f\n", s, sum[s]
}' "$tmp/traces" | LC_ALL=C sort >"$tmp/want-folded"
grep -v '^\[unknown\] ' "$golden/folded.txt" >"$tmp/got-folded"
same "$tmp/want-folded" "$tmp/got-folded" "folded.txt"

[ "$failures" -eq 0 ] || exit 1
exit 0
