#!/bin/bash
# `cprof threads --debug=2` shows every thread of the test targets with its
# exact chain of functions, frame by frame, with both unwinders, and the two
# unwinders print the same dump.  The targets run on afterwards.
#
# usage: threads-stacks.sh CPROF PARKED CXX-TARGET
CPROF=$1 parked=$2 cxx=$3
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/chains.sh"

require_file "$CPROF" cprof
require_file "$parked" "target parked"

# check_dump WHAT FILE PID EXPECT-FN HEADER-FN FRESH: every thread of PID
# appears once, in tid order, named as in /proc, with the expected header
# and stack.  FRESH: no tracer has stopped PID before.
check_dump()
{
	local what=$1 out=$2 pid=$3 expect=$4 header=$5 fresh=$6
	local tid name pattern got want

	want=$(tids "$pid" | paste -sd' ')
	got=$(d2_threads "$out" | cut -d' ' -f1 | paste -sd' ')
	[ "$got" = "$want" ] || fail "$what: threads '$got', expected '$want'"

	for tid in $(tids "$pid"); do
		name=$(thread_name "$pid" "$tid")
		pattern=$("$expect" "$name") || {
			fail "$what: unexpected thread $tid '$name'"
			continue
		}
		got=$(d2_header "$out" "$tid")
		want="thread $tid \"$name\" $("$header" "$name" "$fresh"):"
		printf '%s\n' "$got" | grep -qE -x -e "$want" ||
			fail "$what: header of $tid: got '$got', expected /$want/"
		expect_chain "$what: thread $tid '$name'" \
			"$(d2_chain "$out" "$tid")" "$pattern"
	done
}

# stacks_only FILE: the dump without blocks of running threads, whose stacks
# change between two dumps, and without the "[...]" of the headers, where
# a nanosleep becomes restart_syscall after the first dump.
stacks_only()
{
	awk '
		/^thread [0-9]+ "/ { skip = ($0 ~ /running\]:$/); sub(/ \[.*\]:$/, "") }
		!skip
		/^$/ { skip = 0 }' "$1"
}

# check_target NAME PID COUNTER EXPECT-FN HEADER-FN
check_target()
{
	local name=$1 pid=$2 counter=$3 expect=$4 header=$5 unwinder rc
	local fresh=1
	for unwinder in libdw libunwind; do
		run_cprof "$lib_tmp/$name.$unwinder" threads -p "$pid" \
			--debug=2 --unwinder=$unwinder
		rc=$?
		[ $rc = 0 ] || fail "$name: cprof --unwinder=$unwinder exited $rc:" \
			"$(cat "$lib_tmp/$name.$unwinder.err")"
		check_dump "$name --unwinder=$unwinder" \
			"$lib_tmp/$name.$unwinder" "$pid" "$expect" "$header" \
			$fresh
		check_runs_on "$pid" "$counter"
		fresh=0
	done
	if ! diff -u <(stacks_only "$lib_tmp/$name.libdw") \
		<(stacks_only "$lib_tmp/$name.libunwind") >&2; then
		fail "$name: libdw and libunwind dumps differ"
	fi
}

start_target parked "$parked"
check_target parked "$TARGET_PID" "$TARGET_COUNTER" \
	expected_parked expected_parked_header

if [ -n "$cxx" ] && [ -x "$cxx" ]; then
	start_target cxx "$cxx"
	check_target cxx-target "$TARGET_PID" "" \
		expected_cxx expected_cxx_header
else
	note "no C++ target built: C++ names not checked"
fi

finish
