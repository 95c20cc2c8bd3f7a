#!/bin/bash
# Profiles are written where -o points, safely, and say nothing they
# should not:
# - a symlink is followed as open(2) follows it, except one another user
#   planted in a sticky world-writable directory; a character device or a
#   FIFO is written in place; -o - is stdout; a SIGKILL leaves no file;
#   pprof meant for a terminal goes to a file whose name is said;
# - a full disk (a 64 KiB tmpfs, /dev/full) ends in one "cprof: ...: No
#   space left on device" line and exit 2, with no file under the final
#   name, no temporary file left behind, and an older profile at that name
#   untouched;
# - no output (pprof, text, folded, top, stderr) holds the target's command
#   line or environment.
#
# usage: output-safety.sh CPROF PARKED
# The full-disk checks need root to mount a tmpfs; without it they are
# skipped (and the test exits 77 if all else passed).
CPROF=$1 parked=$2
. "$(dirname "$0")/../lib/lib.sh"

require_file "$CPROF" cprof
require_file "$parked" "target parked"

full=$lib_tmp/full
mounted=0
output_cleanup()
{
	[ $mounted = 1 ] && umount "$full"
	lib_cleanup
}
trap output_cleanup EXIT

argv_secret=cprof-secret-argv-5e1c9a
arg_secret=cprof-secret-arg-8d2f40
env_secret=cprof-secret-env-b73a61
# argv[0], argv[2] (parked ignores it) and the environment hold secrets.
start_target parked env CPROF_SECRET="$env_secret" \
	bash -c 'exec -a "$0" "$@"' "$argv_secret" \
	"$parked" "$(dirname "$parked")/libcproftarget-dl.so" "$arg_secret"
pid=$TARGET_PID counter=$TARGET_COUNTER
tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$arg_secret" ||
	framework_error "the secret is not in the target's command line"
tr '\0' '\n' <"/proc/$pid/environ" | grep -q "$env_secret" ||
	framework_error "the secret is not in the target's environment"

sleep 600 &
small=$!
lib_pids+=("$small")

# one_error WHAT OUT RC PATTERN: exit 2 and stderr exactly one error line
# matching PATTERN.  A record run on a loaded machine may warn about
# missed ticks first: warnings are not errors.
one_error()
{
	local what=$1 out=$2 rc=$3 pattern=$4
	[ "$rc" = 2 ] || fail "$what: exit $rc, expected 2"
	grep -v '^cprof: warning: ' "$out.err" >"$out.errors"
	[ "$(wc -l <"$out.errors")" = 1 ] && grep -qEx -e "$pattern" "$out.errors" ||
		fail "$what: stderr is not one line /$pattern/: $(cat "$out.err")"
}

# --- -o writes where it points, as a shell redirection does ------------
# A symlink is followed: the file it names is updated, the link stays.
victim=$lib_tmp/victim
for args in "threads --debug=1" "threads --debug=0" \
	"record -s 0.3 --mode=wall --format=folded" "record -s 0.3 --mode=wall"; do
	printf 'precious\n' >"$victim"
	rm -f "$lib_tmp/link.out"
	ln -s "$victim" "$lib_tmp/link.out"
	# shellcheck disable=SC2086
	run_cprof "$lib_tmp/run" $args -p "$small" -o "$lib_tmp/link.out"
	rc=$?
	[ $rc = 0 ] || fail "$args -o SYMLINK: exit $rc: $(cat "$lib_tmp/run.err")"
	[ -L "$lib_tmp/link.out" ] ||
		fail "$args -o SYMLINK: the link was replaced"
	[ -f "$victim" ] && [ -s "$victim" ] &&
		[ "$(cat "$victim")" != precious ] ||
		fail "$args -o SYMLINK: the file it names does not hold the profile"
done
# A dangling symlink: its target is created, as open(2) would.
rm -f "$lib_tmp/link.out" "$lib_tmp/created"
ln -s "$lib_tmp/created" "$lib_tmp/link.out"
run_cprof "$lib_tmp/run" threads -p "$small" -o "$lib_tmp/link.out"
[ $? = 0 ] || fail "threads -o DANGLING-SYMLINK: $(cat "$lib_tmp/run.err")"
[ -s "$lib_tmp/created" ] || fail "threads -o DANGLING-SYMLINK: its target not written"
[ -L "$lib_tmp/link.out" ] || fail "threads -o DANGLING-SYMLINK: no longer a symlink"
ls "$lib_tmp" | grep -q '\.tmp\.' && fail "temporary files left: $(ls "$lib_tmp")"

# A character device (1,3: /dev/null's numbers) stays a device.
if mknod "$lib_tmp/null" c 1 3 2>/dev/null; then
	for args in "threads --debug=0" "record -s 0.3 --mode=wall"; do
		# shellcheck disable=SC2086
		run_cprof "$lib_tmp/run" $args -p "$small" -o "$lib_tmp/null"
		rc=$?
		[ $rc = 0 ] || fail "$args -o DEVICE: exit $rc: $(cat "$lib_tmp/run.err")"
		[ -c "$lib_tmp/null" ] || fail "$args -o DEVICE: no longer a device"
	done
	rm -f "$lib_tmp/null"
