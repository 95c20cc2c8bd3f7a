/* SPDX-License-Identifier: MIT */
/*
 * The perf_event sampler in a session (perf.h has the events): no thread
 * is traced or stopped.  The kernel writes samples into ring buffers; the
 * session sleeps until a buffer is half full, a signal ends the run, the
 * target exits or the time is up, and hands over whatever the buffers
 * hold.  Each sample weighs its period: the task-clock nanoseconds its
 * thread ran since the previous one.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attach/perf.h"
#include "attach/sampler.h"

/* The longest sleep between drains: progress lines, and a target that
 * exits without a pidfd to say so. */
#define PERF_MAX_SLEEP_NS 200000000LL

struct perf_state {
	struct perf_sampler *perf;
	pid_t pid;
	int pidfd;     /* readable once the target exits; -1 without */
	bool launched; /* the command is cprof's child */
	bool begun;    /* the sink has the target's address space */
};

static int open_pidfd(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -1 : fd;
}

/* Launch mode: the command waits before its exec while its events are
 * opened, enabled by the exec itself. */
static int launch(struct session *s, struct perf_state *ps,
		  const struct perf_options *po)
{
	struct perf_options opts = *po;
	int go_fd, err_fd, r;

	opts.enable_on_exec = true;
	r = launch_spawn(s->opts->command, &ps->pid, &go_fd, &err_fd);
	if (r < 0) {
		s->res->failure = SESSION_FAIL_LAUNCH;
		return r;
	}
	r = perf_open(ps->pid, &opts, &ps->perf);
	if (r < 0) {
		/* Nothing ran yet: the command is dropped, unexec'd. */
		close(go_fd);
		close(err_fd);
		kill(ps->pid, SIGKILL);
		waitpid(ps->pid, NULL, 0);
		return r;
	}
	ps->launched = true;
	r = launch_release(go_fd, err_fd);
	if (r < 0) {
		waitpid(ps->pid, NULL, 0);
		ps->launched = false;
		s->res->failure = SESSION_FAIL_LAUNCH;
	}
	return r;
}

/* The target's end: a launched command is reaped for its status. */
static void note_exit(struct session *s, struct perf_state *ps)
{
	struct session_result *res = s->res;
	int status;

	res->target_exited = true;
	if (ps->launched && !res->exit_known &&
	    waitpid(ps->pid, &status, 0) == ps->pid) {
		res->exit_status = status;
		res->exit_known = true;
	}
}

static bool target_gone(struct session *s, struct perf_state *ps,
			bool pidfd_ready)
{
	struct session_result *res = s->res;
	int status;

	if (pidfd_ready)
		return true;
	if (ps->launched) {
		if (res->exit_known)
			return true;
		if (waitpid(ps->pid, &status, WNOHANG) != ps->pid)
			return false;
		res->exit_status = status;
		res->exit_known = true;
		return true;
	}
	if (ps->pidfd < 0)
		return kill(ps->pid, 0) < 0 && errno == ESRCH;
	return poll(&(struct pollfd){.fd = ps->pidfd, .events = POLLIN}, 1,
		    0) == 1;
}

/* 1 where auto may fall back to ptrace (nothing of the target was
 * touched); the error otherwise, with res->failure set. */
static int refused(struct session *s, int err)
{
	struct session_result *res = s->res;

	if (res->failure != SESSION_OK)
		return err;
	if (err != -ESRCH && s->opts->sampler == SAMPLER_AUTO) {
		snprintf(res->why, sizeof(res->why),
			 "perf_event_open refused: %s", strerror(-err));
		return 1;
	}
	if (err == -EMFILE)
		res->failure = SESSION_FAIL_PERF_FILES;
	else if (err != -ESRCH && err != -ENOMEM)
		res->failure = SESSION_FAIL_PERF_DENIED;
	else if (err == -ESRCH && !s->opts->command)
		res->failure = SESSION_FAIL_TARGET;
	else
		res->failure = SESSION_FAIL_CAPTURE;
	return err;
}

static int open_events(struct session *s, struct perf_state *ps)
{
	/* Attached, the events start once the sink has read the target
	 * (perf_start). */
	const struct perf_options po = {.hz = s->opts->hz,
					.stack_bytes = s->opts->stack_bytes,
					.start_disabled = true};
	int r;

	if (s->opts->command)
		return launch(s, ps, &po);
	r = target_resolve(s->opts->pid, &ps->pid);
	if (r < 0) {
		s->res->failure = SESSION_FAIL_TARGET;
		return r;
	}
	return perf_open(ps->pid, &po, &ps->perf);
}

