/* SPDX-License-Identifier: MIT */
#include "symbolize/stacks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/addrspace.h"
#include "symbolize/loccache.h"
#include "symbolize/objcache.h"
#include "symbolize/symbolize.h"

struct stacks_shared {
	struct objcache *objects;
	struct loccache *locations; /* NULL when cprof has no build id */
};

/* A thread's last stack, for one that is not captured again, and the
 * walk made of it while its copy lived (stacks_walk_keep). */
struct memo {
	pid_t tid;
	unsigned batch; /* the last batch that saw it */
	size_t depth;
	const struct sym_location **stack;
	size_t walk_depth;
	struct frame *walk; /* NULL: none kept */
};

struct stacks {
	struct addrspace *as;
	struct unwinder *unwinder;
	struct symbolizer *symbolizer;
	bool keep;
	/* Set per batch; cleared once the maps were read again, so a batch
	 * of samples from code never mapped costs one read, not one each. */
	bool may_refresh;
	unsigned batch;
	struct memo *memos; /* sorted by tid */
	size_t nmemos, memo_cap;
	struct stacks_stats stats;
	struct frame frames[UNWIND_MAX_FRAMES];
	const struct sym_location *stack[UNWIND_MAX_FRAMES];
};

struct stacks_shared *stacks_shared_new(void)
{
	struct stacks_shared *shared = calloc(1, sizeof(*shared));

	if (!shared)
		return NULL;
	shared->objects = objcache_new();
	shared->locations = loccache_new();
	if (!shared->objects) {
		stacks_shared_free(shared);
		return NULL;
	}
	return shared;
}

void stacks_shared_free(struct stacks_shared *shared)
{
	if (!shared)
		return;
	loccache_free(shared->locations);
	objcache_free(shared->objects);
	free(shared);
}

void stacks_shared_get_stats(struct stacks_shared *shared,
			     struct stacks_shared_stats *ret)
{
	*ret = (struct stacks_shared_stats){0};
	if (shared)
		objcache_get_stats(shared->objects, &ret->objects,
				   &ret->reused);
}

int stacks_new(pid_t proc_tid, enum unwinder_kind kind, bool keep,
	       struct stacks_shared *shared, struct stacks **ret_stacks)
{
	struct stacks *st = calloc(1, sizeof(*st));
	int r;

	if (!st)
		return -ENOMEM;
	st->keep = keep;
	r = addrspace_open(proc_tid, shared ? shared->objects : NULL, &st->as);
	if (r >= 0)
		r = unwinder_new(kind, st->as, &st->unwinder);
	if (r >= 0)
		r = symbolizer_new(st->as, shared ? shared->locations : NULL,
				   &st->symbolizer);
	if (r < 0) {
		stacks_free(st);
		return r;
	}
	*ret_stacks = st;
	return 0;
}

void stacks_preload(struct stacks *st)
{
	addrspace_preload(st->as);
}

static void forget(struct memo *memo)
{
	free(memo->stack);
	free(memo->walk);
	memo->stack = NULL;
	memo->depth = 0;
	memo->walk = NULL;
}

void stacks_free(struct stacks *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->nmemos; i++)
		forget(&st->memos[i]);
	free(st->memos);
	symbolizer_free(st->symbolizer);
	unwinder_free(st->unwinder);
	addrspace_free(st->as);
	free(st);
}

void stacks_next_batch(struct stacks *st)
{
	size_t kept = 0;

	st->may_refresh = true;
	st->batch++;
	for (size_t i = 0; i < st->nmemos; i++) {
		if (st->batch - st->memos[i].batch > 2)
			forget(&st->memos[i]);
		else
			st->memos[kept++] = st->memos[i];
	}
	st->nmemos = kept;
}

