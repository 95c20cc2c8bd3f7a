#!/bin/bash
# The debug-info cache, $XDG_CACHE_HOME/cprof: glibc's debug file
# (libc6-dbg, compressed) is inflated once and kept there by build id.
# - A first run writes the entry; a second one maps it and inflates
#   nothing (no memfd_create); both show the frames --no-cache shows.
# - --no-cache makes no cache.
# - A truncated entry, and one whose section table was overwritten, are
#   turned down and written again, byte for byte the good one.
# - Two runs on an empty cache at once both succeed and leave one whole
#   entry and no temporary file.
# - A read-only and a full cache directory cost no failure and no
#   message, and the full one is left with no partial entry.
#
# usage: symbols-cache.sh CPROF PARKED
CPROF=$1 parked=$2
. "$(dirname "$0")/../lib/lib.sh"

require_file "$CPROF" cprof
require_file "$parked" "target parked"
command -v strace >/dev/null || skip "strace not installed"

lib_spinning=busy
start_target parked "$parked"
pid=$TARGET_PID
libc=$(awk '$6 ~ /\/libc\.so\.6$/ { print $6; exit }' "/proc/$pid/maps")
id=$(readelf -n "/proc/$pid/root$libc" | sed -n 's/.*Build ID: //p')
debug=/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug
[ -f "$debug" ] || skip "no debug file for $libc (Debian package libc6-dbg)"
readelf -S "$debug" | grep -q ' C ' ||
	skip "$debug has no compressed section: nothing to cache"

export XDG_CACHE_HOME=$lib_tmp/xdg
entry=$XDG_CACHE_HOME/cprof/debug-v1/$id.debug

# The threads compared, frame by frame (the busy one moves).
checked="parked sleep read cond mutex inline dlopen"


# snapshot WHAT [ARGS...]: threads --debug=2 of the target into
# $lib_tmp/WHAT; it must succeed silently and show the reference frames.
snapshot()
{
	local what=$1 rc name
	shift
	run_cprof "$lib_tmp/$what" threads -p "$pid" --debug=2 "$@"
	rc=$?
	[ $rc = 0 ] || fail "$what: cprof exited $rc: $(cat "$lib_tmp/$what.err")"
	[ -s "$lib_tmp/$what.err" ] &&
		fail "$what: stderr: $(cat "$lib_tmp/$what.err")"
	[ "$what" = ref ] && return
	for name in $checked; do
		diff -u <(d2_named "$lib_tmp/ref" "$name") \
			<(d2_named "$lib_tmp/$what" "$name") >"$lib_tmp/diff" ||
			fail "$what: thread '$name' differs from --no-cache:
$(cat "$lib_tmp/diff")"
	done
}

# in_namespace MOUNT-OPTIONS COMMAND...: COMMAND with a tmpfs mounted
# with MOUNT-OPTIONS over $XDG_CACHE_HOME, in a mount namespace.
in_namespace()
{
	local opts=$1
	shift
	unshare --mount --propagation private sh -c '
		mount -t tmpfs -o "$1" cprof-test "$2" || exit 99
		shift 2
		exec "$@"' sh "$opts" "$XDG_CACHE_HOME" "$@"
}

snapshot ref --no-cache
grep -q 'libc-start\.c:[0-9]' "$lib_tmp/ref" ||
	framework_error "no glibc line numbers: $debug unused"
[ -e "$XDG_CACHE_HOME/cprof" ] && fail "--no-cache made a cache"

# First run: the entry is written.
snapshot first
[ -f "$entry" ] || fail "first: no entry $entry: $(ls -R "$XDG_CACHE_HOME" 2>&1)"
[ "$(readelf -n "$entry" 2>/dev/null | sed -n 's/.*Build ID: //p')" = "$id" ] ||
	fail "first: the entry is not the debug file of $id"
readelf -S "$entry" | grep -E ' \.debug_info ' | grep -q ' C ' &&
	fail "first: the entry is still compressed"
cp "$entry" "$lib_tmp/good"

