#!/bin/bash
# bench/tree.sh: what following a tree of busy processes costs, `cprof
# record` beside `perf record` on the same tree at the same frequency:
# the tool's CPU and the tree's lost throughput, for trees of 1, 4 and 16
# processes at 100 Hz.
#
# usage: bash bench/tree.sh [-r REPS] [-s SECONDS] [-n "PROCS..."] [-F HZ]
#                           [-T "TOOLS"] [-t TIMEOUT_S] [-v]
#
# For each size one tree (bench/targets/tree.c) runs, every process
# counting its work in a shared file.  Each repetition takes a window of
# the tree alone (the baseline), then one window inside each tool's
# recording, the tools one further along the list each repetition; a last
# baseline closes the size.  Two pairs of tools:
#   attached:  cprof record --pid-tree ROOT  beside  perf record -p ROOT,CHILD...
#   launched:  cprof record -- tree N        beside  perf record -- tree N
# perf has no --pid-tree: attached, it is given every pid of the tree (its
# inherit only carries events into children forked after it starts);
# launched, its inherit (the default) follows the children the tree forks.
# A launched tree is a fresh one, measured while the tree of the attached
# runs is stopped (SIGSTOP), against the baselines of that tree.
# Loss: 1 - units/s in the tool's window / the mean of the baselines on
# both sides.  Tool CPU: over the window from its processes' schedstat, and
# over its whole run from its rusage (less the launched tree's own).  See
# bench/README.md.
#
# Environment: BUILD (meson build dir, default ./build), CPROF (cprof binary,
# default $BUILD/cmd/cprof), PERF (default perf), PERF_EVENT (default cycles
# when the machine has a PMU, else cpu-clock), CC (to build the target when
# $BUILD lacks it).

set -u

reps=3
window=3
sizes="1 4 16"
hz=100
want_tools="cprof-tree perf-pids cprof-launch perf-launch"
timeout_s=60
verbose=0
lead=0.5	# seconds between a tool's first sample and the window

usage() {
	echo "usage: bash bench/tree.sh [-r REPS] [-s SECONDS] [-n \"PROCS...\"] [-F HZ] [-T \"TOOLS\"] [-t TIMEOUT_S] [-v]" >&2
	exit 64
}

while getopts r:s:n:F:T:t:vh opt; do
	case $opt in
	r) reps=$OPTARG ;;
	s) window=$OPTARG ;;
	n) sizes=$OPTARG ;;
	F) hz=$OPTARG ;;
	T) want_tools=$OPTARG ;;
	t) timeout_s=$OPTARG ;;
	v) verbose=1 ;;
	*) usage ;;
	esac
done
for v in "$reps" "$window" "$hz" "$timeout_s" $sizes; do
	case $v in '' | *[!0-9]*) usage ;; esac
done
if [ "$reps" -lt 1 ] || [ "$window" -lt 1 ] || [ "$hz" -lt 1 ] || [ -z "$sizes" ]; then
	usage
fi
# The tree keeps one 64-byte counter per process in a 4 KiB page.
for v in $sizes; do
	if [ "$v" -lt 1 ] || [ "$v" -gt 63 ]; then usage; fi
done
for v in $want_tools; do
	case $v in cprof-tree | perf-pids | cprof-launch | perf-launch) ;; *) usage ;; esac
done

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
BUILD=${BUILD:-$root/build}
CPROF=${CPROF:-$BUILD/cmd/cprof}
PERF=${PERF:-perf}
# Every tool reads local files only: no network lookups in the timings.
unset DEBUGINFOD_URLS

log() { echo "tree.sh: $*" >&2; }
die() { log "$*"; exit 2; }

# What runs at the edges of the windows and between them uses builtins
# only, forks none: beside 16 busy processes on 2 cores a forked process
# waits tens of milliseconds for a CPU.  The clock is ${EPOCHREALTIME/./},
# microseconds (bash 5).

# --- processes we own, ended on every exit path -----------------------------

tmp=
live=	# root of the tree the attached tools record: its process group
fresh=	# root of a tree a tool launched, once it is ready
tool_pid=
reader_pid=

