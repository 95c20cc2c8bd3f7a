#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The pprof file test-pprofout writes, as `go tool pprof` reads it: counts,
# function names (inlined frames too), labels, mappings with build ids and
# has_* flags, comments.
#
# usage: pprof-consumer.sh TEST_PPROFOUT GOLDEN_DIR
# exit: 0 pass, 1 fail, 77 skip (no go), 99 framework error

test_bin=$1
golden=$2
if [ ! -x "$test_bin" ] || [ ! -d "$golden" ]; then
	echo "usage: pprof-consumer.sh TEST_PPROFOUT GOLDEN_DIR" >&2
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

"$test_bin" "$golden" "$tmp/t.prof" || exit $?

pprof() {
	go tool pprof "$@" "$tmp/t.prof" 2>"$tmp/stderr" || {
		echo "go tool pprof $* failed:" >&2
		cat "$tmp/stderr" >&2
		exit 99
	}
}

pprof -raw >"$tmp/raw"
pprof -traces >"$tmp/traces"
pprof -top >"$tmp/top"
pprof -top -tagfocus=wait=futex >"$tmp/top-futex"

failures=0

# has LINE FILE: FILE holds LINE exactly.
has() {
	if ! grep -q -x -F -e "$1" "$2"; then
		echo "FAIL: no line '$1' in $(basename "$2"):" >&2
		cat "$2" >&2
		failures=$((failures + 1))
	fi
}

# equals WANT GOT WHAT
equals() {
	if [ "$1" != "$2" ]; then
		echo "FAIL: $3: want '$1', got '$2'" >&2
		failures=$((failures + 1))
	fi
}

# Mappings: the executable first, build ids and has_* flags as given.
has '1: 0x555555554000/0x555555560000/0x0 /usr/bin/app 5a1e0c0ffee0ddba11ab1ec0de5eed0f00d2bad1 [FN][FL][LN][IN]' "$tmp/raw"
has '2: 0x7f0000000000/0x7f0000200000/0x28000 /usr/lib/x86_64-linux-gnu/libc.so.6 c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00 [FN]' "$tmp/raw"

# Comments and sample type.
has 'Comment: executable: /usr/bin/app' "$tmp/raw"
has 'Comment: cprof 0.1.0' "$tmp/raw"
has 'threads/count' "$tmp/raw"

# Labels: strings, and thread_id as a number.
has '                state:[sleeping] thread_name:[worker-3] wait:[futex]' "$tmp/raw"
has '                thread_id:[4093]' "$tmp/raw"
has '                cpu:[1] thread_id:[4096]' "$tmp/raw"
equals 7 "$(grep -c 'thread_id:\[' "$tmp/raw")" "samples with a thread_id"

# An inlined chain is one location with two lines, innermost first.
has '     4: 0x5555555550a1 M=1 queue_empty /src/app/queue.c:31 s=29' "$tmp/raw"
has '             queue_pop /src/app/queue.c:88 s=80' "$tmp/raw"
has '    10: 0x555555555310 M=1 ns::Ticker<int>::run() /src/app/ticker.cc:17 s=15(_ZN2ns6TickerIiE3runEv)' "$tmp/raw"
has '     9: 0xdeadbeef 0xdeadbeef :0 s=0' "$tmp/raw"

# Traces: one a thread (pprof leaves out the one with no stack).
equals 7 "$(awk '/^ +[0-9]+ +[^ ]/ { n += $1 } END { print n }' "$tmp/traces")" \
	"threads in -traces"
awk '/thread_id:  4093/ { on = 1; next } on && /^-/ { exit } on' \
	"$tmp/traces" >"$tmp/trace-4093"
equals '1 __futex_abstimed_wait_common
queue_empty (inline)
queue_pop
worker_main
start_thread
clone3' "$(sed 's/^ *//; s/   */ /' "$tmp/trace-4093")" "trace of thread 4093"

# Totals, flat counts, and a label filter.
has 'Showing nodes accounting for 7, 87.50% of 8 total' "$tmp/top"
has '         4 50.00% 50.00%          4 50.00%  __futex_abstimed_wait_common' "$tmp/top"
has '         2 25.00% 75.00%          5 62.50%  worker_main' "$tmp/top"
has '         0     0% 87.50%          3 37.50%  queue_empty (inline)' "$tmp/top"
has 'Showing nodes accounting for 4, 50.00% of 8 total' "$tmp/top-futex"

[ "$failures" -eq 0 ] || exit 1
exit 0
