/* dlspin: a library loaded while cprof records, and CPU time spent in it.
 *
 * usage: dlspin [LIBRARY]
 *
 * Threads:
 *   "busy"    spins, counting in $CPROF_TARGET_COUNTER
 *   "dlspin"  started by each SIGUSR2: loads LIBRARY (default
 *             libcproftarget-dl.so next to the executable) with dlopen,
 *             runs its dl_spin (200 ms of CPU time), prints "dl done" and
 *             ends, leaving the library loaded
 * Prints "ready PID" once the busy thread runs.
 */
#include "target.h"

#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static const char *lib_path;

SPACER(dlspin_spacer0)

NOIPA NORETURN void dlspin_busy(void);
NOIPA NORETURN void dlspin_busy(void)
{
	for (;;)
		target_count_work();
}

SPACER(dlspin_spacer1)

static void *busy_thread(void *arg)
{
	pthread_setname_np(pthread_self(), "busy");
	dlspin_busy();
	return arg;
}

static void *dlspin_thread(void *arg)
{
	void (*spin)(void);
	void *h;

	pthread_setname_np(pthread_self(), "dlspin");
	h = dlopen(lib_path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "dlspin: %s\n", dlerror());
		exit(99);
	}
	*(void **)&spin = dlsym(h, "dl_spin");
	if (!spin) {
		fprintf(stderr, "dlspin: %s\n", dlerror());
		exit(99);
	}
	spin();
	printf("dl done\n");
	fflush(stdout);
	return arg;
}

static const char *default_lib_path(void)
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

int main(int argc, char **argv)
{
	const struct timespec tick = {0, 1000000};
	sigset_t set;
	pthread_t t;

	lib_path = argc > 1 ? argv[1] : default_lib_path();
	target_counter_init();
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (pthread_create(&t, NULL, busy_thread, NULL) != 0)
		return 99;
	while (*target_counter == 0)
		nanosleep(&tick, NULL);
	target_ready();
	for (;;) {
		if (sigwaitinfo(&set, NULL) != SIGUSR2)
			continue;
		if (pthread_create(&t, NULL, dlspin_thread, NULL) != 0)
			return 99;
		pthread_detach(t);
	}
}
