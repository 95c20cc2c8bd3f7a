#!/bin/sh
# Installs the Debian packages cprof builds and tests with, when missing.
# Sourced by tests/demo.sh and tests/run.sh; needs root only to install.
cprof_install_deps() {
	pkgs="gcc g++ libdw-dev libelf-dev libunwind-dev libprotobuf-c-dev
	      protobuf-c-compiler zlib1g-dev libdeflate-dev libiberty-dev
	      libmicrohttpd-dev libncurses-dev libbz2-dev meson ninja-build
	      pkg-config curl
	      elfutils gdb golang-go libc6-dbg procps xz-utils zstd
	      python3-minimal util-linux man-db $*"
	missing=""
	for p in $pkgs; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "install ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null &&
		apt-get install -y -qq --no-install-recommends $missing >/dev/null
}
