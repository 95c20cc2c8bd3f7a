#!/bin/bash
# `cprof record` is gentle with blocked threads.  A stop makes epoll_wait
# and sigwaitinfo return EINTR (signal(7)); the wakeups target counts such
# spurious returns in a thread blocked for ever in each.
# - cpu mode never stops a thread that is not running: zero wakeups over a
#   whole record, attach and detach included;
# - wall mode stops a blocked thread at most once per blocking episode, and
#   these threads stay blocked: at most one wakeup each over the record,
#   while every tick still has a sample of each, labelled with its wait.
#
# usage: record-gentle.sh CPROF WAKEUPS
CPROF=$1 wakeups=$2
. "$(dirname "$0")/../lib/lib.sh"

require_file "$CPROF" cprof
require_file "$wakeups" "target wakeups"
require_go

start_target gentle "$wakeups"
pid=$TARGET_PID
epoll_tid=$(tid_of "$pid" epoll) || framework_error "no epoll thread"
sigwait_tid=$(tid_of "$pid" sigwait) || framework_error "no sigwait thread"
busy_tid=$(tid_of "$pid" busy) || framework_error "no busy thread"

seq=1
r0=$(target_report gentle "$pid" $seq) || framework_error "no report"
for key in epoll sigwait signals; do
	[ "$(report_field "$r0" $key)" = 0 ] ||
		framework_error "wakeups before any record: $r0"
done

# wakeups_since BEFORE AFTER KEY
wakeups_since()
{
	echo $(($(report_field "$2" "$3") - $(report_field "$1" "$3")))
}

# samples_of SAMPLES TID: the samples/count of TID.
samples_of()
{
	awk -F'\t' -v tid="$2" '$3 == tid { s += $1 } END { print s + 0 }' "$1"
}

# --- cpu mode: no wakeup at all ----------------------------------------------
run_cprof "$lib_tmp/cpu.out" record -p "$pid" -s 2 -F 1000 -o "$lib_tmp/cpu.prof"
rc=$?
[ $rc = 0 ] || fail "cpu: cprof exited $rc: $(cat "$lib_tmp/cpu.out.err")"
seq=$((seq + 1))
r1=$(target_report gentle "$pid" $seq) || framework_error "no report"
for key in epoll sigwait; do
	n=$(wakeups_since "$r0" "$r1" $key)
	[ "$n" = 0 ] ||
		fail "cpu mode: $n spurious wakeup(s) of the $key thread, expected 0"
done
[ "$(wakeups_since "$r0" "$r1" signals)" = 0 ] ||
	fail "cpu mode: the sigwait thread received a signal"
check_runs_on "$pid" "$TARGET_COUNTER"
# The record did sample: the busy thread is in the profile.
if go_pprof -raw "$lib_tmp/cpu.prof" >"$lib_tmp/cpu.raw" 2>"$lib_tmp/cpu.raw.err"; then
	raw_samples "$lib_tmp/cpu.raw" >"$lib_tmp/cpu.samples"
	n=$(samples_of "$lib_tmp/cpu.samples" "$busy_tid")
	[ "$n" -ge 10 ] ||
		fail "cpu mode: $n samples of the busy thread in 2 s at 1000 Hz"
	for tid in "$epoll_tid" "$sigwait_tid"; do
		n=$(samples_of "$lib_tmp/cpu.samples" "$tid")
		[ "$n" = 0 ] ||
			fail "cpu mode: $n samples of blocked thread $tid"
	done
else
	fail "cpu mode: go tool pprof -raw failed: $(cat "$lib_tmp/cpu.raw.err")"
fi

# --- wall mode: at most one wakeup per thread ----------------------------------
run_cprof "$lib_tmp/wall.out" record -p "$pid" --mode=wall -s 2 -F 100 \
	-o "$lib_tmp/wall.prof"
rc=$?
[ $rc = 0 ] || fail "wall: cprof exited $rc: $(cat "$lib_tmp/wall.out.err")"
seq=$((seq + 1))
r2=$(target_report gentle "$pid" $seq) || framework_error "no report"
for key in epoll sigwait; do
	n=$(wakeups_since "$r1" "$r2" $key)
	note "wall mode: $n wakeup(s) of the $key thread"
	[ "$n" -le 1 ] ||
		fail "wall mode: $n spurious wakeups of the $key thread" \
			"in a 2 s record at 100 Hz, expected at most 1"
done
[ "$(wakeups_since "$r1" "$r2" signals)" = 0 ] ||
	fail "wall mode: the sigwait thread received a signal"
check_runs_on "$pid" "$TARGET_COUNTER"

# Cached stacks still make samples: the blocked threads have as many as
# the busy one, labelled sleeping in their system call.
if go_pprof -raw "$lib_tmp/wall.prof" >"$lib_tmp/wall.raw" 2>"$lib_tmp/wall.raw.err"; then
	raw_samples "$lib_tmp/wall.raw" >"$lib_tmp/wall.samples"
	nbusy=$(samples_of "$lib_tmp/wall.samples" "$busy_tid")
	[ "$nbusy" -ge 10 ] ||
		fail "wall mode: $nbusy samples of the busy thread in 2 s at 100 Hz"
	for t in "epoll $epoll_tid epoll_wait" "sigwait $sigwait_tid rt_sigtimedwait"; do
		read -r name tid want <<<"$t"
		n=$(samples_of "$lib_tmp/wall.samples" "$tid")
		within "$n" "$nbusy" 2 ||
			fail "wall mode: $n samples of the $name thread," \
				"$nbusy of the busy thread: every tick samples every thread"
		got=$(awk -F'\t' -v tid="$tid" '$3 == tid && $5 != "running" {
			print $5 "/" $6 }' "$lib_tmp/wall.samples" | sort -u | paste -sd' ')
		[ "$got" = "sleeping/$want" ] ||
			fail "wall mode: $name thread labelled '$got'," \
				"expected 'sleeping/$want'"
		# The one wakeup allowed runs the thread for a moment: a tick
		# that lands there sees it running, and says so.
		n=$(awk -F'\t' -v tid="$tid" '$3 == tid && $5 == "running" {
			s += $1 } END { print s + 0 }' "$lib_tmp/wall.samples")
		[ "$n" -le "$(wakeups_since "$r1" "$r2" $name)" ] ||
			fail "wall mode: $n samples of the $name thread running," \
				"after $(wakeups_since "$r1" "$r2" $name) wakeup(s)"
	done
else
	fail "wall mode: go tool pprof -raw failed: $(cat "$lib_tmp/wall.raw.err")"
fi

finish
