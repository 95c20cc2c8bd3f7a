#!/bin/bash
# `cprof serve -- COMMAND`: cprof starts the command and serves it.
# - the command runs as it would without cprof: the same kinds and number
#   of open files as the same program started by this script (no listening
#   socket, signalfd or pipe of cprof's), ordinary scheduling, no signal
#   ignored, the same blocked; it is untraced between requests, and requests serve it;
# - its exit ends serve with its status (7 for `exit 7`, 128 + 9 for a
#   SIGKILL), the way a shell reports it;
# - SIGTERM to serve is passed on to the command: both end, serve with the
#   command's status (128 + 15);
# - a command that cannot run: exit 2 and one line; -p with a command, or
#   a stray argument: exit 64.
#
# usage: serve-launch.sh CPROF PARKED
CPROF=$1 parked=$2
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/serve.sh"

require_file "$CPROF" cprof
require_file "$parked" "target parked"
require_curl

# wait_serve_exit TIMEOUT: wait for SERVE_PID to end; SERVE_STATUS its
# status.  Returns 1 on timeout.
wait_serve_exit()
{
	wait_exit "$SERVE_PID" "$1" || return 1
	SERVE_STATUS=$WAIT_STATUS
	forget_pid "$SERVE_PID"
	return 0
}

# command_pid NAME: the pid in the command's "ready PID" line, printed
# to serve's stdout, which the command inherits.
command_pid()
{
	local n line
	for ((n = 0; n < 600; n++)); do
		line=$(grep -m1 '^ready ' "$lib_tmp/$1.out")
		[ -n "$line" ] && break
		sleep 0.05
	done
	[ -n "$line" ] || framework_error "$1: the command printed no ready line"
	echo "${line#ready }"
}

# fd_kinds PID: how many fds above 2 of each kind (a path, "pipe",
# "socket", "anon_inode:[eventpoll]"...) PID holds; 0 to 2 are redirected
# differently by design, and the program's own threads open theirs in any
# order.
fd_kinds()
{
	local fd
	for fd in $(ls "/proc/$1/fd"); do
		[ "$fd" -gt 2 ] && readlink "/proc/$1/fd/$fd" | sed 's/:\[[0-9]*\]$//'
	done | sort | uniq -c
}

# blocked PID: the main thread's blocked signals.
blocked()
{
	sed -n 's/^SigBlk:[[:space:]]*//p' "/proc/$1/status"
}

# --- the command runs as it would without cprof --------------------------
start_target direct "$parked"
direct=$TARGET_PID
start_serve launch -- "$parked"
cmd=$(command_pid launch)
lib_pids+=("$cmd")
# shellcheck disable=SC2086
wait_parked "$cmd" 30 $lib_spinning || framework_error "the launched parked did not park"

[ "$(fd_kinds "$cmd")" = "$(fd_kinds "$direct")" ] ||
	fail "the command's files differ from the same program's run directly:" \
		"$(fd_kinds "$cmd" | tr '\n' ';') against" \
		"$(fd_kinds "$direct" | tr '\n' ';')"
policy=$(chrt -p "$cmd" | sed -n 's/.*scheduling policy: //p')
[ "$policy" = SCHED_OTHER ] || fail "the command runs with $policy"
# As a shell starts a command: no signal ignored (this script's own
# background jobs ignore SIGINT and SIGQUIT), and what the program blocks
# itself.
ignored=$(sed -n 's/^SigIgn:[[:space:]]*//p' "/proc/$cmd/status")
[ "$ignored" = 0000000000000000 ] || fail "the command ignores signals $ignored"
[ "$(blocked "$cmd")" = "$(blocked "$direct")" ] ||
	fail "the command blocks $(blocked "$cmd"), run directly $(blocked "$direct")"
end_target "$direct"

# Requests serve the command, and let go of it after.
curl -s --max-time 60 "$SERVE_URL/threads?debug=1" >"$lib_tmp/threads.txt"
grep -q 'pool_wait' "$lib_tmp/threads.txt" ||
	fail "threads?debug=1 of the command: no pool_wait: $(head -5 "$lib_tmp/threads.txt")"
check_runs_on "$cmd"

# SIGTERM to serve: passed on; serve ends with the command's status.
kill -TERM "$SERVE_PID"
wait_serve_exit 20 || die "serve still running 20 s after SIGTERM"
[ "$SERVE_STATUS" = 143 ] ||
	fail "SIGTERM: serve exit $SERVE_STATUS, expected 143 (the command's SIGTERM)"
kill -0 "$cmd" 2>/dev/null && fail "SIGTERM: the command still runs"
forget_pid "$cmd"

# --- the command's exit ends serve with its status ------------------------
for t in "7:exit 7" "137:kill -KILL \$\$"; do
	want=${t%%:*} script=${t#*:}
	start_serve "exit-$want" -- sh -c "$script"
	wait_serve_exit 20 || die "sh -c '$script': serve still running 20 s later"
	[ "$SERVE_STATUS" = "$want" ] ||
		fail "sh -c '$script': serve exit $SERVE_STATUS, expected $want"
done

# --- bad commands and command lines -----------------------------------------
run_cprof "$lib_tmp/nocmd" serve --listen 127.0.0.1:0 -- "$lib_tmp/no-such-command"
rc=$?
[ $rc = 2 ] || fail "a command that cannot run: exit $rc, expected 2"
[ "$(cat "$lib_tmp/nocmd.err")" = \
	"cprof: cannot run '$lib_tmp/no-such-command': No such file or directory" ] ||
	fail "a command that cannot run: stderr '$(cat "$lib_tmp/nocmd.err")'"

run_cprof "$lib_tmp/both" serve -p $$ -- true
rc=$?
[ $rc = 64 ] || fail "-p and a command: exit $rc, expected 64"
grep -qx "cprof: give either -p PID or -- COMMAND, not both" "$lib_tmp/both.err" ||
	fail "-p and a command: stderr '$(head -1 "$lib_tmp/both.err")'"

run_cprof "$lib_tmp/stray" serve -p $$ stray
rc=$?
[ $rc = 64 ] || fail "a stray argument: exit $rc, expected 64"

finish
