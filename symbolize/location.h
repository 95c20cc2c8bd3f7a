/* SPDX-License-Identifier: MIT */
/*
 * What a resolved frame is, for the code that records it: plain data, no
 * libdw.  The profile model (pprofout/) sees frames through this header
 * only; symbolize.h says how they are made.
 */
#ifndef CPROF_SYMBOLIZE_LOCATION_H
#define CPROF_SYMBOLIZE_LOCATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One executable mapping of a loaded object, as a pprof Mapping
 * describes it: an address's file offset is addr - start + file_offset. */
struct module_info {
	uint64_t start, end; /* the mapping's range in the target */
	uint64_t file_offset;
	uint64_t bias;	      /* address - bias = the ELF's own vaddr */
	const char *path;     /* as /proc/PID/maps names it; never NULL */
	const char *build_id; /* lower-case hex, "" when the object has none */
	bool has_symbols;     /* .symtab or .dynsym found */
	bool has_dwarf;	      /* DWARF line info found */
};

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

#endif
