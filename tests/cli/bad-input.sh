#!/bin/sh
# Every bad command line gets one line on stderr starting with "cprof:", the
# documented exit code, and leaves the target untouched.
set -u
cprof=$1
tmp=$(mktemp -d)
sleep 600 &
target=$!
zombie_parent=
trap 'kill $target $zombie_parent 2>/dev/null; rm -rf "$tmp"' EXIT
fail=0

# expect STATUS PATTERN ARGS...: PATTERN is a grep -E -x pattern for the
# first stderr line.
expect() {
	status=$1 pattern=$2
	shift 2
	"$cprof" "$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	first=$(head -n 1 "$tmp/err")
	if [ "$got" != "$status" ] || ! printf '%s\n' "$first" | grep -Eqx "$pattern"; then
		printf 'FAIL: cprof %s\n  want %s /%s/\n  got  %s "%s"\n' \
			"$*" "$status" "$pattern" "$got" "$first"
		fail=1
	fi
	case $first in cprof:*) ;; *) echo "FAIL: cprof $*: stderr does not start with 'cprof:'"; fail=1 ;; esac
}

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

# A zombie: a child that exited and whose parent (sleep) never reaps it.
sh -c 'sleep 0 & echo $! >"$1"; exec sleep 600' sh "$tmp/zombie" &
zombie_parent=$!
zombie=
for _ in $(seq 100); do
	[ -s "$tmp/zombie" ] && zombie=$(cat "$tmp/zombie") &&
		[ "$(awk '{print $3}' /proc/$zombie/stat 2>/dev/null)" = Z ] && break
	zombie=
	sleep 0.05 # polling for the state, bounded
done
if [ -n "$zombie" ]; then
	expect 2 "cprof: pid $zombie: process is a zombie; it has exited and waits for its parent to reap it" threads -p $zombie
else
	echo "FAIL: could not make a zombie"; fail=1
fi

# Another user's process, when we can switch to an unprivileged user.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	setpriv --reuid=65534 --regid=65534 --clear-groups "$cprof" threads -p $target >/dev/null 2>"$tmp/err"
	got=$?
	if [ $got != 2 ] || ! grep -Eqx "cprof: pid $target: ptrace not permitted: .*owned by uid 0.*CAP_SYS_PTRACE.*cprof record -- COMMAND.*" "$tmp/err"; then
		echo "FAIL: permission denied: status $got: $(cat "$tmp/err")"; fail=1
	fi
fi

# The target was never stopped nor left traced.
state=$(awk '{print $3}' /proc/$target/stat)
tracer=$(awk '/^TracerPid:/{print $2}' /proc/$target/status)
[ "$state" = S ] && [ "$tracer" = 0 ] || { echo "FAIL: target state $state tracer $tracer"; fail=1; }
exit $fail
