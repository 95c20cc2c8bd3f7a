#!/bin/bash
# Target events: whatever the target does while cprof watches it, cprof
# neither crashes nor hangs, writes a profile `go tool pprof -raw` reads,
# and leaves what survives running.
#
# 1. Exit mid-record: the target exits by itself (cpu-split with a
#    duration; wall mode), or is SIGKILLed (the thread storm; cpu mode):
#    cprof ends at once, exit 0.
# 2. Exec mid-record: a thread other than the leader execs the program
#    again (the leader's tid passes to it): cprof exit 0, in both modes; it
#    stops the new image's thread, and in wall mode the profile holds the
#    functions of both images (before_spin, after_spin).
# 3. A thread storm (tens of thousands of threads a second, each created
#    and joined) under `record -F 1000` in both modes and under `threads`:
#    exit 0 (threads: 0, or 1 when a thread ended before its capture),
#    within the timeout, the storm going on afterwards.
# 4. A process whose main thread has ended (pthread_exit) while two others
#    live: `threads` shows both, `record` (both modes) exits 0.
# 5. Constant dlopen/dlclose under `record -F 1000` (both modes) and
#    `threads`: exit 0, the churn going on afterwards.
#
# usage: safety-events.sh CPROF CPU-SPLIT EXECER STORM LONELY DLCHURN
CPROF=$1 split=$2 execer=$3 storm=$4 lonely=$5 dlchurn=$6
. "$(dirname "$0")/../lib/lib.sh"

require_file "$CPROF" cprof
require_file "$split" "target cpu-split"
require_file "$execer" "target execer"
require_file "$storm" "target storm"
require_file "$lonely" "target lonely"
require_file "$dlchurn" "target dlchurn"
require_go

# run_ok WHAT WANT-STATUSES ARGS...: cprof ARGS (with a 60 s timeout) exits
# with one of WANT-STATUSES (space separated); sets RC.
run_ok()
{
	local what=$1 want=$2
	shift 2
	run_cprof "$lib_tmp/run.out" "$@"
	RC=$?
	case " $want " in
	*" $RC "*) return 0 ;;
	esac
	fail "$what: cprof exited $RC, expected $want:" \
		"$(head -5 "$lib_tmp/run.out.err")"
	return 1
}

# readable WHAT PROF: pprof reads PROF; sets SAMPLES.
readable()
{
	pprof_samples "$2" || {
		fail "$1: profile unreadable: $PPROF_ERROR"
		return 1
	}
	SAMPLES=$PPROF_SAMPLES
}

# has_function WHAT PROF FUNC: FUNC is among PROF's functions.
has_function()
{
	go_pprof -top -nodecount=1000 "$2" 2>/dev/null |
		awk -v fn="$3" '$NF == fn { found = 1 } END { exit !found }' ||
		fail "$1: $3 not in the profile"
}

# end_cprof WHAT PID: SIGINT cprof started with start_cprof, wait up to
# 30 s; it must exit 0.
end_cprof()
{
	local what=$1 pid=$2
	kill -INT "$pid"
	if ! wait_exit "$pid" 30; then
		fail "$what: cprof still running 30 s after SIGINT"
		kill -KILL "$pid"
		{ wait "$pid"; } 2>/dev/null
	elif [ "$WAIT_STATUS" != 0 ]; then
		fail "$what: cprof exited $WAIT_STATUS"
	fi
	forget_pid "$pid"
}

# --- 1. exit mid-record ---------------------------------------------------------
lib_spinning=split-1
start_target exit "$split" 1
pid=$TARGET_PID
what="target exits, record --mode=wall"
start_cprof "$lib_tmp/exit.out" record --mode=wall -F 1000 -p "$pid" -s 60 \
	-o "$lib_tmp/exit.prof"
# The target ends on SIGUSR2 once it has run a while under cprof.
wait_traced "$pid" "$CPROF_PID" 20 || fail "$what: cprof did not attach"
wait_process_cpu "$pid" 300000000 20 || fail "$what: the target did not run"
kill -USR2 "$pid"
if ! wait_exit "$CPROF_PID" 30; then
	fail "$what: cprof still running 30 s into a 60 s run; the target" \
		"exited"
	end_target "$CPROF_PID"
