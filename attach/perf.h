/* SPDX-License-Identifier: MIT */
/*
 * The perf_event sampler: the kernel copies a running thread's user
 * registers and the top of its user stack at each task-clock tick, with no
 * stop, no signal and no tracer.  One event per thread and CPU, inherited
 * by the threads they start, all of a CPU's written to one ring buffer.
 *
 * Samples come out as raw samples (attach.h), so unwinding and symbols
 * work on them as on a ptrace capture; each weighs the task-clock
 * nanoseconds of its period.  A tick taken in the kernel (a system call)
 * carries the user registers of the call, so its time goes to the user
 * stack that made it.
 */
#ifndef CPROF_ATTACH_PERF_H
#define CPROF_ATTACH_PERF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "attach/attach.h"

/* The kernel's limit for PERF_SAMPLE_STACK_USER (u16, 8-aligned). */
#define PERF_STACK_MAX	   65528
#define PERF_STACK_DEFAULT 32768

struct perf_options {
	unsigned long hz;   /* ticks per second of each thread's CPU time */
	size_t stack_bytes; /* user stack copied per sample; 0: default */
	/* Launch mode: the events start disabled and are enabled by the
	 * target's next exec. */
	bool enable_on_exec;
	/* The events start disabled, for perf_enable() to start them. */
	bool start_disabled;
};

struct perf_stats {
	uint64_t samples, lost;
	uint64_t other_processes; /* samples of forked children, dropped */
	bool kernel_sampled;	  /* false: ticks in the kernel are not seen */
};

struct perf_sampler;

/*
 * Opens the events for every thread of pid (and keeps looking until no
 * thread appears that has none).  Errors: -EACCES or -EPERM when the
 * kernel (perf_event_paranoid, seccomp, missing CAP_PERFMON) refuses,
 * -ENOSYS without perf_event_open, -ESRCH when pid is gone.
 */
int perf_open(pid_t pid, const struct perf_options *opts,
	      struct perf_sampler **ret_sampler);
void perf_close(struct perf_sampler *ps);

/* Whether the kernel lets cprof open a task-clock event on itself, as the
 * sampler does on its targets: 0, or the negative errno where
 * perf_event_paranoid, seccomp or a kernel without perf_event_open
 * refuse it. */
int perf_probe(void);

/* Starts events opened with start_disabled, and those threads they
 * started inherited. */
void perf_enable(struct perf_sampler *ps);

/* The fds that become readable when samples wait (one per CPU). */
size_t perf_fds(const struct perf_sampler *ps, const int **ret_fds);

/* Called per sample, a raw sample whose weight_ns is its period and
 * whose stack points into the ring (copy what must be kept); a negative
 * return stops the drain with it. */
typedef int (*perf_sample_fn)(const struct raw_sample *sample, void *ctx);

/*
 * Hands every sample waiting in the ring buffers to fn, oldest buffer
 * position first per CPU.  *ret_exec is set when the target exec'd (its
 * address space is new).  Returns the number of samples, or the first
 * negative value fn returned.
 */
int perf_drain(struct perf_sampler *ps, perf_sample_fn fn, void *ctx,
	       bool *ret_exec);

void perf_get_stats(const struct perf_sampler *ps, struct perf_stats *ret);

#endif
