#!/bin/bash
# `cprof record [options] -- COMMAND ARGS` runs COMMAND under cprof,
# records it until it exits and exits with its status: the command's own
# exit code, 128+N when a signal N killed it, 2 with one
# "cprof: cannot run ..." line when it cannot be started.  A CPU-bound
# command's profile shows where it spent its time.
#
# usage: record-launch.sh CPROF CPU-SPLIT
CPROF=$1 split=$2
. "$(dirname "$0")/../lib/lib.sh"

require_file "$CPROF" cprof
require_file "$split" "target cpu-split"
require_go

# launch WHAT WANT-STATUS ARGS...: cprof ARGS exits WANT-STATUS.
launch()
{
	local what=$1 want=$2 rc
	shift 2
	run_cprof "$lib_tmp/$what.out" "$@"
	rc=$?
	[ "$rc" = "$want" ] ||
		fail "$what: cprof exited $rc, expected $want:" \
			"$(cat "$lib_tmp/$what.out.err")"
}

# readable WHAT PROF: go tool pprof -raw reads PROF.
readable()
{
	[ -s "$2" ] || {
		fail "$1: no profile written"
		return 1
	}
	go_pprof -raw "$2" >"$2.raw" 2>"$2.raw.err" || {
		fail "$1: go tool pprof -raw failed: $(cat "$2.raw.err")"
		return 1
	}
}

# The command's exit code.
launch exit3 3 record -o "$lib_tmp/exit3.prof" -- sh -c 'exit 3'
readable exit3 "$lib_tmp/exit3.prof"
launch exit0 0 record -o "$lib_tmp/exit0.prof" -- true
readable exit0 "$lib_tmp/exit0.prof"

# Killed by a signal: 128 + 9.
launch kill9 137 record -o "$lib_tmp/kill9.prof" -- sh -c 'kill -KILL $$'
readable kill9 "$lib_tmp/kill9.prof"

# A command that does not exist: exit 2 and one line that says so.
launch missing 2 record -o "$lib_tmp/missing.prof" -- "$lib_tmp/no-such-command"
lines=$(wc -l <"$lib_tmp/missing.out.err")
if [ "$lines" != 1 ] ||
	! grep -q "^cprof: cannot run '\\?$lib_tmp/no-such-command'\\?" \
		"$lib_tmp/missing.out.err"; then
	fail "missing command: stderr is not one 'cprof: cannot run ...' line:" \
		"$(cat "$lib_tmp/missing.out.err")"
fi

# The command and its child run with cprof's own scheduling, never with
# the real-time policy of the thread that samples them: under nice 5,
# SCHED_OTHER and niceness 5 inside the command and inside its child.
launch sched 0 record -o "$lib_tmp/sched.prof" -- \
	sh -c 'chrt -p $$; nice; sh -c "chrt -p \$\$; nice"'
sched_seen=$(grep -c "scheduling policy: SCHED_OTHER$" "$lib_tmp/sched.out")
[ "$sched_seen" = 2 ] && ! grep -q SCHED_FIFO "$lib_tmp/sched.out" ||
	fail "sched: the command or its child did not run SCHED_OTHER:" \
		"$(cat "$lib_tmp/sched.out")"
nice -n 5 "$CPROF" record -o "$lib_tmp/nice.prof" -- \
	sh -c 'nice; sh -c nice' >"$lib_tmp/nice.out" 2>"$lib_tmp/nice.err"
[ "$(tr '\n' ' ' <"$lib_tmp/nice.out")" = "5 5 " ] ||
	fail "nice: the command and its child are not at cprof's niceness 5:" \
		"$(cat "$lib_tmp/nice.out")"

# A CPU-bound command: cpu-split for 2 s (one worker), recorded at 1000 Hz
# until it exits.  Its stdout is the command's, passed through.
launch split 0 record -F 1000 -o "$lib_tmp/split.prof" -- "$split" 1 2
grep -q '^report 0 ' "$lib_tmp/split.out" ||
	fail "split: the command did not finish its work (stdout: $(cat "$lib_tmp/split.out"))"
if readable split "$lib_tmp/split.prof"; then
	go_pprof -top "$lib_tmp/split.prof" >"$lib_tmp/split.top" 2>&1
	flat=$(top_flat "$lib_tmp/split.top" work_a)
	note "split: work_a flat $flat%"
	# About 50% in truth; record-accuracy checks the figure closely.
	awk -v f="$flat" 'BEGIN { exit !(f >= 25) }' ||
		fail "split: work_a has $flat% flat, the command spends half its CPU there"
fi

finish
