/* SPDX-License-Identifier: MIT */
/*
 * Raw samples in, a profile out: the sink a session feeds.  Each sample is
 * unwound and symbolized (symbolize/stacks.h) in its process's address
 * space, labelled with its thread's id, name, state and wait (and its
 * process's pid and name when several are recorded), and added to the
 * profile with its weight.
 */
#ifndef CPROF_COLLECT_COLLECT_H
#define CPROF_COLLECT_COLLECT_H

#include <stdbool.h>
#include <stddef.h>

#include "attach/session.h"
#include "pprofout/profile.h"
#include "symbolize/unwind.h"

enum collect_kind {
	COLLECT_THREADS, /* one count per thread: the threads profile */
	COLLECT_CPU,	 /* samples and cpu nanoseconds */
	COLLECT_WALL	 /* samples and wall nanoseconds */
};

struct collect_options {
	enum collect_kind kind;
	enum unwinder_kind unwinder;
	unsigned long hz; /* cpu and wall: the sampling period's frequency */
	bool merge;	  /* equal stacks and labels make one sample */
	/* Label every sample with its process's pid and name: for a profile
	 * of several processes (single-process output stays as it was). */
	bool label_process;
};

struct collect_stats {
	size_t cut;	       /* walks that ended early */
	size_t reused;	       /* wall: stacks of threads not stopped again */
	size_t truncated;      /* perf: walks that ran out of the stack copy */
	size_t objects;	       /* objects (libraries, executables) read */
	size_t objects_reused; /* times a process found one read already */
};

struct collector;

int collector_new(const struct collect_options *opts,
		  struct collector **ret_collector);
void collector_free(struct collector *c);

/* The sink to hand session_record() or session_snapshot() for the one
 * process of a profile. */
void collector_sink(struct collector *c, struct sample_sink *ret_sink);

/* A sink to hand session_record() or session_snapshot(), for one
 * process: its own address space, the collector's one profile.  Sinks of
 * several processes may be called from threads of their own at once.
 * 0 or -ENOMEM. */
int collector_process_sink(struct collector *c, struct sample_sink *ret_sink);

/* Once the session is over: the profile's time and what it lacks. */
int collector_finish(struct collector *c, const struct session_result *res);

const struct profile *collector_profile(const struct collector *c);

/* The processes that were sampled, in the order their sinks were made,
 * with what a text header says of each; threads counts the samples kept
 * (one per thread in a threads profile).  The strings are the
 * collector's; *ret is the caller's to free.  0 or -ENOMEM. */
int collector_processes(const struct collector *c, struct profile_process **ret,
			size_t *ret_n);
void collector_get_stats(const struct collector *c, struct collect_stats *ret);

#endif
