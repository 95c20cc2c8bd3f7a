#!/bin/bash
# `go tool pprof` reads what `cprof record` writes, and the folded and top
# formats say the same as the pprof profile.
# - cpu mode on cpu-split (two workers): -raw gives sample types
#   samples/count cpu/nanoseconds, period type cpu/nanoseconds, period
#   1e9/HZ, every sample labelled with its worker's thread_id and
#   thread_name and state running, the cpu values adding up to no more CPU
#   than the workers used; -top gives work_a/b/c their measured shares;
#   -tagfocus=state=running keeps every sample; -traces shows each work
#   function under split_loop, split_main and start_thread; -list work_a
#   shows its source lines, run from a directory that is not the build's.
# - --format=folded: "root;...;leaf NS" lines, work_* leaves with their
#   shares and full stacks; --format=top: the -top table, with the shares.
# - wall mode on parked: samples/count wall/nanoseconds, every thread
#   sampled at every tick, labelled with its state and wait;
#   -tagfocus=wait=epoll_wait keeps just the epoll thread's stack,
#   -tagfocus=state=running just the busy thread.
#
# usage: record-pprof.sh CPROF CPU-SPLIT PARKED
CPROF=$1 split=$2 parked=$3
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/chains.sh"

require_file "$CPROF" cprof
require_file "$split" "target cpu-split"
require_file "$parked" "target parked"
require_go

# Shares are checked strictly by record-accuracy.sh; here they only show
# that each output carries the same profile, so a loaded machine's skew
# (a ptrace sampler sees a waiting thread where it was preempted) is
# allowed for.
tolerance=8

# traces_chains TRACES: one line per trace of `go tool pprof -traces`:
# THREAD_ID<tab>frames joined with ";", innermost first.
traces_chains()
{
	awk '
		function put() { if (n) printf "%s\t%s\n", tid, out; n = 0; out = ""; tid = "" }
		/^-----------\+/ { put(); on = 1; next }
		!on { next }
		/^ *thread_id:  / { tid = $2; next }
		/^ *[a-z_]+:  / { next }
		length($0) > 13 && substr($0, 11, 3) == "   " {
			name = substr($0, 14)
			sub(/ \(inline\)$/, "", name)
			out = out (n++ ? ";" : "") name
		}
		END { put() }' "$1"
}

# top_total TOP: the "of X total" figure of a -top table.
top_total()
{
	sed -n 's/^Showing nodes accounting for .* of \(.*\) total$/\1/p' "$1"
}

lib_spinning="split-1 split-2"
start_target split "$split" 2
pid=$TARGET_PID
w1=$(tid_of "$pid" split-1) || framework_error "no thread split-1"
w2=$(tid_of "$pid" split-2) || framework_error "no thread split-2"
seq=0

# record_split WHAT ARGS...: record cpu-split with ARGS into $lib_tmp/WHAT;
# sets TRUTH_work_a/b/c (percent) and TRUTH_NS (the workers' CPU time) from
# the target's reports around the record.
record_split()
{
	local what=$1 before after rc fn ns total
	shift
	seq=$((seq + 1))
	before=$(target_report split "$pid" $seq) ||
		framework_error "no report"
	run_cprof "$lib_tmp/$what.stdout" record -p "$pid" "$@" -o "$lib_tmp/$what"
	rc=$?
	seq=$((seq + 1))
	after=$(target_report split "$pid" $seq) ||
		framework_error "no report"
	[ $rc = 0 ] || fail "$what: cprof exited $rc: $(cat "$lib_tmp/$what.stdout.err")"
	check_runs_on "$pid" "$TARGET_COUNTER"
	total=$(($(report_field "$after" total) - $(report_field "$before" total)))
	TRUTH_NS=$total
	for fn in work_a work_b work_c; do
		ns=$(($(report_field "$after" $fn) - $(report_field "$before" $fn)))
		printf -v "TRUTH_$fn" '%s' "$(share "$ns" "$total")"
	done
	[ -s "$lib_tmp/$what" ]
}

# check_shares WHAT GOT-work_a GOT-work_b GOT-work_c: shares against the truth.
check_shares()
{
	local what=$1 fn got truth
	shift
	for fn in work_a work_b work_c; do
		got=$1 truth=$(eval echo "\$TRUTH_$fn")
		shift
		note "$what: $fn $got% (truth $truth%)"
		within "$got" "$truth" "$tolerance" ||
			fail "$what: $fn has $got%, the target measured $truth%" \
				"(tolerance $tolerance points)"
	done
}

