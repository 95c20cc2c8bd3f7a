#!/bin/bash
# Code linked by lld, whose segments map file offsets to addresses with a
# different delta each (p_vaddr != p_offset), and a library with a second
# executable segment after its .bss (rustc's libLLVM is laid out so):
# `threads` gives exact frame chains, names and file:line with both
# unwinders; the pprof Mappings let a reader that resolves an address
# from the file itself find the same function; a `record` of the busy
# thread cuts no stack.  `parked` linked by lld gives the same chains as
# the one linked by GNU ld.
#
# usage: stacks-lld.sh CPROF LLD-TARGET PARKED-LLD
CPROF=$1 lldt=$2 parked=$3
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/chains.sh"

require_file "$CPROF" cprof
[ -n "$lldt" ] && [ -x "$lldt" ] || skip "no clang or lld: lld target not built"
src=$(cd "$(dirname "$0")/../targets" && pwd)

# src_line FILE MARK: the line of FILE marked "/* line: MARK */".
src_line()
{
	grep -n "/\* line: $2 \*/" "$src/$1" | cut -d: -f1
}

expected_lld()
{
	case $1 in
	lld-target) echo "$(lc pause);main_park;$chain_main" ;;
	near) echo "$chain_sleep;lib_near_inner;lib_near_outer;near_main;$chain_start" ;;
	far) echo "$chain_read;lib_far_inner;lib_far_outer;far_main;$chain_start" ;;
	spin) echo "target_count_work;lib_far_work;lib_far_spin;spin_main;$chain_start" ;;
	*) return 1 ;;
	esac
}

# check_lines WHAT FILE TID FILE:FUNC...: each FUNC's frame of TID is at its
# marked line of FILE.
check_lines()
{
	local what=$1 out=$2 tid=$3 spec file func want got
	shift 3
	for spec in "$@"; do
		file=${spec%%:*} func=${spec#*:}
		want="$file:$(src_line "$file" "$func")"
		got=$(d2_block "$out" "$tid" |
			awk -v f="$func" '$0 == f "(...)" { getline; print; exit }')
		case $got in
		*"/$want +0x"*) ;;
		*) fail "$what: $func at '$got', expected .../$want" ;;
		esac
	done
}

lib_spinning=spin
start_target lld "$lldt"
pid=$TARGET_PID
for unwinder in libdw libunwind; do
	out=$lib_tmp/lld.$unwinder
	run_cprof "$out" threads -p "$pid" --debug=2 --unwinder=$unwinder ||
		fail "lld --unwinder=$unwinder: cprof exited $?: $(cat "$out.err")"
	for tid in $(tids "$pid"); do
		name=$(thread_name "$pid" "$tid")
		pattern=$(expected_lld "$name") || {
			fail "lld: unexpected thread $tid '$name'"
			continue
		}
		expect_chain "lld --unwinder=$unwinder: thread '$name'" \
			"$(d2_chain "$out" "$tid")" "$pattern"
		case $name in
		lld-target) check_lines "lld $unwinder" "$out" "$tid" \
			lld-target.c:main_park ;;
		near) check_lines "lld $unwinder" "$out" "$tid" \
			lld-lib.c:lib_near_inner lld-lib.c:lib_near_outer \
			lld-target.c:near_main ;;
		far) check_lines "lld $unwinder" "$out" "$tid" \
			lld-lib.c:lib_far_inner lld-lib.c:lib_far_outer \
			lld-target.c:far_main ;;
		esac
	done
	check_runs_on "$pid" "$TARGET_COUNTER"
done

# The Mappings: every location of the lld objects, resolved from the file
# alone (address -> file offset through its Mapping -> the PT_LOAD holding
# that offset -> ELF address -> the symbol covering it), is in the function
# cprof named.
run_cprof "$lib_tmp/lld.prof" threads -p "$pid" --debug=0 ||
	fail "lld --debug=0: cprof exited $?"
go_pprof -raw "$lib_tmp/lld.prof" >"$lib_tmp/lld.raw" 2>&1 ||
	fail "lld: go tool pprof -raw failed: $(cat "$lib_tmp/lld.raw")"
