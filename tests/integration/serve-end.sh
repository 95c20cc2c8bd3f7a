#!/bin/bash
# How `cprof serve` ends:
# - SIGTERM (and SIGINT) during a wall profile: serve exits 0 within 10 s,
#   the target runs on, untraced and not stopped;
# - the target exiting during a profile, and while idle: serve exits 3
#   with "cprof: pid N: exited";
# - a pid that does not exist: exit 2, "cprof: pid N: no such process".
#
# usage: serve-end.sh CPROF PARKED CPU-SPLIT
CPROF=$1 parked=$2 split=$3
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/serve.sh"

require_file "$CPROF" cprof
require_file "$parked" "target parked"
require_file "$split" "target cpu-split"
require_curl

# wait_serve_exit TIMEOUT: wait for SERVE_PID to end; SERVE_STATUS its
# status.  Returns 1 on timeout.
wait_serve_exit()
{
	local n
	for ((n = 0; n < $1 * 20; n++)); do
		if ! kill -0 "$SERVE_PID" 2>/dev/null; then
			wait "$SERVE_PID"
			SERVE_STATUS=$?
			return 0
		fi
		sleep 0.05
	done
	return 1
}

start_target parked "$parked"
pid=$TARGET_PID
for sig in TERM INT; do
	start_serve "srv-$sig" -p "$pid"
	curl -s -o /dev/null --max-time 60 "$SERVE_URL/wall?seconds=50" &
	curl_pid=$!
	lib_pids+=("$curl_pid")
	wait_traced "$pid" "$SERVE_PID" 20 || fail "SIG$sig: the profile never attached"
	kill -"$sig" "$SERVE_PID"
	wait_serve_exit 10 || die "SIG$sig: serve still running 10 s later"
	[ "$SERVE_STATUS" = 0 ] || fail "SIG$sig: serve exit $SERVE_STATUS, expected 0"
	wait "$curl_pid" 2>/dev/null
	check_runs_on "$pid" "$TARGET_COUNTER"
done

# The target exits during a profile: cpu-split with a lifetime.
lib_spinning="split-1"
start_target split "$split" 1 4
spid=$TARGET_PID
start_serve split -p "$spid"
code=$(http_code "$SERVE_URL/profile?seconds=30")
wait_serve_exit 20 || die "serve still running after its target exited"
[ "$SERVE_STATUS" = 3 ] || fail "target exited mid-profile: serve exit $SERVE_STATUS, expected 3"
grep -qx "cprof: pid $spid: exited" "$lib_tmp/split.err" ||
	fail "no exit line: $(cat "$lib_tmp/split.err")"
case $code in
200 | 000) ;;
*) fail "the profile whose target exited got $code" ;;
esac

# ... and while nobody asks.
lib_spinning=busy
start_target parked2 "$parked"
pid2=$TARGET_PID
start_serve idle -p "$pid2"
kill -KILL "$pid2"
wait_serve_exit 20 || die "serve still running after its idle target exited"
[ "$SERVE_STATUS" = 3 ] || fail "idle target exited: serve exit $SERVE_STATUS, expected 3"
grep -qx "cprof: pid $pid2: exited" "$lib_tmp/idle.err" ||
	fail "no exit line: $(cat "$lib_tmp/idle.err")"

# No such process.
"$CPROF" serve -p "$pid2" --listen 127.0.0.1:0 >/dev/null 2>"$lib_tmp/none.err"
rc=$?
[ $rc = 2 ] || fail "no such process: exit $rc, expected 2"
[ "$(cat "$lib_tmp/none.err")" = "cprof: pid $pid2: no such process" ] ||
	fail "no such process: '$(cat "$lib_tmp/none.err")'"
finish
