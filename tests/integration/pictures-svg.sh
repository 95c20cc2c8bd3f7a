#!/bin/bash
# Flame graphs: `record` and `threads` write one self-contained SVG.
# - well-formed XML (xmllint) for record cpu, record wall and threads, and
#   no address outside the file but the SVG namespace;
# - cpu-split recorded with -o NAME.svg: the frames of work_a, work_b and
#   work_c are as wide as the target's own split, within 3 points;
# - wall mode on parked: the pool threads' futex wait colours pool_wait
#   with the colour the legend gives futex;
# - in headless chromium: the script runs without error, a click (zoom) on
#   work_a makes it the full width, and a search for it finds it
#   (svg-script.js's self-test, written into the page the test reads); a
#   screenshot is kept in the build directory (pictures-svg.png);
# - 100000 distinct stacks (test-svg big) make a file under 1 MiB that
#   the browser opens the same way;
# - extensions choose formats (.svg, .folded, .prof) and an explicit
#   --format or --debug wins; --format=svg with --debug=0 is refused.
#
# usage: pictures-svg.sh CPROF CPU-SPLIT PARKED TEST-SVG
CPROF=$1 split=$2 parked=$3 test_svg=$4
. "$(dirname "$0")/../lib/lib.sh"

require_file "$CPROF" cprof
require_file "$split" "target cpu-split"
require_file "$parked" "target parked"
require_file "$test_svg" "test-svg"
command -v xmllint >/dev/null || skip "xmllint not installed (libxml2-utils)"
browser=$(command -v chromium || command -v chromium-browser) ||
	skip "chromium not installed (Debian package chromium)"
artifacts=$PWD

# well_formed WHAT FILE
well_formed()
{
	xmllint --noout "$2" 2>"$lib_tmp/xmllint.err" ||
		fail "$1: not well-formed: $(head -3 "$lib_tmp/xmllint.err")"
	[ "$(grep -o 'https\?://[^"]*' "$2" | sort -u)" = "http://www.w3.org/2000/svg" ] ||
		fail "$1: refers to something outside the file:" \
			"$(grep -o 'https\?://[^"]*' "$2" | sort -u | tr '\n' ' ')"
}

# svg_share FILE FUNC: FUNC's frames' width in percent of the whole.
svg_share()
{
	local total sum
	total=$(sed -n 's/.* data-total="\([0-9]*\)".*/\1/p' "$1" | head -1)
	sum=$(grep -o "data-v=\"[0-9]*\" data-d=\"[0-9]*\" data-k=\"[^\"]*\" data-n=\"$2\"" "$1" |
		sed 's/data-v="\([0-9]*\)".*/\1/' | awk '{ s += $1 } END { print s + 0 }')
	share "$sum" "$total"
}

# selftest WHAT FILE FUNC: the page's self-test on FUNC, in chromium.
selftest()
{
	local line
	timeout 120 "$browser" --headless=new --no-sandbox --disable-gpu \
		--no-first-run --user-data-dir="$lib_tmp/browser" \
		--dump-dom "file://$2#selftest:$3" >"$lib_tmp/dom.svg" \
		2>"$lib_tmp/browser.err" ||
		fail "$1: chromium failed: $(tail -3 "$lib_tmp/browser.err")"
	line=$(grep -o '<text id="selftest"[^>]*>[^<]*</text>' "$lib_tmp/dom.svg")
	note "$1: $line"
	case $line in
	*'>selftest ok</text>') ;;
	*) fail "$1: the page's self-test: '${line:-no result: the script did not run}'" ;;
	esac
}

# --- cpu-split: widths against the target's own split ------------------------
lib_spinning="split-1 split-2"
start_target split "$split" 2
pid=$TARGET_PID
before=$(target_report split "$pid" 1) || framework_error "no report"
run_cprof "$lib_tmp/cpu" record -p "$pid" --sampler=perf -F 1000 -s 3 \
	-o "$lib_tmp/cpu.svg"
rc=$?
after=$(target_report split "$pid" 2) || framework_error "no report"
[ $rc = 0 ] || fail "record -o cpu.svg: exit $rc: $(cat "$lib_tmp/cpu.err")"
well_formed "record cpu" "$lib_tmp/cpu.svg"
total=$(($(report_field "$after" total) - $(report_field "$before" total)))
for fn in work_a work_b work_c; do
	ns=$(($(report_field "$after" $fn) - $(report_field "$before" $fn)))
	truth=$(share "$ns" "$total")
	got=$(svg_share "$lib_tmp/cpu.svg" $fn)
	note "cpu: $fn $got% wide, the target measured $truth%"
	within "$got" "$truth" 3 ||
		fail "cpu: $fn is $got% wide, the target measured $truth%"
