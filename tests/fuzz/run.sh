#!/bin/bash
# Builds the libFuzzer harnesses with clang and runs each for a bounded
# time, starting from the seed corpora; prints the executions per harness
# and in total.  The gcc build is unaffected: clang compiles the parsers'
# sources into each harness directly.
#
# usage: run.sh SOURCE-ROOT WORK-DIR [SECONDS-EACH]
# $CPROF_FUZZ_SECONDS overrides SECONDS-EACH (default 20); $CLANG names the
# compiler.  Exit 0 pass, 1 a harness found a bug, 77 no clang with
# libFuzzer, 99 framework error.
set -u
src=$1 work=$2
seconds=${CPROF_FUZZ_SECONDS:-${3:-20}}
here=$src/tests/fuzz
parsers=(maps stat status syscall schedstat)

clang=${CLANG:-}
if [ -z "$clang" ]; then
	for c in clang clang-19 clang-18 clang-17 clang-16 clang-15 clang-14; do
		command -v "$c" >/dev/null && clang=$c && break
	done
fi
[ -n "$clang" ] || { echo "SKIP: clang not installed" >&2; exit 77; }

mkdir -p "$work" || exit 99
flags=(-g -O1 -std=gnu17 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined
	-fno-sanitize-recover=undefined -I"$src" -I"$work")

# libFuzzer comes with clang's runtime (Debian: libclang-rt-N-dev).
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' \
	>"$work/probe.c"
if ! "$clang" -fsanitize=fuzzer "$work/probe.c" -o "$work/probe" 2>"$work/probe.err"; then
	echo "SKIP: $clang cannot link libFuzzer: $(head -n 3 "$work/probe.err")" >&2
	exit 77
fi

sh "$src/attach/gen-syscall-names.sh" "$work/syscall-names.h" || exit 99

total=0
status=0
for p in "${parsers[@]}"; do
	bin=$work/fuzz-procfs-$p
	if ! "$clang" "${flags[@]}" -DFUZZ_PARSER="$p" \
		"$here/fuzz-procfs.c" "$src/attach/procfs.c" -o "$bin" \
		2>"$work/$p.build.log"; then
		cat "$work/$p.build.log" >&2
		echo "ERROR: cannot build fuzz-procfs-$p" >&2
		exit 99
	fi
	# A scratch corpus: the seeds stay as they are in the tree.
	rm -rf "$work/corpus-$p" "$work/artifacts-$p"
	mkdir -p "$work/corpus-$p" "$work/artifacts-$p"
	cp "$here/corpus/$p/"* "$work/corpus-$p/" || exit 99
	"$bin" -max_total_time="$seconds" -print_final_stats=1 \
		-max_len=8192 -timeout=10 -rss_limit_mb=1024 \
		-artifact_prefix="$work/artifacts-$p/" \
		"$work/corpus-$p" >"$work/$p.log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$p.log")
	runs=${runs:-0}
	total=$((total + runs))
	if [ $rc != 0 ]; then
		echo "FAIL: fuzz-procfs-$p (exit $rc) after $runs executions; see $work/$p.log" >&2
		grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$work/$p.log" | head -n 10 >&2
		status=1
	fi
	printf 'fuzz-procfs-%s: %s executions in %s s\n' "$p" "$runs" "$seconds"
done
printf 'fuzz executions: %s\n' "$total"
exit $status
