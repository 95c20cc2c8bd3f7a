#!/bin/bash
# Signals kept: a traced target loses no signal, and job control still
# stops it.
#
# 1. While `cprof record -F 1000` runs (cpu mode, then wall mode), another
#    process queues COUNT real-time signals to the signals target, each
#    numbered; the target receives every one, in order.  Meanwhile it
#    forks children without pause and receives each one's SIGCHLD, and its
#    POSIX timer's signals arrive: after the run, every expiry due has been
#    received.  cprof exits 0 with a profile pprof reads.
# 2. A target SIGSTOPped before cprof runs stays stopped (every thread in
#    state T, its busy counter frozen) during and after `cprof threads`,
#    `cprof record` and `cprof record --mode=wall`, which exit 0, and runs
#    again on SIGCONT.
# 3. A target SIGSTOPped while `cprof record` runs (both modes) stays
#    stopped while traced (the group-stop is kept: PTRACE_LISTEN, not a
#    resume), runs again on SIGCONT while still traced, and when stopped
#    again as cprof ends, stays stopped after it.
#
# usage: safety-signals.sh CPROF SIGNALS PARKED [COUNT]
# COUNT (signals per mode) defaults to $CPROF_SIGNAL_COUNT, else 5000.
CPROF=$1 signals=$2 parked=$3
count=${4:-${CPROF_SIGNAL_COUNT:-5000}}
. "$(dirname "$0")/../lib/lib.sh"

require_file "$CPROF" cprof
require_file "$signals" "target signals"
require_file "$parked" "target parked"
require_go
case $count in '' | *[!0-9]*) framework_error "count: '$count'" ;; esac

# check_profile WHAT PROF: PROF is a profile pprof reads.
check_profile()
{
	pprof_samples "$2" || fail "$1: profile unreadable: $PPROF_ERROR"
}

# --- 1. a stream of queued signals, SIGCHLD and a timer -----------------------
lib_spinning="busy forker timer"
start_target signals "$signals"
pid=$TARGET_PID
counter=$TARGET_COUNTER
busy=$(tid_of "$pid" busy) || framework_error "no busy thread"
signals_report signals "$pid" || framework_error "signals: no report"
sent=0
for mode in cpu wall; do
	what="record --mode=$mode"
	prof=$lib_tmp/$mode.prof
	reaped0=$SIG_REAPED timer0=$SIG_TIMER
	start_cprof "$lib_tmp/$mode.out" record --mode="$mode" --sampler=ptrace -F 1000 \
		-p "$pid" -s 120 -o "$prof"
	cprof_pid=$CPROF_PID
	wait_traced "$pid" "$cprof_pid" 20 ||
		die "$what: cprof did not attach: $(cat "$lib_tmp/$mode.out.err")"
	wait_switches "$pid" "$busy" 5 20 ||
		fail "$what: cprof did not stop the busy thread 5 times"
	# 2500 a second: the stream lasts as long as the run, not a burst.
	signals_stream "$signals" "$pid" $((sent + 1)) "$count" 2500 ||
		die "$what: the sender failed"
	sent=$((sent + count))
	note "$what: $count signals sent (queue full $STREAM_FULL times)"
	signals_received signals "$pid" "$sent" 60 ||
		fail "$what: $SIG_RT of $sent signals received"
	wait_traced "$pid" "$cprof_pid" 1 ||
		fail "$what: cprof let go before the stream ended"
	kill -INT "$cprof_pid"
	if ! wait_exit "$cprof_pid" 30; then
		fail "$what: cprof still running 30 s after SIGINT"
		kill -KILL "$cprof_pid"
		wait "$cprof_pid"
	elif [ "$WAIT_STATUS" != 0 ]; then
		fail "$what: cprof exited $WAIT_STATUS:" \
			"$(cat "$lib_tmp/$mode.out.err")"
	fi
	forget_pid "$cprof_pid"
	check_free "$pid" "$counter" "$what"
	check_profile "$what" "$prof"

	signals_report signals "$pid" || die "$what: no report"
	note "$what: received $SIG_RT, last $SIG_LAST, out of order" \
		"$SIG_ORDER; children reaped $((SIG_REAPED - reaped0))," \
		"SIGCHLDs lost $SIG_LOST; timer expiries $((SIG_TIMER - timer0))"
	[ "$SIG_RT" = "$sent" ] && [ "$SIG_LAST" = "$sent" ] &&
		[ "$SIG_ORDER" = 0 ] ||
		fail "$what: sent 1..$sent, received $SIG_RT, last $SIG_LAST," \
			"$SIG_ORDER out of order"
	[ "$SIG_LOST" = 0 ] || fail "$what: $SIG_LOST SIGCHLDs lost"
	[ "$SIG_REAPED" -gt "$reaped0" ] ||
		fail "$what: no child forked and reaped during the run"
	[ $((SIG_CHLD - SIG_REAPED)) -ge 0 ] &&
		[ $((SIG_CHLD - SIG_REAPED)) -le 1 ] ||
		fail "$what: $SIG_CHLD SIGCHLDs for $SIG_REAPED children"
	[ "$SIG_TIMER" -gt "$timer0" ] || fail "$what: no timer signal"
	signals_timer_kept signals "$pid" 5 ||
		fail "$what: timer expiries lost: at best $SIG_SHORT short"
