/* SPDX-License-Identifier: MIT */
/*
 * attach/ against live processes forked from this test: threads parked in
 * nanosleep, pthread_cond_wait and epoll_wait (these count every EINTR, so
 * each stop cprof causes shows), one busy, one that keeps creating
 * threads, one that takes signals.  After every snapshot no thread may be
 * held stopped; after detach the target must run on with TracerPid 0, a
 * SIGSTOPped target must still be stopped, and every signal sent while
 * cprof was attached must have been handled.  Sampling ticks must stop
 * only the threads their policy selects; a signal must reach the target
 * through target_poll alone; launch must report the command's status.
 *
 *   test-attach                   the checks
 *   test-attach --bench N [B] [detach]
 *                                 N parked threads, batch size B: prints
 *                                 attach, snapshot (or, with detach, the
 *                                 one-pass snapshot and detach) and
 *                                 detach times and the longest pause
 *
 * Exit codes: 0 pass, 1 fail, 77 skip, 99 framework failure.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attach/attach.h"

#define EXIT_PASS 0
#define EXIT_FAIL 1
#define EXIT_SKIP 77
#define EXIT_HARD 99

#define TEST_TIMEOUT_S 120
#define DEADLINE_MS    10000
#define MAX_CHILDREN   8
#define MAX_EPOLLERS   8

/* ---- bookkeeping so no child outlives the test ---- */

static pid_t live_children[MAX_CHILDREN];
static int failures;

static void children_kill_all(void)
{
	for (int i = 0; i < MAX_CHILDREN; i++) {
		if (live_children[i] > 0)
			kill(live_children[i], SIGKILL);
	}
}

static void on_alarm(int sig)
{
	static const char msg[] = "test-attach: timed out\n";

	(void)sig;
	children_kill_all();
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(EXIT_HARD);
}

static void child_register(pid_t pid)
{
	for (int i = 0; i < MAX_CHILDREN; i++) {
		if (live_children[i] == 0) {
			live_children[i] = pid;
			return;
		}
	}
	children_kill_all();
	exit(EXIT_HARD);
}

/* Kills and reaps pid; after this nothing of it is left. */
static void child_end(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
		;
	for (int i = 0; i < MAX_CHILDREN; i++) {
		if (live_children[i] == pid)
			live_children[i] = 0;
	}
}

static void hard_fail(const char *what)
{
	perror(what);
	children_kill_all();
	exit(EXIT_HARD);
}

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			failures++;                                            \
		}                                                              \
	} while (0)

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void nap(void)
{
	nanosleep(&(struct timespec){0, 2000000}, NULL);
}

/* ---- the target ---- */

struct shared {
	atomic_ulong busy_count;
	atomic_ulong spawn_count;
	atomic_ulong signal_count;
	atomic_ulong usr1_count;
	atomic_ulong eintr[MAX_EPOLLERS]; /* per epoller: EINTR returns */
};

struct target_spec {
	int sleepers, waiters;
	int epollers; /* threads in epoll_wait, counting EINTR returns */
	bool busy, spawner, sig_catcher;
	bool leader_exits; /* main calls pthread_exit once ready */
	int exec_fd;	   /* > 0: a thread execs sleep once this is readable */
};

struct child {
	pid_t pid;
	struct shared *shared;
	int nthreads; /* when none are spawned: main + the spec's */
};

static struct shared *child_shared; /* in the child only */
static pthread_barrier_t child_started;
static pthread_mutex_t child_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t child_never = PTHREAD_COND_INITIALIZER;

static void *sleeper_main(void *arg)
{
	(void)arg;
	prctl(PR_SET_NAME, "sleeper");
	pthread_barrier_wait(&child_started);
	for (;;)
		nanosleep(&(struct timespec){100, 0}, NULL);
	return NULL;
}

static void *waiter_main(void *arg)
{
	(void)arg;
	prctl(PR_SET_NAME, "waiter");
	pthread_barrier_wait(&child_started);
	pthread_mutex_lock(&child_lock);
	for (;;)
		pthread_cond_wait(&child_never, &child_lock);
	return NULL;
}

static void *busy_main(void *arg)
{
	(void)arg;
	prctl(PR_SET_NAME, "busy");
	pthread_barrier_wait(&child_started);
	for (;;)
		atomic_fetch_add_explicit(&child_shared->busy_count, 1,
					  memory_order_relaxed);
	return NULL;
}

/* Nothing ever becomes ready: every return is a spurious wakeup. */
static void *epoller_main(void *arg)
{
	atomic_ulong *eintr = arg;
	struct epoll_event ev;
	int ep = epoll_create1(EPOLL_CLOEXEC);

	prctl(PR_SET_NAME, "epoller");
	if (ep < 0)
		_exit(7);
	pthread_barrier_wait(&child_started);
	for (;;) {
		if (epoll_wait(ep, &ev, 1, -1) < 0 && errno == EINTR)
			atomic_fetch_add(eintr, 1);
	}
	return NULL;
}

static void *short_lived_main(void *arg)
{
	return arg;
}

static void *spawner_main(void *arg)
{
	(void)arg;
	prctl(PR_SET_NAME, "spawner");
	pthread_barrier_wait(&child_started);
	for (;;) {
		pthread_t t;

		if (pthread_create(&t, NULL, short_lived_main, NULL) == 0)
			pthread_join(t, NULL);
		atomic_fetch_add(&child_shared->spawn_count, 1);
	}
	return NULL;
}

static void on_rt_signal(int sig)
{
	(void)sig;
	atomic_fetch_add(&child_shared->signal_count, 1);
}

static void *catcher_main(void *arg)
{
	sigset_t rt;

	(void)arg;
	prctl(PR_SET_NAME, "sigcatcher");
	sigemptyset(&rt);
	sigaddset(&rt, SIGRTMIN);
	pthread_sigmask(SIG_UNBLOCK, &rt, NULL);
	pthread_barrier_wait(&child_started);
	for (;;)
		nanosleep(&(struct timespec){100, 0}, NULL);
	return NULL;
}

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&child_shared->usr1_count, 1);
}

static void start_thread_arg(void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	pthread_t t;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 128 * 1024);
	if (pthread_create(&t, &attr, fn, arg) != 0)
		_exit(3);
	pthread_attr_destroy(&attr);
}

static void start_thread(void *(*fn)(void *))
{
	start_thread_arg(fn, NULL);
}

