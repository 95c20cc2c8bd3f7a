#!/bin/sh
# bench/threads.sh: what one stack snapshot of every thread costs the target,
# `cprof threads` against `eu-stack -p` and `gdb -batch 'thread apply all bt'`.
#
# usage: sh bench/threads.sh [-r REPS] [-n "10 100 1000"] [-g GAPTIMERS]
#                            [-b BASELINE_MS] [-t TIMEOUT_S] [-v]
#
# For each thread count, one target (bench/targets/parked.c) runs; each tool
# snapshots it REPS times (cprof twice: "cprof-1st" with an empty debug-info
# cache, as a first run on a machine, and "cprof" with the cache a first run
# left, as every later run); after every run the script reads the target's own
# counters: spurious epoll_wait wakeups and the longest stop a spinning "gap
# timer" thread saw.  The table gives medians over the runs and each tool's
# figures divided by cprof's.  See bench/README.md.
#
# Environment: BUILD (meson build dir, default ./build), CPROF (cprof binary,
# default $BUILD/cmd/cprof), CC (to build the target when $BUILD lacks it).

# shellcheck disable=SC2046 # $(counters) is split into words on purpose
set -u

reps=3
counts="10 100 1000"
gaptimers=1
baseline_ms=1000
timeout_s=120
verbose=0

usage() {
	echo "usage: sh bench/threads.sh [-r REPS] [-n COUNTS] [-g GAPTIMERS] [-b BASELINE_MS] [-t TIMEOUT_S] [-v]" >&2
	exit 64
}

while getopts r:n:g:b:t:vh opt; do
	case $opt in
	r) reps=$OPTARG ;;
	n) counts=$OPTARG ;;
	g) gaptimers=$OPTARG ;;
	b) baseline_ms=$OPTARG ;;
	t) timeout_s=$OPTARG ;;
	v) verbose=1 ;;
	*) usage ;;
	esac
done
for v in "$reps" "$gaptimers" "$baseline_ms" "$timeout_s" $counts; do
	case $v in '' | *[!0-9]*) usage ;; esac
done
[ "$reps" -ge 1 ] || usage

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
BUILD=${BUILD:-$root/build}
CPROF=${CPROF:-$BUILD/cmd/cprof}
# Every tool reads local files only: no network lookups in the timings.
unset DEBUGINFOD_URLS

log() { echo "threads.sh: $*" >&2; }
die() { log "$*"; exit 2; }

# --- processes we own, ended by pid on every exit path ---------------------

tmp=
target_pid=
tool_pid=

