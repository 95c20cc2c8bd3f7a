#!/bin/sh
# pprofout stands on protobuf-c and zlib alone: its unit test, linked with
# pprofout and nothing else, needs no other library (libdw, libelf,
# libunwind would mean a header leaked symbolize/ internals into it).
# Sanitizer runtimes of an instrumented build are allowed.
#
# usage: pprofout-links.sh TEST-PPROFOUT
needed=$(readelf -d "$1" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p')
[ -n "$needed" ] || { echo "FAIL: readelf shows no NEEDED entry in $1" >&2; exit 1; }
bad=""
for lib in $needed; do
	case $lib in
	libprotobuf-c.so.* | libz.so.* | libc.so.* | libm.so.* | ld-linux*) ;;
	libasan.so.* | libubsan.so.* | libgcc_s.so.*) ;;
	*) bad="$bad $lib" ;;
	esac
done
[ -z "$bad" ] || { echo "FAIL: test-pprofout needs$bad" >&2; exit 1; }
echo "ok: $(echo $needed | tr ' ' ',')"