# desc_of PID: sets desc to the pids of every descendant of PID, children
# first (/proc/PID/task/TID/children).
desc_of() {
	desc=()
	add_desc "$1"
}
add_desc() {
	local c f
	local -a kids
	for f in /proc/"$1"/task/*/children; do
		kids=()
		read -r -a kids 2>/dev/null <"$f"
		for c in "${kids[@]}"; do
			desc+=("$c")
			add_desc "$c"
		done
	done
}

# stat_fields PID: sets st to the fields of /proc/PID/stat after the
# command name: state, ppid, pgrp...; false when PID is gone.
stat_fields() {
	local s
	read -r s 2>/dev/null <"/proc/$1/stat" || return 1
	read -r -a st <<<"${s##*) }"
}

# Ends a tree by its process group (the tree makes one of its own), stopped
# or not; its root by pid too, in case it had not made the group yet (its
# children die with it).
kill_tree() {
	[ -n "$1" ] || return 0
	kill -KILL -- -"$1" 2>/dev/null
	kill -KILL "$1" 2>/dev/null
	return 0
}

# Ends the tool run started by start_tool and every process under it.
end_tool() {
	[ -n "$tool_pid" ] || return 0
	desc_of "$tool_pid"
	kill -KILL "${desc[@]}" "$tool_pid" 2>/dev/null
	wait "$tool_pid" 2>/dev/null
	tool_pid=
}

cleanup() {
	end_tool
	kill_tree "$fresh"
	kill_tree "$live"
	[ -n "$live" ] && wait "$live" 2>/dev/null
	[ -n "$reader_pid" ] && kill "$reader_pid" 2>/dev/null
	[ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE

if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	tmp=$(mktemp -d /dev/shm/cprof-tree.XXXXXX) || die "cannot create a temporary directory"
else
	tmp=$(mktemp -d) || die "cannot create a temporary directory"
fi

# --- the target ----------------------------------------------------------------

# $BUILD's tree when it is newer than its source, else one built here the
# way meson builds it; a copy either way, which a rebuild of $BUILD during
# the run leaves alone.
tree=$tmp/tree
if ! { [ -x "$BUILD/bench/tree" ] && [ "$BUILD/bench/tree" -nt "$here/targets/tree.c" ] &&
	cp "$BUILD/bench/tree" "$tree" 2>/dev/null; }; then
	${CC:-cc} -D_GNU_SOURCE -O2 -fomit-frame-pointer -g -o "$tree" "$here/targets/tree.c" ||
		die "cannot build bench/targets/tree.c (set CC, or build it with ninja -C build)"
fi

# The reader of the trees' counters (`tree read`), for the whole run: it
# reads a state file and its clock together when asked, so a window's
# length is that of the counting, whenever this script gets a CPU.
coproc READER { exec "$tree" read; }
# shellcheck disable=SC2153 # set by coproc
reader_pid=$READER_PID

# wait_ready OUTFILE PID: sets ready_root to the root of the tree that
# printed "ready ROOT" in OUTFILE; false when PID (the tree or the tool
# that starts it) exits first, or after 30 s.
wait_ready() {
	local i w
	for ((i = 0; i < 3000; i++)); do
		w='' ready_root=''
		read -r w ready_root 2>/dev/null <"$1"
		[ "$w" = ready ] && [ -n "$ready_root" ] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.01
	done
	return 1
}

# tree_pids ROOT: sets pids to the processes of the tree rooted at ROOT,
# root first, comma-separated.
tree_pids() {
	local p
	desc_of "$1"
	pids=$1
	for p in "${desc[@]}"; do pids=$pids,$p; done
}

# cpu_ns PID...: sets cn to the CPU time so far, ns, of the processes
# (their threads' schedstat).
cpu_ns() {
	local p f a
	cn=0
	for p in "$@"; do
		for f in /proc/"$p"/task/*/schedstat; do
			read -r -a a 2>/dev/null <"$f" && cn=$((cn + a[0]))
		done
	done
}

