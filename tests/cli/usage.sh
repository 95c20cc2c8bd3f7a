#!/bin/sh
# `cprof NAME -h` and man/cprof-NAME.1 give the same synopsis, and the
# top-level usage, --version and help behave as documented.
set -u
cprof=$1 mandir=$2
fail=0

check() { # what expected actual
	if [ "$2" != "$3" ]; then
		printf 'FAIL: %s\n--- expected\n%s\n--- got\n%s\n' "$1" "$2" "$3"
		fail=1
	fi
}

synopsis() { # the lines between .SH SYNOPSIS's .nf and .fi
	sed -n '/^\.SH SYNOPSIS/,/^\.SH/p' "$1" | sed -n '/^\.nf/,/^\.fi/p' |
		sed '1d;$d' | sed 's/^ *//'
}

for page in "$mandir"/cprof-*.1; do
	name=${page##*/cprof-}
	name=${name%.1}
	help=$("$cprof" "$name" -h)
	check "exit status of '$name -h'" 0 $?
	usage=$(printf '%s\n' "$help" | sed -n '/^usage: /,/^$/p' |
		sed '/^$/d; s/^usage: //; s/^ *//')
	check "synopsis of $name" "$(synopsis "$page")" "$usage"
	check "cprof help $name" "$help" "$("$cprof" help "$name")"
done

check "--version" "cprof $3" "$("$cprof" --version)"
out=$("$cprof" 2>&1)
check "no command exits 64" 64 $?
case $out in "usage: cprof "*) ;; *) check "no command prints usage" usage "$out" ;; esac
out=$("$cprof" frobnicate 2>&1)
check "unknown command exits 64" 64 $?
check "unknown command message" \
	"cprof: 'frobnicate' is not a cprof command; see 'cprof help'" "$out"
exit $fail