static int exec_trigger_fd; /* in the child only */

static void *execer_main(void *arg)
{
	char byte;

	(void)arg;
	prctl(PR_SET_NAME, "execer");
	pthread_barrier_wait(&child_started);
	if (read(exec_trigger_fd, &byte, 1) == 1)
		execl("/bin/sleep", "sleep", "1000", (char *)NULL);
	_exit(6);
}

static int spec_threads(const struct target_spec *spec)
{
	return spec->sleepers + spec->waiters + spec->epollers + spec->busy +
	       spec->spawner + spec->sig_catcher + (spec->exec_fd > 0);
}

static void __attribute__((noreturn))
run_target(const struct target_spec *spec, int ready_fd)
{
	struct sigaction sa = {.sa_handler = on_rt_signal};
	struct sigaction usr1 = {.sa_handler = on_usr1};
	sigset_t rt;

	/* Only the catcher takes SIGRTMIN; the others inherit the block. */
	sigemptyset(&rt);
	sigaddset(&rt, SIGRTMIN);
	pthread_sigmask(SIG_BLOCK, &rt, NULL);
	sigaction(SIGRTMIN, &sa, NULL);
	sigaction(SIGUSR1, &usr1, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	pthread_barrier_init(&child_started, NULL,
			     (unsigned)spec_threads(spec) + 1);
	for (int i = 0; i < spec->sleepers; i++)
		start_thread(sleeper_main);
	for (int i = 0; i < spec->waiters; i++)
		start_thread(waiter_main);
	for (int i = 0; i < spec->epollers && i < MAX_EPOLLERS; i++)
		start_thread_arg(epoller_main, &child_shared->eintr[i]);
	if (spec->busy)
		start_thread(busy_main);
	if (spec->spawner)
		start_thread(spawner_main);
	if (spec->sig_catcher)
		start_thread(catcher_main);
	if (spec->exec_fd > 0) {
		exec_trigger_fd = spec->exec_fd;
		start_thread(execer_main);
	}
	pthread_barrier_wait(&child_started);
	if (write(ready_fd, "ready\n", 6) != 6)
		_exit(4);
	close(ready_fd);
	if (spec->leader_exits)
		pthread_exit(NULL);
	for (;;)
		pause();
}

static void spawn_target(const struct target_spec *spec, struct child *ret)
{
	struct shared *shared;
	char line[16] = "";
	int fds[2];
	ssize_t n;
	pid_t pid;

	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		hard_fail("mmap");
	if (pipe2(fds, O_CLOEXEC) < 0)
		hard_fail("pipe2");
	pid = fork();
	if (pid < 0)
		hard_fail("fork");
	if (pid == 0) {
		close(fds[0]);
		child_shared = shared;
		run_target(spec, fds[1]);
	}
	child_register(pid);
	close(fds[1]);
	/* Poll for the line instead of sleeping: the alarm bounds it. */
	n = read(fds[0], line, sizeof(line) - 1);
	close(fds[0]);
	if (n != 6 || strcmp(line, "ready\n") != 0) {
		fprintf(stderr, "target %d did not get ready\n", (int)pid);
		children_kill_all();
		exit(EXIT_HARD);
	}
	ret->pid = pid;
	ret->shared = shared;
	ret->nthreads = spec_threads(spec) + 1;
}

/* ---- looking at the target from outside ---- */

struct task_view {
	pid_t tid;
	char state;
	pid_t tracer;
	char comm[32];
};

static int read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

static bool view_task(pid_t pid, pid_t tid, struct task_view *v)
{
	char path[128], buf[4096], *p;

	v->tid = tid;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	if (read_small(path, buf, sizeof(buf)) < 0 || !(p = strrchr(buf, ')')))
		return false;
	v->state = p[2];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	if (read_small(path, buf, sizeof(buf)) < 0 ||
	    !(p = strstr(buf, "TracerPid:")))
		return false;
	v->tracer = (pid_t)strtol(p + 10, NULL, 10);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", pid, tid);
	if (read_small(path, v->comm, sizeof(v->comm)) < 0)
		return false;
	v->comm[strcspn(v->comm, "\n")] = '\0';
	return true;
}

/* Every task of pid; returns how many were read. */
static int view_tasks(pid_t pid, struct task_view *views, int max)
{
	char path[64];
	struct dirent *de;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((de = readdir(dir)) && n < max) {
		char *end;
		long tid = strtol(de->d_name, &end, 10);

		if (*end || tid <= 0)
			continue;
		if (view_task(pid, (pid_t)tid, &views[n]))
			n++;
	}
	closedir(dir);
	return n;
}

static pid_t find_task(pid_t pid, const char *comm)
{
	struct task_view views[64];
	int n = view_tasks(pid, views, 64);

	for (int i = 0; i < n; i++) {
		if (strcmp(views[i].comm, comm) == 0)
			return views[i].tid;
	}
	return -1;
}

/* No task traced by anyone, and none in a tracing stop. */
static bool all_untraced(pid_t pid, char expect_state, bool report)
{
	struct task_view views[4096];
	int n = view_tasks(pid, views, 4096);
	bool ok = n > 0;

	for (int i = 0; i < n; i++) {
		if (views[i].tracer != 0 || views[i].state == 't' ||
		    (expect_state && views[i].state != expect_state)) {
			if (report)
				fprintf(stderr,
					"task %d (%s): state %c tracer %d\n",
					views[i].tid, views[i].comm,
					views[i].state, views[i].tracer);
			ok = false;
		}
	}
	return ok;
}

/* No task held in a stop: the target may be traced, not stopped. */
static bool none_stopped(pid_t pid)
{
	struct task_view views[4096];
	int n = view_tasks(pid, views, 4096);
	bool ok = true;

	for (int i = 0; i < n; i++) {
		if (views[i].state == 't' || views[i].state == 'T') {
			fprintf(stderr, "task %d (%s) left in state %c\n",
				views[i].tid, views[i].comm, views[i].state);
			ok = false;
		}
	}
	return ok;
}

/* Quietly: no task in a stop. */
static bool task_states_free(pid_t pid)
{
	struct task_view views[64];
	int n = view_tasks(pid, views, 64);

	for (int i = 0; i < n; i++) {
		if (views[i].state == 't' || views[i].state == 'T')
			return false;
	}
	return n > 0;
}

/* Waits until every parked thread sleeps, so states can be checked. */
static void wait_parked(pid_t pid)
{
	uint64_t deadline = now_ms() + DEADLINE_MS;

	for (;;) {
		struct task_view views[64];
		int n = view_tasks(pid, views, 64), settled = 0;

		for (int i = 0; i < n; i++) {
			if (strcmp(views[i].comm, "busy") == 0 ||
			    views[i].state == 'S')
				settled++;
		}
		if (n > 0 && settled == n)
			return;
		if (now_ms() > deadline) {
			fprintf(stderr, "threads of %d never parked\n", pid);
			failures++;
			return;
		}
		nap();
	}
}

/* A detached thread re-enters its group-stop on its own, not at once. */
static bool settles_stopped(pid_t pid)
{
	uint64_t deadline = now_ms() + DEADLINE_MS;

	while (!all_untraced(pid, 'T', false)) {
		if (now_ms() > deadline)
			return all_untraced(pid, 'T', true);
		nap();
	}
	return true;
}

static bool counter_advances_within(atomic_ulong *counter, unsigned long by,
				    uint64_t ms)
{
	unsigned long start = atomic_load(counter);
	uint64_t deadline = now_ms() + ms;

	while (atomic_load(counter) < start + by) {
		if (now_ms() > deadline)
			return false;
		nap();
	}
	return true;
}

static bool counter_reaches(atomic_ulong *counter, unsigned long value)
{
	uint64_t deadline = now_ms() + DEADLINE_MS;

	while (atomic_load(counter) < value) {
		if (now_ms() > deadline)
			return false;
		nap();
	}
	return true;
}

static bool counter_advances(atomic_ulong *counter, unsigned long by)
{
	return counter_advances_within(counter, by, DEADLINE_MS);
}

/* The same while attached: a stop SIGCONT brings after the last sample
 * is answered by the next call, as record answers it on SIGCHLD. */
static bool counter_advances_polled(struct target *target,
				    atomic_ulong *counter, unsigned long by)
{
	unsigned long start = atomic_load(counter);
	uint64_t deadline = now_ms() + DEADLINE_MS;

	while (now_ms() < deadline) {
		target_poll(target);
		if (atomic_load(counter) - start >= by)
			return true;
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	return false;
}

/* ---- checks on a sample set ---- */

static bool name_is(const struct raw_sample *s, const char *name)
{
	return strcmp(s->info.name, name) == 0;
}

static void check_sample(const struct raw_sample *s)
{
	CHECK(s->captured);
	CHECK(s->info.name[0] != '\0');
	if (!s->captured)
		return;
	CHECK(s->stack_start == s->regs.rsp);
	CHECK(s->stack && s->stack_len > 0 && s->stack_len <= 512 * 1024);
	CHECK(s->time_ns > 0 && s->pause_ns > 0);
	if (name_is(s, "sleeper")) {
		CHECK(s->info.state == 'S');
		CHECK(s->info.syscall.nr == SYS_clock_nanosleep ||
		      s->info.syscall.nr == SYS_nanosleep);
		CHECK(s->info.syscall.sp != 0);
	}
	if (name_is(s, "waiter")) {
		CHECK(s->info.state == 'S');
		CHECK(s->info.syscall.nr == SYS_futex);
	}
}

static void check_set(const struct sample_set *set, int nthreads)
{
	CHECK(set->n == (size_t)nthreads);
	CHECK(set->lost == 0);
	for (size_t i = 0; i < set->n; i++) {
		check_sample(&set->samples[i]);
		if (i > 0)
			CHECK(set->samples[i - 1].info.tid <
			      set->samples[i].info.tid);
	}
}

/* ---- the cases ---- */

static void test_running_target(void)
{
	struct target_spec spec = {.sleepers = 3, .waiters = 3, .busy = true};
	struct target *target = NULL;
	struct child c;
	int r;

	spawn_target(&spec, &c);
	wait_parked(c.pid);
	r = target_attach(c.pid, &(struct target_options){.batch_size = 3},
			  &target);
	CHECK(r == 0);
	if (r == 0) {
		CHECK(target_pid(target) == c.pid);
		for (int round = 0; round < 5; round++) {
			struct sample_set set = {0};

			/* Resumed by the last round, a thread needs a moment
			 * to be back in its sleep. */
			wait_parked(c.pid);
			r = target_snapshot(target, &set);
			CHECK(r == 0);
			check_set(&set, c.nthreads);
			sample_set_release(&set);
			CHECK(none_stopped(c.pid));
		}
		target_detach(target);
	}
	CHECK(all_untraced(c.pid, 0, true));
	CHECK(counter_advances(&c.shared->busy_count, 100000));
	child_end(c.pid);
}

static void test_stopped_target(void)
{
	struct target_spec spec = {.sleepers = 2, .waiters = 1, .busy = true};
	struct target *target = NULL;
	struct child c;
	int status, r;

	spawn_target(&spec, &c);
	kill(c.pid, SIGSTOP);
	if (waitpid(c.pid, &status, WUNTRACED) != c.pid || !WIFSTOPPED(status))
		hard_fail("waitpid for SIGSTOP");
	r = target_attach(c.pid, NULL, &target);
	CHECK(r == 0);
	if (r == 0) {
		struct sample_set set = {0};

		r = target_snapshot(target, &set);
		CHECK(r == 0);
		CHECK(set.n == (size_t)c.nthreads && set.lost == 0);
		for (size_t i = 0; i < set.n; i++) {
			CHECK(set.samples[i].captured);
			CHECK(set.samples[i].info.state == 'T');
			CHECK(set.samples[i].stack_start ==
			      set.samples[i].regs.rsp);
		}
		sample_set_release(&set);
		target_detach(target);
	}
	CHECK(settles_stopped(c.pid));
	CHECK(!counter_advances_within(&c.shared->busy_count, 1, 50));
	kill(c.pid, SIGCONT);
	CHECK(counter_advances(&c.shared->busy_count, 100000));
	CHECK(all_untraced(c.pid, 0, true));
	child_end(c.pid);
}

/* True when every sample is captured and in the given state. */
static bool snapshot_all_in(struct target *target, char state, bool want)
{
	struct sample_set set = {0};
	bool all;

	if (target_snapshot(target, &set) < 0)
		return false;
	all = set.n > 0;
	for (size_t i = 0; i < set.n; i++) {
		if (!set.samples[i].captured ||
		    (set.samples[i].info.state == state) != want)
			all = false;
	}
	sample_set_release(&set);
	return all;
}

/* SIGSTOP and SIGCONT while attached: both reach the target. */
static void test_stop_while_attached(void)
{
	struct target_spec spec = {.sleepers = 2, .busy = true};
	struct target *target = NULL;
	uint64_t deadline;
	struct child c;
	bool done = false;

	spawn_target(&spec, &c);
	CHECK(target_attach(c.pid, NULL, &target) == 0);
	if (!target) {
		child_end(c.pid);
		return;
	}
	/* The SIGSTOP comes to cprof first, as a signal to pass on. */
	kill(c.pid, SIGSTOP);
	deadline = now_ms() + DEADLINE_MS;
	while (!done && now_ms() < deadline)
		done = snapshot_all_in(target, 'T', true);
	CHECK(done);
	CHECK(!counter_advances_within(&c.shared->busy_count, 1, 50));
	kill(c.pid, SIGCONT);
	done = false;
	deadline = now_ms() + DEADLINE_MS;
	while (!done && now_ms() < deadline)
		done = snapshot_all_in(target, 'T', false);
	CHECK(done);
	CHECK(counter_advances_polled(target, &c.shared->busy_count, 100000));
	target_detach(target);
	CHECK(all_untraced(c.pid, 0, true));
	CHECK(counter_advances(&c.shared->busy_count, 100000));
	child_end(c.pid);
}

struct signal_sender {
	pid_t pid, tid;
	int count;
	atomic_int sent;
};

static void *send_signals(void *arg)
{
	struct signal_sender *s = arg;

	for (int i = 0; i < s->count; i++) {
		if (syscall(SYS_tgkill, s->pid, s->tid, SIGRTMIN) == 0)
			atomic_fetch_add(&s->sent, 1);
		nanosleep(&(struct timespec){0, 200000}, NULL);
	}
	return NULL;
}

/* Threads born and dying, and signals arriving, all while attached. */
static void test_busy_life(void)
{
	struct target_spec spec = {.sleepers = 2,
				   .busy = true,
				   .spawner = true,
				   .sig_catcher = true};
	struct signal_sender sender = {.count = 300};
	struct target *target = NULL;
	pthread_t sender_thread;
	uint64_t deadline;
	struct child c;
	int r;

	spawn_target(&spec, &c);
	sender.pid = c.pid;
	sender.tid = find_task(c.pid, "sigcatcher");
	if (sender.tid < 0)
		hard_fail("no sigcatcher thread");
	r = target_attach(c.pid, NULL, &target);
	CHECK(r == 0);
	if (pthread_create(&sender_thread, NULL, send_signals, &sender) != 0)
		hard_fail("pthread_create");
	for (int round = 0; r == 0 && round < 30; round++) {
		struct sample_set set = {0};

		CHECK(target_snapshot(target, &set) == 0);
		/* main sleepers busy spawner catcher, perhaps a newborn */
		CHECK(set.n >= 5);
		for (size_t i = 0; i < set.n; i++) {
			const struct raw_sample *s = &set.samples[i];

			CHECK(s->captured || set.lost > 0);
			CHECK(!s->captured || s->stack_start == s->regs.rsp);
		}
		sample_set_release(&set);
	}
	pthread_join(sender_thread, NULL);
	target_detach(target);
	CHECK(all_untraced(c.pid, 0, true));
	CHECK(counter_advances(&c.shared->spawn_count, 100));
	deadline = now_ms() + DEADLINE_MS;
	while (atomic_load(&c.shared->signal_count) <
		       (unsigned long)atomic_load(&sender.sent) &&
	       now_ms() < deadline)
		nap();
	CHECK(atomic_load(&c.shared->signal_count) ==
	      (unsigned long)atomic_load(&sender.sent));
	child_end(c.pid);
}

/* Another tracer holds the target: EPERM, and the reason names it. */
static void test_eperm(void)
{
	struct target_spec spec = {.sleepers = 1};
	struct target *target = NULL;
	char why[256], expect[128];
	struct child c;
	pid_t tracer;
	int fds[2];
	char ok;

	spawn_target(&spec, &c);
	if (pipe2(fds, O_CLOEXEC) < 0)
		hard_fail("pipe2");
	tracer = fork();
	if (tracer < 0)
		hard_fail("fork");
	if (tracer == 0) {
		prctl(PR_SET_NAME, "other-tracer");
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (ptrace(PTRACE_SEIZE, c.pid, 0, 0) < 0)
			_exit(5);
		(void)!write(fds[1], "k", 1);
		for (;;)
			pause();
	}
	child_register(tracer);
	close(fds[1]);
	if (read(fds[0], &ok, 1) != 1)
		hard_fail("other tracer");
	close(fds[0]);
	CHECK(target_attach(c.pid, NULL, &target) == -EPERM);
	snprintf(expect, sizeof(expect), "already traced by pid %d (%s)",
		 (int)tracer, "other-tracer");
	target_explain_eperm(c.pid, why, sizeof(why));
	if (strcmp(why, expect) != 0)
		fprintf(stderr, "explain: '%s', want '%s'\n", why, expect);
	CHECK(strcmp(why, expect) == 0);
	child_end(tracer);
	child_end(c.pid);
}

static void test_refusals(void)
{
	struct target_spec spec = {.sleepers = 2};
	struct target *target = NULL;
	char path[64], buf[512], *p;
	struct child c;
	siginfo_t info;
	pid_t zombie, tid = -1;

	/* A thread id names its process. */
	spawn_target(&spec, &c);
	tid = find_task(c.pid, "sleeper");
	CHECK(tid > 0 && tid != c.pid);
	CHECK(target_attach(tid, NULL, &target) == 0);
	if (target) {
		CHECK(target_pid(target) == c.pid);
		target_detach(target);
		target = NULL;
	}
	CHECK(all_untraced(c.pid, 0, true));
	child_end(c.pid);

	/* A reaped child's pid: no such process. */
	CHECK(target_attach(c.pid, NULL, &target) == -ESRCH);
	CHECK(target_attach(0, NULL, &target) == -ESRCH);

	zombie = fork();
	if (zombie < 0)
		hard_fail("fork");
	if (zombie == 0)
		_exit(0);
	child_register(zombie);
	/* Wait for the exit without reaping it. */
	if (waitid(P_PID, (id_t)zombie, &info, WEXITED | WNOWAIT) < 0)
		hard_fail("waitid");
	CHECK(target_attach(zombie, NULL, &target) == -ECHILD);
	child_end(zombie);

	/* pid 2 is kthreadd where this runs in the root pid namespace. */
	snprintf(path, sizeof(path), "/proc/2/stat");
	if (read_small(path, buf, sizeof(buf)) == 0 &&
	    (p = strstr(buf, "(kthreadd)")))
		CHECK(target_attach(2, NULL, &target) == -EINVAL);
	CHECK(target == NULL);
	target_detach(NULL);
}

static bool wait_task_state(pid_t pid, pid_t tid, char state)
{
	uint64_t deadline = now_ms() + DEADLINE_MS;
	struct task_view v;

	while (!view_task(pid, tid, &v) || v.state != state) {
		if (now_ms() > deadline)
			return false;
		nap();
	}
	return true;
}

/* The main thread has exited, its siblings live on: still a process. */
static void test_zombie_leader(void)
{
	struct target_spec spec = {.sleepers = 2, .leader_exits = true};
	struct target *target = NULL;
	struct child c;

	spawn_target(&spec, &c);
	if (!wait_task_state(c.pid, c.pid, 'Z'))
		hard_fail("leader did not exit");
	CHECK(target_attach(c.pid, NULL, &target) == 0);
	if (target) {
		struct sample_set set = {0};

		CHECK(target_snapshot(target, &set) == 0);
		CHECK(set.n == (size_t)c.nthreads - 1);
		for (size_t i = 0; i < set.n; i++)
			CHECK(set.samples[i].captured &&
			      set.samples[i].info.tid != c.pid);
		sample_set_release(&set);
		target_detach(target);
	}
	CHECK(all_untraced(c.pid, 0, true));
	child_end(c.pid);
}

/* A thread execs while attached: the next snapshot sees the new image. */
static void test_exec(void)
{
	struct target_spec spec = {.sleepers = 2};
	struct target *target = NULL;
	uint64_t deadline;
	struct task_view v;
	struct child c;
	int trigger[2];

	if (pipe2(trigger, O_CLOEXEC) < 0)
		hard_fail("pipe2");
	spec.exec_fd = trigger[0];
	spawn_target(&spec, &c);
	close(trigger[0]);
	CHECK(target_attach(c.pid, NULL, &target) == 0);
	if (!target) {
		close(trigger[1]);
		child_end(c.pid);
		return;
	}
	if (write(trigger[1], "x", 1) != 1)
		hard_fail("write");
	close(trigger[1]);
	/* The exec waits for cprof to reap the threads it ends, so keep
	 * taking snapshots until one shows only the new image.  While the
	 * kernel swaps the image, /proc may refuse a read (the maps of a
	 * process mid-exec): such a snapshot fails, the next one may not. */
	deadline = now_ms() + DEADLINE_MS;
	bool done = false;
	while (!done && now_ms() < deadline) {
		struct sample_set set = {0};

		if (target_snapshot(target, &set) == 0)
			done = set.n == 1 && set.samples[0].info.tid == c.pid &&
			       set.samples[0].captured &&
			       strcmp(set.samples[0].info.name, "sleep") == 0;
		sample_set_release(&set);
		if (!done)
			nap();
	}
	CHECK(done);
	CHECK(view_task(c.pid, c.pid, &v) && strcmp(v.comm, "sleep") == 0);
	CHECK(target_exec_count(target) == 1);
	target_detach(target);
	CHECK(all_untraced(c.pid, 0, true));
	CHECK(wait_task_state(c.pid, c.pid, 'S'));
	child_end(c.pid);
}

/* ---- sampling while seized (cprof record) ---- */

static unsigned long eintr_total(const struct child *c, int epollers)
{
	unsigned long sum = 0;

	for (int i = 0; i < epollers; i++)
		sum += atomic_load(&c->shared->eintr[i]);
	return sum;
}

/* Every epoller saw exactly `want` EINTR returns once they settle. */
static bool eintr_each(const struct child *c, int epollers, unsigned long want)
{
	uint64_t deadline = now_ms() + DEADLINE_MS;

	while (eintr_total(c, epollers) < want * (unsigned long)epollers &&
	       now_ms() < deadline)
		nap();
	/* Give a second, late wakeup the time to show. */
	nanosleep(&(struct timespec){0, 30000000}, NULL);
	for (int i = 0; i < epollers; i++) {
		if (atomic_load(&c->shared->eintr[i]) != want) {
			fprintf(stderr, "epoller %d: %lu EINTR, want %lu\n", i,
				atomic_load(&c->shared->eintr[i]), want);
			return false;
		}
	}
	return true;
}

/* threads: each thread is stopped once, detached from its capture. */
static void test_snapshot_detach(void)
{
	struct target_spec spec = {.epollers = 4, .sleepers = 1, .busy = true};
	struct target *target = NULL;
	struct sample_set set = {0};
	struct child c;
	int r;

	spawn_target(&spec, &c);
	wait_parked(c.pid);
	CHECK(target_attach(c.pid, NULL, &target) == 0);
	if (!target) {
		child_end(c.pid);
		return;
	}
	r = target_snapshot_detach(target, &set);
	CHECK(r == 0);
	if (r == 0)
		check_set(&set, c.nthreads);
	sample_set_release(&set);
	CHECK(all_untraced(c.pid, 0, true));
	target_detach(target);
	CHECK(eintr_each(&c, spec.epollers, 1));
	CHECK(all_untraced(c.pid, 0, true));
	CHECK(counter_advances(&c.shared->busy_count, 100000));
	child_end(c.pid);
}

/* cpu mode: 200 ticks stop the busy thread, never a sleeping one. */
static void test_sample_running(void)
{
	struct target_spec spec = {.epollers = 3, .sleepers = 1, .busy = true};
	struct target *target = NULL;
	unsigned busy_captured = 0;
	struct child c;

	spawn_target(&spec, &c);
	wait_parked(c.pid);
	CHECK(target_attach(c.pid, NULL, &target) == 0);
	for (int tick = 0; target && tick < 200; tick++) {
		struct sample_set set = {0};

		CHECK(target_sample(target, CAPTURE_RUNNING, &set) == 0);
		CHECK(set.n == (size_t)c.nthreads);
		for (size_t i = 0; i < set.n; i++) {
			const struct raw_sample *s = &set.samples[i];

			CHECK(s->info.name[0] && s->info.wchan[0] == '\0');
			CHECK(!s->unchanged);
			if (!s->captured)
				continue;
			CHECK(name_is(s, "busy"));
			busy_captured++;
		}
		sample_set_release(&set);
		nanosleep(&(struct timespec){0, 500000}, NULL);
	}
	/* Runnable at nearly every tick, even when the CPUs are shared. */
	CHECK(busy_captured >= 100);
	CHECK(eintr_total(&c, spec.epollers) == 0);
	CHECK(none_stopped(c.pid));
	target_detach(target);
	CHECK(all_untraced(c.pid, 0, true));
	child_end(c.pid);
}

/* One wall-mode tick after the threads settle: how many were stopped,
 * and whether the named one was reported unchanged. */
static size_t tick_changed(struct target *target, pid_t pid, const char *name,
			   int *ret_named_unchanged)
{
	struct sample_set set = {0};
	size_t stopped = 0;

	wait_parked(pid);
	CHECK(target_sample(target, CAPTURE_CHANGED, &set) == 0);
	for (size_t i = 0; i < set.n; i++) {
		const struct raw_sample *s = &set.samples[i];

		CHECK(!(s->captured && s->unchanged));
		stopped += s->captured;
		if (name && name_is(s, name))
			*ret_named_unchanged = s->unchanged;
		if (name_is(s, "busy"))
			CHECK(s->captured);
	}
	sample_set_release(&set);
	return stopped;
}

/* wall mode: a sleeper is stopped once per sleep, then reported
 * unchanged; one that ran since is captured again. */
static void test_sample_changed(void)
{
	struct target_spec spec = {.epollers = 3,
				   .sleepers = 1,
				   .busy = true,
				   .sig_catcher = true};
	struct target *target = NULL;
	int unchanged = -1;
	pid_t catcher;
	struct child c;

	spawn_target(&spec, &c);
	wait_parked(c.pid);
	catcher = find_task(c.pid, "sigcatcher");
	CHECK(target_attach(c.pid, NULL, &target) == 0);
	if (!target || catcher < 0) {
		target_detach(target);
		child_end(c.pid);
		return;
	}
	CHECK(tick_changed(target, c.pid, NULL, &unchanged) ==
	      (size_t)c.nthreads);
	for (int tick = 0; tick < 50; tick++)
		CHECK(tick_changed(target, c.pid, "sigcatcher", &unchanged) ==
		      1);
	CHECK(unchanged == 1);
	CHECK(eintr_each(&c, spec.epollers, 1));
	/* The catcher runs its handler, then sleeps at the same place. */
	syscall(SYS_tgkill, c.pid, catcher, SIGRTMIN);
	for (uint64_t deadline = now_ms() + DEADLINE_MS;
	     atomic_load(&c.shared->signal_count) == 0 && now_ms() < deadline;)
		CHECK(target_poll(target) == 0);
	CHECK(atomic_load(&c.shared->signal_count) == 1);
	CHECK(tick_changed(target, c.pid, "sigcatcher", &unchanged) == 2);
	CHECK(unchanged == 0);
	CHECK(tick_changed(target, c.pid, "sigcatcher", &unchanged) == 1);
	CHECK(unchanged == 1);
	target_detach(target);
	CHECK(all_untraced(c.pid, 0, true));
	child_end(c.pid);
}

/* SIGCHLD read from a signalfd, as cmd/ does. */
static int sigchld_open(sigset_t *ret_saved)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &mask, ret_saved);
	return signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void sigchld_close(int fd, const sigset_t *saved)
{
	struct signalfd_siginfo info;

	while (read(fd, &info, sizeof(info)) == sizeof(info))
		;
	close(fd);
	pthread_sigmask(SIG_SETMASK, saved, NULL);
}

/* Calls target_poll on every SIGCHLD until *counter reaches want or the
 * target is gone; returns the last target_poll result. */
static int poll_on_sigchld(struct target *target, int fd, atomic_ulong *counter,
			   unsigned long want, uint64_t ms)
{
	uint64_t deadline = now_ms() + ms;
	int r = 0;

	while ((!counter || atomic_load(counter) < want) && r == 0 &&
	       now_ms() < deadline) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		struct signalfd_siginfo info;
		bool sigchld = false;

		if (poll(&pfd, 1, 10) < 0 && errno != EINTR)
			hard_fail("poll");
		while (read(fd, &info, sizeof(info)) == sizeof(info))
			sigchld = true;
		if (sigchld)
			r = target_poll(target);
	}
	return r;
}

