/* SPDX-License-Identifier: MIT */
/*
 * Resolved locations kept between runs, in the debug-info cache
 * (debugcache.h) beside the debug files, one entry per object by build
 * id.  A second snapshot of a process finds its threads where the first
 * did, and resolving a PC through DWARF again (units, scopes, line
 * tables, demangling) was most of what it cost.  An entry is read only
 * by the cprof binary that wrote it, for an object whose symbols and
 * debug information are as they were then.
 */
#ifndef CPROF_SYMBOLIZE_LOCCACHE_H
#define CPROF_SYMBOLIZE_LOCCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "symbolize/location.h"

struct loccache;

/* NULL when cprof has no build id of its own or memory ran out: then
 * nothing is cached.  The symbolizers of every process of a capture may
 * share one cache, from several threads: a location one of them resolved
 * is found by the others. */
struct loccache *loccache_new(void);

/* Stores the locations added to each object's entry, then frees. */
void loccache_free(struct loccache *c);

/* The location of pc (looked up at pc, or at pc - 1 unless activation)
 * in module as cached, read or added: *ret gets its symbol_offset, nlines and
 * lines, whose strings live until loccache_free(); its pc and module are left
 * to the caller.  False when not cached. */
bool loccache_find(struct loccache *c, const struct module_info *module,
		   uint64_t pc, bool activation, struct sym_location *ret);

/* Keeps loc (with its module) for the entry written at loccache_free(). */
void loccache_add(struct loccache *c, const struct sym_location *loc);

#endif
