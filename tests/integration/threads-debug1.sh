#!/bin/bash
# `cprof threads` (--debug=1, the default) groups identical stacks:
#   thread profile: total N
#   COUNT @ 0xPC 0xPC ...
#   # labels: {"state":"sleeping", "wait":"futex"}
#   #	0xPC	FUNCTION+0xOFF	FILE:LINE
#   (blank line)
# The total is the number of threads, the counts add up to it, groups come
# largest first, the target's four identical pool threads form one group of
# four, and every other thread's stack is a group of its own.
#
# usage: threads-debug1.sh CPROF PARKED
CPROF=$1 parked=$2
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/chains.sh"

require_file "$CPROF" cprof
require_file "$parked" "target parked"

pool_threads=4

# groups FILE: one line per group: COUNT<tab>LABELS<tab>CHAIN<tab>PCS<tab>
# FRAME-PCS, where CHAIN is the function names joined with ";", PCS the
# "@" list and FRAME-PCS the PCs of the "#" lines, both with repeats in a
# row shown once (inlined calls share their caller's address, and so do the
# frames of a recursion).
groups()
{
	awk -F'\t' '
		function put() {
			if (have)
				printf "%s\t%s\t%s\t%s\t%s\n", count, labels, chain, pcs, fpcs
			have = 0
		}
		NR == 1 { next }
		/^[0-9]+ @( 0x[0-9a-f]+)+$/ {
			put(); have = 1
			count = $0; sub(/ @.*/, "", count)
			n = split(substr($0, index($0, "@ ") + 2), at, " ")
			pcs = ""
			for (i = 1; i <= n; i++)
				if (i == 1 || at[i] != at[i - 1])
					pcs = pcs (pcs == "" ? "" : " ") at[i]
			labels = chain = fpcs = ""; last = ""
			next
		}
		/^# labels: / { labels = substr($0, 11); next }
		/^#\t0x[0-9a-f]+\t/ {
			name = $3; sub(/\+0x[0-9a-f]+$/, "", name)
			chain = chain (chain == "" ? "" : ";") name
			if ($2 != last) fpcs = fpcs (fpcs == "" ? "" : " ") $2
			last = $2
			next
		}
		/^$/ { put(); next }
		{ printf "BAD\t%s\n", $0 }
		END { put() }' "$1"
}

# check_dump WHAT FILE PID FRESH (FRESH: no tracer has stopped PID before)
check_dump()
{
	local what=$1 out=$2 pid=$3 fresh=$4 n want first total bad order tid name pattern
	local matches wait labels
	n=$(tids "$pid" | wc -l)
	first=$(head -n1 "$out")
	[ "$first" = "thread profile: total $n" ] ||
		fail "$what: first line '$first', expected 'thread profile: total $n'"
	groups "$out" >"$out.groups"

	bad=$(grep '^BAD' "$out.groups" | head -n5)
	[ -z "$bad" ] || fail "$what: lines out of format:
$bad"
	total=$(awk -F'\t' '$1 != "BAD" { s += $1 } END { print s + 0 }' "$out.groups")
	[ "$total" = "$n" ] || fail "$what: group counts add up to $total, not $n"
	order=$(awk -F'\t' '$1 != "BAD" { print $1 }' "$out.groups" | sort -rn -c 2>&1)
	[ -z "$order" ] || fail "$what: groups not sorted by count: $order"
	[ -z "$(awk -F'\t' '$1 != "BAD" && $4 != $5' "$out.groups")" ] ||
		fail "$what: a group's '@' PCs differ from its frames' PCs"

	# The pool threads: one group of four, sleeping in futex.
	want=$(expected_parked pool-1)
	matches=$(awk -F'\t' '{ print $1 "\t" $2 "\t" $3 }' "$out.groups" |
		grep -cE -x -e "$pool_threads	\{\"state\":\"sleeping\", \"wait\":\"futex\"\}	$want")
	[ "$matches" = 1 ] ||
		fail "$what: no group of $pool_threads pool threads in futex:
$(grep pool_wait "$out.groups")"

	# Every other thread: a group of one with its own stack and labels.
	for tid in $(tids "$pid"); do
		name=$(thread_name "$pid" "$tid")
		case $name in pool-*) continue ;; esac
		pattern=$(expected_parked "$name") || {
			fail "$what: unexpected thread $tid '$name'"
			continue
		}
		wait=$(parked_wait "$name")
		if [ -n "$wait" ]; then
			case $fresh,$wait in
			0,clock_nanosleep | 0,poll) wait="($wait|restart_syscall)" ;;
			esac
			labels="\\{\"state\":\"sleeping\", \"wait\":\"$wait\"\\}"
		else
			labels='\{"state":"running"(, "wait":"clock_gettime")?\}'
		fi
		matches=$(awk -F'\t' '{ print $1 "\t" $2 "\t" $3 }' "$out.groups" |
			grep -cE -x -e "1	$labels	$pattern")
		[ "$matches" = 1 ] ||
			fail "$what: thread $tid '$name': $matches groups of one" \
				"match /$labels/ and /$(squeeze_chain "$pattern")/"
	done
}

start_target parked "$parked"
pid=$TARGET_PID

run_cprof "$lib_tmp/default" threads -p "$pid"
rc=$?
[ $rc = 0 ] || fail "cprof threads exited $rc: $(cat "$lib_tmp/default.err")"
check_runs_on "$pid" "$TARGET_COUNTER"
check_dump "default" "$lib_tmp/default" "$pid" 1

run_cprof "$lib_tmp/debug1" threads -p "$pid" --debug=1
rc=$?
[ $rc = 0 ] || fail "cprof threads --debug=1 exited $rc: $(cat "$lib_tmp/debug1.err")"
check_runs_on "$pid" "$TARGET_COUNTER"
check_dump "--debug=1" "$lib_tmp/debug1" "$pid" 0

finish
