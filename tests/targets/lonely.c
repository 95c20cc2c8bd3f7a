/* lonely: a process whose main thread has ended (pthread_exit) while the
 * others run on; the leader stays a zombie until the last thread exits.
 *
 * usage: lonely
 *
 * Threads:
 *   "sleeper"  blocks in lonely_sleep (clock_nanosleep)
 *   "busy"     spins in lonely_spin, counting in $CPROF_TARGET_COUNTER
 * Prints "ready PID" once both are parked, then ends its main thread.
 */
#include "target.h"

#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>

SPACER(lonely_spacer0)

NOIPA NORETURN void lonely_sleep(void);
NOIPA NORETURN void lonely_sleep(void)
{
	const struct timespec ts = {1000000, 0};

	for (;;) {
		nanosleep(&ts, NULL);
		KEEP_FRAME();
	}
}

SPACER(lonely_spacer1)

NOIPA NORETURN void lonely_spin(void);
NOIPA NORETURN void lonely_spin(void)
{
	for (;;)
		target_count_work();
}

SPACER(lonely_spacer2)

static void *sleeper_thread(void *arg)
{
	target_announce("sleeper", SYS_clock_nanosleep);
	lonely_sleep();
	return arg;
}

static void *busy_thread(void *arg)
{
	target_announce("busy", PARK_RUNNING);
	lonely_spin();
	return arg;
}

int main(void)
{
	pthread_t t;

	target_counter_init();
	if (pthread_create(&t, NULL, sleeper_thread, NULL) != 0 ||
	    pthread_create(&t, NULL, busy_thread, NULL) != 0) {
		fprintf(stderr, "lonely: pthread_create failed\n");
		return 99;
	}
	target_wait_parked(2);
	target_ready();
	pthread_exit(NULL);
}
