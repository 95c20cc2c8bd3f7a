#!/bin/bash
# Kill safety: however cprof ends, the target runs on.
#
# 1. ROUNDS rounds against one long-lived target (parked: threads blocked
#    in a dozen calls, a busy counter): `cprof record` (cpu and wall, at
#    -F 1000) and `cprof threads` in turn, each SIGKILLed at a random
#    moment 0-300 ms after it started (0-150 ms for threads, which takes
#    less), or the moment it traces the target.  After each round no thread
#    of the target is stopped (state t or T) or traced, and the busy counter
#    rises.  The target surviving cprof's SIGKILL shows cprof does not set
#    PTRACE_O_EXITKILL.
# 2. SIGINT, SIGTERM and SIGHUP to a running `cprof record` (both modes):
#    cprof exits 0 with a profile `go tool pprof -raw` reads, every thread
#    let go.
# 3. SIGPIPE: `cprof record --mode=wall --format=folded | head -c 1`, and
#    the same with the reader gone before cprof writes: cprof exits 0 when
#    its writes all came before the reader left, else reports the broken
#    pipe and ends by SIGPIPE (status 141) or exits 2; it lets the target
#    go either way.  With the reader gone first, only 141 or 2 will do.
#
# usage: safety-kill.sh CPROF PARKED [ROUNDS]
# ROUNDS defaults to $CPROF_KILL_ROUNDS, else 30; $CPROF_KILL_SEED seeds the
# random delays (printed, to replay a failure).
CPROF=$1 parked=$2
rounds=${3:-${CPROF_KILL_ROUNDS:-30}}
. "$(dirname "$0")/../lib/lib.sh"

require_file "$CPROF" cprof
require_file "$parked" "target parked"
require_go
case $rounds in '' | *[!0-9]*) framework_error "rounds: '$rounds'" ;; esac

seed=${CPROF_KILL_SEED:-$$}
RANDOM=$seed
note "kill rounds: $rounds, seed $seed"

start_target parked "$parked"
pid=$TARGET_PID
counter=$TARGET_COUNTER
busy=$(tid_of "$pid" busy) || framework_error "no busy thread"

# --- 1. SIGKILL at random moments ---------------------------------------------
modes=(cpu wall threads)
declare -A traced_kills=() killed=()
survived=0
for ((i = 0; i < rounds; i++)); do
	mode=${modes[i % 3]}
	# Every third turn of the modes kills at the seize.
	if (((i / 3) % 3 == 0)); then
		delay=attach
	elif [ "$mode" = threads ]; then
		delay=$((RANDOM % 151))
	else
		delay=$((RANDOM % 301))
	fi
	if kill_round "$mode" "$delay" "$pid" "$counter"; then
		survived=$((survived + 1))
	else
		note "round $i: $mode, kill after $delay"
	fi
	traced_kills[$mode]=$((${traced_kills[$mode]:-0} + KILL_TRACED))
	[ "$KILL_STATUS" = 137 ] &&
		killed[$mode]=$((${killed[$mode]:-0} + 1))
done
for mode in "${modes[@]}"; do
	note "kill rounds $mode: ${killed[$mode]:-0} killed mid-run," \
		"${traced_kills[$mode]:-0} while tracing"
	# The rounds that kill at the seize make this certain.
	[ "${traced_kills[$mode]:-0}" -ge 1 ] ||
		fail "kill rounds $mode: no round killed cprof while it traced"
done
note "kill -9 rounds survived: $survived of $rounds"
[ "$survived" = "$rounds" ] || fail "target held after $((rounds - survived)) rounds"

