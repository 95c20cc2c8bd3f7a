# Helpers for the integration tests, sourced by bash scripts:
#   . "$(dirname "$0")/../lib/lib.sh"
#
# Exit codes: 0 pass, 1 fail, 77 skip, 99 framework failure.  Every process
# started here is killed by pid when the script exits, however it exits.

set -u

lib_tmp=$(mktemp -d "${TMPDIR:-/tmp}/cprof-test.XXXXXX") || exit 99
lib_pids=()
lib_failed=0

lib_cleanup()
{
	local pid
	for pid in "${lib_pids[@]}"; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	rm -rf "$lib_tmp"
}
trap lib_cleanup EXIT
trap 'exit 99' HUP INT TERM

# fail MESSAGE: report a failure and keep going; the script ends with
# `finish`, which exits 1 when anything failed.
fail()
{
	printf 'FAIL: %s\n' "$*" >&2
	lib_failed=1
}

# die MESSAGE: a failure that makes the rest of the test pointless.
die()
{
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

skip()
{
	printf 'SKIP: %s\n' "$*" >&2
	exit 77
}

framework_error()
{
	printf 'ERROR: %s\n' "$*" >&2
	exit 99
}

note()
{
	printf '%s\n' "$*" >&2
}

finish()
{
	exit "$lib_failed"
}

# require_file PATH WHAT: a missing build product is a framework failure.
require_file()
{
	[ -e "$1" ] || framework_error "$2 not found: $1"
}

# ---------------------------------------------------------------------------
# Processes

# lib_stat_state TASKDIR: the state letter of /proc/PID/task/TID (R, S, D,
# t, T, ...), read after the ")" that ends the name.
lib_stat_state()
{
	local stat
	stat=$(cat "$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	printf '%s\n' "${stat%% *}"
}

# tids PID: the thread ids of PID, ascending.
tids()
{
	ls "/proc/$1/task" 2>/dev/null | sort -n
}

# thread_name PID TID
thread_name()
{
	cat "/proc/$1/task/$2/comm" 2>/dev/null
}

# tid_of PID NAME: the tid of the (first) thread called NAME.
tid_of()
{
	local tid
	for tid in $(tids "$1"); do
		if [ "$(thread_name "$1" "$tid")" = "$2" ]; then
			printf '%s\n' "$tid"
			return 0
		fi
	done
	return 1
}

# wait_parked PID TIMEOUT [SPINNING-NAME...]: wait until every thread of PID
# except those named SPINNING-NAME is asleep in a system call, and the
# thread list is the same twice in a row.  Returns 1 on timeout.
wait_parked()
{
	local pid=$1 timeout=$2 tid state sc name before="" now ok n
	shift 2
	for ((n = 0; n < timeout * 20; n++)); do
		kill -0 "$pid" 2>/dev/null || return 1
		ok=1
		now=$(tids "$pid" | tr '\n' ' ')
		for tid in $now; do
			name=$(thread_name "$pid" "$tid")
			case " $* " in *" $name "*) continue ;; esac
			state=$(lib_stat_state "/proc/$pid/task/$tid")
			sc=$(cut -d' ' -f1 "/proc/$pid/task/$tid/syscall" 2>/dev/null)
			if [ "$state" != S ] || ! [[ $sc =~ ^[0-9]+$ ]]; then
				ok=0
				break
			fi
		done
		if [ $ok = 1 ] && [ "$now" = "$before" ]; then
			return 0
		fi
		before=$now
		# A bounded poll of the target's state, not a guess at timing.
		sleep 0.05
	done
	return 1
}

# start_target NAME COMMAND [ARGS...]: start a test target that prints
# "ready PID" once parked, with a busy counter in $lib_tmp/NAME.counter.
# Sets TARGET_PID and TARGET_COUNTER.  Waits up to 30 s.  The threads
# named in $lib_spinning (space separated, default "busy") spin instead
# of parking.
lib_spinning=busy
start_target()
{
	local name=$1 line n pid
	shift
	TARGET_COUNTER=$lib_tmp/$name.counter
	: >"$lib_tmp/$name.out"
	CPROF_TARGET_COUNTER=$TARGET_COUNTER "$@" \
		>"$lib_tmp/$name.out" 2>"$lib_tmp/$name.err" </dev/null &
	pid=$!
	lib_pids+=("$pid")
	for ((n = 0; n < 600; n++)); do
		line=$(head -n1 "$lib_tmp/$name.out")
		case $line in
		"ready $pid") break ;;
		"ready "*) framework_error "$name: ready line '$line', pid is $pid" ;;
		esac
		if ! kill -0 "$pid" 2>/dev/null; then
			cat "$lib_tmp/$name.err" >&2
			framework_error "$name exited before it was ready"
		fi
		sleep 0.05
	done
	[ "$line" = "ready $pid" ] ||
		framework_error "$name: no ready line within 30 s"
	# shellcheck disable=SC2086
	wait_parked "$pid" 30 $lib_spinning ||
		framework_error "$name: threads did not park"
	TARGET_PID=$pid
}

