/* SPDX-License-Identifier: MIT */
/*
 * Raw samples to symbolized stacks, for one target: its address space,
 * unwinder and symbolizer, read again when a PC lies in no known module
 * (a library loaded since) or the target exec'd.  With keep, each
 * thread's last stack is remembered, so that a thread not stopped again
 * because it has not run since (raw_sample.unchanged) still has one.
 */
#ifndef CPROF_SYMBOLIZE_STACKS_H
#define CPROF_SYMBOLIZE_STACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "attach/attach.h"
#include "symbolize/location.h"
#include "symbolize/unwind.h"

struct stacks;
struct stacks_shared;

/*
 * What the stacks of every process of a capture share: what each object
 * they map holds (its symbols, whether it has debug information) and
 * the locations resolved in it, read and resolved once for all of them
 * (objcache.h, loccache.h).  NULL when out of memory: then nothing is
 * shared.  Free it after every stacks that used it, and after the last
 * use of their locations.
 */
struct stacks_shared *stacks_shared_new(void);
void stacks_shared_free(struct stacks_shared *shared);

struct stacks_shared_stats {
	size_t objects; /* objects read */
	size_t reused;	/* times a process found one read already */
};
void stacks_shared_get_stats(struct stacks_shared *shared,
			     struct stacks_shared_stats *ret);

/* Reads the address space of the process through thread proc_tid.
 * shared may be NULL. */
int stacks_new(pid_t proc_tid, enum unwinder_kind kind, bool keep,
	       struct stacks_shared *shared, struct stacks **ret_stacks);
void stacks_free(struct stacks *st);

/* Loads the target's objects before the first sample needs them (see
 * addrspace_preload), so that a recording's first samples wait for no
 * debug file to be read. */
void stacks_preload(struct stacks *st);

/* A new batch of samples begins (a tick, a drain): the maps may be read
 * once more, and remembered stacks of threads absent from the last two
 * batches are forgotten. */
void stacks_next_batch(struct stacks *st);

/*
 * The stack of one sample, leaf first, valid until the next call: 1 with
 * *ret_stack and *ret_depth set, 0 when the sample has none (a thread not
 * captured whose stack is not remembered), or -ENOMEM.  *ret_cut is set
 * when the walk ended before the outermost frame; the frames found are
 * kept.
 */
int stacks_of(struct stacks *st, const struct raw_sample *s,
	      const struct sym_location *const **ret_stack, size_t *ret_depth,
	      bool *ret_cut);

/* Whether a walk of s falls short, without symbolizing it; false for a
 * sample walked by stacks_walk_keep(). */
bool stacks_walk_falls_short(struct stacks *st, const struct raw_sample *s);

/* Walks s now, while its copy lives, and keeps the walk for stacks_of()
 * of the same thread: true when kept (the walk was whole and ran through
 * known modules only).  The copy may then be dropped and the sample
 * marked walked. */
bool stacks_walk_keep(struct stacks *st, const struct raw_sample *s);

/* After an exec: remembered stacks are dropped and the maps read again; a
 * process already gone keeps what it had. */
int stacks_exec(struct stacks *st);

struct stacks_stats {
	size_t cut;	/* walks that ended early */
	size_t reused;	/* remembered stacks handed out */
	size_t refresh; /* maps read again */
};
void stacks_get_stats(const struct stacks *st, struct stacks_stats *ret);

#endif
