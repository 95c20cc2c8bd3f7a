#!/bin/sh
# bench/record.sh: what sampling a CPU-bound process costs it, `cprof record`
# (perf and ptrace samplers) against `perf record -g` and `perf record
# --call-graph dwarf` at the same frequency, how truly each one splits CPU
# time between functions, and what cprof's memory is on a python3.11.
#
# usage: sh bench/record.sh [-r REPS] [-s SECONDS] [-F "HZ..."] [-n "THREADS..."]
#                           [-S "THREADS..."] [-a SECONDS] [-A HZ] [-P SECONDS]
#                           [-T "TOOLS"] [-t TIMEOUT_S] [-v]
#
# Throughput: for each thread count one target (bench/targets/spin.c) runs;
# for each repetition and frequency, a baseline window without any tool, then
# one window inside each tool's recording, interleaved.  The target counts its
# own work units; loss is 1 - rate under the tool / rate of the baseline of
# the same repetition.  The -n counts run at every frequency, the -S counts
# (the scaling line) at the highest only.  Each tool runs under /usr/bin/time
# for its CPU time and peak RSS; perf's data is then turned into stacks by
# `perf script`, timed too, since cprof's own run unwinds and symbolizes.
# Attribution: bench's peer target tests/targets/cpu-split knows the share of
# its CPU time spent in work_a, work_b and work_c; each tool records it and
# the script compares the flat shares.  See bench/README.md.
#
# Environment: BUILD (meson build dir, default ./build), CPROF (cprof binary,
# default $BUILD/cmd/cprof), PERF (default perf), PERF_EVENT (default cycles
# when the machine has a PMU, else cpu-clock), CC (to build the targets when
# $BUILD lacks them), PYTHON (the interpreter of the memory line, default
# python3).

# shellcheck disable=SC2046 # $(...) split into words on purpose
set -u

reps=3
window=2
freqs="100 1000"
counts="1 2"
scale="1 2 4 8"
attr_s=6
attr_hz=1000
want_tools="cprof cprof-ptrace perf-g perf-dwarf"
timeout_s=60
py_s=3
verbose=0
lead=0.5	# seconds between a tool's first sample and the window

usage() {
	echo "usage: sh bench/record.sh [-r REPS] [-s SECONDS] [-F \"HZ...\"] [-n \"THREADS...\"] [-S \"THREADS...\"] [-a SECONDS] [-A HZ] [-P SECONDS] [-T \"TOOLS\"] [-t TIMEOUT_S] [-v]" >&2
	exit 64
}

while getopts r:s:F:n:S:a:A:P:T:t:vh opt; do
	case $opt in
	r) reps=$OPTARG ;;
	s) window=$OPTARG ;;
	F) freqs=$OPTARG ;;
	n) counts=$OPTARG ;;
	S) scale=$OPTARG ;;
	a) attr_s=$OPTARG ;;
	A) attr_hz=$OPTARG ;;
	P) py_s=$OPTARG ;;
	T) want_tools=$OPTARG ;;
	t) timeout_s=$OPTARG ;;
	v) verbose=1 ;;
	*) usage ;;
	esac
done
for v in "$reps" "$window" "$attr_s" "$attr_hz" "$timeout_s" "$py_s" $freqs $counts $scale; do
	case $v in '' | *[!0-9]*) usage ;; esac
done
if [ "$reps" -lt 1 ] || [ "$window" -lt 1 ] || [ "$attr_hz" -lt 1 ]; then
	usage
fi
for v in $freqs $counts $scale; do [ "$v" -ge 1 ] || usage; done
if [ -z "$freqs" ] || [ -z "$counts$scale" ]; then usage; fi
# spin keeps one 64-byte counter per thread in a 4 KiB page.
for v in $counts $scale; do [ "$v" -le 63 ] || usage; done
top_hz=$(echo "$freqs" | tr ' ' '\n' | sort -n | tail -n 1)
# Every thread count once, in increasing order: the table's rows.
all_counts=$(echo "$counts $scale" | tr ' ' '\n' | sort -nu | tr '\n' ' ')
for v in $want_tools; do
	case $v in cprof | cprof-ptrace | perf-g | perf-dwarf) ;; *) usage ;; esac
done

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
BUILD=${BUILD:-$root/build}
CPROF=${CPROF:-$BUILD/cmd/cprof}
PERF=${PERF:-perf}
# Every tool reads local files only: no network lookups in the timings.
unset DEBUGINFOD_URLS

log() { echo "record.sh: $*" >&2; }
die() { log "$*"; exit 2; }
vlog() { [ "$verbose" = 1 ] && log "$*"; return 0; }

# --- processes we own, ended by pid on every exit path ---------------------

tmp=
target_pid=
tool_pid=

# Prints the pids of every descendant of $1, children first.
descendants() {
	# shellcheck disable=SC2013 # the file is a list of pids
	for d_c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		echo "$d_c"
		descendants "$d_c"
	done
}

