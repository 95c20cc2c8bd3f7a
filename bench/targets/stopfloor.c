/* stopfloor: what one ptrace stop of a spinning thread costs it on this
 * machine, with nothing else to do: the floor under any tool's "stop".
 *
 *   stopfloor [ROUNDS]
 *   stopfloor -l HZ SECONDS
 *
 * A child spins reading CLOCK_MONOTONIC and keeps its longest gap that
 * contains a voluntary context switch (a stop), as bench/targets/parked.c
 * does.  The parent seizes it and, ROUNDS times (default 200), interrupts
 * it, waits for the stop by pid, reads its registers and 4 KiB of stack and
 * lets it run: the least a ptrace sampler can do.  Prints
 *   floor_us P50 P90 MAX
 * the child's stop per round, in microseconds.
 *
 * With -l the child does xorshift steps instead and counts them, and the
 * parent stops it HZ times a second for SECONDS, in five windows of that
 * length: alone, stops awaited with a blocking wait, alone, stops awaited
 * by polling without a break (as cprof does for a thread on another CPU),
 * alone.  The parent runs at real-time priority where allowed, as cprof
 * does.  Prints
 *   loss_pct BLOCKING SPINNING
 * the child's throughput lost in each stopping window against the mean of
 * the windows on both sides, in percent: the floor under a ptrace
 * sampler's cost in bench/record.sh.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <elf.h>
#include <stdbool.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pin-apart.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static long voluntary_switches(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_nvcsw;
}

/* shared[0]: longest stop since reset; shared[1]: spins. */
static void __attribute__((noreturn)) spin(volatile uint64_t *shared)
{
	uint64_t prev = now_ns();
	long nv = voluntary_switches();

	for (;;) {
		uint64_t t = now_ns();
		long v = voluntary_switches();

		if (v != nv && t - prev > shared[0])
			shared[0] = t - prev;
		nv = v;
		prev = t;
		shared[1]++;
	}
}

/* shared[2]: units of 512 xorshift steps done. */
static void __attribute__((noreturn)) work(volatile uint64_t *shared)
{
	uint64_t x = 88172645463325252ULL;

	for (;;) {
		for (int i = 0; i < 512; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			__asm__ volatile("" : "+r"(x));
		}
		shared[2]++;
	}
}

static void one_stop(pid_t child, bool spin_wait)
{
	struct user_regs_struct regs;
	struct iovec io = {&regs, sizeof(regs)};
	static char stack[4096];
	struct iovec local = {stack, sizeof(stack)}, remote;
	int status;

	ptrace(PTRACE_INTERRUPT, child, 0, 0);
	if (spin_wait)
		while (waitpid(child, &status, __WALL | WNOHANG) == 0)
			;
	else
		waitpid(child, &status, __WALL);
	ptrace(PTRACE_GETREGSET, child, (void *)NT_PRSTATUS, &io);
	remote = (struct iovec){(void *)(uintptr_t)regs.rsp, sizeof(stack)};
	process_vm_readv(child, &local, 1, &remote, 1, 0);
	ptrace(PTRACE_CONT, child, 0, 0);
}

static int by_value(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void sleep_until(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000u),
			      (long)(ns % 1000000000u)};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL))
		;
}

/* Units per second over a window, stopping the child hz times a second
 * (hz 0: never). */
static double window_rate(volatile uint64_t *shared, pid_t child, int hz,
			  bool spin_wait, double seconds)
{
	uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9);
	uint64_t units = shared[2], tick = start;

	if (hz == 0) {
		sleep_until(end);
	} else {
		while ((tick += 1000000000u / (uint64_t)hz) < end) {
			sleep_until(tick);
			one_stop(child, spin_wait);
		}
		sleep_until(end);
	}
	return (double)(shared[2] - units) / ((double)(now_ns() - start) / 1e9);
}

static int measure_loss(volatile uint64_t *shared, pid_t child, int hz,
			double seconds)
{
	struct sched_param rt = {.sched_priority = 1};
	double r[5];

	if (!pin_apart(child)) {
		fprintf(stderr, "stopfloor: -l needs two CPUs\n");
		return 2;
	}
	sched_setscheduler(0, SCHED_FIFO, &rt); /* where allowed */
	for (int i = 0; i < 5; i++)
		r[i] = window_rate(shared, child, i % 2 ? hz : 0, i == 3,
				   seconds);
	printf("loss_pct %.2f %.2f\n", 100 * (1 - 2 * r[1] / (r[0] + r[2])),
	       100 * (1 - 2 * r[3] / (r[2] + r[4])));
	return 0;
}

int main(int argc, char **argv)
{
	bool loss = argc > 3 && strcmp(argv[1], "-l") == 0;
	int rounds = argc > 1 && !loss ? atoi(argv[1]) : 200;
	int hz = loss ? atoi(argv[2]) : 0;
	double seconds = loss ? atof(argv[3]) : 0;
	volatile uint64_t *shared;
	uint64_t *stops;
	pid_t child;

	if (rounds < 1 || (loss && (hz < 1 || hz > 10000 || seconds <= 0)))
		return 64;
	shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	stops = calloc((size_t)rounds, sizeof(*stops));
	if (shared == MAP_FAILED || !stops)
		return 2;
	child = fork();
	if (child == 0 && loss)
		work(shared);
	if (child == 0)
		spin(shared);
	while (shared[1] < 1000 && shared[2] < 1000)
		usleep(1000);
	if (ptrace(PTRACE_SEIZE, child, 0, 0) < 0) {
		perror("stopfloor: PTRACE_SEIZE");
		kill(child, SIGKILL);
		return 2;
	}
	if (loss) {
		int r = measure_loss(shared, child, hz, seconds);

		kill(child, SIGKILL);
		waitpid(child, NULL, __WALL);
		return r;
	}
	for (int i = 0; i < rounds; i++) {
		usleep(2000);
		shared[0] = 0;
		one_stop(child, false);
		usleep(500);
		stops[i] = shared[0];
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, __WALL);
	qsort(stops, (size_t)rounds, sizeof(*stops), by_value);
	printf("floor_us %.1f %.1f %.1f\n", stops[rounds / 2] / 1e3,
	       stops[rounds * 9 / 10] / 1e3, stops[rounds - 1] / 1e3);
	return 0;
}
