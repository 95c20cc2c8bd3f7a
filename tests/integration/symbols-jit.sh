#!/bin/bash
# JIT code named from the target's perf map.  node runs with
# --perf-basic-prof in a mount namespace of its own whose /tmp is a tmpfs
# seen only there, so its /tmp/perf-PID.map is reachable only through
# /proc/PID/root/tmp (and vanishes with it).  A JavaScript function, hot,
# spins on every turn of the event loop: `record --format=top` names it
# as perf does (JS:*hot [eval]:2:13; LazyCompile:*hot before node 20),
# with most of the samples, walks on to its JavaScript caller, and leaves
# no frame named by its address.
#
# usage: symbols-jit.sh CPROF
CPROF=$1
. "$(dirname "$0")/../lib/lib.sh"

require_file "$CPROF" cprof
command -v node >/dev/null || skip "node not installed (Debian package nodejs)"
[ "$(id -u)" = 0 ] || skip "mount namespaces need root"
unshare --mount true 2>/dev/null || skip "unshare --mount refused here"

script='
function hot(n) {
  let s = 0;
  for (let i = 0; i < n; i++) s = (s + i * i) % 1000003;
  return s;
}
let x = 0;
function tick() {
  x += hot(3000000);
  setImmediate(tick);
}
for (let i = 0; i < 20; i++) x += hot(3000000);
console.log("ready " + process.pid);
setImmediate(tick);
'
start_ready node unshare --mount --propagation private sh -c '
	mount -t tmpfs cprof-test /tmp && cd /tmp &&
	exec node --perf-basic-prof -e "$1"' \
	sh "$script"
pid=$TARGET_PID
[ -e "/tmp/perf-$pid.map" ] && framework_error "the map is visible outside"
[ -s "/proc/$pid/root/tmp/perf-$pid.map" ] ||
	framework_error "node wrote no perf map"

out=$lib_tmp/top
run_cprof "$out" record -p "$pid" -s 2 --format=top ||
	fail "record: cprof exited $?: $(cat "$out.err")"
# flat% of the rows whose name matches a pattern, summed.
share_of()
{
	awk -v re="$1" '
		/^ +flat +flat%/ { on = 1; next }
		on && NF >= 6 {
			name = $6
			for (i = 7; i <= NF; i++) name = name " " $i
			if (name ~ re) { sub(/%$/, "", $2); sum += $2 }
		}
		END { print sum + 0 }' "$out"
}
hot=$(share_of '^(JS|LazyCompile):\\*hot \\[eval\\]:2:13$')
awk -v s="$hot" 'BEGIN { exit !(s >= 50) }' ||
	fail "hot has $hot% of the samples:
$(head -15 "$out")"
grep -qE '%  (JS|LazyCompile):.tick \[eval\]:8:14$' "$out" ||
	fail "no JS caller tick:
$(head -15 "$out")"
raw=$(grep -cE ' 0x[0-9a-f]+$' "$out")
[ "$raw" = 0 ] || fail "$raw frames left as addresses:
$(grep -E ' 0x[0-9a-f]+$' "$out" | head -5)"
check_runs_on "$pid"

finish
