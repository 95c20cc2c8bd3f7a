#!/bin/bash
# `cprof record` of several processes: one profile, each sample labelled
# with its process's pid and name.
# - -p A,B,C of forker's three workers: each worker's pid shows its own
#   hot function (worker_a, worker_b, worker_c) and no other worker's,
#   with a CPU share within 3 points of the share it really used (about a
#   third each), read from /proc before and after.
# - --pid-tree of forker: the same; and a worker forked while cprof
#   samples (SIGUSR1) is in the profile under its own pid, in worker_d.
#   That run is ended by SIGINT: exit 0, every worker in the profile.
#   Again with the ptrace sampler, whose session of the parent passes
#   the SIGUSR1 on.
# - -p A,B,C again with the ptrace sampler (a session per process at
#   once): the same shares; in wall mode, each at most the recording's
#   wall time, in its own function only.
# - launch mode: `sh -c 'W & W; wait; exit 7'` profiles both spinning
#   grandchildren under pids of their own and exits 7, with either
#   sampler and in wall mode; --no-children leaves them out.
# - after every run, no process of the tree is stopped or traced.
# - a tree whose children come and go (a shell running `true` in a
#   loop, counting between), with either sampler: exit 0, nothing said
#   but a missed-ticks warning, the shell sampled.
# - bad input: a pid given twice, an empty element, an empty list (64); a
#   pid that does not exist, a tree whose root is a zombie (2): one line each.
#
# usage: record-tree.sh CPROF FORKER
CPROF=$1 forker=$2
. "$(dirname "$0")/../lib/lib.sh"

require_file "$CPROF" cprof
require_file "$forker" "target forker"
require_go

# start_forker NAME: forker and its three workers; sets TARGET_PID and
# WORKER_a, WORKER_b, WORKER_c.
start_forker()
{
	local x
	start_ready "$1" "$forker"
	for x in a b c; do
		printf -v "WORKER_$x" '%s' \
			"$(awk -v x="$x" '$1 == "worker" && $2 == x { print $3 }' \
				"$lib_tmp/$1.out")"
		lib_pids+=("$(eval echo "\$WORKER_$x")")
	done
}

# cpu_of PIDS...: "PID NS" per pid, its CPU time so far.
cpu_of()
{
	local pid
	for pid in "$@"; do
		printf '%s %s\n' "$pid" "$(process_cpu_ns "$pid")"
	done
}

# focus_flat PROF PID FUNC: FUNC's flat% of the whole profile among the
# samples labelled pid=PID.
focus_flat()
{
	go_pprof -tagfocus="pid=$2" -top "$1" >"$1.$2.top" 2>&1
	top_flat "$1.$2.top" "$3"
}

