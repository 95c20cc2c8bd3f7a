#!/bin/bash
# Debug files from a debuginfod server.  A copy of `parked` and of the
# library it loads, stripped of their debug info (build ids kept), runs;
# Debian's debuginfod serves their debug files on a port of this machine.
#
# - With DEBUGINFOD_URLS naming it, `threads` gives the stripped target
#   the very frames and file:line of the unstripped one, and `record`
#   fetches the files too.
# - --no-debuginfod asks no server and reads no debuginfod cache: frames
#   are named from the symbol table, without file:line.
# - With the server gone (connection refused), one that accepts and never
#   answers, and one whose SYNs are dropped (an address where nothing
#   answers), the capture succeeds, names frames from the symbol table,
#   says once why on stderr, asks one server once per run, and ends
#   within its bound: DEBUGINFOD_TIMEOUT when the user sets it, else
#   cprof's DEBUGINFOD_MAXTIME of 10 s (plus libdebuginfod's 1 s poll).
# - No thread of the target is stopped while cprof waits for a server.
#
# usage: symbols-debuginfod.sh CPROF PARKED
CPROF=$1 parked=$2
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/chains.sh"

require_file "$CPROF" cprof
require_file "$parked" "target parked"
command -v debuginfod >/dev/null ||
	skip "debuginfod not installed (Debian package debuginfod)"
stall=$(cd "$(dirname "$0")/../lib" && pwd)/stall-server.py
parked_dir=$(cd "$(dirname "$parked")" && pwd)
dl_lib=$parked_dir/libcproftarget-dl.so
require_file "$dl_lib" "library libcproftarget-dl.so"

# Nothing of the caller's configuration: each run names its server.
unset DEBUGINFOD_URLS DEBUGINFOD_TIMEOUT DEBUGINFOD_MAXTIME \
	DEBUGINFOD_MAXSIZE DEBUGINFOD_RETRY_LIMIT DEBUGINFOD_PROGRESS \
	DEBUGINFOD_VERBOSE DEBUGINFOD_CACHE_PATH

bin=$lib_tmp/bin srv=$lib_tmp/srv
mkdir -p "$bin" "$srv"
for f in "$parked" "$dl_lib"; do
	name=$(basename "$f")
	cp "$f" "$bin/$name" &&
		objcopy --only-keep-debug "$f" "$srv/$name.debug" &&
		strip --strip-debug "$bin/$name" ||
		framework_error "cannot split the debug info of $name"
	[ -z "$(readelf -S "$bin/$name" | grep -F .debug_)" ] ||
		framework_error "$name keeps debug sections"
done
build_id=$(readelf -n "$bin/parked" | sed -n 's/.*Build ID: //p')
[ -n "$build_id" ] || framework_error "stripped parked has no build id"