# point STATE PIDS GROUP: sets pt to "time_us units tree_cpu_ns
# tool_cpu_ns" now: the reader's clock and the sum of the counters of the
# tree whose state file is STATE, the CPU time of its processes PIDS (a
# comma list), and that of the tool run started last, the tree it may have
# launched (process group GROUP) left out.
point() {
	local t u tc p
	local -a tp=()
	echo "$1" >&"${READER[1]}"
	read -r t u <&"${READER[0]}"
	# shellcheck disable=SC2086 # the list split into pids on purpose
	cpu_ns ${2//,/ }
	tc=$cn
	if [ -n "$tool_pid" ]; then
		desc_of "$tool_pid"
		for p in "${desc[@]}"; do
			if stat_fields "$p" && [ "${st[2]}" = "$3" ]; then continue; fi
			tp+=("$p")
		done
	fi
	cpu_ns "${tp[@]}"
	pt="$t $u $tc $cn"
}

# health ROOT PIDS: sets h to why the tree rooted at ROOT (processes PIDS)
# is not healthy, or to nothing: a process dead, traced or stopped (those
# are let go on).
health() {
	local p k v n=0
	h=
	for p in ${2//,/ }; do
		if ! stat_fields "$p" || [ "${st[0]}" = Z ]; then
			h="${h}tree_process_${p}_died;"
			return
		fi
		case ${st[0]} in t | T) n=$((n + 1)) ;; esac
		while read -r k v; do
			[ "$k" = TracerPid: ] || continue
			[ "$v" = 0 ] || h="${h}${p}_still_traced_by_$v;"
			break
		done 2>/dev/null <"/proc/$p/status"
	done
	if [ $n -gt 0 ]; then
		h="${h}${n}_processes_left_stopped;"
		kill -CONT -- -"$1" 2>/dev/null
	fi
}

# --- the tools -------------------------------------------------------------------

tools=
for t in $want_tools; do
	case $t in
	cprof-*)
		if [ ! -x "$CPROF" ]; then
			log "no cprof at $CPROF (build it, or set CPROF): $t skipped"
		elif ! "$CPROF" record -h 2>/dev/null | grep -q -- --pid-tree; then
			log "$CPROF record has no --pid-tree: $t skipped"
		else
			tools="$tools $t"
		fi
		;;
	perf-*)
		if ! command -v "$PERF" >/dev/null 2>&1; then
			log "perf not found: $t skipped"
		else
			tools="$tools $t"
		fi
		;;
	esac
done
case $tools in *perf*)
	if [ -z "${PERF_EVENT:-}" ]; then
		# Without a PMU (most VMs) perf falls back to cpu-clock anyway;
		# name it so the table says what was sampled.
		if "$PERF" stat -e cycles -x, -- true 2>&1 | grep -q 'not supported\|not counted'; then
			PERF_EVENT=cpu-clock
		else
			PERF_EVENT=cycles
		fi
	fi
	# perf_event_paranoid may forbid it (2 forbids profiling others'
	# processes without CAP_PERFMON): skipped, not failed.
	if ! "$PERF" record -q -e "$PERF_EVENT" -F "$hz" -o "$tmp/probe.data" -- true >/dev/null 2>&1; then
		log "perf record fails here (perf_event_paranoid $(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null)): perf skipped"
		tools=$(echo "$tools" | tr ' ' '\n' | grep -v '^perf' | tr '\n' ' ')
	fi
	rm -f "$tmp/probe.data"
	;;
esac
[ -n "$tools" ] || log "no tool to measure: baseline only"
command -v timeout >/dev/null 2>&1 || die "timeout not found (coreutils)"

# run_timed TIMESFILE COMMAND ARGS...: COMMAND under timeout, in a bash
# whose `times` gives the user and system time of all it waited for, to the
# millisecond (GNU time rounds to 10 ms).
run_timed() {
	TIMES=$1 bash -c '"$@"; rc=$?; times >"$TIMES"; exit $rc' run-timed \
		timeout -k 5 $((timeout_s + window)) "${@:2}"
}

# CPU seconds of the children in a `times` output file, or -.
times_cpu() {
	awk 'NR == 2 {
		split($1, u, /[ms]/); split($2, s, /[ms]/)
		printf "%.3f\n", u[1] * 60 + u[2] + s[1] * 60 + s[2]; ok = 1
	}
	END { if (!ok) print "-" }' "$1" 2>/dev/null || echo -
}

