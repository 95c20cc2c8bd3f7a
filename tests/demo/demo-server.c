/* SPDX-License-Identifier: MIT */
/*
 * A small stand-in for a service: a pool of workers waiting for jobs, one
 * worker stuck behind a lock, an event loop and a thread burning CPU.
 * Prints "ready PID" once every thread is in place, then runs until killed.
 */
#include <pthread.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <unistd.h>

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_ready = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t started;
static volatile unsigned long work_done;

__attribute__((noinline)) static void queue_pop(void)
{
	pthread_mutex_lock(&queue_lock);
	for (;;)
		pthread_cond_wait(&queue_ready, &queue_lock);
}

__attribute__((noinline)) static void *worker_main(void *arg)
{
	pthread_setname_np(pthread_self(), "worker");
	pthread_barrier_wait(&started);
	queue_pop();
	return arg;
}

__attribute__((noinline)) static void cache_refresh(void)
{
	pthread_mutex_lock(&cache_lock);
	asm volatile("");
}

__attribute__((noinline)) static void *refresher_main(void *arg)
{
	pthread_setname_np(pthread_self(), "refresher");
	pthread_barrier_wait(&started);
	cache_refresh();
	return arg;
}

__attribute__((noinline)) static void event_loop(int epfd)
{
	struct epoll_event event;

	for (;;)
		epoll_wait(epfd, &event, 1, -1);
}

__attribute__((noinline)) static void *events_main(void *arg)
{
	int epfd = epoll_create1(EPOLL_CLOEXEC);

	pthread_setname_np(pthread_self(), "events");
	pthread_barrier_wait(&started);
	event_loop(epfd);
	return arg;
}

/* The hot function of the CPU profile, a frame of its own: noinline, its
 * result used (else the call goes), and an empty asm after the call so it
 * is no tail call. */
__attribute__((noinline)) static unsigned long checksum(unsigned long seed)
{
	for (int i = 0; i < 3000; i++)
		seed = seed * 6364136223846793005UL + 1442695040888963407UL;
	return seed;
}

/* About a fifth of the thread's time goes to its own loop, the rest to
 * checksum(): the two top rows of its CPU profile (README.md). */
__attribute__((noinline)) static void *compute_main(void *arg)
{
	unsigned long seed = 1;

	pthread_setname_np(pthread_self(), "compute");
	pthread_barrier_wait(&started);
	for (;;) {
		seed = checksum(seed);
		asm volatile("");
		for (int i = 0; i < 1000; i++)
			seed ^= seed >> 7 ^ seed << 9;
		work_done = seed;
	}
	return arg;
}

int main(void)
{
	void *(*const mains[])(void *) = {
		worker_main,	worker_main, worker_main, worker_main,
		refresher_main, events_main, compute_main};
	const int nthreads = sizeof(mains) / sizeof(mains[0]);
	pthread_t thread;

	pthread_mutex_lock(&cache_lock);
	pthread_barrier_init(&started, NULL, nthreads + 1);
	for (int i = 0; i < nthreads; i++)
		pthread_create(&thread, NULL, mains[i], NULL);
	pthread_barrier_wait(&started);
	printf("ready %d\n", getpid());
	fflush(stdout);
	for (;;)
		pause();
}
