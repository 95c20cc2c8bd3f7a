/* SPDX-License-Identifier: MIT */
/*
 * The sampling loop of cprof record.  Each tick: target_sample() reads
 * /proc for every thread and stops only those the mode needs; once they
 * run again their stacks are unwound and added to the profile.
 *
 * CPU mode weighs each sample by the CPU time its thread used since its
 * previous sample (schedstat), so a thread's total is its real CPU time
 * and the stacks share it in proportion to how often they were seen
 * running.  Wall mode counts every thread at every tick, reusing the last
 * stack of a thread that has not run since, so a sleeping thread is not
 * stopped again.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cmd/record.h"
#include "cmd/util.h"

static const struct value_type cpu_types[] = {{"samples", "count"},
					      {"cpu", "nanoseconds"}};
static const struct value_type wall_types[] = {{"samples", "count"},
					       {"wall", "nanoseconds"}};

int recorder_init(struct recorder *rec, const struct record_options *opts)
{
	const struct value_type *types =
		opts->mode == MODE_CPU ? cpu_types : wall_types;
	struct addrspace *as;
	int r;

	rec->opts = opts;
	rec->pid = target_pid(rec->target);
	rec->period_ns = 1000000000LL / (int64_t)opts->hz;
	rec->exec_count = target_exec_count(rec->target);
	rec->profile = profile_new(types, 2, &types[1], rec->period_ns);
	if (!rec->profile)
		return -ENOMEM;
	r = pipeline_comment(rec->profile, target_proc_tid(rec->target));
	if (r >= 0)
		r = addrspace_open(target_proc_tid(rec->target), &as);
	if (r >= 0)
		r = pipeline_init(&rec->pipeline, as, opts->unwinder);
	/* A command that is over before its address space could be read
	 * (`cprof record -- true`) leaves an empty profile, not an error. */
	if (r < 0 && r != -ENOMEM && target_poll(rec->target) == -ESRCH) {
		rec->target_exited = true;
		return 0;
	}
	return r;
}

static void memo_release(struct thread_memo *memo)
{
	free(memo->stack);
	memo->stack = NULL;
	memo->depth = 0;
}

/*
 * Lines the memos up with the sample set (both sorted by tid): memos of
 * exited threads go, new threads get one.  A thread alive at the first
 * tick starts from its CPU time then, so time used before the run is not
 * counted; a thread born later starts from zero.
 */
static int memos_sync(struct recorder *rec, const struct sample_set *set)
{
	struct thread_memo *next;
	size_t old = 0;

	next = calloc(set->n ? set->n : 1, sizeof(*next));
	if (!next)
		return -ENOMEM;
	for (size_t i = 0; i < set->n; i++) {
		const struct thread_info *info = &set->samples[i].info;

		while (old < rec->nmemos && rec->memos[old].tid < info->tid)
			memo_release(&rec->memos[old++]);
		if (old < rec->nmemos && rec->memos[old].tid == info->tid) {
			next[i] = rec->memos[old++];
			continue;
		}
		next[i].tid = info->tid;
		if (rec->stats.ticks == 0)
			next[i].cpu_ns = info->sched.cpu_ns;
	}
	while (old < rec->nmemos)
		memo_release(&rec->memos[old++]);
	free(rec->memos);
	rec->memos = next;
	rec->nmemos = set->n;
	return 0;
}

static int memo_keep_stack(struct thread_memo *memo,
			   const struct sym_location *const *stack,
			   size_t depth)
{
	const struct sym_location **copy = NULL;

	if (depth) {
		copy = malloc(depth * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, stack, depth * sizeof(*copy));
	}
	free(memo->stack);
	memo->stack = copy;
	memo->depth = depth;
	return 0;
}

