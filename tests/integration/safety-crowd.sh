#!/bin/bash
# Ten thousand threads: `cprof threads` captures every one of them (one
# sample each), `cprof record -s 1` in both modes exits 0 within the
# timeout, and every thread is let go.  When the machine's limits
# (kernel.threads-max, kernel.pid_max, ulimit -u) leave fewer threads, the
# test takes as many as they allow, leaving 2000 to the rest of the
# machine, and says so.
#
# usage: safety-crowd.sh CPROF CROWD [COUNT]
# COUNT defaults to $CPROF_CROWD_THREADS, else 10000.
CPROF=$1 crowd=$2
want=${3:-${CPROF_CROWD_THREADS:-10000}}
. "$(dirname "$0")/../lib/lib.sh"

require_file "$CPROF" cprof
require_file "$crowd" "target crowd"
require_go
case $want in '' | *[!0-9]*) framework_error "count: '$want'" ;; esac

# The machine's room for threads: each limit less the threads alive now.
alive=$(awk '{ split($4, a, "/"); print a[2] }' /proc/loadavg)
room=$(($(cat /proc/sys/kernel/threads-max) - alive))
r=$(($(cat /proc/sys/kernel/pid_max) - alive))
[ "$r" -lt "$room" ] && room=$r
r=$(ulimit -u)
if [ "$r" != unlimited ] && [ $((r - alive)) -lt "$room" ]; then
	room=$((r - alive))
fi
room=$((room - 2000))
count=$want
if [ "$room" -lt "$count" ]; then
	[ "$room" -ge 100 ] || skip "room for $room threads only"
	count=$room
	note "limits leave room for $room threads: $count, not $want"
fi

# The slowest part is the target starting its threads.
TIMEOUT_READY=120 start_ready crowd "$crowd" "$count"
pid=$TARGET_PID
created=$(sed -n 's/^created //p' "$lib_tmp/crowd.out")
[ "$created" = "$count" ] ||
	note "the system refused thread $((created + 1)): $created threads"
nthreads=$((created + 1))
[ "$(tids "$pid" | wc -l)" = "$nthreads" ] ||
	framework_error "crowd: $(tids "$pid" | wc -l) threads, not $nthreads"

# run WHAT ARGS...: cprof ARGS exits 0 within 120 s; sets PPROF_SAMPLES.
run()
{
	local what=$1 rc t0 t1
	shift
	t0=$(date +%s%N)
	timeout -k 5 120 "$CPROF" "$@" -o "$lib_tmp/run.prof" \
		>"$lib_tmp/run.out" 2>"$lib_tmp/run.err"
	rc=$?
	t1=$(date +%s%N)
	note "$what, $nthreads threads: exit $rc after $(((t1 - t0) / 1000000)) ms"
	check_free "$pid" "$TARGET_COUNTER" "$what"
	if [ $rc != 0 ]; then
		fail "$what: cprof exited $rc: $(head -3 "$lib_tmp/run.err")"
		return 1
	fi
	pprof_samples "$lib_tmp/run.prof" ||
		fail "$what: profile unreadable: $PPROF_ERROR"
}

run threads threads --debug=0 -p "$pid" &&
	{ [ "$PPROF_SAMPLES" = "$nthreads" ] ||
		fail "threads: $PPROF_SAMPLES samples for $nthreads threads"; }
run "record --sampler=ptrace -s 1" record --sampler=ptrace -p "$pid" -s 1
# An event per thread and CPU may need more fds than cprof may hold: auto
# falls back to ptrace then.
run "record -s 1" record -p "$pid" -s 1
run "record --mode=wall -s 1" record --mode=wall -p "$pid" -s 1 &&
	{ [ "$PPROF_SAMPLES" -ge 1 ] || fail "record --mode=wall: no samples"; }

finish