# start_program NAME SPINNING-NAMES MIN-THREADS COMMAND [ARGS...]: start a
# program that is not ours, its stdin held open by a fifo we never write
# and stdout discarded; wait until it has MIN-THREADS threads and all but
# SPINNING-NAMES (space separated) are parked.  Sets TARGET_PID.
start_program()
{
	local name=$1 spinning=$2 min=$3 n pid count
	shift 3
	mkfifo "$lib_tmp/$name.in" || framework_error "mkfifo"
	# The fifo's writer: opened read-write so opening never blocks, and
	# it is never written, so the program waits for input for ever.  The
	# shell keeps it open until it exits.
	# shellcheck disable=SC2034
	exec {lib_fifo_fd}<>"$lib_tmp/$name.in"
	"$@" <"$lib_tmp/$name.in" >/dev/null 2>"$lib_tmp/$name.err" &
	pid=$!
	lib_pids+=("$pid")
	for ((n = 0; n < 600; n++)); do
		kill -0 "$pid" 2>/dev/null ||
			framework_error "$name exited: $(cat "$lib_tmp/$name.err")"
		count=$(tids "$pid" | wc -l)
		[ "$count" -ge "$min" ] && break
		sleep 0.05
	done
	[ "$count" -ge "$min" ] ||
		framework_error "$name: $count threads, expected $min"
	# shellcheck disable=SC2086
	wait_parked "$pid" 30 $spinning ||
		framework_error "$name: threads did not park"
	TARGET_PID=$pid
}

# counter_value FILE: the 8-byte busy counter the target keeps.
counter_value()
{
	od -An -t u8 -N8 "$1" 2>/dev/null | tr -d ' '
}

# check_runs_on PID [COUNTER-FILE]: after cprof has finished with PID: no
# thread is stopped or traced, and (with a counter) the busy thread keeps
# counting.  Reports failures with `fail`.
check_runs_on()
{
	local pid=$1 counter=${2:-} tid state tracer c0 c1 n
	kill -0 "$pid" 2>/dev/null || {
		fail "target $pid died"
		return
	}
	for tid in $(tids "$pid"); do
		state=$(lib_stat_state "/proc/$pid/task/$tid")
		case $state in
		t | T) fail "target $pid thread $tid left in state $state" ;;
		esac
		tracer=$(sed -n 's/^TracerPid:[[:space:]]*//p' \
			"/proc/$pid/task/$tid/status" 2>/dev/null)
		[ "${tracer:-0}" = 0 ] ||
			fail "target $pid thread $tid still traced by $tracer"
	done
	tracer=$(sed -n 's/^TracerPid:[[:space:]]*//p' "/proc/$pid/status")
	[ "${tracer:-0}" = 0 ] || fail "target $pid still traced by $tracer"
	[ -n "$counter" ] || return 0
	c0=$(counter_value "$counter")
	for ((n = 0; n < 200; n++)); do
		c1=$(counter_value "$counter")
		[ "$c1" -gt "$c0" ] && return 0
		sleep 0.05
	done
	fail "target $pid stopped counting (counter stays at $c1)"
}

