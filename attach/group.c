/* SPDX-License-Identifier: MIT */
/*
 * The coordinating thread of a group (the caller's) holds the signals
 * that end cprof for every thread and reads them from a signalfd; each
 * member's session runs on a thread of its own with the group's cancel
 * fd, an eventfd written once to end them all, so no session reads
 * another's signals.  A session thread that ends writes the wake fd, so
 * the end of a command or of the last process is seen at once; the tree
 * is read again from /proc every GROUP_RESCAN_NS.
 */
#include "attach/group.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "attach/perf.h"
#include "attach/procfs.h"
#include "attach/sampler.h"

#define PF_KTHREAD 0x00200000UL

struct member {
	struct session_options so;
	struct session_result res;
	struct sample_sink inner; /* the collector's */
	struct sample_sink sink;  /* inner, noting the pid at begin */
	pthread_t thread;
	int wake_fd;
	atomic_int pid; /* 0 until the session's begin */
	atomic_bool done;
	int result;
	bool initial; /* named on the command line: its failure is ours */
};

struct group {
	const struct group_options *opts;
	enum session_sampler sampler; /* every member's */
	char why[96];		      /* why, when the group chose it */
	struct member **members;
	size_t n;
	int cancel_fd, wake_fd, sigfd;
	bool cancelled;
	bool signalled; /* a signal that ends cprof arrived */
};

/* ---- the member's sink: the inner one, with the pid noted ---- */

static int member_begin(void *ctx, pid_t proc_tid)
{
	struct member *m = ctx;

	atomic_store(&m->pid, proc_tid);
	return m->inner.begin(m->inner.ctx, proc_tid);
}

static int member_batch(void *ctx)
{
	struct member *m = ctx;

	return m->inner.batch(m->inner.ctx);
}

static int member_sample(void *ctx, const struct raw_sample *s)
{
	struct member *m = ctx;

	return m->inner.sample(m->inner.ctx, s);
}

static int member_exec(void *ctx)
{
	struct member *m = ctx;

	return m->inner.exec(m->inner.ctx);
}

static bool member_needs_stop(void *ctx, const struct raw_sample *s)
{
	struct member *m = ctx;

	return m->inner.needs_stop && m->inner.needs_stop(m->inner.ctx, s);
}

/* ---- members ---- */

static void *member_thread(void *arg)
{
	struct member *m = arg;
	uint64_t one = 1;

	m->result = session_record(&m->so, &m->sink, &m->res);
	atomic_store(&m->done, true);
	if (write(m->wake_fd, &one, sizeof(one)) < 0) {
		/* an eventfd write of 1 does not fail; the rescan sees it */
	}
	return NULL;
}

/* Starts a session for pid (or the command, pid 0). */
static int add_member(struct group *g, pid_t pid, bool initial)
{
	const struct group_options *opts = g->opts;
	struct member *m = calloc(1, sizeof(*m));
	struct member **grown;
	int r;

	if (!m)
		return -ENOMEM;
	grown = realloc(g->members, (g->n + 1) * sizeof(*grown));
	if (!grown) {
		free(m);
		return -ENOMEM;
	}
	g->members = grown;
	m->so = opts->session;
	m->so.pid = pid;
	m->so.sampler = g->sampler;
	m->so.command = pid ? NULL : opts->session.command;
	m->so.duration_ns = 0; /* the group ends it */
	m->so.cancel_fd = g->cancel_fd;
	m->so.progress = NULL;
	m->initial = initial;
	m->wake_fd = g->wake_fd;
	m->res.pid = pid;
	atomic_init(&m->pid, pid);
	atomic_init(&m->done, false);
	r = opts->member_sink(opts->ctx, &m->inner);
	if (r < 0) {
		free(m);
		return r;
	}
	m->sink = (struct sample_sink){.ctx = m,
				       .begin = member_begin,
				       .batch = member_batch,
				       .sample = member_sample,
				       .exec = member_exec,
				       .needs_stop = member_needs_stop};
	r = -pthread_create(&m->thread, NULL, member_thread, m);
	if (r < 0) {
		free(m);
		return r;
	}
	g->members[g->n++] = m;
	return 0;
}

static bool is_member(const struct group *g, pid_t pid)
{
	for (size_t i = 0; i < g->n; i++)
		if (atomic_load(&g->members[i]->pid) == pid)
			return true;
	return false;
}

static void cancel(struct group *g)
{
	uint64_t one = 1;

	if (!g->cancelled && write(g->cancel_fd, &one, sizeof(one)) > 0)
		g->cancelled = true;
}

/* ---- the tree ---- */

struct proc_entry {
	pid_t pid, ppid;
};

