#!/bin/sh
# Every bad command line gets one line on stderr starting with "cprof:", the
# documented exit code, and leaves the target untouched: never a crash, never
# a sanitizer report, never a stop of a process cprof should not attach.
#
# usage: bad-input.sh CPROF [PARKED]
# PARKED, the multi-threaded test target, is used to check that a thread id
# names its whole process.
set -u
cprof=$1
parked=${2:-}
tmp=$(mktemp -d)
sleep 600 &
target=$!
# A busy process that makes no system calls: any voluntary context switch
# it makes is a stop by a tracer.
sh -c 'while :; do :; done' &
busy=$!
zombie_parent=
parked_pid=
trap 'kill $target $busy $zombie_parent $parked_pid 2>/dev/null; rm -rf "$tmp"' EXIT
fail=0
rows=0

# switches PID: voluntary context switches of PID's main thread.
switches() {
	sed -n 's/^voluntary_ctxt_switches:[[:space:]]*//p' /proc/$1/status
}

# A bounded poll until the sleeping target is blocked in its sleep.
for _ in $(seq 100); do
	[ "$(awk '{print $3}' /proc/$target/stat)" = S ] && break
	sleep 0.05
done
target_switches=$(switches $target)
busy_switches=$(switches $busy)

# untouched ARGS...: the sleeping and the busy process were neither stopped
# nor left traced by the command just run.
untouched() {
	for pid in $target $busy; do
		state=$(awk '{print $3}' /proc/$pid/stat)
		tracer=$(awk '/^TracerPid:/{print $2}' /proc/$pid/status)
		if [ "$tracer" != 0 ] || { [ $pid = $target ] && [ "$state" != S ]; } ||
			{ [ $pid = $busy ] && [ "$state" != R ]; }; then
			printf 'FAIL: cprof %s: pid %s in state %s, traced by %s\n' \
				"$*" $pid "$state" "$tracer"
			fail=1
		fi
	done
	if [ "$(switches $target)" != "$target_switches" ] ||
		[ "$(switches $busy)" != "$busy_switches" ]; then
		printf 'FAIL: cprof %s: a target was stopped (voluntary switches %s -> %s, %s -> %s)\n' \
			"$*" "$target_switches" "$(switches $target)" \
			"$busy_switches" "$(switches $busy)"
		fail=1
		target_switches=$(switches $target)
		busy_switches=$(switches $busy)
	fi
}

# expect STATUS PATTERN ARGS...: PATTERN is a grep -E -x pattern for the
# first stderr line, the only one starting with "cprof:"; any other lines
# are the usage synopsis.
expect() {
	status=$1 pattern=$2
	shift 2
	rows=$((rows + 1))
	timeout -k 5 60 "$cprof" "$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	first=$(head -n 1 "$tmp/err")
	if [ "$got" != "$status" ] || ! printf '%s\n' "$first" | grep -Eqx "$pattern"; then
		printf 'FAIL: cprof %s\n  want %s /%s/\n  got  %s "%s"\n' \
			"$*" "$status" "$pattern" "$got" "$first"
		fail=1
	fi
	case $first in cprof:*) ;; *) echo "FAIL: cprof $*: stderr does not start with 'cprof:'"; fail=1 ;; esac
	if [ "$(grep -c '^cprof:' "$tmp/err")" != 1 ] ||
		grep -Ev '^(cprof:|usage: cprof|       cprof |  +\[)' "$tmp/err" | grep -q .; then
		printf 'FAIL: cprof %s: stderr is not one cprof: line (+ usage):\n%s\n' \
			"$*" "$(cat "$tmp/err")"
		fail=1
	fi
	if [ "$got" -ge 124 ] || grep -Eq 'Sanitizer|runtime error:' "$tmp/err"; then
		printf 'FAIL: cprof %s: crashed or hung (status %s)\n' "$*" "$got"
		fail=1
	fi
	untouched "$@"
}