done
grep -q 'id="title"[^>]*>cprof record: CPU profile of pid '"$pid"' (cpu-split)' \
	"$lib_tmp/cpu.svg" || fail "cpu: the title does not name the target"
selftest "record cpu in chromium" "$lib_tmp/cpu.svg" work_a
timeout 120 "$browser" --headless=new --no-sandbox --disable-gpu --no-first-run \
	--user-data-dir="$lib_tmp/browser" --window-size=1200,400 \
	--screenshot="$artifacts/pictures-svg.png" "file://$lib_tmp/cpu.svg" \
	>/dev/null 2>&1 || fail "chromium took no screenshot"
check_runs_on "$pid" "$TARGET_COUNTER"

# Formats: the extension chooses, --format wins.
run_cprof "$lib_tmp/f" record -p "$pid" -s 0.5 -o "$lib_tmp/cpu.folded"
grep -qE '^[^ ]+;work_[abc] [0-9]+$' "$lib_tmp/cpu.folded" ||
	fail "-o NAME.folded: not folded stacks: $(head -2 "$lib_tmp/cpu.folded")"
run_cprof "$lib_tmp/f" record -p "$pid" -s 0.5 --format=pprof -o "$lib_tmp/pprof.svg"
[ "$(head -c 2 "$lib_tmp/pprof.svg" | od -An -tx1 | tr -d ' ')" = 1f8b ] ||
	fail "--format=pprof -o NAME.svg: not pprof (gzip)"
end_target "$pid"

# --- wall mode: the futex colour --------------------------------------------
lib_spinning=busy
start_target parked "$parked"
pid=$TARGET_PID
run_cprof "$lib_tmp/wall" record -p "$pid" --mode=wall -s 1 -o "$lib_tmp/wall.svg"
[ $? = 0 ] || fail "record --mode=wall -o wall.svg: $(cat "$lib_tmp/wall.err")"
well_formed "record wall" "$lib_tmp/wall.svg"
legend=$(grep -o '<g class="key" data-k="futex"><rect [^>]*fill="#[0-9a-f]*"' "$lib_tmp/wall.svg" |
	sed 's/.*fill="\(#[0-9a-f]*\)"/\1/')
[ -n "$legend" ] || fail "wall: no futex in the legend"
frames=$(grep -o 'data-n="pool_wait"><title>[^<]*</title><rect [^>]*fill="#[0-9a-f]*"' \
	"$lib_tmp/wall.svg" | sed 's/.*fill="\(#[0-9a-f]*\)"/\1/' | sort -u)
[ -n "$frames" ] && [ "$frames" = "$legend" ] ||
	fail "wall: pool_wait coloured '$frames', the legend's futex is '$legend'"
grep -q 'data-k="futex" data-n="pool_wait"' "$lib_tmp/wall.svg" ||
	fail "wall: pool_wait not keyed futex"

run_cprof "$lib_tmp/threads" threads -p "$pid" -o "$lib_tmp/threads.svg"
[ $? = 0 ] || fail "threads -o threads.svg: $(cat "$lib_tmp/threads.err")"
well_formed "threads" "$lib_tmp/threads.svg"
grep -q 'data-k="futex" data-n="pool_wait"' "$lib_tmp/threads.svg" ||
	fail "threads: pool_wait not keyed futex"
run_cprof "$lib_tmp/t1" threads -p "$pid" --debug=1 -o "$lib_tmp/text.svg"
grep -q '^threads profile: total\|^thread profile: total' "$lib_tmp/text.svg" ||
	fail "threads --debug=1 -o NAME.svg: not the debug=1 text: $(head -1 "$lib_tmp/text.svg")"
run_cprof "$lib_tmp/t0" threads -p "$pid" -o "$lib_tmp/threads.prof"
[ "$(head -c 2 "$lib_tmp/threads.prof" | od -An -tx1 | tr -d ' ')" = 1f8b ] ||
	fail "threads -o NAME.prof: not pprof"
run_cprof "$lib_tmp/both" threads -p "$pid" --format=svg --debug=0
[ $? = 64 ] || fail "threads --format=svg --debug=0: not refused"
check_runs_on "$pid" "$TARGET_COUNTER"
end_target "$pid"

# --- 100000 distinct stacks ---------------------------------------------------
"$test_svg" big "$lib_tmp/big.svg" || fail "test-svg big failed"
size=$(stat -c %s "$lib_tmp/big.svg")
note "100000 distinct stacks: $size bytes; $(tail -2 "$lib_tmp/big.svg" | head -1)"
[ "$size" -lt 1048576 ] || fail "100000 distinct stacks: $size bytes, over 1 MiB"
well_formed "100000 stacks" "$lib_tmp/big.svg"
selftest "100000 stacks in chromium" "$lib_tmp/big.svg" main

finish
