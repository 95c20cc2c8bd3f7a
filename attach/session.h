/* SPDX-License-Identifier: MIT */
/*
 * A whole sampling session behind one call: start the target (attach to
 * it, or launch the command), run a sampler, and let the target go on
 * every path, signals and errors included.  The promises to the target
 * live here and nowhere else: no thread is left stopped or traced, no
 * signal of its is lost, and a launched command runs with the
 * scheduling it would have had without cprof.
 *
 * A session hands raw samples to a sink as it takes them; the sink
 * (unwinding, symbols, the profile) never sees ptrace or perf_event.
 */
#ifndef CPROF_ATTACH_SESSION_H
#define CPROF_ATTACH_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "attach/attach.h"

enum session_mode {
	SESSION_CPU, /* running threads, weighed by the CPU time they used */
	SESSION_WALL /* every thread at every tick, weighed by the period */
};

enum session_sampler {
	SAMPLER_AUTO,  /* perf where the kernel allows it, else ptrace */
	SAMPLER_PERF,  /* perf_event: no stop, no tracer (cpu mode) */
	SAMPLER_PTRACE /* a stop per sample */
};

/* Where the samples go.  Every callback returns a negative errno to end
 * the session with that error. */
struct sample_sink {
	void *ctx;
	/* The target exists; proc_tid is the thread to read its /proc
	 * files through.  Called once, before any sample. */
	int (*begin)(void *ctx, pid_t proc_tid);
	/* A batch of samples follows (a tick, a drain of the buffers). */
	int (*batch)(void *ctx);
	/* One sample: 1 when it was kept, 0 when it was dropped (a thread
	 * not captured whose earlier stack is not known).  Weight is in
	 * s->weight_ns. */
	int (*sample)(void *ctx, const struct raw_sample *s);
	/* The target exec'd: earlier stacks and modules mean nothing. */
	int (*exec)(void *ctx);
	/* Snapshots only: whether a sample read without a stop needs
	 * capturing again with one (its walk fell short).  May be NULL. */
	bool (*needs_stop)(void *ctx, const struct raw_sample *s);
	/* Snapshots only: walk a sample read without a stop now, from a
	 * copy that lives for this call only (target_options.walk); true
	 * when the walk is whole and kept for the sample.  May be NULL. */
	bool (*walk)(void *ctx, const struct raw_sample *s);
};

struct session_stats;

struct session_options {
	pid_t pid;		/* or command */
	char *const *command;	/* launch mode: argv, NULL-terminated */
	int64_t duration_ns;	/* 0: until the command exits */
	unsigned long hz;	/* ticks per second */
	enum session_mode mode; /* record only */
	enum session_sampler sampler;
	size_t stack_bytes; /* perf: user stack copied per sample; 0 default */
	/* Called about once a second while recording, on a terminal say;
	 * stats as far as they go (samples, lost, missed_ticks). */
	void (*progress)(void *ctx, int64_t elapsed_ns,
			 const struct session_stats *stats);
	void *progress_ctx;
	/* When > 0: record ends early, as a signal would end it, once this
	 * fd polls readable (or hung up), and the signals that end cprof
	 * are left to the caller, who holds them in every thread.  For a
	 * server, whose main thread owns those signals and which ends a
	 * profile whose client went away. */
	int cancel_fd;
};

/* Pause times in log-linear buckets: 8 per power of two. */
#define SESSION_PAUSE_BUCKETS (64 * 8)

struct session_stats {
	uint64_t ticks, missed_ticks, samples, stopped, displaced;
	uint64_t blocked_at_stop; /* running at the scan, asleep at the stop */
	uint64_t stopped_ticks; /* ticks that found the target group-stopped */
	uint64_t value_ns;	/* the kept samples' weights, summed */
	uint64_t lost;		/* perf: samples the kernel dropped */
	bool kernel_sampled;	/* perf: ticks in the kernel were seen */
	uint64_t pause_max_ns;
	uint64_t pause_buckets[SESSION_PAUSE_BUCKETS];
	/* snapshots */
	size_t threads, captured, lost_threads, stopped_again;
	uint64_t pause_total_ns;
};

/* What failed, so that the caller can say it in one line. */
enum session_failure {
	SESSION_OK,
	SESSION_FAIL_SIGNALS,	  /* the signalfd could not be made */
	SESSION_FAIL_THREAD,	  /* the sampling thread could not start */
	SESSION_FAIL_TARGET,	  /* attach: see target_attach's errors */
	SESSION_FAIL_LAUNCH,	  /* the command could not be started */
	SESSION_FAIL_PERF_DENIED, /* perf_event_open refused (--sampler=perf) */
	SESSION_FAIL_PERF_FILES,  /* an event per thread > RLIMIT_NOFILE */
	SESSION_FAIL_BEGIN,	  /* the sink's begin failed */
	SESSION_FAIL_CAPTURE,	  /* taking or handing over samples failed */
};

struct session_result {
	enum session_failure failure;
	enum session_sampler sampler; /* which one ran; AUTO: none */
	char why[96];		      /* why that one */
	pid_t pid;		      /* the process sampled */
	int64_t start_realtime_ns;    /* when sampling began */
	int64_t duration_ns;	      /* how long it ran */
	bool stopped_by_signal;	      /* SIGINT, SIGTERM, SIGHUP, SIGQUIT */
	bool target_exited;
	bool exit_known; /* launch mode: exit_status holds its wait status */
	int exit_status;
	struct session_stats stats;
};

/*
 * Records the target for opts->duration_ns, until a signal that ends
 * cprof arrives (those signals are held for the whole call, and read from
 * a signalfd), or until the target exits.  cpu mode takes the sampler
 * asked for; auto tries perf_event and falls back to ptrace when the
 * kernel refuses it, before anything of the target was touched.  Returns
 * 0 or a negative errno with res->failure saying where.
 */
int session_record(const struct session_options *opts,
		   const struct sample_sink *sink, struct session_result *res);

/*
 * One capture of every thread of opts->pid: a thread blocked in the kernel
 * is read without a stop, any other is let go from the stop that captured
 * it, and a read that falls short (sink->needs_stop) is taken again with a
 * stop.  The samples reach the sink once every thread runs free and cprof
 * has let go of the process.
 */
int session_snapshot(const struct session_options *opts,
		     const struct sample_sink *sink,
		     struct session_result *res);

/* Launch mode: the command's wait status, waiting for it to end when the
 * recording ended first; a negative errno when it cannot be had. */
int session_wait_command(struct session_result *res);

/* The pause below which a fraction q of the ptrace stops ended. */
double session_pause_percentile(const struct session_stats *stats, double q);

/* Why a recording holds no sample, as a phrase for one line; NULL when it
 * holds some. */
const char *session_empty_reason(const struct session_options *opts,
				 const struct session_result *res);

/* A session's thread at real-time priority where allowed, so that a
 * stopped thread waits for nothing but its copy (see session.c). */
void session_prefer_realtime(void);
void session_prefer_ordinary(void);

#endif
