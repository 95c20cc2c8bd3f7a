#!/bin/bash
# `cprof threads` of several processes: a block per process, each headed
# `process PID "NAME" [EXE, N threads]:`, in the layout of one process.
# - --pid-tree of forker (a parent asleep in sigsuspend, three workers
#   spinning in worker_a, worker_b, worker_c): four blocks, root first,
#   each matching `threads -p` of that process alone: the sleeping parent
#   line for line with its PCs, each worker frame by frame.
# - debug=1 groups within a process only: four groups of 1, and no pid or
#   process in a group's labels (the header says them).
# - -p A,B -p C: those three, in that order.
# - --debug=0: every thread labelled with its pid and process, in one
#   profile go tool pprof reads.
# - a tree whose children come and go (a shell running `true` in a loop):
#   a child gone between listing and capture is left out, no error.
# - the objects every process of the tree maps (forker, libc) are read
#   once: --stats counts as many as for the root alone, found read
#   already at least three times each.
# - after every run, no process of the tree is stopped or traced.
# - bad input: an empty element, an empty list, a pid given twice, -p with --pid-tree
#   (64); a pid that does not exist, a zombie root (2): one line each.
#
# usage: threads-tree.sh CPROF FORKER
CPROF=$1 forker=$2
. "$(dirname "$0")/../lib/lib.sh"

require_file "$CPROF" cprof
require_file "$forker" "target forker"
require_go

start_ready forker "$forker"
ROOT=$TARGET_PID
for x in a b c; do
	printf -v "WORKER_$x" '%s' \
		"$(awk -v x="$x" '$1 == "worker" && $2 == x { print $3 }' \
			"$lib_tmp/forker.out")"
	lib_pids+=("$(eval echo "\$WORKER_$x")")
done
EXE=$(readlink "/proc/$ROOT/exe")
TREE=("$ROOT" "$WORKER_a" "$WORKER_b" "$WORKER_c")

all_free()
{
	local what=$1 pid
	for pid in "${TREE[@]}"; do
		check_free "$pid" "" "$what"
	done
}

# headers FILE: the pids of the process header lines, in order.
headers()
{
	sed -n 's/^process \([0-9][0-9]*\) .*/\1/p' "$1" | paste -sd' '
}

# block FILE PID: PID's block, header left out, up to the next header
# (the empty line that separates two blocks left out too).
block()
{
	awk -v pid="$2" '
		/^process [0-9]+ / { on = ($2 == pid); next }
		on' "$1" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
}

run_cprof "$lib_tmp/tree2" threads --pid-tree "$ROOT" --debug=2 --pcs ||
	fail "tree: cprof exited $?: $(cat "$lib_tmp/tree2.err")"
[ "$(headers "$lib_tmp/tree2")" = "${TREE[*]}" ] ||
	fail "tree: process blocks '$(headers "$lib_tmp/tree2")', expected '${TREE[*]}'"
for pid in "${TREE[@]}"; do
	want="process $pid \"forker\" [$EXE, 1 thread]:"
	grep -qxF "$want" "$lib_tmp/tree2" ||
		fail "tree: no header '$want'"
done
all_free tree

for pid in "${TREE[@]}"; do
	run_cprof "$lib_tmp/one.$pid" threads -p "$pid" --debug=2 --pcs ||
		fail "one: cprof -p $pid exited $?"
	grep -q '^process ' "$lib_tmp/one.$pid" &&
		fail "one: -p $pid alone printed a process header"
	block "$lib_tmp/tree2" "$pid" >"$lib_tmp/block.$pid"
	if [ "$pid" = "$ROOT" ]; then
		cmp -s "$lib_tmp/block.$pid" "$lib_tmp/one.$pid" ||
			fail "tree: the parent's block differs from threads -p $ROOT:" \
				"$(diff "$lib_tmp/block.$pid" "$lib_tmp/one.$pid" | head -6)"
		grep -q '^__GI___sigsuspend\|sigsuspend(' "$lib_tmp/block.$pid" ||
			fail "tree: the parent is not in sigsuspend"
	else
		[ "$(d2_chain "$lib_tmp/block.$pid" "$pid")" = \
			"$(d2_chain "$lib_tmp/one.$pid" "$pid")" ] ||
			fail "tree: pid $pid: '$(d2_chain "$lib_tmp/block.$pid" "$pid")'" \
				"vs alone '$(d2_chain "$lib_tmp/one.$pid" "$pid")'"
	fi
done
for x in a b c; do
	pid=$(eval echo "\$WORKER_$x")
	d2_funcs "$lib_tmp/block.$pid" "$pid" | head -1 | grep -qx "worker_$x" ||
		fail "tree: pid $pid is not in worker_$x: $(d2_chain "$lib_tmp/block.$pid" "$pid")"
done
all_free one

# debug=1: grouped within each process, the parent's block as alone.
run_cprof "$lib_tmp/tree1" threads --pid-tree "$ROOT" ||
	fail "debug=1: cprof exited $?"
[ "$(headers "$lib_tmp/tree1")" = "${TREE[*]}" ] ||
	fail "debug=1: process blocks '$(headers "$lib_tmp/tree1")'"
[ "$(grep -c '^thread profile: total 1$' "$lib_tmp/tree1")" = 4 ] ||
	fail "debug=1: not four 'thread profile: total 1' lines"
[ "$(grep -c '^1 @ ' "$lib_tmp/tree1")" = 4 ] ||
	fail "debug=1: not four groups of one"