else
	note "SKIP -o DEVICE: mknod is not allowed here"
fi

# A FIFO: its reader receives a profile go tool pprof reads.
mkfifo "$lib_tmp/fifo"
cat "$lib_tmp/fifo" >"$lib_tmp/fifo.prof" &
reader=$!
run_cprof "$lib_tmp/run" record -s 0.3 --mode=wall -p "$small" -o "$lib_tmp/fifo"
rc=$?
wait "$reader"
[ $rc = 0 ] || fail "-o FIFO: exit $rc: $(cat "$lib_tmp/run.err")"
[ -p "$lib_tmp/fifo" ] || fail "-o FIFO: no longer a FIFO"
go_pprof -raw "$lib_tmp/fifo.prof" >/dev/null 2>"$lib_tmp/fifo.err" ||
	fail "-o FIFO: the reader got no profile: $(cat "$lib_tmp/fifo.err")"

# -o - is stdout, and no file named "-" appears.
cprof_abs=$(realpath "$CPROF")
(cd "$lib_tmp" && timeout -k 5 60 "$cprof_abs" record -s 0.3 --mode=wall \
	-p "$small" -o - >"$lib_tmp/dash.prof" 2>"$lib_tmp/dash.err")
[ $? = 0 ] || fail "-o -: $(cat "$lib_tmp/dash.err")"
[ -e "$lib_tmp/-" ] && fail "-o -: a file named '-' was written"
go_pprof -top /dev/stdin <"$lib_tmp/dash.prof" >/dev/null 2>"$lib_tmp/dash.top.err" ||
	fail "-o - | go tool pprof -top /dev/stdin: $(cat "$lib_tmp/dash.top.err")"

# A link another user planted in a sticky world-writable directory is not
# followed (the kernel's protected_symlinks rule), whatever the sysctl.
if [ "$(id -u)" = 0 ]; then
	sticky=$lib_tmp/sticky
	mkdir -m 1777 "$sticky"
	printf 'precious\n' >"$lib_tmp/target-file"
	ln -s "$lib_tmp/target-file" "$sticky/planted"
	chown -h 65534:65534 "$sticky/planted"
	run_cprof "$lib_tmp/planted" threads -p "$small" -o "$sticky/planted"
	one_error "-o PLANTED-LINK" "$lib_tmp/planted" $? \
		"cprof: cannot create '$sticky/planted': a symlink on the way is in a sticky world-writable directory and owned by another user; refusing to follow it"
	[ "$(cat "$lib_tmp/target-file")" = precious ] ||
		fail "-o PLANTED-LINK: the file it names was written"
fi

# SIGKILL mid-record leaves the directory as it was.
mkdir "$lib_tmp/killdir"
printf 'older\n' >"$lib_tmp/killdir/p.prof"
before=$(ls -A "$lib_tmp/killdir")
start_cprof "$lib_tmp/killrun" record --mode=wall -p "$small" -s 60 \
	-o "$lib_tmp/killdir/p.prof"
wait_sampling "$small" "$CPROF_PID" 20 || fail "SIGKILL: cprof did not start"
kill -KILL "$CPROF_PID"
wait "$CPROF_PID" 2>/dev/null
forget_pid "$CPROF_PID"
[ "$(ls -A "$lib_tmp/killdir")" = "$before" ] &&
	[ "$(cat "$lib_tmp/killdir/p.prof")" = older ] ||
	fail "SIGKILL mid-record: the directory changed: $(ls -A "$lib_tmp/killdir")"

# stdout a terminal: pprof goes to cpu.prof, and stderr says so; -o - is
# refused there.
if command -v script >/dev/null; then
	mkdir "$lib_tmp/tty"
	(cd "$lib_tmp/tty" && script -qec "'$cprof_abs' record -p $small -s 0.3 --mode=wall" \
		/dev/null >"$lib_tmp/tty.out" 2>&1)
	[ -s "$lib_tmp/tty/wall.prof" ] || fail "tty: no wall.prof written"
	# A progress line, when one was shown, is erased by "\r\033[K"
	# before the line that says where.
	tr '\r' '\n' <"$lib_tmp/tty.out" | sed 's/^\x1b\[K//' |
		grep -q "^cprof: wrote wall.prof" ||
		fail "tty: stderr does not say where: $(cat "$lib_tmp/tty.out")"
	(cd "$lib_tmp/tty" && script -qec "'$cprof_abs' record -p $small -s 0.3 --mode=wall -o -" \
		/dev/null >"$lib_tmp/tty2.out" 2>&1)
	grep -q "^cprof: pprof is binary and stdout is a terminal: redirect it or use -o FILE" \
		"$lib_tmp/tty2.out" || fail "tty -o -: not refused: $(cat "$lib_tmp/tty2.out")"
