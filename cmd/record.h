/* SPDX-License-Identifier: MIT */
/* The sampling loop behind cprof record (cmd/recorder.c), driven by the
 * option parsing and output in cmd/record.c. */
#ifndef CPROF_CMD_RECORD_H
#define CPROF_CMD_RECORD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "attach/attach.h"
#include "cmd/pipeline.h"
#include "pprofout/profile.h"
#include "symbolize/debuginfod.h"
#include "symbolize/unwind.h"

#define RECORD_DEFAULT_HZ      100
#define RECORD_MAX_HZ	       10000
#define RECORD_DEFAULT_SECONDS 30

enum record_mode {
	MODE_CPU,
	MODE_WALL
};
enum record_sampler {
	SAMPLER_AUTO,  /* perf where the kernel allows it, else ptrace */
	SAMPLER_PERF,  /* perf_event: no stop, no tracer (cpu mode) */
	SAMPLER_PTRACE /* a stop per sample */
};
enum record_format {
	FORMAT_PPROF,
	FORMAT_FOLDED,
	FORMAT_TOP
};

struct record_options {
	pid_t pid;
	char **command;	     /* launch mode: what follows "--" */
	int64_t duration_ns; /* 0: until the command exits */
	unsigned long hz;
	const char *output;
	enum record_mode mode;
	enum record_format format;
	enum unwinder_kind unwinder;
	enum record_sampler sampler;
	size_t stack_bytes; /* perf: user stack copied per sample; 0 default */
	bool stats;
	bool output_named; /* cprof chose the file name: say it */
	enum debuginfod_mode debuginfod;
};

/* What cprof remembers of a thread between ticks. */
struct thread_memo {
	pid_t tid;
	uint64_t cpu_ns; /* its CPU time when last weighed (cpu mode) */
	size_t depth;	 /* its last stack (wall mode reuses it) */
	const struct sym_location **stack;
};

/* Pause times in log-linear buckets: 8 per power of two. */
#define PAUSE_BUCKETS (64 * 8)

struct record_stats {
	uint64_t ticks, missed_ticks, samples, stopped, reused, displaced;
	uint64_t stopped_ticks; /* ticks that found the target group-stopped */
	uint64_t value_ns;	/* the samples' cpu or wall time, summed */
	uint64_t lost;		/* perf: samples the kernel dropped */
	uint64_t truncated;	/* perf: walks that ran out of the copy */
	uint64_t pause_max_ns;
	uint64_t pause_buckets[PAUSE_BUCKETS];
};

struct perf_sampler;

struct recorder {
	const struct record_options *opts;
	struct target *target;	   /* the ptrace sampler's session */
	struct perf_sampler *perf; /* or the perf sampler's events */
	/* Which sampler ran (SAMPLER_AUTO: none yet), and why: --stats. */
	enum record_sampler sampler;
	const char *sampler_why;
	int pidfd;	     /* perf: readable once the target exits */
	bool launched;	     /* perf: the command is cprof's child */
	bool launch_failed;  /* perf: its exec failed (reaped) */
	bool target_refused; /* perf: no process to profile at -p PID */
	bool reaped;	     /* perf: exit_status holds its wait status */
	bool kernel_sampled; /* perf: ticks in the kernel were seen */
	pid_t pid;
	struct pipeline pipeline;
	struct profile *profile;
	int64_t period_ns;
	int64_t start_ns; /* CLOCK_MONOTONIC when sampling began */
	unsigned exec_count;
	struct thread_memo *memos; /* sorted by tid */
	size_t nmemos;
	bool stopped_by_signal;
	bool target_exited;
	int exit_status; /* launch mode, once target_exited */
	struct record_stats stats;
};

/* Needs rec->target set; opens the address space and the profile. */
int recorder_init(struct recorder *rec, const struct record_options *opts);
/* Samples until the duration ends, a signal arrives on sigfd or the
 * target exits. */
int recorder_run(struct recorder *rec, int sigfd);
/* Keeps what command_status needs once the run is over; called on the
 * tracer thread, before it ends. */
void recorder_finish(struct recorder *rec);
void recorder_print_stats(const struct recorder *rec);
void recorder_show_progress(const struct recorder *rec, bool tty,
			    int64_t now_ns, int64_t *shown_ns);

/* The perf sampler (cmd/recorder-perf.c): opens the events on the
 * target, or launches the command with events enabled by its exec.
 * Errors as perf_open(); after a failure nothing of the target was
 * touched, unless launch_failed (the command could not be run). */
int recorder_start_perf(struct recorder *rec,
			const struct record_options *opts);
int recorder_run_perf(struct recorder *rec, int sigfd);
/* Closes the events, keeping their figures for --stats. */
void recorder_stop_perf(struct recorder *rec);
/* Why the profile holds no sample, for one line on stderr; NULL when it
 * holds some. */
const char *recorder_empty_reason(const struct recorder *rec);
void recorder_release(struct recorder *rec);

#endif