# ---------------------------------------------------------------------------
# cprof

# run_cprof OUT ARGS...: run cprof with ARGS, stdout to OUT, stderr to
# OUT.err; returns cprof's exit status.  A cprof that has not finished
# after 60 s is killed and the run fails (status 124 or 137).
run_cprof()
{
	local out=$1 rc
	shift
	timeout -k 5 60 "$CPROF" "$@" >"$out" 2>"$out.err"
	rc=$?
	case $rc in
	124 | 137) echo "cprof: killed after 60 s" >>"$out.err" ;;
	esac
	return $rc
}

# ---------------------------------------------------------------------------
# --debug=2 output

# d2_threads FILE: "TID NAME" per thread block, in output order.
d2_threads()
{
	sed -n 's/^thread \([0-9][0-9]*\) "\(.*\)" \[.*\]:$/\1 \2/p' "$1"
}

# d2_header FILE TID: the header line of TID's block.
d2_header()
{
	grep -E "^thread $2 \"" "$1"
}

# d2_block FILE TID: the lines of TID's block, header included.
d2_block()
{
	awk -v tid="$2" '
		/^thread [0-9]+ "/ { on = ($2 == tid) }
		/^$/ { on = 0 }
		on' "$1"
}

# d2_named FILE NAME: the frame lines (header left out) of the first
# thread named NAME.
d2_named()
{
	local tid
	tid=$(d2_threads "$1" | awk -v n="$2" '$2 == n { print $1; exit }')
	[ -n "$tid" ] && d2_block "$1" "$tid" | sed 1d
}

# d2_funcs FILE TID: TID's function names, innermost first, one a line,
# without the "(...)" and any " @ 0xPC".
d2_funcs()
{
	d2_block "$1" "$2" | sed '1d' | grep -v '^	' |
		sed -E 's/ @ 0x[0-9a-f]+$//; s/\(\.\.\.\)$//'
}

# d2_chain FILE TID: d2_funcs joined with ";" into one line.
d2_chain()
{
	d2_funcs "$1" "$2" | paste -sd';'
}

# d2_pcs FILE TID: TID's PCs from --pcs output, innermost first.
d2_pcs()
{
	d2_block "$1" "$2" | sed -nE 's/.* @ 0x0*([0-9a-f]+)$/\1/p'
}

# eu_pcs FILE TID: TID's PCs from `eu-stack` output, innermost first.
eu_pcs()
{
	awk -v tid="$2" '
		/^TID / { on = ($2 == tid ":") ; next }
		/^PID / { on = 0 }
		on && /^#[0-9]+ +0x/ { sub(/^0x0*/, "", $2); print $2 }' "$1"
}

# eu_tids FILE: the TIDs in eu-stack output.
eu_tids()
{
	sed -n 's/^TID \([0-9][0-9]*\):$/\1/p' "$1"
}

# squeeze_chain CHAIN: CHAIN with runs of one name shown as NAME{COUNT}.
squeeze_chain()
{
	printf '%s\n' "$1" | tr ';' '\n' | awk '
		function put() { if (n) { out = out sep prev (n > 1 ? "{" n "}" : ""); sep = ";" } }
		$0 == prev && n { n++; next }
		{ put(); prev = $0; n = 1 }
		END { put(); print out }'
}

# expect_chain WHAT CHAIN REGEX: CHAIN must match REGEX as a whole.
expect_chain()
{
	if printf '%s\n' "$2" | grep -qE -x -e "$3"; then
		return 0
	fi
	fail "$1: stack does not match
  expected: $3
  got:      $(squeeze_chain "$2")"
	return 1
}

# ---------------------------------------------------------------------------
# cprof record

# require_go: skip unless `go tool pprof` can run.
require_go()
{
	command -v go >/dev/null ||
		skip "go not installed (Debian package golang-go)"
}

