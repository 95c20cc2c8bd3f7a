#!/bin/bash
# The two CPU samplers, and the choice between them:
# - perf (the kernel copies registers and stack at the tick): no thread
#   traced or stopped (--stats says 0 ptrace stops, TracerPid stays 0),
#   cpu-split's known split within 3 points, threads born during the run,
#   a library loaded during it and the image after an exec sampled and
#   named right;
# - a target under strace: perf profiles it, ptrace fails naming strace;
# - perf_event_open denied (seccomp, as Docker's default profile does):
#   auto falls back to ptrace, says so under --stats, and writes a good
#   profile, for a pid and for a launched command (recorded alone, its
#   children followed by perf only); --sampler=perf exits 2 with one line
#   saying what to do;
# - a stack deeper than the copy is counted truncated and labelled so.
#
# usage: record-samplers.sh CPROF CPU-SPLIT STORM EXECER NO-PERF DLSPIN
CPROF=$1 split=$2 storm=$3 execer=$4 noperf=$5 dlspin=$6
. "$(dirname "$0")/../lib/lib.sh"

require_file "$CPROF" cprof
require_file "$split" "target cpu-split"
require_file "$noperf" "helper no-perf"
require_go
"$CPROF" record --sampler=perf -s 0.1 -o "$lib_tmp/probe.prof" -- true \
	2>"$lib_tmp/probe.err" ||
	skip "perf_event_open is not allowed here"

# flat_in PROF FN: FN's flat percentage in go tool pprof -top of PROF.
flat_in()
{
	go_pprof -top "$1" >"$1.top" 2>&1
	top_flat "$1.top" "$2"
}

# work_a_seen WHAT PROF: work_a, half the target's CPU, has a quarter of
# PROF at least (the exact split is judged on an unloaded sampler above).
work_a_seen()
{
	awk -v f="$(flat_in "$2" work_a)" 'BEGIN { exit !(f + 0 >= 25) }' ||
		fail "$1: work_a has $(flat_in "$2" work_a)% of the profile, not about 50%"
}

# run_noperf OUT ARGS...: cprof ARGS with perf_event_open denied.
run_noperf()
{
	local out=$1
	shift
	timeout -k 5 60 "$noperf" "$CPROF" "$@" >"$out" 2>"$out.err"
}

# --- perf: no stop, a true split ---------------------------------------------
lib_spinning="split-1 split-2"
start_target split "$split" 2
pid=$TARGET_PID
before=$(target_report split "$pid" 1) || framework_error "no report"
start_cprof "$lib_tmp/perf.out" record --sampler=perf -F 1000 -p "$pid" \
	-s 4 --stats -o "$lib_tmp/perf.prof"
