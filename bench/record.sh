#!/bin/sh
# bench/record.sh: what sampling a CPU-bound process costs it, `cprof record`
# against `perf record -g` and `perf record --call-graph dwarf` at the same
# frequency, and how truly each one splits CPU time between functions.
#
# usage: sh bench/record.sh [-r REPS] [-s SECONDS] [-F "HZ..."] [-n "THREADS..."]
#                           [-a SECONDS] [-A HZ] [-T "TOOLS"] [-t TIMEOUT_S] [-v]
#
# Throughput: for each thread count one target (bench/targets/spin.c) runs;
# for each repetition and frequency, a baseline window without any tool, then
# one window inside each tool's recording, interleaved.  The target counts its
# own work units; loss is 1 - rate under the tool / rate of the baseline of
# the same repetition.  Each tool runs under /usr/bin/time for its CPU time
# and peak RSS.
# Attribution: bench's peer target tests/targets/cpu-split knows the share of
# its CPU time spent in work_a, work_b and work_c; each tool records it and
# the script compares the flat shares.  See bench/README.md.
#
# Environment: BUILD (meson build dir, default ./build), CPROF (cprof binary,
# default $BUILD/cmd/cprof), PERF (default perf), PERF_EVENT (default cycles
# when the machine has a PMU, else cpu-clock), CC (to build the targets when
# $BUILD lacks them).

# shellcheck disable=SC2046 # $(...) split into words on purpose
set -u

reps=3
window=2
freqs="100 1000"
counts="1 2"
attr_s=6
attr_hz=1000
want_tools="cprof cprof-ptrace perf-g perf-dwarf"
timeout_s=60
verbose=0
lead=0.5	# seconds between a tool's first sample and the window

usage() {
	echo "usage: sh bench/record.sh [-r REPS] [-s SECONDS] [-F \"HZ...\"] [-n \"THREADS...\"] [-a SECONDS] [-A HZ] [-T \"TOOLS\"] [-t TIMEOUT_S] [-v]" >&2
	exit 64
}

while getopts r:s:F:n:a:A:T:t:vh opt; do
	case $opt in
	r) reps=$OPTARG ;;
	s) window=$OPTARG ;;
	F) freqs=$OPTARG ;;
	n) counts=$OPTARG ;;
	a) attr_s=$OPTARG ;;
	A) attr_hz=$OPTARG ;;
	T) want_tools=$OPTARG ;;
	t) timeout_s=$OPTARG ;;
	v) verbose=1 ;;
	*) usage ;;
	esac
done
for v in "$reps" "$window" "$attr_s" "$attr_hz" "$timeout_s" $freqs $counts; do
	case $v in '' | *[!0-9]*) usage ;; esac
done
if [ "$reps" -lt 1 ] || [ "$window" -lt 1 ] || [ "$attr_hz" -lt 1 ]; then
	usage
fi
for v in $freqs $counts; do [ "$v" -ge 1 ] || usage; done
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

# --- throughput ----------------------------------------------------------------

# One line per window:
#   threads hz mode rep wall_ns units target_cpu_ns tool_cpu_ns
#   rc elapsed_s cpu_s rss_kb samples recording_ns note
# the first four figures over the window, the next four over the whole tool
# run.
runs=$tmp/runs
: >"$runs"
statsf=$tmp/cprof-stats
: >"$statsf"

