#!/bin/bash
# bench/soak.sh: the safety suite's kill rounds and signal stream, for
# minutes instead of seconds, printing totals.
#
# usage: bash bench/soak.sh [-k SECONDS] [-s SECONDS] [-b BATCH] [-r RATE]
#                           [-S SEED]
#
# Phase 1, -k SECONDS (default 300; 0 skips it): rounds of
# tests/integration/safety-kill.sh against one parked target, cprof record
# (cpu, wall, -F 1000) and cprof threads in turn, each SIGKILLed at a random
# moment (0-300 ms; 0-150 ms for threads) or the moment it traces the
# target; after each, no thread of the target may be stopped or traced and
# its busy counter must rise.
# Phase 2, -s SECONDS (default 300; 0 skips it): rounds of
# tests/integration/safety-signals.sh against one signals target: cprof
# record -F 1000 (cpu and wall in turn) while another process queues BATCH
# (default 5000) numbered real-time signals at RATE a second (default
# 2500); every one must arrive, in order, with no SIGCHLD and no timer
# expiry lost.
#
# Prints per phase:
#   kill -9 rounds survived: N of M (cpu N/M, wall N/M, threads N/M; killed
#   while tracing N)
#   signals sent: N, received: N, out of order: N; SIGCHLDs lost: N of N
#   children; timer expiries short: N; cprof runs: N, failed: N
# and exits 0 when nothing failed, 1 otherwise.
#
# Environment: BUILD (meson build dir, default ./build), CPROF (default
# $BUILD/cmd/cprof); the targets come from $BUILD/tests/targets.  Needs go
# tool pprof (Debian golang-go) only to read the profiles of phase 2's runs.
set -u

kill_s=300
sig_s=300
batch=5000
rate=2500
seed=$$

usage()
{
	echo "usage: bash bench/soak.sh [-k SECONDS] [-s SECONDS] [-b BATCH] [-r RATE] [-S SEED]" >&2
	exit 64
}

while getopts k:s:b:r:S:h opt; do
	case $opt in
	k) kill_s=$OPTARG ;;
	s) sig_s=$OPTARG ;;
	b) batch=$OPTARG ;;
	r) rate=$OPTARG ;;
	S) seed=$OPTARG ;;
	*) usage ;;
	esac
done
for v in "$kill_s" "$sig_s" "$batch" "$rate" "$seed"; do
	case $v in '' | *[!0-9]*) usage ;; esac
done
[ "$batch" -ge 1 ] || usage

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
BUILD=${BUILD:-$root/build}
CPROF=${CPROF:-$BUILD/cmd/cprof}
targets=$BUILD/tests/targets
. "$root/tests/lib/lib.sh"

require_file "$CPROF" cprof
require_file "$targets/parked" "target parked"
require_file "$targets/signals" "target signals"

log()
{
	echo "soak.sh: $*" >&2
}

# --- phase 1: SIGKILL at random moments -------------------------------------
kill_phase()
{
	local end i=0 mode delay pid counter failed0
	local -A rounds=() ok=()
	local traced=0 total=0 survived=0
	local modes=(cpu wall threads)

	RANDOM=$seed
	start_target parked "$targets/parked"
	pid=$TARGET_PID
	counter=$TARGET_COUNTER
	end=$((SECONDS + kill_s))
	while [ "$SECONDS" -lt "$end" ]; do
		mode=${modes[i % 3]}
		if (((i / 3) % 3 == 0)); then
			delay=attach
		elif [ "$mode" = threads ]; then
			delay=$((RANDOM % 151))
		else
			delay=$((RANDOM % 301))
		fi
		failed0=$lib_failed
		lib_failed=0
		if kill_round "$mode" "$delay" "$pid" "$counter" &&
			[ "$lib_failed" = 0 ]; then
			ok[$mode]=$((${ok[$mode]:-0} + 1))
			survived=$((survived + 1))
		else
			log "round $i ($mode, kill after $delay) failed"
			failed0=1
		fi
		lib_failed=$failed0
		rounds[$mode]=$((${rounds[$mode]:-0} + 1))
		traced=$((traced + KILL_TRACED))
		total=$((total + 1))
		i=$((i + 1))
		# A target that died takes the soak with it.
		kill -0 "$pid" 2>/dev/null || break
	done
	end_target "$pid"
	echo "kill -9 rounds survived: $survived of $total" \
		"(cpu ${ok[cpu]:-0}/${rounds[cpu]:-0}," \
		"wall ${ok[wall]:-0}/${rounds[wall]:-0}," \
		"threads ${ok[threads]:-0}/${rounds[threads]:-0};" \
		"killed while tracing $traced; seed $seed)"
}

