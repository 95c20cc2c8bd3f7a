/* dlchurn: libraries mapped and unmapped without pause, for the tests of a
 * tracer whose target's mappings change under it.
 *
 * usage: dlchurn [LIBRARY]
 *
 * Threads:
 *   "churn"  loads LIBRARY (default
 *            libcproftarget-dl.so next to the executable) with dlopen,
 *            calling its dl_spacer0 and unloading it with dlclose, for ever
 *   "busy"   spins, counting in $CPROF_TARGET_COUNTER
 * Prints "ready PID" once it has loaded and unloaded the library; each
 * SIGUSR1 then prints
 *   report SEQ cycles N
 * N: dlopen/dlclose pairs so far.
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

#define CHURNERS 1

static const char *lib_path;
static uint64_t cycles;

SPACER(dlchurn_spacer0)

NOIPA NORETURN void dlchurn_loop(void);
NOIPA NORETURN void dlchurn_loop(void)
{
	for (int i = 0;; i++) {
		int (*fn)(int);
		void *h = dlopen(lib_path, RTLD_NOW | RTLD_LOCAL);

		if (!h) {
			fprintf(stderr, "dlchurn: %s\n", dlerror());
			exit(99);
		}
		*(void **)&fn = dlsym(h, "dl_spacer0");
		if (!fn) {
			fprintf(stderr, "dlchurn: %s\n", dlerror());
			exit(99);
		}
		fn(i);
		dlclose(h);
		__atomic_fetch_add(&cycles, 1, __ATOMIC_RELAXED);
	}
}

SPACER(dlchurn_spacer1)

static void *churn_thread(void *arg)
{
	pthread_setname_np(pthread_self(), "churn");
	dlchurn_loop();
	return arg;
}

NOIPA NORETURN void dlchurn_spin(void);
NOIPA NORETURN void dlchurn_spin(void)
{
	for (;;)
		target_count_work();
}

SPACER(dlchurn_spacer2)

static void *busy_thread(void *arg)
{
	pthread_setname_np(pthread_self(), "busy");
	dlchurn_spin();
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
	unsigned seq = 0;
	sigset_t set;
	pthread_t t;
	int i;

	lib_path = argc > 1 ? argv[1] : default_lib_path();
	target_counter_init();
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (pthread_create(&t, NULL, busy_thread, NULL) != 0)
		return 99;
	for (i = 0; i < CHURNERS; i++) {
		if (pthread_create(&t, NULL, churn_thread, NULL) != 0)
			return 99;
	}
	while (__atomic_load_n(&cycles, __ATOMIC_RELAXED) < CHURNERS ||
	       *target_counter == 0)
		nanosleep(&tick, NULL);
	target_ready();

	for (;;) {
		if (sigwaitinfo(&set, NULL) != SIGUSR1)
			continue;
		printf("report %u cycles %llu\n", ++seq,
		       (unsigned long long)__atomic_load_n(&cycles,
							   __ATOMIC_RELAXED));
		fflush(stdout);
	}
}