# go_pprof ARGS...: go tool pprof, offline, with its caches and HOME in
# our temporary directory.
go_pprof()
{
	mkdir -p "$lib_tmp/go"
	env GOPROXY=off GO111MODULE=off GOFLAGS= GOCACHE="$lib_tmp/go/cache" \
		HOME="$lib_tmp/go" GOPATH="$lib_tmp/go" \
		PPROF_TMPDIR="$lib_tmp/go" go tool pprof "$@"
}

# target_report NAME PID SEQ: ask a target that reports on SIGUSR1
# (cpu-split, wakeups) for report SEQ and print it without "report SEQ ".
# Waits up to 20 s; returns 1 when no report comes.
target_report()
{
	local name=$1 pid=$2 seq=$3 line n
	kill -USR1 "$pid" 2>/dev/null || return 1
	for ((n = 0; n < 400; n++)); do
		line=$(grep -m1 "^report $seq " "$lib_tmp/$name.out")
		if [ -n "$line" ]; then
			printf '%s\n' "${line#"report $seq "}"
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# report_field REPORT KEY: the number after KEY in a target's report.
report_field()
{
	printf '%s\n' "$1" | awk -v key="$2" '
		{ for (i = 1; i < NF; i++) if ($i == key) { print $(i + 1); exit } }'
}

# top_flat TOP FUNC: the flat% of FUNC (exact name) in `go tool pprof -top`
# output or cprof --format=top output, without "%"; 0 when absent.
top_flat()
{
	awk -v fn="$2" '
		/^ +flat +flat%/ { on = 1; next }
		on && NF >= 6 {
			name = $6
			for (i = 7; i <= NF; i++) name = name " " $i
			sub(/ \((partial-)?inline\)$/, "", name)
			if (name == fn) { sub(/%$/, "", $2); print $2 + 0; found = 1; exit }
		}
		END { if (!found) print 0 }' "$1"
}

# raw_samples RAW: the samples of `go tool pprof -raw` output, one a line:
# VALUE1<tab>VALUE2<tab>THREAD_ID<tab>THREAD_NAME<tab>STATE<tab>WAIT<tab>LOCATIONS
# (VALUE2 empty for a profile with one sample type).
raw_samples()
{
	awk '
		function label(line, key,   m) {
			if (match(line, "(^|[ \t])" key ":\\[[^]]*\\]")) {
				m = substr(line, RSTART, RLENGTH)
				sub(/^[ \t]/, "", m)
				return substr(m, length(key) + 3, length(m) - length(key) - 3)
			}
			return ""
		}
		function put() {
			if (have)
				printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v1, v2, tid, name, state, wait, locs
			have = 0
		}
		/^Samples:$/ { on = 1; getline; next }
		/^Locations/ { put(); on = 0 }
		!on { next }
		/^ +[0-9]+( +[0-9]+)?: / {
			put(); have = 1
			v1 = $1 + 0; v2 = ""
			if ($2 ~ /:$/) { sub(/:$/, "", $2); v2 = $2 + 0; i = 3 } else i = 2
			locs = ""
			for (; i <= NF; i++) locs = locs (locs == "" ? "" : " ") $i
			tid = name = state = wait = ""
			next
		}
		{
			# A numeric label may carry its unit: thread_id:[123 ].
			if (label($0, "thread_id") != "") {
				tid = label($0, "thread_id")
				sub(/ .*/, "", tid)
			}
			if (label($0, "thread_name") != "") name = label($0, "thread_name")
			if (label($0, "state") != "") state = label($0, "state")
			if (label($0, "wait") != "") wait = label($0, "wait")
		}
		END { put() }' "$1"
}

# within A B POINTS: A and B (numbers) differ by at most POINTS.
within()
{
	awk -v a="$1" -v b="$2" -v d="$3" \
		'BEGIN { x = a - b; if (x < 0) x = -x; exit !(x <= d) }'
}

# share PART WHOLE: PART as a percentage of WHOLE, two decimals.
share()
{
	awk -v p="$1" -v w="$2" 'BEGIN { printf "%.2f\n", (w > 0 ? 100 * p / w : 0) }'
}

# start_cprof OUT ARGS...: start cprof with ARGS in the background, stdout
# to OUT, stderr to OUT.err, SIGINT and SIGQUIT at their defaults (as from
# a terminal, not ignored as for a background job).  Sets CPROF_PID.
start_cprof()
{
	local out=$1
	shift
	env --default-signal=INT,QUIT "$CPROF" "$@" >"$out" 2>"$out.err" &
	CPROF_PID=$!
	lib_pids+=("$CPROF_PID")
}

# wait_exit PID TIMEOUT: wait for our child PID to exit, at most TIMEOUT
# seconds; sets WAIT_STATUS to its exit status.  Returns 1 on timeout.
wait_exit()
{
	local pid=$1 timeout=$2 n
	for ((n = 0; n < timeout * 20; n++)); do
		if ! kill -0 "$pid" 2>/dev/null ||
			[ "$(lib_stat_state "/proc/$pid")" = Z ]; then
			wait "$pid"
			WAIT_STATUS=$?
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# wait_traced PID TRACER TIMEOUT: wait until TRACER traces PID.
wait_traced()
{
	local n tracer
	for ((n = 0; n < $3 * 20 || n == 0; n++)); do
		tracer=$(sed -n 's/^TracerPid:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null)
		# cprof record traces from a thread of its own: TracerPid
		# names that thread, one of cprof's tasks.
		[ -n "$tracer" ] && [ "$tracer" != 0 ] &&
			[ -d "/proc/$2/task/$tracer" ] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		[ "$3" = 0 ] && return 1
		sleep 0.05
	done
	return 1
}

# wait_line FILE LINE TIMEOUT: wait until FILE holds the line LINE.
wait_line()
{
	local n
	for ((n = 0; n < $3 * 20; n++)); do
		grep -qxF -e "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# wait_sampling PID CPROF TIMEOUT: wait until CPROF samples PID: traces it
# (the ptrace sampler) or holds perf events (the perf sampler of CPU mode,
# which neither traces nor stops).
wait_sampling()
{
	local n fd
	for ((n = 0; n < $3 * 20; n++)); do
		wait_traced "$1" "$2" 0 && return 0
		for fd in /proc/"$2"/fd/*; do
			case $(readlink "$fd" 2>/dev/null) in
			*perf_event*) return 0 ;;
			esac
		done
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# wait_process_cpu PID NS TIMEOUT: wait until the threads of PID have used
# NS more nanoseconds of CPU time than when called.
wait_process_cpu()
{
	local n start now
	start=$(process_cpu_ns "$1") || return 1
	for ((n = 0; n < $3 * 20; n++)); do
		now=$(process_cpu_ns "$1") || return 1
		[ $((now - start)) -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

# process_cpu_ns PID: the CPU time of all PID's threads, in nanoseconds.
process_cpu_ns()
{
	cat /proc/"$1"/task/*/schedstat 2>/dev/null |
		awk '{ s += $1 } END { if (NR == 0) exit 1; print s }'
}

# switches PID TID: the voluntary context switches of a thread.  A thread
# that spins without system calls makes none of its own: each one is a
# stop by a tracer.
switches()
{
	sed -n 's/^voluntary_ctxt_switches:[[:space:]]*//p' \
		"/proc/$1/task/$2/status" 2>/dev/null
}

# wait_switches PID TID COUNT TIMEOUT: wait until TID has made COUNT more
# voluntary context switches than now, i.e. a tracer stopped it COUNT times.
wait_switches()
{
	local c0 c n
	c0=$(switches "$1" "$2") || return 1
	for ((n = 0; n < $4 * 20; n++)); do
		c=$(switches "$1" "$2")
		[ -n "$c" ] && [ "$c" -ge $((c0 + $3)) ] && return 0
		sleep 0.05
	done
	return 1
}

# ---------------------------------------------------------------------------
# Safety: targets that never park, whole-process checks that read /proc once

# start_ready NAME COMMAND [ARGS...]: start a target that prints a line
# "ready PID" (not necessarily its first) and wait for that line only, for
# targets whose thread list never settles (thread storms) or is too long to
# check thread by thread.  Sets TARGET_PID and TARGET_COUNTER as
# start_target does.  Waits up to TIMEOUT_READY seconds (default 60).
start_ready()
{
	local name=$1 line n pid
	shift
	TARGET_COUNTER=$lib_tmp/$name.counter
	: >"$lib_tmp/$name.out"
	CPROF_TARGET_COUNTER=$TARGET_COUNTER "$@" \
		>"$lib_tmp/$name.out" 2>"$lib_tmp/$name.err" </dev/null &
	pid=$!
	lib_pids+=("$pid")
	for ((n = 0; n < ${TIMEOUT_READY:-60} * 20; n++)); do
		line=$(grep -m1 '^ready ' "$lib_tmp/$name.out")
		case $line in
		"ready $pid") break ;;
		"ready "*) framework_error "$name: ready line '$line', pid is $pid" ;;
		esac
		if ! kill -0 "$pid" 2>/dev/null; then
			cat "$lib_tmp/$name.err" >&2
			framework_error "$name exited before it was ready"
		fi
		sleep 0.05
	done
	[ "$line" = "ready $pid" ] ||
		framework_error "$name: no ready line within ${TIMEOUT_READY:-60} s"
	TARGET_PID=$pid
}

# held_tasks PID: one line "TID STATE TRACER" for each thread of PID that
# is stopped (t, T) or traced; nothing when PID runs free.  Reads every
# thread's stat and status in one pass, so it suits thousands of threads;
# a thread that ends meanwhile is skipped.
held_tasks()
{
	local dir=/proc/$1/task
	{
		cat "$dir"/*/stat 2>/dev/null | awk '{
			s = $0
			sub(/^.*\) /, "", s)
			split(s, f, " ")
			print "S", $1, f[1]
		}'
		grep -H '^TracerPid:' "$dir"/*/status 2>/dev/null | awk '{
			n = split($1, p, "/")
			print "T", p[n - 1], $2
		}'
	} | awk '
		$1 == "S" { state[$2] = $3; seen[$2] = 1 }
		$1 == "T" { tracer[$2] = $3; seen[$2] = 1 }
		END {
			for (t in seen)
				if (state[t] == "t" || state[t] == "T" ||
				    (tracer[t] != "" && tracer[t] != 0))
					print t, (state[t] == "" ? "?" : state[t]), \
						(tracer[t] == "" ? "?" : tracer[t])
		}' | sort -n
}

# task_states PID: the state letters of PID's threads, counted, sorted:
# "17 S" lines.
task_states()
{
	cat /proc/"$1"/task/*/stat 2>/dev/null | awk '{
		s = $0
		sub(/^.*\) /, "", s)
		split(s, f, " ")
		n[f[1]]++
	} END { for (k in n) print n[k], k }' | sort -k2
}

# wait_let_go PID TIMEOUT: wait until no thread of PID is stopped or
# traced; returns 1 on timeout with the held threads in HELD.
wait_let_go()
{
	local n
	for ((n = 0; n < $2 * 20; n++)); do
		HELD=$(held_tasks "$1")
		[ -z "$HELD" ] && return 0
		sleep 0.05
	done
	return 1
}

# wait_group_stopped PID TIMEOUT: wait until every thread of PID is in
# state T (job-control stop) and none is traced; returns 1 on timeout,
# with the states in STATES.
wait_group_stopped()
{
	local n tracers
	for ((n = 0; n < $2 * 20; n++)); do
		STATES=$(task_states "$1")
		tracers=$(grep -h '^TracerPid:' /proc/"$1"/task/*/status \
			2>/dev/null | awk '$2 != 0' | wc -l)
		if [ -n "$STATES" ] && [ "$(printf '%s\n' "$STATES" |
			awk '{ print $2 }')" = T ] && [ "$tracers" = 0 ]; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# counter_rises COUNTER TIMEOUT: wait until the busy counter in file
# COUNTER moves; returns 1 when it stays put for TIMEOUT seconds.
counter_rises()
{
	local c0 n
	c0=$(counter_value "$1")
	for ((n = 0; n < $2 * 20; n++)); do
		sleep 0.05
		[ "$(counter_value "$1")" != "$c0" ] && return 0
	done
	return 1
}

# check_free PID [COUNTER] WHAT: check_runs_on for any number of threads:
# the target lives, no thread stays stopped or traced (waiting up to 5 s
# for threads on their way out of a stop), the counter moves.
check_free()
{
	local pid=$1 counter=$2 what=$3
	kill -0 "$pid" 2>/dev/null || {
		fail "$what: target $pid died"
		return 1
	}
	wait_let_go "$pid" 5 || {
		fail "$what: threads of $pid left stopped or traced" \
			"(tid state tracer): $(printf '%s\n' "$HELD" | head -5 |
				paste -sd,)"
		return 1
	}
	[ -z "$counter" ] || counter_rises "$counter" 10 || {
		fail "$what: target $pid stopped counting"
		return 1
	}
}