# Ends the tool run started by start_tool (time, timeout, the tool and its
# own children), politely first: cprof and perf both finish their output on
# SIGTERM.
end_tool() {
	[ -n "$tool_pid" ] || return 0
	for p in $(descendants "$tool_pid"); do
		kill -TERM "$p" 2>/dev/null
	done
	i=0
	while [ -d /proc/"$tool_pid" ] && [ "$(stat_of "$tool_pid")" != Z ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	for p in $(descendants "$tool_pid") "$tool_pid"; do
		kill -KILL "$p" 2>/dev/null
	done
	wait "$tool_pid" 2>/dev/null
	tool_pid=
}

stop_target() {
	[ -n "$target_pid" ] || return 0
	kill -KILL "$target_pid" 2>/dev/null
	wait "$target_pid" 2>/dev/null
	target_pid=
}

cleanup() {
	end_tool
	stop_target
	[ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# perf.data with DWARF stacks grows by about 8 KiB a sample: a few tens of
# MB a run, fine in /dev/shm on any machine that runs this.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	tmp=$(mktemp -d /dev/shm/cprof-bench.XXXXXX) || die "cannot create a temporary directory"
else
	tmp=$(mktemp -d) || die "cannot create a temporary directory"
fi

now_ns() { date +%s%N; }	# GNU date: nanoseconds

# The one-letter state of process $1 (R, S, Z, t...), from /proc/PID/stat.
stat_of() {
	sed 's/^.*) //; s/ .*//' /proc/"$1"/stat 2>/dev/null
}

# --- the targets -------------------------------------------------------------

# build NAME SOURCES...: $BUILD's binary when it is newer than its sources,
# else one built here the way meson builds it.
build() {
	b_name=$1 b_dest=$2
	shift 2
	b_stale=
	[ -x "$b_dest" ] || b_stale=1
	for s in "$@"; do
		[ -n "$(find "$s" -newer "$b_dest" 2>/dev/null)" ] && b_stale=1
	done
	if [ -z "$b_stale" ]; then
		echo "$b_dest"
		return 0
	fi
	${CC:-cc} -D_GNU_SOURCE -O2 -fomit-frame-pointer -g -pthread -I"$root/tests/targets" \
		-o "$tmp/$b_name" "$@" >&2 || return 1
	echo "$tmp/$b_name"
}

spin=$(build spin "$BUILD/bench/spin" "$here/targets/spin.c") ||
	die "cannot build bench/targets/spin.c (set CC, or build it with ninja -C build)"
split=
if [ "$attr_s" -gt 0 ]; then
	split=$(build cpu-split "$BUILD/tests/targets/cpu-split" \
		"$root/tests/targets/cpu-split.c" "$root/tests/targets/target.c") ||
		{ log "cannot build tests/targets/cpu-split: attribution skipped"; split=; }
fi
# The interpreter of the memory line: the real binary, not a pyenv shim (a
# script that execs it), so that the pid recorded is python's from the start.
py=
if [ "$py_s" -gt 0 ]; then
	py=$("${PYTHON:-python3}" -c 'import sys; print(sys.executable)' 2>/dev/null)
	if [ -z "$py" ] || [ ! -x "$py" ]; then
		log "no ${PYTHON:-python3} to run: the python line skipped"
		py=
	fi
fi

# start_target OUTFILE COMMAND ARGS...: runs the target, waits for its
# "ready PID" line.
start_target() {
	s_out=$1
	shift
	: >"$s_out"
	"$@" >"$s_out" 2>"$tmp/target.err" &
	target_pid=$!
	i=0
	until grep -q '^ready ' "$s_out"; do
		kill -0 "$target_pid" 2>/dev/null ||
			die "target did not start: $(cat "$tmp/target.err")"
		i=$((i + 1))
		[ $i -lt 3000 ] || die "target not ready after 30 s"
		sleep 0.01
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

# Units done by the spin target so far: the sum of its per-thread counters.
spin_units() {
	od -An -t u8 -v -N $((64 * (nthreads + 1))) "$tmp/spin.state" |
		awk -v n="$nthreads" '
		{ for (i = 1; i <= NF; i++) w[k++] = $i }
		END { for (t = 1; t <= n; t++) s += w[8 * t]; printf "%.0f\n", s }'
}

# CPU time of the target so far, ns, from every thread's schedstat.
target_cpu_ns() {
	cat /proc/"$target_pid"/task/*/schedstat 2>/dev/null |
		awk '{ s += $1 } END { printf "%.0f\n", s }'
}

# CPU time so far of the tool run started last (the tool and its children:
# perf's sleep, timeout, all next to nothing), ns, or 0 without one.
tool_cpu_ns() {
	[ -n "$tool_pid" ] || { echo 0; return; }
	for tc_p in $(descendants "$tool_pid"); do
		cat /proc/"$tc_p"/task/*/schedstat 2>/dev/null
	done | awk '{ s += $1 } END { printf "%.0f\n", s }'
}

# "wall_ns units target_cpu_ns tool_cpu_ns" now.
spin_point() {
	echo "$(now_ns) $(spin_units) $(target_cpu_ns) $(tool_cpu_ns)"
}

# --- the tools ---------------------------------------------------------------

tools=
for t in $want_tools; do
	case $t in
	cprof | cprof-ptrace)
		if [ ! -x "$CPROF" ]; then
			log "no cprof at $CPROF (build it, or set CPROF): cprof skipped"
		elif ! "$CPROF" record -h >/dev/null 2>&1; then
			log "$CPROF has no 'record' command: cprof skipped"
		else
			tools="$tools $t"
		fi
		;;
	perf-*)
		if command -v "$PERF" >/dev/null 2>&1; then
			tools="$tools $t"
		else
			log "perf not found: $t skipped"
		fi
		;;
	esac
done
[ -n "$tools" ] || log "no tool to measure: baseline only"
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
	;;
esac
[ -x /usr/bin/time ] || die "/usr/bin/time not found (GNU time, package 'time')"
has_timeout=
command -v timeout >/dev/null 2>&1 && has_timeout=1

# start_tool TOOL HZ SECONDS OUT FORMAT: the tool records the target for
# SECONDS at HZ into OUT, in the background under /usr/bin/time.
start_tool() {
	st_tool=$1 st_hz=$2 st_s=$3 st_out=$4 st_fmt=$5
	case $st_tool in
	cprof) set -- "$CPROF" record --sampler=perf -p "$target_pid" \
		-s "$st_s" -F "$st_hz" -o "$st_out" --format="$st_fmt" --stats ;;
	cprof-ptrace) set -- "$CPROF" record --sampler=ptrace -p "$target_pid" \
		-s "$st_s" -F "$st_hz" -o "$st_out" --format="$st_fmt" --stats ;;
	perf-g) set -- "$PERF" record -e "$PERF_EVENT" -F "$st_hz" -g \
		-p "$target_pid" -o "$st_out" -- sleep "$st_s" ;;
	perf-dwarf) set -- "$PERF" record -e "$PERF_EVENT" -F "$st_hz" \
		--call-graph dwarf -p "$target_pid" -o "$st_out" -- sleep "$st_s" ;;
	esac
	wrap=
	[ -n "$has_timeout" ] && wrap="timeout $((timeout_s + st_s))"
	: >"$tmp/time.out"
	: >"$tmp/tool.err"
	# shellcheck disable=SC2086 # $wrap is empty or "timeout S"
	/usr/bin/time -f '%e %U %S %M' -o "$tmp/time.out" $wrap "$@" \
		>/dev/null 2>"$tmp/tool.err" </dev/null &
	tool_pid=$!
}

