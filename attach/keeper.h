/* SPDX-License-Identifier: MIT */
/*
 * A command cprof starts and outlives sessions: `cprof serve -- COMMAND`
 * attaches to it once per request.  The command is not cprof's child but
 * the child of a small keeper process cprof forks: a ptrace session that
 * sees the command exit must not reap it (a tracer that is also the parent
 * takes the exit status with the exit report), so the keeper waits for it
 * and hands its status over a pipe.
 *
 * The command starts as target_launch()'s does: default signal
 * dispositions, an empty mask, ordinary scheduling, and none of cprof's
 * files.
 */
#ifndef CPROF_ATTACH_KEEPER_H
#define CPROF_ATTACH_KEEPER_H

#include <stdbool.h>
#include <sys/types.h>

struct keeper;

/* Forks the keeper and the command, which waits before its exec until
 * keeper_release(); *ret_pid is the command's pid. */
int keeper_spawn(char *const argv[], struct keeper **ret_keeper,
		 pid_t *ret_pid);

/* Lets the command exec; returns once it did, or the exec's negative
 * errno (the command then exits 127). */
int keeper_release(struct keeper *k);

/* The command's wait status, waiting for its end; with terminate, it is
 * sent SIGTERM first. */
int keeper_wait(struct keeper *k, bool terminate, int *ret_status);

/* Ends a command never released (it exits 127 without running), reaps
 * the keeper and frees; a released command still running is left to run
 * until keeper_wait(), which the caller must call first. */
void keeper_free(struct keeper *k);

#endif
