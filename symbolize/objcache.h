/* SPDX-License-Identifier: MIT */
/*
 * What the processes of one capture share about each object they map,
 * keyed by build id: whether it has symbols and DWARF, and its function
 * symbols, sorted.  The first process that needs them reads them; every
 * later one mapping the same object (libc in every process of a tree,
 * the program in every worker of a pool) finds them here instead of
 * reading the object's symbol table and debug file again.  Safe to use
 * from several threads at once.
 */
#ifndef CPROF_SYMBOLIZE_OBJCACHE_H
#define CPROF_SYMBOLIZE_OBJCACHE_H

#include <stdbool.h>
#include <stddef.h>

struct objcache;
struct symtab;

/* NULL when out of memory: then nothing is shared. */
struct objcache *objcache_new(void);
void objcache_free(struct objcache *oc);

struct object_flags {
	bool has_symbols; /* .symtab or .dynsym found */
	bool has_dwarf;	  /* DWARF line info found */
};

/* The flags of the object build_id (lower-case hex, not ""), read by
 * read(ctx, ret) at the first call for it, under the cache's lock. */
struct object_flags
objcache_flags(struct objcache *oc, const char *build_id,
	       void (*read)(void *ctx, struct object_flags *ret), void *ctx);

/* The symbol table of the object build_id, in the object's own
 * addresses (see symtab.h), built by build(ctx) at the first call for
 * it, under the cache's lock; NULL when it has none.  It lives until
 * objcache_free(). */
const struct symtab *objcache_symtab(struct objcache *oc, const char *build_id,
				     struct symtab *(*build)(void *ctx),
				     void *ctx);

/* How many objects were read, and how often a process found what it
 * asked for read already (by another, nearly always). */
void objcache_get_stats(struct objcache *oc, size_t *ret_objects,
			size_t *ret_reused);

#endif
