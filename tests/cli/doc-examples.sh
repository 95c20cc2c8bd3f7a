#!/bin/bash
# Every example output in README.md and the manual pages is real output of
# the demo server (tests/demo/demo-server.c).
#
# An example is a README code block, or a man page .nf block, whose first
# line is "$ cprof ARGS" (or "$ build/cmd/cprof ARGS"); the lines after it
# are what the command prints.  This script starts the demo server, runs
# each example's command on it (its "-p N" naming the demo's pid) and
# matches the output line by line.  A line "..." in an example stands for
# any number of lines left out; otherwise the example starts at the first
# line of the output and ends at its last.
#
# Only what must vary from run to run is normalised:
#   - thread ids ("thread N ...") and addresses (0x... that is not an
#     offset "+0x...");
#   - paths: the examples show the source tree as /src/cprof and the build
#     directory as /src/cprof/build; the real ones are put in their place;
#   - in `record` output, which is sampled: each percentage within 10
#     points of the example's, and each value (a number with a time unit,
#     or a bare number) as a share of the output's total within 10 points
#     of the example's share, zero staying zero.  The total is the one
#     "Showing nodes accounting for ... of TOTAL total" states, else the
#     sum of the values that end lines (folded).  Shares, not values: a
#     busy machine gives the target less CPU time in the same seconds.
#     Columns may shift with the widths of the numbers.
# Function names, files, line numbers, offsets, frame order, thread names,
# states, counts of `threads` and the layout are compared exactly.
#
# With go installed, the table of `go tool pprof -top`, over a profile
# recorded like a --format=top example, matches that example's table too.
#
# usage: doc-examples.sh CPROF DEMO-SERVER SOURCE-ROOT BUILD-ROOT
CPROF=$1 demo=$2
srcdir=$(realpath "$3") builddir=$(realpath "$4")
. "$(dirname "$0")/../lib/lib.sh"

require_file "$CPROF" cprof
require_file "$demo" "demo server"

# The example blocks each file must have: one taken out of the check by a
# changed first line is a failure, not a silent pass.
declare -A want_examples=(
	[README.md]=2
	[man/cprof.1]=0
	[man/cprof-record.1]=1
	[man/cprof-threads.1]=2
)
doc_src=/src/cprof doc_build=/src/cprof/build
pct_points=10