# Second run: the entry is used, nothing is inflated.  (A sanitized cprof
# cannot check leaks under strace: LeakSanitizer stops threads by ptrace.)
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -qq -e trace=memfd_create,openat -o "$lib_tmp/strace" \
	"$CPROF" threads -p "$pid" --debug=2 >"$lib_tmp/second" \
	2>"$lib_tmp/second.err" ||
	fail "second: cprof exited $?: $(cat "$lib_tmp/second.err")"
grep -qE "openat\(.*\"$entry\", O_RDONLY[^)]*\) = [0-9]+" "$lib_tmp/strace" ||
	fail "second: the entry was not opened"
grep -q 'memfd_create("cprof-debuginfo"' "$lib_tmp/strace" &&
	fail "second: inflated again: $(grep 'memfd_create(' "$lib_tmp/strace")"
for name in $checked; do
	diff -u <(d2_named "$lib_tmp/ref" "$name") \
		<(d2_named "$lib_tmp/second" "$name") >/dev/null ||
		fail "second: thread '$name' differs from --no-cache"
done

# Damaged entries are turned down and replaced.
truncate -s $(($(stat -c %s "$entry") / 2)) "$entry"
snapshot truncated
cmp -s "$entry" "$lib_tmp/good" || fail "truncated: entry not replaced"
dd if=/dev/zero of="$entry" bs=4096 count=1 conv=notrunc status=none \
	seek=$(($(stat -c %s "$entry") / 4096 - 1))
snapshot overwritten
cmp -s "$entry" "$lib_tmp/good" || fail "overwritten: entry not replaced"

# Two runs at once on an empty cache, each of its own process (a process
# is traced by one tracer at a time), both needing the same glibc.
start_target parked2 "$parked"
pid2=$TARGET_PID
rm -rf "$XDG_CACHE_HOME"
run_cprof "$lib_tmp/both1" threads -p "$pid" --debug=2 &
job1=$!
run_cprof "$lib_tmp/both2" threads -p "$pid2" --debug=2 &
job2=$!
wait $job1 || fail "concurrent: the first cprof exited $?: $(cat "$lib_tmp/both1.err")"
wait $job2 || fail "concurrent: the second cprof exited $?: $(cat "$lib_tmp/both2.err")"
for what in both1 both2; do
	for name in $checked; do
		diff -u <(d2_named "$lib_tmp/ref" "$name") \
			<(d2_named "$lib_tmp/$what" "$name") >/dev/null ||
			fail "concurrent: $what: thread '$name' differs"
	done
done
check_runs_on "$pid2"
cmp -s "$entry" "$lib_tmp/good" || fail "concurrent: the entry is not whole"
# (ID.locations entries are symbols-locations.sh's.)
left=$(find "$XDG_CACHE_HOME" -type f ! -path "$entry" ! -name '*.locations')
[ -z "$left" ] || fail "concurrent: files left: $left"

# A read-only and a full cache directory.
if [ "$(id -u)" = 0 ] && unshare --mount true 2>/dev/null; then
	rm -rf "$XDG_CACHE_HOME"
	mkdir -p "$XDG_CACHE_HOME"
	for opts in ro size=1m; do
		in_namespace "$opts" "$CPROF" threads -p "$pid" --debug=2 \
			>"$lib_tmp/$opts" 2>"$lib_tmp/$opts.err"
		rc=$?
		[ $rc = 0 ] || fail "$opts: cprof exited $rc: $(cat "$lib_tmp/$opts.err")"
		[ -s "$lib_tmp/$opts.err" ] &&
			fail "$opts: stderr: $(cat "$lib_tmp/$opts.err")"
		for name in $checked; do
			diff -u <(d2_named "$lib_tmp/ref" "$name") \
				<(d2_named "$lib_tmp/$opts" "$name") >/dev/null ||
				fail "$opts: thread '$name' differs"
		done
	done
	left=$(in_namespace size=1m sh -c \
		"'$CPROF' threads -p $pid >/dev/null 2>&1; find '$XDG_CACHE_HOME' -type f ! -name '*.locations'")
	[ -z "$left" ] || fail "full: files left: $left"
else
	note "not root: read-only and full directories not checked"
fi
check_runs_on "$pid" "$TARGET_COUNTER"

finish