# pprof_samples PROF: sets PPROF_SAMPLES to the number of samples in PROF
# as `go tool pprof -raw` reads it (the sum of the first values: pprof
# merges equal samples); returns 1, with pprof's complaint in PPROF_ERROR,
# when pprof cannot read it.
pprof_samples()
{
	PPROF_ERROR='' PPROF_SAMPLES=''
	[ -s "$1" ] || {
		PPROF_ERROR="no profile written"
		return 1
	}
	go_pprof -raw "$1" >"$1.raw" 2>"$1.raw.err" || {
		PPROF_ERROR=$(head -3 "$1.raw.err")
		return 1
	}
	PPROF_SAMPLES=$(raw_samples "$1.raw" |
		awk -F'\t' '{ s += $1 } END { print s + 0 }')
}

# start_zombie: a child that exited and whose parent (sleep) never reaps
# it, made by helpers/zombie.sh; sets ZOMBIE and ZOMBIE_PARENT (end it
# with end_target when done).
start_zombie()
{
	local n file=$lib_tmp/zombie.$RANDOM
	sh "$(dirname "${BASH_SOURCE[0]}")/../helpers/zombie.sh" "$file" 60 &
	ZOMBIE_PARENT=$!
	lib_pids+=("$ZOMBIE_PARENT")
	for ((n = 0; n < 1200; n++)); do
		ZOMBIE=$(cat "$file" 2>/dev/null)
		[ -n "$ZOMBIE" ] && [ "$(lib_stat_state "/proc/$ZOMBIE")" = Z ] && return 0
		sleep 0.05
	done
	framework_error "no zombie made"
}

