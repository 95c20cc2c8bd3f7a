/* signals: counts the signals it is sent and the ones it makes itself, for
 * the tests that a tracer loses none.
 *
 * usage: signals
 *        signals send PID FIRST COUNT RATE
 *
 * Threads of the target:
 *   "rt"      receives SIGRTMIN (queued, sent by another process) in a
 *             SA_SIGINFO handler; each carries a sequence number in
 *             si_value, which must follow the one before
 *   "forker"  forks a child that exits at once, reaps it and waits up to
 *             2 s for its SIGCHLD in a handler; a SIGCHLD that does not
 *             come is counted lost
 *   "timer"   receives SIGRTMIN+1 from a POSIX timer every TIMER_MS ms,
 *             counting each expiry (1 + si_overrun per signal)
 *   "busy"    spins, counting in $CPROF_TARGET_COUNTER
 * Every other thread blocks these signals, so each one goes to its thread.
 * Prints "ready PID" once every thread is parked; each SIGUSR1 then prints
 *   report SEQ rt N last N order N chld N reaped N lost N timer N expect N
 * rt counts the queued signals received, last is the latest sequence
 * number, order counts those that did not follow the one before; chld
 * counts SIGCHLDs, reaped the children reaped, lost the children whose
 * SIGCHLD did not come; timer counts timer expiries received, expect the
 * expiries due since the timer was armed, read after timer: expect - timer
 * is the expiries lost plus those still on their way (0 or 1 when the
 * timer thread keeps up).
 *
 * The sender mode queues SIGRTMIN to PID with values FIRST .. FIRST+COUNT-1,
 * RATE a second (0: as fast as the queue takes them), retrying while the
 * queue is full, and prints "sent COUNT full N" (N: times the queue was
 * full).
 */
#include "target.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TIMER_MS 5

static uint64_t rt_count, rt_order_errors, chld_count, reaped, lost;
static uint64_t timer_expiries;
static int rt_last;
static struct timespec timer_armed;

static int signal_rt(void)
{
	return SIGRTMIN;
}

static int signal_timer(void)
{
	return SIGRTMIN + 1;
}

SPACER(signals_spacer0)

/* Only the rt thread takes SIGRTMIN, so one handler runs at a time. */
static void on_rt(int sig, siginfo_t *si, void *uc)
{
	int v = si->si_value.sival_int;

	if (v != rt_last + 1)
		__atomic_fetch_add(&rt_order_errors, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&rt_last, v, __ATOMIC_RELAXED);
	__atomic_fetch_add(&rt_count, 1, __ATOMIC_RELAXED);
}

static void on_chld(int sig, siginfo_t *si, void *uc)
{
	__atomic_fetch_add(&chld_count, 1, __ATOMIC_RELAXED);
}

static void on_timer(int sig, siginfo_t *si, void *uc)
{
	__atomic_fetch_add(&timer_expiries, 1 + (uint64_t)si->si_overrun,
			   __ATOMIC_RELAXED);
}

static void handle(int sig, void (*fn)(int, siginfo_t *, void *))
{
	struct sigaction sa = {.sa_sigaction = fn, .sa_flags = SA_SIGINFO};

	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) < 0) {
		perror("sigaction");
		exit(99);
	}
}

static void unblock(int sig)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, sig);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

NOIPA NORETURN void signals_park(void);
NOIPA NORETURN void signals_park(void)
{
	for (;;) {
		pause();
		KEEP_FRAME();
	}
}

SPACER(signals_spacer1)

static void *rt_thread(void *arg)
{
	target_announce("rt", SYS_pause);
	unblock(signal_rt());
	signals_park();
	return arg;
}

static void *timer_thread(void *arg)
{
	struct sigevent sev = {
		.sigev_notify = SIGEV_THREAD_ID,
		.sigev_signo = signal_timer(),
	};
	struct itimerspec its = {
		.it_interval = {0, TIMER_MS * 1000000L},
		.it_value = {0, TIMER_MS * 1000000L},
	};
	timer_t timer;

	target_announce("timer", SYS_pause);
	sev._sigev_un._tid = gettid();
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer) < 0) {
		perror("timer_create");
		exit(99);
	}
	unblock(signal_timer());
	/* Armed at an absolute time, so the expiries due are known exactly. */
	clock_gettime(CLOCK_MONOTONIC, &timer_armed);
	its.it_value = timer_armed;
	its.it_value.tv_nsec += TIMER_MS * 1000000L;
	if (its.it_value.tv_nsec >= 1000000000L) {
		its.it_value.tv_sec++;
		its.it_value.tv_nsec -= 1000000000L;
	}
	__atomic_thread_fence(__ATOMIC_RELEASE);
	if (timer_settime(timer, TIMER_ABSTIME, &its, NULL) < 0) {
		perror("timer_settime");
		exit(99);
	}
	signals_park();
	return arg;
}

