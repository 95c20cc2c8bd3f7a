#!/bin/bash
# bench/serve.sh: what `cprof serve` costs and gives.
#
# usage: bash bench/serve.sh [-n THREADS] [-d SECONDS] [-p PROFILE_S]
#                            [-i INTERVAL_S] [-w WORKERS]
#
# 1. Requests per second of threads?debug=1 on a THREADS-thread target
#    (bench/targets/parked.c, default 100), one client asking again as soon
#    as it has its answer for SECONDS (default 10), beside `cprof threads
#    --debug=1` run again and again on the same target for as long.
# 2. The throughput of a CPU-bound target (bench/targets/spin.c, WORKERS
#    busy threads, default 1, leaving a core to the rest of the machine)
#    over one scrape cycle of INTERVAL_S seconds
#    (default 15): with nothing attached, with serve listening and no
#    request (goal: no measurable loss), with a scraper pulling a
#    PROFILE_S-second CPU profile (default 10) at the start of the cycle,
#    and with `cprof record -s PROFILE_S` at the start of the cycle instead
#    (goal: the scrape costs no more than the record).  A baseline cycle
#    runs before each of them and one after the last; each loss is 1 -
#    rate / the mean of the baselines on both sides.
#
# Environment: BUILD (meson build dir, default ./build), CPROF (default
# $BUILD/cmd/cprof), CC (to build the targets when $BUILD lacks them).
set -u

threads=100 seconds=10 profile_s=10 interval_s=15 workers=1

usage() {
	echo "usage: bash bench/serve.sh [-n THREADS] [-d SECONDS] [-p PROFILE_S] [-i INTERVAL_S] [-w WORKERS]" >&2
	exit 64
}
while getopts n:d:p:i:w:h opt; do
	case $opt in
	n) threads=$OPTARG ;;
	d) seconds=$OPTARG ;;
	p) profile_s=$OPTARG ;;
	i) interval_s=$OPTARG ;;
	w) workers=$OPTARG ;;
	*) usage ;;
	esac
done

here=$(cd "$(dirname "$0")" && pwd)
BUILD=${BUILD:-$here/../build}
CPROF=${CPROF:-$BUILD/cmd/cprof}
log() { echo "serve.sh: $*" >&2; }
die() { log "$*"; exit 2; }
[ -x "$CPROF" ] || die "no cprof at $CPROF: build it, or set CPROF"
command -v curl >/dev/null || die "curl not installed"

tmp=$(mktemp -d) || die "cannot create a temporary directory"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# target NAME: the bench target NAME, built if $BUILD lacks it.
target() {
	local bin=$BUILD/bench/$1
	if [ ! -x "$bin" ]; then
		bin=$tmp/$1
		${CC:-cc} -O2 -g -pthread -o "$bin" "$here/targets/$1.c" ||
			die "cannot build $1"
	fi
	echo "$bin"
}

# start NAME ARGS...: start a target and wait for its "ready PID" line;
# sets PID.
start() {
	local name=$1 n
	shift
	"$@" >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null &
	PID=$!
	pids+=("$PID")
	for ((n = 0; n < 3000; n++)); do
		grep -q '^ready ' "$tmp/$name.out" && return 0
		kill -0 "$PID" 2>/dev/null || die "$name did not start: $(cat "$tmp/$name.err")"
		sleep 0.01
	done
	die "$name: not ready after 30 s"
}

# serve PID: start `cprof serve -p PID` on a free port; sets SERVE_PID and
# URL.
serve() {
	local n line
	"$CPROF" serve -p "$1" --listen 127.0.0.1:0 2>"$tmp/serve.err" &
	SERVE_PID=$!
	pids+=("$SERVE_PID")
	for ((n = 0; n < 3000; n++)); do
		line=$(sed -n 's/^cprof: listening on //p' "$tmp/serve.err")
		[ -n "$line" ] && break
		sleep 0.01
	done
	[ -n "$line" ] || die "serve did not listen: $(cat "$tmp/serve.err")"
	URL=$line
}

now_ns() { date +%s%N; }

# --- 1. requests per second -------------------------------------------------
parked=$(target parked)
start parked "$parked" "$threads" "$tmp/parked.state" 0
parked_pid=$PID
serve "$parked_pid"