/* Every live user process with its parent. */
static int read_processes(struct proc_entry **ret, size_t *ret_n)
{
	struct proc_entry *all = NULL;
	size_t n = 0, cap = 0;
	struct dirent *d;
	DIR *dir = opendir("/proc");

	if (!dir)
		return -errno;
	while ((d = readdir(dir))) {
		struct proc_stat st;
		pid_t pid = (pid_t)strtol(d->d_name, NULL, 10);

		if (pid <= 0 || procfs_read_stat(pid, &st) < 0 ||
		    st.state == 'Z' || st.state == 'X' ||
		    (st.flags & PF_KTHREAD))
			continue;
		if (n == cap) {
			struct proc_entry *grown;

			cap = cap ? cap * 2 : 256;
			grown = realloc(all, cap * sizeof(*all));
			if (!grown) {
				free(all);
				closedir(dir);
				return -ENOMEM;
			}
			all = grown;
		}
		all[n++] = (struct proc_entry){.pid = pid, .ppid = st.ppid};
	}
	closedir(dir);
	*ret = all;
	*ret_n = n;
	return 0;
}

static int append_pid(pid_t **pids, size_t *n, pid_t pid)
{
	pid_t *more = realloc(*pids, (*n + 1) * sizeof(**pids));

	if (!more)
		return -ENOMEM;
	*pids = more;
	(*pids)[(*n)++] = pid;
	return 0;
}

static bool listed(const pid_t *pids, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

/* Every live user process whose parent chain leads to root, from a pass
 * over all of /proc: a pass per generation, the tree being shallow. */
static int scan_descendants(pid_t root, pid_t **pids, size_t *n)
{
	struct proc_entry *all = NULL;
	size_t nall = 0, first = *n;
	bool grew = true;
	int r = read_processes(&all, &nall);

	if (r < 0)
		return r;
	while (grew && r >= 0) {
		grew = false;
		for (size_t i = 0; i < nall && r >= 0; i++) {
			if (all[i].pid == root ||
			    listed(*pids + first, *n - first, all[i].pid) ||
			    (all[i].ppid != root &&
			     !listed(*pids + first, *n - first, all[i].ppid)))
				continue;
			r = append_pid(pids, n, all[i].pid);
			grew = true;
		}
	}
	free(all);
	return r;
}

/* A child worth a session: not a zombie (gone since is left to the
 * session to find). */
static bool live_child(pid_t pid)
{
	struct proc_stat st;

	return procfs_read_stat(pid, &st) == 0 && st.state != 'Z' &&
	       st.state != 'X';
}

/* The children of every thread of pid (a thread's fork is its own
 * child), appended unless listed after first: 0, -ENOMEM, or -E2BIG
 * when a list is longer than cprof reads. */
static int add_children(pid_t pid, pid_t **pids, size_t *n, size_t first)
{
	char path[96], buf[16384];
	struct dirent *d;
	DIR *dir;
	int r = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return 0; /* gone: no children */
	while ((d = readdir(dir)) && r >= 0) {
		long tid = strtol(d->d_name, NULL, 10);
		ssize_t len;

		if (tid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%ld/children",
			 (int)pid, tid);
		len = procfs_read_file(AT_FDCWD, path, buf, sizeof(buf) - 1);
		if (len >= (ssize_t)sizeof(buf) - 1)
			r = -E2BIG;
		for (char *p = buf, *end; len > 0 && r >= 0; p = end) {
			long kid;

			buf[len] = '\0';
			kid = strtol(p, &end, 10);
			if (end == p)
				break;
			if (kid > 0 &&
			    !listed(*pids + first, *n - first, kid) &&
			    live_child((pid_t)kid))
				r = append_pid(pids, n, (pid_t)kid);
		}
	}
	closedir(dir);
	return r;
}

int group_descendants(pid_t root, pid_t **pids, size_t *n)
{
	size_t first = *n;
	int r;

	/* The kernel lists each thread's children where it was built
	 * with CONFIG_PROC_CHILDREN: a walk down the tree then reads the
	 * tree's own files, not those of every process on the machine. */
	if (access("/proc/thread-self/children", R_OK) != 0)
		return scan_descendants(root, pids, n);
	r = add_children(root, pids, n, first);
	for (size_t i = first; i < *n && r >= 0; i++)
		r = add_children((*pids)[i], pids, n, first);
	if (r != -E2BIG)
		return r;
	*n = first;
	return scan_descendants(root, pids, n);
}

/* Gives every descendant of the roots not yet sampled a session. */
static int rescan(struct group *g)
{
	pid_t *found = NULL;
	size_t nfound = 0, nroots = g->n;
	int r = 0;

	for (size_t i = 0; i < nroots && r >= 0; i++) {
		pid_t root = atomic_load(&g->members[i]->pid);

		if (root > 0 && g->members[i]->initial)
			r = group_descendants(root, &found, &nfound);
	}
	for (size_t i = 0; i < nfound && r >= 0; i++)
		if (!is_member(g, found[i]))
			r = add_member(g, found[i], false);
	free(found);
	return r;
}

/* ---- the coordinating loop ---- */

static int hold_signals(sigset_t *ret_saved)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	sigaddset(&mask, SIGPIPE);
	/* Held here so that it stays pending for the sessions' signalfds:
	 * ptrace reports. */
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, ret_saved);
	sigdelset(&mask, SIGPIPE); /* a closed pipe shows as EPIPE */
	sigdelset(&mask, SIGCHLD);
	fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0) {
		fd = -errno;
		sigprocmask(SIG_SETMASK, ret_saved, NULL);
	}
	return fd;
}

