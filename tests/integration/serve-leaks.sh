#!/bin/bash
# `cprof serve` on a process with threads blocked in futex waits (parked:
# four pool threads in pthread_cond_wait, others in clock_nanosleep):
# - wall?seconds=2 read by go tool pprof -tagfocus=wait=futex holds the
#   pool threads' stacks (pool_wait, the futex wait on top) and none of the
#   sleepers' functions;
# - 200 sequential requests (snapshots, 404s, and a profile and a wall
#   profile of a second every 20) leave serve as they found it: the same
#   open fds, an RSS grown by less than 4 MiB past the first 20 requests
#   (which fill the allocator's free lists; not judged in a sanitized
#   build, whose quarantine holds freed memory), and the target untraced;
#   SIGTERM then ends serve with status 0 (no leak, under LeakSanitizer).
#
# usage: serve-leaks.sh CPROF PARKED
CPROF=$1 parked=$2
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/serve.sh"

require_file "$CPROF" cprof
require_file "$parked" "target parked"
require_curl

start_target parked "$parked"
pid=$TARGET_PID
start_serve srv -p "$pid"

# --- wall, focused on the futex waits ---------------------------------------
curl -s --max-time 60 -o "$lib_tmp/wall.prof" "$SERVE_URL/wall?seconds=2"
go_pprof -top -nodecount=100 -tagfocus=wait=futex "$lib_tmp/wall.prof" \
	>"$lib_tmp/futex.top" 2>"$lib_tmp/futex.err" ||
	fail "go tool pprof -tagfocus=wait=futex: $(cat "$lib_tmp/futex.err")"
top=$(awk '/^ +flat +flat%/ { getline; print $6; exit }' "$lib_tmp/futex.top")
case $top in
__futex_abstimed_wait_common*) ;;
*) fail "wall, wait=futex: '$top' on top, expected the futex wait" ;;
esac
go_pprof -top -cum -nodecount=100 -tagfocus=wait=futex "$lib_tmp/wall.prof" \
	>"$lib_tmp/futex-cum.top" 2>&1
grep -qE ' pool_wait$' "$lib_tmp/futex-cum.top" ||
	fail "wall, wait=futex: no pool_wait: $(head -20 "$lib_tmp/futex-cum.top")"
grep -E ' (recurse_bottom|inline_outer|dl_inner)$' "$lib_tmp/futex-cum.top" &&
	fail "wall, wait=futex: a sleeper's function is in the futex profile"

rss_kib() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$SERVE_PID/status"; }
fds() { ls "/proc/$SERVE_PID/fd" | wc -l; }

# request N: the N-th request of a cycle over the endpoints; every 20th
# a profile of a second, CPU or wall.
request()
{
	case $(($1 % 40)) in
	19) http_code "$SERVE_URL/profile?seconds=1"; return ;;
	39) http_code "$SERVE_URL/wall?seconds=1"; return ;;
	esac
	case $(($1 % 4)) in
	0) http_code "$SERVE_URL/threads?debug=1" ;;
	1) http_code "$SERVE_URL/goroutine?debug=0" ;;
	2) http_code "$SERVE_URL/threads?debug=2" ;;
	3) http_code "$SERVE_URL/heap" ;;
	esac
}
want()
{
	case $(($1 % 40)) in 19 | 39) echo 200; return ;; esac
	case $(($1 % 4)) in 3) echo 404 ;; *) echo 200 ;; esac
}

for ((i = 0; i < 20; i++)); do
	code=$(request $i)
	[ "$code" = "$(want $i)" ] || fail "warm-up request $i: status $code"
done
fds0=$(fds) rss0=$(rss_kib)
for ((i = 0; i < 200; i++)); do
	code=$(request $i)
	[ "$code" = "$(want $i)" ] || fail "request $i: status $code"
done
fds1=$(fds) rss1=$(rss_kib)
note "fds $fds0 -> $fds1, rss $rss0 -> $rss1 KiB"
[ "$fds1" = "$fds0" ] || fail "open fds grew from $fds0 to $fds1"
# AddressSanitizer holds freed memory in its quarantine, so RSS says
# nothing there; LeakSanitizer checks the heap at the exit below instead.
if ldd "$CPROF" 2>/dev/null | grep -q libasan; then
	note "sanitized build: RSS not judged; leaks are checked at exit"
else
	[ $((rss1 - rss0)) -lt 4096 ] || fail "rss grew from $rss0 to $rss1 KiB"
fi
check_runs_on "$pid" "$TARGET_COUNTER"
check_not_traced "$pid"
# A clean exit: under the sanitizers, no leak reported.
kill -TERM "$SERVE_PID"
if wait_exit "$SERVE_PID" 30; then
	[ "$WAIT_STATUS" = 0 ] ||
		fail "serve exit $WAIT_STATUS after SIGTERM: $(tail -5 "$lib_tmp/srv.err")"
	forget_pid "$SERVE_PID"
else
	fail "serve still running 30 s after SIGTERM"
fi
finish