# --- 2. SIGINT, SIGTERM, SIGHUP end record with a profile ---------------------
for mode in cpu wall; do
	for sig in INT TERM HUP; do
		what="SIG$sig to record --mode=$mode"
		prof=$lib_tmp/sig-$mode-$sig.prof
		start_cprof "$lib_tmp/sig-$mode-$sig.out" record --mode="$mode" --sampler=ptrace \
			-F 1000 -p "$pid" -s 60 -o "$prof"
		cprof_pid=$CPROF_PID
		if ! wait_traced "$pid" "$cprof_pid" 20; then
			fail "$what: cprof did not attach:" \
				"$(cat "$lib_tmp/sig-$mode-$sig.out.err")"
			kill -KILL "$cprof_pid"
			wait "$cprof_pid"
			forget_pid "$cprof_pid"
			continue
		fi
		# The busy thread never blocks: each voluntary switch is a
		# stop by cprof.
		wait_switches "$pid" "$busy" 5 20 ||
			fail "$what: cprof did not stop the busy thread 5 times"
		kill -"$sig" "$cprof_pid"
		if ! wait_exit "$cprof_pid" 30; then
			fail "$what: cprof still running 30 s after the signal"
			kill -KILL "$cprof_pid"
			wait "$cprof_pid"
		elif [ "$WAIT_STATUS" != 0 ]; then
			fail "$what: cprof exited $WAIT_STATUS:" \
				"$(cat "$lib_tmp/sig-$mode-$sig.out.err")"
		fi
		forget_pid "$cprof_pid"
		check_free "$pid" "$counter" "$what"
		if pprof_samples "$prof"; then
			# Wall mode samples the parked threads whatever the
			# machine's load.
			[ "$mode" = cpu ] || [ "$PPROF_SAMPLES" -ge 1 ] ||
				fail "$what: profile has no samples"
		else
			fail "$what: profile unreadable: $PPROF_ERROR"
		fi
	done
done

# --- 3. SIGPIPE ---------------------------------------------------------------
# Wall mode, so the profile is never empty.  head reads one byte and
# leaves: cprof exits 0 when its last write came before that, else it
# ends by SIGPIPE, silently.
env --default-signal=INT,QUIT,PIPE "$CPROF" record --mode=wall \
	--format=folded -p "$pid" -s 1 2>"$lib_tmp/head.err" |
	head -c 1 >"$lib_tmp/head.out"
rc=${PIPESTATUS[0]}
note "record | head -c 1: cprof exited $rc"
case $rc in
0 | 141) ;;
*) fail "record | head -c 1: cprof exited $rc: $(cat "$lib_tmp/head.err")" ;;
esac
! grep -q '^cprof: cannot write' "$lib_tmp/head.err" ||
	fail "record | head -c 1: an error line for a reader gone away"
[ "$(wc -c <"$lib_tmp/head.out")" = 1 ] ||
	fail "record | head -c 1: head read $(wc -c <"$lib_tmp/head.out") bytes"
check_free "$pid" "$counter" "record | head -c 1"

# The reader leaves before cprof writes: cprof holds the only end of a fifo
# once the test closes its own.
mkfifo "$lib_tmp/pipe" || framework_error mkfifo
exec {pipe_fd}<>"$lib_tmp/pipe"
env --default-signal=INT,QUIT,PIPE "$CPROF" record --mode=wall \
	--format=folded -p "$pid" -s 60 \
	>"$lib_tmp/pipe" 2>"$lib_tmp/pipe.err" {pipe_fd}>&- &
cprof_pid=$!
lib_pids+=("$cprof_pid")
# cprof traces the target, so it has opened the fifo: close the reader.
wait_traced "$pid" "$cprof_pid" 20 ||
	fail "closed pipe: cprof did not attach: $(cat "$lib_tmp/pipe.err")"
exec {pipe_fd}>&-
wait_switches "$pid" "$busy" 5 20 ||
	fail "closed pipe: cprof did not stop the busy thread 5 times"
kill -INT "$cprof_pid"
if ! wait_exit "$cprof_pid" 30; then
	fail "closed pipe: cprof still running 30 s after SIGINT"
	kill -KILL "$cprof_pid"
	wait "$cprof_pid"
else
	note "closed pipe: cprof exited $WAIT_STATUS:" \
		"$(paste -sd' ' "$lib_tmp/pipe.err")"
	# Like any filter, cprof ends by SIGPIPE, after letting go of the
	# target, and says nothing of a reader that went away.
	[ "$WAIT_STATUS" = 141 ] ||
		fail "closed pipe: cprof exited $WAIT_STATUS, not 141 (SIGPIPE)"
	! grep -q '^cprof: cannot write' "$lib_tmp/pipe.err" ||
		fail "closed pipe: an error line for a reader gone away:" \
			"$(cat "$lib_tmp/pipe.err")"
fi
forget_pid "$cprof_pid"
check_free "$pid" "$counter" "closed pipe"

finish
