#!/bin/bash
# `cprof top` in a real terminal (tmux):
# - on cpu-split the view shows work_a, the hot function, on the first row
#   with an own share within 5 points of what the target measured;
# - t sorts by total: a caller of every worker (split_loop) at 100% rises
#   above work_a;
# - q ends cprof with status 0, and the target runs on, untraced;
# - --mode=wall on parked, sorted by total, shows pool_wait, where four
#   threads wait;
# - a stdout that is not a terminal is refused: exit 64 and one line.
#
# usage: top-tmux.sh CPROF CPU-SPLIT PARKED
CPROF=$1 split=$2 parked=$3
. "$(dirname "$0")/../lib/lib.sh"

require_file "$CPROF" cprof
require_file "$split" "target cpu-split"
require_file "$parked" "target parked"
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
[ "$(echo "$first" | awk '{ print $NF }')" = work_a ] ||
	fail "the first row is not work_a: '$first'"
within "$got" "$truth" 5 ||
	fail "work_a has $got% on screen, the target measured $truth%"

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
