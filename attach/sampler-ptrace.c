/* SPDX-License-Identifier: MIT */
/*
 * The ptrace sampler: the threads stay seized for the whole run.  At each
 * tick /proc is read for every thread and only those the mode needs are
 * stopped (cpu: the ones running; wall: the ones that ran since their
 * last capture), copied and resumed at once.
 *
 * CPU mode weighs each sample by the CPU time its thread used since its
 * previous sample (schedstat), so a thread's total is its real CPU time
 * and its stacks share it in proportion to how often they were seen
 * running.  Wall mode weighs every thread at every tick by the period
 * (the periods of ticks missed just before it included).
 */
#include <errno.h>
#include <stdlib.h>

#include "attach/attach.h"
#include "attach/sampler.h"

/* A thread's CPU time when its last sample was weighed. */
struct cpu_memo {
	pid_t tid;
	uint64_t cpu_ns;
};

struct ptrace_state {
	struct target *target;
	int64_t period_ns;
	unsigned exec_count;
	struct cpu_memo *memos; /* sorted by tid */
	size_t nmemos;
	int64_t missed_before; /* ticks missed just before this one */
};

static int start_target(struct session *s, struct ptrace_state *ps)
{
	const struct session_options *opts = s->opts;
	int r;

	/* A launched command is forked from this thread: it must inherit
	 * cprof's own scheduling, never the real-time policy below. */
	if (opts->command)
		r = target_launch(opts->command, NULL, &ps->target);
	else
		r = target_attach(opts->pid, NULL, &ps->target);
	if (r < 0) {
		s->res->failure = opts->command ? SESSION_FAIL_LAUNCH
						: SESSION_FAIL_TARGET;
		return r;
	}
	session_prefer_realtime();
	s->res->pid = target_pid(ps->target);
	ps->exec_count = target_exec_count(ps->target);
	return 0;
}

static int ptrace_start(struct session *s)
{
	struct ptrace_state *ps = calloc(1, sizeof(*ps));
	int r;

	if (!ps)
		return -ENOMEM;
	s->state = ps;
	ps->period_ns = 1000000000LL / (int64_t)s->opts->hz;
	r = start_target(s, ps);
	if (r < 0)
		return r;
	r = s->sink->begin(s->sink->ctx, target_proc_tid(ps->target));
	/* A command that is over before its address space could be read
	 * (`cprof record -- true`) leaves an empty profile, not an error. */
	if (r < 0 && r != -ENOMEM && target_poll(ps->target) == -ESRCH) {
		s->res->target_exited = true;
		return 0;
	}
	if (r < 0)
		s->res->failure = SESSION_FAIL_BEGIN;
	return r;
}

/*
 * Lines the memos up with the sample set (both sorted by tid): memos of
 * exited threads go, new threads get one.  A thread alive at the first
 * tick starts from its CPU time then, so time used before the run is not
 * counted; a thread born later starts from zero.
 */
static int memos_sync(struct ptrace_state *ps, const struct sample_set *set,
		      bool first)
{
	struct cpu_memo *next = calloc(set->n ? set->n : 1, sizeof(*next));
	size_t old = 0;

	if (!next)
		return -ENOMEM;
	for (size_t i = 0; i < set->n; i++) {
		const struct thread_info *info = &set->samples[i].info;

		while (old < ps->nmemos && ps->memos[old].tid < info->tid)
			old++;
		if (old < ps->nmemos && ps->memos[old].tid == info->tid) {
			next[i] = ps->memos[old++];
			continue;
		}
		next[i].tid = info->tid;
		if (first)
			next[i].cpu_ns = info->sched.cpu_ns;
	}
	free(ps->memos);
	ps->memos = next;
	ps->nmemos = set->n;
	return 0;
}

/* CPU mode: the CPU time the thread used since its last weighed sample,
 * so time used between ticks goes to the next sample that sees the thread
 * running.  A displaced thread (it waited for a CPU when the tick came) weighs
 * nothing: its PC is where it was preempted, and its time goes to its
 * next sample taken while it runs. */
static int64_t weigh(struct session *s, struct ptrace_state *ps,
		     const struct raw_sample *sample, struct cpu_memo *memo)
{
	uint64_t cpu_ns = sample->info.sched.cpu_ns, used = 0;

	/* A tick missed (cprof got no CPU in time) is carried by the next,
	 * so each thread's wall time stays the recording's, however busy
	 * the machine: several processes' sessions then still weigh
	 * alike. */
	if (s->opts->mode == SESSION_WALL)
		return ps->period_ns * (1 + ps->missed_before);
	if (!sample->captured || sample->displaced || sample->blocked_at_stop)
		return 0;
	if (cpu_ns > memo->cpu_ns)
		used = cpu_ns - memo->cpu_ns;
	memo->cpu_ns = cpu_ns;
	return (int64_t)used;
}

