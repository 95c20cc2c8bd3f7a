#!/bin/bash
# `cprof threads --debug=0 -o FILE` writes a gzipped profile that
# `go tool pprof -raw` and `-traces` read: sample type threads/count, counts
# adding up to the number of threads, every thread labelled with its
# thread_id, thread_name, state and wait, and its stack as in --debug=2.
#
# usage: threads-pprof.sh CPROF PARKED
CPROF=$1 parked=$2
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/chains.sh"

require_file "$CPROF" cprof
require_file "$parked" "target parked"
command -v go >/dev/null || skip "go not installed (Debian package golang-go)"

# go tool pprof, offline, with its caches in our temporary directory.
gopprof()
{
	mkdir -p "$lib_tmp/go"
	env GOPROXY=off GO111MODULE=off GOFLAGS= GOCACHE="$lib_tmp/go/cache" \
		HOME="$lib_tmp/go" GOPATH="$lib_tmp/go" PPROF_TMPDIR="$lib_tmp/go" \
		go tool pprof "$@"
}

# A secret in the target's environment must not reach the profile.
secret=cprof-test-secret-$$-$RANDOM
CPROF_TEST_SECRET=$secret start_target parked "$parked"
pid=$TARGET_PID
prof=$lib_tmp/t.prof

run_cprof "$lib_tmp/stdout" threads -p "$pid" --debug=0 -o "$prof"
rc=$?
[ $rc = 0 ] || fail "cprof exited $rc: $(cat "$lib_tmp/stdout.err")"
check_runs_on "$pid" "$TARGET_COUNTER"
[ -s "$prof" ] || die "no profile written"
[ -s "$lib_tmp/stdout" ] && fail "cprof wrote to stdout with -o"
[ "$(od -An -tx1 -N2 "$prof" | tr -d ' ')" = 1f8b ] ||
	fail "profile is not gzip-compressed"

gzip -dc "$prof" >"$lib_tmp/t.pb" || fail "profile does not decompress"
grep -q "$secret" "$lib_tmp/t.pb" &&
	fail "the profile holds the target's environment"

all_tids=$(tids "$pid")
nthreads=$(printf '%s\n' "$all_tids" | wc -l)

# --- -raw: sample type, values, labels ---------------------------------
gopprof -raw "$prof" >"$lib_tmp/raw" 2>"$lib_tmp/raw.err" ||
	die "go tool pprof -raw failed: $(cat "$lib_tmp/raw.err")"

# DESIGN.md 5: time_nanos, and comments naming the target's executable and
# the cprof version.
grep -q '^Time: ' "$lib_tmp/raw" || fail "-raw: no Time: time_nanos not set"
grep -qE '^Comment: .*parked' "$lib_tmp/raw" ||
	fail "-raw: no comment names the target's executable:" \
		"$(grep '^Comment:' "$lib_tmp/raw")"
grep -qE '^Comment: .*cprof [0-9]' "$lib_tmp/raw" ||
	fail "-raw: no comment gives the cprof version"

sample_type=$(sed -n '/^Samples:$/{n;p;q}' "$lib_tmp/raw")
[ "$sample_type" = "threads/count" ] ||
	fail "sample type '$sample_type', expected threads/count"

# One line per sample: VALUE<tab>THREAD_ID<tab>NAME<tab>STATE<tab>WAIT.
awk '
	function label(line, key,   m) {
		if (match(line, key ":\\[[^]]*\\]"))
			return substr(line, RSTART + length(key) + 2,
				RLENGTH - length(key) - 3)
		return ""
	}
	function put() {
		if (have)
			printf "%s\t%s\t%s\t%s\t%s\n", value, tid, name, state, wait
		have = 0
	}
	/^Samples:$/ { on = 1; getline; next }
	/^Locations/ { put(); on = 0 }
	!on { next }
	/^ +[0-9]+: / { put(); have = 1; value = $1 + 0; tid = name = state = wait = ""; next }
	{
		if (label($0, "thread_id") != "") tid = label($0, "thread_id")
		if (label($0, "thread_name") != "") name = label($0, "thread_name")
		if (label($0, "state") != "") state = label($0, "state")
		if (label($0, "wait") != "") wait = label($0, "wait")
	}
	END { put() }' "$lib_tmp/raw" >"$lib_tmp/samples"

total=$(awk -F'\t' '{ s += $1 } END { print s + 0 }' "$lib_tmp/samples")
[ "$total" = "$nthreads" ] ||
	fail "-raw: sample values add up to $total, the target has $nthreads threads"

got=$(cut -f2 "$lib_tmp/samples" | sort -n | paste -sd' ')
want=$(printf '%s\n' "$all_tids" | paste -sd' ')
[ "$got" = "$want" ] ||
	fail "-raw: thread_id labels '$got', expected '$want'"

for tid in $all_tids; do
	name=$(thread_name "$pid" "$tid")
	line=$(awk -F'\t' -v tid="$tid" '$2 == tid' "$lib_tmp/samples")
	IFS=$'\t' read -r value _ lname lstate lwait <<<"$line"
	[ "$value" = 1 ] || fail "-raw: thread $tid: value '$value', expected 1"
	[ "$lname" = "$name" ] ||
		fail "-raw: thread $tid: thread_name '$lname', expected '$name'"
	want_wait=$(parked_wait "$name") || {
		fail "unexpected thread $tid '$name'"
		continue
	}
	if [ -n "$want_wait" ]; then
		want="sleeping/$want_wait"
	else
		# The busy thread: running, perhaps inside clock_gettime.
		want="running/(clock_gettime)?"
	fi
	[[ $lstate/$lwait =~ ^$want$ ]] ||
		fail "-raw: thread $tid '$name': state/wait '$lstate/$lwait'," \
			"expected '$want'"
done

# --- -traces: every thread's stack, frame by frame -------------------------
gopprof -traces "$prof" >"$lib_tmp/traces" 2>"$lib_tmp/traces.err" ||
	die "go tool pprof -traces failed: $(cat "$lib_tmp/traces.err")"
grep -qx 'Type: threads' "$lib_tmp/traces" ||
	fail "-traces: no 'Type: threads' line"
grep -qx 'File: parked' "$lib_tmp/traces" ||
	fail "-traces: main mapping is not the target's executable:" \
		"$(grep '^File:' "$lib_tmp/traces")"

# traces_chain TID: the functions of TID's sample, joined with ";".
traces_chain()
{
	awk -v tid="$1" '
		/^-----------\+/ { if (found) exit; n = 0; mine = 0; next }
		/^ *thread_id:  / { mine = ($2 == tid); next }
		/^ *[a-z_]+:  / { next }
		mine && substr($0, 11, 3) == "   " {
			name = substr($0, 14)
			sub(/ \(inline\)$/, "", name)
			out = out (n++ ? ";" : "") name
			found = 1
		}
		END { print out }' "$lib_tmp/traces"
}

for tid in $all_tids; do
	name=$(thread_name "$pid" "$tid")
	pattern=$(expected_parked "$name") || continue
	expect_chain "-traces: thread $tid '$name'" "$(traces_chain "$tid")" \
		"$pattern"
done

finish
