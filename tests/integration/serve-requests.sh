#!/bin/bash
# `cprof serve` answers every request with the documented status, and
# holds nothing of the target between requests:
# - the index names the pid and executable and links every endpoint, each
#   link answering HEAD with 200;
# - Go's other names (heap, allocs, ..., cmdline) 404 with one line
#   saying what cprof has instead; an unknown path 404; POST and PUT 405;
#   seconds not a number, negative, zero, over --max-seconds 400; debug=3
#   400; each with X-Go-Pprof: 1 and text/plain; a 40 KB header 431;
# - a profile while a wall profile runs 409, and threads then too; the
#   running one still gets its 200;
# - a client that hangs up mid-profile ends it: the target is untraced,
#   and the next profile is not refused;
# - between requests no thread of the target has a tracer;
# - a non-loopback --listen without --token-file or --no-auth refuses to
#   start (exit 64, one line); with a token, 401 without or with a wrong
#   one, 200 with it.
#
# usage: serve-requests.sh CPROF PARKED
CPROF=$1 parked=$2
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/serve.sh"

require_file "$CPROF" cprof
require_file "$parked" "target parked"
require_curl

start_target parked "$parked"
pid=$TARGET_PID
start_serve srv -p "$pid" --max-seconds 60
U=$SERVE_URL

# The index: the target and a working link per endpoint.
curl -s -o "$lib_tmp/index" -w '%{http_code} %{content_type}' "$U/" >"$lib_tmp/index.status"
[ "$(cat "$lib_tmp/index.status")" = "200 text/html; charset=utf-8" ] ||
	fail "index: $(cat "$lib_tmp/index.status")"
exe=$(readlink "/proc/$pid/exe")
grep -qF "<p>pid $pid, executable $exe, served by cprof</p>" "$lib_tmp/index" ||
	fail "index does not name pid $pid and $exe"
links=$(sed -n 's/.*<a href="\([^"]*\)">.*/\1/p' "$lib_tmp/index" | sort | tr '\n' ' ')
[ "$links" = "goroutine?debug=1 profile?seconds=30 threads?debug=1 wall?seconds=30 " ] ||
	fail "index links: '$links'"
for link in $links; do
	expect_status "HEAD $link" 200 -I "$U/$link"
done
expect_status "/debug/pprof redirects" 301 "http://127.0.0.1:$SERVE_PORT/debug/pprof"

# What cprof has not, and what nobody asked for.
expect_error heap 404 "cprof has no heap profile: it samples threads from outside and sees no allocations; use profile or wall" "$U/heap"
expect_error allocs 404 "cprof has no allocation profile: it samples threads from outside and sees no allocations; use profile or wall" "$U/allocs"
expect_error block 404 "cprof has no block profile: use wall and go tool pprof -tagfocus=state=sleeping" "$U/block"
expect_error mutex 404 "cprof has no mutex profile: use wall and go tool pprof -tagfocus=wait=futex" "$U/mutex"
expect_error threadcreate 404 "cprof has no threadcreate profile: threads shows every thread" "$U/threadcreate"
expect_error cmdline 404 "cprof does not serve the target's command line, which may hold secrets; the index names its executable" "$U/cmdline"
expect_error symbol 404 "cprof symbolizes its profiles itself; there is no symbol endpoint" "$U/symbol"
expect_error trace 404 "cprof has no execution trace: use wall" "$U/trace?seconds=1"
expect_error unknown 404 "unknown profile; see /debug/pprof/" "$U/nothing"
expect_error outside 404 "not found; see /debug/pprof/" "http://127.0.0.1:$SERVE_PORT/metrics"
expect_error POST 405 "method POST not allowed: use GET or HEAD" -X POST "$U/profile?seconds=1"
expect_error PUT 405 "method PUT not allowed: use GET or HEAD" -X PUT "$U/threads"
grep -qix 'Allow: GET, HEAD.' "$lib_tmp/headers" || fail "405 without Allow"
expect_error "seconds=abc" 400 "invalid seconds 'abc': not a whole number" "$U/profile?seconds=abc"
expect_error "seconds=1.5" 400 "invalid seconds '1.5': not a whole number" "$U/wall?seconds=1.5"
expect_error "seconds=-3" 400 "invalid seconds '-3': negative" "$U/profile?seconds=-3"
expect_error "seconds=0" 400 "invalid seconds '0': at least 1" "$U/profile?seconds=0"
expect_error "seconds=61" 400 "invalid seconds '61': over this server's --max-seconds 60" "$U/profile?seconds=61"
expect_error "seconds=huge" 400 "invalid seconds '99999999999999999999999': over this server's --max-seconds 60" "$U/wall?seconds=99999999999999999999999"
big=$(head -c 40000 /dev/zero | tr '\0' x)
expect_status "a 40 KB header" 431 -H "X-Big: $big" "$U/threads?debug=1"
expect_error "debug=3" 400 "invalid debug: use 0, 1 or 2" "$U/threads?debug=3"
check_not_traced "$pid"