# extract FILE: one file per example block in $lib_tmp/ex/, named
# FILE-LINE with "/" as "_": its first line the command, then the output.
# Man pages are unescaped (\& \- \e).
extract()
{
	awk -v dir="$lib_tmp/ex" -v name="$1" '
		function emit(   k, f) {
			if (n == 0 || lines[1] !~ /^\$ /)
				return
			f = name "-" start
			gsub("/", "_", f)
			for (k = 1; k <= n; k++)
				print lines[k] > (dir "/" f)
			close(dir "/" f)
		}
		name ~ /\.md$/ && /^```/ {
			if (on) { emit(); on = 0 } else { on = 1; n = 0; start = FNR + 1 }
			next
		}
		name ~ /\.[1-9]$/ && /^\.nf/ { on = 1; n = 0; start = FNR + 1; next }
		name ~ /\.[1-9]$/ && /^\.fi/ { if (on) emit(); on = 0; next }
		on {
			line = $0
			if (name ~ /\.[1-9]$/) {
				gsub(/\\&/, "", line)
				gsub(/\\-/, "-", line)
				gsub(/\\e/, "\\", line)
			}
			lines[++n] = line
		}' "$srcdir/$1"
}

# match_output EXAMPLE OUTPUT TOLERANT: whether OUTPUT (a file) matches
# EXAMPLE (a file of output lines with "..." lines); on a mismatch, says
# where on stdout.
match_output()
{
	awk -v tolerant="$3" -v src="$srcdir" -v build="$builddir" \
		-v dsrc="$doc_src" -v dbuild="$doc_build" \
		-v points="$pct_points" '
		function replace(s, from, to,   i, out) {
			out = ""
			while ((i = index(s, from)) > 0) {
				out = out substr(s, 1, i - 1) to
				s = substr(s, i + length(from))
			}
			return out s
		}
		function norm(s, broot, sroot,   out, hex) {
			s = replace(s, broot "/", "BUILD/")
			s = replace(s, sroot "/", "SRC/")
			sub(/^thread [0-9]+ "/, "thread TID \"", s)
			out = ""
			while (match(s, /0x[0-9a-f]+/)) {
				hex = substr(s, RSTART, RLENGTH)
				if (RSTART > 1 && substr(s, RSTART - 1, 1) == "+")
					out = out substr(s, 1, RSTART - 1) hex
				else
					out = out substr(s, 1, RSTART - 1) "0xADDR"
				s = substr(s, RSTART + RLENGTH)
			}
			return out s
		}
		# A sampled figure: value in v[1] (in ns for times), kind in
		# v[2] ("%", "t" time, "n" bare number), trailing comma in v[3].
		function figure(t, v,   num, unit) {
			if (!match(t, /^[0-9]+(\.[0-9]+)?/))
				return 0
			num = substr(t, 1, RLENGTH) + 0
			unit = substr(t, RLENGTH + 1)
			v[3] = sub(/,$/, "", unit)
			if (unit == "%") { v[1] = num; v[2] = "%"; return 1 }
			if (unit == "") { v[1] = num; v[2] = "n"; return 1 }
			if (!(unit in scale))
				return 0
			v[1] = num * scale[unit]; v[2] = "t"
			return 1
		}
		function same_figure(a, b,   x, y) {
			if (a == b) return 1
			if (!figure(a, x) || !figure(b, y)) return 0
			if (x[3] != y[3]) return 0
			# A time of zero prints as a bare 0.
			if (x[2] == "n" && x[1] == 0 && y[2] == "t") x[2] = "t"
			if (y[2] == "n" && y[1] == 0 && x[2] == "t") y[2] = "t"
			if (x[2] != y[2]) return 0
			if (x[1] == 0 || y[1] == 0) return x[1] == y[1]
			if (x[2] != "%") {
				if (!dtotal || !rtotal) return 0
				x[1] = 100 * x[1] / dtotal
				y[1] = 100 * y[1] / rtotal
			}
			return x[1] - y[1] <= points && y[1] - x[1] <= points
		}
		# The total of sampled output: see the head of this script.
		function total(line, count,   k, t, v, sum) {
			sum = 0
			for (k = 1; k <= count; k++) {
				if (line[k] ~ /^Showing nodes accounting for .* of [^ ]+ total$/) {
					t = line[k]
					sub(/ total$/, "", t)
					sub(/.* /, "", t)
					return figure(t, v) ? v[1] : 0
				}
				if (match(line[k], / [0-9]+$/))
					sum += substr(line[k], RSTART + 1)
			}
			return sum
		}
		function same_line(d, r,   dt, rt, nd, nr, k) {
			if (d == r) return 1
			if (!tolerant) return 0
			sub(/^ +/, "", d); sub(/ +$/, "", d)
			sub(/^ +/, "", r); sub(/ +$/, "", r)
			nd = split(d, dt, / +/)
			nr = split(r, rt, / +/)
			if (nd != nr) return 0
			for (k = 1; k <= nd; k++)
				if (!same_figure(dt[k], rt[k])) return 0
			return 1
		}
		BEGIN {
			scale["ns"] = 1; scale["us"] = 1e3; scale["ms"] = 1e6
			scale["s"] = 1e9; scale["hrs"] = 3600e9
		}
		FNR == NR { doc[++m] = norm($0, dbuild, dsrc); next }
		{ out[++n] = norm($0, build, src) }
		END {
			dtotal = total(doc, m)
			rtotal = total(out, n)
			ok[0, 0] = 1
			for (i = 0; i <= m; i++)
				for (j = 0; j <= n; j++) {
					if (i == 0 && j == 0) continue
					if (i == 0) { ok[i, j] = 0; continue }
					if (doc[i] == "...")
						ok[i, j] = ok[i - 1, j] || (j > 0 && ok[i, j - 1])
					else
						ok[i, j] = j > 0 && ok[i - 1, j - 1] &&
							same_line(doc[i], out[j])
				}
			if (ok[m, n]) exit 0
			# The longest head of the example that matches, and the
			# output line where the next one was wanted.
			for (i = m; i >= 0; i--) {
				for (j = 0; j <= n; j++)
					if (ok[i, j]) break
				if (j <= n) break
			}
			if (i == m)
				printf "  output goes on after the example ends:\n    %s\n", out[j + 1]
			else
				printf "  example line %d:\n    %s\n  output line %d:\n    %s\n",
					i + 1, doc[i + 1], j + 1, (j < n ? out[j + 1] : "(end of output)")
			exit 1
		}' "$1" "$2"
}

# run_example FILE: run the example's command on the demo server and
# match its output.
run_example()
{
	local ex=$1 where line cmd words args prev w rc tolerant=0 why
	where=$(basename "$ex" | sed 's/_/\//g; s/-\([0-9]*\)$/:\1/')
	line=$(head -n1 "$ex")
	cmd=${line#\$ }
	case $cmd in
	*[\|\;\&\<\>\`\$\(\)\\\"\']*)
		framework_error "$where: an example's command must be plain words: $cmd" ;;
	esac
	read -ra words <<<"$cmd"
	[ "${words[0]##*/}" = cprof ] ||
		framework_error "$where: an example must run cprof: $cmd"
	args=() prev=""
	for w in "${words[@]:1}"; do
		[ "$prev" = -p ] && w=$demo_pid
		args+=("$w")
		prev=$w
	done
	case " ${args[*]} " in
	*" -p $demo_pid "*) ;;
	*) framework_error "$where: an example's command must name its target with -p: $cmd" ;;
	esac
	[ "${args[0]}" = record ] && tolerant=1
	sed 1d "$ex" >"$ex.want"
	run_cprof "$ex.out" "${args[@]}"
	rc=$?
	if [ $rc != 0 ]; then
		fail "$where: '$cmd' exited $rc: $(cat "$ex.out.err")"
		return
	fi
	if ! why=$(match_output "$ex.want" "$ex.out" $tolerant); then
		fail "$where: the output of '$cmd' is not the example's
$why
--- output
$(cat "$ex.out")"
		return
	fi
	note "ok: $where: $cmd"
	case " ${args[*]} " in *" --format=top "*) ;; *) return ;; esac
	command -v go >/dev/null || {
		note "go not installed: go tool pprof -top not compared"
		return
	}
	# go tool pprof -top, over the same recording in pprof form, prints
	# the table the example shows from its "Showing nodes" line on.
	args=("${args[@]/--format=top/-o}")
	args+=("$ex.prof")
	run_cprof "$ex.pprof-run" "${args[@]}" ||
		fail "$where: recording for go tool pprof failed: $(cat "$ex.pprof-run.err")"
	go_pprof -top "$ex.prof" >"$ex.go" 2>"$ex.go.err" ||
		fail "$where: go tool pprof -top failed: $(cat "$ex.go.err")"
	sed -n '/^Showing nodes/,$p' "$ex.want" >"$ex.want-go"
	sed -n '/^Showing nodes/,$p' "$ex.go" >"$ex.go-table"
	if ! why=$(match_output "$ex.want-go" "$ex.go-table" 1); then
		fail "$where: go tool pprof -top does not print the example's table
$why
--- output
$(cat "$ex.go")"
		return
	fi
	note "ok: $where: go tool pprof -top"
}

mkdir "$lib_tmp/ex" || framework_error "mkdir"
for doc in "${!want_examples[@]}"; do
	extract "$doc"
	found=$(find "$lib_tmp/ex" -name "${doc//\//_}-*" | wc -l)
	[ "$found" = "${want_examples[$doc]}" ] ||
		fail "$doc: $found example outputs (blocks starting '\$ cprof'), expected ${want_examples[$doc]}"
done

lib_spinning=compute
start_target demo "$demo"
demo_pid=$TARGET_PID

for ex in $(find "$lib_tmp/ex" -type f | sort); do
	run_example "$ex"
done
check_runs_on "$demo_pid"
finish
