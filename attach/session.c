/* SPDX-License-Identifier: MIT */
/*
 * The life of a session.  Signals that end cprof are held for the whole of
 * it and read from a signalfd, so nothing runs in a signal handler while
 * the target is held, and Ctrl-C, SIGTERM or SIGHUP end a recording with
 * the profile kept.  A ptrace session runs on a thread of its own, and
 * ending that thread is how cprof lets go: the kernel detaches every
 * tracee of an exiting tracer without stopping it, where PTRACE_DETACH
 * needs a stopped tracee and so would cost every blocked thread one more
 * EINTR.  Threads held in a group-stop stay stopped, and a pending signal
 * is delivered.
 */
#include "attach/session.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attach/procfs.h"
#include "attach/sampler.h"

/* The sampler's fds a wait watches besides the signalfd. */
#define MAX_WAIT_FDS 65

int64_t session_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t session_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * A tracer that must wait its turn for a CPU keeps stopped threads
 * stopped for as long.  A sampler that waits sees the threads it
 * displaced where the scheduler let them be preempted: for an ordinary
 * thread's wakeup the kernel defers preemption to the next return to user
 * space, mostly a system call's, and CPU profiles of busy machines would
 * pile up at system call sites.  A real-time thread preempts at once, at
 * whatever instruction the timer interrupt hit.  Where that is not
 * allowed cprof runs as it is.
 */
void session_prefer_realtime(void)
{
	struct sched_param param = {.sched_priority = 1};

	/* SCHED_RESET_ON_FORK: nothing this thread starts runs real-time.
	 * On Linux pid 0 names the calling thread, not the process. */
	sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &param);
}

void session_prefer_ordinary(void)
{
	struct sched_param param = {.sched_priority = 0};

	pthread_setschedparam(pthread_self(), SCHED_OTHER, &param);
}

void session_count_pause(struct session_stats *stats, uint64_t ns)
{
	unsigned index = (unsigned)ns;

	if (ns >= 8) {
		unsigned exp = 63 - __builtin_clzll(ns);

		index = exp * 8 + (unsigned)((ns >> (exp - 3)) & 7);
	}
	stats->pause_buckets[index < SESSION_PAUSE_BUCKETS
				     ? index
				     : SESSION_PAUSE_BUCKETS - 1]++;
	if (ns > stats->pause_max_ns)
		stats->pause_max_ns = ns;
}

double session_pause_percentile(const struct session_stats *stats, double q)
{
	uint64_t total = 0, seen = 0;

	for (size_t i = 0; i < SESSION_PAUSE_BUCKETS; i++)
		total += stats->pause_buckets[i];
	for (size_t i = 0; i < SESSION_PAUSE_BUCKETS && total; i++) {
		seen += stats->pause_buckets[i];
		if (seen >= q * total) {
			unsigned exp = i / 8, mantissa = i % 8;
			/* The bucket's upper end, which never flatters
			 * cprof, but no more than the longest pause seen. */
			uint64_t upper =
				i < 8 ? i + 1 : (8 + mantissa + 1) << (exp - 3);

			return (double)(upper < stats->pause_max_ns
						? upper
						: stats->pause_max_ns);
		}
	}
	return 0;
}

/* ---- signals ---- */

/* The signals that end a run, plus SIGCHLD for ptrace reports; SIGCHLD
 * only when the caller owns the others (a cancel_fd). */
static int hold_signals(bool fatal, sigset_t *ret_saved)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	if (!fatal) {
		sigprocmask(SIG_BLOCK, &mask, ret_saved);
		fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
		if (fd < 0) {
			fd = -errno;
			sigprocmask(SIG_SETMASK, ret_saved, NULL);
		}
		return fd;
	}
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	sigaddset(&mask, SIGPIPE);
	sigprocmask(SIG_BLOCK, &mask, ret_saved);
	sigdelset(&mask, SIGPIPE); /* a closed pipe shows as EPIPE */
	fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0) {
		fd = -errno;
		sigprocmask(SIG_SETMASK, ret_saved, NULL);
	}
	return fd;
}

