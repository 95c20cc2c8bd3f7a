#!/bin/sh
# A zombie that stays one: this shell starts a child, writes its pid to
# PIDFILE and becomes `sleep SECONDS`, which never reaps it.  The child
# exits only once its parent is sleep: one that exited sooner could be
# reaped by the shell before the exec, and no zombie would be left.
#
# usage: zombie.sh PIDFILE SECONDS
sh -c 'n=0
until grep -qx sleep "/proc/$PPID/comm" 2>/dev/null; do
	[ $((n += 1)) -gt 6000 ] && exit 1
	sleep 0.01
done' &
echo $! >"$1.new" && mv "$1.new" "$1"
exec sleep "$2"