/* One child at a time, so each SIGCHLD belongs to one child: its exit
 * queues SIGCHLD before it can be reaped, so after waitpid the signal is
 * pending and ppoll, which unblocks it, returns at once unless it was
 * lost. */
NOIPA NORETURN void fork_loop(void);
NOIPA NORETURN void fork_loop(void)
{
	const struct timespec wait = {2, 0}, pace = {0, 1000000};
	sigset_t open;

	pthread_sigmask(SIG_SETMASK, NULL, &open);
	sigdelset(&open, SIGCHLD);
	for (;;) {
		uint64_t before =
			__atomic_load_n(&chld_count, __ATOMIC_RELAXED);
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork");
			exit(99);
		}
		if (pid == 0)
			_exit(0);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		while (__atomic_load_n(&chld_count, __ATOMIC_RELAXED) ==
		       before) {
			if (ppoll(NULL, 0, &wait, &open) == 0) {
				__atomic_fetch_add(&lost, 1, __ATOMIC_RELAXED);
				break;
			}
		}
		__atomic_fetch_add(&reaped, 1, __ATOMIC_RELAXED);
		nanosleep(&pace, NULL);
		KEEP_FRAME();
	}
}

SPACER(signals_spacer2)

static void *forker_thread(void *arg)
{
	target_announce("forker", PARK_RUNNING);
	fork_loop();
	return arg;
}

NOIPA NORETURN void signals_spin(void);
NOIPA NORETURN void signals_spin(void)
{
	for (;;)
		target_count_work();
}

SPACER(signals_spacer3)

static void *busy_thread(void *arg)
{
	target_announce("busy", PARK_RUNNING);
	signals_spin();
	return arg;
}

static uint64_t expiries_due(void)
{
	struct timespec now;
	int64_t ns;

	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (timer_armed.tv_sec == 0)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (now.tv_sec - timer_armed.tv_sec) * 1000000000LL +
	     (now.tv_nsec - timer_armed.tv_nsec);
	return (uint64_t)(ns / (TIMER_MS * 1000000LL));
}

static uint64_t get(uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static int send_main(int argc, char **argv)
{
	long pid, first, count, rate, i, full = 0;
	struct timespec gap = {0, 0};
	char *end;

	if (argc != 6)
		goto usage;
	pid = strtol(argv[2], &end, 10);
	if (*end || pid <= 0)
		goto usage;
	first = strtol(argv[3], &end, 10);
	if (*end || first <= 0)
		goto usage;
	count = strtol(argv[4], &end, 10);
	if (*end || count <= 0)
		goto usage;
	rate = strtol(argv[5], &end, 10);
	if (*end || rate < 0)
		goto usage;
	if (rate > 0)
		gap.tv_nsec = 1000000000L / rate;
	for (i = 0; i < count; i++) {
		union sigval v = {.sival_int = (int)(first + i)};

		while (sigqueue((pid_t)pid, signal_rt(), v) < 0) {
			const struct timespec ms = {0, 1000000};

			if (errno != EAGAIN) {
				perror("sigqueue");
				return 1;
			}
			full++;
			nanosleep(&ms, NULL);
		}
		if (rate > 0)
			nanosleep(&gap, NULL);
	}
	printf("sent %ld full %ld\n", count, full);
	return 0;
usage:
	fprintf(stderr, "usage: signals send PID FIRST COUNT RATE\n");
	return 64;
}

int main(int argc, char **argv)
{
	void *(*const threads[])(void *) = {rt_thread, timer_thread,
					    forker_thread, busy_thread};
	uint64_t timer, due;
	sigset_t set;
	unsigned seq = 0;
	pthread_t t;
	size_t i;

	if (argc > 1)
		return send_main(argc, argv);
	target_counter_init();
	handle(signal_rt(), on_rt);
	handle(signal_timer(), on_timer);
	handle(SIGCHLD, on_chld);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, signal_rt());
	sigaddset(&set, signal_timer());
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (i = 0; i < sizeof(threads) / sizeof(threads[0]); i++) {
		if (pthread_create(&t, NULL, threads[i], NULL) != 0) {
			fprintf(stderr, "signals: pthread_create failed\n");
			return 99;
		}
	}
	target_wait_parked((int)i);
	target_ready();

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	for (;;) {
		if (sigwaitinfo(&set, NULL) != SIGUSR1)
			continue;
		/* Expiries received before expiries due: without a loss the
		 * second is never below the first. */
		timer = get(&timer_expiries);
		due = expiries_due();
		printf("report %u rt %llu last %d order %llu chld %llu "
		       "reaped %llu lost %llu timer %llu expect %llu\n",
		       ++seq, (unsigned long long)get(&rt_count),
		       __atomic_load_n(&rt_last, __ATOMIC_RELAXED),
		       (unsigned long long)get(&rt_order_errors),
		       (unsigned long long)get(&chld_count),
		       (unsigned long long)get(&reaped),
		       (unsigned long long)get(&lost),
		       (unsigned long long)timer, (unsigned long long)due);
		fflush(stdout);
	}
}
