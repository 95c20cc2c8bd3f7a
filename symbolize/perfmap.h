/* SPDX-License-Identifier: MIT */
/*
 * Names of JIT-compiled code from the target's perf map, the convention
 * perf reads: /tmp/perf-PID.map, one "START SIZE name" line (hexadecimal
 * START and SIZE) per piece of code, appended as the JIT compiles.  node
 * --perf-basic-prof, Java's perf-map-agent, LuaJIT, .NET with
 * DOTNET_PerfMapEnabled and Python 3.12's -X perf write it.
 */
#ifndef CPROF_SYMBOLIZE_PERFMAP_H
#define CPROF_SYMBOLIZE_PERFMAP_H

#include <stdint.h>
#include <sys/types.h>

struct perfmap;

/* The map of process pid, read through /proc/PID/root/tmp (the target's
 * own /tmp, in a container too) under the pid the target has in its own
 * pid namespace.  Nothing is read before the first lookup.  NULL when
 * out of memory; the caller frees with perfmap_free(). */
struct perfmap *perfmap_new(pid_t pid);
void perfmap_free(struct perfmap *map);

/*
 * The name of the code holding addr, or NULL; *ret_start is where that
 * code starts.  A miss reads what the map gained since it was last read.
 * Where pieces overlap (the JIT reused the memory) the later line wins.
 * The string lives until perfmap_free().
 */
const char *perfmap_lookup(struct perfmap *map, uint64_t addr,
			   uint64_t *ret_start);

#endif