# free_port: a TCP port nothing listens on now.
free_port()
{
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# http_status PORT PATH: the status code of GET PATH on 127.0.0.1:PORT.
http_status()
{
	local line
	{ exec {fd}<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
	printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&"$fd"
	read -r -t 10 line <&"$fd"
	exec {fd}>&-
	line=${line#* }
	printf '%s\n' "${line%% *}"
}

# start_debuginfod: serve $srv; sets SERVER_PID and SERVER_PORT once the
# server answers for the target's debug file.
start_debuginfod()
{
	local try n
	for try in 1 2 3 4 5; do
		SERVER_PORT=$(free_port)
		# Its own upstream would be asked for what it lacks: none.
		env -u DEBUGINFOD_URLS TMPDIR="$lib_tmp" debuginfod -F -c 1 \
			-d "$lib_tmp/server.sqlite" -p "$SERVER_PORT" "$srv" \
			>"$lib_tmp/server.log" 2>&1 &
		SERVER_PID=$!
		lib_pids+=("$SERVER_PID")
		for ((n = 0; n < 600; n++)); do
			kill -0 "$SERVER_PID" 2>/dev/null || break
			[ "$(http_status "$SERVER_PORT" \
				"/buildid/$build_id/debuginfo")" = 200 ] && return 0
			sleep 0.05
		done
		# The port was taken meanwhile: another one.
		kill "$SERVER_PID" 2>/dev/null
		wait "$SERVER_PID" 2>/dev/null
	done
	framework_error "debuginfod did not serve: $(tail -3 "$lib_tmp/server.log")"
}

# start_stall MODE: the stall server (hang or drop); sets STALL_PID,
# STALL_PORT and STALL_OUT.
start_stall()
{
	local n
	STALL_OUT=$lib_tmp/stall.$1
	python3 "$stall" "$1" >"$STALL_OUT" 2>&1 &
	STALL_PID=$!
	lib_pids+=("$STALL_PID")
	for ((n = 0; n < 200; n++)); do
		STALL_PORT=$(sed -n 's/^port //p' "$STALL_OUT")
		[ -n "$STALL_PORT" ] && return 0
		sleep 0.05
	done
	framework_error "stall server ($1) did not start: $(cat "$STALL_OUT")"
}

# server_requests: the debug file requests the debuginfod server logged.
server_requests()
{
	grep -c 'GET /buildid/' "$lib_tmp/server.log"
}

# frames FILE NAME: the frame lines of thread NAME's block, header left
# out, the directory of either copy of the target shown as OBJ/.
frames()
{
	d2_named "$1" "$2" |
		sed "s|	$bin/|	OBJ/|; s|	$parked_dir/|	OBJ/|"
}

# snapshot NAME [ARGS...]: `threads -p PID --debug=2` of the stripped
# target into $lib_tmp/NAME with ARGS, DEBUGINFOD_* as exported; sets RC
# and ELAPSED_MS.
snapshot()
{
	local name=$1 t0 t1
	shift
	t0=$(date +%s%N)
	run_cprof "$lib_tmp/$name" threads -p "$pid" --debug=2 "$@"
	RC=$?
	t1=$(date +%s%N)
	ELAPSED_MS=$(((t1 - t0) / 1000000))
}

# expected_symtab NAME: the pattern for thread NAME of the stripped
# target without its debug file: no inline frames.
expected_symtab()
{
	case $1 in
	inline) echo "$chain_sleep;inline_outer;inline_main;$chain_start" ;;
	*) expected_parked "$1" ;;
	esac
}

# The threads whose chains are checked: the main thread, code in the
# executable and in the library, inline frames, libc's waits.
checked="parked sleep dlopen inline read cond mutex"

# check_named WHAT FILE EXPECT-FN: the chains of the checked threads are
# exact, and every thread is shown.
check_named()
{
	local tid name want got
	want=$(tids "$pid" | paste -sd' ')
	got=$(d2_threads "$2" | cut -d' ' -f1 | paste -sd' ')
	[ "$got" = "$want" ] || fail "$1: threads '$got', expected '$want'"
	for tid in $(tids "$pid"); do
		name=$(thread_name "$pid" "$tid")
		case " $checked " in *" $name "*) ;; *) continue ;; esac
		expect_chain "$1: thread '$name'" "$(d2_chain "$2" "$tid")" \
			"$("$3" "$name")"
	done
}

# check_symtab_only WHAT FILE: frames of the stripped objects are named
# from their symbol tables, at their object and offset, no file:line.
check_symtab_only()
{
	local got
	check_named "$1" "$2" expected_symtab
	got=$(frames "$2" sleep | awk '$0 == "sleep_inner(...)" { getline; print; exit }')
	printf '%s\n' "$got" | grep -qxE "	OBJ/parked \+0x[0-9a-f]+" ||
		fail "$1: sleep_inner at '$got', expected $bin/parked +0x..."
	got=$(frames "$2" dlopen | awk '$0 == "dl_inner(...)" { getline; print; exit }')
	printf '%s\n' "$got" | grep -qxE "	OBJ/libcproftarget-dl.so \+0x[0-9a-f]+" ||
		fail "$1: dl_inner at '$got', expected $bin/libcproftarget-dl.so +0x..."
}

# check_failure WHAT FILE REASON: one line on stderr says why.
check_failure()
{
	local want="cprof: debuginfod: cannot fetch the debug file of 'parked' ($3): no server is asked again in this run"
	[ "$RC" = 0 ] || fail "$1: cprof exited $RC: $(cat "$2.err")"
	[ "$(cat "$2.err")" = "$want" ] ||
		fail "$1: stderr '$(cat "$2.err")', expected '$want'"
	check_symtab_only "$1" "$2"
	check_runs_on "$pid"
}

# The unstripped target: the frames and lines to expect.
start_target full "$parked"
full_pid=$TARGET_PID
run_cprof "$lib_tmp/full" threads -p "$full_pid" --debug=2 ||
	framework_error "unstripped target: cprof exited $?"
lib_spinning=busy
start_target stripped "$bin/parked"
pid=$TARGET_PID
start_debuginfod
export DEBUGINFOD_URLS=http://127.0.0.1:$SERVER_PORT

# A server that has the files: the stripped target's frames are the
# unstripped one's, file:line and inline frames included.
export DEBUGINFOD_CACHE_PATH=$lib_tmp/cache.live
snapshot live
[ "$RC" = 0 ] || fail "live: cprof exited $RC: $(cat "$lib_tmp/live.err")"
[ -s "$lib_tmp/live.err" ] && fail "live: stderr: $(cat "$lib_tmp/live.err")"
check_named live "$lib_tmp/live" expected_parked
for name in parked sleep dlopen read mutex cond epoll poll sigwait \
	sighandler inline recurse; do
	diff -u <(frames "$lib_tmp/full" "$name") \
		<(frames "$lib_tmp/live" "$name") >"$lib_tmp/diff" ||
		fail "live: thread '$name' differs from the unstripped target's:
