/* SPDX-License-Identifier: MIT */
/*
 * What threads and record share below the capture: one address space,
 * unwinder and symbolizer per target, raw samples in, symbolized stacks
 * and thread labels out.
 */
#ifndef CPROF_CMD_PIPELINE_H
#define CPROF_CMD_PIPELINE_H

#include "attach/attach.h"
#include "pprofout/profile.h"
#include "symbolize/symbolize.h"
#include "symbolize/unwind.h"

struct pipeline {
	struct addrspace *as;
	struct unwinder *unwinder;
	struct symbolizer *symbolizer;
	size_t cut_stacks; /* unwinds that ended early */
	/* Set by the caller when the maps may be re-read once more (after a
	 * dlopen, a PC lies in no known module); cleared when they are. */
	bool may_refresh;
	struct frame frames[UNWIND_MAX_FRAMES];
	const struct sym_location *stack[UNWIND_MAX_FRAMES];
};

/* Takes ownership of as (also on failure). */
int pipeline_init(struct pipeline *p, struct addrspace *as,
		  enum unwinder_kind kind);
void pipeline_release(struct pipeline *p);

/* Unwinds and symbolizes one captured sample into p->stack[0..*ret_depth).
 * A cut stack still counts: its frames are kept. */
int pipeline_stack(struct pipeline *p, const struct raw_sample *sample,
		   size_t *ret_depth);

/* The labels every sample carries: thread_id, thread_name, state and, for
 * a thread blocked in a system call, wait.  buf holds the wait name when
 * it has no table entry; labels needs room for PIPELINE_LABELS. */
#define PIPELINE_LABELS 4
size_t pipeline_labels(const struct thread_info *info, struct label *labels,
		       char *buf, size_t size);

/* The one error line for a target cprof could not attach to. */
void report_target_error(pid_t pid, int err);

/* Adds "cprof VERSION" and the target's executable as comments: never
 * its command line or environment, which may hold secrets. */
int pipeline_comment(struct profile *profile, pid_t pid);

#endif
