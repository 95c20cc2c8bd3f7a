/* wakeups: counts the spurious wakeups of threads that block for ever,
 * for the gentleness tests of cprof record.
 *
 * usage: wakeups
 *
 * Threads:
 *   "epoll"    epoll_wait, no timeout, on a pipe nobody writes: every
 *              return is spurious
 *   "sigwait"  sigwaitinfo for SIGUSR2, which every thread blocks and
 *              nobody sends: every EINTR is spurious
 *   "busy"     spins, counting in $CPROF_TARGET_COUNTER
 *   "framed"   read on a pipe nobody writes, called from a frame that
 *              alloca makes address from rbp: the SP and PC of the
 *              read do not reach past it (for cprof threads, which stops
 *              such a thread rather than cut its stack)
 * A stop by a tracer (PTRACE_INTERRUPT) makes both calls return EINTR
 * (signal(7)); the threads count each return and block again.
 *
 * Prints "ready PID" once every thread is parked; each SIGUSR1 then prints
 *   report SEQ epoll N sigwait N signals N
 * SEQ counts the reports from 1; signals counts SIGUSR2s actually received
 * (never expected).
 */
#include "target.h"

#include <alloca.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

static uint64_t epoll_wakeups, sigwait_wakeups, sigwait_signals;

SPACER(wakeups_spacer0)

NOIPA NORETURN void epoll_block(int epfd);
NOIPA NORETURN void epoll_block(int epfd)
{
	struct epoll_event ev;

	for (;;) {
		epoll_wait(epfd, &ev, 1, -1);
		KEEP_FRAME();
		__atomic_fetch_add(&epoll_wakeups, 1, __ATOMIC_RELAXED);
	}
}

SPACER(wakeups_spacer1)

static void *epoll_thread(void *arg)
{
	struct epoll_event ev = {.events = EPOLLIN};
	int fds[2], epfd;

	if (pipe(fds) < 0 || (epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		abort();
	ev.data.fd = fds[0];
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fds[0], &ev) < 0)
		abort();
	target_announce("epoll", SYS_epoll_wait);
	epoll_block(epfd);
	return arg;
}

/* sigwaitinfo, unlike sigwait, returns EINTR instead of retrying. */
NOIPA NORETURN void sigwait_block(void);
NOIPA NORETURN void sigwait_block(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	for (;;) {
		int sig = sigwaitinfo(&set, NULL);

		KEEP_FRAME();
		if (sig == SIGUSR2)
			__atomic_fetch_add(&sigwait_signals, 1,
					   __ATOMIC_RELAXED);
		else
			__atomic_fetch_add(&sigwait_wakeups, 1,
					   __ATOMIC_RELAXED);
	}
}

SPACER(wakeups_spacer2)

static void *sigwait_thread(void *arg)
{
	target_announce("sigwait", SYS_rt_sigtimedwait);
	sigwait_block();
	return arg;
}

NOIPA NORETURN void wakeups_spin(void);
NOIPA NORETURN void wakeups_spin(void)
{
	for (;;)
		target_count_work();
}

SPACER(wakeups_spacer3)

static void *busy_thread(void *arg)
{
	target_announce("busy", PARK_RUNNING);
	wakeups_spin();
	return arg;
}

/* The alloca gives the frame a CFA computed from rbp, a register the
 * read does not save: only a stop shows its value. */
NOIPA NORETURN void framed_block(int fd, size_t len);
NOIPA NORETURN void framed_block(int fd, size_t len)
{
	char *buf = alloca(len);

	for (;;) {
		if (read(fd, buf, len) <= 0)
			KEEP_FRAME();
	}
}

SPACER(wakeups_spacer4)

static void *framed_thread(void *arg)
{
	int fds[2];

	if (pipe(fds) < 0)
		abort();
	target_announce("framed", SYS_read);
	framed_block(fds[0], 64 + (size_t)(uintptr_t)arg);
	return arg;
}

int main(void)
{
	void *(*const threads[])(void *) = {epoll_thread, sigwait_thread,
					    busy_thread, framed_thread};
	sigset_t set;
	unsigned seq = 0;
	pthread_t t;
	size_t i;

	target_counter_init();
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (i = 0; i < sizeof(threads) / sizeof(threads[0]); i++) {
		if (pthread_create(&t, NULL, threads[i], NULL) != 0) {
			fprintf(stderr, "wakeups: pthread_create failed\n");
			return 99;
		}
	}
	target_wait_parked((int)i);
	target_ready();

	sigdelset(&set, SIGUSR2);
	for (;;) {
		if (sigwaitinfo(&set, NULL) != SIGUSR1)
			continue;
		printf("report %u epoll %llu sigwait %llu signals %llu\n",
		       ++seq,
		       (unsigned long long)__atomic_load_n(&epoll_wakeups,
							   __ATOMIC_RELAXED),
		       (unsigned long long)__atomic_load_n(&sigwait_wakeups,
							   __ATOMIC_RELAXED),
		       (unsigned long long)__atomic_load_n(&sigwait_signals,
							   __ATOMIC_RELAXED));
		fflush(stdout);
	}
}
