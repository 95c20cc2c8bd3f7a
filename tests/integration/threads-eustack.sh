#!/bin/bash
# Every thread's PC chain from `cprof threads --debug=2 --pcs` equals the one
# `eu-stack -p` prints, frame for frame, with both unwinders, for the test
# targets and for multi-threaded programs from Debian that we did not write
# (xz, zstd, python3: stripped of symbols, unwound through .eh_frame alone).
#
# Both tools print raw PCs: the current instruction for the innermost frame
# and a signal frame's interrupted frame, return addresses for the others.
# A thread running at either snapshot (the targets' busy thread) has moved
# between the two: its chains must agree below their innermost three frames.
#
# usage: threads-eustack.sh CPROF PARKED CXX-TARGET
CPROF=$1 parked=$2 cxx=$3
. "$(dirname "$0")/../lib/lib.sh"

require_file "$CPROF" cprof
require_file "$parked" "target parked"
command -v eu-stack >/dev/null || skip "eu-stack (elfutils) not installed"

# The frames of a running thread that may differ between two snapshots: its
# leaf function, the vDSO and the libc function calling into it.
running_slack=3

# compare_thread WHAT TID CPROF-PCS EU-PCS RUNNING
compare_thread()
{
	local what=$1 tid=$2 a=$3 b=$4 running=$5 na nb common state=""
	if [ "$running" = 0 ]; then
		[ "$a" = "$b" ] && return 0
	else
		na=$(printf '%s\n' "$a" | wc -l)
		nb=$(printf '%s\n' "$b" | wc -l)
		common=$(paste -d' ' <(printf '%s\n' "$a" | tac) \
			<(printf '%s\n' "$b" | tac) |
			awk '$1 != $2 { exit } { n++ } END { print n + 0 }')
		if [ $((na - common)) -le $running_slack ] &&
			[ $((nb - common)) -le $running_slack ] && [ "$common" -gt 0 ]; then
			return 0
		fi
	fi
	[ "$running" = 0 ] || state=" (running)"
	fail "$what: thread $tid: PC chains differ$state
$(diff <(printf '%s\n' "$a") <(printf '%s\n' "$b") | head -n 40 |
		sed 's/^</  cprof   /; s/^>/  eu-stack/')"
}

# compare WHAT PID [COUNTER]: eu-stack, then cprof with each unwinder.
compare()
{
	local what=$1 pid=$2 counter=${3:-} unwinder out eu rc tid running
	local cprof_tids eu_tids
	eu=$lib_tmp/$what.eu
	for unwinder in libdw libunwind; do
		eu-stack -p "$pid" -n 0 >"$eu" 2>"$eu.err"
		rc=$?
		[ $rc -le 1 ] || framework_error "$what: eu-stack exited $rc:" \
			"$(cat "$eu.err")"
		[ $rc = 0 ] || note "$what: eu-stack partial: $(cat "$eu.err")"
		check_runs_on "$pid" "$counter"

		out=$lib_tmp/$what.$unwinder
		run_cprof "$out" threads -p "$pid" --debug=2 --pcs \
			--unwinder=$unwinder
		rc=$?
		[ $rc = 0 ] || fail "$what: cprof --unwinder=$unwinder exited" \
			"$rc: $(cat "$out.err")"
		check_runs_on "$pid" "$counter"

		cprof_tids=$(d2_threads "$out" | cut -d' ' -f1 | sort -n | paste -sd' ')
		eu_tids=$(eu_tids "$eu" | sort -n | paste -sd' ')
		[ "$cprof_tids" = "$eu_tids" ] ||
			fail "$what: threads differ: cprof '$cprof_tids'," \
				"eu-stack '$eu_tids'"
		note "$what --unwinder=$unwinder: comparing $(wc -w <<<"$cprof_tids")" \
			"threads, $(grep -c '^#' "$eu") frames"
		for tid in $cprof_tids; do
			running=0
			d2_header "$out" "$tid" | grep -q 'running\]:$' && running=1
			compare_thread "$what --unwinder=$unwinder" "$tid" \
				"$(d2_pcs "$out" "$tid")" "$(eu_pcs "$eu" "$tid")" \
				$running
		done
	done
}

start_target parked "$parked"
compare parked "$TARGET_PID" "$TARGET_COUNTER"

if [ -n "$cxx" ] && [ -x "$cxx" ]; then
	start_target cxx "$cxx"
	compare cxx-target "$TARGET_PID"
fi

programs=0

# xz: with small blocks, the input written so far makes three encoder
# threads, which then wait for more input that never comes.
if command -v xz >/dev/null; then
	mkfifo "$lib_tmp/xz.in" || framework_error "mkfifo"
	exec {xz_fd}<>"$lib_tmp/xz.in"
	xz -T3 --block-size=65536 -c <"$lib_tmp/xz.in" >/dev/null \
		2>"$lib_tmp/xz.err" &
	lib_pids+=($!)
	xz_pid=$!
	head -c 300000 /dev/urandom >&$xz_fd
	for ((n = 0; n < 600; n++)); do
		[ "$(tids $xz_pid | wc -l)" -ge 4 ] && break
		kill -0 $xz_pid 2>/dev/null || framework_error "xz exited"
		sleep 0.05
	done
	wait_parked $xz_pid 30 || framework_error "xz did not park"
	compare xz $xz_pid
	programs=$((programs + 1))
else
	note "xz not installed (Debian package xz-utils)"
fi

# zstd: its worker pool exists from the start; stdin is a fifo we hold.
if command -v zstd >/dev/null; then
	start_program zstd "" 3 zstd -T4 -c
	compare zstd "$TARGET_PID"
	programs=$((programs + 1))
else
	note "zstd not installed (Debian package zstd)"
fi

# python3: the interpreter, with three threads waiting on an event.
if [ -x /usr/bin/python3 ]; then
	start_program python3 "" 4 /usr/bin/python3 -c '
import sys, threading
event = threading.Event()
for i in range(3):
    threading.Thread(target=event.wait, daemon=True).start()
sys.stdin.read()'
	compare python3 "$TARGET_PID"
	programs=$((programs + 1))
else
	note "/usr/bin/python3 not installed (Debian package python3-minimal)"
fi

if [ $programs -lt 2 ] && [ $lib_failed = 0 ]; then
	skip "fewer than two Debian programs to compare with"
fi
finish