cleanup() {
	if [ -n "$tool_pid" ]; then
		kill -TERM "$tool_pid" 2>/dev/null
		wait "$tool_pid" 2>/dev/null
	fi
	if [ -n "$target_pid" ]; then
		kill -KILL "$target_pid" 2>/dev/null
		wait "$target_pid" 2>/dev/null
	fi
	[ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	tmp=$(mktemp -d /dev/shm/cprof-bench.XXXXXX) || die "cannot create a temporary directory"
else
	tmp=$(mktemp -d) || die "cannot create a temporary directory"
fi
state=$tmp/state


# --- the target --------------------------------------------------------------

src=$here/targets/parked.c
target=$BUILD/bench/parked
if [ ! -x "$target" ] || [ -n "$(find "$src" -newer "$target")" ]; then
	target=$tmp/parked
	${CC:-cc} -O2 -g -pthread -o "$target" "$src" ||
		die "cannot build $src (set CC, or build it with ninja -C build)"
fi

# Prints "wakeups stop_ns gap_ns spins" from the target's state file; callers
# split it with an unquoted $(counters).
counters() {
	od -An -t u8 -j 16 -N 32 "$state" | tr -s ' \n' '  ' | sed 's/^ //; s/ $//'
}

# Zeroes wakeups, longest stop and longest gap (words 2 to 4).
reset_counters() {
	dd if=/dev/zero of="$state" bs=8 seek=2 count=3 conv=notrunc 2>/dev/null
}

start_target() {
	n=$1
	: >"$tmp/ready"
	"$target" "$n" "$state" "$gaptimers" >"$tmp/ready" 2>"$tmp/target.err" &
	target_pid=$!
	i=0
	until grep -q '^ready ' "$tmp/ready"; do
		kill -0 "$target_pid" 2>/dev/null ||
			die "target did not start: $(cat "$tmp/target.err")"
		i=$((i + 1))
		[ $i -lt 3000 ] || die "target not ready after 30 s"
		sleep 0.01
	done
}

stop_target() {
	kill -KILL "$target_pid" 2>/dev/null
	wait "$target_pid" 2>/dev/null
	target_pid=
}

# Waits until the target's threads have run since the tool let go: the gap
# timers have looped 2 x 65536 more times and the wakeup count is steady.
settle() {
	set -- $(counters)
	spins0=$4 wake0=$1 i=0
	while :; do
		sleep 0.01
		set -- $(counters)
		i=$((i + 1))
		[ $i -ge 300 ] && break
		if [ "$gaptimers" -eq 0 ] || [ $(($4 - spins0)) -ge 2 ]; then
			[ "$1" = "$wake0" ] && break
		fi
		wake0=$1
	done
}

# Prints why the target is not healthy after a run, or nothing: a thread
# still stopped is resumed (SIGCONT) so the next run starts clean.
health() {
	if ! kill -0 "$target_pid" 2>/dev/null; then
		echo "target died"
		return
	fi
	tracer=$(sed -n 's/^TracerPid:[[:space:]]*//p' "/proc/$target_pid/status")
	[ "$tracer" = 0 ] || echo "still traced by $tracer"
	stopped=$(grep -l '^State:[[:space:]]*[tT]' /proc/"$target_pid"/task/*/status 2>/dev/null | wc -l)
	if [ "$stopped" -gt 0 ]; then
		echo "$stopped threads left stopped"
		kill -CONT "$target_pid" 2>/dev/null
	fi
}

# --- the tools ---------------------------------------------------------------

tools=
if [ -x "$CPROF" ]; then
	tools="$tools cprof-1st cprof"
else
	log "no cprof at $CPROF (build it, or set CPROF): cprof skipped"
fi
if command -v eu-stack >/dev/null 2>&1; then
	tools="$tools eu-stack"
else
	log "eu-stack not found (elfutils): skipped"
fi
if command -v gdb >/dev/null 2>&1; then
	tools="$tools gdb"
else
	log "gdb not found: skipped"
fi
[ -n "$tools" ] || die "no tool to measure"
# Each run is timed by bench/targets/timed.c, from its fork to its reap:
# date(1) around it and a timeout(1) wrapper would add two process starts
# (about 12 ms on a slow VM) to every tool's time.
timed_src=$here/targets/timed.c
timed=$BUILD/bench/timed
if [ ! -x "$timed" ] || [ -n "$(find "$timed_src" -newer "$timed")" ]; then
	timed=$tmp/timed
	${CC:-cc} -O2 -o "$timed" "$timed_src" || die "cannot build $timed_src"
fi

run_tool() {
	pid=$1
	rm -rf "$tmp/cache-1st"
	# cprof's cache by assignment, not through env(1): an exec more
	# would be timed as cprof's.
	cache_home=$tmp/cache
	case $2 in
	cprof-1st) cache_home=$tmp/cache-1st
		set -- "$CPROF" threads -p "$pid" --debug=2 ;;
	cprof) set -- "$CPROF" threads -p "$pid" --debug=2 ;;
	eu-stack) set -- eu-stack -p "$pid" ;;
	gdb) set -- gdb -nx -batch -iex 'set debuginfod enabled off' \
		-p "$pid" -ex 'thread apply all bt' ;;
	esac
	XDG_CACHE_HOME=$cache_home "$timed" "$timeout_s" "$tmp/wall" "$@" \
		>/dev/null 2>>"$tmp/tool.err" </dev/null &
	tool_pid=$!
	wait "$tool_pid"
	rc=$?
	tool_pid=
	return $rc
}

# --- measuring ---------------------------------------------------------------

# One line per run: N tool wall_ns wakeups stop_ns gap_ns rc note
runs=$tmp/runs

measure() {
	m_n=$1 m_tool=$2
	reset_counters
	rm -f "$tmp/wall"
	if [ "$m_tool" = baseline ]; then
		"$timed" "$timeout_s" "$tmp/wall" sleep \
			"$(awk -v ms="$baseline_ms" 'BEGIN { printf "%.3f", ms / 1000 }')"
		rc=$?
	else
		run_tool "$target_pid" "$m_tool"
		rc=$?
	fi
	wall_ns=$(sed -n 's/^wall_ns //p' "$tmp/wall" 2>/dev/null)
	if [ -z "$wall_ns" ]; then
		wall_ns=0
		[ "$rc" -ge 2 ] || rc=126
	fi
	settle
	set -- $(counters)
	note=$(health | tr '\n' ';')
	[ -n "$note" ] && log "N=$m_n $m_tool: $note"
	echo "$m_n $m_tool $wall_ns $1 $2 $3 $rc $(echo "${note:--}" | tr ' ' _)" >>"$runs"
	[ "$verbose" = 1 ] && log "N=$m_n $m_tool run: wall $((wall_ns / 1000)) us, wakeups $1, stop $(($2 / 1000)) us, gap $(($3 / 1000)) us, exit $rc"
	[ -n "$note" ] && case $note in *died*) return 1 ;; esac
	return 0
}

# Reading every thread's /proc files and nothing else: the floor under
# a snapshot that stops no blocked thread, printed under the table.
procfloor_src=$here/targets/procfloor.c
procfloor=$BUILD/bench/procfloor
if [ ! -x "$procfloor" ] || [ -n "$(find "$procfloor_src" -newer "$procfloor")" ]; then
	procfloor=$tmp/procfloor
	${CC:-cc} -O2 -o "$procfloor" "$procfloor_src" || procfloor=
fi

: >"$runs"
started=$(date '+%Y-%m-%d %H:%M')
for n in $counts; do
	if [ "$n" -le "$gaptimers" ]; then
		log "N=$n: need more threads than the $gaptimers gap timers: skipped"
		continue
	fi
	log "N=$n: starting the target"
	start_target "$n"
	# The run that fills the cache "cprof" finds; not measured.
	case " $tools " in *" cprof "*) run_tool "$target_pid" cprof; settle ;; esac
	alive=1
	r=0
	while [ $r -lt "$reps" ] && [ $alive = 1 ]; do
		for tool in baseline $tools; do
			measure "$n" "$tool" || { alive=0; break; }
		done
		r=$((r + 1))
	done
	if [ $alive = 1 ] && [ -n "$procfloor" ]; then
		"$procfloor" "$target_pid" 5 >>"$tmp/procfloor" 2>/dev/null
		settle
	fi
	stop_target
done

# --- the table ---------------------------------------------------------------

echo "cprof threads bench, $started, $(uname -srm), $(nproc) cores, $reps runs each, $gaptimers gap timers"
for t in $tools; do
	case $t in
	cprof-1st) echo "  cprof-1st: $CPROF threads -p PID --debug=2, with an empty debug-info cache" ;;
	cprof) echo "  cprof:    the same, with the cache an earlier run filled" ;;
	eu-stack) echo "  eu-stack: $(eu-stack --version 2>/dev/null | head -n1) (eu-stack -p PID)" ;;
	gdb) echo "  gdb:      $(gdb --version 2>/dev/null | head -n1) (gdb -nx -batch -p PID -ex 'thread apply all bt')" ;;
	esac
done
echo
awk -v tools="baseline $tools" '
function median(list, k,   a, m, i, j, t) {
	m = split(list, a, " ")
	for (i = 2; i <= m; i++)	# insertion sort, m is small
		for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
}
function ratio(x, y) {
	if (y == "" || x == "") return "-"
	if (y <= 0) return x > 0 ? "inf" : "-"
	return sprintf("%.1fx", x / y)
}
{
	k = $1 SUBSEP $2
	if (!(k in seen)) { seen[k] = 1; order[++nk] = k; ns[$1] = 1 }
	if ($8 != "-") bad[k] = bad[k] " " $8
	if ($7 >= 2) {	# failed (1 is a partial snapshot, still measured)
		bad[k] = bad[k] " failed(exit " $7 ")"
		next
	}
	if ($7 != 0) bad[k] = bad[k] " exit " $7
	wall[k] = wall[k] " " $3 / 1e6
	wake[k] = wake[k] " " $4
	stop[k] = stop[k] " " $5 / 1e6
	gap[k] = gap[k] " " $6 / 1e6
	if ($5 / 1e6 > stopmax[k] + 0) stopmax[k] = $5 / 1e6
	runs[k]++
}
END {
	nt = split(tools, tl, " ")
	printf "%7s  %-9s %4s %10s %9s %9s %9s %9s %8s %8s  %s\n", \
		"threads", "tool", "runs", "wall_ms", "stop_ms", "stop_max", \
		"gap_ms", "wakeups", "wall/cp", "stop/cp", "notes"
	for (o = 1; o <= nk; o++) {
		split(order[o], p, SUBSEP); n = p[1]
		if (n in done) continue
		done[n] = 1
		c = n SUBSEP "cprof"
		cw = (c in wall) ? median(wall[c]) : ""
		cs = (c in wall) ? median(stop[c]) : ""
		for (i = 1; i <= nt; i++) {
			k = n SUBSEP tl[i]
			if (!(k in seen)) continue
			if (!(k in wall)) {
				printf "%7d  %-9s %4d %10s %9s %9s %9s %9s %8s %8s  %s\n", \
					n, tl[i], 0, "-", "-", "-", "-", "-", "-", "-", bad[k]
				continue
			}
			w = median(wall[k]); s = median(stop[k])
			wr = tl[i] == "baseline" ? "-" : ratio(w, cw)
			sr = tl[i] == "baseline" ? "-" : ratio(s, cs)
			line = sprintf("%7d  %-9s %4d %10.1f %9.3f %9.3f %9.3f %9d %8s %8s  %s", \
				n, tl[i], runs[k], w, s, stopmax[k], median(gap[k]), \
				median(wake[k]), wr, sr, bad[k])
			sub(/ +$/, "", line)
			print line
			wm[n, tl[i]] = w; sm[n, tl[i]] = s
		}
	}
	small = 0
	for (n in ns) if (small == 0 || n + 0 < small) small = n + 0
	if (small <= 10 && (small SUBSEP "cprof") in wm && (small SUBSEP "eu-stack") in wm)
		printf("\ngoal at %d threads: a second cprof %.1f ms, eu-stack %.1f ms (cprof no slower): %s\n", \
			small, wm[small, "cprof"], wm[small, "eu-stack"], \
			wm[small, "cprof"] <= wm[small, "eu-stack"] ? "met" : "not met")
	big = 0
	for (n in ns) if (n + 0 > big) big = n + 0
	if (big >= 1000 && (big SUBSEP "cprof") in wm && (big SUBSEP "eu-stack") in wm) {
		wr = wm[big, "cprof"] > 0 ? wm[big, "eu-stack"] / wm[big, "cprof"] : 0
		sr = sm[big, "cprof"] > 0 ? sm[big, "eu-stack"] / sm[big, "cprof"] : 1e9
		srs = sr >= 1e9 ? "inf" : sprintf("%.1fx", sr)
		# The stop column is the longest stop the spinning gap timer
		# thread saw, and every ptrace tool must stop a running
		# thread: shown, not judged.
		verdict = wr >= 10 ? "met" : "not met"
		printf("\ngoal at %d threads: eu-stack/cprof wall %.1fx (>= 10x): %s (stop %s)\n", \
			big, wr, verdict, srs)
	}
}' "$runs"

# What a ptrace stop of a running thread costs it here with a minimal
# tracer (interrupt, blocking wait by pid, registers, 4 KiB, continue) and
# nothing else to do: the scale for the stop columns.
floor_src=$here/targets/stopfloor.c
floor=$BUILD/bench/stopfloor
if [ ! -x "$floor" ] || [ -n "$(find "$floor_src" -newer "$floor")" ]; then
	floor=$tmp/stopfloor
	${CC:-cc} -O2 -o "$floor" "$floor_src" || floor=
fi
if [ -n "$floor" ] && set -- $("$floor" 200) && [ "$1" = floor_us ]; then
	echo "floor: one ptrace stop of a spinning thread by a minimal tracer (blocking wait): p50 $2 us, p90 $3 us, max $4 us"
fi
if [ -s "$tmp/procfloor" ]; then
	while read -r word n ms; do
		[ "$word" = procfloor_ms ] &&
			echo "floor: stat, syscall and schedstat of each of $n threads read, nothing else: $ms ms"
	done <"$tmp/procfloor"
fi