# Both commands: the process to look at.
expect 64 "cprof: no process given: use -p PID" threads
expect 64 "cprof: invalid pid 'abc'" threads -p abc
expect 64 "cprof: invalid pid '0'" threads -p 0
expect 64 "cprof: invalid pid '-5'" threads -p -5
expect 64 "cprof: invalid pid '99999999999999999999'" threads -p 99999999999999999999
expect 64 "cprof: invalid pid '12x'" threads -p 12x
expect 64 "cprof: invalid pid ''" threads -p ''
expect 64 "cprof: option '-p' needs a value" threads -p
expect 64 "cprof: invalid --debug '3': use 0, 1 or 2" threads -p $target --debug=3
expect 64 "cprof: invalid --debug '-1': use 0, 1 or 2" threads -p $target --debug=-1
expect 64 "cprof: invalid --debug 'x': use 0, 1 or 2" threads -p $target --debug=x
expect 64 "cprof: invalid --unwinder 'gdb': use libdw or libunwind" threads -p $target --unwinder=gdb
expect 64 "cprof: unknown option '--bogus'" threads -p $target --bogus
expect 64 "cprof: unknown option '-z'" threads -p $target -z
expect 64 "cprof: option '--output' needs a value" threads -p $target --output
expect 64 "cprof: unexpected argument 'extra'" threads -p $target extra
expect 2 "cprof: cannot create '$tmp/missing/t.txt': No such file or directory" \
	threads -p $target -o "$tmp/missing/t.txt"
expect 2 "cprof: cannot create '$tmp': Is a directory" threads -p $target -o "$tmp"
expect 2 "cprof: pid 4194304: no such process" threads -p 4194304
expect 2 "cprof: pid 2: a kernel thread has no user stack to show" threads -p 2

# threads: more values of each option.
expect 64 "cprof: invalid pid '4294967297'" threads -p 4294967297
expect 64 "cprof: invalid pid '2147483648'" threads -p 2147483648
expect 64 "cprof: invalid pid '\\+5'" threads -p +5
expect 64 "cprof: invalid pid ' 5'" threads -p ' 5'
expect 64 "cprof: invalid pid '1.5'" threads -p 1.5
expect 64 "cprof: invalid pid '0x10'" threads -p 0x10
expect 64 "cprof: invalid pid 'abc'" threads -p $target -p abc
expect 64 "cprof: invalid --debug '': use 0, 1 or 2" threads -p $target --debug=
expect 64 "cprof: invalid --debug '1.0': use 0, 1 or 2" threads -p $target --debug=1.0
expect 64 "cprof: invalid --debug '18446744073709551617': use 0, 1 or 2" \
	threads -p $target --debug=18446744073709551617
expect 64 "cprof: option '--debug' needs a value" threads -p $target --debug
expect 64 "cprof: invalid --unwinder '': use libdw or libunwind" threads -p $target --unwinder=
expect 64 "cprof: invalid --unwinder 'LIBDW': use libdw or libunwind" threads -p $target --unwinder=LIBDW
expect 64 "cprof: option '--unwinder' needs a value" threads -p $target --unwinder
expect 64 "cprof: option '-o' needs a value" threads -p $target -o
expect 64 "cprof: unknown option '--pcs=1'" threads -p $target --pcs=1
expect 64 "cprof: unknown option '--stats=yes'" threads -p $target --stats=yes
expect 64 "cprof: invalid --format 'top': use text, pprof or svg" threads -p $target --format=top
expect 64 "cprof: unknown option '--mode=wall'" threads -p $target --mode=wall
expect 64 "cprof: unknown option '-s'" threads -p $target -s 1
expect 64 "cprof: unknown option '-F'" threads -p $target -F 99
expect 64 "cprof: unexpected argument 'true'" threads -p $target -- true
expect 64 "cprof: unexpected argument 'true'" threads -- true
expect 2 "cprof: cannot create '': No such file or directory" threads -p $target -o ''
expect 2 "cprof: cannot create '$tmp/missing/a/b': No such file or directory" \
	threads -p $target --debug=0 -o "$tmp/missing/a/b"

# record: the process or command.
expect 64 "cprof: nothing to record: use -p PID or -- COMMAND" record
expect 64 "cprof: nothing to record: use -p PID or -- COMMAND" record -s 1 -F 10
expect 64 "cprof: invalid pid 'abc'" record -p abc -s 1
expect 64 "cprof: invalid pid '0'" record -p 0 -s 1
expect 64 "cprof: invalid pid '-5'" record -p -5 -s 1
expect 64 "cprof: invalid pid '99999999999999999999'" record -p 99999999999999999999 -s 1
expect 64 "cprof: invalid pid '12x'" record -p 12x -s 1
expect 64 "cprof: invalid pid ''" record -p '' -s 1
expect 64 "cprof: option '-p' needs a value" record -s 1 -p
expect 64 "cprof: give either -p PID or a command, not both" record -p $target -s 1 -- true
expect 64 "cprof: unexpected argument 'extra'; a command to run follows '--'" \
	record -p $target -s 1 extra