# True while the tool samples: cprof's perf sampler holds perf events,
# its ptrace sampler the target's threads seized; perf enables its events
# when its `sleep` starts and stops when it ends.
sampling() {
	case $1 in
	cprof)
		for sa_p in $(descendants "$tool_pid"); do
			# The link targets say perf_event, not the names.
			# shellcheck disable=SC2010
			ls -l /proc/"$sa_p"/fd 2>/dev/null | grep -q perf_event &&
				return 0
		done
		return 1
		;;
	cprof-ptrace)
		sa_tracer=$(sed -n 's/^TracerPid:[[:space:]]*//p' "/proc/$target_pid/status" 2>/dev/null)
		[ -n "$sa_tracer" ] && [ "$sa_tracer" != 0 ]
		;;
	*)
		for sa_p in $(descendants "$tool_pid"); do
			[ "$(cat /proc/"$sa_p"/comm 2>/dev/null)" = sleep ] &&
				[ "$(stat_of "$sa_p")" != Z ] && return 0
		done
		return 1
		;;
	esac
}

# Ends TOOL's recording now: Ctrl-C for cprof (it writes its profile and
# detaches), the end of its `sleep` for perf (as when the time is up).
stop_recording() {
	sr_last=
	for sr_p in $(descendants "$tool_pid"); do
		case $1 in
		cprof | cprof-ptrace) sr_last=$sr_p ;; # the deepest: cprof
		*) [ "$(cat /proc/"$sr_p"/comm 2>/dev/null)" = sleep ] && sr_last=$sr_p ;;
		esac
	done
	[ -n "$sr_last" ] || return 0
	case $1 in
	cprof | cprof-ptrace) kill -INT "$sr_last" 2>/dev/null ;;
	*) kill -TERM "$sr_last" 2>/dev/null ;;
	esac
}

# Waits until TOOL samples; false if it exits or times out first.
wait_sampling() {
	i=0
	until sampling "$1"; do
		if [ ! -d /proc/"$tool_pid" ] || [ "$(stat_of "$tool_pid")" = Z ] ||
			[ $i -ge $((timeout_s * 100)) ]; then
			return 1
		fi
		sleep 0.01
		i=$((i + 1))
	done
}

# Waits for the tool started last to exit; sets ft_rc to its exit status
# and ft_res to "elapsed_s cpu_s rss_kb" (or "- - -").
finish_tool() {
	wait "$tool_pid"
	ft_rc=$?
	tool_pid=
	ft_res=$(tail -n 1 "$tmp/time.out" | awk '
		NF == 4 && $1 ~ /^[0-9.]+$/ { printf "%s %.3f %s\n", $1, $2 + $3, $4; ok = 1 }
		END { if (!ok) print "- - -" }')
}

# Samples the tool reports having taken, or -.
tool_samples() {
	case $1 in
	cprof | cprof-ptrace) sed -n 's/^cprof: \(ticks .*, \)\{0,1\}samples \([0-9]*\),.*/\2/p' "$tmp/tool.err" | tail -n 1 ;;
	*) sed -n 's/.*(\([0-9]*\) samples).*/\1/p' "$tmp/tool.err" | tail -n 1 ;;
	esac | grep . || echo -
}

# tool_lost TOOL DATA: samples the tool lost, or -.  cprof's perf sampler
# counts the samples of the kernel's PERF_RECORD_LOST records; its ptrace
# sampler loses ticks, not samples: a tick it could not take in time.  For
# perf, the LOST_SAMPLES figure under the event in `perf report --stats`:
# the kernel's count of samples dropped on a full ring buffer (read by perf
# record at the end); the LOST line under "Aggregated stats" counts
# records, not samples, so it only tells that some were lost.
tool_lost() {
	case $1 in
	cprof) sed -n 's/^cprof: samples [0-9]*, lost \([0-9]*\),.*/\1/p' "$tmp/tool.err" ;;
	cprof-ptrace) sed -n 's/^cprof: ticks [0-9]* (missed \([0-9]*\)),.*/\1/p' "$tmp/tool.err" ;;
	*) "$PERF" report -i "$2" --stats 2>/dev/null | awk '
		/^Aggregated stats/ { agg = 1; next }
		/ stats:$/ { agg = 0; next }
		agg && $1 == "LOST" { records = $3 }
		!agg && $1 == "LOST_SAMPLES" { n += $3; seen = 1 }
		END { if (seen) print n; else if (records == "") print 0 }' ;;
	esac | tail -n 1 | grep . || echo -
}

