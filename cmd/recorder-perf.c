/* SPDX-License-Identifier: MIT */
/*
 * cprof record's CPU mode on the perf_event sampler (attach/perf.h): no
 * thread is traced or stopped.  The kernel writes samples into ring
 * buffers; this loop sleeps until a buffer is half full, a signal ends
 * the run, the target exits or the time is up, and unwinds whatever the
 * buffers hold.  Each sample weighs its period: the task-clock
 * nanoseconds its thread ran since the previous one.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attach/perf.h"
#include "cmd/record.h"
#include "cmd/util.h"

/* The longest sleep between drains: progress lines and a target that
 * exits without a pidfd to say so. */
#define PERF_MAX_SLEEP_NS 200000000LL

static const struct value_type cpu_types[] = {{"samples", "count"},
					      {"cpu", "nanoseconds"}};

static void note_exit(struct recorder *rec);
static bool target_gone(struct recorder *rec, bool pidfd_ready);

static int open_pidfd(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -1 : fd;
}

/* Launch mode: the command waits before its exec while its events are
 * opened, enabled by the exec itself. */
static int start_command(struct recorder *rec, const struct perf_options *po)
{
	struct perf_options opts = *po;
	int go_fd, err_fd, r;

	opts.enable_on_exec = true;
	r = launch_spawn(rec->opts->command, &rec->pid, &go_fd, &err_fd);
	if (r < 0)
		return r;
	rec->launched = true;
	r = perf_open(rec->pid, &opts, &rec->perf);
	if (r < 0) {
		/* Nothing ran yet: the command is dropped, unexec'd. */
		close(go_fd);
		close(err_fd);
		kill(rec->pid, SIGKILL);
		waitpid(rec->pid, NULL, 0);
		rec->launched = false;
		return r;
	}
	r = launch_release(go_fd, err_fd);
	if (r < 0) {
		waitpid(rec->pid, NULL, 0);
		rec->launched = false;
		rec->launch_failed = true;
	}
	return r;
}

int recorder_start_perf(struct recorder *rec, const struct record_options *opts)
{
	const struct perf_options po = {.hz = opts->hz,
					.stack_bytes = opts->stack_bytes};
	struct addrspace *as;
	int r;

	rec->opts = opts;
	rec->pidfd = -1;
	if (opts->command)
		r = start_command(rec, &po);
	else {
		r = target_resolve(opts->pid, &rec->pid);
		if (r < 0)
			rec->target_refused = true;
		else
			r = perf_open(rec->pid, &po, &rec->perf);
	}
	if (r < 0)
		return r;
	rec->pidfd = open_pidfd(rec->pid);
	rec->period_ns = 1000000000LL / (int64_t)opts->hz;
	rec->profile = profile_new(cpu_types, 2, &cpu_types[1], rec->period_ns);
	if (!rec->profile)
		return -ENOMEM;
	r = pipeline_comment(rec->profile, rec->pid);
	if (r >= 0)
		r = addrspace_open(rec->pid, &as);
	if (r >= 0)
		r = pipeline_init(&rec->pipeline, as, opts->unwinder);
	/* A command over before its address space could be read
	 * (`cprof record -- true`) leaves an empty profile, not an error. */
	if (r < 0 && r != -ENOMEM && target_gone(rec, false)) {
		if (!rec->reaped)
			note_exit(rec);
		rec->target_exited = true;
		return 0;
	}
	return r;
}

static int add_perf_sample(const struct perf_sample *s, void *ctx)
{
	struct recorder *rec = ctx;
	struct label labels[PIPELINE_LABELS + 1];
	size_t depth, nlabels, cut = rec->pipeline.cut_stacks;
	int64_t values[2] = {1, (int64_t)s->period_ns};
	char buf[32];
	int r;

	r = pipeline_stack(&rec->pipeline, &s->raw, &depth);
	if (r < 0)
		return r;
	nlabels = pipeline_labels(&s->raw.info, labels, buf, sizeof(buf));
	/* The walk ran out of the stack the kernel copied: its outer frames
	 * are missing, and the sample says so (perf drops them silently). */
	if (rec->pipeline.cut_stacks > cut && s->copy_full) {
		rec->stats.truncated++;
		labels[nlabels++] =
			(struct label){.key = LABEL_STACK, .str = "truncated"};
	}
	rec->stats.samples++;
	rec->stats.value_ns += s->period_ns;
	return profile_add(rec->profile, rec->pipeline.stack, depth, values,
			   labels, nlabels, 1);
}

static int drain(struct recorder *rec)
{
	bool exec = false;
	int r;

	rec->pipeline.may_refresh = true;
	r = perf_drain(rec->perf, add_perf_sample, rec, &exec);
	/* A new image: the old stacks' modules are gone.  A command that
	 * has already ended has no maps left to read: its samples stay. */
	if (r >= 0 && exec) {
		r = addrspace_refresh(rec->pipeline.as);
		if (r == -ESRCH || r == -ENOENT)
			r = 0;
	}
	return r < 0 ? r : 0;
}

