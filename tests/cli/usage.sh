#!/bin/bash
# The manual pages and --help say the same things:
# - `cprof NAME -h` and man/cprof-NAME.1 give the same synopsis, and so do
#   `cprof --help` and cprof(1);
# - the commands cprof(1) lists are those `cprof --help` lists;
# - every option --help shows is in the page's OPTIONS, and the words that
#   start its --help description (up to the first "(", ",", ";" or ":") are
#   in the page's description of it; every option of the page is in --help;
# - the exit codes --help lists are those of the page's EXIT STATUS;
# - --help, README.md and cprof(1) say how the manuals are installed, and
#   how one is read uninstalled, in the same words;
# and the top-level usage, --version and help behave as documented.
#
# usage: usage.sh CPROF MANDIR VERSION
set -u
cprof=$1 mandir=$2 version=$3
readme=$mandir/../README.md
fail=0

check() { # what expected actual
	if [ "$2" != "$3" ]; then
		printf 'FAIL: %s\n--- expected\n%s\n--- got\n%s\n' "$1" "$2" "$3"
		fail=1
	fi
}

synopsis() { # the lines between .SH SYNOPSIS's .nf and .fi
	sed -n '/^\.SH SYNOPSIS/,/^\.SH/p' "$1" | sed -n '/^\.nf/,/^\.fi/p' |
		sed '1d;$d' | sed 's/^ *//; s/\\-/-/g'
}

help_usage() { # the usage lines of --help output, without "usage: "
	printf '%s\n' "$1" | sed -n '/^usage: /,/^$/p' |
		sed '/^$/d; s/^usage: //; s/^ *//'
}

# man_text: groff source on stdin as plain text, one line per input line:
# requests' arguments kept (joined without spaces for the alternating
# font requests), font escapes and \& dropped, \- and \e unescaped.
man_text() {
	awk '
		function args(s, joined,   out, a, n, k) {
			n = 0
			while (s != "") {
				sub(/^ +/, "", s)
				if (s == "") break
				if (substr(s, 1, 1) == "\"") {
					s = substr(s, 2)
					k = index(s, "\"")
					if (k == 0) k = length(s) + 1
					a[++n] = substr(s, 1, k - 1)
					s = substr(s, k + 1)
				} else {
					k = index(s, " ")
					if (k == 0) k = length(s) + 1
					a[++n] = substr(s, 1, k - 1)
					s = substr(s, k)
				}
			}
			out = ""
			for (k = 1; k <= n; k++)
				out = out (k > 1 && !joined ? " " : "") a[k]
			return out
		}
		/^\.\\"/ { next }
		/^\.(B|I|SM) / { $0 = args(substr($0, index($0, " ")), 0) }
		/^\.(BR|RB|IR|RI|BI|IB) / { $0 = args(substr($0, index($0, " ")), 1) }
		/^\./ { print ""; next }
		{
			gsub(/\\f[BIRP]/, "")
			gsub(/\\&/, "")
			gsub(/\\-/, "-")
			gsub(/\\e/, "\\")
			print
		}'
}

# man_section PAGE NAME: the groff source of section NAME of PAGE.
man_section() {
	awk -v name="$2" '
		/^\.SH / { on = (substr($0, 5) == name || substr($0, 5) == "\"" name "\"") ; next }
		on' "$1"
}

# man_options PAGE: per tagged paragraph of OPTIONS, a line
# "OPTIONS<tab>TEXT": the options of the tag, space separated, and the
# paragraph's text, lower case, on one line.
man_options() {
	man_section "$1" OPTIONS | awk '
		/^\.TP/ { put(); tag = 1; next }
		/^\.(PP|SS|SH)/ { put(); next }
		tag { tagline = $0; tag = 0; on = 1; text = ""; next }
		on { text = text "\001" $0 }
		function put() { if (on) print tagline "\t" text; on = 0 }
		END { put() }' | while IFS=$'\t' read -r tagline text; do
		opts=$(printf '%s\n' "$tagline" | man_text |
			grep -oE -- '(^|[ ,"])--?[A-Za-z][A-Za-z-]*' |
			sed 's/^[ ,"]//' | tr '\n' ' ')
		text=$(printf '%s\n' "$text" | tr '\001' '\n' | man_text |
			tr '\n' ' ' | tr -s ' ' | tr '[:upper:]' '[:lower:]')
		printf '%s\t%s\n' "$opts" "$text"
	done
}

