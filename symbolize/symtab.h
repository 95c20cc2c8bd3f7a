/* SPDX-License-Identifier: MIT */
/*
 * A module's function symbols sorted by address, for lookups by binary
 * search.  libdw's own address lookup scans the whole symbol table on
 * every call: on rustc's librustc_driver (186,000 symbols) that was most
 * of a sample's cost.
 */
#ifndef CPROF_SYMBOLIZE_SYMTAB_H
#define CPROF_SYMBOLIZE_SYMTAB_H

#include <elfutils/libdwfl.h>
#include <stdbool.h>
#include <stdint.h>

struct symtab;

/* Reads every function symbol of mod (.symtab, else .dynsym, and the
 * MiniDebugInfo symbols libdwfl finds), at their addresses in the object
 * (target addresses less bias, the module's load bias), with copies of
 * their names: the table is the object's, whichever process maps it, and
 * may outlive mod.  NULL when out of memory. */
struct symtab *symtab_build(Dwfl_Module *mod, uint64_t bias);
void symtab_free(struct symtab *tab);

/* The symbol that really covers addr (an address in the object): a sized
 * one whose range holds it, or a sizeless one (an assembler label such as
 * __restore_rt) at exactly addr.  NULL when none does: the nearest symbol
 * below is not enough, it would name stripped functions after their
 * neighbours.  *ret_start is the symbol's address; *ret_is_func whether it
 * is an STT_FUNC (or IFUNC) symbol. */
const char *symtab_lookup(const struct symtab *tab, uint64_t addr,
			  uint64_t *ret_start, bool *ret_is_func);

#endif
