/* SPDX-License-Identifier: MIT */
#include "collect/collect.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach/procfs.h"
#include "config.h"
#include "symbolize/stacks.h"

/* pid, process, thread_id, thread_name, state, wait, stack=truncated. */
#define MAX_LABELS 7

struct collector;

/* One process of the profile: its own address space and names. */
struct member {
	struct collector *c;
	struct stacks *stacks; /* NULL until the process is known */
	pid_t pid;
	char process[PROC_COMM_MAX]; /* its comm, for the process label */
	char *exe;		     /* its executable's path, or NULL */
	size_t kept;		     /* samples kept */
};

/*
 * Several sessions may feed one collector, each from a thread of its
 * own: every sink call takes the lock, so the profile (and the
 * symbolizer's caches) see one caller at a time, and a profile holds
 * one aggregation whatever the number of processes.
 */
struct collector {
	struct collect_options opts;
	struct profile *profile;
	/* What every member's stacks share; NULL (out of memory) shares
	 * nothing. */
	struct stacks_shared *shared;
	pthread_mutex_t lock;
	struct member **members;
	size_t nmembers;
	bool version_said; /* the "cprof VERSION" comment is in */
	size_t truncated;
};

static int add_member(struct collector *c, struct member **ret_m);

static const struct value_type threads_types[] = {{"threads", "count"}};
static const struct value_type cpu_types[] = {{"samples", "count"},
					      {"cpu", "nanoseconds"}};
static const struct value_type wall_types[] = {{"samples", "count"},
					       {"wall", "nanoseconds"}};

int collector_new(const struct collect_options *opts,
		  struct collector **ret_collector)
{
	struct collector *c = calloc(1, sizeof(*c));
	struct member *first;
	int64_t period = opts->hz ? 1000000000LL / (int64_t)opts->hz : 0;

	if (!c)
		return -ENOMEM;
	c->opts = *opts;
	pthread_mutex_init(&c->lock, NULL);
	c->shared = stacks_shared_new();
	if (opts->kind == COLLECT_THREADS)
		c->profile = profile_new(threads_types, 1, NULL, 0);
	else {
		const struct value_type *types =
			opts->kind == COLLECT_CPU ? cpu_types : wall_types;

		c->profile = profile_new(types, 2, &types[1], period);
	}
	/* The first process's member, for collector_sink(). */
	if (!c->profile || add_member(c, &first) < 0) {
		collector_free(c);
		return -ENOMEM;
	}
	*ret_collector = c;
	return 0;
}

void collector_free(struct collector *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nmembers; i++) {
		stacks_free(c->members[i]->stacks);
		free(c->members[i]->exe);
		free(c->members[i]);
	}
	free(c->members);
	pthread_mutex_destroy(&c->lock);
	profile_free(c->profile);
	/* The profile's locations point into it. */
	stacks_shared_free(c->shared);
	free(c);
}

/* "cprof VERSION" and each target's executable: never its command line
 * or environment, which may hold secrets.  With several processes each
 * executable names its pid. */
static int add_comments(struct member *m, pid_t pid)
{
	struct collector *c = m->c;
	char link[64], exe[PATH_MAX], comment[PATH_MAX + 48];
	ssize_t len;
	int r;

	if (!c->version_said) {
		snprintf(comment, sizeof(comment), "cprof %s", CPROF_VERSION);
		r = profile_add_comment(c->profile, comment);
		if (r < 0)
			return r;
		c->version_said = true;
	}
	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	len = readlink(link, exe, sizeof(exe) - 1);
	if (len <= 0)
		return 0;
	exe[len] = '\0';
	free(m->exe);
	m->exe = strdup(exe);
	if (c->opts.label_process)
		snprintf(comment, sizeof(comment), "executable: %s (pid %d)",
			 exe, (int)pid);
	else
		snprintf(comment, sizeof(comment), "executable: %s", exe);
	return profile_add_comment(c->profile, comment);
}

/* The process label: its comm, as ps and pgrep show it. */
static void read_process_name(struct member *m, pid_t proc_tid)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)proc_tid);
	n = procfs_read_file(AT_FDCWD, path, m->process,
			     sizeof(m->process) - 1);
	if (n <= 0)
		n = 0;
	m->process[n] = '\0';
	m->process[strcspn(m->process, "\n")] = '\0';
}

static int begin_locked(struct member *m, pid_t proc_tid)
{
	struct collector *c = m->c;
	int r = add_comments(m, proc_tid);

	if (r < 0)
		return r;
	m->pid = proc_tid;
	read_process_name(m, proc_tid);
	return stacks_new(proc_tid, c->opts.unwinder,
			  c->opts.kind == COLLECT_WALL, c->shared, &m->stacks);
}

