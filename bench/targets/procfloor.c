/* procfloor: what reading every thread's /proc files costs, with nothing
 * else to do: the floor under a snapshot that stops no blocked thread.
 *
 *   procfloor PID [ROUNDS]
 *
 * Lists /proc/PID/task, then for each thread opens, reads and closes
 * stat, syscall and schedstat (schedstat read twice, before and after a
 * stack copy, as cprof threads does), ROUNDS times (default 5).  Prints
 *   procfloor_ms THREADS MEDIAN
 * the median time of one round, listing included, in milliseconds.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUNDS 100

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void read_file(int dirfd, int tid, const char *name, int reads)
{
	char path[64], buf[4096];
	int fd;

	snprintf(path, sizeof(path), "%d/%s", tid, name);
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	for (int i = 0; i < reads; i++)
		if (pread(fd, buf, sizeof(buf), 0) < 0)
			break;
	close(fd);
}

/* One round; the number of threads read. */
static int one_round(const char *task_dir)
{
	DIR *d = opendir(task_dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		int tid = atoi(de->d_name);

		if (tid <= 0)
			continue;
		read_file(dirfd(d), tid, "stat", 1);
		read_file(dirfd(d), tid, "syscall", 1);
		read_file(dirfd(d), tid, "schedstat", 2);
		n++;
	}
	closedir(d);
	return n;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int rounds = argc > 2 ? atoi(argv[2]) : 5, n = 0;
	double ms[MAX_ROUNDS];
	char task_dir[64];

	if (argc < 2 || rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "usage: procfloor PID [ROUNDS]\n");
		return 64;
	}
	snprintf(task_dir, sizeof(task_dir), "/proc/%s/task", argv[1]);
	for (int i = 0; i < rounds; i++) {
		double t = now_ms();

		n = one_round(task_dir);
		if (n < 0) {
			perror("procfloor");
			return 2;
		}
		ms[i] = now_ms() - t;
	}
	qsort(ms, (size_t)rounds, sizeof(*ms), by_value);
	printf("procfloor_ms %d %.2f\n", n, ms[rounds / 2]);
	return 0;
}