python3 - "$lib_tmp/lld.raw" "$(realpath "$lldt")" \
	"$(realpath "$(dirname "$lldt")/liblldtarget-lib.so")" \
	>"$lib_tmp/lld.resolve" 2>&1 <<'PY' || fail "lld mappings: $(cat "$lib_tmp/lld.resolve")"
import re, subprocess, sys
raw, objects = open(sys.argv[1]).read(), sys.argv[2:]
maps = {}
for m in re.finditer(r"^\s*(\d+): 0x([0-9a-f]+)/0x([0-9a-f]+)/0x([0-9a-f]+) (\S+)", raw, re.M):
    maps[m.group(1)] = (int(m.group(2), 16), int(m.group(3), 16), int(m.group(4), 16), m.group(5))
def loads(path):
    out = subprocess.run(["readelf", "-lW", path], capture_output=True, text=True).stdout
    return [tuple(int(x, 16) for x in l.split()[1:3] + [l.split()[4]]) for l in out.splitlines() if l.split()[:1] == ["LOAD"]]
def funcs(path):
    out = subprocess.run(["readelf", "-sW", path], capture_output=True, text=True).stdout
    return [(int(f[1], 16), int(f[2], 0), f[7]) for f in (l.split() for l in out.splitlines()) if len(f) >= 8 and f[3] == "FUNC" and f[1] != "0000000000000000"]
checked = bad = 0
for m in re.finditer(r"^\s*\d+: 0x([0-9a-f]+) M=(\d+) (\S+)", raw, re.M):
    addr, name = int(m.group(1), 16), m.group(3)
    start, limit, offset, path = maps[m.group(2)]
    if path not in objects:
        continue
    off = addr - 1 - start + offset   # a return address: the call is before it
    seg = [s for s in loads(path) if s[0] <= off < s[0] + s[2]]
    if len(seg) != 1:
        print("0x%x: file offset 0x%x in %d segments of %s" % (addr, off, len(seg), path)); bad += 1; continue
    vaddr = off - seg[0][0] + seg[0][1]
    found = [f[2] for f in funcs(path) if f[0] <= vaddr < f[0] + f[1]]
    checked += 1
    if name not in found:
        print("0x%x (%s): the file says %s at 0x%x" % (addr, name, found, vaddr)); bad += 1
if checked < 8:
    print("only %d locations in the lld objects" % checked); bad += 1
sys.exit(1 if bad else 0)
PY

# Records of the busy thread in the second segment cut no stack: CPU
# mode, and wall mode, whose samples of the spinning thread count whatever
# the load on the machine (a CPU sample of a thread that waited for a CPU
# weighs nothing).
for mode in cpu wall; do
	run_cprof "$lib_tmp/rec.$mode" record -p "$pid" -s 1 -F 200 --stats \
		--mode=$mode --format=folded ||
		fail "lld record $mode: cprof exited $?: $(cat "$lib_tmp/rec.$mode.err")"
	grep -q "cut stacks 0$" "$lib_tmp/rec.$mode.err" ||
		fail "lld record $mode: $(cat "$lib_tmp/rec.$mode.err")"
done
grep -q ";spin_main;lib_far_spin;lib_far_work;" "$lib_tmp/rec.wall" ||
	fail "lld record: no lib_far_spin stack: $(head -3 "$lib_tmp/rec.wall")"
check_runs_on "$pid" "$TARGET_COUNTER"

# parked linked by lld: the chains of parked linked by GNU ld.
if [ -n "$parked" ] && [ -x "$parked" ]; then
	lib_spinning=busy
	start_target parked-lld "$parked"
	for unwinder in libdw libunwind; do
		out=$lib_tmp/parked.$unwinder
		run_cprof "$out" threads -p "$TARGET_PID" --debug=2 \
			--unwinder=$unwinder || fail "parked-lld: cprof exited $?"
		for tid in $(tids "$TARGET_PID"); do
			name=$(thread_name "$TARGET_PID" "$tid")
			[ "$name" = parked-lld ] && name=parked
			pattern=$(expected_parked "$name") || {
				fail "parked-lld: unexpected thread $tid '$name'"
				continue
			}
			expect_chain "parked-lld --unwinder=$unwinder: '$name'" \
				"$(d2_chain "$out" "$tid")" "$pattern"
		done
	done
	check_runs_on "$TARGET_PID" "$TARGET_COUNTER"
fi

finish
