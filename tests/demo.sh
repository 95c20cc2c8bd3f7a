#!/bin/sh
# Installs what is missing, builds cprof, installs its manuals (as root),
# starts the bundled demo server and shows every one of its threads,
# grouped, then one by one.
set -eu
cd "$(dirname "$0")/.."
. tests/deps.sh
cprof_install_deps
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
# The manuals where man(1) finds them: under the build's prefix,
# /usr/local/share/man by default.
if [ "$(id -u)" = 0 ]; then
	meson install -C build --tags man --no-rebuild >/dev/null
	echo "manuals installed: man cprof, man cprof-record, man cprof-threads"
else
	echo "manuals not installed (needs root): man -l man/cprof.1 reads one"
fi
fifo=$(mktemp -u)
mkfifo "$fifo"
build/tests/demo/demo-server >"$fifo" &
demo=$!
cleanup() { kill "$demo" 2>/dev/null; rm -f "$fifo"; }
trap cleanup EXIT
trap 'cleanup; exit 1' INT TERM HUP PIPE
read -r ready pid <"$fifo"
[ "$ready" = ready ] || { echo "demo server did not start" >&2; exit 1; }
echo "\$ cprof threads -p $pid"
build/cmd/cprof threads -p "$pid"
echo "\$ cprof threads -p $pid --debug=2"
build/cmd/cprof threads -p "$pid" --debug=2