# forget_pid PID: PID has been reaped: do not kill it at exit, when the
# number may name another process.
forget_pid()
{
	local i
	for i in "${!lib_pids[@]}"; do
		[ "${lib_pids[$i]}" = "$1" ] && unset "lib_pids[$i]"
	done
}

# end_target PID: kill our child PID, reap it quietly and forget it.
end_target()
{
	kill -KILL "$1" 2>/dev/null
	{ wait "$1"; } 2>/dev/null
	forget_pid "$1"
}

# kill_round MODE DELAY PID COUNTER: one round of kill safety.  Starts
# cprof against PID (MODE cpu or wall: record at -F 1000; threads), sends
# it SIGKILL after DELAY milliseconds, or as soon as it traces PID when
# DELAY is "attach", reaps it and checks the target runs on.  Sets
# KILL_TRACED to 1 when PID was traced just before the kill, KILL_STATUS to
# cprof's status.  Returns 1 when the round failed.
kill_round()
{
	local mode=$1 delay=$2 pid=$3 counter=$4 out=$lib_tmp/kill n k v
	local args
	case $mode in
	cpu) args=(record --sampler=ptrace -p "$pid" -F 1000 -s 60 -o "$out.prof") ;;
	wall) args=(record --mode=wall -p "$pid" -F 1000 -s 60 -o "$out.prof") ;;
	threads) args=(threads -p "$pid" -o "$out.prof") ;;
	*) framework_error "kill_round: mode '$mode'" ;;
	esac
	KILL_TRACED=0
	start_cprof "$out" "${args[@]}"
	if [ "$delay" = attach ]; then
		# Read with builtins only, so the kill follows the seize
		# within microseconds.
		for ((n = 0; n < 200000; n++)); do
			while read -r k v; do
				[ "$k" = TracerPid: ] && break
			done <"/proc/$pid/status"
			[ "${v:-0}" != 0 ] && break
			kill -0 "$CPROF_PID" 2>/dev/null || break
		done
	else
		sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
	fi
	while read -r k v; do
		[ "$k" = TracerPid: ] && break
	done <"/proc/$pid/status"
	[ "${v:-0}" != 0 ] && KILL_TRACED=1
	kill -KILL "$CPROF_PID" 2>/dev/null
	{ wait "$CPROF_PID"; } 2>/dev/null
	KILL_STATUS=$?
	forget_pid "$CPROF_PID"
	case $KILL_STATUS in
	0 | 137) ;;
	*)
		fail "kill round $mode $delay: cprof exited $KILL_STATUS:" \
			"$(head -3 "$out.err")"
		;;
	esac
	check_free "$pid" "$counter" "kill round $mode $delay"
}

