#!/bin/sh
# Installs what is missing, builds cprof, starts the bundled demo server and
# shows every one of its threads, grouped, then one by one.
set -eu
cd "$(dirname "$0")/.."
. tests/deps.sh
cprof_install_deps
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
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
