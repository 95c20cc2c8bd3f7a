/* SPDX-License-Identifier: MIT */
/*
 * The debug-info cache: debug files as debugfile.c rewrites them
 * (inflated), kept under $XDG_CACHE_HOME/cprof (default ~/.cache/cprof)
 * by build id, so that a second run maps the file instead of inflating
 * it again.  It is a cache: a failure to read or write it never fails a
 * capture, and nothing here reports one.
 */
#ifndef CPROF_SYMBOLIZE_DEBUGCACHE_H
#define CPROF_SYMBOLIZE_DEBUGCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* At most this much disk for every entry together; beyond it the least
 * recently used entries go. */
#define DEBUGCACHE_MAX_BYTES (1ull << 30)

/* Whether debug files are cached (the default) or not (--no-cache). */
void debugcache_configure(bool enabled);

/* The entry for build id, opened read-only, marked as used; -ENOENT when
 * there is none or the cache is off.  The caller checks what it holds. */
int debugcache_open(const unsigned char *id, size_t len);

/* Stores the size bytes of fd (holes stay holes) as the entry for build
 * id, replacing any: written under a temporary name, renamed into place,
 * then the oldest entries are dropped while the cache is over its bound.
 * A negative errno when nothing was stored. */
int debugcache_store(const unsigned char *id, size_t len, int fd,
		     uint64_t size);

/* What an entry holds: a debug file, or the locations resolved in the
 * object of that build id (loccache.c).  The functions above are the
 * _kind ones for DEBUGCACHE_DEBUG. */
enum debugcache_kind {
	DEBUGCACHE_DEBUG,
	DEBUGCACHE_LOCATIONS,
};

int debugcache_open_kind(enum debugcache_kind kind, const unsigned char *id,
			 size_t len);
int debugcache_store_kind(enum debugcache_kind kind, const unsigned char *id,
			  size_t len, int fd, uint64_t size);

#endif