elif [ "$WAIT_STATUS" != 0 ]; then
	fail "$what: cprof exited $WAIT_STATUS: $(cat "$lib_tmp/exit.out.err")"
fi
forget_pid "$CPROF_PID"
readable "$what" "$lib_tmp/exit.prof" && has_function "$what" \
	"$lib_tmp/exit.prof" work_a
wait_exit "$pid" 10 && [ "$WAIT_STATUS" = 0 ] ||
	fail "$what: the target did not finish normally (${WAIT_STATUS:-?})"
forget_pid "$pid"

start_ready storm-exit "$storm"
pid=$TARGET_PID
what="target killed, record --mode=cpu"
start_cprof "$lib_tmp/killed.out" record --sampler=ptrace -F 1000 -p "$pid" -s 60 \
	-o "$lib_tmp/killed.prof"
wait_traced "$pid" "$CPROF_PID" 20 || fail "$what: cprof did not attach"
end_target "$pid"
if ! wait_exit "$CPROF_PID" 30; then
	fail "$what: cprof still running 30 s after the target died"
	end_target "$CPROF_PID"
elif [ "$WAIT_STATUS" != 0 ]; then
	fail "$what: cprof exited $WAIT_STATUS: $(cat "$lib_tmp/killed.out.err")"
fi
forget_pid "$CPROF_PID"
readable "$what" "$lib_tmp/killed.prof"

# --- 2. exec mid-record ---------------------------------------------------------
for mode in cpu wall; do
	what="exec, record --mode=$mode"
	lib_spinning=busy
	start_target "exec-$mode" "$execer"
	pid=$TARGET_PID
	busy=$(tid_of "$pid" busy) || framework_error "no busy thread"
	prof=$lib_tmp/exec-$mode.prof
	start_cprof "$lib_tmp/exec-$mode.out" record --mode="$mode" --sampler=ptrace -F 1000 \
		-p "$pid" -s 60 -o "$prof"
	cprof_pid=$CPROF_PID
	wait_traced "$pid" "$cprof_pid" 20 || fail "$what: cprof did not attach"
	wait_switches "$pid" "$busy" 5 20 ||
		fail "$what: cprof did not stop the busy thread 5 times"
	kill -USR1 "$pid"
	wait_line "$lib_tmp/exec-$mode.out" "execed $pid" 20 ||
		fail "$what: the target did not exec"
	# The new image spins on the leader's tid without blocking: each
	# voluntary switch is a stop by cprof.
	wait_switches "$pid" "$pid" 5 20 ||
		fail "$what: cprof did not stop the new image 5 times:" \
			"$(kill -0 "$cprof_pid" 2>/dev/null || echo "cprof ended:")" \
			"$(head -5 "$lib_tmp/exec-$mode.out.err")"
	end_cprof "$what" "$cprof_pid"
	check_free "$pid" "$TARGET_COUNTER" "$what"
	if readable "$what" "$prof" && [ "$mode" = wall ]; then
		has_function "$what" "$prof" before_spin
		has_function "$what" "$prof" after_spin
	fi
	end_target "$pid"
done

# --- 3. thread storm ----------------------------------------------------------
# storm_created VAR: set VAR to the storm target's count of threads
# created so far.
storm_seq=0
storm_created()
{
	local r
	storm_seq=$((storm_seq + 1))
	r=$(target_report storm "$pid" "$storm_seq") || return 1
	printf -v "$1" '%s' "$(report_field "$r" created)"
}