/* The stack of a sample, and in wall mode the one it may reuse. */
static int sample_stack(struct recorder *rec, const struct raw_sample *s,
			struct thread_memo *memo,
			const struct sym_location *const **ret_stack,
			size_t *ret_depth)
{
	size_t depth;
	int r;

	if (s->unchanged && memo->stack) {
		rec->stats.reused++;
		*ret_stack = memo->stack;
		*ret_depth = memo->depth;
		return 1;
	}
	if (!s->captured)
		return 0;
	r = pipeline_stack(&rec->pipeline, s, &depth);
	if (r >= 0 && rec->opts->mode == MODE_WALL)
		r = memo_keep_stack(memo, rec->pipeline.stack, depth);
	if (r < 0)
		return r;
	*ret_stack = rec->pipeline.stack;
	*ret_depth = depth;
	return 1;
}

static uint64_t sample_weight(struct recorder *rec, const struct raw_sample *s,
			      struct thread_memo *memo)
{
	uint64_t cpu_ns = s->info.sched.cpu_ns, used = 0;

	if (rec->opts->mode == MODE_WALL)
		return (uint64_t)rec->period_ns;
	if (cpu_ns > memo->cpu_ns)
		used = cpu_ns - memo->cpu_ns;
	memo->cpu_ns = cpu_ns;
	return used;
}

static void set_label(struct label *labels, size_t n, const char *key,
		      const char *value)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(labels[i].key, key) == 0)
			labels[i].str = value;
}

/*
 * A displaced thread (it waited for a CPU when the tick came) is counted
 * with state "runnable" and no CPU time: its PC is where it was
 * preempted, and its CPU time goes to its next sample taken while it runs,
 * so -tagfocus=state=running and the cpu values stay true.
 */
static int add_sample(struct recorder *rec, const struct raw_sample *s,
		      struct thread_memo *memo)
{
	const struct sym_location *const *stack;
	struct label labels[PIPELINE_LABELS];
	size_t depth, nlabels;
	int64_t values[2];
	char buf[32];
	int r;

	r = sample_stack(rec, s, memo, &stack, &depth);
	if (r <= 0)
		return r;
	values[0] = 1;
	values[1] = s->displaced ? 0 : (int64_t)sample_weight(rec, s, memo);
	nlabels = pipeline_labels(&s->info, labels, buf, sizeof(buf));
	if (s->displaced) {
		rec->stats.displaced++;
		set_label(labels, nlabels, LABEL_STATE, "runnable");
	}
	rec->stats.samples++;
	rec->stats.value_ns += (uint64_t)values[1];
	return profile_add(rec->profile, stack, depth, values, labels, nlabels,
			   1);
}

static void count_pause(struct record_stats *stats, uint64_t ns)
{
	unsigned index = (unsigned)ns;

	if (ns >= 8) {
		unsigned exp = 63 - __builtin_clzll(ns);

		index = exp * 8 + (unsigned)((ns >> (exp - 3)) & 7);
	}
	stats->pause_buckets[index < PAUSE_BUCKETS ? index
						   : PAUSE_BUCKETS - 1]++;
	if (ns > stats->pause_max_ns)
		stats->pause_max_ns = ns;
}

