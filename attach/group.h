/* SPDX-License-Identifier: MIT */
/*
 * Several processes recorded as one: a session (session.h) per process,
 * each on a thread of its own, all ended together by one cancel fd when
 * the time is up or a signal that ends cprof arrives.  With follow, the
 * descendants of the roots, read from /proc, join when first seen: at
 * the start and at every rescan while the recording runs.
 *
 * Every promise a session makes to its target holds for each member: a
 * session lets its process go on every path, and the group joins every
 * session before it returns.
 */
#ifndef CPROF_ATTACH_GROUP_H
#define CPROF_ATTACH_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "attach/session.h"

/* How often a followed tree is read again from /proc: a process that
 * lives less than this may be missed. */
#define GROUP_RESCAN_NS 100000000LL

struct group_options {
	/* What every member's session gets: hz, mode, sampler, stack size,
	 * duration (0 with a command: until it exits).  pid and command
	 * name the first member (pid 0 with a command); cancel_fd and
	 * progress are the group's own. */
	struct session_options session;
	const pid_t *pids; /* the processes to record besides the command */
	size_t npids;
	bool follow; /* their descendants (or the command's) too */
	/* Makes the sink of a new member, on the coordinating thread. */
	int (*member_sink)(void *ctx, struct sample_sink *ret_sink);
	void *ctx;
};

struct group_result {
	/* The member whose failure ended the group, else the first: the
	 * command's in launch mode (its exit status). */
	struct session_result first;
	int64_t start_realtime_ns; /* when sampling began */
	int64_t duration_ns;	   /* the recording's wall time */
	bool stopped_by_signal;
	size_t members;		    /* processes sampled */
	struct session_stats stats; /* summed over the members */
};

/* Records the group; 0 or the negative errno of a member that failed to
 * start (one named in pids, or the command), with res->first saying
 * where.  A member found later that cannot be sampled is skipped; one
 * that exits midway is dropped from sampling, no error. */
int group_record(const struct group_options *opts, struct group_result *res);

/*
 * One snapshot of each process: those in pids, in that order, then with
 * follow their descendants as /proc shows them now, one process after
 * the other (session_snapshot), so that no two are held at once.  0 or
 * the negative errno of a process named in pids, with res->first saying
 * where; a descendant that cannot be captured (it exited since it was
 * listed) is left out.
 */
int group_snapshot(const struct group_options *opts, struct group_result *res);

/* The descendants of root from /proc (root not included, zombies and
 * kernel threads left out), appended to *pids (of *n, grown with
 * realloc).  0 or -ENOMEM. */
int group_descendants(pid_t root, pid_t **pids, size_t *n);

#endif
