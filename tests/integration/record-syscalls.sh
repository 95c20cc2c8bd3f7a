#!/bin/bash
# CPU profiles of a program that lives in system calls agree with perf's.
# kvserver's server waits in epoll_wait, reads, looks up and writes, and its
# clients send, think and receive: most of its CPU is the kernel's, in
# read, write and epoll_wait.  `perf record -e cpu-clock --call-graph dwarf`
# (user and kernel) records it at the same time as cprof; each perf sample
# goes to its user-space frames (its kernel frames folded onto the first of
# them), and every named function's share of the samples whose stacks hold
# it (go tool pprof's cum%) must be within 4 points of perf's:
# with the perf sampler.  The ptrace sampler's shares are printed beside
# perf's but not judged: its stops land where a thread returns to user
# space and its samples carry the CPU time since the thread's previous
# one, and on this target both skew the split by 10 to 20 points (see
# docs/decisions.md).  What it must do is asserted: a thread that fell
# asleep between the scan and its stop is counted asleep, and charged no
# CPU at its blocking call.
#
# usage: record-syscalls.sh CPROF KVSERVER
CPROF=$1 kvserver=$2
. "$(dirname "$0")/../lib/lib.sh"

require_file "$CPROF" cprof
require_file "$kvserver" "target kvserver"
require_go
command -v perf >/dev/null || skip "perf is not installed"
perf record -e cpu-clock -o "$lib_tmp/probe.data" -- true \
	>/dev/null 2>&1 || skip "perf cannot record here"

functions="kv_wait kv_read kv_lookup kv_write client_send client_recv client_think"

# perf_shares DATA: "FUNCTION PERCENT" per named function: the share of
# samples with the function among their user-space frames.
perf_shares()
{
	perf script -i "$1" -F tid,ip,sym,dso 2>/dev/null | awk -v fns="$functions" '
		BEGIN { RS = ""; FS = "\n"; n = split(fns, f, " ") }
		{
			total++
			delete seen
			for (i = 2; i <= NF; i++) {
				if ($i ~ /\[kernel\.kallsyms\]/) continue
				split($i, w, " ")
				if (!(w[2] in seen)) { seen[w[2]] = 1; cum[w[2]]++ }
			}
		}
		END { for (i = 1; i <= n; i++)
			printf "%s %.2f\n", f[i], total ? 100 * cum[f[i]] / total : 0 }'
}

# cprof_shares PROF: the same from go tool pprof's cum% column.
cprof_shares()
{
	go_pprof -top -cum "$1" >"$1.top" 2>&1
	awk -v fns="$functions" '
		BEGIN { n = split(fns, f, " ") }
		/^ +flat +flat%/ { on = 1; next }
		on && NF >= 6 { v = $5; sub(/%$/, "", v); cum[$6] = v + 0 }
		END { for (i = 1; i <= n; i++) printf "%s %.2f\n", f[i], cum[f[i]] }' "$1.top"
}

# compare WHAT PERF-SHARES CPROF-SHARES: fails for each function more than
# 4 points away from perf's share.
compare()
{
	local what=$1 fn want got
	while read -r fn want; do
		got=$(awk -v fn="$fn" '$1 == fn { print $2 }' <<<"$3")
		note "$what: $fn perf $want% cprof $got%"
		within "$got" "$want" 4 ||
			fail "$what: $fn $got%, perf $want%"
	done <<<"$2"
}

# side_by_side NAME SAMPLER: perf and cprof record the target at once.
side_by_side()
{
	local name=$1 sampler=$2 perf_pid rc
	perf record -e cpu-clock --call-graph dwarf -F 1000 -p "$TARGET_PID" \
		-o "$lib_tmp/$name.data" -- sleep 3 >"$lib_tmp/$name.perf.out" 2>&1 &
	perf_pid=$!
	lib_pids+=("$perf_pid")
	run_cprof "$lib_tmp/$name.out" record --sampler="$sampler" -F 1000 \
		-p "$TARGET_PID" -s 3 --stats -o "$lib_tmp/$name.prof"
	rc=$?
	wait "$perf_pid"
	forget_pid "$perf_pid"
	[ $rc = 0 ] || fail "$name: cprof exited $rc: $(cat "$lib_tmp/$name.out.err")"
}

lib_spinning="server client"
start_target kv "$kvserver" 4

side_by_side perf perf
grep -q "kernel mode sampled" "$lib_tmp/perf.out.err" ||
	skip "kernel mode cannot be sampled here: $(cat "$lib_tmp/perf.out.err")"
compare "perf sampler" "$(perf_shares "$lib_tmp/perf.data")" \
	"$(cprof_shares "$lib_tmp/perf.prof")"

side_by_side ptrace ptrace
compare_note()
{
	local fn want
	while read -r fn want; do
		note "ptrace sampler (not judged): $fn perf $want%" \
			"cprof $(awk -v fn="$fn" '$1 == fn { print $2 }' <<<"$2")%"
	done <<<"$1"
}
compare_note "$(perf_shares "$lib_tmp/ptrace.data")" \
	"$(cprof_shares "$lib_tmp/ptrace.prof")"
# Samples of threads asleep at their stop: labelled sleeping in their
# call, and weighing no CPU time.
go_pprof -raw "$lib_tmp/ptrace.prof" >"$lib_tmp/ptrace.raw" 2>&1 ||
	fail "ptrace: go tool pprof -raw failed: $(head -5 "$lib_tmp/ptrace.raw")"
raw_samples "$lib_tmp/ptrace.raw" >"$lib_tmp/ptrace.samples"
asleep=$(sed -n 's/.*asleep at the stop \([0-9]*\),.*/\1/p' "$lib_tmp/ptrace.out.err")
[ -n "$asleep" ] || fail "ptrace: --stats: $(cat "$lib_tmp/ptrace.out.err")"
awk -F'\t' '$5 == "sleeping" && $2 != 0 { bad++ }
	END { exit bad > 0 }' "$lib_tmp/ptrace.samples" ||
	fail "ptrace: a sample asleep at its stop carries CPU time"
if [ "$asleep" -gt 0 ]; then
	awk -F'\t' '$5 == "sleeping" && $6 ~ /^(read|write|epoll_wait)$/ { n++ }
		END { exit !(n > 0) }' "$lib_tmp/ptrace.samples" ||
		fail "ptrace: $asleep asleep at the stop, none labelled in its call"
fi
check_runs_on "$TARGET_PID" "$TARGET_COUNTER"

finish
