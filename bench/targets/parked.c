/* parked: a target for bench/threads.sh that measures what a stack snapshot
 * costs it.
 *
 *   parked N STATEFILE [GAPTIMERS]
 *
 * The process runs N threads in all (the main thread included):
 *   - GAPTIMERS "gap timer" threads (default 1, at most 2) spin reading
 *     CLOCK_MONOTONIC and keep the longest gap between two consecutive
 *     reads.  A gap is either a stop (the thread was taken off the CPU
 *     asleep: a ptrace stop is a voluntary context switch, and a spinning
 *     thread makes no other) or scheduling noise (it was preempted: an
 *     involuntary switch), told apart by getrusage(RUSAGE_THREAD);
 *   - every other thread blocks in epoll_wait on a private epoll fd that
 *     never has an event, with no timeout, and counts each return: nothing
 *     is ever ready, so every return (EINTR after a ptrace stop) is a
 *     spurious wakeup.
 * The first gap timer is the first thread created, the second the last, so
 * a tool that stops threads in tid order is seen at both ends.
 *
 * The counters live in STATEFILE (created, 4 KiB, shared mapping), as
 * native-endian uint64 words, so the bench reads and resets them while the
 * target runs, without signalling it:
 *   word 0  magic PARKED_MAGIC
 *   word 1  thread count N
 *   word 2  spurious epoll_wait wakeups                  (reset: write 0)
 *   word 3  longest stop of a gap timer, in ns           (reset: write 0)
 *   word 4  longest gap of a gap timer, any cause, in ns (reset: write 0)
 *   word 5  gap timer loop iterations / 2^16             (proves they run)
 * Once every epoll thread sleeps in epoll_wait it prints "ready PID".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PARKED_MAGIC 0x64656b726170ULL /* "parked" */
#define STATE_SIZE   4096
#define MAX_THREADS  100000

enum {
	W_MAGIC,
	W_THREADS,
	W_WAKEUPS,
	W_MAXSTOP,
	W_MAXGAP,
	W_SPINS
};

#define NOIPA	     __attribute__((noipa))
#define KEEP_FRAME() __asm__ volatile("" ::: "memory")

static volatile uint64_t *state;
static int *tids;
static int nparked;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void record_max(int word, uint64_t v)
{
	uint64_t max = __atomic_load_n(&state[word], __ATOMIC_RELAXED);

	while (v > max &&
	       !__atomic_compare_exchange_n(&state[word], &max, v, 0,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

static long voluntary_switches(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_nvcsw;
}

/* Each pass reads the clock, then the voluntary switch count.  A stop seen
 * by the count at pass k happened after the count was read at pass k-1,
 * itself after the clock was read at pass k-1: its time is in the gap ending
 * at pass k or, if it fell between the clock and count reads of pass k, in
 * the gap ending at pass k+1.  Both are counted as stops. */
NOIPA static void gap_spin(void)
{
	uint64_t prev = now_ns(), n = 0;
	long nv = voluntary_switches();
	int stopped = 0;

	for (;;) {
		uint64_t t = now_ns(), gap = t - prev;
		long v = voluntary_switches();

		if (v != nv) {
			nv = v;
			stopped = 2;
		}
		if (stopped) {
			record_max(W_MAXSTOP, gap);
			stopped--;
		}
		record_max(W_MAXGAP, gap);
		prev = t;
		if ((++n & ((1u << 16) - 1)) == 0)
			__atomic_fetch_add(&state[W_SPINS], 1,
					   __ATOMIC_RELAXED);
	}
}

NOIPA static void park_epoll(int ep)
{
	struct epoll_event ev;

	for (;;) {
		epoll_wait(ep, &ev, 1, -1);
		__atomic_fetch_add(&state[W_WAKEUPS], 1, __ATOMIC_RELAXED);
	}
}

static void *gap_timer_main(void *arg)
{
	char name[16];

	snprintf(name, sizeof(name), "gap-%d", (int)(intptr_t)arg);
	pthread_setname_np(pthread_self(), name);
	gap_spin();
	KEEP_FRAME();
	return NULL;
}

static void *epoll_main(void *arg)
{
	int slot = (int)(intptr_t)arg;
	char name[16];
	int ep;

	snprintf(name, sizeof(name), "epoll-%d", slot);
	pthread_setname_np(pthread_self(), name);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		perror("parked: epoll_create1");
		exit(2);
	}
	__atomic_store_n(&tids[slot], gettid(), __ATOMIC_RELEASE);
	__atomic_fetch_add(&nparked, 1, __ATOMIC_RELEASE);
	park_epoll(ep);
	KEEP_FRAME();
	return NULL;
}

/* True once TID sleeps in epoll_wait, per /proc/self/task/TID/syscall. */
static int in_epoll_wait(int tid)
{
	char path[64], buf[64];
	ssize_t n;
	long nr;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	nr = strtol(buf, NULL, 10);
#ifdef SYS_epoll_wait
	if (nr == SYS_epoll_wait)
		return 1;
#endif
	return nr == SYS_epoll_pwait;
}

static void wait_parked(int nepoll)
{
	struct timespec tick = {0, 1000000};
	int i;

	while (__atomic_load_n(&nparked, __ATOMIC_ACQUIRE) < nepoll)
		nanosleep(&tick, NULL);
	for (i = 0; i < nepoll; i++)
		while (!in_epoll_wait(tids[i]))
			nanosleep(&tick, NULL);
}

static void *map_state(const char *path, int nthreads)
{
	void *p;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, STATE_SIZE) < 0) {
		fprintf(stderr, "parked: cannot create '%s': %s\n", path,
			strerror(errno));
		exit(2);
	}
	p = mmap(NULL, STATE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		perror("parked: mmap");
		exit(2);
	}
	((uint64_t *)p)[W_THREADS] = (uint64_t)nthreads;
	((uint64_t *)p)[W_MAGIC] = PARKED_MAGIC;
	return p;
}

static void start(void *(*fn)(void *), intptr_t arg)
{
	pthread_t t;
	int err = pthread_create(&t, NULL, fn, (void *)arg);

	if (err) {
		fprintf(stderr, "parked: pthread_create: %s\n", strerror(err));
		exit(2);
	}
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	long n, gaps = 1;
	char *end;
	int nepoll, i;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: parked N STATEFILE [GAPTIMERS]\n");
		return 64;
	}
	n = strtol(argv[1], &end, 10);
	if (*end || n < 1 || n > MAX_THREADS) {
		fprintf(stderr, "parked: bad thread count '%s'\n", argv[1]);
		return 64;
	}
	if (argc == 4) {
		gaps = strtol(argv[3], &end, 10);
		if (*end || gaps < 0 || gaps > 2 || gaps >= n) {
			fprintf(stderr, "parked: bad gap timer count '%s'\n",
				argv[3]);
			return 64;
		}
	}
	/* One epoll fd per thread: lift the soft fd limit to the hard one. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	state = map_state(argv[2], (int)n);

	/* The main thread parks too: n - 1 threads to create. */
	nepoll = (int)(n - 1 - gaps);
	tids = calloc((size_t)nepoll + 1, sizeof(*tids));
	if (!tids)
		return 2;
	if (gaps > 0)
		start(gap_timer_main, 0);
	for (i = 0; i < nepoll; i++)
		start(epoll_main, i);
	if (gaps > 1)
		start(gap_timer_main, 1);
	wait_parked(nepoll);

	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	park_epoll(epoll_create1(EPOLL_CLOEXEC));
	KEEP_FRAME();
	return 0;
}