# post_process TOOL DATA: for perf, what a user runs after the recording
# to get its stacks, timed like the recording: `perf script`, which unwinds
# (with --call-graph dwarf) and symbolizes every sample, what cprof does in
# its own run before writing its profile.  Sets pp_res to "cpu_s rss_kb":
# "0 0" for cprof, "- -" when perf script failed.
post_process() {
	pp_res="0 0"
	case $1 in cprof*) return 0 ;; esac
	: >"$tmp/post.time"
	pp_wrap=
	[ -n "$has_timeout" ] && pp_wrap="timeout $timeout_s"
	# shellcheck disable=SC2086 # $pp_wrap is empty or "timeout S"
	if ! /usr/bin/time -f '%e %U %S %M' -o "$tmp/post.time" $pp_wrap \
		"$PERF" script -i "$2" >/dev/null 2>&1 </dev/null; then
		pp_res="- -"
		return 0
	fi
	pp_res=$(tail -n 1 "$tmp/post.time" | awk '
		NF == 4 && $1 ~ /^[0-9.]+$/ { printf "%.3f %s\n", $2 + $3, $4; ok = 1 }
		END { if (!ok) print "- -" }')
}

# --- throughput ----------------------------------------------------------------

# One line per window:
#   threads hz mode rep wall_ns units target_cpu_ns tool_cpu_ns
#   rc elapsed_s cpu_s rss_kb samples recording_ns post_cpu_s post_rss_kb
#   lost note
# the first four figures over the window, the rest over the whole tool run
# (and perf script after it).
runs=$tmp/runs
: >"$runs"
statsf=$tmp/cprof-stats
: >"$statsf"
goalsf=$tmp/goals
: >"$goalsf"

# tool_window N HZ MODE REP: one window inside MODE's recording.  Sets p0
# and p1 (spin_point at both ends), rec (ns from the first sample to the
# end), note, and the run's figures: rc, tres, smp, pres, lost.
tool_window() {
	# Recorded for longer than needed, and ended right after the
	# window the way a user ends it early.
	start_tool "$3" "$2" $((window + 30)) "$tmp/out" pprof
	if wait_sampling "$3"; then
		r0=$(now_ns)
		sleep "$lead"
		p0=$(spin_point)
		sleep "$window"
		p1=$(spin_point)
		sampling "$3" || note="recording_ended_early;"
		stop_recording "$3"
		rec=$(($(now_ns) - r0))
	else
		note="never_sampled;"
	fi
	finish_tool
	rc=$ft_rc tres=$ft_res
	# perf exits with the status of its `sleep`, ended by SIGTERM.
	case $3 in cprof*) ;; *) [ "$rc" = 143 ] && [ "$rec" != 0 ] && rc=0 ;; esac
	smp=$(tool_samples "$3")
	lost=$(tool_lost "$3" "$tmp/out")
	post_process "$3" "$tmp/out"
	pres=$pp_res
	case $3 in cprof*)
		grep -E '^cprof: (ticks|samples)' "$tmp/tool.err" |
			sed "s/^/$3, $1 threads, $2 Hz, run $4: /" >>"$statsf" ;;
	esac
	if [ "$rc" != 0 ]; then
		note="${note}exit_$rc;"
		log "$1 threads, $2 Hz, $3: exit $rc: $(tail -n 2 "$tmp/tool.err" | tr '\n' ' ')"
	fi
	rm -f "$tmp/out"
}

# measure N HZ MODE REP
measure() {
	m_n=$1 m_hz=$2 m_mode=$3 m_rep=$4
	m_what="$m_n threads, $m_hz Hz, $m_mode"
	[ "$m_mode" = baseline ] && m_what="$m_n threads, baseline"
	note='' rc=0 tres="- - -" smp=- p0='' p1='' rec=0 pres="- -" lost=-
	if [ "$m_mode" = baseline ]; then
		p0=$(spin_point)
		sleep "$window"
		p1=$(spin_point)
	else
		tool_window "$@"
	fi
	h=$(health | tr '\n' ';' | tr ' ' _)
	note=$note$h
	[ -n "$h" ] && log "$m_what: $h"
	delta=$(echo "${p0:-x} ${p1:-x}" | awk '
		NF == 8 && $1 ~ /^[0-9]+$/ {
			printf "%.0f %.0f %.0f %.0f", $5 - $1, $6 - $2, $7 - $3, $8 - $4
			next
		}
		{ print "0 0 0 0" }')
	echo "$m_n $m_hz $m_mode $m_rep $delta $rc $tres $smp $rec $pres $lost ${note:--}" >>"$runs"
	vlog "$m_what, run $m_rep: $(echo "$delta" | awk '
		$1 > 0 { printf "%.0f units/s, target %.2f cores, tool %.2f%%", $2 * 1e9 / $1, $3 / $1, $4 * 100 / $1 }'), tool (exit elapsed_s cpu_s rss_kb) $rc $tres, samples $smp, lost $lost, perf script (cpu_s rss_kb) $pres ${note}"
	case $h in *died*) return 1 ;; esac
	return 0
}

# --- attribution ---------------------------------------------------------------

# One line per recording:
#   threads tool hz seconds truth_a truth_b truth_c got_a got_b got_c rc
#   samples note
attr=$tmp/attr
: >"$attr"
split_seq=0