static int begin(void *ctx, pid_t proc_tid)
{
	struct member *m = ctx;
	int r;

	pthread_mutex_lock(&m->c->lock);
	r = begin_locked(m, proc_tid);
	pthread_mutex_unlock(&m->c->lock);
	/* A recording's samples come faster than debug files load: they are
	 * loaded now, before sampling begins, each process's by its own
	 * session.  A snapshot loads only what its stacks need. */
	if (r >= 0 && m->c->opts.kind != COLLECT_THREADS)
		stacks_preload(m->stacks);
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
static size_t make_labels(const struct member *m, const struct raw_sample *s,
			  bool truncated, struct label *labels, char *buf,
			  size_t size)
{
	const struct thread_info *info = &s->info;
	const char *wait = wait_name(info, buf, size);
	size_t n = 0;

	if (m->c->opts.label_process) {
		labels[n++] = (struct label){.key = LABEL_PID, .num = m->pid};
		labels[n++] =
			(struct label){.key = LABEL_PROCESS, .str = m->process};
	}
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

static int add_sample_locked(struct member *m, const struct raw_sample *s)
{
	struct collector *c = m->c;
	const struct sym_location *const *stack;
	struct label labels[MAX_LABELS];
	int64_t values[2] = {1, s->weight_ns};
	size_t depth, nlabels;
	bool cut;
	char buf[32];
	int r;

	if (!m->stacks)
		return 0;
	r = stacks_of(m->stacks, s, &stack, &depth, &cut);
	if (r <= 0)
		return r;
	if (cut && s->copy_full)
		c->truncated++;
	nlabels = make_labels(m, s, cut && s->copy_full, labels, buf,
			      sizeof(buf));
	r = profile_add(c->profile, stack, depth, values, labels, nlabels,
			c->opts.merge);
	if (r < 0)
		return r;
	m->kept++;
	return 1;
}

static int add_sample(void *ctx, const struct raw_sample *s)
{
	struct member *m = ctx;
	int r;

	pthread_mutex_lock(&m->c->lock);
	r = add_sample_locked(m, s);
	pthread_mutex_unlock(&m->c->lock);
	return r;
}

static int on_exec(void *ctx)
{
	struct member *m = ctx;
	int r = 0;

	pthread_mutex_lock(&m->c->lock);
	if (m->stacks) {
		r = stacks_exec(m->stacks);
		read_process_name(m, m->pid);
	}
	pthread_mutex_unlock(&m->c->lock);
	return r;
}

static bool needs_stop(void *ctx, const struct raw_sample *s)
{
	struct member *m = ctx;
	bool r;

	pthread_mutex_lock(&m->c->lock);
	r = m->stacks && stacks_walk_falls_short(m->stacks, s);
	pthread_mutex_unlock(&m->c->lock);
	return r;
}

static bool walk_now(void *ctx, const struct raw_sample *s)
{
	struct member *m = ctx;
	bool r;

	pthread_mutex_lock(&m->c->lock);
	r = m->stacks && stacks_walk_keep(m->stacks, s);
	pthread_mutex_unlock(&m->c->lock);
	return r;
}

static int next_batch(void *ctx)
{
	struct member *m = ctx;

	pthread_mutex_lock(&m->c->lock);
	if (m->stacks)
		stacks_next_batch(m->stacks);
	pthread_mutex_unlock(&m->c->lock);
	return 0;
}

static int add_member(struct collector *c, struct member **ret_m)
{
	struct member *m = calloc(1, sizeof(*m));
	struct member **grown;
	int r = 0;

	if (!m)
		return -ENOMEM;
	m->c = c;
	pthread_mutex_lock(&c->lock);
	grown = realloc(c->members, (c->nmembers + 1) * sizeof(*grown));
	if (grown) {
		c->members = grown;
		c->members[c->nmembers++] = m;
	} else {
		free(m);
		r = -ENOMEM;
	}
	pthread_mutex_unlock(&c->lock);
	*ret_m = r < 0 ? NULL : m;
	return r;
}

static void member_sink(struct member *m, struct sample_sink *ret_sink)
{
	*ret_sink = (struct sample_sink){
		.ctx = m,
		.begin = begin,
		.batch = next_batch,
		.sample = add_sample,
		.exec = on_exec,
		.needs_stop = needs_stop,
		.walk = walk_now,
	};
}

void collector_sink(struct collector *c, struct sample_sink *ret_sink)
{
	member_sink(c->members[0], ret_sink);
}

int collector_process_sink(struct collector *c, struct sample_sink *ret_sink)
{
	struct member *m;
	int r = add_member(c, &m);

	if (r >= 0)
		member_sink(m, ret_sink);
	return r;
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

int collector_processes(const struct collector *c, struct profile_process **ret,
			size_t *ret_n)
{
	struct profile_process *procs = calloc(c->nmembers + 1, sizeof(*procs));
	size_t n = 0;

	if (!procs)
		return -ENOMEM;
	for (size_t i = 0; i < c->nmembers; i++) {
		const struct member *m = c->members[i];

		if (!m->pid)
			continue;
		procs[n++] = (struct profile_process){.pid = m->pid,
						      .name = m->process,
						      .exe = m->exe,
						      .threads = m->kept};
	}
	*ret = procs;
	*ret_n = n;
	return 0;
}

const struct profile *collector_profile(const struct collector *c)
{
	return c->profile;
}

void collector_get_stats(const struct collector *c, struct collect_stats *ret)
{
	struct stacks_shared_stats shared;

	stacks_shared_get_stats(c->shared, &shared);
	*ret = (struct collect_stats){.truncated = c->truncated,
				      .objects = shared.objects,
				      .objects_reused = shared.reused};
	for (size_t i = 0; i < c->nmembers; i++) {
		struct stacks_stats st = {0};

		if (c->members[i]->stacks)
			stacks_get_stats(c->members[i]->stacks, &st);
		ret->cut += st.cut;
		ret->reused += st.reused;
	}
}
