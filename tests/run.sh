#!/bin/sh
# Builds cprof twice, plain and with ASan+UBSan, runs the whole test suite
# on each, and ends with one line: "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."
. tests/deps.sh
cprof_install_deps clang libclang-rt-14-dev lld strace rustc debuginfod nodejs chromium libxml2-utils tmux || { echo "cannot install dependencies" >&2; exit 2; }

passed=0 failed=0 skipped=0
run_suite() {
	dir=$1
	shift
	if [ ! -d "$dir" ]; then
		meson setup "$dir" "$@" >/dev/null || return 1
	fi
	ninja -C "$dir" || return 1
	meson test -C "$dir" --num-processes 2 --print-errorlogs
	counts=$(python3 - "$dir/meson-logs/testlog.json" <<'PY'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"): p += 1
    elif r == "SKIP": s += 1
    else: f += 1
print(p, f, s)
PY
)
	set -- $counts
	passed=$((passed + $1)) failed=$((failed + $2)) skipped=$((skipped + $3))
}

run_suite build-test || failed=$((failed + 1))
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false ||
	failed=$((failed + 1))
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
