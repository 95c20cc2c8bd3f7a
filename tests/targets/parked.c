/* The parked target: one thread per known blocking chain, plus a spinning
 * one.  Prints "ready PID" once every thread is parked; main then waits in
 * pause() for ever.
 *
 * usage: parked [DLOPEN-LIBRARY]
 * The library defaults to libcproftarget-dl.so next to the executable.
 * $CPROF_TARGET_COUNTER names a file the busy thread counts in (8 bytes,
 * native-endian).
 */
#include "chains.h"
#include "target.h"

#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

pthread_mutex_t target_held_mutex = PTHREAD_MUTEX_INITIALIZER;

static void spawn(void *(*fn)(void *), long arg)
{
	pthread_attr_t attr;
	pthread_t t;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, fn, (void *)arg) != 0) {
		fprintf(stderr, "target: pthread_create failed\n");
		exit(99);
	}
	pthread_attr_destroy(&attr);
}

static const char *default_dl_path(void)
{
	static char path[PATH_MAX];
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n < 0)
		return "libcproftarget-dl.so";
	exe[n] = '\0';
	snprintf(path, sizeof(path), "%s/libcproftarget-dl.so", dirname(exe));
	return path;
}

SPACER(main_spacer0)

NOIPA NORETURN void main_park(void);
NOIPA NORETURN void main_park(void)
{
	for (;;) {
		pause();
		KEEP_FRAME();
	}
}

SPACER(main_spacer1)

int main(int argc, char **argv)
{
	sigset_t set;
	int nthreads = 0, i;

	if (argc > 1)
		dlopen_path = argv[1];
	else if (getenv("CPROF_TARGET_DLLIB"))
		dlopen_path = getenv("CPROF_TARGET_DLLIB");
	else
		dlopen_path = default_dl_path();
	target_counter_init();

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_mutex_lock(&target_held_mutex);

	spawn(mutex_main, 0), nthreads++;
	spawn(cond_main, 0), nthreads++;
	for (i = 1; i <= POOL_THREADS; i++)
		spawn(pool_main, i), nthreads++;
	spawn(epoll_main, 0), nthreads++;
	spawn(poll_main, 0), nthreads++;
	spawn(read_main, 0), nthreads++;
	spawn(sleep_main, 0), nthreads++;
	spawn(sigwait_main, 0), nthreads++;
	spawn(busy_main, 0), nthreads++;
	spawn(signal_main, 0), nthreads++;
	spawn(dlopen_main, 0), nthreads++;
	spawn(recurse_main, 0), nthreads++;
	spawn(inline_main, 0), nthreads++;
	target_wait_parked(nthreads);

	/* sighandler is in pause(): move it into its handler. */
	target_expect(signal_slot, SYS_read);
	if (tgkill(getpid(), target_tid(signal_slot), SIGUSR1) < 0)
		exit(99);
	target_wait_parked(nthreads);

	target_ready();
	main_park();
}