fi
check_runs_on "$small"

# --- A full disk ----------------------------------------------------------
# /dev/full as stdout: every write fails.
for args in "threads --debug=2" "threads --debug=0" \
	"record -s 0.3 --mode=wall --format=top"; do
	# shellcheck disable=SC2086
	timeout -k 5 60 "$CPROF" $args -p "$pid" >/dev/full 2>"$lib_tmp/devfull.err"
	rc=$?
	one_error "$args >/dev/full" "$lib_tmp/devfull" $rc \
		"cprof: cannot write 'stdout': No space left on device"
	check_runs_on "$pid" "$counter"
done

mkdir -p "$full"
if mount -t tmpfs -o size=64k tmpfs "$full" 2>"$lib_tmp/mount.err"; then
	mounted=1
	# A profile bigger than the disk: parked's 1000-deep recursion.
	run_cprof "$lib_tmp/fits" threads -p "$small" --debug=2 -o "$full/p.txt"
	[ $? = 0 ] || fail "a small profile on the tmpfs: $(cat "$lib_tmp/fits.err")"
	cp "$full/p.txt" "$lib_tmp/p.txt.before"
	for name in new.txt p.txt; do
		run_cprof "$lib_tmp/enospc" threads -p "$pid" --debug=2 --pcs \
			-o "$full/$name"
		one_error "threads --debug=2 -o FULL/$name" "$lib_tmp/enospc" $? \
			"cprof: cannot write '$full/$name': No space left on device"
		check_runs_on "$pid" "$counter"
	done
	[ -e "$full/new.txt" ] && fail "a truncated profile under the final name"
	cmp -s "$full/p.txt" "$lib_tmp/p.txt.before" ||
		fail "the older profile was changed by a failed write"
	[ "$(ls -A "$full")" = p.txt ] ||
		fail "files left on the full disk: $(ls -A "$full")"

	# Fill the disk to the last byte: even a small profile cannot be
	# written, whichever write or close finds it out.
	dd if=/dev/zero of="$full/filler" bs=1k count=128 status=none 2>/dev/null
	for args in "threads --debug=0" "threads --debug=1" \
		"record -s 0.3 --mode=wall" "record -s 0.3 --mode=wall --format=folded"; do
		# shellcheck disable=SC2086
		run_cprof "$lib_tmp/filled" $args -p "$small" -o "$full/p.txt"
		one_error "$args -o FILLED/p.txt" "$lib_tmp/filled" $? \
			"cprof: cannot write '$full/p.txt': No space left on device"
		cmp -s "$full/p.txt" "$lib_tmp/p.txt.before" ||
			fail "$args: the older profile was changed by a failed write"
	done
	[ "$(ls -A "$full" | sort | paste -sd' ')" = "filler p.txt" ] ||
		fail "files left on the full disk: $(ls -A "$full")"
	# A full disk behind stdout.
	timeout -k 5 60 "$CPROF" threads -p "$pid" --debug=2 \
		>"$full/stdout.txt" 2>"$lib_tmp/stdout.err"
	one_error "threads >FILLED/stdout.txt" "$lib_tmp/stdout" $? \
		"cprof: cannot write 'stdout': No space left on device"
	check_runs_on "$pid" "$counter"
	umount "$full" && mounted=0
	check_runs_on "$small"
else
	note "SKIP full-disk checks: cannot mount a tmpfs: $(cat "$lib_tmp/mount.err")"
	mounted=skip
fi

# --- No command line, no environment ----------------------------------
outs=()
for args in "threads --debug=0" "threads --debug=1" "threads --debug=2 --pcs" \
	"record -s 0.5 --mode=wall" "record -s 0.5 --mode=wall --format=folded" \
	"record -s 0.5 --mode=cpu --format=top"; do
	out=$lib_tmp/secret.${#outs[@]}
	# shellcheck disable=SC2086
	run_cprof "$out" $args -p "$pid" --stats
	rc=$?
	[ $rc = 0 ] || fail "$args: exit $rc: $(cat "$out.err")"
	[ -s "$out" ] || fail "$args: empty output"
	if gzip -t "$out" 2>/dev/null; then
		gzip -dc "$out" >"$out.raw"
	else
		cp "$out" "$out.raw"
	fi
	outs+=("$out.raw" "$out.err")
	check_runs_on "$pid" "$counter"
done
# The pprof profiles do name the executable (their comment).
grep -aq "$(basename "$parked")" "$lib_tmp/secret.0.raw" ||
	fail "threads --debug=0: the executable is not named"
for f in "${outs[@]}"; do
	for secret in "$argv_secret" "$arg_secret" "$env_secret"; do
		grep -aq "$secret" "$f" && fail "$(basename "$f") holds $secret"
	done
done

[ $mounted = skip ] && [ $lib_failed = 0 ] && exit 77
finish
