/* SPDX-License-Identifier: MIT */
/*
 * Separate debug files whose .debug_* sections are compressed
 * (SHF_COMPRESSED, zlib: Debian's libc6-dbg and most -dbgsym packages),
 * rewritten with those sections inflated, for libdw to map as they are.
 */
#ifndef CPROF_SYMBOLIZE_DEBUGFILE_H
#define CPROF_SYMBOLIZE_DEBUGFILE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Reads the ELF file open at fd and returns a new fd (a memfd) holding the
 * same file with every zlib-compressed .debug_* section inflated, and the
 * location lists (.debug_loc, .debug_loclists), which cprof never reads,
 * left empty.  Every other byte stays at its offset.  -ENODATA when fd has
 * nothing to inflate; another negative errno when it cannot be rewritten.
 * Either way fd is left open and untouched.
 */
int debugfile_inflate(int fd);

/*
 * Opens the debug file for build_id under /usr/lib/debug/.build-id/, as
 * debugfile_inflate() rewrites it, or as it is when it has nothing to
 * inflate.  Its path goes to *ret_path (the caller frees it).  -ENOENT
 * when there is none, or its build id differs.
 */
int debugfile_open(const unsigned char *build_id, size_t len, char **ret_path);

/* Whether /usr/lib/debug/.build-id/ holds a file for build_id. */
bool debugfile_exists(const unsigned char *build_id, size_t len);

#endif
