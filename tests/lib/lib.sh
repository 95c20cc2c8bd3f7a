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
# Sets TARGET_PID and TARGET_COUNTER.  Waits up to 30 s.
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
	wait_parked "$pid" 30 busy ||
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