/* A target held in a group-stop (SIGSTOP, a debugger) at this tick. */
static bool all_stopped(const struct sample_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->samples[i].info.state != 'T' &&
		    set->samples[i].info.state != 't')
			return false;
	return set->n > 0;
}

/* After an exec the old image's stacks mean nothing. */
static int follow_exec(struct session *s, struct ptrace_state *ps)
{
	unsigned count = target_exec_count(ps->target);

	if (count == ps->exec_count)
		return 0;
	ps->exec_count = count;
	return s->sink->exec(s->sink->ctx);
}

static int hand_over(struct session *s, struct ptrace_state *ps,
		     struct sample_set *set)
{
	struct session_stats *st = &s->res->stats;
	int r = 0;

	for (size_t i = 0; i < set->n && r >= 0; i++) {
		struct raw_sample *sample = &set->samples[i];

		if (sample->captured) {
			st->stopped++;
			session_count_pause(st, sample->pause_ns);
		}
		st->displaced += sample->displaced;
		st->blocked_at_stop += sample->blocked_at_stop;
		sample->weight_ns = weigh(s, ps, sample, &ps->memos[i]);
		r = s->sink->sample(s->sink->ctx, sample);
		if (r > 0) {
			st->samples++;
			st->value_ns += (uint64_t)sample->weight_ns;
		}
	}
	return r;
}

static int tick(struct session *s, struct ptrace_state *ps)
{
	enum capture_policy policy = s->opts->mode == SESSION_CPU
					     ? CAPTURE_RUNNING
					     : CAPTURE_CHANGED;
	struct session_stats *st = &s->res->stats;
	struct sample_set set = {0};
	int r;

	r = target_sample(ps->target, policy, &set);
	if (r >= 0 && all_stopped(&set))
		st->stopped_ticks++;
	if (r >= 0)
		r = follow_exec(s, ps);
	if (r >= 0)
		r = memos_sync(ps, &set, st->ticks == 0);
	if (r >= 0)
		r = s->sink->batch(s->sink->ctx);
	if (r >= 0)
		r = hand_over(s, ps, &set);
	st->ticks++;
	sample_set_release(&set);
	return r;
}

/* Runs the tick that is due; counts the ticks that came too late. */
static int ptrace_step(struct session *s, int64_t now_ns)
{
	struct ptrace_state *ps = s->state;
	int64_t late;
	int r = tick(s, ps);

	if (r == -ESRCH) {
		s->res->target_exited = true;
		r = 0;
	}
	s->next_ns += ps->period_ns;
	late = session_monotonic_ns() - s->next_ns;
	ps->missed_before = 0;
	if (late >= 0) {
		int64_t missed = late / ps->period_ns + 1;

		s->res->stats.missed_ticks += (uint64_t)missed;
		s->next_ns += missed * ps->period_ns;
		ps->missed_before = missed;
	}
	return r;
}

static size_t ptrace_fds(struct session *s, struct pollfd *pfds, size_t max)
{
	return 0;
}

static void ptrace_reports(struct session *s)
{
	struct ptrace_state *ps = s->state;

	if (target_poll(ps->target) == -ESRCH)
		s->res->target_exited = true;
}

static int ptrace_finish(struct session *s, int r)
{
	struct ptrace_state *ps = s->state;
	struct session_result *res = s->res;

	if (ps && ps->target && res->target_exited)
		res->exit_known =
			target_exit_status(ps->target, &res->exit_status) >= 0;
	return r;
}

/* The sampling thread is gone: the kernel let every tracee go with it. */
static void ptrace_stop(struct session *s)
{
	struct ptrace_state *ps = s->state;

	if (!ps)
		return;
	target_abandon(ps->target);
	free(ps->memos);
	free(ps);
	s->state = NULL;
}

const struct sampler_ops ptrace_sampler_ops = {
	.name = "ptrace",
	.own_thread = true,
	.start = ptrace_start,
	.step = ptrace_step,
	.fds = ptrace_fds,
	.reports = ptrace_reports,
	.finish = ptrace_finish,
	.stop = ptrace_stop,
};