/* Reads the signalfd: 1 when a signal ends the run. */
static int read_signals(struct recorder *rec, int sigfd)
{
	struct signalfd_siginfo info;

	while (read(sigfd, &info, sizeof(info)) == sizeof(info))
		if (info.ssi_signo != SIGCHLD)
			rec->stopped_by_signal = true;
	return rec->stopped_by_signal;
}

/* The target's end: the launched command is reaped for its status. */
static void note_exit(struct recorder *rec)
{
	int status;

	rec->target_exited = true;
	if (rec->launched && waitpid(rec->pid, &status, 0) == rec->pid) {
		rec->exit_status = status;
		rec->reaped = true;
	}
}

static bool target_gone(struct recorder *rec, bool pidfd_ready)
{
	int status;

	if (pidfd_ready)
		return true;
	if (rec->launched)
		return waitpid(rec->pid, &status, WNOHANG) == rec->pid &&
		       (rec->exit_status = status, rec->reaped = true);
	if (rec->pidfd < 0)
		return kill(rec->pid, 0) < 0 && errno == ESRCH;
	return poll(&(struct pollfd){.fd = rec->pidfd, .events = POLLIN}, 1,
		    0) == 1;
}

/* Sleeps until samples wait, a signal comes, the target ends or the
 * deadline; returns 1 when the run must end. */
static int wait_events(struct recorder *rec, int sigfd, int64_t deadline_ns)
{
	struct pollfd pfds[66];
	const int *fds;
	size_t nrings = perf_fds(rec->perf, &fds), n = 0;
	int64_t wait_ns = deadline_ns - monotonic_ns();
	struct timespec timeout;
	bool pidfd_ready = false;

	pfds[n++] = (struct pollfd){.fd = sigfd, .events = POLLIN};
	if (rec->pidfd >= 0)
		pfds[n++] = (struct pollfd){.fd = rec->pidfd, .events = POLLIN};
	for (size_t i = 0; i < nrings && n < 66; i++)
		pfds[n++] = (struct pollfd){.fd = fds[i], .events = POLLIN};
	if (wait_ns > PERF_MAX_SLEEP_NS)
		wait_ns = PERF_MAX_SLEEP_NS;
	if (wait_ns < 0)
		wait_ns = 0;
	timeout = (struct timespec){wait_ns / 1000000000, wait_ns % 1000000000};
	if (ppoll(pfds, n, &timeout, NULL) < 0 && errno != EINTR)
		return -errno;
	if (pfds[0].revents && read_signals(rec, sigfd))
		return 1;
	if (rec->pidfd >= 0)
		pidfd_ready = pfds[1].revents != 0;
	if (target_gone(rec, pidfd_ready)) {
		if (!rec->reaped)
			note_exit(rec);
		rec->target_exited = true;
		return 1;
	}
	return 0;
}

int recorder_run_perf(struct recorder *rec, int sigfd)
{
	int64_t time_nanos = realtime_ns(), end_ns, shown_ns;
	bool tty = stderr_is_tty();
	int r = 0;

	rec->start_ns = monotonic_ns();
	shown_ns = rec->start_ns;
	end_ns = rec->opts->duration_ns ? rec->start_ns + rec->opts->duration_ns
					: INT64_MAX;
	while (r >= 0 && !rec->target_exited) {
		r = wait_events(rec, sigfd, end_ns);
		if (r == 0 && rec->perf)
			r = drain(rec);
		else if (r > 0)
			break;
		if (r == -ESRCH && target_gone(rec, false)) {
			if (!rec->reaped)
				note_exit(rec);
			r = 0;
			break;
		}
		if (monotonic_ns() >= end_ns)
			break;
		recorder_show_progress(rec, tty, monotonic_ns(), &shown_ns);
	}
	if (r >= 0 && rec->perf && rec->pipeline.as)
		r = drain(rec);
	if (tty)
		fputs("\r\033[K", stderr);
	profile_set_time(rec->profile, time_nanos,
			 monotonic_ns() - rec->start_ns);
	return r < 0 ? r : 0;
}

void recorder_stop_perf(struct recorder *rec)
{
	struct perf_stats st = {0};

	if (rec->perf) {
		perf_get_stats(rec->perf, &st);
		rec->stats.lost = st.lost;
		rec->kernel_sampled = st.kernel_sampled;
		/* Readers of the profile alone must know what it lacks. */
		if (!st.kernel_sampled && rec->profile)
			profile_add_comment(rec->profile,
					    "kernel mode not sampled: time in "
					    "system calls is missing");
	}
	perf_close(rec->perf);
	rec->perf = NULL;
	if (rec->pidfd >= 0)
		close(rec->pidfd);
	rec->pidfd = -1;
}