/* Handles what the signalfd holds: 1 when the run must end. */
static int read_signals(struct session *s, const struct sampler_ops *ops,
			int sigfd)
{
	struct signalfd_siginfo info;
	bool reports = false;

	while (read(sigfd, &info, sizeof(info)) == sizeof(info)) {
		if (info.ssi_signo == SIGCHLD)
			reports = true;
		else
			s->res->stopped_by_signal = true;
	}
	if (reports && ops->reports)
		ops->reports(s);
	return s->res->stopped_by_signal || s->res->target_exited;
}

/* ---- the loop ---- */

static void show_progress(struct session *s, int64_t now_ns, int64_t *shown)
{
	if (!s->opts->progress || now_ns - *shown < 1000000000)
		return;
	*shown = now_ns;
	s->opts->progress(s->opts->progress_ctx, now_ns - s->start_ns,
			  &s->res->stats);
}

/* Sleeps until the step is due, the deadline, a signal or one of the
 * sampler's fds; 1 when the run must end. */
static int wait_until(struct session *s, const struct sampler_ops *ops,
		      int sigfd, int64_t deadline_ns)
{
	struct pollfd pfds[2 + MAX_WAIT_FDS];
	int64_t wait_ns = deadline_ns - session_monotonic_ns();
	struct timespec timeout;
	size_t n;

	pfds[0] = (struct pollfd){.fd = sigfd, .events = POLLIN};
	/* A negative fd is ignored by ppoll. */
	pfds[1] = (struct pollfd){
		.fd = s->opts->cancel_fd > 0 ? s->opts->cancel_fd : -1,
		.events = POLLIN};
	n = ops->fds(s, pfds + 2, MAX_WAIT_FDS);
	if (wait_ns < 0)
		wait_ns = 0;
	timeout.tv_sec = wait_ns / 1000000000;
	timeout.tv_nsec = wait_ns % 1000000000;
	if (ppoll(pfds, 2 + n, &timeout, NULL) < 0 && errno != EINTR)
		return -errno;
	if (pfds[0].revents && read_signals(s, ops, sigfd))
		return 1;
	if (pfds[1].revents) {
		s->res->stopped_by_signal = true;
		return 1;
	}
	if (ops->woke)
		ops->woke(s, pfds + 2, n);
	return s->res->target_exited;
}

static int run_loop(struct session *s, const struct sampler_ops *ops, int sigfd)
{
	const int64_t duration = s->opts->duration_ns;
	int64_t end_ns, shown_ns;
	int r = 0;

	s->res->start_realtime_ns = session_realtime_ns();
	s->start_ns = s->next_ns = shown_ns = session_monotonic_ns();
	end_ns = duration ? s->start_ns + duration : INT64_MAX;
	while (r >= 0 && !s->res->target_exited) {
		int64_t now = session_monotonic_ns();

		if (now >= s->next_ns)
			r = ops->step(s, now);
		if (r < 0 || s->res->target_exited ||
		    session_monotonic_ns() >= end_ns)
			break;
		/* The step's own stops raised SIGCHLD: taken now, it does
		 * not cut the wait short, which would cost a wakeup a tick. */
		if (read_signals(s, ops, sigfd))
			break;
		show_progress(s, session_monotonic_ns(), &shown_ns);
		r = wait_until(s, ops, sigfd,
			       s->next_ns < end_ns ? s->next_ns : end_ns);
		if (r > 0)
			break;
	}
	r = ops->finish(s, r < 0 ? r : 0);
	s->res->duration_ns = session_monotonic_ns() - s->start_ns;
	if (r < 0 && s->res->failure == SESSION_OK)
		s->res->failure = SESSION_FAIL_CAPTURE;
	return r;
}

/* What the sampling thread needs and leaves behind. */
struct run {
	struct session *session;
	const struct sampler_ops *ops;
	int sigfd;
	int result;
};

static int run_sampler(struct run *run)
{
	struct session *s = run->session;
	int r = run->ops->start(s);

	if (r != 0)
		return r;
	return run_loop(s, run->ops, run->sigfd);
}

static void *sampling_thread(void *arg)
{
	struct run *run = arg;

	run->result = run_sampler(run);
	return NULL;
}

/* Runs the sampler on a thread of its own when it needs one; lets the
 * target go on every path. */