start_ready storm "$storm"
pid=$TARGET_PID
for run in cpu wall threads; do
	case $run in
	threads) args=(threads --debug=0 -p "$pid") want="0 1" ;;
	*) args=(record --mode="$run" --sampler=ptrace -F 1000 -p "$pid" -s 2) want=0 ;;
	esac
	what="thread storm, ${args[*]}"
	storm_created c0 || die "storm: no report"
	t0=$(date +%s%N)
	run_ok "$what" "$want" "${args[@]}" -o "$lib_tmp/storm-$run.prof"
	t1=$(date +%s%N)
	storm_created c1 || die "storm: no report"
	note "$what: exit $RC after $(((t1 - t0) / 1000000)) ms;" \
		"$(((c1 - c0) * 1000000000 / (t1 - t0 + 1))) threads created a second"
	readable "$what" "$lib_tmp/storm-$run.prof"
	check_free "$pid" "$TARGET_COUNTER" "$what"
	# The storm goes on: it was not left waiting on a stopped thread.
	c2=$c1
	for ((n = 0; n < 100; n++)); do
		storm_created c2 || die "storm: no report"
		[ "$c2" -gt "$c1" ] && break
		sleep 0.1
	done
	[ "$c2" -gt "$c1" ] || fail "$what: the storm stopped"
done
end_target "$pid"

# --- 4. main thread gone -------------------------------------------------------
lib_spinning="busy lonely"
start_target lonely "$lonely"
pid=$TARGET_PID
for ((n = 0; n < 200; n++)); do
	[ "$(lib_stat_state "/proc/$pid")" = Z ] && break
	sleep 0.05
done
[ "$(lib_stat_state "/proc/$pid")" = Z ] ||
	framework_error "lonely: the main thread did not exit"
what="main thread gone, threads --debug=2"
if run_ok "$what" 0 threads -p "$pid" --debug=2; then
	out=$lib_tmp/run.out
	for name in sleeper busy; do
		tid=$(tid_of "$pid" "$name")
		d2_header "$out" "$tid" >/dev/null ||
			fail "$what: no thread $name"
	done
	grep -qx 'lonely_sleep(...)' "$out" || fail "$what: no lonely_sleep"
	grep -qx 'lonely_spin(...)' "$out" || fail "$what: no lonely_spin"
fi
check_free "$pid" "$TARGET_COUNTER" "$what"
for mode in cpu wall; do
	what="main thread gone, record --mode=$mode"
	if run_ok "$what" 0 record --mode="$mode" --sampler=ptrace -p "$pid" -s 1 \
		-o "$lib_tmp/lonely-$mode.prof" &&
		readable "$what" "$lib_tmp/lonely-$mode.prof"; then
		# Wall mode samples the sleeper whatever the machine's load.
		[ "$mode" != wall ] || [ "$SAMPLES" -ge 1 ] ||
			fail "$what: no samples"
	fi
	check_free "$pid" "$TARGET_COUNTER" "$what"
done
end_target "$pid"

# --- 5. dlopen/dlclose churn -----------------------------------------------------
# dl_cycles VAR: set VAR to the dlchurn target's dlopen/dlclose pairs so
# far.
dl_seq=0
dl_cycles()
{
	local r
	dl_seq=$((dl_seq + 1))
	r=$(target_report dlchurn "$pid" "$dl_seq") || return 1
	printf -v "$1" '%s' "$(report_field "$r" cycles)"
}

start_ready dlchurn "$dlchurn"
pid=$TARGET_PID
for run in cpu wall threads; do
	case $run in
	# A thread caught in the library that dlclose unmaps before the
	# maps are read has a stack cut at its first frame: exit 1, partial.
	threads) args=(threads --debug=0 -p "$pid") want="0 1" ;;
	*) args=(record --mode="$run" --sampler=ptrace -F 1000 -p "$pid" -s 2) want=0 ;;
	esac
	what="dlopen churn, ${args[*]}"
	dl_cycles c0 || die "dlchurn: no report"
	run_ok "$what" "$want" "${args[@]}" -o "$lib_tmp/dl-$run.prof"
	dl_cycles c1 || die "dlchurn: no report"
	note "$what: exit $RC, $((c1 - c0)) dlopen/dlclose meanwhile"
	[ "$c1" -gt "$c0" ] || fail "$what: no dlopen/dlclose during the run"
	if readable "$what" "$lib_tmp/dl-$run.prof"; then
		# threads: one sample per thread (main, busy, churn).
		[ "$run" != threads ] || [ "$SAMPLES" = 3 ] ||
			fail "$what: $SAMPLES samples for 3 threads"
	fi
	check_free "$pid" "$TARGET_COUNTER" "$what"
done
end_target "$pid"

finish
