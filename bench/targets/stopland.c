/* stopland: where a ptrace stop lands in a thread that alternates short
 * user-space work with system calls that run in the kernel: the floor
 * under the ptrace sampler's accuracy on syscall-heavy programs.
 *
 *   stopland HZ SECONDS USER_US SYS_US
 *
 * A child repeats: USER_US microseconds of arithmetic in user space, then
 * one read() of /dev/zero sized to take SYS_US microseconds in the kernel
 * (calibrated at start), keeping the time each phase took.  The parent, on
 * another CPU and at real-time priority where allowed (as cprof's ptrace
 * sampler), stops it HZ times a second for SECONDS: PTRACE_INTERRUPT, a
 * blocking wait, the registers, PTRACE_CONT.  A stop in user mode
 * (orig_rax -1) counts for user work; one at the read's return (orig_rax
 * its number) for the system call.  Prints
 *   land USER_TRUE_PCT USER_STOPPED_PCT STOPS DELAY_P50_US
 * the share of the child's time in user work by its own clock, the share
 * of stops that landed there, the stops, and the median time from
 * PTRACE_INTERRUPT to the stop's report.  A sampler that stops threads can
 * do no better than USER_STOPPED_PCT; perf's interrupt sample lands where
 * the timer hit, so it gets USER_TRUE_PCT.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <elf.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pin-apart.h"

#define MAX_READ (4u << 20)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift steps until ns have passed, the clock read every 64 steps. */
static __attribute__((noinline)) uint64_t user_work(uint64_t ns, uint64_t x)
{
	uint64_t end = now_ns() + ns;

	do {
		for (int i = 0; i < 64; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			__asm__ volatile("" : "+r"(x));
		}
	} while (now_ns() < end);
	return x;
}

static long read_zero(int fd, char *buf, size_t size)
{
	return syscall(SYS_read, fd, buf, size);
}

/* Bytes of /dev/zero one read() copies in ns: the best of 20 tries of
 * 1 MiB, scaled. */
static size_t calibrate(int fd, char *buf, uint64_t ns)
{
	uint64_t best = UINT64_MAX;
	double size;

	for (int i = 0; i < 20; i++) {
		uint64_t t = now_ns();

		read_zero(fd, buf, 1u << 20);
		t = now_ns() - t;
		if (t < best)
			best = t;
	}
	size = (double)(1u << 20) * (double)ns / (double)best;
	if (size < 64)
		size = 64;
	return size > MAX_READ ? MAX_READ : (size_t)size;
}

/* shared[0], [1]: nanoseconds in user work and in the read; [2] set once
 * the child has calibrated. */
static void __attribute__((noreturn))
child_loop(volatile uint64_t *shared, uint64_t user_ns, uint64_t sys_ns)
{
	int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	char *buf = malloc(MAX_READ);
	size_t size;
	uint64_t x = 88172645463325252ULL;

	if (fd < 0 || !buf)
		_exit(2);
	size = calibrate(fd, buf, sys_ns);
	shared[2] = 1;
	for (;;) {
		uint64_t t0 = now_ns(), t1, t2;

		x = user_work(user_ns, x);
		t1 = now_ns();
		read_zero(fd, buf, size);
		t2 = now_ns();
		shared[0] += t1 - t0;
		shared[1] += t2 - t1;
	}
}

/* One stop: true when it landed in user space (the work and its clock
 * reads), false at the read's return; *delay the time from the request
 * to the report. */
static bool one_stop(pid_t child, uint64_t *delay)
{
	struct user_regs_struct regs;
	struct iovec io = {&regs, sizeof(regs)};
	uint64_t t = now_ns();
	int status;

	ptrace(PTRACE_INTERRUPT, child, 0, 0);
	waitpid(child, &status, __WALL);
	*delay = now_ns() - t;
	ptrace(PTRACE_GETREGSET, child, (void *)NT_PRSTATUS, &io);
	ptrace(PTRACE_CONT, child, 0, 0);
	/* Stopped in user mode: no system call in orig_rax.  Stopped at
	 * the read's return: its number. */
	return (long)regs.orig_rax < 0;
}

static void sleep_until(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000u),
			      (long)(ns % 1000000000u)};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL))
		;
}

static int by_value(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int measure(volatile uint64_t *shared, pid_t child, int hz,
		   double seconds)
{
	struct sched_param rt = {.sched_priority = 1};
	size_t max = (size_t)(hz * seconds) + 1, n = 0, in_user = 0;
	uint64_t *delays = calloc(max, sizeof(*delays));
	uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9);
	uint64_t tick = start, user0 = shared[0], sys0 = shared[1];
	double user, sys;

	if (!delays)
		return 2;
	sched_setscheduler(0, SCHED_FIFO, &rt); /* where allowed */
	while ((tick += 1000000000u / (uint64_t)hz) < end && n < max) {
		sleep_until(tick);
		in_user += one_stop(child, &delays[n++]);
	}
	user = (double)(shared[0] - user0);
	sys = (double)(shared[1] - sys0);
	qsort(delays, n, sizeof(*delays), by_value);
	printf("land %.1f %.1f %zu %.1f\n", 100 * user / (user + sys),
	       n ? 100.0 * (double)in_user / (double)n : 0.0, n,
	       n ? delays[n / 2] / 1e3 : 0.0);
	free(delays);
	return 0;
}

int main(int argc, char **argv)
{
	int hz = argc == 5 ? atoi(argv[1]) : 0;
	double seconds = argc == 5 ? atof(argv[2]) : 0;
	long user_us = argc == 5 ? atol(argv[3]) : 0;
	long sys_us = argc == 5 ? atol(argv[4]) : 0;
	volatile uint64_t *shared;
	pid_t child;
	int r;

	if (hz < 1 || hz > 10000 || seconds <= 0 || user_us < 1 || sys_us < 1) {
		fprintf(stderr, "usage: stopland HZ SECONDS USER_US SYS_US\n");
		return 64;
	}
	shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		return 2;
	child = fork();
	if (child == 0)
		child_loop(shared, (uint64_t)user_us * 1000,
			   (uint64_t)sys_us * 1000);
	if (child < 0 || !pin_apart(child)) {
		fprintf(stderr, "stopland: needs two CPUs\n");
		if (child > 0)
			kill(child, SIGKILL);
		return 2;
	}
	while (!shared[2])
		usleep(1000);
	if (ptrace(PTRACE_SEIZE, child, 0, 0) < 0) {
		perror("stopland: PTRACE_SEIZE");
		kill(child, SIGKILL);
		return 2;
	}
	r = measure(shared, child, hz, seconds);
	kill(child, SIGKILL);
	waitpid(child, NULL, __WALL);
	return r;
}