grep '^# labels:' "$lib_tmp/tree1" | grep -q '"pid"\|"process"' &&
	fail "debug=1: a group's labels name the process"
run_cprof "$lib_tmp/root1" threads -p "$ROOT" || fail "debug=1: -p $ROOT exited $?"
cmp -s <(block "$lib_tmp/tree1" "$ROOT") <(sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' "$lib_tmp/root1") ||
	fail "debug=1: the parent's block differs from threads -p $ROOT"
all_free debug1

# Objects read once for the tree: "objects read N, found already read M
# times" on --stats.
objects_of()
{
	sed -n 's/^objects read \([0-9]*\), found already read \([0-9]*\) times$/\1 \2/p' "$1"
}
run_cprof "$lib_tmp/st.root" threads -p "$ROOT" --stats ||
	fail "objects: -p $ROOT exited $?"
run_cprof "$lib_tmp/st.tree" threads --pid-tree "$ROOT" --stats ||
	fail "objects: --pid-tree exited $?"
read -r root_objects root_reused <<<"$(objects_of "$lib_tmp/st.root.err")"
read -r tree_objects tree_reused <<<"$(objects_of "$lib_tmp/st.tree.err")"
[ "${root_objects:-0}" -ge 2 ] && [ "$root_reused" = 0 ] ||
	fail "objects: -p $ROOT: '$(cat "$lib_tmp/st.root.err")', expected 2 or more read, none found read"
[ "$tree_objects" = "$root_objects" ] ||
	fail "objects: the tree read $tree_objects objects, the root alone $root_objects"
[ "${tree_reused:-0}" -ge $((3 * root_objects)) ] ||
	fail "objects: the tree found objects read $tree_reused times, expected $((3 * root_objects)) or more"
all_free objects

# -p lists keep their order.
run_cprof "$lib_tmp/list" threads -p "$WORKER_c,$WORKER_a" -p "$WORKER_b" --debug=2 ||
	fail "list: cprof exited $?"
[ "$(headers "$lib_tmp/list")" = "$WORKER_c $WORKER_a $WORKER_b" ] ||
	fail "list: process blocks '$(headers "$lib_tmp/list")'"
all_free list

# --debug=0: one profile, each thread labelled with its process.
run_cprof "$lib_tmp/tree.out" threads --pid-tree "$ROOT" --debug=0 \
	-o "$lib_tmp/tree.prof" || fail "pprof: cprof exited $?"
go_pprof -raw "$lib_tmp/tree.prof" >"$lib_tmp/tree.raw" 2>&1 ||
	fail "pprof: go tool pprof cannot read it: $(head -3 "$lib_tmp/tree.raw")"
got=$(grep -o 'pid:\[[0-9]*\]' "$lib_tmp/tree.raw" | tr -dc '0-9\n' | sort -n | paste -sd' ')
[ "$got" = "$(printf '%s\n' "${TREE[@]}" | sort -n | paste -sd' ')" ] ||
	fail "pprof: pid labels '$got', expected the four of the tree"
[ "$(grep -c 'process:\[forker\]' "$lib_tmp/tree.raw")" = 4 ] ||
	fail "pprof: not four samples labelled process forker"
all_free pprof

# Children that come and go: one gone since it was listed is left out.
sh -c 'while :; do /bin/true; done' &
churn=$!
lib_pids+=("$churn")
for ((i = 0; i < 20; i++)); do
	run_cprof "$lib_tmp/churn" threads --pid-tree "$churn" --debug=2
	rc=$?
	[ $rc = 0 ] || [ $rc = 1 ] ||
		fail "churn: cprof exited $rc: $(cat "$lib_tmp/churn.err")"
	grep -q '^cprof: ' "$lib_tmp/churn.err" &&
		fail "churn: cprof said '$(head -1 "$lib_tmp/churn.err")'"
	[ "$(headers "$lib_tmp/churn" | cut -d' ' -f1)" = "$churn" ] ||
		fail "churn: the shell's block is not first"
done
check_free "$churn" "" churn
end_target "$churn"

# Bad input, before anything is touched.
bad()
{
	local what=$1 want=$2 line=$3 rc
	shift 3
	run_cprof "$lib_tmp/$what.out" threads "$@"
	rc=$?
	[ $rc = "$want" ] || fail "$what: cprof exited $rc, not $want"
	[ "$(wc -l <"$lib_tmp/$what.out.err")" = 1 ] &&
		grep -qxF -e "$line" "$lib_tmp/$what.out.err" ||
		fail "$what: stderr is not the one line '$line': $(cat "$lib_tmp/$what.out.err")"
	[ -s "$lib_tmp/$what.out" ] && fail "$what: output written"
}
bad twice 64 "cprof: pid $WORKER_a given twice" -p "$WORKER_a,$WORKER_b" -p "$WORKER_a"
bad empty 64 "cprof: invalid pid '' in -p '$WORKER_a,'" -p "$WORKER_a,"
bad none 64 "cprof: invalid pid ''" -p ''
bad both 64 "cprof: give either -p or --pid-tree, not both" -p "$WORKER_a" --pid-tree "$ROOT"
bad gone 2 "cprof: pid 2147483646: no such process" -p "$WORKER_a,2147483646"
all_free bad

# A zombie root.
start_zombie
bad zombie 2 "cprof: pid $ZOMBIE: process is a zombie; it has exited and waits for its parent to reap it" \
	--pid-tree "$ZOMBIE"
end_target "$ZOMBIE_PARENT"

finish