# start_tool TOOL PROCS: TOOL records the live tree (attached) or a tree of
# PROCS it starts (launched), in the background.
start_tool() {
	local s=$((window + 30))	# longer than needed: ended after the window
	case $1 in
	cprof-tree) set -- "$CPROF" record --sampler=perf --pid-tree "$live" \
		-F "$hz" -s "$s" -o "$tmp/out" --format=pprof --stats ;;
	perf-pids) set -- "$PERF" record -e "$PERF_EVENT" -F "$hz" -g \
		-p "$live_pids" -o "$tmp/out" -- sleep "$s" ;;
	cprof-launch) set -- "$CPROF" record --sampler=perf -F "$hz" \
		-o "$tmp/out" --format=pprof --stats -- "$tree" "$2" "$tmp/fresh.state" ;;
	perf-launch) set -- "$PERF" record -e "$PERF_EVENT" -F "$hz" -g \
		-o "$tmp/out" -- "$tree" "$2" "$tmp/fresh.state" ;;
	esac
	# Emptied here, not by the redirections of the child: wait_ready
	# would read the last run's "ready" line before the child opens them.
	: >"$tmp/times"
	: >"$tmp/tool.out"
	run_timed "$tmp/times" "$@" >>"$tmp/tool.out" 2>"$tmp/tool.err" </dev/null &
	tool_pid=$!
}

# True while TOOL samples: cprof holds perf events; perf enables its events
# when its `sleep` starts (attached) or when the tree is exec'd (launched,
# so once the tree is ready).
sampling() {
	local p c
	desc_of "$tool_pid"
	for p in "${desc[@]}"; do
		read -r c 2>/dev/null <"/proc/$p/comm" || continue
		case $1:$c in
		cprof-*:cprof)
			# The link targets say perf_event, not the names.
			# shellcheck disable=SC2010
			ls -l /proc/"$p"/fd 2>/dev/null | grep -q perf_event && return 0 ;;
		perf-pids:sleep)
			stat_fields "$p" && [ "${st[0]}" != Z ] && return 0 ;;
		perf-launch:perf) return 0 ;;
		esac
	done
	return 1
}

# True while TOOL, sampling already, still records: its process lives.
# Builtins only, unlike sampling: it runs right after a window.
recording() {
	local p c
	desc_of "$tool_pid"
	for p in "${desc[@]}"; do
		read -r c 2>/dev/null <"/proc/$p/comm" || continue
		case $1:$c in
		cprof-*:cprof | perf-pids:sleep | perf-launch:perf)
			stat_fields "$p" && [ "${st[0]}" != Z ] && return 0 ;;
		esac
	done
	return 1
}

# Waits until TOOL samples; false if it exits or times out first.
wait_sampling() {
	local i
	for ((i = 0; i < timeout_s * 100; i++)); do
		sampling "$1" && return 0
		kill -0 "$tool_pid" 2>/dev/null || return 1
		sleep 0.01
	done
	return 1
}

# Ends TOOL's recording now, as a user ends it early: Ctrl-C for cprof
# attached, the end of its `sleep` for perf attached; a launched tree is
# ended (SIGTERM: it reaps its processes and exits 0) and the tool with it.
stop_recording() {
	local p c
	case $1 in
	*-launch) kill -TERM "$fresh" 2>/dev/null; return ;;
	esac
	desc_of "$tool_pid"
	for p in "${desc[@]}"; do
		read -r c 2>/dev/null <"/proc/$p/comm" || continue
		case $1:$c in
		cprof-tree:cprof) kill -INT "$p" 2>/dev/null ;;
		perf-pids:sleep) kill -TERM "$p" 2>/dev/null ;;
		esac
	done
}

# Samples the tool reports, or -.
tool_samples() {
	case $1 in
	cprof-*) sed -n 's/^cprof: samples \([0-9]*\),.*/\1/p' "$tmp/tool.err" ;;
	*) sed -n 's/.*(\([0-9]*\) samples).*/\1/p' "$tmp/tool.err" ;;
	esac | tail -n 1 | grep . || echo -
}

# The tool's CPU over its whole run, s, from the rusage of all it waited
# for; a launched tree's own CPU (word 2 of its state, once it ended on
# SIGTERM) taken out.  Or -.
run_cpu() {
	local all
	all=$(times_cpu "$tmp/times")
	case $1 in
	*-launch)
		od -An -t u8 -v -N 32 "$tmp/fresh.state" 2>/dev/null | tr -s ' \n' '  ' |
			awk -v all="$all" '
			$4 == 1 && all != "-" { printf "%.3f\n", all - $3 / 1e6; ok = 1 }
			END { if (!ok) print "-" }'
		;;
	*) echo "$all" ;;
	esac
}