# One profile at a time.
curl -s -o "$lib_tmp/wall.prof" -w '%{http_code}' --max-time 60 \
	"$U/wall?seconds=4" >"$lib_tmp/wall.status" &
curl_pid=$!
lib_pids+=("$curl_pid")
wait_traced "$pid" "$SERVE_PID" 20 || fail "the wall profile never attached"
expect_error "profile during wall" 409 "cpu profiling already in use: a profile is in progress; only one runs at a time" "$U/profile?seconds=1"
grep -qi '^Retry-After: [1-4].$' "$lib_tmp/headers" || fail "409 without Retry-After"
expect_error "threads during wall" 409 "threads: a profile is in progress; only one runs at a time" "$U/threads?debug=1"
wait "$curl_pid"
[ "$(cat "$lib_tmp/wall.status")" = 200 ] ||
	fail "the running wall profile got $(cat "$lib_tmp/wall.status")"
[ -s "$lib_tmp/wall.prof" ] || fail "the running wall profile is empty"
check_not_traced "$pid"

# A client that hangs up ends its profile.
curl -s -o /dev/null --max-time 60 "$U/wall?seconds=50" &
curl_pid=$!
lib_pids+=("$curl_pid")
wait_traced "$pid" "$SERVE_PID" 20 || fail "the wall profile never attached"
kill "$curl_pid"
wait "$curl_pid" 2>/dev/null
for ((n = 0; n < 200; n++)); do
	wait_traced "$pid" "$SERVE_PID" 0 || break
	sleep 0.05
done
wait_traced "$pid" "$SERVE_PID" 0 && fail "still traced 10 s after the client hung up"
expect_status "threads after a hang-up" 200 "$U/threads?debug=1"
check_runs_on "$pid" "$TARGET_COUNTER"
check_not_traced "$pid"

# Only loopback without authentication.
for addr in 0.0.0.0:0 '[::]:0' 192.0.2.1:6060; do
	"$CPROF" serve -p "$pid" --listen "$addr" >"$lib_tmp/refuse.out" 2>"$lib_tmp/refuse.err"
	rc=$?
	[ $rc = 64 ] || fail "--listen $addr without a token: exit $rc, expected 64"
	[ "$(cat "$lib_tmp/refuse.err")" = "cprof: refusing to serve '$addr' without authentication: it is not a loopback address; use --token-file FILE or --no-auth" ] ||
		fail "--listen $addr without a token: '$(cat "$lib_tmp/refuse.err")'"
done

# A token.
printf 's3cret-token\n' >"$lib_tmp/token"
start_serve tok -p "$pid" --token-file "$lib_tmp/token"
T=$SERVE_URL
expect_error "no token" 401 "unauthorized: send Authorization: Bearer TOKEN" "$T/"
expect_error "wrong token" 401 "unauthorized: send Authorization: Bearer TOKEN" -H "Authorization: Bearer s3cret-tokeN" "$T/threads?debug=1"
expect_error "longer token" 401 "unauthorized: send Authorization: Bearer TOKEN" -H "Authorization: Bearer s3cret-token2" "$T/threads?debug=1"
expect_error "basic" 401 "unauthorized: send Authorization: Bearer TOKEN" -u user:s3cret-token "$T/"
expect_status "the token" 200 -H "Authorization: Bearer s3cret-token" "$T/threads?debug=1"
expect_status "the token, index" 200 -H "Authorization: Bearer s3cret-token" "$T/"
check_runs_on "$pid" "$TARGET_COUNTER"
check_not_traced "$pid"
finish
