/* spin: a CPU-bound target for bench/record.sh that counts its own work,
 * so the bench measures what a sampling profiler costs it in throughput.
 *
 *   spin THREADS STATEFILE
 *
 * THREADS busy threads (1 to MAX_THREADS, called "spin-N"; the main thread
 * only waits) each run the same small unit of work for ever, a few levels
 * down a call chain (spin_main -> spin_loop -> spin_unit -> spin_step), and
 * count the units done.  A unit is a fixed number of xorshift steps, about
 * a microsecond: short enough that a sample lands in the middle of one,
 * long enough that counting costs nothing next to it.
 *
 * The counters live in STATEFILE (created, 4 KiB, shared mapping) as
 * native-endian uint64 words, so the bench reads them while the target
 * runs, without signalling or stopping it:
 *   word 0          magic SPIN_MAGIC
 *   word 1          thread count
 *   word 8 * (i+1)  units done by thread i (one cache line per thread)
 * Iterations per second over a window are the difference of the sum of the
 * counters at both ends divided by the window's length.
 * Once every thread has done a unit it prints "ready PID".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "state-file.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define SPIN_MAGIC  0x6e697073ULL /* "spin" */
#define STATE_SIZE  4096
#define LINE_WORDS  8 /* 64-byte cache line */
#define MAX_THREADS (STATE_SIZE / (LINE_WORDS * 8) - 1)
#define UNIT_STEPS  512

#define NOIPA	     __attribute__((noipa))
#define KEEP_FRAME() __asm__ volatile("" ::: "memory")

static volatile uint64_t *state;

/* N xorshift64 steps, in a frame of their own: a sample has a chain to
 * unwind. */
NOIPA static uint64_t spin_step(uint64_t x, int n)
{
	for (int i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		__asm__ volatile("" : "+r"(x));
	}
	return x;
}

/* One unit of work: UNIT_STEPS steps in a few calls. */
NOIPA static uint64_t spin_unit(uint64_t x)
{
	for (int i = 0; i < UNIT_STEPS / 64; i++) {
		x = spin_step(x, 64);
		KEEP_FRAME();
	}
	return x;
}

NOIPA static void spin_loop(volatile uint64_t *count, uint64_t x)
{
	uint64_t n = 0;

	for (;;) {
		x = spin_unit(x);
		KEEP_FRAME();
		__atomic_store_n(count, ++n, __ATOMIC_RELAXED);
	}
}

static void *spin_main(void *arg)
{
	int i = (int)(intptr_t)arg;
	char name[24]; /* "spin-63" at most: within the 16 of a thread name */

	snprintf(name, sizeof(name), "spin-%d", i + 1);
	pthread_setname_np(pthread_self(), name);
	spin_loop(&state[LINE_WORDS * (i + 1)],
		  0x9e3779b97f4a7c15u * (uint64_t)(i + 1));
	KEEP_FRAME();
	return NULL;
}

static void *map_state(const char *path, int nthreads)
{
	return map_state_file("spin", path, STATE_SIZE, SPIN_MAGIC,
			      (uint64_t)nthreads);
}

int main(int argc, char **argv)
{
	struct timespec tick = {0, 1000000};
	char *end;
	long n;
	int i;

	if (argc != 3) {
		fprintf(stderr, "usage: spin THREADS STATEFILE\n");
		return 64;
	}
	n = strtol(argv[1], &end, 10);
	if (*end || n < 1 || n > MAX_THREADS) {
		fprintf(stderr, "spin: bad thread count '%s' (1 to %d)\n",
			argv[1], (int)MAX_THREADS);
		return 64;
	}
	state = map_state(argv[2], (int)n);
	for (i = 0; i < n; i++) {
		pthread_t t;
		int err = pthread_create(&t, NULL, spin_main,
					 (void *)(intptr_t)i);

		if (err) {
			fprintf(stderr, "spin: pthread_create: %s\n",
				strerror(err));
			return 2;
		}
	}
	for (i = 0; i < n; i++)
		while (__atomic_load_n(&state[LINE_WORDS * (i + 1)],
				       __ATOMIC_RELAXED) == 0)
			nanosleep(&tick, NULL);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	for (;;)
		pause();
	return 0;
}
