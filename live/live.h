/* SPDX-License-Identifier: MIT */
/*
 * cprof top's screen: the hottest functions of a profile still being
 * recorded, redrawn in place on a terminal with ncurses, and the keys
 * that steer it.  Called from the recording's progress callback, on the
 * thread that feeds the profile, so the profile never changes under it.
 */
#ifndef CPROF_LIVE_LIVE_H
#define CPROF_LIVE_LIVE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pprofout/profile.h"

struct live_options {
	const char *heading; /* "pid 4093, CPU, 100 Hz" */
	int interval_s;	     /* redraw at most this often */
	bool states;	     /* wall: a column with each row's state */
};

/* How far the recording has come. */
struct live_progress {
	int64_t elapsed_ns;
	uint64_t samples;
	uint64_t lost; /* dropped by the kernel or ticks missed */
};

struct live_view;

/* Takes the terminal (standard output must be one). */
int live_view_new(const struct live_options *opts, struct live_view **ret);

/* Reads the keys typed since, redraws when the interval is up or a key
 * asked; false once the user asked to quit (q). */
bool live_view_update(struct live_view *v, const struct profile *profile,
		      const struct live_progress *progress);

/* Gives the terminal back as it was. */
void live_view_free(struct live_view *v);

#endif
