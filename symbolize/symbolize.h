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
#include "symbolize/unwind.h"

/* One source-level frame; a PC with inlined calls has several. */
struct sym_line {
	const char *function;	 /* demangled; never NULL or "" */
	const char *system_name; /* as in the object (mangled); never NULL */
	const char *file;	 /* "" when unknown */
	int line;		 /* 0 when unknown */
	uint64_t start_line;	 /* the function's first line, 0 if unknown */
};

/* One PC, resolved. */
struct sym_location {
	uint64_t pc;			  /* as unwound (struct frame.pc) */
	bool activation;		  /* looked up at pc, not pc - 1 */
	const struct module_info *module; /* NULL: no object mapped at pc */
	uint64_t symbol_offset;	      /* pc - start of the outermost function */
	size_t nlines;		      /* >= 1 */
	const struct sym_line *lines; /* innermost (inlined) first */
};

struct symbolizer;

/* as must outlive the symbolizer. */
int symbolizer_new(struct addrspace *as, struct symbolizer **ret_sym);
void symbolizer_free(struct symbolizer *sym);

/*
 * The location of one frame.  The result and every string in it belong to
 * the symbolizer and live until symbolizer_free().  NULL only when out of
 * memory.
 */
const struct sym_location *symbolizer_lookup(struct symbolizer *sym,
					     const struct frame *frame);

#endif
