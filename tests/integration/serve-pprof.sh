#!/bin/bash
# What `cprof serve` answers is what go tool pprof and cprof threads read:
# - profile?seconds=2 on cpu-split (work_a ~50%, work_b ~30%, work_c ~20%):
#   go tool pprof -top over HTTP puts work_a first;
# - wall?seconds=2: go tool pprof -top reads it, every thread's samples
#   labelled, and -tagfocus=state=running keeps the workers' work_a;
# - goroutine?debug=0: go tool pprof -raw reads a threads/count profile;
# - threads?debug=1 and debug=2 (and goroutine?debug=1) on parked: the
#   same header and the same sleeping threads' groups and stacks as
#   `cprof threads --debug=1` and `--debug=2`.
#
# usage: serve-pprof.sh CPROF CPU-SPLIT PARKED
CPROF=$1 split=$2 parked=$3
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/serve.sh"

require_file "$CPROF" cprof
require_file "$split" "target cpu-split"
require_file "$parked" "target parked"
require_go
require_curl

lib_spinning="split-1 split-2"
start_target split "$split" 2
spid=$TARGET_PID
start_serve split -p "$spid"

# top_first TOP: the function of the first row of a -top table.
top_first()
{
	awk '/^ *flat  *flat%/ { on = 1; next } on { print $6; exit }' "$1"
}

go_pprof -top "$SERVE_URL/profile?seconds=2" >"$lib_tmp/cpu.top" 2>"$lib_tmp/cpu.err" ||
	fail "go tool pprof -top profile: $(cat "$lib_tmp/cpu.err")"
first=$(top_first "$lib_tmp/cpu.top")
[ "$first" = work_a ] || {
	cat "$lib_tmp/cpu.top" >&2
	fail "profile: first in -top is '$first', expected work_a"
}
grep -q '^Type: cpu$' "$lib_tmp/cpu.top" || fail "profile: not a cpu profile"

go_pprof -top "$SERVE_URL/wall?seconds=2" >"$lib_tmp/wall.top" 2>"$lib_tmp/wall.err" ||
	fail "go tool pprof -top wall: $(cat "$lib_tmp/wall.err")"
grep -q '^Type: wall$' "$lib_tmp/wall.top" || fail "wall: not a wall profile"
curl -s -o "$lib_tmp/wall.prof" "$SERVE_URL/wall?seconds=2"
go_pprof -top -tagfocus=state=running "$lib_tmp/wall.prof" \
	>"$lib_tmp/wall-running.top" 2>&1
grep -qE ' work_a$' "$lib_tmp/wall-running.top" ||
	fail "wall: -tagfocus=state=running has no work_a"
go_pprof -raw "$lib_tmp/wall.prof" >"$lib_tmp/wall.raw" 2>&1
grep -q 'state:\[sleeping\]' "$lib_tmp/wall.raw" ||
	fail "wall: no sample of a sleeping thread (the main thread)"
check_runs_on "$spid" "$TARGET_COUNTER"
check_not_traced "$spid"

# A second server, on parked, whose threads sleep where they are.
lib_spinning=busy
start_target parked "$parked"
ppid=$TARGET_PID
start_serve parked -p "$ppid"

go_pprof -raw "$SERVE_URL/goroutine?debug=0" >"$lib_tmp/threads.raw" 2>&1 ||
	fail "go tool pprof -raw goroutine?debug=0: $(cat "$lib_tmp/threads.raw")"
grep -qx 'PeriodType: threads count' "$lib_tmp/threads.raw" ||
	grep -qx 'Samples:' "$lib_tmp/threads.raw" ||
	fail "goroutine?debug=0: -raw shows no samples"
grep -q '^threads/count$' "$lib_tmp/threads.raw" ||
	fail "goroutine?debug=0: sample type is not threads/count"

# sleeping_blocks FILE: the text's blank-line separated blocks that do not
# show a running thread, one per line (tabs and newlines kept as \t, \n),
# sorted; the first line (debug=1's total) on its own.
sleeping_blocks()
{
	awk 'BEGIN { RS = ""; ORS = "\n" }
		NR == 1 && /^thread profile: total/ {
			split($0, l, "\n"); print l[1]
			sub(/^[^\n]*\n/, "")
		}
		/running/ { next }
		{ gsub(/\t/, "\\t"); gsub(/\n/, "\\n"); print }' "$1" | sort
}

for debug in 1 2; do
	run_cprof "$lib_tmp/cli$debug" threads -p "$ppid" --debug=$debug
	curl -s -o "$lib_tmp/http$debug" -w '%{http_code} %{content_type}\n' \
		"$SERVE_URL/threads?debug=$debug" >"$lib_tmp/http$debug.status"
	[ "$(cat "$lib_tmp/http$debug.status")" = "200 text/plain; charset=utf-8" ] ||
		fail "threads?debug=$debug: $(cat "$lib_tmp/http$debug.status")"
	sleeping_blocks "$lib_tmp/cli$debug" >"$lib_tmp/cli$debug.blocks"
	sleeping_blocks "$lib_tmp/http$debug" >"$lib_tmp/http$debug.blocks"
	[ -s "$lib_tmp/cli$debug.blocks" ] || fail "cprof threads --debug=$debug: empty"
	cmp -s "$lib_tmp/cli$debug.blocks" "$lib_tmp/http$debug.blocks" || {
		diff "$lib_tmp/cli$debug.blocks" "$lib_tmp/http$debug.blocks" >&2
		fail "threads?debug=$debug differs from cprof threads --debug=$debug"
	}
done
curl -s -o "$lib_tmp/goroutine1" "$SERVE_URL/goroutine?debug=1"
sleeping_blocks "$lib_tmp/goroutine1" >"$lib_tmp/goroutine1.blocks"
cmp -s "$lib_tmp/cli1.blocks" "$lib_tmp/goroutine1.blocks" ||
	fail "goroutine?debug=1 differs from threads?debug=1"
head -n1 "$lib_tmp/http1" | grep -qx "thread profile: total $(tids "$ppid" | wc -l)" ||
	fail "threads?debug=1: first line '$(head -n1 "$lib_tmp/http1")'"
check_runs_on "$ppid" "$TARGET_COUNTER"
check_not_traced "$ppid"
finish
