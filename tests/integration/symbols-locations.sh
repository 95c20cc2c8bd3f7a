#!/bin/bash
# Resolved locations kept between runs: the debug-info cache holds, beside
# each object's debug file, ID.locations, the PCs a run resolved there
# with their frames (symbolize/loccache.c).
# - A first run writes glibc's entry, headed by this cprof's build id and
#   the object's state (symbols 1, DWARF 1), holding glibc's frames of
#   the sleeping thread.
# - A second run shows what --no-cache shows, frame for frame.
# - The entry is what a run shows: a name changed in it shows changed.
# - An entry of another cprof build, a cut one and a garbled one are not
#   used: the frames are --no-cache's, and the entry is written again.
# - --no-cache neither reads nor writes one.
#
# usage: symbols-locations.sh CPROF PARKED
CPROF=$1 parked=$2
. "$(dirname "$0")/../lib/lib.sh"

require_file "$CPROF" cprof
require_file "$parked" "target parked"

lib_spinning=busy
start_target parked "$parked"
pid=$TARGET_PID
libc=$(awk '$6 ~ /\/libc\.so\.6$/ { print $6; exit }' "/proc/$pid/maps")
id=$(readelf -n "/proc/$pid/root$libc" | sed -n 's/.*Build ID: //p')
self=$(readelf -n "$CPROF" | sed -n 's/.*Build ID: //p')
[ -n "$self" ] || skip "cprof has no build id: nothing is cached"
debug=/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug
[ -f "$debug" ] || skip "no debug file for $libc (Debian package libc6-dbg)"

export XDG_CACHE_HOME=$lib_tmp/xdg
entry=$XDG_CACHE_HOME/cprof/debug-v1/$id.locations
checked="parked sleep read cond mutex inline dlopen"


# snapshot WHAT [ARGS...]: threads --debug=2 into $lib_tmp/WHAT, which must
# succeed silently.
snapshot()
{
	run_cprof "$lib_tmp/$1" threads -p "$pid" --debug=2 "${@:2}"
	local rc=$?
	[ $rc = 0 ] || fail "$1: cprof exited $rc: $(cat "$lib_tmp/$1.err")"
	[ -s "$lib_tmp/$1.err" ] && fail "$1: stderr: $(cat "$lib_tmp/$1.err")"
}

# same_as_ref WHAT: every checked thread's frames are --no-cache's.
same_as_ref()
{
	local name
	for name in $checked; do
		diff -u <(d2_named "$lib_tmp/ref" "$name") \
			<(d2_named "$lib_tmp/$1" "$name") >"$lib_tmp/diff" ||
			fail "$1: thread '$name' differs from --no-cache:
$(cat "$lib_tmp/diff")"
	done
}

# The sleeping thread's innermost frame is glibc's (clock_nanosleep).
snapshot ref --no-cache
[ -e "$XDG_CACHE_HOME/cprof" ] && fail "--no-cache made a cache"
leaf=$(d2_named "$lib_tmp/ref" sleep | head -1 | sed 's/(\.\.\.)$//')
[ -n "$leaf" ] || framework_error "no frames for the sleeping thread"

snapshot first
same_as_ref first
[ -f "$entry" ] || fail "first: no entry $entry: $(ls -R "$XDG_CACHE_HOME" 2>&1)"
[ "$(head -1 "$entry")" = "cprof-locations 1 $self 1 1" ] ||
	fail "first: the entry's header is '$(head -1 "$entry")'"
grep -qP "^[0-9]+ [0-9]+\t\Q$leaf\E\t" "$entry" ||
	fail "first: $leaf is not in the entry"
cp "$entry" "$lib_tmp/good"

snapshot second
same_as_ref second
# Kept as it was; a thread caught at a PC the first run did not see (one
# waking from its sleep, on a busy machine) adds its lines, no more.
[ "$(head -1 "$entry")" = "$(head -1 "$lib_tmp/good")" ] &&
	[ -z "$(comm -23 <(sort "$lib_tmp/good") <(sort "$entry"))" ] ||
	fail "second: the entry lost what the first run wrote"

# The entry is what shows: rename the leaf in it.
sed "s/\t$leaf\t/\tcached_$leaf\t/" "$lib_tmp/good" >"$entry"
snapshot renamed
[ "$(d2_named "$lib_tmp/renamed" sleep | head -1)" = "cached_$leaf(...)" ] ||
	fail "renamed: the sleeping thread's leaf is not cached_$leaf: $(d2_named "$lib_tmp/renamed" sleep | head -1)"

# Entries not to be used.
sed "1s/ $self / 0000$self /" "$lib_tmp/good" >"$lib_tmp/other-build"
head -c $(($(stat -c %s "$lib_tmp/good") / 2)) "$lib_tmp/good" >"$lib_tmp/cut"
sed "s/\t$leaf\t/ $leaf /" "$lib_tmp/good" >"$lib_tmp/garbled"
for bad in other-build cut garbled; do
	cp "$lib_tmp/$bad" "$entry"
	snapshot "$bad"
	same_as_ref "$bad"
	[ "$(head -1 "$entry")" = "cprof-locations 1 $self 1 1" ] ||
		fail "$bad: the entry was not written again"
	grep -qP "^[0-9]+ [0-9]+\t\Q$leaf\E\t" "$entry" ||
		fail "$bad: the entry written again lacks $leaf"
done

# --no-cache reads no entry.
sed "s/\t$leaf\t/\tcached_$leaf\t/" "$lib_tmp/good" >"$entry"
snapshot nocache --no-cache
same_as_ref nocache
cmp -s "$entry" <(sed "s/\t$leaf\t/\tcached_$leaf\t/" "$lib_tmp/good") ||
	fail "--no-cache: the entry was written"
check_runs_on "$pid" "$TARGET_COUNTER"

finish
