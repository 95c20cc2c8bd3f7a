#!/bin/bash
# The index page of `cprof serve`, loaded in a real headless browser
# (Debian's chromium): the page the browser built holds a link to every
# endpoint (profile, wall, threads, goroutine), and each link, resolved
# against the page's address, works: a HEAD of it answers 200 (HEAD runs
# no session), threads and goroutine answer their text to a GET, and the
# profile link with seconds=1 a profile go tool pprof reads.
#
# usage: serve-browser.sh CPROF PARKED
CPROF=$1 parked=$2
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/serve.sh"

require_file "$CPROF" cprof
require_file "$parked" "target parked"
require_curl
browser=$(command -v chromium || command -v chromium-browser) ||
	skip "chromium not installed (Debian package chromium)"

start_target parked "$parked"
pid=$TARGET_PID
start_serve srv -p "$pid"

# The DOM after the page loaded, as the browser built it.
timeout 120 "$browser" --headless=new --no-sandbox --disable-gpu \
	--no-first-run --user-data-dir="$lib_tmp/browser" \
	--dump-dom "$SERVE_URL/" >"$lib_tmp/dom.html" 2>"$lib_tmp/browser.err" ||
	fail "chromium could not load the index: $(tail -3 "$lib_tmp/browser.err")"
grep -q "<title>" "$lib_tmp/dom.html" ||
	fail "the browser's DOM has no page: $(head -c 300 "$lib_tmp/dom.html")"
grep -qF "$pid" "$lib_tmp/dom.html" || fail "the index does not name pid $pid"
grep -o 'href="[^"]*"' "$lib_tmp/dom.html" | sed 's/^href="//; s/"$//' \
	>"$lib_tmp/links"
note "links: $(tr '\n' ' ' <"$lib_tmp/links")"

for endpoint in profile wall threads goroutine; do
	link=$(grep -m1 "^$endpoint\(?\|$\)" "$lib_tmp/links")
	if [ -z "$link" ]; then
		fail "the index has no link to $endpoint"
		continue
	fi
	url=$SERVE_URL/$link
	expect_status "HEAD $link" 200 -I "$url"
	case $endpoint in
	threads | goroutine)
		curl -s --max-time 60 "$url" >"$lib_tmp/$endpoint.txt"
		grep -q 'pool_wait' "$lib_tmp/$endpoint.txt" ||
			fail "GET $link: no pool_wait: $(head -3 "$lib_tmp/$endpoint.txt")"
		;;
	profile)
		short=$(echo "$url" | sed 's/seconds=[0-9]*/seconds=1/')
		curl -s --max-time 60 -o "$lib_tmp/profile.prof" "$short"
		pprof_samples "$lib_tmp/profile.prof" ||
			fail "GET $short: not a profile: $PPROF_ERROR"
		;;
	esac
done
check_runs_on "$pid" "$TARGET_COUNTER"
finish