/* A signal for the target is passed on when SIGCHLD says it came, not at
 * the next sample: no sample is taken here at all. */
static void test_poll_signals(void)
{
	struct target_spec spec = {.sleepers = 1, .sig_catcher = true};
	struct target *target = NULL;
	sigset_t saved;
	uint64_t start;
	pid_t catcher;
	struct child c;
	int fd;

	spawn_target(&spec, &c);
	catcher = find_task(c.pid, "sigcatcher");
	fd = sigchld_open(&saved);
	if (fd < 0 || catcher < 0)
		hard_fail("signalfd");
	CHECK(target_attach(c.pid, NULL, &target) == 0);
	if (!target) {
		sigchld_close(fd, &saved);
		child_end(c.pid);
		return;
	}
	/* Unanswered, the signal holds the thread in its delivery stop. */
	syscall(SYS_tgkill, c.pid, catcher, SIGUSR1);
	CHECK(!counter_advances_within(&c.shared->usr1_count, 1, 30));
	CHECK(poll_on_sigchld(target, fd, &c.shared->usr1_count, 1, 1000) == 0);
	CHECK(atomic_load(&c.shared->usr1_count) == 1);
	for (int i = 0; i < 20; i++) {
		start = now_ns();
		syscall(SYS_tgkill, c.pid, catcher, SIGUSR1);
		CHECK(poll_on_sigchld(target, fd, &c.shared->usr1_count,
				      (unsigned long)i + 2, 1000) == 0);
		CHECK(atomic_load(&c.shared->usr1_count) ==
		      (unsigned long)i + 2);
		if (i == 19)
			printf("  signal passed on after %.1f us\n",
			       (now_ns() - start) / 1e3);
	}
	/* A stop between samples does not wait for the next one either. */
	kill(c.pid, SIGSTOP);
	poll_on_sigchld(target, fd, NULL, 0, 100);
	CHECK(wait_task_state(c.pid, catcher, 't'));
	kill(c.pid, SIGCONT);
	/* SIGCONT brings a stop per thread (the group-stop's end, then the
	 * signal itself), each answered as it comes: wait until a few polls
	 * in a row find every thread free. */
	for (uint64_t deadline = now_ms() + DEADLINE_MS, free_polls = 0;
	     free_polls < 5 && now_ms() < deadline;) {
		poll_on_sigchld(target, fd, NULL, 0, 10);
		free_polls = task_states_free(c.pid) ? free_polls + 1 : 0;
	}
	CHECK(none_stopped(c.pid));
	target_detach(target);
	sigchld_close(fd, &saved);
	CHECK(all_untraced(c.pid, 0, true));
	child_end(c.pid);
}

