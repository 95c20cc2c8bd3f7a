#!/bin/bash
# The target's memory and files are untrusted input.  Against the hostile
# target (tests/targets/hostile.c: stacks that loop, stack pointers into
# nothing, a pc in code without CFI, a stack of garbage), with copies of a
# library whose sections are corrupt, and with its executable and a library
# replaced on disk after they were mapped:
# - `cprof threads --debug=2` and `cprof record -s 1` end cleanly with both
#   unwinders (exit 0 or 1, no crash, no sanitizer report, no hang);
# - every lying thread shows a finite stack, the sane threads their full
#   chains, named from the bytes really mapped (not the files now at those
#   paths);
# - the profile is one `go tool pprof` reads;
# - the target runs on, never left stopped or traced.
#
# usage: hostile-stacks.sh CPROF HOSTILE HOSTILE-LIB
CPROF=$1 hostile=$2 hostile_lib=$3
. "$(dirname "$0")/../lib/lib.sh"

require_file "$CPROF" cprof
require_file "$hostile" "target hostile"
require_file "$hostile_lib" "library hostile-lib"
command -v readelf >/dev/null || skip "readelf not installed (binutils)"

libs=$lib_tmp/libs
mkdir -p "$libs" "$lib_tmp/bin" || framework_error "mkdir"

# section FILE NAME: "OFFSET SIZE" of section NAME, in decimal.
section()
{
	local off size
	read -r off size < <(readelf -SW "$1" | sed -E 's/^ *\[ *[0-9]+\] *//' |
		awk -v name="$2" '$1 == name { print $4, $5; exit }')
	[ -n "$size" ] && echo $((16#$off)) $((16#$size))
}

# overwrite FILE SECTION SOURCE: overwrite SECTION of FILE with the first
# bytes of SOURCE (a file), as many as the section holds.
overwrite()
{
	local off size
	read -r off size < <(section "$1" "$2")
	[ -n "$size" ] || framework_error "no section $2 in $1"
	dd if="$3" of="$1" bs=1 seek="$off" count="$size" conv=notrunc \
		status=none || framework_error "dd $1 $2"
}

# Sources of garbage, deterministic: the library's own code, all-ones, and
# a string without a terminating NUL.
text_bytes=$lib_tmp/text.bin
read -r off size < <(section "$hostile_lib" .text)
dd if="$hostile_lib" of="$text_bytes" bs=1 skip="$off" count="$size" status=none
head -c 65536 /dev/zero | tr '\0' '\377' >"$lib_tmp/ff.bin"
head -c 65536 /dev/zero | tr '\0' 'A' >"$lib_tmp/aaa.bin"
for _ in 1 2 3 4 5 6; do cat "$text_bytes"; done >"$lib_tmp/text6.bin"

# The copies, one thread each: lib0 ... lib8.
corrupt=(good hdr-text hdr-count ehframe debug symtab strtab truncated shdr)
for name in "${corrupt[@]}"; do
	cp "$hostile_lib" "$libs/$name.so" || framework_error "cp"
done
# .eh_frame_hdr: garbage, and a plausible header claiming 2^31 entries.
overwrite "$libs/hdr-text.so" .eh_frame_hdr "$text_bytes"
printf '\001\033\003\073\360\377\377\177\377\377\377\177' >"$lib_tmp/hdr.bin"
overwrite "$libs/hdr-count.so" .eh_frame_hdr "$lib_tmp/text6.bin"
read -r off size < <(section "$libs/hdr-count.so" .eh_frame_hdr)
dd if="$lib_tmp/hdr.bin" of="$libs/hdr-count.so" bs=1 seek="$off" \
	conv=notrunc status=none
overwrite "$libs/ehframe.so" .eh_frame "$lib_tmp/ff.bin"
overwrite "$libs/debug.so" .debug_info "$lib_tmp/text6.bin"
overwrite "$libs/debug.so" .debug_abbrev "$lib_tmp/ff.bin"
overwrite "$libs/debug.so" .debug_line "$lib_tmp/ff.bin"
overwrite "$libs/debug.so" .debug_str "$lib_tmp/aaa.bin"
# .symtab entries with names, values and sizes of all ones; a .strtab
# without a single NUL.
overwrite "$libs/symtab.so" .symtab "$lib_tmp/ff.bin"
overwrite "$libs/strtab.so" .strtab "$lib_tmp/aaa.bin"
# Cut after the loaded segments: no section headers, no debug info.
read -r off size < <(section "$libs/truncated.so" .comment)
truncate -s "$off" "$libs/truncated.so" || framework_error "truncate"
# Section header table offset and count that point past the end.
printf '\360\377\377\377\377\377\000\000' |
	dd of="$libs/shdr.so" bs=1 seek=40 conv=notrunc status=none
printf '\377\377\377\377' |
	dd of="$libs/shdr.so" bs=1 seek=60 conv=notrunc status=none

cp "$hostile" "$lib_tmp/bin/hostile" || framework_error "cp"
lib_paths=()
for name in "${corrupt[@]}"; do lib_paths+=("$libs/$name.so"); done
start_target hostile "$lib_tmp/bin/hostile" "${lib_paths[@]}"
pid=$TARGET_PID counter=$TARGET_COUNTER

# Replace the executable and the good library by other files under the same
# names: only /proc/PID/map_files still has the bytes that run.
cp /bin/true "$lib_tmp/bin/hostile.new" &&
	mv -f "$lib_tmp/bin/hostile.new" "$lib_tmp/bin/hostile" &&
	cp /bin/true "$libs/good.so.new" &&
	mv -f "$libs/good.so.new" "$libs/good.so" ||
	framework_error "cannot replace the mapped files"

# ran_cleanly WHAT RC OUT: exit 0 or 1, nothing on stderr that looks like a
# crash; then the target runs on.
ran_cleanly()
{
	local what=$1 rc=$2 out=$3
	case $rc in
	0 | 1) ;;
	*) fail "$what: exit status $rc: $(head -c 2000 "$out.err")" ;;
	esac
	if grep -Eq 'Sanitizer|runtime error:|Segmentation|Aborted' "$out.err"; then
		fail "$what: $(head -c 2000 "$out.err")"
	fi
	check_runs_on "$pid" "$counter"
}

