/* SPDX-License-Identifier: MIT */
/*
 * The seam between a session (session.c: the loop, the signals, the
 * thread whose end lets the target go) and the ways of taking samples:
 * the ptrace stop of each running or changed thread (sampler-ptrace.c)
 * and the kernel's copies at a perf_event tick (sampler-perf.c).  The
 * table is modelled on strace's unwinder table.  Private to attach/.
 */
#ifndef CPROF_ATTACH_SAMPLER_H
#define CPROF_ATTACH_SAMPLER_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "attach/session.h"

struct session {
	const struct session_options *opts;
	const struct sample_sink *sink;
	struct session_result *res;
	int64_t start_ns; /* CLOCK_MONOTONIC when sampling began */
	int64_t next_ns;  /* when the sampler's step is due next */
	void *state;	  /* the sampler's own */
};

struct sampler_ops {
	const char *name;
	/* Runs on a thread of its own, whose end lets the target go. */
	bool own_thread;
	/* Attaches to or launches the target and calls sink->begin.  0 to
	 * go on; 1 when this sampler cannot run here and nothing of the
	 * target was touched (res->why says why); a negative errno with
	 * res->failure set. */
	int (*start)(struct session *s);
	/* Takes what is due (a tick, a drain) and sets s->next_ns. */
	int (*step)(struct session *s, int64_t now_ns);
	/* Fds besides the signalfd that wake the loop; how many were put. */
	size_t (*fds)(struct session *s, struct pollfd *pfds, size_t max);
	/* After every wait, with the fds' revents: may end the run
	 * (res->target_exited) or make the step due now.  NULL: nothing. */
	void (*woke)(struct session *s, const struct pollfd *pfds, size_t n);
	/* SIGCHLD arrived (ptrace reports).  NULL: ignored. */
	void (*reports)(struct session *s);
	/* The run is over (r: how it ended); still on its thread: the
	 * last samples, the exit status, the figures.  Returns r, or the
	 * error of those last samples. */
	int (*finish)(struct session *s, int r);
	/* Lets the target go and frees s->state; NULL-state safe. */
	void (*stop)(struct session *s);
};

extern const struct sampler_ops ptrace_sampler_ops;
extern const struct sampler_ops perf_sampler_ops;

/* Counts one ptrace stop's pause in the figures. */
void session_count_pause(struct session_stats *stats, uint64_t ns);

/* CLOCK_MONOTONIC and CLOCK_REALTIME in nanoseconds. */
int64_t session_monotonic_ns(void);
int64_t session_realtime_ns(void);

#endif