static int run_session(struct run *run)
{
	struct session *s = run->session;
	pthread_t thread;
	int r;

	if (!run->ops->own_thread) {
		r = run_sampler(run);
	} else if ((r = -pthread_create(&thread, NULL, sampling_thread, run)) <
		   0) {
		s->res->failure = SESSION_FAIL_THREAD;
	} else {
		pthread_join(thread, NULL);
		r = run->result;
	}
	run->ops->stop(s);
	return r;
}

static void set_why(struct session_result *res, const char *why)
{
	snprintf(res->why, sizeof(res->why), "%s", why);
}

static int record(struct session *s, int sigfd)
{
	const struct session_options *opts = s->opts;
	struct session_result *res = s->res;
	struct run run = {.session = s, .sigfd = sigfd};
	int r;

	if (opts->mode == SESSION_CPU && opts->sampler != SAMPLER_PTRACE) {
		run.ops = &perf_sampler_ops;
		res->sampler = SAMPLER_PERF;
		set_why(res, opts->sampler == SAMPLER_PERF
				     ? "asked for"
				     : "the kernel allows it");
		r = run_session(&run);
		if (r <= 0)
			return r;
		/* Refused, and auto: said by --stats only, as ptrace may
		 * well do the job.  res->why says why. */
	} else {
		set_why(res, opts->sampler == SAMPLER_PTRACE ? "asked for"
			     : opts->mode == SESSION_WALL    ? "wall mode"
							     : "");
	}
	run.ops = &ptrace_sampler_ops;
	res->sampler = SAMPLER_PTRACE;
	return run_session(&run);
}

int session_record(const struct session_options *opts,
		   const struct sample_sink *sink, struct session_result *res)
{
	struct session s = {.opts = opts, .sink = sink, .res = res};
	sigset_t saved;
	int sigfd, r;

	*res = (struct session_result){.pid = opts->pid};
	sigfd = hold_signals(opts->cancel_fd <= 0, &saved);
	if (sigfd < 0) {
		res->failure = SESSION_FAIL_SIGNALS;
		return sigfd;
	}
	r = record(&s, sigfd);
	close(sigfd);
	sigprocmask(SIG_SETMASK, &saved, NULL);
	return r;
}

int session_wait_command(struct session_result *res)
{
	if (!res->exit_known) {
		if (waitpid(res->pid, &res->exit_status, 0) < 0)
			return -errno;
		res->exit_known = true;
	}
	return res->exit_status;
}

/* ---- snapshots ---- */

struct snapshot {
	struct session *session;
	struct target *target;
	struct sample_set set;
	int result;
};

/*
 * A thread read without a stop gave SP and PC only; where its walk needed
 * more, or stopped early for any reason, it is captured again with a stop,
 * which gives every register.
 */
static int stop_short_reads(struct snapshot *snap)
{
	const struct sample_sink *sink = snap->session->sink;
	struct sample_set *set = &snap->set;
	bool *redo = calloc(set->n ? set->n : 1, sizeof(*redo));
	size_t again = 0;
	int r = 0;

	if (!redo)
		return -ENOMEM;
	for (size_t i = 0; i < set->n && sink->needs_stop; i++) {
		const struct raw_sample *s = &set->samples[i];

		if (s->captured && s->read_blocked)
			redo[i] = sink->needs_stop(sink->ctx, s);
		again += redo[i];
	}
	snap->session->res->stats.stopped_again = again;
	if (again) {
		session_prefer_realtime();
		r = target_recapture(snap->target, set, redo);
	}
	free(redo);
	return r;
}

/*
 * Seize, capture every thread once: the only part the target notices.
 * Stops are made at real-time priority where allowed, so a stopped thread
 * waits for nothing but its copy; reading the address space is not.  It
 * is read before the capture, so that each thread read without a stop is
 * walked as soon as it is read (sample_sink.walk, before any thread is
 * stopped) and its copy need not be kept.  A walk that leaves the known
 * modules (a library mapped in between) is not kept: its copy is, and is
 * walked again once the maps are read afresh.
 */