# split_report SEQ: asks cpu-split for its report number SEQ and prints
# "total_ns a_ns b_ns c_ns".
split_report() {
	kill -USR1 "$target_pid" 2>/dev/null || return 1
	i=0
	until grep -q "^report $1 " "$tmp/split.out"; do
		i=$((i + 1))
		[ $i -lt 500 ] || return 1
		sleep 0.01
	done
	awk -v seq="$1" '$1 == "report" && $2 == seq { print $4, $6, $8, $10 }' "$tmp/split.out"
}

# Flat shares (percent) of work_a, work_b and work_c in the tool's output.
tool_shares() {
	case $1 in
	cprof | cprof-ptrace)	# folded stacks: "root;...;leaf value"
		awk '
		{
			v = $NF; stack = $0; sub(/ [^ ]*$/, "", stack)
			leaf = stack; sub(/^.*;/, "", leaf); sub(/[ \[(].*$/, "", leaf)
			all += v; got[leaf] += v
		}
		END {
			if (all > 0)
				printf "%.2f %.2f %.2f\n", got["work_a"] * 100 / all,
					got["work_b"] * 100 / all, got["work_c"] * 100 / all
		}' "$2"
		;;
	*)	# perf report's self overhead per symbol: "  50.12%  [.] work_a"
		"$PERF" report -i "$2" --stdio --no-children --sort sym -g none \
			--percent-limit 0 2>/dev/null | awk '
		$1 ~ /%$/ { p = $1; sub(/%/, "", p); got[$NF] += p; any = 1 }
		END {
			if (any)
				printf "%.2f %.2f %.2f\n", got["work_a"], got["work_b"], got["work_c"]
		}'
		;;
	esac
}

# attribute N TOOL
attribute() {
	a_n=$1 a_tool=$2 note=''
	fmt=pprof
	case $a_tool in cprof*) fmt=folded ;; esac
	start_tool "$a_tool" "$attr_hz" "$attr_s" "$tmp/attr.out" "$fmt"
	wait_sampling "$a_tool" || note="never_sampled;"
	split_seq=$((split_seq + 1))
	r0=$(split_report $split_seq)
	while sampling "$a_tool"; do sleep 0.01; done
	split_seq=$((split_seq + 1))
	r1=$(split_report $split_seq)
	finish_tool
	[ "$ft_rc" = 0 ] || {
		note="exit_$ft_rc;"
		log "attribution, $a_n threads, $a_tool: exit $ft_rc: $(tail -n 2 "$tmp/tool.err" | tr '\n' ' ')"
	}
	truth=$(echo "$r0 $r1" | awk 'NF == 8 && $5 > $1 {
		t = $5 - $1
		printf "%.2f %.2f %.2f", ($6 - $2) * 100 / t, ($7 - $3) * 100 / t, ($8 - $4) * 100 / t
	}')
	[ -n "$truth" ] || { truth="- - -"; note="${note}no_report;"; }
	got=$(tool_shares "$a_tool" "$tmp/attr.out")
	[ -n "$got" ] || { got="- - -"; note="${note}no_profile;"; }
	h=$(health | tr '\n' ';' | tr ' ' _)
	note=$note$h
	echo "$a_n $a_tool $attr_hz $attr_s $truth $got $ft_rc $(tool_samples "$a_tool") ${note:--}" >>"$attr"
	vlog "attribution, $a_n threads, $a_tool: truth $truth, tool $got ${note}"
	rm -f "$tmp/attr.out"
	case $h in *died*) return 1 ;; esac
	return 0
}

# --- cprof's memory on a python3.11 -------------------------------------------

# One line per cprof tool:
#   tool hz seconds rc cpu_s rss_kb samples lost
pyf=$tmp/python
: >"$pyf"

# A busy interpreter maps far more code than spin (libpython, its
# extension modules, a large symbol table): where cprof's memory shows.
py_loop='import os
print("ready", os.getpid(), flush=True)
while True:
    pass'

# py_record TOOL: TOOL records the busy python for $py_s seconds at the
# highest frequency, to its end as a user would.
py_record() {
	start_tool "$1" "$top_hz" "$py_s" "$tmp/py.prof" pprof
	wait_sampling "$1" || log "python, $1: never sampled"
	finish_tool
	[ "$ft_rc" = 0 ] ||
		log "python, $1: exit $ft_rc: $(tail -n 2 "$tmp/tool.err" | tr '\n' ' ')"
	echo "$1 $top_hz $py_s $ft_rc $(echo "$ft_res" | cut -d' ' -f2-) $(tool_samples "$1") $(tool_lost "$1")" >>"$pyf"
	rm -f "$tmp/py.prof"
}

# freqs_for N: the frequencies thread count N is measured at: all of them
# for the -n counts, the highest for the scaling line (-S).
freqs_for() {
	case " $counts " in *" $1 "*) echo "$freqs" ;; *) echo "$top_hz" ;; esac
}

# --- the runs ------------------------------------------------------------------

started=$(date '+%Y-%m-%d %H:%M')
load0=$(cut -d' ' -f1-3 /proc/loadavg)
ntools=$(echo "$tools" | wc -w)
for nthreads in $all_counts; do
	log "$nthreads busy threads: starting the target"
	start_target "$tmp/spin.out" "$spin" "$nthreads" "$tmp/spin.state"
	sleep 0.5
	alive=1
	r=1
	while [ $r -le "$reps" ] && [ $alive = 1 ]; do
		# Each repetition starts the tools one further along, so a
		# drift in the machine's load does not always fall on one tool.
		order=$(echo "$tools" | awk -v k=$(((r - 1) % (ntools > 0 ? ntools : 1))) '{
			for (i = 0; i < NF; i++) printf "%s ", $(((i + k) % NF) + 1) }')
		# A baseline window on both sides of every tool window.
		if [ $r = 1 ] && ! measure "$nthreads" - baseline 1; then
			alive=0
			break
		fi
		for hz in $(freqs_for "$nthreads"); do
			for mode in $order; do
				if ! measure "$nthreads" "$hz" "$mode" "$r" ||
					! measure "$nthreads" - baseline "$r"; then
					alive=0
					break
				fi
			done
			[ $alive = 1 ] || break
		done
		r=$((r + 1))
	done
	stop_target
