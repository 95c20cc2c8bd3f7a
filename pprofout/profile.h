/* SPDX-License-Identifier: MIT */
/*
 * The profile model and every output format.  Samples are keyed by stack
 * and labels; strings, functions, locations and mappings are interned.  The
 * model copies what it keeps, so callers' symbolized locations need only
 * live for the duration of profile_add().
 *
 * Formats: pprof (gzip-compressed profile.proto, what `go tool pprof`
 * reads), text modelled on Go's goroutine profile: debug=1 groups equal
 * (labels, stack) pairs with a count, debug=2 prints every sample; and for
 * users without pprof, folded stacks and a flat/cum table.
 */
#ifndef CPROF_PPROFOUT_PROFILE_H
#define CPROF_PPROFOUT_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "symbolize/location.h"

struct value_type {
	const char *type; /* "samples", "cpu", "threads", "wall" */
	const char *unit; /* "count", "nanoseconds" */
};

/* A label: string-valued when str != NULL, numeric otherwise. */
struct label {
	const char *key;
	const char *str;
	int64_t num;
};

/* The well-known label keys; debug=2 headers are built from them. */
#define LABEL_PID	  "pid"	    /* profiles of several processes */
#define LABEL_PROCESS	  "process" /* its comm */
#define LABEL_THREAD_ID	  "thread_id"
#define LABEL_THREAD_NAME "thread_name"
#define LABEL_STATE	  "state"
#define LABEL_WAIT	  "wait"
/* "truncated" on a sample whose walk ran out of the copied stack. */
#define LABEL_STACK "stack"

struct profile;

/* period_type may be NULL (no period). */
struct profile *profile_new(const struct value_type *sample_types,
			    size_t ntypes, const struct value_type *period_type,
			    int64_t period);
void profile_free(struct profile *profile);

void profile_set_time(struct profile *profile, int64_t time_nanos,
		      int64_t duration_nanos);
int profile_add_comment(struct profile *profile, const char *comment);

/*
 * Adds values (ntypes of them) to the sample with this stack (leaf first)
 * and these labels, creating it if new.  When merge is 0 every call makes a
 * sample of its own (one per thread for debug=2).
 */
int profile_add(struct profile *profile,
		const struct sym_location *const *stack, size_t depth,
		const int64_t *values, const struct label *labels,
		size_t nlabels, int merge);

size_t profile_sample_count(const struct profile *profile);

/* Gzip-compressed profile.proto to fd. */
int profile_write_pprof(const struct profile *profile, int fd);

/* Text flags. */
#define TEXT_PCS 0x1 /* debug=2: end each location line with "@ 0xPC" */

/* Text of a profile of one process: level 1 grouped with counts
 * (values[0] summed), level 2 every sample in the order added.  Layout is
 * in pprofout/FORMATS.md. */
int profile_write_text(const struct profile *profile, int level, unsigned flags,
		       FILE *out);

/* A process of a profile of several (samples labelled pid). */
struct profile_process {
	int64_t pid;
	const char *name; /* the process label: its comm */
	const char *exe;  /* its executable's path; NULL or "": not known */
	size_t threads;	  /* threads shown */
};

/* Text of several processes: for each, in the order given, a header line
 * and then its samples (those labelled with its pid) laid out as
 * profile_write_text() would, grouped only within the process. */
int profile_write_text_processes(const struct profile *profile, int level,
				 unsigned flags,
				 const struct profile_process *procs, size_t n,
				 FILE *out);

/*
 * Flat outputs of the last sample type's values (pprof's default), labels
 * ignored.  Folded: one "root;...;leaf VALUE" line per distinct stack, for
 * flamegraph.pl, inferno and speedscope.  Top: a flat/cum table per
 * function laid out like `go tool pprof -top`.  Layouts are in
 * pprofout/FORMATS.md.  0, -EINVAL, -ENOMEM, or the write error.
 */
int profile_write_folded(const struct profile *profile, FILE *out);
int profile_write_top(const struct profile *profile, FILE *out);

/* What cprof top asks of the table beyond what pprof prints. */
struct top_options {
	bool by_cum;	   /* rows by cum first (pprof's -cum) */
	bool one_thread;   /* only the samples of thread_id */
	int64_t thread_id; /* a thread_id label's value */
	bool where;	   /* "(file:line)" where each function starts */
	bool states;	   /* a column: each row's commonest wait or state */
};
int profile_write_top_with(const struct profile *profile,
			   const struct top_options *opts, FILE *out);

struct profile_thread {
	int64_t id;	  /* thread_id label */
	const char *name; /* thread_name label, "" when none; the profile's */
};

/* The threads the samples are labelled with, by id (*ret: free it). */
int profile_threads(const struct profile *profile, struct profile_thread **ret,
		    size_t *count);

/*
 * An interactive flame graph (pprofout/svg.c), one self-contained SVG:
 * frames merged by function, root at the bottom, widths the last sample
 * type; coloured by wait or state where samples carry a state label (wall,
 * threads), else by object.  title heads it (NULL: "cprof").  0, -ENOMEM,
 * or the write error.
 */
int profile_write_svg(const struct profile *profile, const char *title,
		      FILE *out);

#endif