# measure N HZ MODE REP
measure() {
	m_n=$1 m_hz=$2 m_mode=$3 m_rep=$4
	m_what="$m_n threads, $m_hz Hz, $m_mode"
	[ "$m_mode" = baseline ] && m_what="$m_n threads, baseline"
	note='' rc=0 tres="- - -" smp=- p0='' p1='' rec=0
	if [ "$m_mode" = baseline ]; then
		p0=$(spin_point)
		sleep "$window"
		p1=$(spin_point)
	else
		# Recorded for longer than needed, and ended right after the
		# window the way a user ends it early.
		start_tool "$m_mode" "$m_hz" $((window + 30)) "$tmp/out" pprof
		if wait_sampling "$m_mode"; then
			r0=$(now_ns)
			sleep "$lead"
			p0=$(spin_point)
			sleep "$window"
			p1=$(spin_point)
			sampling "$m_mode" || note="recording_ended_early;"
			stop_recording "$m_mode"
			rec=$(($(now_ns) - r0))
		else
			note="never_sampled;"
		fi
		finish_tool
		rc=$ft_rc tres=$ft_res
		# perf exits with the status of its `sleep`, ended by SIGTERM.
		case $m_mode in cprof*) ;; *) [ "$rc" = 143 ] && [ "$rec" != 0 ] && rc=0 ;; esac
		smp=$(tool_samples "$m_mode")
		case $m_mode in cprof*)
			grep -E '^cprof: (ticks|samples)' "$tmp/tool.err" |
				sed "s/^/$m_mode, $m_n threads, $m_hz Hz, run $m_rep: /" >>"$statsf" ;;
		esac
		if [ "$rc" != 0 ]; then
			note="${note}exit_$rc;"
			log "$m_what: exit $rc: $(tail -n 2 "$tmp/tool.err" | tr '\n' ' ')"
		fi
		rm -f "$tmp/out"
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
	echo "$m_n $m_hz $m_mode $m_rep $delta $rc $tres $smp $rec ${note:--}" >>"$runs"
	vlog "$m_what, run $m_rep: $(echo "$delta" | awk '
		$1 > 0 { printf "%.0f units/s, target %.2f cores, tool %.2f%%", $2 * 1e9 / $1, $3 / $1, $4 * 100 / $1 }'), tool (exit elapsed_s cpu_s rss_kb) $rc $tres, samples $smp ${note}"
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

# --- the runs ------------------------------------------------------------------

started=$(date '+%Y-%m-%d %H:%M')
load0=$(cut -d' ' -f1-3 /proc/loadavg)
ntools=$(echo "$tools" | wc -w)
for nthreads in $counts; do
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
		for hz in $freqs; do
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
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the tables ----------------------------------------------------------------

echo "cprof record bench, $started, $(uname -srm), $(nproc) cores, load average $load0 -> $load1"
echo "  $reps runs of ${window} s windows, each starting ${lead} s after the tool's first sample; the recording ends right after it"
for t in $tools; do
	case $t in
	cprof) echo "  cprof:      $CPROF record --sampler=perf -p PID -s S -F HZ --stats" ;;
	cprof-ptrace) echo "  cprof-ptrace: $CPROF record --sampler=ptrace -p PID -s S -F HZ --stats" ;;
	perf-g) echo "  perf-g:     $("$PERF" --version) ($PERF record -e $PERF_EVENT -F HZ -g -p PID -- sleep S)" ;;
	perf-dwarf) echo "  perf-dwarf: $("$PERF" --version) ($PERF record -e $PERF_EVENT -F HZ --call-graph dwarf -p PID -- sleep S)" ;;
	esac
done
case $tools in *perf*)
	[ "$PERF_EVENT" = cpu-clock ] &&
		echo "  perf samples the cpu-clock software event: no hardware PMU on this machine"
	;;