# For perf, what a user runs next to see stacks, timed like the recording:
# `perf script` unwinds what it can and symbolizes every sample, which
# cprof does within its run.  Prints its CPU seconds, 0 for cprof, or -.
post_cpu() {
	case $1 in cprof-*) echo 0; return ;; esac
	: >"$tmp/post.times"
	if run_timed "$tmp/post.times" "$PERF" script -i "$tmp/out" >/dev/null 2>&1 </dev/null; then
		times_cpu "$tmp/post.times"
	else
		echo -
	fi
}

# --- the windows -------------------------------------------------------------------

# One line per window:
#   procs mode rep wall_us units tree_cpu_ns tool_cpu_ns rc run_cpu_s
#   post_cpu_s samples recording_us note
runs=$tmp/runs
: >"$runs"

# window_points STATE PIDS GROUP: sets p0 and p1, points at both ends of
# a window.
window_points() {
	point "$@"
	p0=$pt
	sleep "$window"
	point "$@"
	p1=$pt
}

# tool_window PROCS TOOL: one window inside TOOL's recording; sets p0, p1,
# rc, rcpu, pcpu, smp, rec and note.
tool_window() {
	local r0 state=$live_state tpids=$live_pids grp=$live
	case $2 in *-launch)
		# One tree on the machine at a time: the live one waits.
		kill -STOP -- -"$live"
		rm -f "$tmp/fresh.state"
		;;
	esac
	start_tool "$2" "$1"
	case $2 in *-launch)
		if wait_ready "$tmp/tool.out" "$tool_pid"; then
			fresh=$ready_root
			tree_pids "$fresh"
			state=$tmp/fresh.state tpids=$pids grp=$fresh
		else
			note="tree_not_ready;"
		fi
		;;
	esac
	if [ -z "$note" ] && wait_sampling "$2"; then
		r0=${EPOCHREALTIME/./}
		sleep "$lead"
		window_points "$state" "$tpids" "$grp"
		recording "$2" || note="recording_ended_early;"
		stop_recording "$2"
		rec=$((${EPOCHREALTIME/./} - r0))
		wait "$tool_pid"
		rc=$?
		tool_pid=
	else
		note="${note:-never_sampled;}"
		end_tool
		rc=137
	fi
	# perf attached exits with the status of its `sleep`, ended by SIGTERM.
	[ "$2" = perf-pids ] && [ "$rc" = 143 ] && [ "$rec" != 0 ] && rc=0
	# The tool is done: what follows (perf script, the figures) runs with
	# no tree on the CPUs, timed by its CPU time and so sooner done.
	case $2 in
	*-launch) kill_tree "$fresh"; fresh='' ;;
	*) kill -STOP -- -"$live" ;;
	esac
	smp=$(tool_samples "$2")
	rcpu=$(run_cpu "$2")
	pcpu=$(post_cpu "$2")
	kill -CONT -- -"$live"
	if [ "$rc" != 0 ]; then
		note="${note}exit_$rc;"
		log "$1 processes, $2: exit $rc: $(tail -n 2 "$tmp/tool.err" | tr '\n' ' ')"
	fi
	rm -f "$tmp/out"
}

# measure PROCS MODE REP: one window, baseline or a tool's; false when the
# live tree died.
measure() {
	local -a a b
	note='' rc=0 rcpu=- pcpu=- smp=- p0='' p1='' rec=0
	if [ "$2" = baseline ]; then
		window_points "$live_state" "$live_pids" "$live"
	else
		tool_window "$1" "$2"
	fi
	health "$live" "$live_pids"
	note=$note$h
	[ -n "$h" ] && log "$1 processes, $2: $h"
	read -r -a a <<<"${p0:-x}"
	read -r -a b <<<"${p1:-x}"
	delta="0 0 0 0"
	if [ ${#a[@]} = 4 ] && [ ${#b[@]} = 4 ] && [ "${a[1]}" != - ] && [ "${b[1]}" != - ]; then
		delta="$((b[0] - a[0])) $((b[1] - a[1])) $((b[2] - a[2])) $((b[3] - a[3]))"
	fi
	echo "$1 $2 $3 $delta $rc $rcpu $pcpu $smp $rec ${note:--}" >>"$runs"
	if [ "$verbose" = 1 ]; then
		log "$1 processes, $2, run $3: $(echo "$delta" | awk '$1 > 0 {
			printf "%.0f units/s, tree %.2f cores, tool %.2f%%", $2 * 1e6 / $1, $3 / 1e3 / $1, $4 / 10 / $1 }'), exit $rc, run_cpu $rcpu, post_cpu $pcpu, samples $smp ${note}"
	fi
	case $h in *died*) return 1 ;; esac
	return 0
}

