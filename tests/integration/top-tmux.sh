#!/bin/bash
# `cprof top` in a real terminal (tmux):
# - on cpu-split the view shows work_a, the hot function, on the first row
#   with an own share within 5 points of what the target measured, and
#   where it starts in the source (cpu-split.c:LINE);
# - the heading counts the two sampled threads and no lost samples;
# - n shows one thread alone: its id and name, work_a on top, a total
#   below the whole; a shows all threads again;
# - t sorts by total: a caller of every worker (split_loop) at 100% rises
#   above work_a;
# - q ends cprof with status 0, and the target runs on, untraced;
# - --mode=wall on parked, sorted by total, shows pool_wait, where four
#   threads wait, in state futex; the heading counts all 17 threads;
# - a stdout that is not a terminal is refused: exit 64 and one line.
#
# usage: top-tmux.sh CPROF CPU-SPLIT PARKED CPU-SPLIT-SOURCE
CPROF=$1 split=$2 parked=$3 split_src=$4
. "$(dirname "$0")/../lib/lib.sh"

require_file "$CPROF" cprof
require_file "$split" "target cpu-split"
require_file "$parked" "target parked"
require_file "$split_src" "cpu-split.c"
command -v tmux >/dev/null || skip "tmux not installed (Debian package tmux)"

tmux_name=cprof-top-$$
# The tmux server and its session end with the test, even on failure.
end_tmux()
{
	tmux kill-session -t "$tmux_name" 2>/dev/null
	lib_cleanup
}
trap end_tmux EXIT

# start_top ARGS...: cprof top ARGS in a new 160x50 tmux session; its exit
# status goes to $lib_tmp/top.rc.
start_top()
{
	rm -f "$lib_tmp/top.rc"
	tmux kill-session -t "$tmux_name" 2>/dev/null
	tmux new-session -d -s "$tmux_name" -x 160 -y 50 \
		"'$CPROF' top $*; echo \$? >'$lib_tmp/top.rc'" ||
		framework_error "tmux cannot start a session"
}

# screen_until PATTERN TIMEOUT: capture the pane into $lib_tmp/screen until
# a line matches PATTERN (grep -E).
screen_until()
{
	local n
	for ((n = 0; n < $2 * 10; n++)); do
		tmux capture-pane -p -t "$tmux_name" >"$lib_tmp/screen" 2>/dev/null
		grep -qE -- "$1" "$lib_tmp/screen" && return 0
		sleep 0.1
	done
	return 1
}

# quit_top: q, then cprof's exit status within 20 s.
quit_top()
{
	local n
	tmux send-keys -t "$tmux_name" q
	for ((n = 0; n < 200; n++)); do
		[ -s "$lib_tmp/top.rc" ] && break
		sleep 0.1
	done
	[ -s "$lib_tmp/top.rc" ] || { fail "q: cprof top still running 20 s later"; return; }
	[ "$(cat "$lib_tmp/top.rc")" = 0 ] ||
		fail "q: cprof top exited $(cat "$lib_tmp/top.rc")"
}

# --- cpu-split: the hot function on top ---------------------------------------
lib_spinning="split-1 split-2"
start_target split "$split" 2
pid=$TARGET_PID
before=$(target_report split "$pid" 1) || framework_error "no report"
start_top -p "$pid" -F 250
# Two seconds in: enough samples for a share.
screen_until ' [2-9][0-9]* s, [0-9]+ samples' 60 ||
	die "no view after 60 s: $(cat "$lib_tmp/screen")"
screen_until ' [3-9][0-9]* s, [0-9]+ samples' 60 ||
	die "the view stopped: $(cat "$lib_tmp/screen")"
after=$(target_report split "$pid" 2) || framework_error "no report"
first=$(awk '/ flat +flat% / { getline; print; exit }' "$lib_tmp/screen")
note "first row: $first"
total=$(($(report_field "$after" total) - $(report_field "$before" total)))
truth=$(share $(($(report_field "$after" work_a) - $(report_field "$before" work_a))) "$total")
got=$(echo "$first" | awk '{ sub(/%/, "", $2); print $2 }')
[ "$(echo "$first" | awk '{ print $6 }')" = work_a ] ||
	fail "the first row is not work_a: '$first'"