/* Where the memo of tid is, or would go. */
static size_t memo_index(const struct stacks *st, pid_t tid)
{
	size_t lo = 0, hi = st->nmemos;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (st->memos[mid].tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The memo of tid, or NULL. */
static struct memo *memo_find(struct stacks *st, pid_t tid)
{
	size_t at = memo_index(st, tid);

	return at < st->nmemos && st->memos[at].tid == tid ? &st->memos[at]
							   : NULL;
}

/* The memo of tid, made when absent; NULL when out of memory. */
static struct memo *memo_of(struct stacks *st, pid_t tid)
{
	size_t lo = memo_index(st, tid);

	if (lo < st->nmemos && st->memos[lo].tid == tid)
		return &st->memos[lo];
	if (st->nmemos == st->memo_cap) {
		size_t cap = st->memo_cap ? 2 * st->memo_cap : 64;
		struct memo *grown =
			reallocarray(st->memos, cap, sizeof(*grown));

		if (!grown)
			return NULL;
		st->memos = grown;
		st->memo_cap = cap;
	}
	memmove(&st->memos[lo + 1], &st->memos[lo],
		(st->nmemos - lo) * sizeof(*st->memos));
	st->nmemos++;
	st->memos[lo] = (struct memo){.tid = tid};
	return &st->memos[lo];
}

static int remember(struct stacks *st, pid_t tid, size_t depth)
{
	struct memo *memo = memo_of(st, tid);
	const struct sym_location **copy = NULL;

	if (!memo)
		return -ENOMEM;
	if (depth) {
		copy = malloc(depth * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, st->stack, depth * sizeof(*copy));
	}
	free(memo->stack);
	memo->stack = copy;
	memo->depth = depth;
	memo->batch = st->batch;
	return 0;
}

static bool leaves_modules(struct stacks *st, size_t depth)
{
	for (size_t i = 0; i < depth; i++)
		if (!addrspace_module_at(st->as, st->frames[i].pc))
			return true;
	return false;
}

static int unwind(struct stacks *st, const struct raw_sample *s,
		  size_t *ret_depth)
{
	int r = unwinder_unwind(st->unwinder, s, st->frames, UNWIND_MAX_FRAMES,
				ret_depth);

	if (!st->may_refresh || !leaves_modules(st, *ret_depth))
		return r;
	/* A library loaded since the maps were read: read them again. */
	st->may_refresh = false;
	st->stats.refresh++;
	if (addrspace_refresh(st->as) < 0)
		return r;
	return unwinder_unwind(st->unwinder, s, st->frames, UNWIND_MAX_FRAMES,
			       ret_depth);
}

/* Keeps st->frames[0, depth) as tid's walk, in place of any earlier one. */
static bool keep_walk(struct stacks *st, pid_t tid, size_t depth)
{
	struct memo *memo = memo_of(st, tid);
	struct frame *walk;

	if (!memo)
		return false;
	walk = malloc((depth ? depth : 1) * sizeof(*walk));
	if (!walk)
		return false;
	memcpy(walk, st->frames, depth * sizeof(*walk));
	free(memo->walk);
	memo->walk = walk;
	memo->walk_depth = depth;
	return true;
}

bool stacks_walk_keep(struct stacks *st, const struct raw_sample *s)
{
	size_t depth = 0;

	if (unwinder_unwind(st->unwinder, s, st->frames, UNWIND_MAX_FRAMES,
			    &depth) < 0)
		return false;
	for (size_t i = 0; i < depth; i++)
		if (!addrspace_covers(st->as, st->frames[i].pc))
			return false;
	return keep_walk(st, s->info.tid, depth);
}

/* The walk stacks_walk_keep() made of s, into st->frames. */
static int recall_walk(struct stacks *st, const struct raw_sample *s,
		       size_t *ret_depth)
{
	const struct memo *memo = memo_find(st, s->info.tid);

	if (!memo || !memo->walk)
		return -ENOENT;
	memcpy(st->frames, memo->walk, memo->walk_depth * sizeof(*memo->walk));
	*ret_depth = memo->walk_depth;
	return 0;
}

/* The remembered stack of a thread that was not captured again. */
static int recall(struct stacks *st, const struct raw_sample *s,
		  const struct sym_location *const **ret_stack,
		  size_t *ret_depth)
{
	struct memo *memo;

	if (!st->keep || !s->unchanged)
		return 0;
	memo = memo_of(st, s->info.tid);
	if (!memo)
		return -ENOMEM;
	if (!memo->stack)
		return 0;
	memo->batch = st->batch;
	st->stats.reused++;
	*ret_stack = memo->stack;
	*ret_depth = memo->depth;
	return 1;
}

int stacks_of(struct stacks *st, const struct raw_sample *s,
	      const struct sym_location *const **ret_stack, size_t *ret_depth,
	      bool *ret_cut)
{
	size_t depth = 0;
	int r;

	*ret_cut = false;
	if (!s->captured)
		return recall(st, s, ret_stack, ret_depth);
	if ((s->walked ? recall_walk(st, s, &depth) : unwind(st, s, &depth)) <
	    0) {
		st->stats.cut++;
		*ret_cut = true;
	}
	for (size_t i = 0; i < depth; i++) {
		st->stack[i] =
			symbolizer_lookup(st->symbolizer, &st->frames[i]);
		if (!st->stack[i])
			return -ENOMEM;
	}
	if (st->keep) {
		r = remember(st, s->info.tid, depth);
		if (r < 0)
			return r;
	}
	*ret_stack = st->stack;
	*ret_depth = depth;
	return 1;
}

bool stacks_walk_falls_short(struct stacks *st, const struct raw_sample *s)
{
	size_t depth;

	return !s->walked && unwinder_unwind(st->unwinder, s, st->frames,
					     UNWIND_MAX_FRAMES, &depth) < 0;
}

int stacks_exec(struct stacks *st)
{
	int r;

	for (size_t i = 0; i < st->nmemos; i++)
		forget(&st->memos[i]);
	st->nmemos = 0;
	r = addrspace_refresh(st->as);
	/* A command that has already ended has no maps left to read: its
	 * samples so far stay. */
	return r == -ESRCH || r == -ENOENT ? 0 : r;
}

void stacks_get_stats(const struct stacks *st, struct stacks_stats *ret)
{
	*ret = st->stats;
}