# --- the runs ---------------------------------------------------------------------

started=$(date '+%Y-%m-%d %H:%M')
t_start=${EPOCHREALTIME/./}
load0=$(cut -d' ' -f1-3 /proc/loadavg)
ntools=$(echo "$tools" | wc -w)
for n in $sizes; do
	log "$n processes: starting the tree"
	live_state=$tmp/live.state
	: >"$tmp/live.out"	# not by the child: see start_tool
	"$tree" "$n" "$live_state" >>"$tmp/live.out" 2>"$tmp/live.err" </dev/null &
	live=$!
	wait_ready "$tmp/live.out" "$live" || die "tree did not start: $(cat "$tmp/live.err")"
	tree_pids "$live"
	live_pids=$pids
	sleep 0.5
	alive=1
	measure "$n" baseline 1 || alive=0
	r=1
	while [ $r -le "$reps" ] && [ $alive = 1 ]; do
		# Each repetition starts one tool further along, so a drift in
		# the machine's load does not always fall on one tool.
		order=$(echo "$tools" | awk -v k=$(((r - 1) % (ntools > 0 ? ntools : 1))) '{
			for (i = 0; i < NF; i++) printf "%s ", $(((i + k) % NF) + 1) }')
		for mode in $order; do
			measure "$n" "$mode" "$r" || { alive=0; break; }
		done
		[ $alive = 1 ] && { measure "$n" baseline $((r + 1)) || alive=0; }
		r=$((r + 1))
	done
	kill_tree "$live"
	wait "$live" 2>/dev/null
	live=
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
took=$(((${EPOCHREALTIME/./} - t_start) / 1000000))

# --- the table ------------------------------------------------------------------------

echo "cprof tree bench, $started, $(uname -srm), $(nproc) cores, load average $load0 -> $load1, $took s"
echo "  trees of $sizes processes (bench/targets/tree), $reps runs of ${window} s windows at $hz Hz, each starting ${lead} s after the tool's first sample"
for t in $tools; do
	case $t in
	cprof-tree) echo "  cprof-tree:   cprof record --sampler=perf --pid-tree ROOT -F $hz -s S -o FILE --stats, ended by SIGINT" ;;
	perf-pids) echo "  perf-pids:    perf record -e $PERF_EVENT -F $hz -g -p ROOT,CHILD,... -o FILE -- sleep S, then perf script ($("$PERF" --version))" ;;
	cprof-launch) echo "  cprof-launch: cprof record --sampler=perf -F $hz -o FILE --stats -- tree N STATE, ended with the tree" ;;
	perf-launch) echo "  perf-launch:  perf record -e $PERF_EVENT -F $hz -g -o FILE -- tree N STATE (inherit), then perf script" ;;
	esac