done
if [ -n "$split" ] && [ -n "$tools" ]; then
	for n in $counts; do
		log "attribution, $n threads: starting cpu-split"
		split_seq=0
		start_target "$tmp/split.out" "$split" "$n"
		sleep 0.5
		for t in $tools; do
			attribute "$n" "$t" || break
		done
		stop_target
	done
fi
py_ver=
case $tools in *cprof*)
	if [ -n "$py" ]; then
		py_ver=$("$py" -c 'import platform; print(platform.python_version())')
		log "python: starting $py"
		start_target "$tmp/py.out" "$py" -c "$py_loop"
		sleep 0.5
		for t in $tools; do
			case $t in cprof*) py_record "$t" ;; esac
		done
		stop_target
	fi
	;;
esac
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the tables ----------------------------------------------------------------

echo "cprof record bench, $started, $(uname -srm), $(nproc) cores, load average $load0 -> $load1"
echo "  $reps runs of ${window} s windows, each starting ${lead} s after the tool's first sample; the recording ends right after it"
echo "  busy threads $counts at $freqs Hz; scaling line $scale at $top_hz Hz"
for t in $tools; do
	case $t in
	cprof) echo "  cprof:      $CPROF record --sampler=perf -p PID -s S -F HZ --stats" ;;
	cprof-ptrace) echo "  cprof-ptrace: $CPROF record --sampler=ptrace -p PID -s S -F HZ --stats" ;;
	perf-g) echo "  perf-g:     $("$PERF" --version) ($PERF record -e $PERF_EVENT -F HZ -g -p PID -- sleep S)" ;;
	perf-dwarf) echo "  perf-dwarf: $("$PERF" --version) ($PERF record -e $PERF_EVENT -F HZ --call-graph dwarf -p PID -- sleep S)" ;;
	esac
done
case $tools in *perf*)
	echo "  perf's post_cpu: $PERF script -i DATA >/dev/null, after each recording"
	[ "$PERF_EVENT" = cpu-clock ] &&
		echo "  perf samples the cpu-clock software event: no hardware PMU on this machine"
	;;
