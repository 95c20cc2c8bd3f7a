#!/bin/bash
# Files as the target sees them.  Copies of `parked` and of the library it
# loads run
# - in a mount namespace of their own (unshare --mount), from a tmpfs
#   mounted there only, where each file is bind-mounted: the path in
#   /proc/PID/maps does not exist outside;
# - after both files were deleted;
# - after both were replaced by other files under the same names (a
#   deploy: a new file renamed over the old);
# and `threads` gives each the frames and file:line of the plain target,
# as root (through /proc/PID/map_files) and without CAP_SYS_ADMIN and
# CAP_CHECKPOINT_RESTORE, which map_files needs (through /proc/PID/root
# and /proc/PID/exe, each file taken only when its build id is the one in
# the target's memory).  Without those capabilities a deleted or replaced
# library has no file: it is read from the target's memory, and named
# from its .dynsym, never after the file that replaced it.
#
# usage: symbols-files.sh CPROF PARKED
CPROF=$1 parked=$2
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/chains.sh"

require_file "$CPROF" cprof
require_file "$parked" "target parked"
parked_dir=$(cd "$(dirname "$parked")" && pwd)
dl=libcproftarget-dl.so
require_file "$parked_dir/$dl" "library $dl"
[ "$(id -u)" = 0 ] || skip "mount namespaces need root"
unshare --mount true 2>/dev/null || skip "unshare --mount refused here"

# The threads compared frame by frame: the main thread, code in the
# executable and in the library, inline frames, libc's waits.
checked="parked sleep dlopen inline read cond mutex"

# frames FILE NAME: the frame lines of thread NAME's block, header left
# out, the directory of each copy of the target shown as OBJ/.
frames()
{
	d2_named "$1" "$2" |
		sed -E "s#	($parked_dir|$lib_tmp/[a-z]+(/app)?)/#	OBJ/#"
}

# same_as_plain WHAT FILE PID: every thread shown; the checked threads'
# frames are the plain target's, names, file:line and offsets.
same_as_plain()
{
	local what=$1 out=$2 pid=$3 want got name
	want=$(tids "$pid" | paste -sd' ')
	got=$(d2_threads "$out" | cut -d' ' -f1 | paste -sd' ')
	[ "$got" = "$want" ] || fail "$what: threads '$got', expected '$want'"
	for name in $checked; do
		diff -u <(frames "$lib_tmp/plain.d2" "$name") \
			<(frames "$out" "$name") >"$lib_tmp/diff" ||
			fail "$what: thread '$name' differs from the plain target's:
$(cat "$lib_tmp/diff")"
	done
}

# snapshot WHAT PID [CAPLESS]: `threads --debug=2` into $lib_tmp/WHAT.d2, as
# root or, with CAPLESS, without the capabilities map_files needs.
snapshot()
{
	local what=$1 pid=$2 rc
	if [ -n "${3:-}" ]; then
		timeout -k 5 60 setpriv \
			--bounding-set=-sys_admin,-checkpoint_restore \
			--inh-caps=-sys_admin,-checkpoint_restore \
			"$CPROF" threads -p "$pid" --debug=2 \
			>"$lib_tmp/$what.d2" 2>"$lib_tmp/$what.d2.err"
	else
		run_cprof "$lib_tmp/$what.d2" threads -p "$pid" --debug=2
	fi
	rc=$?
	[ $rc = 0 ] || fail "$what: cprof exited $rc: $(cat "$lib_tmp/$what.d2.err")"
	check_runs_on "$pid"
}

# copy_target DIR: parked and its library in DIR.
copy_target()
{
	mkdir -p "$1" && cp "$parked" "$parked_dir/$dl" "$1/" ||
		framework_error "cannot copy the target to $1"
}

# The plain target: the frames to expect.
start_target plain "$parked"
run_cprof "$lib_tmp/plain.d2" threads -p "$TARGET_PID" --debug=2 ||
	framework_error "plain target: cprof exited $?"

# A mount namespace of its own: a tmpfs over $lib_tmp/ns, seen there only,
# with the copies bind-mounted at app/; outside, $lib_tmp/ns stays empty.
copy_target "$lib_tmp/real"
mkdir -p "$lib_tmp/ns"
start_target ns unshare --mount --propagation private sh -c '
	mount -t tmpfs cprof-test "$1" && mkdir "$1/app" &&
	: >"$1/app/parked" && : >"$1/app/$3" &&
	mount --bind "$2/parked" "$1/app/parked" &&
	mount --bind "$2/$3" "$1/app/$3" && exec "$1/app/parked"' \
	sh "$lib_tmp/ns" "$lib_tmp/real" "$dl"
ns_pid=$TARGET_PID
grep -q " $lib_tmp/ns/app/parked\$" "/proc/$ns_pid/maps" ||
	framework_error "ns: parked is not mapped from $lib_tmp/ns/app"
[ -e "$lib_tmp/ns/app/parked" ] &&
	framework_error "ns: $lib_tmp/ns/app/parked exists outside"
snapshot ns "$ns_pid"
same_as_plain ns "$lib_tmp/ns.d2" "$ns_pid"
snapshot ns-capless "$ns_pid" capless
same_as_plain "ns, without CAP_SYS_ADMIN" "$lib_tmp/ns-capless.d2" "$ns_pid"

# Deleted after start.
copy_target "$lib_tmp/deleted"
start_target deleted "$lib_tmp/deleted/parked"
deleted_pid=$TARGET_PID
rm "$lib_tmp/deleted/parked" "$lib_tmp/deleted/$dl" ||
	framework_error "cannot delete the target's files"
grep -q " $lib_tmp/deleted/parked (deleted)\$" "/proc/$deleted_pid/maps" ||
	framework_error "deleted: maps does not say so"
snapshot deleted "$deleted_pid"
same_as_plain deleted "$lib_tmp/deleted.d2" "$deleted_pid"

# Replaced after start: other ELF files renamed over both.
copy_target "$lib_tmp/replaced"
start_target replaced "$lib_tmp/replaced/parked"
replaced_pid=$TARGET_PID
cp /bin/true "$lib_tmp/replaced/parked.new" &&
	mv -f "$lib_tmp/replaced/parked.new" "$lib_tmp/replaced/parked" &&
	cp "$(ldd /bin/true | awk '$1 ~ /^libc\.so/ { print $3 }')" \
		"$lib_tmp/replaced/$dl.new" &&
	mv -f "$lib_tmp/replaced/$dl.new" "$lib_tmp/replaced/$dl" ||
	framework_error "cannot replace the target's files"
snapshot replaced "$replaced_pid"
same_as_plain replaced "$lib_tmp/replaced.d2" "$replaced_pid"

# Without map_files: the executable is still /proc/PID/exe; the library,
# deleted or replaced, is read from the target's memory as the vDSO is:
# the same frames, named from its .dynsym, without file:line (its debug
# information was in the file).
for what in deleted replaced; do
	pid=${what}_pid
	pid=${!pid}
	snapshot "$what-capless" "$pid" capless
	checked="parked sleep inline read cond mutex" \
		same_as_plain "$what, without CAP_SYS_ADMIN" \
		"$lib_tmp/$what-capless.d2" "$pid"
	diff -u <(frames "$lib_tmp/plain.d2" dlopen |
		sed -E "s#	/.*/dl-lib\.c:[0-9]+ #	OBJ/$dl #") \
		<(frames "$lib_tmp/$what-capless.d2" dlopen) >"$lib_tmp/diff" ||
		fail "$what, without CAP_SYS_ADMIN: thread 'dlopen':
$(cat "$lib_tmp/diff")"
done

finish
