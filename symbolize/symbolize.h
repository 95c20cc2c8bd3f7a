/* SPDX-License-Identifier: MIT */
/*
 * PCs to names: function, file:line and the inline chain, from DWARF, then
 * .symtab, then .dynsym, then "module+0xoffset"; never empty.  C++ and Rust
 * names are demangled.  Lookups are memoised per (module, pc) and lazy: only
 * PCs that were sampled are ever resolved.
 */
#ifndef CPROF_SYMBOLIZE_SYMBOLIZE_H
#define CPROF_SYMBOLIZE_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "symbolize/addrspace.h"
#include "symbolize/location.h"
#include "symbolize/unwind.h"

struct symbolizer;

struct loccache;

/* as must outlive the symbolizer; so must cache, the locations kept
 * between runs and shared with the other processes of a capture
 * (loccache.h), which may be NULL. */
int symbolizer_new(struct addrspace *as, struct loccache *cache,
		   struct symbolizer **ret_sym);
void symbolizer_free(struct symbolizer *sym);

/*
 * The location of one frame.  The result and every string in it belong to
 * the symbolizer and live until symbolizer_free().  NULL only when out of
 * memory.
 */
const struct sym_location *symbolizer_lookup(struct symbolizer *sym,
					     const struct frame *frame);

#endif
