/* stopfloor: what one ptrace stop of a spinning thread costs it on this
 * machine, with nothing else to do: the floor under any tool's "stop".
 *
 *   stopfloor [ROUNDS]
 *
 * A child spins reading CLOCK_MONOTONIC and keeps its longest gap that
 * contains a voluntary context switch (a stop), as bench/targets/parked.c
 * does.  The parent seizes it and, ROUNDS times (default 200), interrupts
 * it, waits for the stop by pid, reads its registers and 4 KiB of stack and
 * lets it run: the least a ptrace sampler can do.  Prints
 *   floor_us P50 P90 MAX
 * the child's stop per round, in microseconds.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <elf.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

static void one_stop(pid_t child)
{
	struct user_regs_struct regs;
	struct iovec io = {&regs, sizeof(regs)};
	static char stack[4096];
	struct iovec local = {stack, sizeof(stack)}, remote;
	int status;

	ptrace(PTRACE_INTERRUPT, child, 0, 0);
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

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 200;
	volatile uint64_t *shared;
	uint64_t *stops;
	pid_t child;

	if (rounds < 1)
		return 64;
	shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	stops = calloc((size_t)rounds, sizeof(*stops));
	if (shared == MAP_FAILED || !stops)
		return 2;
	child = fork();
	if (child == 0)
		spin(shared);
	while (shared[1] < 1000)
		usleep(1000);
	if (ptrace(PTRACE_SEIZE, child, 0, 0) < 0) {
		perror("stopfloor: PTRACE_SEIZE");
		kill(child, SIGKILL);
		return 2;
	}
	for (int i = 0; i < rounds; i++) {
		usleep(2000);
		shared[0] = 0;
		one_stop(child);
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
