/* storm: threads created and ending thousands of times a second, for the
 * tests of a tracer that must follow every clone and every exit.
 *
 * usage: storm [SPAWNERS]
 *
 * Threads:
 *   "spawner"  SPAWNERS of them (default 2), each creating a thread that
 *              does a little work and returns, and joining it, for ever
 *   "busy"     spins, counting in $CPROF_TARGET_COUNTER
 * Prints "ready PID" once every spawner has created a thread; each SIGUSR2
 * starts a thread "late" that spins in storm_late for 200 ms of its CPU
 * time, then prints "late done" and ends; each SIGUSR1 prints
 *   report SEQ created N
 * N: threads created so far.
 */
#include "target.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define MAX_SPAWNERS 16

static uint64_t created;

SPACER(storm_spacer0)

NOIPA void *storm_work(void *arg);
NOIPA void *storm_work(void *arg)
{
	uint64_t x = (uintptr_t)arg;

	for (int i = 0; i < 2000; i++) {
		x = x * 6364136223846793005u + 1;
		__asm__ volatile("" : "+r"(x));
	}
	return (void *)(uintptr_t)x;
}

SPACER(storm_spacer1)

NOIPA NORETURN void storm_spawn(void);
NOIPA NORETURN void storm_spawn(void)
{
	pthread_attr_t attr;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (;;) {
		pthread_t t;
		int err = pthread_create(&t, &attr, storm_work, NULL);

		if (err) {
			fprintf(stderr, "storm: pthread_create: error %d\n",
				err);
			exit(99);
		}
		pthread_join(t, NULL);
		KEEP_FRAME();
		__atomic_fetch_add(&created, 1, __ATOMIC_RELAXED);
	}
}

SPACER(storm_spacer2)

static void *spawner_thread(void *arg)
{
	pthread_setname_np(pthread_self(), "spawner");
	storm_spawn();
	return arg;
}

NOIPA NORETURN void storm_spin(void);
NOIPA NORETURN void storm_spin(void)
{
	for (;;)
		target_count_work();
}

SPACER(storm_spacer3)

static void *busy_thread(void *arg)
{
	pthread_setname_np(pthread_self(), "busy");
	storm_spin();
	return arg;
}

SPACER(storm_spacer4)

/* Spins for 200 ms of its own CPU time, then ends. */
NOIPA void storm_late(void);
NOIPA void storm_late(void)
{
	struct timespec ts;

	do {
		target_count_work();
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	} while (ts.tv_sec == 0 && ts.tv_nsec < 200000000);
}

static void *late_thread(void *arg)
{
	pthread_setname_np(pthread_self(), "late");
	storm_late();
	printf("late done\n");
	fflush(stdout);
	return arg;
}

int main(int argc, char **argv)
{
	const struct timespec tick = {0, 1000000};
	long spawners = 2, i;
	unsigned seq = 0;
	sigset_t set;
	pthread_t t;

	if (argc > 1) {
		char *end;

		spawners = strtol(argv[1], &end, 10);
		if (*end || spawners < 1 || spawners > MAX_SPAWNERS) {
			fprintf(stderr, "usage: storm [SPAWNERS]\n");
			return 64;
		}
	}
	target_counter_init();
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (pthread_create(&t, NULL, busy_thread, NULL) != 0)
		return 99;
	for (i = 0; i < spawners; i++) {
		if (pthread_create(&t, NULL, spawner_thread, NULL) != 0)
			return 99;
	}
	while (__atomic_load_n(&created, __ATOMIC_RELAXED) <
		       (uint64_t)spawners ||
	       *target_counter == 0)
		nanosleep(&tick, NULL);
	target_ready();

	for (;;) {
		int sig = sigwaitinfo(&set, NULL);

		if (sig == SIGUSR2) {
			pthread_create(&t, NULL, late_thread, NULL);
			pthread_detach(t);
			continue;
		}
		if (sig != SIGUSR1)
			continue;
		printf("report %u created %llu\n", ++seq,
		       (unsigned long long)__atomic_load_n(&created,
							   __ATOMIC_RELAXED));
		fflush(stdout);
	}
}
