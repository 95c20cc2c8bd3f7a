/* SPDX-License-Identifier: MIT */
#include "collect/collect.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "attach/procfs.h"
#include "config.h"
#include "symbolize/stacks.h"

/* thread_id, thread_name, state, wait and stack=truncated. */
#define MAX_LABELS 5

struct collector {
	struct collect_options opts;
	struct profile *profile;
	struct stacks *stacks; /* NULL until the target is known */
	size_t truncated;
};

static const struct value_type threads_types[] = {{"threads", "count"}};
static const struct value_type cpu_types[] = {{"samples", "count"},
					      {"cpu", "nanoseconds"}};
static const struct value_type wall_types[] = {{"samples", "count"},
					       {"wall", "nanoseconds"}};

int collector_new(const struct collect_options *opts,
		  struct collector **ret_collector)
{
	struct collector *c = calloc(1, sizeof(*c));
	int64_t period = opts->hz ? 1000000000LL / (int64_t)opts->hz : 0;

	if (!c)
		return -ENOMEM;
	c->opts = *opts;
	if (opts->kind == COLLECT_THREADS)
		c->profile = profile_new(threads_types, 1, NULL, 0);
	else {
		const struct value_type *types =
			opts->kind == COLLECT_CPU ? cpu_types : wall_types;

		c->profile = profile_new(types, 2, &types[1], period);
	}
	if (!c->profile) {
		free(c);
		return -ENOMEM;
	}
	*ret_collector = c;
	return 0;
}

void collector_free(struct collector *c)
{
	if (!c)
		return;
	stacks_free(c->stacks);
	profile_free(c->profile);
	free(c);
}

/* "cprof VERSION" and the target's executable: never its command line or
 * environment, which may hold secrets. */
static int add_comments(struct profile *profile, pid_t pid)
{
	char link[64], exe[PATH_MAX], comment[PATH_MAX + 32];
	ssize_t len;
	int r;

	snprintf(comment, sizeof(comment), "cprof %s", CPROF_VERSION);
	r = profile_add_comment(profile, comment);
	if (r < 0)
		return r;
	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	len = readlink(link, exe, sizeof(exe) - 1);
	if (len <= 0)
		return 0;
	exe[len] = '\0';
	snprintf(comment, sizeof(comment), "executable: %s", exe);
	return profile_add_comment(profile, comment);
}

static int begin(void *ctx, pid_t proc_tid)
{
	struct collector *c = ctx;
	int r = add_comments(c->profile, proc_tid);

	if (r < 0)
		return r;
	r = stacks_new(proc_tid, c->opts.unwinder, c->opts.kind == COLLECT_WALL,
		       &c->stacks);
	/* A recording's samples come faster than debug files load: they are
	 * loaded now, before sampling begins.  A snapshot loads only what
	 * its stacks need. */
	if (r >= 0 && c->opts.kind != COLLECT_THREADS)
		stacks_preload(c->stacks);
	return r;
}

static const char *wait_name(const struct thread_info *info, char *buf,
			     size_t size)
{
	const char *name;

	if (info->syscall.running || info->syscall.nr < 0)
		return NULL;
	name = procfs_syscall_name(info->syscall.nr);
	if (name)
		return name;
	snprintf(buf, size, "syscall_%ld", info->syscall.nr);
	return buf;
}

/*
 * A displaced thread (it waited for a CPU when the tick came) is labelled
 * "runnable": its PC is where it was preempted, not where it ran, so
 * -tagfocus=state=running stays true.  Its sampler gave it no CPU time.
 */
static size_t make_labels(const struct raw_sample *s, bool truncated,
			  struct label *labels, char *buf, size_t size)
{
	const struct thread_info *info = &s->info;
	const char *wait = wait_name(info, buf, size);
	size_t n = 0;

	labels[n++] = (struct label){.key = LABEL_THREAD_ID, .num = info->tid};
	labels[n++] =
		(struct label){.key = LABEL_THREAD_NAME, .str = info->name};
	labels[n++] = (struct label){
		.key = LABEL_STATE,
		.str = s->displaced ? "runnable"
				    : procfs_state_name(info->state)};
	if (wait)
		labels[n++] = (struct label){.key = LABEL_WAIT, .str = wait};
	/* The walk ran out of the stack the kernel copied: its outer frames
	 * are missing, and the sample says so (perf drops them silently). */
	if (truncated)
		labels[n++] =
			(struct label){.key = LABEL_STACK, .str = "truncated"};
	return n;
}

static int add_sample(void *ctx, const struct raw_sample *s)
{
	struct collector *c = ctx;
	const struct sym_location *const *stack;
	struct label labels[MAX_LABELS];
	int64_t values[2] = {1, s->weight_ns};
	size_t depth, nlabels;
	bool cut;
	char buf[32];
	int r;

	if (!c->stacks)
		return 0;
	r = stacks_of(c->stacks, s, &stack, &depth, &cut);
	if (r <= 0)
		return r;
	if (cut && s->copy_full)
		c->truncated++;
	nlabels = make_labels(s, cut && s->copy_full, labels, buf, sizeof(buf));
	r = profile_add(c->profile, stack, depth, values, labels, nlabels,
			c->opts.merge);
	return r < 0 ? r : 1;
}

static int on_exec(void *ctx)
{
	struct collector *c = ctx;

	return c->stacks ? stacks_exec(c->stacks) : 0;
}

static bool needs_stop(void *ctx, const struct raw_sample *s)
{
	struct collector *c = ctx;

	return c->stacks && stacks_walk_falls_short(c->stacks, s);
}

static int next_batch(void *ctx)
{
	struct collector *c = ctx;

	if (c->stacks)
		stacks_next_batch(c->stacks);
	return 0;
}

void collector_sink(struct collector *c, struct sample_sink *ret_sink)
{
	*ret_sink = (struct sample_sink){
		.ctx = c,
		.begin = begin,
		.batch = next_batch,
		.sample = add_sample,
		.exec = on_exec,
		.needs_stop = needs_stop,
	};
}

int collector_finish(struct collector *c, const struct session_result *res)
{
	profile_set_time(c->profile, res->start_realtime_ns, res->duration_ns);
	/* Readers of the profile alone must know what it lacks. */
	if (res->sampler == SAMPLER_PERF && !res->stats.kernel_sampled)
		return profile_add_comment(c->profile,
					   "kernel mode not sampled: time in "
					   "system calls is missing");
	return 0;
}

const struct profile *collector_profile(const struct collector *c)
{
	return c->profile;
}

void collector_get_stats(const struct collector *c, struct collect_stats *ret)
{
	struct stacks_stats st = {0};

	if (c->stacks)
		stacks_get_stats(c->stacks, &st);
	*ret = (struct collect_stats){
		.cut = st.cut, .reused = st.reused, .truncated = c->truncated};
}
