# Helpers for the `cprof serve` tests, sourced after lib.sh.

# start_serve NAME ARGS...: start `cprof serve ARGS --listen 127.0.0.1:0`
# (ARGS may give another --listen), stderr to $lib_tmp/NAME.err, and wait
# up to 30 s for its "listening" line.  Sets SERVE_PID, SERVE_PORT and
# SERVE_URL (http://127.0.0.1:PORT/debug/pprof).
start_serve()
{
	local name=$1 line n
	shift
	"$CPROF" serve --listen 127.0.0.1:0 "$@" \
		>"$lib_tmp/$name.out" 2>"$lib_tmp/$name.err" </dev/null &
	SERVE_PID=$!
	lib_pids+=("$SERVE_PID")
	for ((n = 0; n < 600; n++)); do
		line=$(grep -m1 '^cprof: listening on ' "$lib_tmp/$name.err")
		[ -n "$line" ] && break
		# A command that exits at once may end serve between the
		# grep and this check: its line is then written already.
		if ! kill -0 "$SERVE_PID" 2>/dev/null &&
			! grep -q '^cprof: listening on ' "$lib_tmp/$name.err"; then
			cat "$lib_tmp/$name.err" >&2
			framework_error "cprof serve exited before listening"
		fi
		sleep 0.05
	done
	[[ $line =~ ^cprof:\ listening\ on\ http://127\.0\.0\.1:([0-9]+)/debug/pprof/$ ]] ||
		framework_error "no listening line within 30 s: '$line'"
	SERVE_PORT=${BASH_REMATCH[1]}
	SERVE_URL=http://127.0.0.1:$SERVE_PORT/debug/pprof
}

# http_code ARGS...: curl's status code for a request, the body discarded.
http_code()
{
	curl -s -o /dev/null -w '%{http_code}' --max-time 60 "$@"
}

# expect_status WHAT WANT ARGS...: the request gets status WANT.
expect_status()
{
	local what=$1 want=$2 got
	shift 2
	got=$(http_code "$@")
	[ "$got" = "$want" ] || fail "$what: status $got, expected $want"
}

# expect_error WHAT STATUS BODY ARGS...: the request gets STATUS, the
# X-Go-Pprof: 1 header, a text/plain body, and BODY as its one line.
expect_error()
{
	local what=$1 want=$2 body=$3 got
	shift 3
	curl -s -D "$lib_tmp/headers" -o "$lib_tmp/body" --max-time 60 "$@"
	got=$(sed -n '1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p' "$lib_tmp/headers")
	[ "$got" = "$want" ] || fail "$what: status '$got', expected $want"
	grep -qix 'X-Go-Pprof: 1.' "$lib_tmp/headers" ||
		fail "$what: no X-Go-Pprof: 1 header"
	grep -qix 'Content-Type: text/plain; charset=utf-8.' "$lib_tmp/headers" ||
		fail "$what: not text/plain"
	[ "$(cat "$lib_tmp/body")" = "$body" ] ||
		fail "$what: body '$(cat "$lib_tmp/body")', expected '$body'"
}

# check_not_traced PID: no thread of PID has a tracer.
check_not_traced()
{
	local tid tracer
	for tid in $(tids "$1"); do
		tracer=$(sed -n 's/^TracerPid:[[:space:]]*//p' \
			"/proc/$1/task/$tid/status" 2>/dev/null)
		[ "${tracer:-0}" = 0 ] ||
			fail "pid $1 thread $tid traced by $tracer between requests"
	done
}

# require_curl: skip unless curl is installed.
require_curl()
{
	command -v curl >/dev/null ||
		skip "curl not installed (Debian package curl)"
}
