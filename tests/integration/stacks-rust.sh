#!/bin/bash
# Rust code whose symbols carry v0 mangling ("_R..."): `threads --debug=2`
# names every frame demangled, generic and const arguments, trait
# implementations and closures included, in exact chains with file:line,
# with both unwinders.  No frame keeps a mangled name.  The std frames are
# those of the rustc that built the target: Debian 12's (1.63, its std
# built with legacy names) or a newer one (its std in v0 as well); the
# generic ones are instantiated in the target's crate, in v0, either way.
#
# usage: stacks-rust.sh CPROF RUST-TARGET
CPROF=$1 rust=$2
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/chains.sh"

require_file "$CPROF" cprof
[ -n "$rust" ] && [ -x "$rust" ] ||
	skip "no rustc (Debian package rustc): Rust target not built"
src=$(cd "$(dirname "$0")/../targets" && pwd)/rust-target.rs

# rx TEXT: TEXT as an extended regular expression matching it literally.
rx()
{
	printf '%s' "$1" | sed 's/[][\.*^$(){}?+|]/\\&/g'
}

# frames NAME...: the names as literal patterns, joined with ";".
frames()
{
	local name out=""
	for name in "$@"; do
		out="$out${out:+;}$(rx "$name")"
	done
	printf '%s' "$out"
}

# Where std's own frames moved between rustc releases.
std_backtrace="std::sys(_common)?::backtrace::__rust_begin_short_backtrace"
std_spawn="(<std::thread::Builder>::spawn_unchecked_|std::thread::lifecycle::spawn_unchecked)"
std_thread_start="(std::sys::unix::thread::Thread::new::thread_start|<std::sys::thread::unix::Thread>::new::thread_start)"
wait=$(frames "<rust_target::park::Pipe<u8> as rust_target::park::Wait>::wait")

expected_rust()
{
	case $1 in
	rust-target) echo "$(lc pause);$(frames rust_target::main_park \
		rust_target::main);$std_backtrace$(rx "::<fn(), ()>");$(frames \
		"std::rt::lang_start::<()>::{closure#0}" \
		std::rt::lang_start_internal);$chain_main" ;;
	rs-sleeper) echo "$chain_sleep;$(frames \
		"<rust_target::park::Sleeper<3>>::nap" \
		rust_target::sleeper_main rust_target::sleeper_start);$chain_start" ;;
	rs-reader) echo "$chain_read;$wait;$(frames \
		"rust_target::hold::<rust_target::park::Pipe<u8>>" \
		rust_target::reader_start);$chain_start" ;;
	rs-closure) echo "$chain_read;$wait;$(frames \
		"rust_target::run::<rust_target::main::{closure#0}::{closure#0}>" \
		);$std_backtrace$(rx "::<rust_target::main::{closure#0}, ()>");<$std_spawn$(rx \
		"<rust_target::main::{closure#0}, ()>::{closure#1} as core::ops::function::FnOnce<()>>::call_once::{shim:vtable#0}" \
		);$std_thread_start;$chain_start" ;;
	*) return 1 ;;
	esac
}

# src_line MARK: the line of rust-target.rs marked "/* line: MARK */".
src_line()
{
	grep -n "/\* line: $1 \*/" "$src" | cut -d: -f1
}

# check_lines WHAT FILE TID FUNC:MARK...: FUNC's frame of TID is at the
# line marked MARK.
check_lines()
{
	local what=$1 out=$2 tid=$3 spec func want got
	shift 3
	for spec in "$@"; do
		func=${spec%:*} want="rust-target.rs:$(src_line "${spec##*:}")"
		got=$(d2_block "$out" "$tid" |
			awk -v f="$func" '$0 == f "(...)" { getline; print; exit }')
		case $got in
		*"/$want +0x"*) ;;
		*) fail "$what: $func at '$got', expected .../$want" ;;
		esac
	done
}

start_target rust "$rust"
pid=$TARGET_PID
for unwinder in libdw libunwind; do
	out=$lib_tmp/rust.$unwinder
	run_cprof "$out" threads -p "$pid" --debug=2 --unwinder=$unwinder ||
		fail "--unwinder=$unwinder: cprof exited $?: $(cat "$out.err")"
	want=$(tids "$pid" | paste -sd' ')
	got=$(d2_threads "$out" | cut -d' ' -f1 | paste -sd' ')
	[ "$got" = "$want" ] || fail "$unwinder: threads '$got', expected '$want'"
	for tid in $(tids "$pid"); do
		name=$(thread_name "$pid" "$tid")
		pattern=$(expected_rust "$name") || {
			fail "unexpected thread $tid '$name'"
			continue
		}
		expect_chain "--unwinder=$unwinder: thread '$name'" \
			"$(d2_chain "$out" "$tid")" "$pattern"
		case $name in
		rust-target) check_lines "$unwinder" "$out" "$tid" \
			rust_target::main_park:main_park ;;
		rs-sleeper) check_lines "$unwinder" "$out" "$tid" \
			"<rust_target::park::Sleeper<3>>::nap:nap" \
			rust_target::sleeper_main:sleeper_main ;;
		rs-reader) check_lines "$unwinder" "$out" "$tid" \
			"<rust_target::park::Pipe<u8> as rust_target::park::Wait>::wait:wait" \
			"rust_target::hold::<rust_target::park::Pipe<u8>>:hold" ;;
		esac
	done
	mangled=$(grep -E '^(_R|_ZN)' "$out")
	[ -z "$mangled" ] || fail "$unwinder: mangled names left: $mangled"
	check_runs_on "$pid"
done

finish
