/* crowd: a process with very many threads, for the tests of a tracer that
 * must take and let go of each.
 *
 * usage: crowd COUNT
 *
 * Threads: one "busy", spinning and counting in $CPROF_TARGET_COUNTER, and
 * COUNT-1 "crowd" threads blocked in pause(), on 64 KiB stacks.  When the
 * system refuses a thread, crowd stops creating them.  Prints
 *   created N
 * (N: threads created besides main, at most COUNT), then "ready PID".
 */
#include "target.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t started;

SPACER(crowd_spacer0)

NOIPA NORETURN void crowd_wait(void);
NOIPA NORETURN void crowd_wait(void)
{
	for (;;) {
		pause();
		KEEP_FRAME();
	}
}

SPACER(crowd_spacer1)

static void *crowd_thread(void *arg)
{
	__atomic_fetch_add(&started, 1, __ATOMIC_RELEASE);
	crowd_wait();
	return arg;
}

NOIPA NORETURN void crowd_spin(void);
NOIPA NORETURN void crowd_spin(void)
{
	for (;;)
		target_count_work();
}

SPACER(crowd_spacer2)

static void *busy_thread(void *arg)
{
	pthread_setname_np(pthread_self(), "busy");
	__atomic_fetch_add(&started, 1, __ATOMIC_RELEASE);
	crowd_spin();
	return arg;
}

int main(int argc, char **argv)
{
	const struct timespec tick = {0, 1000000};
	pthread_attr_t attr;
	long count, n;
	char *end;

	if (argc != 2 || (count = strtol(argv[1], &end, 10)) < 1 || *end) {
		fprintf(stderr, "usage: crowd COUNT\n");
		return 64;
	}
	target_counter_init();
	pthread_setname_np(pthread_self(), "crowd");
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (n = 0; n < count; n++) {
		pthread_t t;
		int err = pthread_create(
			&t, &attr, n == 0 ? busy_thread : crowd_thread, NULL);

		if (err) {
			fprintf(stderr, "crowd: thread %ld: %s\n", n + 1,
				strerror(err));
			break;
		}
	}
	while (__atomic_load_n(&started, __ATOMIC_ACQUIRE) < (uint64_t)n ||
	       *target_counter == 0)
		nanosleep(&tick, NULL);
	printf("created %ld\n", n);
	target_ready();
	for (;;)
		pause();
}