# frames FILE TID: the number of frames in TID's block.
frames()
{
	d2_funcs "$1" "$2" | wc -l
}

check_threads()
{
	local what=$1 out=$2 tid name chain n want got
	want=$(tids "$pid" | paste -sd' ')
	got=$(d2_threads "$out" | cut -d' ' -f1 | paste -sd' ')
	[ "$got" = "$want" ] || fail "$what: threads '$got', expected '$want'"
	for tid in $(tids "$pid"); do
		name=$(thread_name "$pid" "$tid")
		chain=$(d2_chain "$out" "$tid")
		n=$(frames "$out" "$tid")
		note "$what: $name: $n frames: $(squeeze_chain "$chain")"
		[ "$n" -ge 1 ] && [ "$n" -le 64 ] ||
			fail "$what: thread $tid '$name': $n frames"
		if d2_funcs "$out" "$tid" | grep -qxE '|\(\.\.\.\)'; then
			fail "$what: thread $tid '$name': a frame without a name"
		fi
		case $name in
		hostile)
			expect_chain "$what: main" "$chain" \
				'(__libc_)?pause;main_park;main;__libc_start_call_main;__libc_start_main(_impl)?;_start'
			;;
		sane)
			expect_chain "$what: sane" "$chain" \
				'(__libc_)?pause;sane_inner;sane_outer;sane_main;start_thread;(__)?clone3?'
			;;
		busy)
			expect_chain "$what: busy" "$chain" \
				'busy_spin;busy_main;start_thread;(__)?clone3?'
			;;
		loop)
			expect_chain "$what: loop" "$chain" \
				'hostile_park_loop(;hostile_park_loop){0,2}'
			;;
		nosp | zerosp | kernsp)
			expect_chain "$what: $name" "$chain" 'hostile_park_at'
			;;
		garbage)
			expect_chain "$what: garbage" "$chain" 'hostile_park_at(;.*)?'
			;;
		jit)
			expect_chain "$what: jit" "$chain" \
				'0x[0-9a-f]+(;jit_outer;jit_main;start_thread;(__)?clone3?)?'
			;;
		entry)
			# At the first instruction (--spin) the walk goes on
			# from the return address the call pushed; in a
			# system call, past it, no CFI says where the caller
			# is, and the walk may end at once.
			expect_chain "$what: entry" "$chain" \
				'hostile_entry_spin;entry_outer;entry_main;start_thread;(__)?clone3?|hostile_entry_pause(;.*)?'
			;;
		lib0)
			# The library file at this path is /bin/true now.
			expect_chain "$what: replaced library" "$chain" \
				'(__libc_)?pause;hostile_lib_inner;hostile_lib_outer;hostile_lib_park;lib_main;start_thread;(__)?clone3?'
			;;
		lib*)
			expect_chain "$what: $name" "$chain" '(__libc_)?pause(;.*)?'
			;;
		esac
	done
}