/* After an exec the old image's stacks mean nothing. */
static int follow_exec(struct recorder *rec)
{
	unsigned count = target_exec_count(rec->target);

	if (count == rec->exec_count)
		return 0;
	rec->exec_count = count;
	for (size_t i = 0; i < rec->nmemos; i++)
		memo_release(&rec->memos[i]);
	return addrspace_refresh(rec->pipeline.as);
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

static int tick(struct recorder *rec)
{
	enum capture_policy policy =
		rec->opts->mode == MODE_CPU ? CAPTURE_RUNNING : CAPTURE_CHANGED;
	struct sample_set set = {0};
	int r;

	r = target_sample(rec->target, policy, &set);
	if (r >= 0 && all_stopped(&set))
		rec->stats.stopped_ticks++;
	if (r >= 0)
		r = follow_exec(rec);
	if (r >= 0)
		r = memos_sync(rec, &set);
	rec->pipeline.may_refresh = true;
	for (size_t i = 0; i < set.n && r >= 0; i++) {
		if (set.samples[i].captured) {
			rec->stats.stopped++;
			count_pause(&rec->stats, set.samples[i].pause_ns);
		}
		r = add_sample(rec, &set.samples[i], &rec->memos[i]);
	}
	rec->stats.ticks++;
	sample_set_release(&set);
	return r;
}

/* Handles what the signalfd holds: 1 when the run must end. */
static int read_signals(struct recorder *rec, int sigfd)
{
	struct signalfd_siginfo info;
	bool reports = false;

	while (read(sigfd, &info, sizeof(info)) == sizeof(info)) {
		if (info.ssi_signo == SIGCHLD) {
			reports = true;
			continue;
		}
		rec->stopped_by_signal = true;
	}
	if (reports && target_poll(rec->target) == -ESRCH)
		rec->target_exited = true;
	return rec->stopped_by_signal || rec->target_exited;
}

static int wait_until(struct recorder *rec, int sigfd, int64_t deadline_ns)
{
	struct pollfd pfd = {.fd = sigfd, .events = POLLIN};
	int64_t wait_ns = deadline_ns - monotonic_ns();
	struct timespec timeout;
	int n;

	if (wait_ns < 0)
		wait_ns = 0;
	timeout.tv_sec = wait_ns / 1000000000;
	timeout.tv_nsec = wait_ns % 1000000000;
	n = ppoll(&pfd, 1, &timeout, NULL);
	if (n < 0 && errno != EINTR)
		return -errno;
	/* A timeout: nothing to read, the next tick is due. */
	return n == 0 ? 0 : read_signals(rec, sigfd);
}

void recorder_show_progress(const struct recorder *rec, bool tty,
			    int64_t now_ns, int64_t *shown_ns)
{
	int64_t elapsed = now_ns - rec->start_ns;

	if (!tty || now_ns - *shown_ns < 1000000000)
		return;
	*shown_ns = now_ns;
	if (rec->opts->duration_ns)
		fprintf(stderr,
			"\rcprof: recording pid %d: %llds of %llds, %llu "
			"samples",
			rec->pid, (long long)(elapsed / 1000000000),
			(long long)(rec->opts->duration_ns / 1000000000),
			(unsigned long long)rec->stats.samples);
	else
		fprintf(stderr,
			"\rcprof: recording pid %d: %llds, %llu samples",
			rec->pid, (long long)(elapsed / 1000000000),
			(unsigned long long)rec->stats.samples);
}

/* Runs one tick when it is due; counts the ticks that came too late. */
static int maybe_tick(struct recorder *rec, int64_t *next_ns)
{
	int64_t late;
	int r;

	if (monotonic_ns() < *next_ns)
		return 0;
	r = tick(rec);
	*next_ns += rec->period_ns;
	late = monotonic_ns() - *next_ns;
	if (late >= 0) {
		int64_t missed = late / rec->period_ns + 1;

		rec->stats.missed_ticks += (uint64_t)missed;
		*next_ns += missed * rec->period_ns;
	}
	return r;
}

int recorder_run(struct recorder *rec, int sigfd)
{
	int64_t time_nanos = realtime_ns(), next_ns, end_ns, shown_ns = 0;
	bool tty = stderr_is_tty();
	int r = 0;

	rec->start_ns = monotonic_ns();
	shown_ns = rec->start_ns;
	next_ns = rec->start_ns;
	end_ns = rec->opts->duration_ns ? rec->start_ns + rec->opts->duration_ns
					: INT64_MAX;
	while (r >= 0 && !rec->target_exited) {
		r = maybe_tick(rec, &next_ns);
		if (r == -ESRCH) {
			rec->target_exited = true;
			r = 0;
		}
		if (r < 0 || rec->target_exited || monotonic_ns() >= end_ns)
			break;
		/* The tick's own stops raised SIGCHLD: taken now, it does
		 * not cut the wait short, which would cost a wakeup a tick. */
		r = read_signals(rec, sigfd);
		if (r > 0)
			break;
		recorder_show_progress(rec, tty, monotonic_ns(), &shown_ns);
		r = wait_until(rec, sigfd, next_ns < end_ns ? next_ns : end_ns);
		if (r > 0)
			break;
	}
	if (tty)
		fputs("\r\033[K", stderr);
	profile_set_time(rec->profile, time_nanos,
			 monotonic_ns() - rec->start_ns);
	return r < 0 ? r : 0;
}

void recorder_finish(struct recorder *rec)
{
	if (rec->target_exited &&
	    target_exit_status(rec->target, &rec->exit_status) < 0)
		rec->target_exited = false;
}

static double pause_percentile(const struct record_stats *stats, double q)
{
	uint64_t total = 0, seen = 0;

	for (size_t i = 0; i < PAUSE_BUCKETS; i++)
		total += stats->pause_buckets[i];
	for (size_t i = 0; i < PAUSE_BUCKETS && total; i++) {
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

void recorder_print_stats(const struct recorder *rec)
{
	const struct record_stats *st = &rec->stats;

	if (rec->sampler != SAMPLER_AUTO)
		fprintf(stderr, "cprof: sampler %s (%s)\n",
			rec->sampler == SAMPLER_PERF ? "perf" : "ptrace",
			rec->sampler_why);
	if (rec->sampler == SAMPLER_PERF) {
		fprintf(stderr,
			"cprof: samples %llu, lost %llu, ptrace stops 0, "
			"kernel mode %s, truncated %llu, cut stacks %zu\n",
			(unsigned long long)st->samples,
			(unsigned long long)st->lost,
			rec->kernel_sampled ? "sampled" : "not sampled",
			(unsigned long long)st->truncated,
			rec->pipeline.cut_stacks);
		return;
	}
	fprintf(stderr,
		"cprof: ticks %llu (missed %llu), samples %llu, threads "
		"stopped per tick %.2f, stacks reused %llu, displaced %llu, "
		"pause p50 %.1fus "
		"p99 %.1fus max %.1fus, cut stacks %zu\n",
		(unsigned long long)st->ticks,
		(unsigned long long)st->missed_ticks,
		(unsigned long long)st->samples,
		st->ticks ? (double)st->stopped / st->ticks : 0.0,
		(unsigned long long)st->reused,
		(unsigned long long)st->displaced,
		pause_percentile(st, 0.5) / 1e3,
		pause_percentile(st, 0.99) / 1e3, st->pause_max_ns / 1e3,
		rec->pipeline.cut_stacks);
}

/* The perf sampler counts CPU time only: a target that never ran. */
static const char *perf_empty_reason(const struct recorder *rec)
{
	char path[64], buf[512];
	struct proc_stat stat;
	ssize_t n;

	if (rec->opts->command)
		return "the command itself never ran on a CPU; cprof does "
		       "not follow child processes: record one with -p PID";
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)rec->pid);
	n = procfs_read_file(AT_FDCWD, path, buf, sizeof(buf));
	if (n > 0 && procfs_parse_stat(buf, (size_t)n, &stat) == 0 &&
	    (stat.state == 'T' || stat.state == 't'))
		return "it was stopped (SIGSTOP or a debugger) for the whole "
		       "recording; --mode=wall shows where its threads are";
	return "no thread ran on a CPU; --mode=wall shows where its "
	       "threads wait";
}

const char *recorder_empty_reason(const struct recorder *rec)
{
	const struct record_stats *st = &rec->stats;

	/* A CPU profile of samples that all weigh nothing is empty too. */
	if (st->value_ns > 0)
		return NULL;
	if (rec->sampler == SAMPLER_PERF)
		return perf_empty_reason(rec);
	if (st->ticks == 0)
		return "it exited before the first sample";
	if (st->stopped_ticks == st->ticks)
		return "it was stopped (SIGSTOP or a debugger) for the whole "
		       "recording; --mode=wall shows where its threads are";
	if (rec->opts->command)
		return "the command itself never ran on a CPU; cprof does "
		       "not follow child processes: record one with -p PID";
	return "no thread ran on a CPU; --mode=wall shows where its "
	       "threads wait";
}

void recorder_release(struct recorder *rec)
{
	for (size_t i = 0; i < rec->nmemos; i++)
		memo_release(&rec->memos[i]);
	free(rec->memos);
	rec->memos = NULL;
	rec->nmemos = 0;
	profile_free(rec->profile);
	rec->profile = NULL;
	pipeline_release(&rec->pipeline);
}
