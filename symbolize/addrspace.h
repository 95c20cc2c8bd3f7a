/* SPDX-License-Identifier: MIT */
/*
 * The target's address space as cprof sees it: its mappings, grouped into
 * modules (one per loaded ELF object) held by one libdw Dwfl for the whole
 * run.  Files are opened as the target sees them, through
 * /proc/PID/map_files/, or /proc/PID/root/ and /proc/PID/exe checked by
 * build id, so deleted or replaced binaries and other mount namespaces
 * resolve to the bytes really mapped; an object no file holds any more
 * is read from the target's memory.
 */
#ifndef CPROF_SYMBOLIZE_ADDRSPACE_H
#define CPROF_SYMBOLIZE_ADDRSPACE_H

#include <elfutils/libdwfl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "symbolize/location.h"

struct addrspace;

struct objcache;

/* Reads /proc/PID/maps and reports every file-backed executable mapping
 * and the vDSO.  What is read of each object is shared through shared
 * (objcache.h) with the other address spaces of a capture; it may be
 * NULL, and must outlive the address space.  The caller frees with
 * addrspace_free(). */
int addrspace_open(pid_t pid, struct objcache *shared,
		   struct addrspace **ret_as);
void addrspace_free(struct addrspace *as);

/* Re-reads the maps (after dlopen/dlclose or exec); modules that stay
 * mapped at the same place keep their caches. */
int addrspace_refresh(struct addrspace *as);

pid_t addrspace_pid(const struct addrspace *as);

/*
 * Loads now what the first lookups in each mapped object would: its
 * image, symbols, and its debug information where a local debug file
 * holds it (inflating a compressed one is the slow part).  Never asks a
 * debuginfod server: an object whose debug file is elsewhere loads it at
 * its first lookup, as without this.
 */
void addrspace_preload(struct addrspace *as);
Dwfl *addrspace_dwfl(struct addrspace *as);

/* Copies len bytes at target address addr from the file mapped there
 * (never from the live process).  -EFAULT when nothing file-backed is. */
int addrspace_read(struct addrspace *as, uint64_t addr, void *buf, size_t len);

/* Whether a module holds addr, nothing of it loaded to tell. */
bool addrspace_covers(struct addrspace *as, uint64_t addr);

/* The module holding addr, or NULL.  Pointers stay valid until
 * addrspace_free(). */
const struct module_info *addrspace_module_at(struct addrspace *as,
					      uint64_t addr);

/* The name of the symbol that really covers addr in the module holding
 * it (symtab.h), with the symbol's start and whether it is a function;
 * NULL when none does.  The name lives until addrspace_free(). */
const char *addrspace_symbol_at(struct addrspace *as, uint64_t addr,
				uint64_t *ret_start, bool *ret_is_func);

struct cu_index;
/* The .debug_aranges index (cuindex.h) of the DWARF of the module
 * holding addr, built at the first call; NULL when it has none.  Valid
 * until addrspace_free(). */
const struct cu_index *addrspace_cu_index_at(struct addrspace *as,
					     uint64_t addr);

#endif
