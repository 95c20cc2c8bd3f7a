/* cpu-split: a known split of CPU time over three functions, for the
 * accuracy tests of cprof record.
 *
 * usage: cpu-split [THREADS [SECONDS]]
 *
 * THREADS worker threads (default 1), each called "split-N", spend their
 * CPU in work_a, work_b and work_c, about 50%, 30% and 20%: each chunk of
 * work goes to one of them, chosen at random with those odds, and runs a
 * random number of iterations, so no sampling period can line up with the
 * chunks.  Every chunk is timed with the thread's own CPU clock, so the
 * target knows the true split whatever the scheduler does.
 *
 * Once every worker is counting it prints "ready PID".  Each SIGUSR1 then
 * prints the totals so far:
 *   report SEQ total NS work_a NS work_b NS work_c NS
 * where total is the CPU time of the workers and SEQ counts the reports
 * from 1.  With SECONDS, it exits after that long (wall clock) with a last
 * report (SEQ 0); SIGUSR2 makes it do so at once, with or without.
 * $CPROF_TARGET_COUNTER names the busy counter file, one count per chunk.
 */
#include "target.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 16
#define NFUNCS	    3

/* The CPU nanoseconds spent in each function, and in all, per worker;
 * written by the worker after each chunk, read by the reports. */
struct worker {
	uint64_t ns[NFUNCS];
	uint64_t total;
	uint64_t start;
};

static struct worker workers[MAX_WORKERS];
static int nworkers = 1;
/* Iterations of the work loop in about a millisecond, set by calibrate(). */
static uint64_t chunk_iterations;

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64: the work itself, and the random choices.  A macro, not an
 * inline function: the work's samples must land in work_a, work_b and
 * work_c themselves, not in an inlined frame of their own. */
#define STEP(x)                                                                \
	do {                                                                   \
		(x) ^= (x) << 13;                                              \
		(x) ^= (x) >> 7;                                               \
		(x) ^= (x) << 17;                                              \
	} while (0)

SPACER(split_spacer0)

/* The three functions share one loop body, so an iteration costs the same
 * in each; the empty asm keeps the loop a loop. */
NOIPA uint64_t work_a(uint64_t n, uint64_t x);
NOIPA uint64_t work_a(uint64_t n, uint64_t x)
{
	for (uint64_t i = 0; i < n; i++) {
		STEP(x);
		__asm__ volatile("" : "+r"(x));
	}
	return x;
}

SPACER(split_spacer1)

NOIPA uint64_t work_b(uint64_t n, uint64_t x);
NOIPA uint64_t work_b(uint64_t n, uint64_t x)
{
	for (uint64_t i = 0; i < n; i++) {
		STEP(x);
		__asm__ volatile("" : "+r"(x));
	}
	return x;
}

SPACER(split_spacer2)

NOIPA uint64_t work_c(uint64_t n, uint64_t x);
NOIPA uint64_t work_c(uint64_t n, uint64_t x)
{
	for (uint64_t i = 0; i < n; i++) {
		STEP(x);
		__asm__ volatile("" : "+r"(x));
	}
	return x;
}

SPACER(split_spacer3)

/* Runs chunks for ever: function by the odds 50/30/20, length uniform in
 * [0.25, 1.75] of chunk_iterations. */
NOIPA NORETURN void split_loop(struct worker *w, uint64_t seed);
NOIPA NORETURN void split_loop(struct worker *w, uint64_t seed)
{
	uint64_t r = seed | 1, x = seed, n, t0, t1;
	unsigned pick;
	int f;

	for (;;) {
		STEP(r);
		pick = (unsigned)(r % 10);
		STEP(r);
		n = chunk_iterations / 4 + r % (chunk_iterations * 3 / 2 + 1);
		t0 = thread_cpu_ns();
		if (pick < 5) {
			x = work_a(n, x);
			KEEP_FRAME();
			f = 0;
		} else if (pick < 8) {
			x = work_b(n, x);
			KEEP_FRAME();
			f = 1;
		} else {
			x = work_c(n, x);
			KEEP_FRAME();
			f = 2;
		}
		t1 = thread_cpu_ns();
		__atomic_fetch_add(&w->ns[f], t1 - t0, __ATOMIC_RELAXED);
		__atomic_store_n(&w->total, t1 - w->start, __ATOMIC_RELAXED);
		__atomic_fetch_add(target_counter, 1, __ATOMIC_RELAXED);
	}
}