esac
echo
awk -v tools="baseline $tools" -v freqs="$freqs" -v counts="$all_counts" \
	-v ncpu="$(nproc)" -v attrfile="$attr" -v attrhz="$attr_hz" \
	-v pyfile="$pyf" -v pyver="$py_ver" -v goalsfile="$goalsf" '
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
function verdict(ok) { return ok ? "met" : "not met" }
function goal(s) { print "goal: " s > goalsfile }
# The loss of cprof at HZ against that of PEER, at every thread count.
function lossgoal(hz, peer, slack,   c, k, kp, s, ok, any) {
	ok = 1; s = ""; any = 0
	for (c = 1; c <= nc; c++) {
		k = cl[c] SUBSEP hz SUBSEP "cprof"; kp = cl[c] SUBSEP hz SUBSEP peer
		if (L[k] == "" || L[kp] == "") continue
		any = 1; if (L[k] > L[kp] + slack) ok = 0
		s = s sprintf(" %dt %+.2f vs %+.2f", cl[c], L[k], L[kp])
	}
	goal(sprintf("loss at %d Hz <= %s%s:%s", hz, peer, \
		slack ? sprintf(" + %.1f point", slack) : "", any ? s ": " verdict(ok) : " not measured"))
}
# CPU per 1000 samples of cprof against PEER record + script, everywhere.
function cpugoal(peer,   c, f, k, kp, s, ok, any) {
	ok = 1; s = ""; any = 0
	for (f = 1; f <= nf; f++) for (c = 1; c <= nc; c++) {
		k = cl[c] SUBSEP fl[f] SUBSEP "cprof"; kp = cl[c] SUBSEP fl[f] SUBSEP peer
		if (Q[k] == "" || Q[kp] == "") continue
		any = 1; if (Q[k] > Q[kp]) ok = 0
		s = s sprintf(" %d/%dt %.3f vs %.3f", fl[f], cl[c], Q[k], Q[kp])
	}
	goal(sprintf("cprof CPU s/1000 samples <= %s record + script (Hz/threads):%s", \
		peer, any ? s ": " verdict(ok) : " not measured"))
}
{
	# threads hz mode rep wall units tcpu toolcpu rc elapsed cpu rss samples rec
	# post_cpu post_rss lost note
	k = $1 SUBSEP $2 SUBSEP $3
	if ($18 != "-") notes[k] = notes[k] " " $18
	if ($5 <= 0 || $9 != 0) next
	rate = $6 * 1e9 / $5
	crate = $7 > 0 ? $6 * 1e9 / $7 : 0	# units per CPU second
	n = $1
	if ($3 == "baseline") {
		# Settles the tool windows since the last baseline against the
		# mean of the baselines on both sides.
		for (i = 1; i <= np[n]; i++)
			settle(pk[n, i], prate[n, i], pcrate[n, i], \
				(n in brate) ? (brate[n] + rate) / 2 : rate, \
				(n in brate) ? (bcrate[n] + crate) / 2 : crate)
		np[n] = 0
		brate[n] = rate; bcrate[n] = crate
	} else {
		np[n]++; pk[n, np[n]] = k; prate[n, np[n]] = rate; pcrate[n, np[n]] = crate
	}
	rates[k] = rates[k] " " rate
	cores[k] = cores[k] " " $7 / $5
	runs[k]++
	if ($3 != "baseline") {
		tcpu[k] = tcpu[k] " " $8 * 100 / $5
		if ($11 != "-") rcpu[k] = rcpu[k] " " $11
		if ($3 ~ /^perf/ && $15 != "-") pcpu[k] = pcpu[k] " " $15
		# The peak a user needs: the recording, or perf script after it.
		if ($12 != "-" && $12 > rss[k] + 0) rss[k] = $12
		if ($16 != "-" && $16 > rss[k] + 0) rss[k] = $16
		if ($13 != "-" && $14 > 0) smp[k] = smp[k] " " $13 * 1e9 / $14
		if ($11 != "-" && $15 != "-" && $13 + 0 > 0)
			cpk[k] = cpk[k] " " ($11 + $15) * 1000 / $13
		if ($17 != "-" && $17 + 0 >= lost[k] + 0) lost[k] = $17
	}
}
END {
	for (n in np)	# tool windows after the last baseline
		for (i = 1; i <= np[n]; i++)
			if (n in brate)
				settle(pk[n, i], prate[n, i], pcrate[n, i], brate[n], bcrate[n])
	nt = split(tools, tl, " "); nf = split(freqs, fl, " "); nc = split(counts, cl, " ")

	# Attribution first: its error goes on the throughput rows too.
	na = 0
	while ((getline line < attrfile) > 0) {
		split(line, a, " ")
		na++; A[na] = line
		if (a[5] != "-" && a[8] != "-") {
			err = 0
			for (j = 0; j < 3; j++) {
				d = a[5 + j] - a[8 + j]; if (d < 0) d = -d
				if (d > err) err = d
			}
			AE[a[1] SUBSEP a[2]] = err; atools[a[2]] = 1
		}
	}

	print "Throughput of bench/targets/spin (medians over runs; loss against the baseline windows on both sides)"
	printf "%7s %5s  %-12s %4s %11s %7s %8s %7s %8s %8s %8s %7s %6s %7s %9s %7s  %s\n", \
		"threads", "Hz", "mode", "runs", "iter/s", "loss%", "cpuloss%", "tgt_cpu", "tool_cpu", \
		"run_cpu", "post_cpu", "cpu/1k", "lost", "rss_MB", "samples/s", "err_pts", "notes"
	for (c = 1; c <= nc; c++) for (f = 0; f <= nf; f++) for (t = 1; t <= nt; t++) {
		if ((f == 0) != (tl[t] == "baseline")) continue
		n = cl[c]; hz = f ? fl[f] : "-"; m = tl[t]; k = n SUBSEP hz SUBSEP m
		if (!(k in runs) && !(k in notes)) continue
		L[k] = median(loss[k]); C[k] = median(tcpu[k]); Q[k] = median(cpk[k])
		ak = n SUBSEP m
		line = sprintf("%7d %5s  %-12s %4d %11s %7s %8s %7s %8s %8s %8s %7s %6s %7s %9s %7s  %s", \
			n, hz, m, runs[k], \
			fmt(median(rates[k]), "%.0f"), m == "baseline" ? "-" : fmt(L[k], "%+.2f"), \
			m == "baseline" ? "-" : fmt(median(closs[k]), "%+.2f"), \
			fmt(median(cores[k]), "%.2f"), fmt(C[k], "%.2f%%"), fmt(median(rcpu[k]), "%.2fs"), \
			fmt(median(pcpu[k]), "%.2fs"), fmt(Q[k], "%.3fs"), (k in lost) ? lost[k] : "-", \
			(k in rss) ? sprintf("%.1f", rss[k] / 1024) : "-", fmt(median(smp[k]), "%.0f"), \
			hz == attrhz && (ak in AE) ? sprintf("%.2f", AE[ak]) : "-", notes[k])
		sub(/ +$/, "", line)
		print line
		# At most one core per busy thread, and no more than the machine has.
		if (m == "baseline" && median(cores[k]) < 0.9 * (n < ncpu ? n : ncpu)) busy = busy " " n
	}
	if (busy != "") {
		print ""
		print "  warning: without a tool the target got less than 90% of the cores it could use (threads:" busy ")."
		print "  The machine was busy: loss% is mostly other work'"'"'s noise, read cpuloss%, or rerun on a quiet machine."
	}
	print ""
	print "  loss%: 1 - iter/s / baseline iter/s; cpuloss%: the same per CPU second of the target (what is"
	print "  left when stops and a busy machine are taken out); tgt_cpu: cores the target used in the window"
	print "  tool_cpu: CPU of the tool during the window, % of one core; run_cpu: its user+sys over the whole run"
	print "  (start, symbols, write-out); post_cpu: perf script'"'"'s user+sys on the data (unwind, symbolize);"
	print "  cpu/1k: (run_cpu + post_cpu) / samples x 1000, CPU seconds per 1000 samples; lost: samples lost"
	print "  (cprof-ptrace: ticks missed), the most in one run; rss_MB: peak RSS, recording or perf script;"
	print "  samples/s: samples it reports over its recording; err_pts: the attribution error below"

	if (na) {
		print ""
		print "Attribution on tests/targets/cpu-split: flat % of work_a/work_b/work_c, the target'"'"'s own timing vs the profile"
		printf "%7s  %-12s %5s %5s %8s  %-20s %-20s %7s  %s\n", "threads", "tool", "Hz", "secs", \
			"samples", "truth a/b/c", "profile a/b/c", "err_pts", "notes"
	}
	for (i = 1; i <= na; i++) {
		split(A[i], a, " ")
		ak = a[1] SUBSEP a[2]
		note = a[13] == "-" ? "" : a[13]
		line = sprintf("%7d  %-12s %5d %5d %8s  %-20s %-20s %7s  %s", a[1], a[2], a[3], a[4], a[12], \
			a[5] "/" a[6] "/" a[7], a[8] "/" a[9] "/" a[10], (ak in AE) ? sprintf("%.2f", AE[ak]) : "-", note)
		sub(/ +$/, "", line)
		print line
	}

	# tool hz seconds rc cpu_s rss_kb samples lost
	first = 1
	while ((getline line < pyfile) > 0) {
		split(line, p, " ")
		if (first) { print ""; first = 0 }
		printf "python: %s on Python %s (busy loop), %d Hz, %d s: peak RSS %s MB, CPU %ss, samples %s, lost %s%s\n", \
			p[1], pyver, p[2], p[3], p[6] == "-" ? "-" : sprintf("%.1f", p[6] / 1024), p[5], p[7], p[8], \
			p[4] == 0 ? "" : ", exit " p[4]
		if (p[1] == "cprof" && p[4] == 0 && p[6] != "-") pyrss = p[6] / 1024
	}

	# The goals of cprof record, the perf sampler (informative only).
	has = 0
	for (t = 1; t <= nt; t++) if (tl[t] == "cprof") has = 1
	if (!has) { goal("not measured (no cprof record)"); exit }
	lossgoal(1000, "perf-dwarf", 0)
	lossgoal(1000, "perf-g", 0.5)
	lossgoal(100, "perf-g", 0.2)
	cpugoal("perf-g")
	cpugoal("perf-dwarf")
	ok = 1; s = ""; any = 0
	for (c = 1; c <= nc; c++) {
		k = cl[c] SUBSEP 100 SUBSEP "cprof"
		if (C[k] == "") continue
		any = 1; per = C[k] / cl[c]; if (per >= 1) ok = 0
		s = s sprintf(" %dt %.2f%%/thread", cl[c], per)
	}
	goal("cprof CPU < 1% of a core per busy thread at 100 Hz:" (any ? s ": " verdict(ok) : " not measured"))
	for (c = nc; c >= 1; c--) {
		k = cl[c] SUBSEP 1000 SUBSEP "cprof"
		if (k in lost) break
	}
	if (c >= 1)
		goal(sprintf("lost 0 at 1000 Hz with %d busy threads (8 asked): %s in the worst run: %s", \
			cl[c], lost[k], verdict(lost[k] == 0)))
	else
		goal("lost 0 at 1000 Hz with 8 busy threads: not measured")
	if (pyrss != "")
		goal(sprintf("peak RSS < 40 MB recording Python %s: %.1f MB: %s", pyver, pyrss, \
			verdict(pyrss < 40 && pyver ~ /^3\.11/)))
	else
		goal("peak RSS < 40 MB recording Python 3.11: not measured")
	for (t in atools) {
		ok = 1; s = ""
		for (c = 1; c <= nc; c++) {
			ak = cl[c] SUBSEP t
			if (!(ak in AE)) continue
			if (AE[ak] > 2) ok = 0
			s = s sprintf(" %dt %.2f", cl[c], AE[ak])
		}
		lines[t] = sprintf("attribution within 2 points, %s:%s: %s", t, s, verdict(ok))
	}
	if ("cprof" in lines) goal(lines["cprof"])
	else goal("attribution: not measured")
	for (t in lines) if (t != "cprof") print "  (" lines[t] ")" > goalsfile
}' "$runs"