/* Threads born and an exec handled by target_poll alone. */
static void test_poll_exec(void)
{
	struct target_spec spec = {.sleepers = 1};
	struct target *target = NULL;
	struct sample_set set = {0};
	int trigger[2], fd;
	sigset_t saved;
	struct child c;

	if (pipe2(trigger, O_CLOEXEC) < 0)
		hard_fail("pipe2");
	spec.exec_fd = trigger[0];
	spawn_target(&spec, &c);
	close(trigger[0]);
	fd = sigchld_open(&saved);
	if (fd < 0)
		hard_fail("signalfd");
	CHECK(target_attach(c.pid, NULL, &target) == 0);
	if (!target) {
		close(trigger[1]);
		sigchld_close(fd, &saved);
		child_end(c.pid);
		return;
	}
	CHECK(target_exec_count(target) == 0);
	CHECK(target_thread_count(target) == (size_t)c.nthreads);
	if (write(trigger[1], "x", 1) != 1)
		hard_fail("write");
	close(trigger[1]);
	for (uint64_t deadline = now_ms() + DEADLINE_MS;
	     target_exec_count(target) == 0 && now_ms() < deadline;)
		CHECK(poll_on_sigchld(target, fd, NULL, 0, 10) == 0);
	CHECK(target_exec_count(target) == 1);
	for (uint64_t deadline = now_ms() + DEADLINE_MS;
	     target_thread_count(target) != 1 && now_ms() < deadline;)
		CHECK(poll_on_sigchld(target, fd, NULL, 0, 10) == 0);
	CHECK(target_thread_count(target) == 1);
	CHECK(target_sample(target, CAPTURE_ALL, &set) == 0);
	CHECK(set.n == 1 && set.samples[0].captured &&
	      strcmp(set.samples[0].info.name, "sleep") == 0);
	sample_set_release(&set);
	target_detach(target);
	sigchld_close(fd, &saved);
	CHECK(all_untraced(c.pid, 0, true));
	child_end(c.pid);
}