expect 2 "cprof: pid 4194304: no such process" record -p 4194304 -s 1
expect 2 "cprof: pid 2: a kernel thread has no user stack to show" record -p 2 -s 1
expect 2 "cprof: cannot run '/nonexistent': No such file or directory" \
	record -s 1 -- /nonexistent
expect 2 "cprof: cannot run '/nonexistent': No such file or directory" \
	record -- /nonexistent arg
expect 2 "cprof: cannot run '': No such file or directory" record -s 1 -- ''
: >"$tmp/not-executable"
chmod 644 "$tmp/not-executable"
expect 2 "cprof: cannot run '$tmp/not-executable': Permission denied" \
	record -s 1 -- "$tmp/not-executable"
expect 2 "cprof: cannot run '$tmp': Permission denied" record -s 1 -- "$tmp"

# record: -s, a positive number of seconds, fractions allowed, at most a year.
for bad in 0 -1 -0 abc '' nan inf -inf 1e400 0.0000000001 31536001 1s ' 1' .5; do
	expect 64 "cprof: invalid -s '$bad'" record -p $target -s "$bad"
done
expect 64 "cprof: option '-s' needs a value" record -p $target -s
expect 64 "cprof: option '--seconds' needs a value" record -p $target --seconds

# record: -F, a whole number of samples per second, 1 to 10000.
for bad in 0 -1 10001 100000 1.5 abc '' ' 5' 5x 0x10 1e3 4294967297 \
	18446744073709551616 99999999999999999999999; do
	expect 64 "cprof: invalid -F '$bad': use 1 to 10000 samples per second" \
		record -p $target -s 1 -F "$bad"
done
expect 64 "cprof: option '-F' needs a value" record -p $target -s 1 -F
expect 64 "cprof: option '--frequency' needs a value" record -p $target -s 1 --frequency

# record: the named values.
for bad in x '' CPU cpu,wall; do
	expect 64 "cprof: invalid --mode '$bad': use cpu or wall" \
		record -p $target -s 1 --mode="$bad"
done
for bad in x '' PPROF json text; do
	expect 64 "cprof: invalid --format '$bad': use pprof, folded, top or svg" \
		record -p $target -s 1 --format="$bad"
done
expect 64 "cprof: invalid --unwinder 'gdb': use libdw or libunwind" \
	record -p $target -s 1 --unwinder=gdb
expect 64 "cprof: invalid --unwinder '': use libdw or libunwind" \
	record -p $target -s 1 --unwinder=
expect 64 "cprof: option '--format' needs a value" record -p $target -s 1 --format
expect 64 "cprof: option '--output' needs a value" record -p $target -s 1 --output

# record: options it does not have.
expect 64 "cprof: unknown option '--bogus'" record -p $target -s 1 --bogus
expect 64 "cprof: unknown option '-z'" record -p $target -s 1 -z
expect 64 "cprof: unknown option '--debug=1'" record -p $target -s 1 --debug=1
expect 64 "cprof: unknown option '--pcs'" record -p $target -s 1 --pcs
expect 64 "cprof: unknown option '--stats=1'" record -p $target -s 1 --stats=1

# record: where the profile goes, refused before the target is touched.
expect 2 "cprof: cannot create '$tmp/missing/cpu.prof': No such file or directory" \
	record -p $target -s 1 -o "$tmp/missing/cpu.prof"
expect 2 "cprof: cannot create '$tmp': Is a directory" record -p $target -s 1 -o "$tmp"
expect 2 "cprof: cannot create '$tmp/': Is a directory" record -p $target -s 1 -o "$tmp/"
expect 2 "cprof: cannot create '': No such file or directory" record -p $target -s 1 -o ''
expect 2 "cprof: cannot create '$tmp/missing/x': No such file or directory" \
	record -s 1 -o "$tmp/missing/x" -- /nonexistent

# The top level.
expect 64 "cprof: 'bogus' is not a cprof command; see 'cprof help'" bogus
expect 64 "cprof: '--bogus' is not a cprof command; see 'cprof help'" --bogus