static int capture(struct snapshot *snap)
{
	struct session *s = snap->session;
	const struct target_options topts = {.read_blocked = true,
					     .walk = s->sink->walk,
					     .walk_ctx = s->sink->ctx};
	struct session_result *res = s->res;
	int r;

	session_prefer_realtime();
	r = target_attach(s->opts->pid, &topts, &snap->target);
	if (r < 0) {
		res->failure = SESSION_FAIL_TARGET;
		return r;
	}
	res->pid = target_pid(snap->target);
	session_prefer_ordinary();
	r = s->sink->begin(s->sink->ctx, target_proc_tid(snap->target));
	if (r < 0) {
		res->failure = SESSION_FAIL_BEGIN;
		return r;
	}
	session_prefer_realtime();
	r = target_snapshot_release(snap->target, &snap->set);
	session_prefer_ordinary();
	if (r < 0) {
		res->failure = SESSION_FAIL_CAPTURE;
		return r;
	}
	r = stop_short_reads(snap);
	if (r < 0)
		res->failure = SESSION_FAIL_CAPTURE;
	return r;
}

static void *snapshot_thread(void *arg)
{
	struct snapshot *snap = arg;

	snap->result = capture(snap);
	return NULL;
}

static void count_capture(struct session_stats *st,
			  const struct sample_set *set)
{
	st->threads = set->n;
	st->lost_threads = set->lost;
	for (size_t i = 0; i < set->n; i++) {
		const struct raw_sample *s = &set->samples[i];

		if (!s->captured)
			continue;
		st->captured++;
		if (s->read_blocked)
			continue;
		st->stopped++;
		st->pause_total_ns += s->pause_ns;
		if (s->pause_ns > st->pause_max_ns)
			st->pause_max_ns = s->pause_ns;
	}
}

/* Every thread is free again: the samples go to the sink. */
static int hand_over_set(struct session *s, const struct sample_set *set)
{
	int r = 0;

	for (size_t i = 0; i < set->n && r >= 0; i++) {
		r = s->sink->sample(s->sink->ctx, &set->samples[i]);
		s->res->stats.samples += r > 0;
	}
	if (r < 0)
		s->res->failure = SESSION_FAIL_CAPTURE;
	return r < 0 ? r : 0;
}

int session_snapshot(const struct session_options *opts,
		     const struct sample_sink *sink, struct session_result *res)
{
	struct session s = {.opts = opts, .sink = sink, .res = res};
	struct snapshot snap = {.session = &s};
	sigset_t fatal, saved;
	pthread_t thread;
	int r;

	*res = (struct session_result){.pid = opts->pid};
	res->start_realtime_ns = session_realtime_ns();
	sigemptyset(&fatal);
	sigaddset(&fatal, SIGINT);
	sigaddset(&fatal, SIGTERM);
	sigaddset(&fatal, SIGHUP);
	sigaddset(&fatal, SIGPIPE);
	sigaddset(&fatal, SIGQUIT);
	sigprocmask(SIG_BLOCK, &fatal, &saved);
	r = -pthread_create(&thread, NULL, snapshot_thread, &snap);
	if (r < 0) {
		res->failure = SESSION_FAIL_THREAD;
	} else {
		pthread_join(thread, NULL);
		/* The tracer is gone: every thread of the target runs free. */
		target_abandon(snap.target);
		r = snap.result;
	}
	sigprocmask(SIG_SETMASK, &saved, NULL);
	count_capture(&res->stats, &snap.set);
	if (r >= 0)
		r = hand_over_set(&s, &snap.set);
	sample_set_release(&snap.set);
	return r;
}

/* ---- what a profile lacks ---- */

static bool process_stopped(pid_t pid)
{
	struct proc_stat stat;

	return procfs_read_stat(pid, &stat) == 0 &&
	       (stat.state == 'T' || stat.state == 't');
}

const char *session_empty_reason(const struct session_options *opts,
				 const struct session_result *res)
{
	const struct session_stats *st = &res->stats;
	bool perf = res->sampler == SAMPLER_PERF;

	/* A CPU profile of samples that all weigh nothing is empty too. */
	if (st->value_ns > 0)
		return NULL;
	if (!perf && st->ticks == 0)
		return "it exited before the first sample";
	if (perf ? !opts->command && process_stopped(res->pid)
		 : st->stopped_ticks == st->ticks)
		return "it was stopped (SIGSTOP or a debugger) for the whole "
		       "recording; --mode=wall shows where its threads are";
	/* The perf sampler counts CPU time only: a target that never ran. */
	if (opts->command)
		return "the command itself never ran on a CPU, and "
		       "--no-children leaves out the processes it starts";
	return "no thread ran on a CPU; --mode=wall shows where its "
	       "threads wait";
}