for unwinder in libdw libunwind; do
	out=$lib_tmp/threads.$unwinder
	run_cprof "$out" threads -p "$pid" --debug=2 --pcs --unwinder=$unwinder
	rc=$?
	ran_cleanly "threads --unwinder=$unwinder" $rc "$out"
	check_threads "threads --unwinder=$unwinder" "$out"
	# The lying threads are cut: the exit status says so.
	[ $rc = 1 ] || fail "threads --unwinder=$unwinder: exit $rc, expected 1 (cut stacks)"

	out=$lib_tmp/record.$unwinder
	run_cprof "$out" record -p "$pid" -s 1 --mode=wall --format=folded \
		--unwinder=$unwinder
	rc=$?
	ran_cleanly "record --mode=wall --unwinder=$unwinder" $rc "$out"
	[ $rc = 0 ] || fail "record --mode=wall --unwinder=$unwinder: exit $rc"
	for chain in 'sane_main;sane_outer;sane_inner;(__libc_)?pause' \
		'lib_main;hostile_lib_park;hostile_lib_outer;hostile_lib_inner;(__libc_)?pause' \
		'hostile_park_loop' 'hostile_park_at' 'jit_outer;0x[0-9a-f]+|0x[0-9a-f]+'; do
		grep -qE "(^|;)($chain) [0-9]+\$" "$out" ||
			fail "record --mode=wall --unwinder=$unwinder: no stack ending in $chain"
	done
done

# The pprof form of the lies is a profile go tool pprof reads.
out=$lib_tmp/threads.pb.gz
run_cprof "$out" threads -p "$pid" --debug=0 -o "$out"
ran_cleanly "threads --debug=0" $? "$out"
if command -v go >/dev/null; then
	go_pprof -traces "$out" >"$lib_tmp/traces" 2>"$lib_tmp/traces.err" ||
		fail "go tool pprof cannot read the profile: $(cat "$lib_tmp/traces.err")"
	grep -q 'hostile_lib_inner' "$lib_tmp/traces" ||
		fail "go tool pprof -traces: no hostile_lib_inner"
else
	note "go not installed: pprof not checked"
fi

# The same lies, running: the lying threads spin in place, so CPU mode
# stops them at every tick.
lib_spinning="busy loop nosp zerosp kernsp garbage jit entry"
start_target spin "$hostile" --spin
pid=$TARGET_PID counter=$TARGET_COUNTER
for unwinder in libdw libunwind; do
	out=$lib_tmp/spin-threads.$unwinder
	run_cprof "$out" threads -p "$pid" --debug=2 --unwinder=$unwinder
	ran_cleanly "threads --spin --unwinder=$unwinder" $? "$out"
	check_threads "threads --spin --unwinder=$unwinder" "$out"

	# CPU mode weighs a thread by the CPU it used: on a loaded machine a
	# spinning thread may wait for a CPU at every tick and give no sample,
	# so only a clean end and a well-formed profile are required here.
	out=$lib_tmp/spin-cpu.$unwinder
	run_cprof "$out" record -p "$pid" -s 1 --mode=cpu --format=folded \
		--unwinder=$unwinder
	rc=$?
	ran_cleanly "record --mode=cpu --spin --unwinder=$unwinder" $rc "$out"
	[ $rc = 0 ] || fail "record --mode=cpu --spin --unwinder=$unwinder: exit $rc"
	if grep -vqE '^[^ ].* [0-9]+$' "$out"; then
		fail "record --mode=cpu --spin --unwinder=$unwinder: malformed: $(cat "$out")"
	fi

	out=$lib_tmp/spin-wall.$unwinder
	run_cprof "$out" record -p "$pid" -s 1 --mode=wall --format=folded \
		--unwinder=$unwinder
	rc=$?
	ran_cleanly "record --mode=wall --spin --unwinder=$unwinder" $rc "$out"
	[ $rc = 0 ] || fail "record --mode=wall --spin --unwinder=$unwinder: exit $rc"
	for chain in 'hostile_park_loop' 'hostile_park_at' '0x[0-9a-f]+' \
		'busy_main;busy_spin'; do
		grep -qE "(^|;)($chain) [0-9]+\$" "$out" ||
			fail "record --mode=wall --spin --unwinder=$unwinder: no stack ending in $chain"
	done
	# At the first instruction of a function without CFI the walk goes
	# on from the return address the call pushed, to the thread's start.
	entry='(__)?clone3?;start_thread;entry_main;entry_outer;hostile_entry_spin'
	grep -qE "^$entry [0-9]+\$" "$out" ||
		fail "record --mode=wall --spin --unwinder=$unwinder: no whole stack of the thread at a function entry without CFI: $(grep -E 'hostile_entry_spin [0-9]+$' "$out")"
done
kill "$pid"
finish
