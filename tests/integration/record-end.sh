#!/bin/bash
# Every way a `cprof record -p PID` run ends writes a complete profile
# (`go tool pprof -raw` reads it, with the cpu sample types), exits 0, and
# leaves the target running: no thread stopped or traced, the busy thread
# counting.  The ways: the duration running out; SIGINT (Ctrl-C), SIGTERM
# and SIGHUP to cprof mid-run; the target exiting mid-run (then the target
# must have finished its work normally).
#
# usage: record-end.sh CPROF WAKEUPS CPU-SPLIT
CPROF=$1 wakeups=$2 split=$3
. "$(dirname "$0")/../lib/lib.sh"

require_file "$CPROF" cprof
require_file "$wakeups" "target wakeups"
require_file "$split" "target cpu-split"
require_go

# check_profile WHAT PROF MIN-SAMPLES: PROF is a cpu profile pprof reads,
# with at least MIN-SAMPLES samples.
check_profile()
{
	local what=$1 prof=$2 min=$3 n types
	[ -s "$prof" ] || {
		fail "$what: no profile written"
		return 1
	}
	go_pprof -raw "$prof" >"$prof.raw" 2>"$prof.raw.err" || {
		fail "$what: go tool pprof -raw failed: $(cat "$prof.raw.err")"
		return 1
	}
	types=$(sed -n '/^Samples:$/{n;p;q}' "$prof.raw")
	[ "$types" = "samples/count cpu/nanoseconds" ] ||
		fail "$what: sample types '$types'"
	grep -q '^Duration: ' "$prof.raw" || fail "$what: no Duration"
	n=$(raw_samples "$prof.raw" | awk -F'\t' '{ s += $1 } END { print s + 0 }')
	[ "$n" -ge "$min" ] ||
		fail "$what: $n samples, expected at least $min"
}

# --- the duration runs out ---------------------------------------------------
start_target dur "$wakeups"
pid=$TARGET_PID
run_cprof "$lib_tmp/dur.out" record -p "$pid" -s 1.5 -o "$lib_tmp/dur.prof"
rc=$?
[ $rc = 0 ] || fail "duration: cprof exited $rc: $(cat "$lib_tmp/dur.out.err")"
check_runs_on "$pid" "$TARGET_COUNTER"
# The busy thread runs all along: 1.5 s at 100 Hz.
check_profile duration "$lib_tmp/dur.prof" 10
kill -KILL "$pid"

# --- a signal to cprof mid-run -----------------------------------------------
# cpu_ns PID TID: the CPU time TID has used, in nanoseconds.
cpu_ns()
{
	cut -d' ' -f1 "/proc/$1/task/$2/schedstat" 2>/dev/null
}

# wait_cpu PID TID NS: wait up to 20 s until TID has used NS more CPU time.
wait_cpu()
{
	local start n
	start=$(cpu_ns "$1" "$2") || return 1
	for ((n = 0; n < 400; n++)); do
		[ $(($(cpu_ns "$1" "$2") - start)) -ge "$3" ] && return 0
		sleep 0.05
	done
	return 1
}

for run in ptrace:INT ptrace:TERM ptrace:HUP perf:INT perf:TERM perf:HUP; do
	sampler=${run%:*} sig=${run#*:}
	start_target "sig$sig" "$wakeups"
	pid=$TARGET_PID
	busy=$(tid_of "$pid" busy) || framework_error "no busy thread"
	prof=$lib_tmp/sig$sig.$sampler.prof
	start_cprof "$lib_tmp/sig$sig.out" record --sampler="$sampler" \
		-p "$pid" -s 30 -o "$prof"
	wait_sampling "$pid" "$CPROF_PID" 20 || {
		fail "SIG$sig: cprof did not attach: $(cat "$lib_tmp/sig$sig.out.err")"
		kill -KILL "$CPROF_PID" "$pid"
		continue
	}
	if [ "$sampler" = ptrace ]; then
		# The busy thread never blocks: each of its voluntary switches
		# is a stop by cprof, that is a sample taken.
		wait_switches "$pid" "$busy" 5 20 ||
			fail "SIG$sig: cprof did not stop the busy thread 5 times in 20 s"
	else
		# The perf sampler stops nothing: 50 ms of the busy thread's
		# CPU time under the events is 5 ticks at 100 Hz.
		wait_cpu "$pid" "$busy" 50000000 ||
			fail "SIG$sig: the busy thread did not run"
	fi
	kill -"$sig" "$CPROF_PID"
	if ! wait_exit "$CPROF_PID" 20; then
		fail "SIG$sig: cprof still running 20 s after the signal"
		kill -KILL "$CPROF_PID"
		wait "$CPROF_PID" 2>/dev/null
	elif [ "$WAIT_STATUS" != 0 ]; then
		fail "SIG$sig: cprof exited $WAIT_STATUS: $(cat "$lib_tmp/sig$sig.out.err")"
	fi
	check_runs_on "$pid" "$TARGET_COUNTER"
	check_profile "SIG$sig" "$prof" 1
	kill -KILL "$pid"
done

# --- the target exits mid-run --------------------------------------------------
# cpu-split exits by itself on SIGUSR2, with a last report, once it has
# run a while under cprof.
lib_spinning=split-1
start_target exit "$split" 1
pid=$TARGET_PID
prof=$lib_tmp/exit.prof
start_cprof "$lib_tmp/exit.out" record -p "$pid" -s 30 -o "$prof"
wait_sampling "$pid" "$CPROF_PID" 20 || fail "target exit: cprof did not start"
wait_process_cpu "$pid" 300000000 20 || fail "target exit: the target did not run"
kill -USR2 "$pid"
if ! wait_exit "$CPROF_PID" 25; then
	fail "target exit: cprof still running 25 s into a 30 s run," \
		"the target exited"
	kill -KILL "$CPROF_PID"
	wait "$CPROF_PID" 2>/dev/null
elif [ "$WAIT_STATUS" != 0 ]; then
	fail "target exit: cprof exited $WAIT_STATUS: $(cat "$lib_tmp/exit.out.err")"
fi
WAIT_STATUS=
wait_exit "$pid" 10 || fail "target exit: the target did not exit"
[ "${WAIT_STATUS:-}" = 0 ] ||
	fail "target exit: the target exited ${WAIT_STATUS:-?}, not 0"
grep -q '^report 0 ' "$lib_tmp/exit.out" ||
	fail "target exit: the target did not finish its work"
if check_profile "target exit" "$prof" 1; then
	go_pprof -top "$prof" >"$lib_tmp/exit.top" 2>/dev/null
	[ "$(top_flat "$lib_tmp/exit.top" work_a)" != 0 ] ||
		fail "target exit: work_a not in the profile"
fi

finish
