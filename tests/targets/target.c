/* The park registry: threads announce themselves, main waits until each is
 * blocked in the syscall it announced (read from /proc/self/task/TID/syscall)
 * or, for a spinning thread, until the busy counter moves. */
#include "target.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MAX_SLOTS 64

struct slot {
	int tid;
	long sysno;
};

static struct slot slots[MAX_SLOTS];
static int nslots;
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t counter_fallback;
volatile uint64_t *target_counter = &counter_fallback;

int target_announce(const char *name, long sysno)
{
	int slot;

	pthread_setname_np(pthread_self(), name);
	pthread_mutex_lock(&slots_lock);
	slot = nslots++;
	if (slot >= MAX_SLOTS) {
		fprintf(stderr, "target: too many threads\n");
		abort();
	}
	__atomic_store_n(&slots[slot].sysno, sysno, __ATOMIC_RELEASE);
	__atomic_store_n(&slots[slot].tid, gettid(), __ATOMIC_RELEASE);
	pthread_mutex_unlock(&slots_lock);
	return slot;
}

void target_expect(int slot, long sysno)
{
	__atomic_store_n(&slots[slot].sysno, sysno, __ATOMIC_RELEASE);
}

int target_tid(int slot)
{
	return __atomic_load_n(&slots[slot].tid, __ATOMIC_ACQUIRE);
}

/* Returns the syscall number TID is blocked in, -1 when running, -2 when
 * unknown yet. */
static long task_syscall(int tid)
{
	char path[64], buf[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -2;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -2;
	buf[n] = '\0';
	if (strncmp(buf, "running", 7) == 0)
		return -1;
	return strtol(buf, NULL, 10);
}

static char task_state(int tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return '?';
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

static int slot_parked(int i)
{
	long want = __atomic_load_n(&slots[i].sysno, __ATOMIC_ACQUIRE);
	int tid = target_tid(i);

	if (tid == 0)
		return 0;
	if (want == PARK_RUNNING)
		return *target_counter > 0;
	return task_state(tid) == 'S' && task_syscall(tid) == want;
}

void target_wait_parked(int count)
{
	const struct timespec tick = {0, 1000000};

	for (;;) {
		int i, parked = 0;

		if (__atomic_load_n(&nslots, __ATOMIC_ACQUIRE) >= count) {
			for (i = 0; i < count; i++)
				parked += slot_parked(i);
			if (parked == count)
				return;
		}
		nanosleep(&tick, NULL);
	}
}

void target_counter_init(void)
{
	const char *path = getenv("CPROF_TARGET_COUNTER");
	void *p;
	int fd;

	if (!path || !*path)
		return;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, sizeof(uint64_t)) < 0) {
		perror(path);
		exit(99);
	}
	p = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(99);
	}
	close(fd);
	target_counter = p;
}

void target_ready(void)
{
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
}

NOIPA void target_count_work(void)
{
	uint64_t x = 1;

	for (int i = 0; i < 1000; i++) {
		x = x * 6364136223846793005u + 1;
		__asm__ volatile("" : "+r"(x));
	}
	__atomic_fetch_add(target_counter, 1, __ATOMIC_RELAXED);
}