wait_sampling "$pid" "$CPROF_PID" 20 || fail "perf: cprof did not start"
traced=0
while kill -0 "$CPROF_PID" 2>/dev/null; do
	for t in /proc/"$pid"/task/*/status; do
		grep -q '^TracerPid:[[:space:]]*0$' "$t" 2>/dev/null ||
			traced=$((traced + 1))
	done
	sleep 0.1 # sampling the tracer field while cprof runs, bounded by -s 4
done
wait "$CPROF_PID"
rc=$?
forget_pid "$CPROF_PID"
[ $rc = 0 ] || fail "perf: cprof exited $rc: $(cat "$lib_tmp/perf.out.err")"
[ $traced = 0 ] || fail "perf: a thread was traced $traced times"
grep -qx "cprof: sampler perf (asked for)" "$lib_tmp/perf.out.err" &&
	grep -q "ptrace stops 0, " "$lib_tmp/perf.out.err" ||
	fail "perf: --stats: $(cat "$lib_tmp/perf.out.err")"
# The truth, from the target itself: what it measured during the record.
after=$(target_report split "$pid" 2) || framework_error "no report"
total=$(($(report_field "$after" total) - $(report_field "$before" total)))
for fn in work_a work_b work_c; do
	want=$(share $(($(report_field "$after" $fn) - $(report_field "$before" $fn))) "$total")
	got=$(flat_in "$lib_tmp/perf.prof" $fn)
	within "$got" "$want" 3 || fail "perf $fn: $got%, the target measured $want%"
done

# --- a target under strace ---------------------------------------------------
strace -f -p "$pid" -o /dev/null 2>"$lib_tmp/strace.err" &
strace_pid=$!
lib_pids+=("$strace_pid")
wait_traced "$pid" "$strace_pid" 20 || framework_error "strace did not attach"
run_cprof "$lib_tmp/st-perf.prof" record --sampler=perf -p "$pid" -s 0.5 \
	-o "$lib_tmp/st.prof" || fail "under strace: --sampler=perf exited $?"
work_a_seen "under strace" "$lib_tmp/st.prof"
run_cprof "$lib_tmp/st-ptrace.out" record --sampler=ptrace -p "$pid" -s 0.5 \
	-o "$lib_tmp/st2.prof"
rc=$?
[ $rc = 2 ] && grep -q "strace" "$lib_tmp/st-ptrace.out.err" ||
	fail "under strace: --sampler=ptrace exited $rc:" \
		"$(cat "$lib_tmp/st-ptrace.out.err")"
kill "$strace_pid"
wait "$strace_pid" 2>/dev/null

# --- perf_event_open denied ----------------------------------------------------
# fell_back WHAT OUT RC: cprof exited 0 and --stats says ptrace ran, and why.
fell_back()
{
	[ "$3" = 0 ] || fail "$1: cprof exited $3: $(cat "$2.err")"
	grep -qx "cprof: sampler ptrace (perf_event_open refused: Permission denied)" \
		"$2.err" ||
		fail "$1: --stats does not say ptrace and why: $(cat "$2.err")"
}
run_noperf "$lib_tmp/deny.out" record -p "$pid" -s 0.5 \
	--stats -o "$lib_tmp/deny.prof"
fell_back "denied, auto" "$lib_tmp/deny.out" $?
work_a_seen "denied, auto" "$lib_tmp/deny.prof"
run_noperf "$lib_tmp/deny2.out" record --sampler=perf \
	-p "$pid" -s 0.5 -o "$lib_tmp/deny2.prof"
rc=$?
[ $rc = 2 ] && [ "$(wc -l <"$lib_tmp/deny2.out.err")" = 1 ] &&
	grep -qx "cprof: perf_event_open refused (Permission denied): lower kernel.perf_event_paranoid, grant CAP_PERFMON, or use --sampler=ptrace" \
		"$lib_tmp/deny2.out.err" ||
	fail "denied, perf: exit $rc: $(cat "$lib_tmp/deny2.out.err")"
[ -e "$lib_tmp/deny2.prof" ] && fail "denied, perf: a profile was written"
# A launched command's children are followed whichever the sampler:
# denied, auto chooses ptrace for every process before any is touched,
# and says so; the command's child is in the profile under its own pid.
run_noperf "$lib_tmp/deny3.out" record --stats -o "$lib_tmp/deny3.prof" \
	-- sh -c '"$0" -c '"'"'i=0; while [ $i -lt 200000 ]; do i=$((i + 1)); done'"'"'; exit 3' sh
rc=$?
[ $rc = 3 ] || fail "denied, auto, a command: cprof exited $rc, not the command's 3: $(cat "$lib_tmp/deny3.out.err")"
fell_back "denied, auto, a command" "$lib_tmp/deny3.out" 0
go_pprof -raw "$lib_tmp/deny3.prof" >"$lib_tmp/deny3.raw" 2>&1 ||
	fail "denied, auto, a command: go tool pprof cannot read the profile"
# Only the child counts; the command waits for it.
grep -q 'pid:\[' "$lib_tmp/deny3.raw" && pprof_samples "$lib_tmp/deny3.prof" &&
	[ "$PPROF_SAMPLES" -ge 10 ] ||
	fail "denied, auto, a command: the child is not recorded under a pid of its own ($PPROF_SAMPLES samples)"

# --- truncated stacks ----------------------------------------------------------
run_cprof "$lib_tmp/trunc.out" record --sampler=perf --stack-size=64 \
	-p "$pid" -s 0.5 --stats -o "$lib_tmp/trunc.prof"
n=$(sed -n 's/.*, truncated \([0-9]*\),.*/\1/p' "$lib_tmp/trunc.out.err")
[ "${n:-0}" -gt 0 ] || fail "truncated: --stats: $(cat "$lib_tmp/trunc.out.err")"
go_pprof -tags "$lib_tmp/trunc.prof" >"$lib_tmp/trunc.tags" 2>&1
grep -q "truncated" "$lib_tmp/trunc.tags" ||
	fail "truncated: no stack=truncated label: $(head -20 "$lib_tmp/trunc.tags")"