# What ptrace stops cost a busy thread here with a minimal tracer and
# nothing else to do (bench/targets/stopfloor.c -l): the scale for the
# loss columns, at the highest frequency measured.
floor=$(build stopfloor "$BUILD/bench/stopfloor" "$here/targets/stopfloor.c") ||
	floor=
if [ -n "$floor" ] && set -- $("$floor" -l "$top_hz" "$window") &&
	[ "$1" = loss_pct ]; then
	echo
	# Signed: on a busy machine a window can read a gain.
	printf "floor: a minimal tracer's stops at %s Hz cost a busy thread %+.2f %% (blocking wait), %+.2f %% (spinning wait)\n" \
		"$top_hz" "$2" "$3"
fi
# Where ptrace stops land in a thread that alternates user work with
# system calls that run in the kernel (bench/targets/stopland.c): the floor
# under the ptrace sampler's accuracy on syscall-heavy programs, whatever
# the sampler does with its samples.
land=$(build stopland "$BUILD/bench/stopland" "$here/targets/stopland.c") ||
	land=
if [ -n "$land" ]; then
	echo
	for phases in "5 5" "10 10" "20 20" "100 100"; do
		# shellcheck disable=SC2086 # two words on purpose
		if set -- $("$land" "$top_hz" "$window" $phases) && [ "$1" = land ]; then
			printf "land: %s us user work + %s us read(), stopped %s Hz: in user work %.1f %% of the time, %.1f %% of the stops (interrupt to stop p50 %.0f us)\n" \
				${phases% *} ${phases#* } "$top_hz" "$2" "$3" "$5"
		fi
	done
fi
if [ -s "$statsf" ]; then
	echo
	echo "cprof --stats:"
	sed 's/^/  /' "$statsf"
fi
# The goals last, where a reader of a long run looks first.
if [ -s "$goalsf" ]; then
	echo
	echo "Goals of cprof record with the perf sampler (informative: nothing here fails):"
	cat "$goalsf"
fi