done
note "signals sent: $sent, received: $SIG_RT"
end_target "$pid"

# --- 2. stopped before the run --------------------------------------------------
# frozen WHAT COUNTER VALUE: the busy counter still reads VALUE.
frozen()
{
	local now
	now=$(counter_value "$2")
	[ "$now" = "$3" ] || fail "$1: the stopped target ran (counter $3 -> $now)"
}

# wait_frozen COUNTER: wait until the busy counter stops moving, up to 10 s;
# prints its value.
wait_frozen()
{
	local a b n
	a=$(counter_value "$1")
	for ((n = 0; n < 100; n++)); do
		sleep 0.1
		b=$(counter_value "$1")
		[ "$a" = "$b" ] && break
		a=$b
	done
	printf '%s\n' "$b"
}

lib_spinning=busy
start_target parked "$parked"
pid=$TARGET_PID
counter=$TARGET_COUNTER
busy=$(tid_of "$pid" busy) || framework_error "no busy thread"
nthreads=$(tids "$pid" | wc -l)
kill -STOP "$pid"
wait_group_stopped "$pid" 10 || framework_error "SIGSTOP: states $STATES"
c0=$(counter_value "$counter")
for run in threads cpu wall; do
	case $run in
	threads) args=(threads -p "$pid") ;;
	*) args=(record --mode="$run" --sampler=ptrace -F 1000 -p "$pid" -s 1) ;;
	esac
	what="stopped target, ${args[*]}"
	prof=$lib_tmp/stopped-$run.prof
	run_cprof "$lib_tmp/stopped-$run.out" "${args[@]}" -o "$prof"
	rc=$?
	[ $rc = 0 ] ||
		fail "$what: cprof exited $rc: $(cat "$lib_tmp/stopped-$run.out.err")"
	wait_group_stopped "$pid" 5 ||
		fail "$what: not every thread stopped and untraced:" \
			"$(paste -sd, <<<"$STATES")"
	frozen "$what" "$counter" "$c0"
	if pprof_samples "$prof"; then
		# threads: one sample per thread.
		[ $run != threads ] || [ "$PPROF_SAMPLES" = "$nthreads" ] ||
			fail "$what: $PPROF_SAMPLES samples for $nthreads threads"
	else
		fail "$what: profile unreadable: $PPROF_ERROR"
	fi
done
kill -CONT "$pid"
check_free "$pid" "$counter" "SIGCONT after the runs"

# --- 3. stopped during the run ---------------------------------------------------
for mode in cpu wall; do
	what="SIGSTOP during record --mode=$mode"
	prof=$lib_tmp/during-$mode.prof
	start_cprof "$lib_tmp/during-$mode.out" record --mode="$mode" --sampler=ptrace -F 1000 \
		-p "$pid" -s 120 -o "$prof"
	cprof_pid=$CPROF_PID
	wait_traced "$pid" "$cprof_pid" 20 ||
		die "$what: cprof did not attach:" \
			"$(cat "$lib_tmp/during-$mode.out.err")"
	wait_switches "$pid" "$busy" 3 20 ||
		fail "$what: cprof did not stop the busy thread 3 times"
	kill -STOP "$pid"
	c0=$(wait_frozen "$counter")
	# Stopped means stopped for good: it must not move within half a
	# second of cprof sampling.
	sleep 0.5
	frozen "$what" "$counter" "$c0"
	kill -CONT "$pid"
	counter_rises "$counter" 10 ||
		fail "$what: SIGCONT did not resume the traced target"
	kill -STOP "$pid"
	c0=$(wait_frozen "$counter")
	kill -INT "$cprof_pid"
	if ! wait_exit "$cprof_pid" 30; then
		fail "$what: cprof still running 30 s after SIGINT"
		kill -KILL "$cprof_pid"
		wait "$cprof_pid"
	elif [ "$WAIT_STATUS" != 0 ]; then
		fail "$what: cprof exited $WAIT_STATUS:" \
			"$(cat "$lib_tmp/during-$mode.out.err")"
	fi
	forget_pid "$cprof_pid"
	wait_group_stopped "$pid" 5 ||
		fail "$what: after cprof, not every thread stopped and" \
			"untraced: $(paste -sd, <<<"$STATES")"
	frozen "$what, after cprof" "$counter" "$c0"
	check_profile "$what" "$prof"
	kill -CONT "$pid"
	check_free "$pid" "$counter" "$what, SIGCONT"
done

finish