# --- phase 2: queued signals while cprof samples at 1000 Hz -----------------
signal_phase()
{
	local end pid i=0 mode sent=0 runs=0 bad_runs=0 cprof_pid
	local reaped0 chld_lost=0 short=0 prof
	local modes=(cpu wall)

	lib_spinning="busy forker timer"
	start_target signals "$targets/signals"
	pid=$TARGET_PID
	signals_report signals "$pid" || framework_error "signals: no report"
	reaped0=$SIG_REAPED
	end=$((SECONDS + sig_s))
	while [ "$SECONDS" -lt "$end" ]; do
		mode=${modes[i % 2]}
		prof=$lib_tmp/soak-$mode.prof
		i=$((i + 1))
		runs=$((runs + 1))
		start_cprof "$lib_tmp/soak.out" record --mode="$mode" -F 1000 \
			-p "$pid" -s 600 -o "$prof"
		cprof_pid=$CPROF_PID
		if ! wait_traced "$pid" "$cprof_pid" 20; then
			log "run $i ($mode): cprof did not attach:" \
				"$(head -3 "$lib_tmp/soak.out.err")"
			bad_runs=$((bad_runs + 1))
			end_target "$cprof_pid"
			continue
		fi
		signals_stream "$targets/signals" "$pid" $((sent + 1)) \
			"$batch" "$rate" || framework_error "the sender failed"
		sent=$((sent + batch))
		signals_received signals "$pid" "$sent" 60 ||
			log "run $i ($mode): $SIG_RT of $sent signals received"
		kill -INT "$cprof_pid"
		if ! wait_exit "$cprof_pid" 60 || [ "$WAIT_STATUS" != 0 ]; then
			log "run $i ($mode): cprof exited ${WAIT_STATUS:-late}:" \
				"$(head -3 "$lib_tmp/soak.out.err")"
			bad_runs=$((bad_runs + 1))
			end_target "$cprof_pid"
		fi
		forget_pid "$cprof_pid"
		if ! wait_let_go "$pid" 5; then
			log "run $i ($mode): threads held: $HELD"
			bad_runs=$((bad_runs + 1))
		fi
		kill -0 "$pid" 2>/dev/null || break
	done
	signals_report signals "$pid" || framework_error "signals: no report"
	chld_lost=$SIG_LOST
	signals_timer_kept signals "$pid" 5
	short=${SIG_SHORT:-0}
	[ "$short" -ge 0 ] || short=0
	echo "signals sent: $sent, received: $SIG_RT, last: $SIG_LAST," \
		"out of order: $SIG_ORDER; SIGCHLDs lost: $chld_lost of" \
		"$((SIG_REAPED - reaped0)) children; timer expiries short:" \
		"$short of $SIG_TIMER; cprof runs: $runs, failed: $bad_runs"
	[ "$SIG_RT" = "$sent" ] && [ "$SIG_LAST" = "$sent" ] &&
		[ "$SIG_ORDER" = 0 ] && [ "$chld_lost" = 0 ] &&
		[ "$short" = 0 ] && [ "$bad_runs" = 0 ] || lib_failed=1
	end_target "$pid"
}

[ "$kill_s" = 0 ] || kill_phase
[ "$sig_s" = 0 ] || signal_phase
finish
