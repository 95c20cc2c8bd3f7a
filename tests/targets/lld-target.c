/*
 * The lld target: built by clang and linked by lld (whose segments have
 * p_vaddr != p_offset), with threads parked in both executable segments
 * of liblldtarget-lib.so and one spinning in its second.
 *
 *   lld-target  main_park            pause, in the executable
 *   near        lib_near_inner ...   nanosleep, library segment 1
 *   far         lib_far_inner ...    read, library segment 2
 *   spin        lib_far_spin ...     running, library segment 2
 *
 * Prints "ready PID" once every thread is parked.
 */
#include "lld-lib.h"
#include "target.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

SPACER(lld_spacer0)

NOIPA void *near_main(void *arg);
NOIPA void *near_main(void *arg)
{
	target_announce("near", SYS_clock_nanosleep);
	lib_near_outer(); /* line: near_main */
	KEEP_FRAME();
	return arg;
}

SPACER(lld_spacer1)

NOIPA void *far_main(void *arg);
NOIPA void *far_main(void *arg)
{
	int fds[2];

	if (pipe(fds) < 0)
		abort();
	target_announce("far", SYS_read);
	lib_far_outer(fds[0]); /* line: far_main */
	KEEP_FRAME();
	return arg;
}

SPACER(lld_spacer2)

NOIPA void *spin_main(void *arg);
NOIPA void *spin_main(void *arg)
{
	target_announce("spin", PARK_RUNNING);
	lib_far_spin(); /* line: spin_main */
	KEEP_FRAME();
	return arg;
}

SPACER(lld_spacer3)

NOIPA NORETURN void main_park(void);
NOIPA NORETURN void main_park(void)
{
	for (;;) {
		pause(); /* line: main_park */
		KEEP_FRAME();
	}
}

static void spawn(void *(*fn)(void *))
{
	pthread_attr_t attr;
	pthread_t t;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, fn, NULL) != 0) {
		fprintf(stderr, "target: pthread_create failed\n");
		exit(99);
	}
	pthread_attr_destroy(&attr);
}

int main(void)
{
	target_counter_init();
	spawn(near_main);
	spawn(far_main);
	spawn(spin_main);
	target_wait_parked(3);
	target_ready();
	main_park();
}
