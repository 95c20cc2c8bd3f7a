#!/bin/bash
# `cprof threads` does not stop a thread blocked in the kernel: it copies
# its stack from the SP and PC /proc shows while it sleeps.  The wakeups
# target counts the spurious returns a stop would cause in epoll_wait and
# sigwaitinfo; over several dumps, with both unwinders, they stay at zero.
# Only the busy thread is stopped, plus the "framed" thread, whose read is
# called from a frame addressed from rbp: a walk from SP and PC cannot get
# past it, so cprof stops that thread rather than cut its stack.  --stats
# says how many threads were stopped and why, and every chain is whole.
# Under strace, cprof seizes three threads: the one that checks its
# rights at attach, and the two it stops; the others are never traced.
#
# usage: threads-gentle.sh CPROF WAKEUPS
CPROF=$1 wakeups=$2
. "$(dirname "$0")/../lib/lib.sh"

require_file "$CPROF" cprof
require_file "$wakeups" "target wakeups"

start_target gentle "$wakeups"
pid=$TARGET_PID
epoll_tid=$(tid_of "$pid" epoll) || framework_error "no epoll thread"
sigwait_tid=$(tid_of "$pid" sigwait) || framework_error "no sigwait thread"
framed_tid=$(tid_of "$pid" framed) || framework_error "no framed thread"

r0=$(target_report gentle "$pid" 1) || framework_error "no report"

libc='(__GI_)?_*(libc_)?'
thread_end='start_thread;(__GI_)?_*clone3?'
epoll_chain="${libc}epoll_wait;epoll_block;epoll_thread;$thread_end"
# glibc's sigwaitinfo is an alias of __sigtimedwait.
sigwait_chain="${libc}(sigtimedwait|sigwaitinfo);sigwait_block;sigwait_thread;$thread_end"
framed_chain="(${libc}read;)?${libc}read;framed_block;framed_thread;$thread_end"
stats_want='threads 5, captured 5, lost 0, cut stacks 0, stopped 2 \(1 after a read without a stop fell short\), .*'

runs=0
for unwinder in libdw libunwind libdw; do
	runs=$((runs + 1))
	what="--unwinder=$unwinder (run $runs)"
	run_cprof "$lib_tmp/d2.out" threads -p "$pid" --debug=2 --stats \
		--unwinder=$unwinder
	rc=$?
	[ $rc = 0 ] || fail "$what: cprof exited $rc: $(cat "$lib_tmp/d2.out.err")"
	stats=$(grep '^threads ' "$lib_tmp/d2.out.err")
	printf '%s\n' "$stats" | grep -qE -x -e "$stats_want" ||
		fail "$what: --stats '$stats', expected /$stats_want/"
	expect_chain "$what: epoll" "$(d2_chain "$lib_tmp/d2.out" "$epoll_tid")" \
		"$epoll_chain"
	expect_chain "$what: sigwait" \
		"$(d2_chain "$lib_tmp/d2.out" "$sigwait_tid")" "$sigwait_chain"
	expect_chain "$what: framed" \
		"$(d2_chain "$lib_tmp/d2.out" "$framed_tid")" "$framed_chain"
done

# Only the threads to stop are seized, and one more at attach.
command -v strace >/dev/null || framework_error "strace is not installed"
what="under strace"
# LeakSanitizer stops threads with ptrace, which it cannot under strace.
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
	timeout -k 5 60 strace -f -qq -e trace=ptrace -o "$lib_tmp/ptrace.log" \
	"$CPROF" threads -p "$pid" --stats >/dev/null 2>"$lib_tmp/strace.err"
rc=$?
[ $rc = 0 ] || fail "$what: cprof exited $rc: $(cat "$lib_tmp/strace.err")"
seized=$(grep -c 'PTRACE_SEIZE' "$lib_tmp/ptrace.log")
[ "$seized" = 3 ] ||
	fail "$what: $seized PTRACE_SEIZE calls, expected 3: $(grep PTRACE_SEIZE "$lib_tmp/ptrace.log" | tr '\n' ' ')"
for tid in "$epoll_tid" "$sigwait_tid"; do
	! grep -q "PTRACE_SEIZE, $tid," "$lib_tmp/ptrace.log" ||
		fail "$what: blocked thread $tid was seized"
done

r1=$(target_report gentle "$pid" 2) || framework_error "no report"
runs=$((runs + 1))
for key in epoll sigwait signals; do
	n=$(($(report_field "$r1" $key) - $(report_field "$r0" $key)))
	[ "$n" = 0 ] ||
		fail "$runs dumps: $n spurious $key return(s), expected 0"
done
check_runs_on "$pid" "$TARGET_COUNTER"
finish
