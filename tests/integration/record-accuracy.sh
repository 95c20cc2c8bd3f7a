#!/bin/bash
# `cprof record` attributes CPU time truthfully: cpu-split spends known
# shares of its CPU in work_a, work_b and work_c (about 50/30/20, timed by
# the target itself with its threads' CPU clocks); a 4-second record at
# 1000 Hz must give each function a flat share, read from
# `go tool pprof -top`, within 3 points of what the target measured over
# the same run, with one worker thread and with two.
#
# usage: record-accuracy.sh CPROF CPU-SPLIT
CPROF=$1 split=$2
. "$(dirname "$0")/../lib/lib.sh"

require_file "$CPROF" cprof
require_file "$split" "target cpu-split"
require_go

tolerance=3
lib_spinning="split-1 split-2"

for threads in 1 2; do
	name=split$threads
	start_target "$name" "$split" "$threads"
	pid=$TARGET_PID
	prof=$lib_tmp/$name.prof
	workers=()
	for ((i = 1; i <= threads; i++)); do
		tid=$(tid_of "$pid" "split-$i") ||
			framework_error "$name: no thread split-$i"
		workers+=("$tid")
	done

	before=$(target_report "$name" "$pid" 1) ||
		framework_error "$name: no report before the record"
	run_cprof "$lib_tmp/$name.stdout" record -p "$pid" -s 4 -F 1000 \
		--stats -o "$prof"
	rc=$?
	after=$(target_report "$name" "$pid" 2) ||
		framework_error "$name: no report after the record"
	[ $rc = 0 ] || fail "$threads thread(s): cprof exited $rc:" \
		"$(cat "$lib_tmp/$name.stdout.err")"
	check_runs_on "$pid" "$TARGET_COUNTER"
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	[ -s "$prof" ] || {
		fail "$threads thread(s): no profile written"
		continue
	}
	note "$threads thread(s): $(grep '^cprof: ticks ' "$lib_tmp/$name.stdout.err")"

	go_pprof -top "$prof" >"$lib_tmp/$name.top" 2>"$lib_tmp/$name.top.err" || {
		fail "$threads thread(s): go tool pprof -top failed:" \
			"$(cat "$lib_tmp/$name.top.err")"
		continue
	}

	# The profile must hold enough samples for a 3-point test to mean
	# anything: 4 s at 1000 Hz is up to 4000 per busy thread.
	go_pprof -raw "$prof" >"$lib_tmp/$name.raw" 2>/dev/null
	raw_samples "$lib_tmp/$name.raw" >"$lib_tmp/$name.samples"
	nsamples=$(awk -F'\t' '{ s += $1 } END { print s + 0 }' \
		"$lib_tmp/$name.samples")
	note "$threads thread(s): $nsamples samples"
	[ "$nsamples" -ge 400 ] ||
		fail "$threads thread(s): only $nsamples samples in 4 s at 1000 Hz"

	# Every worker is in the profile, under its own thread_id.
	for tid in "${workers[@]}"; do
		awk -F'\t' -v tid="$tid" '$3 == tid' "$lib_tmp/$name.samples" |
			grep -q . ||
			fail "$threads thread(s): no sample of worker thread $tid"
	done

	total=$(($(report_field "$after" total) - $(report_field "$before" total)))
	for fn in work_a work_b work_c; do
		ns=$(($(report_field "$after" "$fn") - $(report_field "$before" "$fn")))
		truth=$(share "$ns" "$total")
		flat=$(top_flat "$lib_tmp/$name.top" "$fn")
		note "$threads thread(s): $fn truth $truth% pprof flat $flat%"
		within "$flat" "$truth" "$tolerance" ||
			fail "$threads thread(s): $fn flat $flat%, the target" \
				"measured $truth% (tolerance $tolerance points)"
	done
done

finish
