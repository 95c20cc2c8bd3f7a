/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>

#include "pprofout/htab.h"

#define HTAB_MIN_SLOTS 64

void htab_release(struct htab *htab)
{
	free(htab->slots);
	htab->slots = NULL;
	htab->mask = 0;
	htab->count = 0;
}

int htab_find(const struct htab *htab, uint32_t hash, htab_eq_fn eq,
	      const void *ctx, const void *key, uint32_t *ret_item)
{
	if (!htab->slots)
		return 0;
	for (size_t i = hash & htab->mask;; i = (i + 1) & htab->mask) {
		const struct htab_slot *slot = &htab->slots[i];

		if (!slot->item)
			return 0;
		if (slot->hash == hash && eq(ctx, slot->item - 1, key)) {
			*ret_item = slot->item - 1;
			return 1;
		}
	}
}

static void place(struct htab_slot *slots, size_t mask, struct htab_slot slot)
{
	size_t i = slot.hash & mask;

	while (slots[i].item)
		i = (i + 1) & mask;
	slots[i] = slot;
}

/* Keeps the table at most half full so probe runs stay short. */
static int grow(struct htab *htab)
{
	size_t nslots = htab->slots ? (htab->mask + 1) * 2 : HTAB_MIN_SLOTS;
	struct htab_slot *slots = calloc(nslots, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; htab->slots && i <= htab->mask; i++) {
		if (htab->slots[i].item)
			place(slots, nslots - 1, htab->slots[i]);
	}
	free(htab->slots);
	htab->slots = slots;
	htab->mask = nslots - 1;
	return 0;
}

int htab_insert(struct htab *htab, uint32_t hash, uint32_t item)
{
	if (!htab->slots || (htab->count + 1) * 2 > htab->mask + 1) {
		int ret = grow(htab);

		if (ret < 0)
			return ret;
	}
	place(htab->slots, htab->mask,
	      (struct htab_slot){.item = item + 1, .hash = hash});
	htab->count++;
	return 0;
}

uint64_t hash_bytes(uint64_t hash, const void *data, size_t len)
{
	const unsigned char *bytes = data;

	for (size_t i = 0; i < len; i++) {
		hash ^= bytes[i];
		hash *= 0x100000001b3ULL;
	}
	return hash;
}