# A zombie: a child that exited and whose parent (sleep) never reaps it.
sh "$(dirname "$0")/../helpers/zombie.sh" "$tmp/zombie" 600 &
zombie_parent=$!
zombie=
for _ in $(seq 1200); do
	[ -s "$tmp/zombie" ] && zombie=$(cat "$tmp/zombie") &&
		[ "$(awk '{print $3}' /proc/$zombie/stat 2>/dev/null)" = Z ] && break
	zombie=
	sleep 0.05 # polling for the state, bounded
done
if [ -n "$zombie" ]; then
	expect 2 "cprof: pid $zombie: process is a zombie; it has exited and waits for its parent to reap it" threads -p $zombie
	expect 2 "cprof: pid $zombie: process is a zombie; it has exited and waits for its parent to reap it" record -p $zombie -s 1
else
	echo "FAIL: could not make a zombie"; fail=1
fi

# Another user's process, when we can switch to an unprivileged user.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	for cmd in threads record; do
		rows=$((rows + 1))
		case $cmd in threads) secs= ;; record) secs="-s 1" ;; esac
		# shellcheck disable=SC2086
		setpriv --reuid=65534 --regid=65534 --clear-groups \
			timeout -k 5 60 "$cprof" $cmd -p $target $secs >/dev/null 2>"$tmp/err"
		got=$?
		if [ $got != 2 ] || [ "$(wc -l <"$tmp/err")" != 1 ] ||
			! grep -Eqx "cprof: pid $target: ptrace not permitted: .*owned by uid 0.*CAP_SYS_PTRACE.*cprof record -- COMMAND.*" "$tmp/err"; then
			echo "FAIL: $cmd: permission denied: status $got: $(cat "$tmp/err")"; fail=1
		fi
		untouched $cmd -p $target as nobody
	done
fi

# A thread id names its process: every thread of it is shown.
if [ -n "$parked" ]; then
	rows=$((rows + 1))
	"$parked" >"$tmp/parked.out" 2>"$tmp/parked.err" </dev/null &
	parked_pid=$!
	for _ in $(seq 600); do
		grep -q "^ready $parked_pid\$" "$tmp/parked.out" && break
		kill -0 $parked_pid 2>/dev/null || break
		sleep 0.05 # polling for the ready line, bounded
	done
	if ! grep -q "^ready $parked_pid\$" "$tmp/parked.out"; then
		echo "ERROR: parked target not ready: $(cat "$tmp/parked.err")"
		exit 99
	fi
	all=$(ls /proc/$parked_pid/task | sort -n | tr '\n' ' ')
	tid=$(ls /proc/$parked_pid/task | sort -n | tail -n 1)
	timeout -k 5 60 "$cprof" threads --debug=2 -p $tid >"$tmp/out" 2>"$tmp/err"
	got=$?
	shown=$(sed -n 's/^thread \([0-9]*\) .*/\1/p' "$tmp/out" | sort -n | tr '\n' ' ')
	if [ $got != 0 ] || [ "$shown" != "$all" ]; then
		printf 'FAIL: cprof threads -p TID %s of %s: status %s, threads shown [%s], want [%s]\n%s\n' \
			$tid $parked_pid $got "$shown" "$all" "$(cat "$tmp/err")"
		fail=1
	fi
	# record -p TID samples the main thread and the others too.
	rows=$((rows + 1))
	timeout -k 5 60 "$cprof" record -s 0.3 --mode=wall --format=folded \
		-p $tid >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ $got != 0 ] || ! grep -q ';main_park;' "$tmp/out" ||
		! grep -q ';sleep_outer;' "$tmp/out"; then
		printf 'FAIL: cprof record -p TID %s of %s: status %s, stacks:\n%s\n%s\n' \
			$tid $parked_pid $got "$(cut -c1-100 "$tmp/out")" "$(cat "$tmp/err")"
		fail=1
	fi
	kill $parked_pid
fi

# The target was never stopped nor left traced.
state=$(awk '{print $3}' /proc/$target/stat)
tracer=$(awk '/^TracerPid:/{print $2}' /proc/$target/status)
[ "$state" = S ] && [ "$tracer" = 0 ] || { echo "FAIL: target state $state tracer $tracer"; fail=1; }
echo "bad inputs tried: $rows"
exit $fail
