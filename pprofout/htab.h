/* SPDX-License-Identifier: MIT */
/*
 * A small open-addressing hash index over items kept elsewhere (in an
 * array): it stores only item numbers and their hashes, so growing never
 * needs the items, and the caller decides what "equal" means.
 */
#ifndef CPROF_PPROFOUT_HTAB_H
#define CPROF_PPROFOUT_HTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct htab_slot {
	uint32_t item; /* item number + 1; 0 marks an empty slot */
	uint32_t hash;
};

struct htab {
	struct htab_slot *slots;
	size_t mask; /* slot count - 1; the count is a power of two */
	size_t count;
};

/* True when item equals the key being looked up. */
typedef bool (*htab_eq_fn)(const void *ctx, uint32_t item, const void *key);

void htab_release(struct htab *htab);

/* 1 and *ret_item when an item equal to key is indexed, else 0. */
int htab_find(const struct htab *htab, uint32_t hash, htab_eq_fn eq,
	      const void *ctx, const void *key, uint32_t *ret_item);

/* Indexes item (which must not be indexed already); 0 or -ENOMEM. */
int htab_insert(struct htab *htab, uint32_t hash, uint32_t item);

/* FNV-1a, seeded with the running hash so fields can be chained. */
uint64_t hash_bytes(uint64_t hash, const void *data, size_t len);

#define HASH_SEED 0xcbf29ce484222325ULL

static inline uint64_t hash_u64(uint64_t hash, uint64_t value)
{
	return hash_bytes(hash, &value, sizeof(value));
}

#endif
