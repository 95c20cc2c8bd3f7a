/* execer: a process that execs itself when told, for the tests of a tracer
 * whose target changes its image mid-run.
 *
 * usage: execer
 *
 * Before the exec, threads:
 *   "busy"    spins in before_spin, counting in $CPROF_TARGET_COUNTER
 *   "execer"  waits for SIGUSR1, then execs /proc/self/exe with the
 *             argument "after"; the exec comes from a thread other than
 *             the leader, so the kernel gives the new image the leader's
 *             tid and ends every other thread
 * Prints "ready PID" once every thread is parked.  The new image prints
 * "execed PID" and spins in after_spin on its only thread, counting in
 * $CPROF_TARGET_COUNTER.
 */
#include "target.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

SPACER(execer_spacer0)

NOIPA NORETURN void before_spin(void);
NOIPA NORETURN void before_spin(void)
{
	for (;;)
		target_count_work();
}

SPACER(execer_spacer1)

NOIPA NORETURN void after_spin(void);
NOIPA NORETURN void after_spin(void)
{
	for (;;)
		target_count_work();
}

SPACER(execer_spacer2)

static void *busy_thread(void *arg)
{
	target_announce("busy", PARK_RUNNING);
	before_spin();
	return arg;
}

NOIPA void execer_exec(void);
NOIPA void execer_exec(void)
{
	char *const argv[] = {"execer", "after", NULL};
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	while (sigwaitinfo(&set, NULL) != SIGUSR1)
		;
	/* The new image starts with this thread's mask: let SIGUSR1 act. */
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	execv("/proc/self/exe", argv);
	perror("execer: execv");
	_exit(99);
}

SPACER(execer_spacer3)

static void *execer_thread(void *arg)
{
	target_announce("execer", SYS_rt_sigtimedwait);
	execer_exec();
	KEEP_FRAME();
	return arg;
}

int main(int argc, char **argv)
{
	sigset_t set;
	pthread_t t;

	target_counter_init();
	if (argc > 1 && strcmp(argv[1], "after") == 0) {
		printf("execed %d\n", (int)getpid());
		fflush(stdout);
		after_spin();
	}
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (pthread_create(&t, NULL, busy_thread, NULL) != 0 ||
	    pthread_create(&t, NULL, execer_thread, NULL) != 0) {
		fprintf(stderr, "execer: pthread_create failed\n");
		return 99;
	}
	target_wait_parked(2);
	target_ready();
	for (;;)
		pause();
}