# check_workers WHAT PROF BEFORE AFTER LETTER=PID...: each worker's pid
# shows its function and no other's, with the share of CPU it used
# between BEFORE and AFTER (cpu_of outputs), within 3 points.
check_workers()
{
	local what=$1 prof=$2 before=$3 after=$4 pair x pid flat other real
	local total
	shift 4
	total=$(join <(sort "$before") <(sort "$after") |
		awk '{ s += $3 - $2 } END { print s }')
	for pair in "$@"; do
		x=${pair%%=*} pid=${pair#*=}
		flat=$(focus_flat "$prof" "$pid" "worker_$x")
		real=$(share "$(join <(sort "$before") <(sort "$after") |
			awk -v p="$pid" '$1 == p { print $3 - $2 }')" "$total")
		note "$what: pid $pid worker_$x $flat% of the profile, used $real% of the CPU"
		within "$flat" "$real" 3 ||
			fail "$what: worker_$x (pid $pid) has $flat% of the profile, it used $real% of the CPU"
		for other in a b c d; do
			[ "$other" = "$x" ] && continue
			[ "$(top_flat "$prof.$pid.top" "worker_$other")" = 0 ] ||
				fail "$what: pid $pid shows worker_$other"
		done
	done
}

# all_free WHAT PIDS...: none stopped or traced, each alive.
all_free()
{
	local what=$1 pid
	shift
	for pid in "$@"; do
		check_free "$pid" "" "$what"
	done
}

# record_shares WHAT ARGS...: cprof record ARGS for 3 s on the forker
# tree started last, with its workers' shares checked.
record_shares()
{
	local what=$1 rc
	shift
	cpu_of "$WORKER_a" "$WORKER_b" "$WORKER_c" >"$lib_tmp/$what.before"
	run_cprof "$lib_tmp/$what.out" record "$@" -s 3 -o "$lib_tmp/$what.prof"
	rc=$?
	cpu_of "$WORKER_a" "$WORKER_b" "$WORKER_c" >"$lib_tmp/$what.after"
	[ $rc = 0 ] || fail "$what: cprof exited $rc: $(cat "$lib_tmp/$what.out.err")"
	check_workers "$what" "$lib_tmp/$what.prof" "$lib_tmp/$what.before" \
		"$lib_tmp/$what.after" a="$WORKER_a" b="$WORKER_b" c="$WORKER_c"
	all_free "$what" "$TARGET_PID" "$WORKER_a" "$WORKER_b" "$WORKER_c"
}

start_forker forker
record_shares list -p "$WORKER_a,$WORKER_b" -p "$WORKER_c"
record_shares tree --pid-tree "$TARGET_PID"
# Several ptrace sessions at once, one per process.
record_shares ptrace --sampler=ptrace -p "$WORKER_a,$WORKER_b,$WORKER_c"

# Wall mode weighs every thread at every tick by the period, ticks
# missed included: each worker's wall time is the time its session
# sampled it, never more than the 2 s, and all of it in its own
# function.  Each session starts once its process's symbols are loaded,
# so on a busy machine a later one may start a second later: the floor
# is a quarter of the recording.
# wall_ms PROF PID: the wall milliseconds of PID's samples.
wall_ms()
{
	go_pprof -raw "$1" 2>/dev/null | awk -v p="pid:[$2]" '
		/^ +[0-9]+ +[0-9]+:/ { v = $2 + 0 }
		index($0, p) { s += v }
		END { printf "%d\n", s / 1e6 }'
}
run_cprof "$lib_tmp/wall.out" record --mode=wall -p "$WORKER_a,$WORKER_b,$WORKER_c" \
	-s 2 -o "$lib_tmp/wall.prof" ||
	fail "wall: cprof exited $?: $(cat "$lib_tmp/wall.out.err")"
for x in a b c; do
	pid=$(eval echo "\$WORKER_$x")
	ms=$(wall_ms "$lib_tmp/wall.prof" "$pid")
	note "wall: pid $pid worker_$x $ms ms"
	[ "$ms" -ge 500 ] && [ "$ms" -le 2100 ] ||
		fail "wall: worker_$x (pid $pid) has $ms ms of wall time in a 2 s recording"
	focus_flat "$lib_tmp/wall.prof" "$pid" "worker_$x" >/dev/null
	for other in a b c; do
		[ "$other" = "$x" ] && continue
		[ "$(top_flat "$lib_tmp/wall.prof.$pid.top" "worker_$other")" = 0 ] ||
			fail "wall: pid $pid shows worker_$other"
	done
done
all_free wall "$TARGET_PID" "$WORKER_a" "$WORKER_b" "$WORKER_c"

# A worker forked while the tree is sampled joins the profile; with the
# ptrace sampler the SIGUSR1 that asks for it passes through a session.
fork_joins()
{
	local what=$1 before pid flat n x
	shift
	before=$(grep -c '^worker d ' "$lib_tmp/forker.out")
	start_cprof "$lib_tmp/$what.out" record --pid-tree "$TARGET_PID" "$@" \
		-s 60 -o "$lib_tmp/$what.prof"
	wait_sampling "$WORKER_c" "$CPROF_PID" 60 || fail "$what: cprof does not sample"
	kill -USR1 "$TARGET_PID"
	WORKER_d=
	for ((n = 0; n < 1200; n++)); do
		WORKER_d=$(awk -v skip="$before" '$1 == "worker" && $2 == "d" && ++d > skip { print $3 }' \
			"$lib_tmp/forker.out")
		[ -n "$WORKER_d" ] && break
		sleep 0.05
	done
	[ -n "$WORKER_d" ] || die "$what: forker printed no worker d"
	lib_pids+=("$WORKER_d")
	wait_sampling "$WORKER_d" "$CPROF_PID" 60 ||
		fail "$what: cprof does not sample worker d"
	wait_process_cpu "$WORKER_d" 300000000 60 ||
		fail "$what: worker d does not run"
	kill -INT "$CPROF_PID"
	wait_exit "$CPROF_PID" 60 || die "$what: cprof did not end on SIGINT"
	forget_pid "$CPROF_PID"
	[ "$WAIT_STATUS" = 0 ] ||
		fail "$what: cprof exited $WAIT_STATUS: $(cat "$lib_tmp/$what.out.err")"
	flat=$(focus_flat "$lib_tmp/$what.prof" "$WORKER_d" worker_d)
	awk -v f="$flat" 'BEGIN { exit !(f > 0) }' ||
		fail "$what: worker_d (pid $WORKER_d, forked while recording) is not in the profile"
	for x in a b c; do
		pid=$(eval echo "\$WORKER_$x")
		flat=$(focus_flat "$lib_tmp/$what.prof" "$pid" "worker_$x")
		awk -v f="$flat" 'BEGIN { exit !(f > 0) }' ||
			fail "$what: worker_$x (pid $pid) is not in the profile"
	done
	all_free "$what" "$TARGET_PID" "$WORKER_a" "$WORKER_b" "$WORKER_c" "$WORKER_d"
	end_target "$WORKER_d"
}
fork_joins fork
fork_joins fork-ptrace --sampler=ptrace

# Bad input, before anything is touched.
one_line()
{
	[ "$(wc -l <"$2")" = 1 ] && grep -qxF -e "$3" "$2" ||
		fail "$1: stderr is not the one line '$3': $(cat "$2")"
}
bad()
{
	local what=$1 want=$2 line=$3 rc
	shift 3
	run_cprof "$lib_tmp/$what.out" record "$@" -s 1 -o "$lib_tmp/$what.prof"
	rc=$?
	[ $rc = "$want" ] || fail "$what: cprof exited $rc, not $want"
	one_line "$what" "$lib_tmp/$what.out.err" "$line"
	[ -e "$lib_tmp/$what.prof" ] && fail "$what: a profile was written"
}
bad twice 64 "cprof: pid $WORKER_a given twice" -p "$WORKER_a,$WORKER_b" -p "$WORKER_a"
bad empty 64 "cprof: invalid pid '' in -p '$WORKER_a,'" -p "$WORKER_a,"
bad none 64 "cprof: invalid pid ''" -p ''
bad gone 2 "cprof: pid 2147483646: no such process" -p "$WORKER_a,2147483646"
all_free bad "$TARGET_PID" "$WORKER_a" "$WORKER_b"
end_target "$TARGET_PID"

# Children that come and go: one gone between a scan and its attach is
# skipped, no error.  The shell counts between them, so that it has user
# time of its own to sample.
sh -c 'while :; do /bin/true; i=0; while [ $i -lt 20000 ]; do i=$((i + 1)); done; done' &
churn=$!
lib_pids+=("$churn")
for sampler in auto ptrace; do
	run_cprof "$lib_tmp/churn.out" record --pid-tree "$churn" --sampler=$sampler \
		-s 2 -o "$lib_tmp/churn.prof"
	rc=$?
	[ $rc = 0 ] || fail "churn ($sampler): cprof exited $rc: $(cat "$lib_tmp/churn.out.err")"
	# On a busy machine ptrace may miss ticks and say so; nothing else.
	grep -v 'ticks missed: this machine cannot keep up' "$lib_tmp/churn.out.err" |
		grep -q . &&
		fail "churn ($sampler): cprof said '$(head -1 "$lib_tmp/churn.out.err")'"
	go_pprof -raw "$lib_tmp/churn.prof" 2>&1 | grep -q "pid:\[$churn\]" ||
		fail "churn ($sampler): the shell is not in the profile"
done
check_free "$churn" "" churn
end_target "$churn"

# A zombie root.
start_zombie
bad zombie 2 "cprof: pid $ZOMBIE: process is a zombie; it has exited and waits for its parent to reap it" \
	--pid-tree "$ZOMBIE"
end_target "$ZOMBIE_PARENT"

# Launch mode: the command's grandchildren, each under its own pid,
# whichever the sampler.
launch()
{
	local what=$1 rc pids pid flat spinners=0
	shift
	run_cprof "$lib_tmp/$what.out" record "$@" -o "$lib_tmp/$what.prof" -- \
		sh -c '"$0" spin 2 & "$0" spin 2; wait; exit 7' "$forker"
	rc=$?
	[ $rc = 7 ] || fail "$what: cprof exited $rc, not the command's 7: $(cat "$lib_tmp/$what.out.err")"
	go_pprof -raw "$lib_tmp/$what.prof" >"$lib_tmp/$what.raw" 2>&1
	pids=$(grep -o 'pid:\[[0-9]*\]' "$lib_tmp/$what.raw" | sort -u | tr -dc '0-9\n')
	for pid in $pids; do
		flat=$(focus_flat "$lib_tmp/$what.prof" "$pid" worker_a)
		awk -v f="$flat" 'BEGIN { exit !(f > 20) }' && spinners=$((spinners + 1))
	done
	[ "$spinners" = 2 ] ||
		fail "$what: $spinners processes with worker_a over 20%, expected both spinners (pids: $(echo $pids))"
}
launch launch
launch launch-ptrace --sampler=ptrace
launch launch-wall --mode=wall

run_cprof "$lib_tmp/alone.out" record --no-children -o "$lib_tmp/alone.prof" -- \
	sh -c '"$0" spin 1 & "$0" spin 1; wait; exit 7' "$forker"
rc=$?
[ $rc = 7 ] || fail "alone: cprof exited $rc, not 7"
go_pprof -top "$lib_tmp/alone.prof" >"$lib_tmp/alone.top" 2>&1
[ "$(top_flat "$lib_tmp/alone.top" worker_a)" = 0 ] ||
	fail "alone: --no-children recorded the command's children"
grep -q 'pid:\[' <(go_pprof -raw "$lib_tmp/alone.prof" 2>&1) &&
	fail "alone: one process, yet samples carry pid labels"

finish