esac
echo
awk -v tools="baseline $tools" -v freqs="$freqs" -v counts="$counts" \
	-v attrfile="$attr" '
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
{
	# threads hz mode rep wall units tcpu toolcpu rc elapsed cpu rss samples rec note
	k = $1 SUBSEP $2 SUBSEP $3
	if ($15 != "-") notes[k] = notes[k] " " $15
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
		if ($12 != "-" && $12 > rss[k] + 0) rss[k] = $12
		if ($13 != "-" && $14 > 0) smp[k] = smp[k] " " $13 * 1e9 / $14
	}
}
END {
	for (n in np)	# tool windows after the last baseline
		for (i = 1; i <= np[n]; i++)
			if (n in brate)
				settle(pk[n, i], prate[n, i], pcrate[n, i], brate[n], bcrate[n])
	nt = split(tools, tl, " "); nf = split(freqs, fl, " "); nc = split(counts, cl, " ")
	print "Throughput of bench/targets/spin (medians over runs; loss against the baseline windows on both sides)"
	printf "%7s %5s  %-10s %4s %11s %7s %8s %7s %8s %8s %7s %9s  %s\n", "threads", "Hz", "mode", \
		"runs", "iter/s", "loss%", "cpuloss%", "tgt_cpu", "tool_cpu", "run_cpu", "rss_MB", "samples/s", "notes"
	for (c = 1; c <= nc; c++) for (f = 0; f <= nf; f++) for (t = 1; t <= nt; t++) {
		if ((f == 0) != (tl[t] == "baseline")) continue
		n = cl[c]; hz = f ? fl[f] : "-"; m = tl[t]; k = n SUBSEP hz SUBSEP m
		if (!(k in runs) && !(k in notes)) continue
		L[k] = median(loss[k]); C[k] = median(tcpu[k])
		line = sprintf("%7d %5s  %-10s %4d %11s %7s %8s %7s %8s %8s %7s %9s  %s", n, hz, m, runs[k], \
			fmt(median(rates[k]), "%.0f"), m == "baseline" ? "-" : fmt(L[k], "%+.2f"), \
			m == "baseline" ? "-" : fmt(median(closs[k]), "%+.2f"), \
			fmt(median(cores[k]), "%.2f"), fmt(C[k], "%.2f%%"), fmt(median(rcpu[k]), "%.2fs"), \
			(k in rss) ? sprintf("%.1f", rss[k] / 1024) : "-", fmt(median(smp[k]), "%.0f"), notes[k])
		sub(/ +$/, "", line)
		print line
		if (m == "baseline" && median(cores[k]) < 0.9 * n) busy = busy " " n
	}
	if (busy != "") {
		print ""
		print "  warning: without a tool the target got less than 90% of a core per busy thread (threads:" busy ")."
		print "  The machine was busy: loss% is mostly other work'"'"'s noise, read cpuloss%, or rerun on a quiet machine."
	}
	print ""
	print "  loss%: 1 - iter/s / baseline iter/s; cpuloss%: the same per CPU second of the target (what is"
	print "  left when stops and a busy machine are taken out); tgt_cpu: cores the target used in the window"
	print "  tool_cpu: CPU of the tool during the window, % of one core; run_cpu: its user+sys over the whole run"
	print "  (start, symbols, write-out); rss_MB: its peak RSS; samples/s: samples it reports over its recording"

	na = 0
	while ((getline line < attrfile) > 0) {
		split(line, a, " ")
		na++; A[na] = line
	}
	if (na) {
		print ""
		print "Attribution on tests/targets/cpu-split: flat % of work_a/work_b/work_c, the target'"'"'s own timing vs the profile"
		printf "%7s  %-10s %5s %5s %8s  %-20s %-20s %7s  %s\n", "threads", "tool", "Hz", "secs", \
			"samples", "truth a/b/c", "profile a/b/c", "err_pts", "notes"
	}
	for (i = 1; i <= na; i++) {
		split(A[i], a, " ")
		err = ""
		if (a[5] != "-" && a[8] != "-") {
			err = 0
			for (j = 0; j < 3; j++) {
				d = a[5 + j] - a[8 + j]; if (d < 0) d = -d
				if (d > err) err = d
			}
			ak = a[1] SUBSEP a[2]; AE[ak] = err; atools[a[2]] = 1
		}
		note = a[13] == "-" ? "" : a[13]
		line = sprintf("%7d  %-10s %5d %5d %8s  %-20s %-20s %7s  %s", a[1], a[2], a[3], a[4], a[12], \
			a[5] "/" a[6] "/" a[7], a[8] "/" a[9] "/" a[10], fmt(err, "%.2f"), note)
		sub(/ +$/, "", line)
		print line
	}

	# The goals of cprof record (issue 3).
	print ""
	has = 0
	for (t = 1; t <= nt; t++) if (tl[t] == "cprof") has = 1
	if (!has) { print "goals: not measured (no cprof record)"; exit }
	for (f = 1; f <= nf; f++) {
		hz = fl[f]
		lim = hz <= 100 ? 1 : (hz <= 1000 ? 5 : "")
		if (lim == "") continue
		ok = 1; s = ""; any = 0
		for (c = 1; c <= nc; c++) {
			k = cl[c] SUBSEP hz SUBSEP "cprof"
			if (L[k] == "") { ok = 0; s = s sprintf(" %dt -", cl[c]); continue }
			any = 1; if (L[k] > lim) ok = 0
			s = s sprintf(" %dt %+.2f%%", cl[c], L[k])
		}
		printf "goal: loss <= %d%% at %d Hz:%s: %s\n", lim, hz, any ? s : " not measured", verdict(ok && any)
	}
	for (p = 1; p <= nt; p++) {
		if (tl[p] !~ /^perf/) continue
		ok = 1; s = ""; any = 0
		for (f = 1; f <= nf; f++) for (c = 1; c <= nc; c++) {
			k = cl[c] SUBSEP fl[f] SUBSEP "cprof"; kp = cl[c] SUBSEP fl[f] SUBSEP tl[p]
			if (L[k] == "" || L[kp] == "") { ok = 0; continue }
			any = 1; if (L[k] > L[kp] + 0.5) ok = 0
			s = s sprintf(" %dHz/%dt %+.2f vs %+.2f", fl[f], cl[c], L[k], L[kp])
		}
		printf "goal: loss <= %s + 0.5 point:%s: %s\n", tl[p], any ? s : " not measured", verdict(ok && any)
	}
	ok = 1; s = ""; any = 0
	for (c = 1; c <= nc; c++) {
		k = cl[c] SUBSEP 100 SUBSEP "cprof"
		if (C[k] == "") continue
		any = 1; per = C[k] / cl[c]; if (per > 2) ok = 0
		s = s sprintf(" %dt %.2f%%/thread", cl[c], per)
	}
	if (any) printf "goal: cprof CPU <= 2%% of a core per busy thread at 100 Hz:%s: %s\n", s, verdict(ok)
	else print "goal: cprof CPU at 100 Hz: not measured"
	for (t in atools) {
		ok = 1; s = ""
		for (c = 1; c <= nc; c++) {
			ak = cl[c] SUBSEP t
			if (!(ak in AE)) { ok = 0; continue }
			if (AE[ak] > 2) ok = 0
			s = s sprintf(" %dt %.2f", cl[c], AE[ak])
		}
		lines[t] = sprintf("attribution within 2 points, %s:%s: %s", t, s, verdict(ok))
	}
	if ("cprof" in lines) print "goal: " lines["cprof"]
	else print "goal: attribution: not measured"
	for (t in lines) if (t != "cprof") print "  (" lines[t] ")"
}' "$runs"

# What ptrace stops cost a busy thread here with a minimal tracer and
# nothing else to do (bench/targets/stopfloor.c -l): the scale for the
# loss columns, at the highest frequency measured.
floor_hz=$(echo $freqs | tr ' ' '\n' | sort -n | tail -1)
floor=$(build stopfloor "$BUILD/bench/stopfloor" "$here/targets/stopfloor.c") ||
	floor=
if [ -n "$floor" ] && set -- $("$floor" -l "$floor_hz" "$window") &&
	[ "$1" = loss_pct ]; then
	echo "floor: a minimal tracer's stops at $floor_hz Hz cost a busy thread +$2 % (blocking wait), +$3 % (spinning wait)"
fi
if [ -s "$statsf" ]; then
	echo
	echo "cprof --stats:"
	sed 's/^/  /' "$statsf"
fi