/* The status line's hex mask, e.g. "SigBlk:\t0000000000000000". */
static unsigned long long status_mask(pid_t pid, const char *field)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_small(path, buf, sizeof(buf)) < 0 || !(p = strstr(buf, field)))
		return ~0ull;
	return strtoull(p + strlen(field), NULL, 16);
}

/* Launch: traced from the start, with its own signal state. */
static void test_launch(void)
{
	char *sleep_argv[] = {"sleep", "1000", NULL};
	struct target *target = NULL;
	struct sample_set set = {0};
	sigset_t block, saved;
	int status, r;
	pid_t pid;

	/* What cprof sets up for itself must not reach the command. */
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &block, &saved);
	signal(SIGHUP, SIG_IGN);
	r = target_launch(sleep_argv, NULL, &target);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	signal(SIGHUP, SIG_DFL);
	CHECK(r == 0);
	if (r < 0)
		return;
	pid = target_pid(target);
	child_register(pid);
	CHECK(target_exec_count(target) == 1);
	CHECK(target_exit_status(target, &status) == -ECHILD);
	CHECK(status_mask(pid, "SigBlk:") == 0);
	CHECK(status_mask(pid, "SigIgn:") == 0);
	CHECK(target_sample(target, CAPTURE_ALL, &set) == 0);
	CHECK(set.n == 1 && set.samples[0].captured &&
	      strcmp(set.samples[0].info.name, "sleep") == 0);
	sample_set_release(&set);
	target_detach(target);
	CHECK(all_untraced(pid, 0, true));
	child_end(pid);
}