# help_options HELP: per option line of --help output, a line
# "OPTIONS<tab>PHRASE": the options named, space separated, and the
# description up to its first "(", ",", ";" or ":", lower case.  The
# option part is the words that start with "-" and their argument names.
help_options() {
	printf '%s\n' "$1" | awk '
		/^ +-/ {
			n = split($0, w, / +/)
			opts = ""
			for (i = 2; i <= n && (w[i] ~ /^-/ || w[i] ~ /^[A-Z][A-Z_]*$/); i++) {
				o = w[i]
				sub(/[=,].*/, "", o)
				if (o ~ /^-/) opts = opts o " "
			}
			phrase = ""
			for (; i <= n; i++) phrase = phrase (phrase == "" ? "" : " ") w[i]
			sub(/[(,;:].*/, "", phrase)
			sub(/ +$/, "", phrase)
			printf "%s\t%s\n", opts, tolower(phrase)
		}'
}

# help_exit_codes HELP: the codes of the paragraph that starts "Exit
# status:": each item (split at , ; : and line ends) that starts with a
# number and a word.
help_exit_codes() {
	printf '%s\n' "$1" | awk '
		/^Exit status:/ { on = 1 }
		on && /^$/ { exit }
		on {
			n = split($0, item, /[,;:]/)
			for (i = 1; i <= n; i++)
				if (item[i] ~ /^ *[0-9]+ +[a-z-]/) {
					sub(/^ */, "", item[i])
					sub(/ .*/, "", item[i])
					print item[i]
				}
		}' | sort -n | tr '\n' ' '
}

# man_exit_codes PAGE: the numbers set in bold in EXIT STATUS (".B N").
man_exit_codes() {
	man_section "$1" "EXIT STATUS" | awk '/^\.B [0-9]+$/ { print $2 }' |
		sort -n | tr '\n' ' '
}

# check_options WHAT HELP PAGE
check_options() {
	local what=$1 help=$2 page=$3 mopts hopts opt phrase text found
	mopts=$(man_options "$page")
	while IFS=$'\t' read -r hopts phrase; do
		[ -n "$hopts" ] || continue
		for opt in $hopts; do
			found=$(printf '%s\n' "$mopts" |
				awk -F'\t' -v o="$opt" '{ n = split($1, a, " "); for (i = 1; i <= n; i++) if (a[i] == o) { print $2; exit } }')
			if [ -z "$found" ]; then
				check "$what: option $opt of --help in ${page##*/} OPTIONS" \
					"$opt documented" "missing"
				continue
			fi
			case $found in
			*"$phrase"*) ;;
			*) check "$what: --help's words for $opt in ${page##*/}" \
				"$phrase" "$found" ;;
			esac
		done
	done < <(help_options "$help")
	for opt in $(printf '%s\n' "$mopts" | cut -f1); do
		printf '%s\n' "$help" | grep -qE -- "(^|[ ,\[])$opt([] =,]|$)" ||
			check "$what: option $opt of ${page##*/} in --help" \
				"$opt shown" "missing"
	done
}

# --- the commands' pages ----------------------------------------------------

for page in "$mandir"/cprof-*.1; do
	name=${page##*/cprof-}
	name=${name%.1}
	help=$("$cprof" "$name" -h)
	check "exit status of '$name -h'" 0 $?
	check "synopsis of $name" "$(synopsis "$page")" "$(help_usage "$help")"
	check "cprof help $name" "$help" "$("$cprof" help "$name")"
	check_options "$name" "$help" "$page"
	check "exit codes of $name: --help and ${page##*/} EXIT STATUS" \
		"$(man_exit_codes "$page")" "$(help_exit_codes "$help")"
done

# --- cprof(1) and cprof --help ----------------------------------------------

page=$mandir/cprof.1
help=$("$cprof" --help)
check "exit status of 'cprof --help'" 0 $?
check "cprof help" "$help" "$("$cprof" help)"
check "synopsis of cprof" "$(synopsis "$page")" "$(help_usage "$help")"

man_commands=$(man_section "$page" COMMANDS | awk '
	/^\.TP/ { tag = 1; next }
	tag { sub(/^\.[A-Z]+ /, ""); print $1 }
	{ tag = 0 }' | sort | tr '\n' ' ')
help_commands=$(printf '%s\n' "$help" | awk '
	/^commands:$/ { on = 1; next }
	on && /^$/ { exit }
	on { print $1 }' | sort | tr '\n' ' ')
check "commands of cprof(1) COMMANDS and cprof --help" \
	"$man_commands" "$help_commands"

# Top-level options are those of the usage line.
for opt in $(help_usage "$help" | grep -oE -- '--?[A-Za-z][A-Za-z-]*'); do
	man_options "$page" | cut -f1 | tr ' ' '\n' | grep -qx -- "$opt" ||
		check "option $opt of cprof --help in cprof.1 OPTIONS" \
			"$opt documented" "missing"
done
check "exit codes of cprof: --help and cprof.1 EXIT STATUS" \
	"$(man_exit_codes "$page")" "$(help_exit_codes "$help")"

# How the manuals are installed, and read uninstalled.
page_text=$(man_text <"$page" | tr '\n' ' ')
for words in "meson install --tags man" "man -l man/cprof-"; do
	for where in "cprof --help" README.md cprof.1; do
		case $where in
		"cprof --help") text=$(printf '%s\n' "$help" | tr '\n' ' ') ;;
		README.md) text=$(tr '\n' ' ' <"$readme") ;;
		cprof.1) text=$page_text ;;
		esac
		case $text in
		*"$words"*) ;;
		*) check "$where names '$words'" "$words" "(not there)" ;;
		esac
	done
done

# --- behaviour --------------------------------------------------------------

check "--version" "cprof $version" "$("$cprof" --version)"
out=$("$cprof" 2>&1)
check "no command exits 64" 64 $?
case $out in "usage: cprof "*) ;; *) check "no command prints usage" usage "$out" ;; esac
out=$("$cprof" frobnicate 2>&1)
check "unknown command exits 64" 64 $?
check "unknown command message" \
	"cprof: 'frobnicate' is not a cprof command; see 'cprof help'" "$out"
exit $fail
