#!/bin/bash
# Profiles are written safely and say nothing they should not:
# - a symlink planted at the -o path is replaced, never written through;
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

# --- A symlink planted at the output path -------------------------------
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
	[ "$(cat "$victim")" = precious ] ||
		fail "$args -o SYMLINK: wrote through the symlink into its target"
	[ -f "$lib_tmp/link.out" ] && ! [ -L "$lib_tmp/link.out" ] &&
		[ -s "$lib_tmp/link.out" ] ||
		fail "$args -o SYMLINK: the path is not a regular file with the profile"
done
# A dangling symlink: its target is never created.
rm -f "$lib_tmp/link.out" "$lib_tmp/created"
ln -s "$lib_tmp/created" "$lib_tmp/link.out"
run_cprof "$lib_tmp/run" threads -p "$small" -o "$lib_tmp/link.out"
[ $? = 0 ] || fail "threads -o DANGLING-SYMLINK: $(cat "$lib_tmp/run.err")"
[ -e "$lib_tmp/created" ] && fail "threads -o DANGLING-SYMLINK: created its target"
[ -L "$lib_tmp/link.out" ] && fail "threads -o DANGLING-SYMLINK: still a symlink"
ls "$lib_tmp" | grep -q '\.tmp\.' && fail "temporary files left: $(ls "$lib_tmp")"
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