/* Launch: the command's exit status, and commands that cannot run. */
static void test_launch_exit(void)
{
	char *exit3[] = {"sh", "-c", "exit 3", NULL};
	char *missing[] = {"cprof-test-no-such-command", NULL};
	char *not_exec[] = {"/dev/null", NULL};
	struct target *target = NULL;
	int status = -1, fd, r;
	sigset_t saved;

	fd = sigchld_open(&saved);
	if (fd < 0)
		hard_fail("signalfd");
	r = target_launch(exit3, NULL, &target);
	CHECK(r == 0);
	if (r == 0) {
		child_register(target_pid(target));
		CHECK(poll_on_sigchld(target, fd, NULL, 0, DEADLINE_MS) ==
		      -ESRCH);
		CHECK(target_exit_status(target, &status) == 0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
		/* Reaped already: no zombie is left behind. */
		CHECK(waitpid(target_pid(target), NULL, __WALL | WNOHANG) < 0 &&
		      errno == ECHILD);
		CHECK(target_sample(target, CAPTURE_ALL,
				    &(struct sample_set){0}) == -ESRCH);
		child_end(target_pid(target));
		target_detach(target);
	}
	sigchld_close(fd, &saved);
	target = NULL;
	CHECK(target_launch(missing, NULL, &target) == -ENOENT);
	CHECK(target_launch(not_exec, NULL, &target) == -EACCES);
	CHECK(target == NULL);
	CHECK(waitpid(-1, NULL, __WALL | WNOHANG) < 0 && errno == ECHILD);
}

struct tracer_job {
	pid_t pid, catcher;
	struct target *target;
	int ticks;
	atomic_ulong *usr1_count;
};

/* The tracer's thread: attach, a few wall ticks, a signal left unanswered
 * in its delivery stop, then it ends without detaching. */
static void *tracer_thread(void *arg)
{
	struct tracer_job *job = arg;

	if (target_attach(job->pid, NULL, &job->target) < 0)
		return NULL;
	for (int i = 0; i < 5; i++) {
		struct sample_set set = {0};

		wait_parked(job->pid);
		if (target_sample(job->target, CAPTURE_CHANGED, &set) == 0)
			job->ticks++;
		sample_set_release(&set);
	}
	syscall(SYS_tgkill, job->pid, job->catcher, SIGUSR1);
	/* Held in its delivery stop until the tracer lets go. */
	if (counter_advances_within(job->usr1_count, 1, 30))
		job->ticks = -1;
	return NULL;
}

/* A tracer thread that ends lets every thread go without a stop. */
static void test_abandon(void)
{
	struct target_spec spec = {.epollers = 3, .sig_catcher = true};
	struct tracer_job job = {0};
	pthread_t thread;
	struct child c;

	spawn_target(&spec, &c);
	wait_parked(c.pid);
	job.pid = c.pid;
	job.catcher = find_task(c.pid, "sigcatcher");
	job.usr1_count = &c.shared->usr1_count;
	if (job.catcher < 0 ||
	    pthread_create(&thread, NULL, tracer_thread, &job) != 0)
		hard_fail("tracer thread");
	pthread_join(thread, NULL);
	CHECK(job.target && job.ticks == 5);
	target_abandon(job.target);
	CHECK(counter_reaches(&c.shared->usr1_count, 1));
	CHECK(all_untraced(c.pid, 0, true));
	CHECK(eintr_each(&c, spec.epollers, 1));
	child_end(c.pid);
}

/* ---- figures ---- */

static void bench_print(const struct sample_set *set, const char *what,
			unsigned batch, uint64_t wall)
{
	uint64_t max_pause = 0, sum_pause = 0;

	for (size_t i = 0; i < set->n; i++) {
		uint64_t pause = set->samples[i].pause_ns;

		sum_pause += pause;
		if (pause > max_pause)
			max_pause = pause;
	}
	printf("threads %zu batch %u: %s %.2f ms, pause max %.1f us mean %.1f "
	       "us, lost %zu\n",
	       set->n, batch, what, wall / 1e6, max_pause / 1e3,
	       set->n ? sum_pause / 1e3 / set->n : 0.0, set->lost);
}

/* Five snapshots, or with detach one pass that also lets go, as cprof
 * threads does; attach and detach times included. */
static int bench(int nthreads, unsigned batch, bool detach)
{
	struct target_spec spec = {.sleepers = nthreads - 1};
	struct target *target = NULL;
	uint64_t start;
	struct child c;
	int r;

	spawn_target(&spec, &c);
	wait_parked(c.pid);
	start = now_ns();
	r = target_attach(c.pid, &(struct target_options){.batch_size = batch},
			  &target);
	if (r < 0) {
		fprintf(stderr, "attach: %s\n", strerror(-r));
		child_end(c.pid);
		return EXIT_HARD;
	}
	printf("threads %d: attach %.2f ms\n", nthreads,
	       (now_ns() - start) / 1e6);
	for (int round = 0; round < (detach ? 1 : 5); round++) {
		struct sample_set set = {0};

		start = now_ns();
		r = detach ? target_snapshot_detach(target, &set)
			   : target_snapshot(target, &set);
		if (r < 0)
			break;
		bench_print(&set, detach ? "snapshot+detach" : "snapshot",
			    batch, now_ns() - start);
		sample_set_release(&set);
	}
	start = now_ns();
	target_detach(target);
	printf("threads %d: detach %.2f ms\n", nthreads,
	       (now_ns() - start) / 1e6);
	r = all_untraced(c.pid, 0, true) ? EXIT_PASS : EXIT_FAIL;
	child_end(c.pid);
	return r;
}

static void run_case(const char *name, void (*fn)(void))
{
	int before = failures;
	uint64_t start = now_ms();

	fn();
	printf("%s: %s (%llu ms)\n", failures == before ? "ok" : "FAIL", name,
	       (unsigned long long)(now_ms() - start));
	fflush(stdout);
}

static bool can_ptrace(void)
{
	pid_t pid = fork();
	int status, ok;

	if (pid < 0)
		hard_fail("fork");
	if (pid == 0) {
		pause();
		_exit(0);
	}
	ok = ptrace(PTRACE_SEIZE, pid, 0, 0) == 0;
	kill(pid, SIGKILL);
	waitpid(pid, &status, __WALL);
	return ok;
}

int main(int argc, char **argv)
{
	signal(SIGALRM, on_alarm);
	alarm(TEST_TIMEOUT_S);
	if (!can_ptrace()) {
		fprintf(stderr, "ptrace not permitted here\n");
		return EXIT_SKIP;
	}
	if (argc >= 3 && strcmp(argv[1], "--bench") == 0) {
		char *end;
		long n = strtol(argv[2], &end, 10);
		long batch = argc >= 4 ? strtol(argv[3], NULL, 10) : 0;

		if (*end || n < 1 || n > 100000 || batch < 0)
			return EXIT_HARD;
		return bench((int)n, (unsigned)batch,
			     argc >= 5 && strcmp(argv[4], "detach") == 0);
	}
	run_case("running target", test_running_target);
	run_case("stopped target", test_stopped_target);
	run_case("stop and continue while attached", test_stop_while_attached);
	run_case("threads born, signals sent", test_busy_life);
	run_case("another tracer", test_eperm);
	run_case("refusals", test_refusals);
	run_case("zombie leader", test_zombie_leader);
	run_case("exec", test_exec);
	run_case("snapshot and detach: one stop per thread",
		 test_snapshot_detach);
	run_case("cpu ticks stop running threads only", test_sample_running);
	run_case("wall ticks skip unchanged threads", test_sample_changed);
	run_case("signals passed on between ticks", test_poll_signals);
	run_case("exec followed between ticks", test_poll_exec);
	run_case("tracer thread ends: abandon", test_abandon);
	run_case("launch", test_launch);
	run_case("launch: exit status and failures", test_launch_exit);
	if (failures) {
		fprintf(stderr, "%d checks failed\n", failures);
		return EXIT_FAIL;
	}
	printf("attach: all checks passed\n");
	return EXIT_PASS;
}
