/* SPDX-License-Identifier: MIT */
/*
 * Which compilation unit holds an address, from .debug_aranges read once
 * into one sorted array.  libdw's dwarf_getaranges() makes an allocation
 * per range before sorting them: on glibc's debug information (4,000
 * units) that was a third of a 10-thread snapshot's time.
 */
#ifndef CPROF_SYMBOLIZE_CUINDEX_H
#define CPROF_SYMBOLIZE_CUINDEX_H

#include <elfutils/libdw.h>
#include <stdbool.h>
#include <stdint.h>

struct cu_index;

/* The index of dbg's .debug_aranges; NULL when it has none, or a set in
 * it cannot be read (the caller then asks libdw), or memory ran out. */
struct cu_index *cu_index_build(Dwarf *dbg);
void cu_index_free(struct cu_index *idx);

/* The unit DIE whose ranges hold addr (a DWARF address, bias taken
 * off), in *die_mem; false when no range holds it. */
bool cu_index_find(const struct cu_index *idx, uint64_t addr,
		   Dwarf_Die *die_mem);

#endif
