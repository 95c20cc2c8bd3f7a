/* tree: a tree of busy processes for bench/tree.sh, counting its own work,
 * so the bench measures what a profiler following a process tree costs it.
 *
 *   tree PROCS STATEFILE
 *   tree read
 *
 * The process started (the root) forks PROCS - 1 children; all PROCS
 * processes, the root included, run the same small unit of work for ever
 * (tree_main -> tree_loop -> tree_unit -> tree_step, about a microsecond a
 * unit) and count the units done.  Children are called "tree-2".."tree-N"
 * and die with the root (PR_SET_PDEATHSIG).  The root makes the tree a
 * process group of its own, so the bench ends it whole by group.
 *
 * The counters live in STATEFILE (created, 4 KiB, shared mapping) as
 * native-endian uint64 words, read by the bench while the tree runs:
 *   word 0          magic TREE_MAGIC
 *   word 1          process count
 *   word 2          the tree's CPU time in microseconds, user + system of
 *                   the root and its reaped children, once it has ended on
 *                   SIGTERM (word 3 then 1)
 *   word 8 * (i+1)  units done by process i (0: the root; a cache line each)
 * Once every process has done a unit the root prints "ready PID".
 *
 * SIGTERM to the root ends the tree cleanly: the root kills its children,
 * reaps them, stores the tree's CPU time and exits 0.  A tool that started
 * the tree has then waited for all of it, so its own CPU time is what its
 * rusage holds beyond word 2.
 *
 * "tree read" is the bench's reader: for each line on standard input that
 * names a state file it prints "MICROSECONDS UNITS", CLOCK_MONOTONIC and
 * the sum of the counters, read at the same moment.  A reader forked for
 * each reading would run whenever a CPU came free, tens of milliseconds
 * late beside 16 busy processes on 2 cores; this one only wakes up.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "state-file.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TREE_MAGIC 0x65657274ULL /* "tree" */
#define STATE_SIZE 4096
#define LINE_WORDS 8 /* 64-byte cache line */
#define MAX_PROCS  (STATE_SIZE / (LINE_WORDS * 8) - 1)
#define UNIT_STEPS 512

#define NOIPA	     __attribute__((noipa))
#define KEEP_FRAME() __asm__ volatile("" ::: "memory")

static volatile uint64_t *state;
static volatile sig_atomic_t end_asked;
static pid_t children[MAX_PROCS];
static int nprocs;

/* N xorshift64 steps, in a frame of their own: a sample has a chain to
 * unwind. */
NOIPA static uint64_t tree_step(uint64_t x, int n)
{
	for (int i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		__asm__ volatile("" : "+r"(x));
	}
	return x;
}

/* One unit of work: UNIT_STEPS steps in a few calls. */
NOIPA static uint64_t tree_unit(uint64_t x)
{
	for (int i = 0; i < UNIT_STEPS / 64; i++) {
		x = tree_step(x, 64);
		KEEP_FRAME();
	}
	return x;
}

static int all_started(void)
{
	for (int i = 0; i < nprocs; i++)
		if (__atomic_load_n(&state[LINE_WORDS * (i + 1)],
				    __ATOMIC_RELAXED) == 0)
			return 0;
	return 1;
}

/* Counts units until SIGTERM.  The root (announce set) also prints the
 * ready line once every process has counted one. */
NOIPA static uint64_t tree_loop(volatile uint64_t *count, uint64_t x,
				int announce)
{
	uint64_t n = 0;

	while (!end_asked) {
		x = tree_unit(x);
		KEEP_FRAME();
		__atomic_store_n(count, ++n, __ATOMIC_RELAXED);
		if (announce && all_started()) {
			printf("ready %d\n", (int)getpid());
			fflush(stdout);
			announce = 0;
		}
	}
	return x;
}

NOIPA static void tree_main(int i)
{
	char name[16];

	if (i > 0) {
		snprintf(name, sizeof(name), "tree-%d", i + 1);
		prctl(PR_SET_NAME, name);
	}
	tree_loop(&state[LINE_WORDS * (i + 1)],
		  0x9e3779b97f4a7c15u * (uint64_t)(i + 1), i == 0);
	KEEP_FRAME();
}

static void on_term(int sig)
{
	(void)sig;
	end_asked = 1;
}

static void *map_state(const char *path, int n)
{
	return map_state_file("tree", path, STATE_SIZE, TREE_MAGIC,
			      (uint64_t)n);
}

static uint64_t cpu_us(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* The root after SIGTERM: no child outlives it, and its CPU time is in
 * the tree's once reaped. */
static void end_tree(void)
{
	for (int i = 1; i < nprocs; i++)
		kill(children[i], SIGKILL);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	state[2] = cpu_us(RUSAGE_SELF) + cpu_us(RUSAGE_CHILDREN);
	__atomic_store_n(&state[3], 1, __ATOMIC_RELEASE);
}

/* One reading of the state file PATH: "- -" when it is not a tree's. */
static void read_state(const char *path)
{
	const volatile uint64_t *w = MAP_FAILED;
	struct timespec ts;
	uint64_t sum = 0, n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		w = mmap(NULL, STATE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
		close(fd);
	}
	if (w == MAP_FAILED || w[0] != TREE_MAGIC) {
		printf("- -\n");
	} else {
		n = w[1] < MAX_PROCS ? w[1] : MAX_PROCS;
		for (uint64_t i = 1; i <= n; i++)
			sum += __atomic_load_n(&w[LINE_WORDS * i],
					       __ATOMIC_RELAXED);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		printf("%llu %llu\n",
		       (unsigned long long)ts.tv_sec * 1000000ULL +
			       (unsigned long long)ts.tv_nsec / 1000,
		       (unsigned long long)sum);
	}
	if (w != MAP_FAILED)
		munmap((void *)w, STATE_SIZE);
	fflush(stdout);
}

static int reader(void)
{
	char path[4096];

	while (fgets(path, sizeof(path), stdin)) {
		path[strcspn(path, "\n")] = '\0';
		read_state(path);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_term};
	pid_t root = getpid();
	char *end;
	long n;

	if (argc == 2 && strcmp(argv[1], "read") == 0)
		return reader();
	if (argc != 3) {
		fprintf(stderr, "usage: tree PROCS STATEFILE | tree read\n");
		return 64;
	}
	n = strtol(argv[1], &end, 10);
	if (*end || n < 1 || n > MAX_PROCS) {
		fprintf(stderr, "tree: bad process count '%s' (1 to %d)\n",
			argv[1], (int)MAX_PROCS);
		return 64;
	}
	nprocs = (int)n;
	/* A group of its own: one kill ends every process of the tree. */
	setpgid(0, 0);
	sigaction(SIGTERM, &sa, NULL);
	state = map_state(argv[2], nprocs);
	for (int i = 1; i < nprocs; i++) {
		pid_t pid;

		fflush(stdout);
		pid = fork();
		if (pid < 0) {
			perror("tree: fork");
			kill(0, SIGKILL);
		}
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != root)
				_exit(0);
			tree_main(i);
			_exit(0);
		}
		children[i] = pid;
	}
	tree_main(0);
	end_tree();
	return 0;
}