/* Whether the recording is over without a cancel: the command ended, or
 * every process did. */
static bool all_over(const struct group *g)
{
	bool command = g->opts->session.command != NULL;

	if (command && g->n > 0)
		return atomic_load(&g->members[0]->done);
	for (size_t i = 0; i < g->n; i++)
		if (!atomic_load(&g->members[i]->done))
			return false;
	return true;
}

/* A member named on the command line that failed ends the group. */
static struct member *failed_initial(const struct group *g)
{
	for (size_t i = 0; i < g->n; i++) {
		struct member *m = g->members[i];

		if (m->initial && atomic_load(&m->done) && m->result < 0)
			return m;
	}
	return NULL;
}

static void wait_events(struct group *g, int64_t until_ns)
{
	struct pollfd pfds[2] = {{.fd = g->sigfd, .events = POLLIN},
				 {.fd = g->wake_fd, .events = POLLIN}};
	int64_t wait_ns = until_ns - session_monotonic_ns();
	struct signalfd_siginfo info;
	uint64_t count;

	if (wait_ns < 0)
		wait_ns = 0;
	if (wait_ns > 1000000000)
		wait_ns = 1000000000;
	poll(pfds, 2, (int)((wait_ns + 999999) / 1000000));
	while (read(g->sigfd, &info, sizeof(info)) == sizeof(info)) {
		g->signalled = true;
		cancel(g);
	}
	if (read(g->wake_fd, &count, sizeof(count)) < 0) {
		/* nothing woke us: a timeout */
	}
}

static int run(struct group *g, int64_t start_ns)
{
	const struct group_options *opts = g->opts;
	int64_t end_ns = opts->session.duration_ns
				 ? start_ns + opts->session.duration_ns
				 : INT64_MAX;
	int64_t next_scan = start_ns;
	int r = 0;

	while (!g->cancelled) {
		int64_t now = session_monotonic_ns();

		if (failed_initial(g) || now >= end_ns || all_over(g)) {
			cancel(g);
			break;
		}
		if (opts->follow && now >= next_scan) {
			r = rescan(g);
			next_scan = now + GROUP_RESCAN_NS;
			if (r < 0) {
				cancel(g);
				break;
			}
			continue; /* what it found may have ended the run */
		}
		wait_events(g, next_scan < end_ns && opts->follow ? next_scan
								  : end_ns);
	}
	return r;
}

static int start_initial(struct group *g)
{
	const struct group_options *opts = g->opts;
	int r = 0;

	if (opts->session.command)
		r = add_member(g, 0, true);
	for (size_t i = 0; i < opts->npids && r >= 0; i++)
		r = add_member(g, opts->pids[i], true);
	return r;
}

/* Every figure of one member's session added to the group's. */
static void add_stats(struct session_stats *sum, const struct session_stats *st)
{
	sum->ticks += st->ticks;
	sum->missed_ticks += st->missed_ticks;
	sum->samples += st->samples;
	sum->stopped += st->stopped;
	sum->displaced += st->displaced;
	sum->blocked_at_stop += st->blocked_at_stop;
	sum->stopped_ticks += st->stopped_ticks;
	sum->value_ns += st->value_ns;
	sum->lost += st->lost;
	sum->kernel_sampled |= st->kernel_sampled;
	if (st->pause_max_ns > sum->pause_max_ns)
		sum->pause_max_ns = st->pause_max_ns;
	for (size_t b = 0; b < SESSION_PAUSE_BUCKETS; b++)
		sum->pause_buckets[b] += st->pause_buckets[b];
	sum->threads += st->threads;
	sum->captured += st->captured;
	sum->lost_threads += st->lost_threads;
	sum->stopped_again += st->stopped_again;
	sum->pause_total_ns += st->pause_total_ns;
}

static void collect_results(struct group *g, struct group_result *res)
{
	struct member *failed = failed_initial(g);

	res->members = g->n;
	if (g->n)
		res->first = (failed ? failed : g->members[0])->res;
	for (size_t i = 0; i < g->n; i++)
		add_stats(&res->stats, &g->members[i]->res.stats);
}