static int perf_start(struct session *s)
{
	struct perf_state *ps = calloc(1, sizeof(*ps));
	int r;

	if (!ps)
		return -ENOMEM;
	s->state = ps;
	ps->pidfd = -1;
	r = open_events(s, ps);
	if (r < 0)
		return refused(s, r);
	s->res->pid = ps->pid;
	ps->pidfd = open_pidfd(ps->pid);
	/* The sink loads the target's objects here, which can take most of
	 * a second the first time (an inflated debug file): sampling starts
	 * after, or the first samples would fill the buffers meanwhile. */
	r = s->sink->begin(s->sink->ctx, ps->pid);
	ps->begun = r >= 0;
	if (ps->begun && !s->opts->command)
		perf_enable(ps->perf);
	/* A command over before its address space could be read
	 * (`cprof record -- true`) leaves an empty profile, not an error. */
	if (r < 0 && r != -ENOMEM && target_gone(s, ps, false)) {
		note_exit(s, ps);
		return 0;
	}
	if (r < 0)
		s->res->failure = SESSION_FAIL_BEGIN;
	return r;
}

static int hand_over(const struct raw_sample *sample, void *ctx)
{
	struct session *s = ctx;
	int r = s->sink->sample(s->sink->ctx, sample);

	if (r > 0) {
		s->res->stats.samples++;
		s->res->stats.value_ns += (uint64_t)sample->weight_ns;
	}
	return r < 0 ? r : 0;
}

static int drain(struct session *s, struct perf_state *ps)
{
	struct perf_stats st;
	bool exec = false;
	int r = s->sink->batch(s->sink->ctx);

	if (r >= 0)
		r = perf_drain(ps->perf, hand_over, s, &exec);
	/* Kept current for the progress calls (cprof top shows it). */
	perf_get_stats(ps->perf, &st);
	s->res->stats.lost = st.lost;
	/* A new image: the old stacks' modules are gone. */
	if (r >= 0 && exec)
		r = s->sink->exec(s->sink->ctx);
	return r < 0 ? r : 0;
}

static int perf_step(struct session *s, int64_t now_ns)
{
	struct perf_state *ps = s->state;
	int r = drain(s, ps);

	s->next_ns = now_ns + PERF_MAX_SLEEP_NS;
	if (r == -ESRCH && target_gone(s, ps, false)) {
		note_exit(s, ps);
		r = 0;
	}
	return r;
}

static size_t wait_fds(struct session *s, struct pollfd *pfds, size_t max)
{
	struct perf_state *ps = s->state;
	const int *fds;
	size_t nrings = perf_fds(ps->perf, &fds), n = 0;

	if (ps->pidfd >= 0 && n < max)
		pfds[n++] = (struct pollfd){.fd = ps->pidfd, .events = POLLIN};
	for (size_t i = 0; i < nrings && n < max; i++)
		pfds[n++] = (struct pollfd){.fd = fds[i], .events = POLLIN};
	return n;
}

static void perf_woke(struct session *s, const struct pollfd *pfds, size_t n)
{
	struct perf_state *ps = s->state;
	bool pidfd_ready = ps->pidfd >= 0 && n > 0 && pfds[0].revents;

	if (target_gone(s, ps, pidfd_ready)) {
		note_exit(s, ps);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (pfds[i].revents)
			s->next_ns = 0; /* samples wait: drain now */
}

/* The samples still in the buffers, then the figures. */
static int perf_finish(struct session *s, int r)
{
	struct perf_state *ps = s->state;
	struct perf_stats st = {0};

	if (!ps || !ps->perf)
		return r;
	if (r >= 0 && ps->begun)
		r = drain(s, ps);
	perf_get_stats(ps->perf, &st);
	s->res->stats.lost = st.lost;
	s->res->stats.kernel_sampled = st.kernel_sampled;
	return r;
}

static void perf_stop(struct session *s)
{
	struct perf_state *ps = s->state;

	if (!ps)
		return;
	perf_close(ps->perf);
	if (ps->pidfd >= 0)
		close(ps->pidfd);
	free(ps);
	s->state = NULL;
}

const struct sampler_ops perf_sampler_ops = {
	.name = "perf",
	.own_thread = false,
	.start = perf_start,
	.step = perf_step,
	.fds = wait_fds,
	.woke = perf_woke,
	.finish = perf_finish,
	.stop = perf_stop,
};
