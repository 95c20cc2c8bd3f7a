/* SPDX-License-Identifier: MIT */
/*
 * Target for test-unwind: parks threads in known chains of named frames,
 * built -O2 -fomit-frame-pointer so only CFI can unwind them.  Every frame
 * is noipa with an empty asm after its call, so neither inlining nor a
 * tail call hides it; spacers keep neighbours apart, so an off-by-one
 * lookup lands in a spacer, not in the expected function.
 *
 * Prints "chain TID", "signal TID", "recurse TID", "vdso TID", then
 * "ready PID", and parks until killed.  On SIGUSR2 it dlopens libz and
 * prints "loaded 1".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* gettid */
#endif
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define NOIPA	     __attribute__((noipa, used))
#define KEEP_FRAME() asm volatile("")
#define SPACER(name)                                                           \
	NOIPA void name(void)                                                  \
	{                                                                      \
		KEEP_FRAME();                                                  \
	}
#define RECURSE_DEPTH 1000

static volatile int signal_arrived, victim_spinning;
static volatile sig_atomic_t load_asked;
static pthread_barrier_t started;

NOIPA void park(void)
{
	struct timespec ts = {.tv_sec = 3600};

	for (;;) {
		nanosleep(&ts, NULL);
		KEEP_FRAME();
	}
}

SPACER(spacer0)

NOIPA void f1(void)
{
	park();
	KEEP_FRAME();
}

SPACER(spacer1)

NOIPA void f2(void)
{
	f1();
	KEEP_FRAME();
}

SPACER(spacer2)

NOIPA void f3(void)
{
	f2();
	KEEP_FRAME();
}

SPACER(spacer3)

NOIPA void *chain_main(void *arg)
{
	printf("chain %d\n", gettid());
	pthread_barrier_wait(&started);
	f3();
	KEEP_FRAME();
	return NULL;
}

SPACER(spacer4)

NOIPA void signal_handler(int sig)
{
	signal_arrived = 1;
	park();
	KEEP_FRAME();
}

SPACER(spacer5)

/* Spins, so the signal interrupts ordinary code, not a system call. */
NOIPA void signal_victim(void)
{
	victim_spinning = 1;
	while (!signal_arrived)
		KEEP_FRAME();
}

SPACER(spacer6)

NOIPA void *signal_main(void *arg)
{
	printf("signal %d\n", gettid());
	pthread_barrier_wait(&started);
	signal_victim();
	KEEP_FRAME();
	return NULL;
}

SPACER(spacer7)

NOIPA void recurse(volatile int depth)
{
	if (depth > 0)
		recurse(depth - 1);
	else
		park();
	KEEP_FRAME();
}

SPACER(spacer8)

NOIPA void *recurse_main(void *arg)
{
	printf("recurse %d\n", gettid());
	pthread_barrier_wait(&started);
	recurse(RECURSE_DEPTH);
	KEEP_FRAME();
	return NULL;
}

SPACER(spacer9)

/* Spends most of its time in the vDSO's clock_gettime. */
NOIPA void vdso_spin(void)
{
	struct timespec ts;

	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		KEEP_FRAME();
	}
}

SPACER(spacer10)

NOIPA void *vdso_main(void *arg)
{
	printf("vdso %d\n", gettid());
	pthread_barrier_wait(&started);
	vdso_spin();
	KEEP_FRAME();
	return NULL;
}

static void ask_load(int sig)
{
	load_asked = 1;
}

/* SIGUSR2 asks for a library to be loaded, for the address space to
 * notice on refresh. */
static void serve_loads(void)
{
	for (;;) {
		pause();
		if (!load_asked)
			continue;
		load_asked = 0;
		printf("loaded %d\n", dlopen("libz.so.1", RTLD_NOW) != NULL);
	}
}

int main(void)
{
	void *(*const mains[])(void *) = {chain_main, signal_main, recurse_main,
					  vdso_main};
	pthread_t threads[4];
	struct sigaction sa = {.sa_handler = signal_handler};
	struct sigaction load = {.sa_handler = ask_load};

	/* eu-stack is no ancestor of ours: let it trace under yama. */
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY);
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &load, NULL);
	pthread_barrier_init(&started, NULL, 5);
	for (int i = 0; i < 4; i++)
		if (pthread_create(&threads[i], NULL, mains[i], NULL))
			return 99;
	pthread_barrier_wait(&started);
	while (!victim_spinning)
		sched_yield();
	pthread_kill(threads[1], SIGUSR1);
	while (!signal_arrived)
		sched_yield();
	printf("ready %d\n", getpid());
	serve_loads();
}