count=0 t0=$(now_ns) end=$(($(now_ns) + seconds * 1000000000))
while [ "$(now_ns)" -lt "$end" ]; do
	curl -s -o /dev/null --max-time 60 "${URL}threads?debug=1" && count=$((count + 1))
done
serve_rps=$(awk -v c="$count" -v ns="$(($(now_ns) - t0))" 'BEGIN { printf "%.1f", c * 1e9 / ns }')

count=0 t0=$(now_ns) end=$(($(now_ns) + seconds * 1000000000))
while [ "$(now_ns)" -lt "$end" ]; do
	"$CPROF" threads -p "$parked_pid" --debug=1 >/dev/null 2>&1 && count=$((count + 1))
done
cli_rps=$(awk -v c="$count" -v ns="$(($(now_ns) - t0))" 'BEGIN { printf "%.1f", c * 1e9 / ns }')
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null
kill -KILL "$parked_pid"
wait "$parked_pid" 2>/dev/null

# --- 2. the target's throughput over a scrape cycle ---------------------------
spin=$(target spin)
start spin "$spin" "$workers" "$tmp/spin.state"
spin_pid=$PID

units() {
	od -An -t u8 -v -N $((64 * (workers + 1))) "$tmp/spin.state" |
		awk -v n="$workers" '
		{ for (i = 1; i <= NF; i++) w[k++] = $i }
		END { for (t = 1; t <= n; t++) s += w[8 * t]; printf "%.0f\n", s }'
}

# cycle: units per second over one INTERVAL_S window, while "$@" runs in
# the background from its start (nothing when no arguments).
cycle() {
	local u0 u1 t0 t1 p=
	u0=$(units) t0=$(now_ns)
	if [ $# -gt 0 ]; then
		"$@" >/dev/null 2>&1 &
		p=$!
	fi
	sleep "$interval_s"
	u1=$(units) t1=$(now_ns)
	[ -n "$p" ] && wait "$p"
	awk -v u="$((u1 - u0))" -v ns="$((t1 - t0))" 'BEGIN { printf "%.0f", u * 1e9 / ns }'
}

# Serve listens through the first four cycles: its idle cost shows as
# the difference between the first two baselines and the idle cycle.
base1=$(cycle)
serve "$spin_pid"
idle=$(cycle)
base2=$(cycle)
scrape=$(cycle curl -s -o "$tmp/scrape.prof" --max-time 120 "${URL}profile?seconds=$profile_s")
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null
base3=$(cycle)
record=$(cycle "$CPROF" record -p "$spin_pid" -s "$profile_s" -o "$tmp/record.prof")
base4=$(cycle)

echo "cprof serve bench, $(date '+%Y-%m-%d %H:%M'), $(uname -srm), $(nproc) cores"
echo
echo "requests for the threads snapshot of a $threads-thread target, one client, $seconds s each:"
printf "  %-34s %8s/s\n" "serve: GET threads?debug=1" "$serve_rps"
printf "  %-34s %8s/s\n" "cprof threads --debug=1 (one run each)" "$cli_rps"
awk -v s="$serve_rps" -v c="$cli_rps" 'BEGIN { if (c > 0) printf "  serve/cli: %.2fx\n", s / c }'
echo
echo "throughput of $workers busy thread(s) over a $interval_s s scrape cycle (units/s; loss against the baselines on both sides):"
awk -v b1="$base1" -v b2="$base2" -v b3="$base3" -v b4="$base4" -v idle="$idle" \
	-v scrape="$scrape" -v record="$record" -v p="$profile_s" '
function line(what, rate, lo, hi,   base) {
	base = (lo + hi) / 2
	printf "  %-44s %12d  loss %+.2f%%\n", what, rate, (1 - rate / base) * 100
}
BEGIN {
	printf "  %-44s %12d %12d %12d %12d\n", "baselines", b1, b2, b3, b4
	line("serve listening, no request", idle, b1, b2)
	line("serve, one profile?seconds=" p " scraped", scrape, b2, b3)
	line("cprof record -s " p, record, b3, b4)
	lo = b1; hi = b1
	if (b2 < lo) lo = b2; if (b3 < lo) lo = b3; if (b4 < lo) lo = b4
	if (b2 > hi) hi = b2; if (b3 > hi) hi = b3; if (b4 > hi) hi = b4
	printf "  baselines spread %.2f%%: losses below that are noise\n", (hi - lo) / ((hi + lo) / 2) * 100
}'