static void free_members(struct group *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->members[i]);
	free(g->members);
}

/* auto in cpu mode: perf where the kernel allows it, else ptrace. */
static void choose_sampler(struct group *g)
{
	const struct session_options *so = &g->opts->session;
	int refused;

	g->sampler = so->sampler;
	if (g->sampler != SAMPLER_AUTO || so->mode != SESSION_CPU)
		return;
	refused = perf_probe();
	g->sampler = refused ? SAMPLER_PTRACE : SAMPLER_PERF;
	if (refused)
		snprintf(g->why, sizeof(g->why), "perf_event_open refused: %s",
			 strerror(-refused));
	else
		snprintf(g->why, sizeof(g->why), "the kernel allows it");
}

int group_record(const struct group_options *opts, struct group_result *res)
{
	struct group g = {.opts = opts, .cancel_fd = -1, .wake_fd = -1};
	struct member *failed;
	sigset_t saved;
	int64_t start_ns;
	int r;

	*res = (struct group_result){0};
	/* One sampler for every member, chosen before any is touched: each
	 * falling back on its own would mix stopped samples with others. */
	choose_sampler(&g);
	g.sigfd = hold_signals(&saved);
	if (g.sigfd < 0) {
		res->first.failure = SESSION_FAIL_SIGNALS;
		return g.sigfd;
	}
	g.cancel_fd = eventfd(0, EFD_CLOEXEC);
	g.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r = g.cancel_fd < 0 || g.wake_fd < 0 ? -errno : 0;
	res->start_realtime_ns = session_realtime_ns();
	start_ns = session_monotonic_ns();
	if (r >= 0)
		r = start_initial(&g);
	if (r >= 0)
		r = run(&g, start_ns);
	else if (g.cancel_fd >= 0)
		cancel(&g);
	/* Every session lets its process go before its thread ends. */
	for (size_t i = 0; i < g.n; i++)
		pthread_join(g.members[i]->thread, NULL);
	res->duration_ns = session_monotonic_ns() - start_ns;
	res->stopped_by_signal = g.signalled;
	collect_results(&g, res);
	if (g.why[0])
		snprintf(res->first.why, sizeof(res->first.why), "%s", g.why);
	failed = failed_initial(&g);
	if (r < 0 && res->first.failure == SESSION_OK)
		res->first.failure = SESSION_FAIL_THREAD;
	if (r >= 0 && failed)
		r = failed->result;
	free_members(&g);
	if (g.cancel_fd >= 0)
		close(g.cancel_fd);
	if (g.wake_fd >= 0)
		close(g.wake_fd);
	close(g.sigfd);
	sigprocmask(SIG_SETMASK, &saved, NULL);
	return r;
}

/* The roots, then their descendants, each once. */
static int list_tree(const struct group_options *opts, pid_t **ret,
		     size_t *ret_n)
{
	pid_t *found = NULL, *pids;
	size_t nfound = 0, n = 0;
	int r = 0;

	for (size_t i = 0; i < opts->npids && opts->follow && r >= 0; i++)
		r = group_descendants(opts->pids[i], &found, &nfound);
	pids = r < 0 ? NULL
		     : malloc((opts->npids + nfound + 1) * sizeof(*pids));
	if (!pids) {
		free(found);
		return r < 0 ? r : -ENOMEM;
	}
	for (size_t i = 0; i < opts->npids; i++)
		pids[n++] = opts->pids[i];
	for (size_t i = 0; i < nfound; i++)
		if (!listed(pids, n, found[i]))
			pids[n++] = found[i];
	free(found);
	*ret = pids;
	*ret_n = n;
	return 0;
}

int group_snapshot(const struct group_options *opts, struct group_result *res)
{
	pid_t *pids;
	size_t n;
	int r;

	*res = (struct group_result){0};
	r = list_tree(opts, &pids, &n);
	if (r < 0) {
		res->first.failure = SESSION_FAIL_CAPTURE;
		return r;
	}
	res->start_realtime_ns = session_realtime_ns();
	for (size_t i = 0; i < n; i++) {
		struct session_options so = opts->session;
		struct session_result one = {.pid = pids[i]};
		struct sample_sink sink;

		so.pid = pids[i];
		r = opts->member_sink(opts->ctx, &sink);
		if (r < 0) {
			one.failure = SESSION_FAIL_CAPTURE;
			res->first = one;
			break;
		}
		r = session_snapshot(&so, &sink, &one);
		if (r < 0 && i < opts->npids) {
			res->first = one;
			break;
		}
		/* A descendant gone or out of reach since it was listed
		 * is left out. */
		if (r < 0) {
			r = 0;
			continue;
		}
		if (res->members++ == 0)
			res->first = one;
		add_stats(&res->stats, &one.stats);
	}
	free(pids);
	return r;
}
