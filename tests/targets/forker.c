/* forker: a process tree for cprof record -p LIST and --pid-tree.
 *
 * usage: forker            a parent and its workers
 *        forker spin SECONDS   one process spinning in worker_a, then exit 0
 *
 * The parent forks three workers, each spinning for ever in a function of
 * its own (worker_a, worker_b, worker_c), prints "worker X PID" for each
 * and then "ready PID" (its own pid), and waits.  Each SIGUSR1 forks one
 * more worker, spinning in worker_d, and prints "worker d PID".  Workers
 * die with the parent (PR_SET_PDEATHSIG), so a test that kills the parent
 * leaves nothing behind; SIGTERM to the parent ends the workers too.
 * With "spin SECONDS" the process spins in worker_a for that long (wall
 * clock) and exits 0, or exits 0 at once on SIGTERM.
 */
#include "target.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 64

/* xorshift64 in the worker's own frame: a macro, so no frame of its own
 * takes the samples. */
#define STEP(x)                                                                \
	do {                                                                   \
		(x) ^= (x) << 13;                                              \
		(x) ^= (x) >> 7;                                               \
		(x) ^= (x) << 17;                                              \
		__asm__ volatile("" : "+r"(x));                                \
	} while (0)

static volatile sig_atomic_t fork_asked, end_asked;
static pid_t workers[MAX_WORKERS];
static int nworkers;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Spins until the deadline (0: for ever) or SIGTERM. */
#define SPIN_BODY(deadline)                                                    \
	do {                                                                   \
		uint64_t x = 88172645463325252ULL;                             \
		while (!end_asked && (!(deadline) || now_s() < (deadline))) {  \
			for (int i = 0; i < 100000; i++)                       \
				STEP(x);                                       \
		}                                                              \
		return x;                                                      \
	} while (0)

SPACER(forker_spacer0)
NOIPA uint64_t worker_a(double deadline);
NOIPA uint64_t worker_a(double deadline)
{
	SPIN_BODY(deadline);
}
SPACER(forker_spacer1)
NOIPA uint64_t worker_b(double deadline);
NOIPA uint64_t worker_b(double deadline)
{
	SPIN_BODY(deadline);
}
SPACER(forker_spacer2)
NOIPA uint64_t worker_c(double deadline);
NOIPA uint64_t worker_c(double deadline)
{
	SPIN_BODY(deadline);
}
SPACER(forker_spacer3)
NOIPA uint64_t worker_d(double deadline);
NOIPA uint64_t worker_d(double deadline)
{
	SPIN_BODY(deadline);
}
SPACER(forker_spacer4)

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		fork_asked = 1;
	else
		end_asked = 1;
}

static void start_worker(char which)
{
	pid_t parent = getpid(), pid;

	if (nworkers == MAX_WORKERS)
		return;
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("forker: fork");
		exit(1);
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		switch (which) {
		case 'a':
			worker_a(0);
			break;
		case 'b':
			worker_b(0);
			break;
		case 'c':
			worker_c(0);
			break;
		default:
			worker_d(0);
		}
		KEEP_FRAME();
		_exit(0);
	}
	workers[nworkers++] = pid;
	printf("worker %c %d\n", which, (int)pid);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};
	sigset_t mask, old;

	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (argc == 3 && strcmp(argv[1], "spin") == 0) {
		worker_a(now_s() + atof(argv[2]));
		KEEP_FRAME();
		return 0;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, &old);
	start_worker('a');
	start_worker('b');
	start_worker('c');
	target_ready();
	while (!end_asked) {
		sigsuspend(&old);
		if (fork_asked) {
			fork_asked = 0;
			start_worker('d');
		}
	}
	for (int i = 0; i < nworkers; i++)
		kill(workers[i], SIGKILL);
	while (wait(NULL) > 0)
		;
	return 0;
}