within "$got" "$truth" 5 ||
	fail "work_a has $got% on screen, the target measured $truth%"
# The definition's line, not the prototype's above it.
line=$(grep -n '^NOIPA uint64_t work_a(uint64_t n, uint64_t x)$' "$split_src" | cut -d: -f1)
[ "$(echo "$first" | awk '{ print $7 }')" = "(cpu-split.c:$line)" ] ||
	fail "work_a's row does not say cpu-split.c:$line: '$first'"
grep -qE "^cprof top: pid $pid, CPU, 250 Hz, [0-9]+ s, [0-9]+ samples, 0 lost, 2 threads sampled\$" \
	"$lib_tmp/screen" || fail "heading: $(head -1 "$lib_tmp/screen")"

# One thread alone: the first by id is split-1 (main, sleeping, has no
# CPU samples).
tmux send-keys -t "$tmux_name" n
screen_until '^thread [0-9]+ \(split-[12]\), 1 of 2, ' 20 ||
	fail "n: no single thread: $(sed -n 2p "$lib_tmp/screen")"
tid=$(sed -n 's/^thread \([0-9]*\) .*/\1/p' "$lib_tmp/screen")
[ -n "$tid" ] && [ "$(cat /proc/$pid/task/$tid/comm 2>/dev/null)" = \
	"$(sed -n 's/^thread [0-9]* (\([^)]*\)).*/\1/p' "$lib_tmp/screen")" ] ||
	fail "n: thread '$tid' is not named as in /proc: $(sed -n 2p "$lib_tmp/screen")"
first=$(awk '/ flat +flat% / { getline; print; exit }' "$lib_tmp/screen")
[ "$(echo "$first" | awk '{ print $6 }')" = work_a ] ||
	fail "n: the first row is not work_a: '$first'"
tmux send-keys -t "$tmux_name" a
screen_until '^all threads, ' 20 || fail "a: not all threads again"

tmux send-keys -t "$tmux_name" t
screen_until 'sorted by total' 20 || fail "t: not sorted by total"
first=$(awk '/ flat +flat% / { getline; print; exit }' "$lib_tmp/screen")
case $first in
*" 100%  "*) ;;
*) fail "sorted by total, the first row is not at 100%: '$first'" ;;
esac
quit_top
check_runs_on "$pid" "$TARGET_COUNTER"
end_target "$pid"

# --- wall mode: where the threads wait ------------------------------------------
lib_spinning=busy
start_target parked "$parked"
pid=$TARGET_PID
start_top --mode=wall -p "$pid"
screen_until ' [1-9][0-9]* s, [0-9]+ samples' 60 ||
	die "wall: no view after 60 s: $(cat "$lib_tmp/screen")"
# By own time the waits in libc lead; by total pool_wait, the frame four
# of the seventeen threads share, comes before any one thread's frames.
tmux send-keys -t "$tmux_name" t
screen_until 'pool_wait' 30 || fail "wall: no pool_wait: $(cat "$lib_tmp/screen")"
row=$(grep ' pool_wait ' "$lib_tmp/screen")
[ "$(echo "$row" | awk '{ print $6, $7 }')" = "futex 100%" ] ||
	fail "wall: pool_wait's state is not futex 100%: '$row'"
grep -qE ', 17 threads sampled$' "$lib_tmp/screen" ||
	fail "wall: not 17 threads sampled: $(head -1 "$lib_tmp/screen")"
grep -q "pid $pid, wall, 100 Hz" "$lib_tmp/screen" ||
	fail "wall: the heading does not say so: $(head -1 "$lib_tmp/screen")"
quit_top
check_runs_on "$pid" "$TARGET_COUNTER"

# --- not a terminal ---------------------------------------------------------------
run_cprof "$lib_tmp/notty" top -p "$pid"
rc=$?
[ $rc = 64 ] || fail "stdout not a terminal: exit $rc, expected 64"
[ "$(cat "$lib_tmp/notty.err")" = \
	"cprof: top: standard output is not a terminal; use cprof record --format=top for a table" ] ||
	fail "stdout not a terminal: '$(cat "$lib_tmp/notty.err")'"
finish