# ---------------------------------------------------------------------------
# The signals target (tests/targets/signals.c)

# signals_report NAME PID: ask the signals target started as NAME for a
# report; sets SIG_RT, SIG_LAST, SIG_ORDER, SIG_CHLD, SIG_REAPED, SIG_LOST,
# SIG_TIMER, SIG_EXPECT.  Returns 1 when no report comes.
signals_seq=0
signals_report()
{
	local r
	signals_seq=$((signals_seq + 1))
	r=$(target_report "$1" "$2" "$signals_seq") || return 1
	SIG_RT=$(report_field "$r" rt)
	SIG_LAST=$(report_field "$r" last)
	SIG_ORDER=$(report_field "$r" order)
	SIG_CHLD=$(report_field "$r" chld)
	SIG_REAPED=$(report_field "$r" reaped)
	SIG_LOST=$(report_field "$r" lost)
	SIG_TIMER=$(report_field "$r" timer)
	SIG_EXPECT=$(report_field "$r" expect)
}

# signals_received NAME PID TOTAL TIMEOUT: wait until the target has
# received TOTAL queued signals; returns 1 on timeout (the last report's
# figures stay in SIG_*).
signals_received()
{
	local n
	for ((n = 0; n < $4 * 10; n++)); do
		signals_report "$1" "$2" || return 1
		[ "$SIG_RT" -ge "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

# signals_timer_kept NAME PID TIMEOUT: wait for a report in which the
# target has received every timer expiry due (none lost, none on its way);
# returns 1 on timeout, with the smallest shortfall seen in SIG_SHORT.
signals_timer_kept()
{
	local n short
	SIG_SHORT=
	for ((n = 0; n < $3 * 10; n++)); do
		signals_report "$1" "$2" || return 1
		short=$((SIG_EXPECT - SIG_TIMER))
		if [ -z "$SIG_SHORT" ] || [ "$short" -lt "$SIG_SHORT" ]; then
			SIG_SHORT=$short
		fi
		[ "$short" -le 0 ] && return 0
		sleep 0.1
	done
	return 1
}

# signals_stream SIGNALS PID FIRST COUNT RATE: queue COUNT SIGRTMIN to the
# signals target PID, numbered from FIRST, RATE a second, with the target's
# own sender mode (binary SIGNALS); sets STREAM_FULL to the times the
# queue was full.  Returns 1 when the sender failed.
signals_stream()
{
	local line
	line=$(timeout -k 5 120 "$1" send "$2" "$3" "$4" "$5") || return 1
	STREAM_FULL=$(report_field "$line" full)
}