$(cat "$lib_tmp/diff")"
done
[ -s "$DEBUGINFOD_CACHE_PATH/$build_id/debuginfo" ] ||
	fail "live: no debug file fetched for $build_id"
check_runs_on "$pid"

# record fetches as threads does.
export DEBUGINFOD_CACHE_PATH=$lib_tmp/cache.record
run_cprof "$lib_tmp/record" record -p "$pid" -s 0.2 --mode=wall \
	--format=folded || fail "record: cprof exited $?: $(cat "$lib_tmp/record.err")"
grep -q ';sleep_main;sleep_outer;sleep_inner;' "$lib_tmp/record" ||
	fail "record: no sleep_inner stack"
[ -s "$DEBUGINFOD_CACHE_PATH/$build_id/debuginfo" ] ||
	fail "record: no debug file fetched for $build_id"
check_runs_on "$pid"

# --no-debuginfod: the same server is not asked, no cache is read.
export DEBUGINFOD_CACHE_PATH=$lib_tmp/cache.off
before=$(server_requests)
snapshot off --no-debuginfod
[ "$RC" = 0 ] || fail "off: cprof exited $RC: $(cat "$lib_tmp/off.err")"
[ -s "$lib_tmp/off.err" ] && fail "off: stderr: $(cat "$lib_tmp/off.err")"
check_symtab_only off "$lib_tmp/off"
[ "$(server_requests)" = "$before" ] ||
	fail "off: the server was asked: $(grep 'GET /buildid/' "$lib_tmp/server.log" | tail -n +$((before + 1)))"
[ -e "$DEBUGINFOD_CACHE_PATH" ] && fail "off: a debuginfod cache was made"
for cmd in threads record; do
	env -u DEBUGINFOD_URLS "$CPROF" "$cmd" -p "$pid" --debuginfod \
		>/dev/null 2>"$lib_tmp/on.err"
	rc=$?
	[ $rc = 64 ] || fail "$cmd --debuginfod without DEBUGINFOD_URLS: exit $rc"
	[ "$(cat "$lib_tmp/on.err")" = "cprof: --debuginfod: DEBUGINFOD_URLS names no server" ] ||
		fail "$cmd --debuginfod without DEBUGINFOD_URLS: '$(cat "$lib_tmp/on.err")'"
done

# The server gone: its port refuses.
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
export DEBUGINFOD_CACHE_PATH=$lib_tmp/cache.refused
snapshot refused --debuginfod
check_failure refused "$lib_tmp/refused" "Connection refused"
[ "$ELAPSED_MS" -lt 10000 ] || fail "refused: took $ELAPSED_MS ms"

# A server that never answers, with the user's own bound of 2 s: one
# connection in all, and the target runs free while cprof waits.
start_stall hang
export DEBUGINFOD_URLS=http://127.0.0.1:$STALL_PORT DEBUGINFOD_TIMEOUT=2
export DEBUGINFOD_CACHE_PATH=$lib_tmp/cache.hang
t0=$(date +%s%N)
run_cprof "$lib_tmp/hang" threads -p "$pid" --debug=2 &
cprof_job=$!
wait_line "$STALL_OUT" "connection 1" 20 ||
	fail "hang: cprof never connected: $(cat "$lib_tmp/hang.err")"
for tid in $(tids "$pid"); do
	case $(lib_stat_state "/proc/$pid/task/$tid") in
	t | T) fail "hang: thread $tid stopped while cprof waits for the server" ;;
	esac
done
wait "$cprof_job"
RC=$?
ELAPSED_MS=$((($(date +%s%N) - t0) / 1000000))
check_failure hang "$lib_tmp/hang" "Timer expired"
[ "$(grep -c '^connection ' "$STALL_OUT")" = 1 ] ||
	fail "hang: $(grep -c '^connection ' "$STALL_OUT") connections, expected 1"
[ "$ELAPSED_MS" -lt 6000 ] ||
	fail "hang: took $ELAPSED_MS ms with DEBUGINFOD_TIMEOUT=2"
note "hang: done in $ELAPSED_MS ms"
unset DEBUGINFOD_TIMEOUT

# SYNs dropped, cprof's own bounds: DEBUGINFOD_MAXTIME=10, once a run.
start_stall drop
export DEBUGINFOD_URLS=http://127.0.0.1:$STALL_PORT
export DEBUGINFOD_CACHE_PATH=$lib_tmp/cache.drop
snapshot drop
check_failure drop "$lib_tmp/drop" "Timer expired"
[ "$ELAPSED_MS" -lt 13000 ] ||
	fail "drop: took $ELAPSED_MS ms, the bound is 10 s (+1 s)"
note "drop: done in $ELAPSED_MS ms"

finish