# same_error WHAT GOT-work_a: each format is a recording of its own, so it
# is compared with the pprof one by their errors against the truth each
# measured, not by raw shares, which two noisy windows can set far apart.
same_error()
{
	local err pprof_err
	[ -n "${pprof_a:-}" ] || return 0
	err=$(awk -v g="$2" -v t="$TRUTH_work_a" 'BEGIN { print g - t }')
	pprof_err=$(awk -v g="$pprof_a" -v t="$pprof_truth_a" 'BEGIN { print g - t }')
	within "$err" "$pprof_err" $((tolerance + 1)) ||
		fail "$1: work_a off the truth by $err points, the pprof profile's" \
			"-top by $pprof_err"
}

# --- cpu mode, pprof ---------------------------------------------------------
if record_split cpu.prof -s 2 -F 250; then
	prof=$lib_tmp/cpu.prof
	[ "$(od -An -tx1 -N2 "$prof" | tr -d ' ')" = 1f8b ] ||
		fail "cpu: profile is not gzip-compressed"
	cpu_truth="$TRUTH_work_a $TRUTH_work_b $TRUTH_work_c"

	# -raw: types, period, labels, values.
	if go_pprof -raw "$prof" >"$lib_tmp/cpu.raw" 2>"$lib_tmp/cpu.raw.err"; then
		raw=$lib_tmp/cpu.raw
		got=$(sed -n '/^Samples:$/{n;p;q}' "$raw")
		[ "$got" = "samples/count cpu/nanoseconds" ] ||
			fail "cpu -raw: sample types '$got'," \
				"expected 'samples/count cpu/nanoseconds'"
		got=$(sed -n 's/^PeriodType: //p' "$raw")
		[ "$got" = "cpu nanoseconds" ] ||
			fail "cpu -raw: period type '$got', expected 'cpu nanoseconds'"
		got=$(sed -n 's/^Period: //p' "$raw")
		[ "$got" = 4000000 ] ||
			fail "cpu -raw: period '$got' at 250 Hz, expected 4000000"
		grep -qE '^Duration: ' "$raw" || fail "cpu -raw: no Duration"
		grep -qE '^Time: ' "$raw" || fail "cpu -raw: no Time"

		raw_samples "$raw" >"$lib_tmp/cpu.samples"
		[ -s "$lib_tmp/cpu.samples" ] || fail "cpu -raw: no samples"
		bad=$(awk -F'\t' -v w1="$w1" -v w2="$w2" '
			!(($3 == w1 && $4 == "split-1") || ($3 == w2 && $4 == "split-2")) ||
			($5 != "running" && $5 != "runnable") || $6 != "" ||
			$1 < 1 || ($5 == "runnable" && $2 != 0)' \
			"$lib_tmp/cpu.samples" | head -3)
		[ -z "$bad" ] ||
			fail "cpu -raw: samples not labelled thread_id $w1/split-1" \
				"or $w2/split-2, state running (or runnable with no CPU time), no wait:" \
				"$(printf '\n%s' "$bad")"
		for tid in "$w1" "$w2"; do
			awk -F'\t' -v t="$tid" '$3 == t' "$lib_tmp/cpu.samples" |
				grep -q . || fail "cpu -raw: no sample of worker $tid"
		done
		# The cpu values are CPU time the workers used during the record:
		# no more than they used between the reports around it, and not
		# much less (the record is most of that span).
		sum=$(awk -F'\t' '{ s += $2 } END { printf "%.0f\n", s }' "$lib_tmp/cpu.samples")
		note "cpu: cpu values add up to $sum ns, the workers used $TRUTH_NS ns"
		awk -v s="$sum" -v t="$TRUTH_NS" 'BEGIN { exit !(s <= t * 1.02 + 20e6) }' ||
			fail "cpu -raw: cpu values add up to $sum ns, more than the" \
				"$TRUTH_NS ns the workers used"
		awk -v s="$sum" -v t="$TRUTH_NS" 'BEGIN { exit !(s >= t * 0.4) }' ||
			fail "cpu -raw: cpu values add up to $sum ns, the workers" \
				"used $TRUTH_NS ns over the record"
	else
		fail "cpu: go tool pprof -raw failed: $(cat "$lib_tmp/cpu.raw.err")"
	fi

	# -top: the shares.
	if go_pprof -top "$prof" >"$lib_tmp/cpu.top" 2>"$lib_tmp/cpu.top.err"; then
		grep -qx 'Type: cpu' "$lib_tmp/cpu.top" || fail "cpu -top: no 'Type: cpu'"
		pprof_a=$(top_flat "$lib_tmp/cpu.top" work_a)
		pprof_truth_a=$TRUTH_work_a
		pprof_b=$(top_flat "$lib_tmp/cpu.top" work_b)
		pprof_c=$(top_flat "$lib_tmp/cpu.top" work_c)
		check_shares "cpu -top" "$pprof_a" "$pprof_b" "$pprof_c"
	else
		fail "cpu: go tool pprof -top failed: $(cat "$lib_tmp/cpu.top.err")"
	fi

	# -tagfocus=state=running: the whole CPU profile.
	if go_pprof -tagfocus=state=running -top "$prof" >"$lib_tmp/cpu.run" \
		2>"$lib_tmp/cpu.run.err"; then
		all=$(top_total "$lib_tmp/cpu.top")
		got=$(top_total "$lib_tmp/cpu.run")
		[ -n "$got" ] && [ "$got" = "$all" ] ||
			fail "cpu -tagfocus=state=running: total '$got', expected '$all'"
	else
		fail "cpu: -tagfocus=state=running failed: $(cat "$lib_tmp/cpu.run.err")"
	fi

	# -traces: the work functions' stacks.
	if go_pprof -traces "$prof" >"$lib_tmp/cpu.traces" 2>"$lib_tmp/cpu.traces.err"; then
		grep -qx 'Type: cpu' "$lib_tmp/cpu.traces" ||
			fail "cpu -traces: no 'Type: cpu'"
		grep -qx 'File: cpu-split' "$lib_tmp/cpu.traces" ||
			fail "cpu -traces: main mapping is not cpu-split:" \
				"$(grep '^File:' "$lib_tmp/cpu.traces")"
		traces_chains "$lib_tmp/cpu.traces" >"$lib_tmp/cpu.chains"
		for fn in work_a work_b work_c; do
			n=0
			while IFS=$'\t' read -r tid chain; do
				n=$((n + 1))
				expect_chain "cpu -traces: $fn (thread $tid)" "$chain" \
					"$fn;split_loop;split_main;$chain_start" || break
			done < <(grep -P "\t$fn;" "$lib_tmp/cpu.chains")
			[ $n -gt 0 ] || fail "cpu -traces: no trace of $fn"
		done
	else
		fail "cpu: go tool pprof -traces failed: $(cat "$lib_tmp/cpu.traces.err")"
	fi

	# -list work_a: its source lines, found through the profile's file
	# name, from a directory that is neither the source's nor the build's.
	if (cd "$lib_tmp" && go_pprof -list '^work_a$' "$prof") \
		>"$lib_tmp/cpu.list" 2>"$lib_tmp/cpu.list.err"; then
		routine=$(grep -m1 '^ROUTINE =* work_a in ' "$lib_tmp/cpu.list")
		[ -n "$routine" ] || fail "cpu -list work_a: no ROUTINE line"
		file=${routine##* in }
		if grep -q 'could not find file' "$lib_tmp/cpu.list" "$lib_tmp/cpu.list.err"; then
			fail "cpu -list work_a: pprof cannot find the source; the" \
				"profile names it '$file'" \
				"$(grep -h 'could not find' "$lib_tmp/cpu.list" "$lib_tmp/cpu.list.err")"
		else
			[[ $file == /* ]] && [ -f "$file" ] ||
				fail "cpu -list work_a: source file '$file'"
			grep -qE '^ +[0-9.]+[a-zµ]*s? +[0-9.]+[a-zµ]*s? +[0-9]+:[[:space:]]+STEP\(x\);$' \
				"$lib_tmp/cpu.list" ||
				fail "cpu -list work_a: no sampled source line 'STEP(x);':" \
					"$(head -20 "$lib_tmp/cpu.list")"
			grep -qE '^ +\. +\. +[0-9]+:.*NOIPA uint64_t work_a\(uint64_t n, uint64_t x\)$' \
				"$lib_tmp/cpu.list" ||
				fail "cpu -list work_a: the listing does not show work_a's source"
		fi
	else
		fail "cpu: go tool pprof -list work_a failed: $(cat "$lib_tmp/cpu.list.err")"
	fi
else
	fail "cpu: no profile written"
fi

# --- cpu mode, folded ----------------------------------------------------------
if record_split cpu.folded -s 2 -F 250 --format=folded; then
	folded=$lib_tmp/cpu.folded
	bad=$(grep -vE '^[^ ;]+(;[^ ;]+)* [0-9]+$' "$folded" | head -3)
	[ -z "$bad" ] || fail "folded: lines not 'frame;...;frame NS': $bad"
	# Root first: the workers' stacks end in split_loop;work_X.
	bad=$(grep -E ';work_[abc] [0-9]+$' "$folded" |
		grep -vE "^(__GI_)?_*clone3?;start_thread;split_main;split_loop;work_[abc] [0-9]+\$" |
		head -3)
	[ -z "$bad" ] || fail "folded: work_* stacks not clone;start_thread;split_main;split_loop;work_*: $bad"
	# Values are nanoseconds of CPU.
	sum=$(awk '{ s += $NF } END { printf "%.0f\n", s }' "$folded")
	awk -v s="$sum" -v t="$TRUTH_NS" 'BEGIN { exit !(s <= t * 1.02 + 20e6 && s >= t * 0.4) }' ||
		fail "folded: values add up to $sum ns, the workers used $TRUTH_NS ns"
	leaf_share()
	{
		awk -v fn="$1" -v s="$sum" '
			{ n = split($1, f, ";"); if (f[n] == fn) v += $NF }
			END { printf "%.2f\n", (s > 0 ? 100 * v / s : 0) }' "$folded"
	}
	check_shares folded "$(leaf_share work_a)" "$(leaf_share work_b)" \
		"$(leaf_share work_c)"
	same_error folded "$(leaf_share work_a)"
else
	fail "folded: no output written"
fi

# --- cpu mode, top -------------------------------------------------------------
if record_split cpu.toptxt -s 2 -F 250 --format=top; then
	top=$lib_tmp/cpu.toptxt
	grep -qx 'Type: cpu' "$top" || fail "top: no 'Type: cpu' line"
	grep -qE '^Showing nodes accounting for [0-9.]+[a-zµ]*s?, [0-9.]+% of [0-9.]+[a-zµ]*s? total$' "$top" ||
		fail "top: no 'Showing nodes accounting for X, P% of Y total' line"
	grep -qE '^ +flat +flat% +sum% +cum +cum%$' "$top" || fail "top: no column header"
	bad=$(sed '1,/^ *flat  *flat%/d' "$top" |
		grep -vE '^ +([0-9.]+[a-zµ]*s|0) +[0-9.]+% +[0-9.]+% +([0-9.]+[a-zµ]*s|0) +[0-9.]+%  \S.*$' |
		head -3)
	[ -z "$bad" ] || fail "top: rows not like go tool pprof -top: $bad"
	top_a=$(top_flat "$top" work_a)
	check_shares top "$top_a" "$(top_flat "$top" work_b)" "$(top_flat "$top" work_c)"
	same_error top "$top_a"
	# Sorted by flat, like pprof.
	sorted=$(sed '1,/^ *flat  *flat%/d' "$top" | awk '{ print $2 + 0 }')
	[ "$sorted" = "$(printf '%s\n' "$sorted" | sort -g -r)" ] ||
		fail "top: rows not sorted by flat"
else
	fail "top: no output written"
fi
kill -KILL "$pid"
wait "$pid" 2>/dev/null

# --- wall mode on parked --------------------------------------------------------
lib_spinning=busy
start_target parked "$parked"
pid=$TARGET_PID
all_tids=$(tids "$pid")
prof=$lib_tmp/wall.prof
run_cprof "$lib_tmp/wall.stdout" record -p "$pid" --mode=wall -s 1 -F 50 -o "$prof"
rc=$?
[ $rc = 0 ] || fail "wall: cprof exited $rc: $(cat "$lib_tmp/wall.stdout.err")"
check_runs_on "$pid" "$TARGET_COUNTER"
[ -s "$prof" ] || die "wall: no profile written"

go_pprof -raw "$prof" >"$lib_tmp/wall.raw" 2>"$lib_tmp/wall.raw.err" ||
	die "wall: go tool pprof -raw failed: $(cat "$lib_tmp/wall.raw.err")"
raw=$lib_tmp/wall.raw
got=$(sed -n '/^Samples:$/{n;p;q}' "$raw")
[ "$got" = "samples/count wall/nanoseconds" ] ||
	fail "wall -raw: sample types '$got', expected 'samples/count wall/nanoseconds'"
got=$(sed -n 's/^PeriodType: //p' "$raw")
[ "$got" = "wall nanoseconds" ] ||
	fail "wall -raw: period type '$got', expected 'wall nanoseconds'"
got=$(sed -n 's/^Period: //p' "$raw")
[ "$got" = 20000000 ] || fail "wall -raw: period '$got' at 50 Hz, expected 20000000"

raw_samples "$raw" >"$lib_tmp/wall.samples"
# Every thread at every tick: the same count for each, give or take one.
counts=$(for tid in $all_tids; do
	awk -F'\t' -v t="$tid" '$3 == t { s += $1 } END { print s + 0 }' "$lib_tmp/wall.samples"
done | sort -n | uniq | paste -sd' ')
lo=${counts%% *} hi=${counts##* }
note "wall: samples per thread: $counts"
[ "$lo" -ge 10 ] && [ $((hi - lo)) -le 1 ] ||
	fail "wall -raw: samples per thread $counts: every thread is sampled" \
		"at every tick, 1 s at 50 Hz"
for tid in $all_tids; do
	name=$(thread_name "$pid" "$tid")
	want_wait=$(parked_wait "$name") || continue
	case $want_wait in
	"") want="running/(clock_gettime)?" ;;
	clock_nanosleep | poll) want="sleeping/($want_wait|restart_syscall)" ;;
	*) want="sleeping/$want_wait" ;;
	esac
	got=$(awk -F'\t' -v t="$tid" '$3 == t { print $4 "|" $5 "/" $6 }' \
		"$lib_tmp/wall.samples" | sort -u)
	while IFS= read -r line; do
		[[ ${line%%|*} == "$name" && ${line#*|} =~ ^$want$ ]] ||
			fail "wall -raw: thread $tid '$name' labelled '$line'," \
				"expected '$name|$want'"
	done <<<"$got"
done

# -tagfocus=wait=epoll_wait: the epoll thread's stack alone.
if go_pprof -tagfocus=wait=epoll_wait -traces "$prof" >"$lib_tmp/wall.epoll" \
	2>"$lib_tmp/wall.epoll.err"; then
	grep -qx 'Type: wall' "$lib_tmp/wall.epoll" || fail "wall -traces: no 'Type: wall'"
	traces_chains "$lib_tmp/wall.epoll" >"$lib_tmp/wall.epoll.chains"
	epoll_tid=$(tid_of "$pid" epoll)
	got=$(cut -f1 "$lib_tmp/wall.epoll.chains" | sort -u | paste -sd' ')
	[ "$got" = "$epoll_tid" ] ||
		fail "wall -tagfocus=wait=epoll_wait: threads '$got', expected '$epoll_tid'"
	while IFS=$'\t' read -r tid chain; do
		expect_chain "wall -tagfocus=wait=epoll_wait" "$chain" \
			"$(expected_parked epoll)" || break
	done <"$lib_tmp/wall.epoll.chains"
else
	fail "wall: -tagfocus=wait=epoll_wait failed: $(cat "$lib_tmp/wall.epoll.err")"
fi

# -tagfocus=state=running: only the busy thread runs.
if go_pprof -tagfocus=state=running -traces "$prof" >"$lib_tmp/wall.run" \
	2>"$lib_tmp/wall.run.err"; then
	busy_tid=$(tid_of "$pid" busy)
	got=$(traces_chains "$lib_tmp/wall.run" | cut -f1 | sort -u | paste -sd' ')
	[ "$got" = "$busy_tid" ] ||
		fail "wall -tagfocus=state=running: threads '$got', expected '$busy_tid'"
else
	fail "wall: -tagfocus=state=running failed: $(cat "$lib_tmp/wall.run.err")"
fi

finish