check_runs_on "$pid" "$TARGET_COUNTER"

# --- threads born and ended, exec ---------------------------------------------
if [ -x "$storm" ]; then
	# Its thread list never settles, so ready is all there is to wait for.
	start_ready storm "$storm"
	start_cprof "$lib_tmp/storm.rec" record --sampler=perf -F 1000 \
		-p "$TARGET_PID" -s 60 -o "$lib_tmp/storm.prof"
	wait_sampling "$TARGET_PID" "$CPROF_PID" 20 ||
		fail "storm: cprof did not start"
	kill -USR2 "$TARGET_PID"
	wait_line "$lib_tmp/storm.out" "late done" 20 ||
		fail "storm: the late thread did not end"
	kill -INT "$CPROF_PID"
	wait_exit "$CPROF_PID" 20 || fail "storm: cprof still running"
	forget_pid "$CPROF_PID"
	# A thread born during the record, ended before its end: sampled,
	# under its own name, in its own function.
	go_pprof -tagfocus=thread_name=late -top "$lib_tmp/storm.prof" \
		>"$lib_tmp/storm.top" 2>&1
	awk '$NF == "storm_late" && $4 ~ /ms$/ { ms = $4 + 0 }
		END { exit !(ms >= 100) }' "$lib_tmp/storm.top" ||
		fail "storm: the late thread is not in storm_late: $(head -15 "$lib_tmp/storm.top")"
fi
if [ -x "$dlspin" ]; then
	lib_spinning=busy
	start_target dlspin "$dlspin"
	start_cprof "$lib_tmp/dl.rec" record --sampler=perf -F 1000 \
		-p "$TARGET_PID" -s 60 -o "$lib_tmp/dl.prof"
	wait_sampling "$TARGET_PID" "$CPROF_PID" 20 ||
		fail "dlopen: cprof did not start"
	kill -USR2 "$TARGET_PID"
	wait_line "$lib_tmp/dlspin.out" "dl done" 20 ||
		fail "dlopen: the library's thread did not end"
	kill -INT "$CPROF_PID"
	wait_exit "$CPROF_PID" 20 || fail "dlopen: cprof still running"
	forget_pid "$CPROF_PID"
	# A library loaded after the record began: its function named, with
	# most of the 200 ms it ran, on its own thread.
	go_pprof -tagfocus=thread_name=dlspin -top "$lib_tmp/dl.prof" \
		>"$lib_tmp/dl.top" 2>&1
	awk '$NF == "dl_spin" && $4 ~ /ms$/ { ms = $4 + 0 }
		END { exit !(ms >= 100) }' "$lib_tmp/dl.top" ||
		fail "dlopen: dl_spin not named: $(head -15 "$lib_tmp/dl.top")"
fi
if [ -x "$execer" ]; then
	lib_spinning=busy
	start_target execer "$execer"
	pid=$TARGET_PID
	start_cprof "$lib_tmp/exec.out" record --sampler=perf -F 1000 \
		-p "$pid" -s 60 -o "$lib_tmp/exec.prof"
	wait_sampling "$pid" "$CPROF_PID" 20 || fail "exec: cprof did not start"
	kill -USR1 "$pid"
	wait_line "$lib_tmp/execer.out" "execed $pid" 20 ||
		fail "exec: the target did not exec"
	start=$(cut -d' ' -f1 "/proc/$pid/schedstat")
	for ((n = 0; n < 400; n++)); do
		[ $(($(cut -d' ' -f1 "/proc/$pid/schedstat") - start)) -ge 100000000 ] && break
		sleep 0.05
	done
	kill -INT "$CPROF_PID"
	wait_exit "$CPROF_PID" 20 || fail "exec: cprof still running"
	forget_pid "$CPROF_PID"
	go_pprof -top "$lib_tmp/exec.prof" >"$lib_tmp/exec.top" 2>&1
	grep -q " after_spin$" "$lib_tmp/exec.top" ||
		fail "exec: after_spin not in the profile: $(head -20 "$lib_tmp/exec.top")"
fi

finish
