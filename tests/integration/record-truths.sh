#!/bin/bash
# Small truths of cprof's output:
# - an empty profile comes with one line on stderr saying why: a target
#   stopped by SIGSTOP, a launched command whose work is in its children;
# - --stats never shows a percentile above the maximum;
# - --pcs without --debug=2 is refused, not ignored;
# - folded stacks do not repeat a frame whose inline copy has its name;
# - a frame without a name is "object+0xADDR" with the ELF address, the
#   same in its name and its offset, the address addr2line takes.
#
# usage: record-truths.sh CPROF CPU-SPLIT PARKED NOPIE NOPIE-STRIPPED
CPROF=$1 split=$2 parked=$3 nopie=$4 stripped=$5
. "$(dirname "$0")/../lib/lib.sh"

require_file "$CPROF" cprof
require_file "$split" "target cpu-split"
require_file "$parked" "target parked"
require_file "$stripped" "target nopie-stripped"

# one_line WHAT FILE PATTERN: FILE is exactly one line matching PATTERN.
one_line()
{
	[ "$(wc -l <"$2")" = 1 ] && grep -qE -x -e "$3" "$2" ||
		fail "$1: stderr is not one line /$3/: $(cat "$2")"
}

# A stopped target: no sample, exit 0, and why.
lib_spinning="split-1"
start_target split "$split" 1
kill -STOP "$TARGET_PID"
run_cprof "$lib_tmp/stopped.prof" record -p "$TARGET_PID" -s 0.5
rc=$?
[ $rc = 0 ] || fail "stopped: cprof exited $rc"
one_line stopped "$lib_tmp/stopped.prof.err" \
	"cprof: pid $TARGET_PID: no samples: it was stopped \(SIGSTOP or a debugger\) for the whole recording; --mode=wall shows where its threads are"
state=$(lib_stat_state "/proc/$TARGET_PID")
[ "$state" = T ] || fail "stopped: the target is in state '$state', not T"
kill -CONT "$TARGET_PID"

# The pause percentiles of a busy target stay at or below the maximum.
run_cprof "$lib_tmp/busy.prof" record --sampler=ptrace -p "$TARGET_PID" -s 1 \
	-F 500 --stats
awk '/pause p50/ {
	for (i = 1; i <= NF; i++) {
		if ($i == "p50") p50 = $(i + 1) + 0
		if ($i == "p99") p99 = $(i + 1) + 0
		if ($i == "max") max = $(i + 1) + 0
	}
	found = 1
	exit !(p50 > 0 && p50 <= p99 && p99 <= max)
} END { if (!found) exit 1 }' "$lib_tmp/busy.prof.err" ||
	fail "stats: percentiles out of order: $(cat "$lib_tmp/busy.prof.err")"

# Launch mode, the work in a child, children left out: no sample, the
# command's status, why.
run_cprof "$lib_tmp/child.prof" record -o "$lib_tmp/child.pprof" --no-children -- \
	sh -c '"$0" 1 1 >/dev/null; exit 5' "$split"
rc=$?
[ $rc = 5 ] || fail "child: cprof exited $rc, not the command's 5"
grep -qE -x -e "cprof: pid [0-9]+: no samples: the command itself never ran on a CPU, and --no-children leaves out the processes it starts" \
	"$lib_tmp/child.prof.err" ||
	fail "child: no reason for the empty profile: $(cat "$lib_tmp/child.prof.err")"

# --pcs belongs to --debug=2.
run_cprof "$lib_tmp/pcs.out" threads -p "$TARGET_PID" --pcs
rc=$?
[ $rc = 64 ] || fail "--pcs: cprof exited $rc, not 64"
one_line --pcs "$lib_tmp/pcs.out.err" \
	"cprof: --pcs needs --debug=2: debug=1 shows the addresses already"

# Folded: read(2)'s wrapper, inlined into a copy of itself, is one frame.
lib_spinning=busy
start_target parked "$parked"
run_cprof "$lib_tmp/wall.folded" record -p "$TARGET_PID" -s 0.3 \
	--mode=wall --format=folded
grep -q ";read_inner;" "$lib_tmp/wall.folded" ||
	fail "folded: no read thread: $(head -3 "$lib_tmp/wall.folded")"
if grep -nE '(^|;)([^;]+);\2(;| )' "$lib_tmp/wall.folded" |
	grep -v 'recurse;recurse' >"$lib_tmp/repeats"; then
	fail "folded: a frame repeats: $(head -2 "$lib_tmp/repeats")"
fi

# Unnamed frames of a position-dependent executable.
lib_spinning=
start_target nopie "$stripped"
run_cprof "$lib_tmp/nopie.txt" threads -p "$TARGET_PID" --debug=2 ||
	fail "nopie: cprof exited $?"
base=$(basename "$stripped")
awk -v b="$base" '
	$0 ~ "^" b "\\+0x[0-9a-f]+\\(\\.\\.\\.\\)$" {
		name = $0; sub("^" b "\\+", "", name); sub("\\(.*", "", name)
		getline
		off = $NF; sub("^\\+", "", off)
		print name, off
	}' "$lib_tmp/nopie.txt" >"$lib_tmp/nopie.offs"
[ "$(wc -l <"$lib_tmp/nopie.offs")" -ge 3 ] ||
	fail "nopie: fewer than 3 unnamed frames: $(cat "$lib_tmp/nopie.txt")"
names=""
while read -r name off; do
	[ "$name" = "$off" ] || fail "nopie: frame named +$name shows offset +$off"
	names="$names $(eu-addr2line -f -e "$nopie" "$(printf '0x%x' $((name - 1)))" | head -1)"
done <"$lib_tmp/nopie.offs"
case $names in
" nopie_park nopie_outer main"*) ;;
*) fail "nopie: the unnamed frames are at '$names' by addr2line, expected nopie_park nopie_outer main ..." ;;
esac

finish
