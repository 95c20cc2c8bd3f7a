#!/bin/sh
# bench/big-modules.sh: sampling a process whose code lives in very large
# modules: rustc (librustc_driver, 150 MB with 186,000 symbols, and its
# second executable segment; the binaries are linked by lld).  Records one
# compile with `cprof record` and with `perf record --call-graph dwarf` at
# the same frequency, and prints the wall time of the compile under each
# beside a run with no tool, cprof's missed ticks, pauses and cut stacks,
# and how many of perf's samples it could unwind.
#
# usage: sh bench/big-modules.sh [-F HZ] [-n FUNCTIONS]
#
# Environment: BUILD (meson build dir, default ./build), CPROF (default
# $BUILD/cmd/cprof), RUSTC (default: rustc from PATH), PERF (default perf).
set -u

hz=499
functions=3000
while getopts F:n: opt; do
	case $opt in
	F) hz=$OPTARG ;;
	n) functions=$OPTARG ;;
	*) echo "usage: sh bench/big-modules.sh [-F HZ] [-n FUNCTIONS]" >&2; exit 64 ;;
	esac
done
BUILD=${BUILD:-build}
CPROF=${CPROF:-$BUILD/cmd/cprof}
PERF=${PERF:-perf}
RUSTC=${RUSTC:-$(command -v rustc)}
[ -x "$CPROF" ] || { echo "bench: no cprof at $CPROF (set BUILD or CPROF)" >&2; exit 2; }
[ -n "$RUSTC" ] || { echo "bench: no rustc (set RUSTC)" >&2; exit 77; }
# rustup's rustc is a proxy: run the real one, so the profile is of it.
real=$("$RUSTC" --print sysroot)/bin/rustc
[ -x "$real" ] && RUSTC=$real

dir=$(mktemp -d "${TMPDIR:-/tmp}/cprof-big.XXXXXX") || exit 2
trap 'rm -rf "$dir"' EXIT
# A crate of FUNCTIONS generic-heavy functions: seconds of optimisation.
awk -v n="$functions" 'BEGIN {
	print "macro_rules! f { ($($n:ident)*) => { $( pub fn $n(x: u64) -> u64 {"
	print "  let mut v: Vec<u64> = (0..x).map(|i| i * 3 + 1).collect(); v.sort();"
	print "  v.iter().sum::<u64>() + format!(\"{:?}\", v).len() as u64 } )* } }"
	printf "f!("; for (i = 0; i < n; i++) printf " f%d", i; print ");"
	print "fn main() { println!(\"{}\", f0(10)); }"
}' >"$dir/big.rs"
compile="$RUSTC -O -C codegen-units=1 -C incremental=$dir/inc $dir/big.rs -o $dir/big"

wall() { # COMMAND...: the wall seconds it took
	s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N)
	echo "$s $e" | awk '{ printf "%.2f", $2 - $1 }'
}

rm -rf "$dir/inc"; base=$(wall sh -c "$compile")
rm -rf "$dir/inc"; s=$(date +%s.%N)
$CPROF record -F "$hz" --stats --format=folded -o "$dir/cprof.folded" -- \
	sh -c "exec $compile" 2>"$dir/cprof.err"
e=$(date +%s.%N); cprof_wall=$(echo "$s $e" | awk '{ printf "%.2f", $2 - $1 }')
rm -rf "$dir/inc"; perf_wall=-
if $PERF record -q -F "$hz" --call-graph dwarf -o "$dir/perf.data" -- true \
	>/dev/null 2>&1; then
	s=$(date +%s.%N)
	$PERF record -q -F "$hz" --call-graph dwarf -o "$dir/perf.data" -- \
		sh -c "exec $compile" >/dev/null 2>&1
	e=$(date +%s.%N); perf_wall=$(echo "$s $e" | awk '{ printf "%.2f", $2 - $1 }')
fi

echo "rustc: $(basename "$(dirname "$(dirname "$RUSTC")")"), $functions functions, -F $hz"
printf '%-10s %8s %8s\n' tool wall_s ratio
printf '%-10s %8s %8s\n' none "$base" 1.00
printf '%-10s %8s %8s\n' cprof "$cprof_wall" "$(echo "$cprof_wall $base" | awk '{ printf "%.2f", $1 / $2 }')"
[ "$perf_wall" = - ] || printf '%-10s %8s %8s\n' perf-dwarf "$perf_wall" "$(echo "$perf_wall $base" | awk '{ printf "%.2f", $1 / $2 }')"
grep '^cprof: ticks' "$dir/cprof.err"
# Stacks that do not end at a thread's or the process's first frame.
total=$(wc -l <"$dir/cprof.folded")
whole=$(grep -cE '^(_start|[^;]*clone3?|[^;]*\+0x[0-9a-f]+;__libc_start_main|ld-linux[^;]*)(;|$)' "$dir/cprof.folded")
echo "cprof: $whole of $total distinct stacks reach a thread's first frame"