done
echo
awk -v tools="baseline $tools" -v sizes="$sizes" '
function median(list,   a, m, i, j, t) {
	m = split(list, a, " ")
	if (m == 0) return ""
	for (i = 2; i <= m; i++)
		for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
}
function fmt(v, f) { return v == "" ? "-" : sprintf(f, v) }
function settle(k, rate, crate, ref, cref) {
	if (ref > 0) loss[k] = loss[k] " " (1 - rate / ref) * 100
	if (crate > 0 && cref > 0) closs[k] = closs[k] " " (1 - crate / cref) * 100
}
function peer(m) {
	if (m == "cprof-tree") return "perf-pids"
	if (m == "cprof-launch") return "perf-launch"
	return ""
}
{
	# procs mode rep wall_us units tree_cpu tool_cpu rc run_cpu post_cpu
	# samples rec_us note
	k = $1 SUBSEP $2
	if ($13 != "-") notes[k] = notes[k] " " $13
	if ($4 <= 0 || $8 != 0) next
	rate = $5 * 1e6 / $4
	crate = $6 > 0 ? $5 * 1e9 / $6 : 0	# units per CPU second
	n = $1
	if ($2 == "baseline") {
		# The tool windows since the last baseline, against the mean of
		# the baselines on both sides.
		for (i = 1; i <= np[n]; i++)
			settle(pk[n, i], prate[n, i], pcrate[n, i], \
				(n in brate) ? (brate[n] + rate) / 2 : rate, \
				(n in brate) ? (bcrate[n] + crate) / 2 : crate)
		np[n] = 0
		brate[n] = rate; bcrate[n] = crate
	} else {
		np[n]++; pk[n, np[n]] = k; prate[n, np[n]] = rate; pcrate[n, np[n]] = crate
		tcpu[k] = tcpu[k] " " $7 / 10 / $4
		if ($9 != "-" && $10 != "-" && $12 > 0) {
			cpus[k] = cpus[k] " " ($9 + $10) * 1e8 / $12
			rcpu[k] = rcpu[k] " " $9
			if ($2 ~ /^perf/) pcpu[k] = pcpu[k] " " $10
		}
		if ($11 != "-" && $12 > 0) smp[k] = smp[k] " " $11 * 1e6 / $12
	}
	rates[k] = rates[k] " " rate
	cores[k] = cores[k] " " $6 / 1e3 / $4
	runs[k]++
}
END {
	for (n in np)	# tool windows after the last baseline
		for (i = 1; i <= np[n]; i++)
			if (n in brate)
				settle(pk[n, i], prate[n, i], pcrate[n, i], brate[n], bcrate[n])
	nt = split(tools, tl, " "); ns = split(sizes, sl, " ")
	for (s = 1; s <= ns; s++) for (t = 1; t <= nt; t++) {
		k = sl[s] SUBSEP tl[t]
		L[k] = median(loss[k]); C[k] = median(cpus[k])
	}
	print "Trees of busy processes (medians over runs; loss against the baseline windows on both sides)"
	printf "%5s  %-12s %4s %10s %7s %8s %5s %8s %7s %8s %6s %9s %6s %7s  %s\n", "procs", "mode", \
		"runs", "iter/s", "loss%", "cpuloss%", "cores", "tool_cpu", "run_cpu", "post_cpu", "cpu%", \
		"samples/s", "cpu_x", "loss_d", "notes"
	for (s = 1; s <= ns; s++) for (t = 1; t <= nt; t++) {
		n = sl[s]; m = tl[t]; k = n SUBSEP m
		if (!(k in runs) && !(k in notes)) continue
		b = m == "baseline"; kp = n SUBSEP peer(m)
		cx = peer(m) != "" && C[k] != "" && C[kp] > 0 ? sprintf("%.2fx", C[k] / C[kp]) : "-"
		ld = peer(m) != "" && L[k] != "" && L[kp] != "" ? sprintf("%+.2f", L[k] - L[kp]) : "-"
		line = sprintf("%5d  %-12s %4d %10s %7s %8s %5s %8s %7s %8s %6s %9s %6s %7s  %s", n, m, \
			runs[k], fmt(median(rates[k]), "%.0f"), b ? "-" : fmt(L[k], "%+.2f"), \
			b ? "-" : fmt(median(closs[k]), "%+.2f"), fmt(median(cores[k]), "%.2f"), \
			fmt(median(tcpu[k]), "%.2f%%"), fmt(median(rcpu[k]), "%.3fs"), \
			fmt(median(pcpu[k]), "%.3fs"), fmt(C[k], "%.2f%%"), fmt(median(smp[k]), "%.0f"), \
			cx, ld, notes[k])
		sub(/ +$/, "", line)
		print line
	}
	print ""
	print "  loss%: 1 - iter/s / the mean iter/s of the baselines around it; cpuloss%: the same per CPU second"
	print "  of the tree (the loss left when CPU taken by the tool or anything else is set aside); cores: CPU"
	print "  the tree used in the window; tool_cpu: the tool'"'"'s CPU in the window, % of one core; run_cpu: its"
	print "  user+sys over the whole run (attach or start, symbols, write-out; a launched tree'"'"'s own CPU taken"
	print "  out); post_cpu: perf script on its data; cpu%: (run_cpu + post_cpu) per second of recording, % of"
	print "  one core; samples/s: as the tool reports them, per second of recording; cpu_x: cpu% / that of its"
	print "  perf peer (cprof-tree: perf-pids, cprof-launch: perf-launch); loss_d: loss% - the peer'"'"'s, in points"
}' "$runs"