SPACER(split_spacer4)

static void *split_main(void *arg)
{
	struct worker *w = arg;
	char name[32];
	int i = (int)(w - workers);

	snprintf(name, sizeof(name), "split-%d", i + 1);
	target_announce(name, PARK_RUNNING);
	w->start = thread_cpu_ns();
	split_loop(w, 0x9e3779b97f4a7c15u * (uint64_t)(i + 1) ^
			      (uint64_t)time(NULL));
}

/* Sets chunk_iterations to about a millisecond of work. */
static void calibrate(void)
{
	uint64_t n = 100000, t0, t;

	for (;;) {
		t0 = thread_cpu_ns();
		work_a(n, n);
		t = thread_cpu_ns() - t0;
		if (t >= 20000000 || n >= (1ull << 40))
			break;
		n *= 2;
	}
	chunk_iterations = n * 1000000 / (t ? t : 1);
	if (chunk_iterations < 1000)
		chunk_iterations = 1000;
}

static void report(unsigned seq)
{
	uint64_t ns[NFUNCS] = {0}, total = 0;
	int i, f;

	for (i = 0; i < nworkers; i++) {
		total += __atomic_load_n(&workers[i].total, __ATOMIC_RELAXED);
		for (f = 0; f < NFUNCS; f++)
			ns[f] += __atomic_load_n(&workers[i].ns[f],
						 __ATOMIC_RELAXED);
	}
	printf("report %u total %llu work_a %llu work_b %llu work_c %llu\n",
	       seq, (unsigned long long)total, (unsigned long long)ns[0],
	       (unsigned long long)ns[1], (unsigned long long)ns[2]);
	fflush(stdout);
}

static int parse_int(const char *s, long min, long max, long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*ret = v;
	return 0;
}

int main(int argc, char **argv)
{
	struct timespec deadline = {0}, now, left;
	long threads = 1, seconds = 0;
	unsigned seq = 0;
	pthread_t t;
	sigset_t set;
	int i, sig;

	if ((argc > 1 && parse_int(argv[1], 1, MAX_WORKERS, &threads) < 0) ||
	    (argc > 2 && parse_int(argv[2], 1, 3600, &seconds) < 0) ||
	    argc > 3) {
		fprintf(stderr, "usage: cpu-split [THREADS [SECONDS]]\n");
		return 99;
	}
	nworkers = (int)threads;
	target_counter_init();
	calibrate();

	/* SIGUSR1 asks for a report, SIGUSR2 for the end: only main takes
	 * them, in sigtimedwait. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += seconds;

	for (i = 0; i < nworkers; i++) {
		if (pthread_create(&t, NULL, split_main, &workers[i]) != 0) {
			fprintf(stderr, "cpu-split: pthread_create failed\n");
			return 99;
		}
	}
	target_wait_parked(nworkers);
	target_ready();

	for (;;) {
		if (seconds) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			left.tv_sec = deadline.tv_sec - now.tv_sec;
			left.tv_nsec = deadline.tv_nsec - now.tv_nsec;
			if (left.tv_nsec < 0) {
				left.tv_sec--;
				left.tv_nsec += 1000000000;
			}
			if (left.tv_sec < 0)
				break;
			sig = sigtimedwait(&set, NULL, &left);
		} else {
			sig = sigwaitinfo(&set, NULL);
		}
		if (sig == SIGUSR1)
			report(++seq);
		else if (sig == SIGUSR2 || (sig < 0 && errno == EAGAIN))
			break;
	}
	report(0);
	return 0;
}
