/* SPDX-License-Identifier: MIT */
/*
 * The /proc parsers on real and hostile inputs: exact values for what the
 * kernel prints, -EINVAL for everything else, and no read past len (inputs
 * are copied into exactly sized heap buffers, so ASan or valgrind would
 * see an overrun).
 *
 * Exit codes: 0 pass, 1 fail, 99 framework failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach/procfs.h"

#define EXIT_PASS 0
#define EXIT_FAIL 1
#define EXIT_HARD 99

static int failures;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			failures++;                                            \
		}                                                              \
	} while (0)

/* The input without its NUL, in a buffer of exactly that size. */
static char *exact_copy(const char *text, size_t *ret_len)
{
	size_t len = strlen(text);
	char *copy = malloc(len ? len : 1);

	if (!copy) {
		perror("malloc");
		exit(EXIT_HARD);
	}
	memcpy(copy, text, len);
	*ret_len = len;
	return copy;
}

static int parse_stat(const char *text, struct proc_stat *st)
{
	size_t len;
	char *buf = exact_copy(text, &len);
	int r = procfs_parse_stat(buf, len, st);

	free(buf);
	return r;
}

static int parse_syscall(const char *text, struct proc_syscall *sc)
{
	size_t len;
	char *buf = exact_copy(text, &len);
	int r = procfs_parse_syscall(buf, len, sc);

	free(buf);
	return r;
}

static int parse_schedstat(const char *text, struct proc_schedstat *ss)
{
	size_t len;
	char *buf = exact_copy(text, &len);
	int r = procfs_parse_schedstat(buf, len, ss);

	free(buf);
	return r;
}

static int parse_status(const char *text, struct proc_status *st)
{
	size_t len;
	char *buf = exact_copy(text, &len);
	int r = procfs_parse_status(buf, len, st);

	free(buf);
	return r;
}

static int parse_maps(const char *text, struct proc_maps *maps)
{
	size_t len;
	char *buf = exact_copy(text, &len);
	int r = procfs_parse_maps(buf, len, maps);

	free(buf);
	return r;
}

static void test_stat(void)
{
	struct proc_stat st = {0};

	CHECK(parse_stat(
		      "4093 (a) (b) c) S 1 4093 4093 0 -1 4194560 120 0 3 "
		      "0 17 5 0 0 20 0 3 0 1234 1000 200 18446744073709551615"
		      " 1\n",
		      &st) == 0);
	CHECK(st.state == 'S');
	CHECK(st.ppid == 1);
	CHECK(st.flags == 4194560);
	CHECK(st.utime_ticks == 17 && st.stime_ticks == 5);

	CHECK(parse_stat("2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 3",
			 &st) == 0);
	CHECK(st.state == 'S' && st.ppid == 0 && (st.flags & 0x00200000));
	CHECK(st.stime_ticks == 3);

	/* A comm of ") (" and one of spaces only. */
	CHECK(parse_stat("7 () () R 3 0 0 0 0 64 0 0 0 0 1 2\n", &st) == 0);
	CHECK(st.state == 'R' && st.ppid == 3 && st.stime_ticks == 2);
	CHECK(parse_stat("8 (   ) t 9 0 0 0 0 0 0 0 0 0 0 0\n", &st) == 0);
	CHECK(st.state == 't' && st.ppid == 9);

	memset(&st, 0x5a, sizeof(st));
	CHECK(parse_stat("", &st) == -EINVAL);
	CHECK(st.state == 0x5a); /* untouched on failure */
	CHECK(parse_stat("12", &st) == -EINVAL);
	CHECK(parse_stat("12 (x", &st) == -EINVAL);
	CHECK(parse_stat("12 (x)", &st) == -EINVAL);
	CHECK(parse_stat("12 (x) S", &st) == -EINVAL);
	CHECK(parse_stat("12 (x) S 1 2 3 4 5 6 7 8 9 10 11", &st) == -EINVAL);
	CHECK(parse_stat("12 (x) 1 1 2 3 4 5 6 7 8 9 10 11 12", &st) ==
	      -EINVAL);
	CHECK(parse_stat("x (x) S 1 2 3 4 5 6 7 8 9 10 11 12", &st) == -EINVAL);
	CHECK(parse_stat("12 (x) S 1 2 3 4 5 99999999999999999999 7 8 9 10 11 "
			 "12",
			 &st) == -EINVAL);
	CHECK(parse_stat("12 (x) S 99999999999 2 3 4 5 6 7 8 9 10 11 12",
			 &st) == -EINVAL);
	CHECK(parse_stat("12 (x) S 1 2 3 4 5 6 7 8 9 10 11 12x", &st) ==
	      -EINVAL);
	CHECK(st.state == 0x5a);
}

static void test_syscall(void)
{
	struct proc_syscall sc = {0};

	CHECK(parse_syscall("running\n", &sc) == 0);
	CHECK(sc.running && sc.nr == -1);
	CHECK(parse_syscall("running", &sc) == 0 && sc.running);

	CHECK(parse_syscall("202 0x7f3a00001000 0x80 0x0 0x0 0x0 0x0 "
			    "0x7ffd5e0c1a80 0x7f3a12345678\n",
			    &sc) == 0);
	CHECK(!sc.running && sc.nr == 202);
	CHECK(sc.sp == 0x7ffd5e0c1a80 && sc.pc == 0x7f3a12345678);

	CHECK(parse_syscall("-1 0x7ffd00000010 0x401000\n", &sc) == 0);
	CHECK(!sc.running && sc.nr == -1 && sc.sp == 0x7ffd00000010 &&
	      sc.pc == 0x401000);

	memset(&sc, 0x5a, sizeof(sc));
	CHECK(parse_syscall("", &sc) == -EINVAL);
	CHECK(parse_syscall("runnin", &sc) == -EINVAL);
	CHECK(parse_syscall("running fast", &sc) == -EINVAL);
	CHECK(parse_syscall("-2 0x1 0x2", &sc) == -EINVAL);
	CHECK(parse_syscall("-1 0x1", &sc) == -EINVAL);
	CHECK(parse_syscall("202 0x1 0x2 0x3 0x4 0x5 0x6 0x7", &sc) == -EINVAL);
	CHECK(parse_syscall("202 0x1 0x2 0x3 0x4 0x5 0x6 0x7 0x8 0x9", &sc) ==
	      -EINVAL);
	CHECK(parse_syscall("-1 0x10000000000000000 0x1", &sc) == -EINVAL);
	CHECK(parse_syscall("-1 0x 0x1", &sc) == -EINVAL);
	CHECK(parse_syscall("-1 0xzz 0x1", &sc) == -EINVAL);
	CHECK(parse_syscall("99999999999999999999 0x1 0x2 0x3 0x4 0x5 0x6 0x7 "
			    "0x8",
			    &sc) == -EINVAL);
	CHECK(sc.nr == (long)0x5a5a5a5a5a5a5a5a);
}

static void test_schedstat(void)
{
	struct proc_schedstat ss = {0};

	CHECK(parse_schedstat("123456789 42 7\n", &ss) == 0);
	CHECK(ss.cpu_ns == 123456789 && ss.wait_ns == 42 && ss.run_count == 7);
	CHECK(parse_schedstat("18446744073709551615 0 0", &ss) == 0);
	CHECK(ss.cpu_ns == UINT64_MAX);

	CHECK(parse_schedstat("", &ss) == -EINVAL);
	CHECK(parse_schedstat("1 2", &ss) == -EINVAL);
	CHECK(parse_schedstat("1 2 3 4", &ss) == -EINVAL);
	CHECK(parse_schedstat("18446744073709551616 0 0", &ss) == -EINVAL);
	CHECK(parse_schedstat("-1 2 3", &ss) == -EINVAL);
	CHECK(parse_schedstat("1 2 3\n\n", &ss) == -EINVAL);
}

static void test_status(void)
{
	struct proc_status st = {0};

	CHECK(parse_status("Name:\tcat\nUmask:\t0022\nState:\tR (running)\n"
			   "Tgid:\t5781\nNgid:\t0\nPid:\t5790\nPPid:\t5778\n"
			   "TracerPid:\t4093\nUid:\t1000\t1001\t1000\t1000\n"
			   "Gid:\t0\t0\t0\t0\nThreads:\t12\n"
			   "CapEff:\t000001ffffffffff\n",
			   &st) == 0);
	CHECK(st.tgid == 5781 && st.tracer_pid == 4093);
	CHECK(st.uid_real == 1000 && st.uid_effective == 1001);
	CHECK(st.threads == 12 && st.cap_effective == 0x1ffffffffffull);

	/* No CapEff: still fine, reads as no capability. */
	CHECK(parse_status("Tgid:\t1\nTracerPid:\t0\nUid:\t0\t0\t0\t0\n"
			   "Threads:\t1",
			   &st) == 0);
	CHECK(st.tgid == 1 && st.cap_effective == 0);

	CHECK(parse_status("", &st) == -EINVAL);
	CHECK(parse_status("Tgid:\t1\nTracerPid:\t0\nUid:\t0\t0\t0\t0\n",
			   &st) == -EINVAL);
	CHECK(parse_status("Tgid:\t1\nTracerPid:\t0\nUid:\t0\nThreads:\t1\n",
			   &st) == -EINVAL);
	CHECK(parse_status("Tgid:\tx\nTracerPid:\t0\nUid:\t0\t0\nThreads:\t1\n",
			   &st) == -EINVAL);
	CHECK(parse_status("Tgid 1\nTracerPid:\t0\nUid:\t0\t0\nThreads:\t1\n",
			   &st) == -EINVAL);
	CHECK(parse_status("Tgid:\t1\nTracerPid:\t0\nUid:\t0\t0\n"
			   "Threads:\t99999999999\n",
			   &st) == -EINVAL);
}

static void test_maps(void)
{
	struct proc_maps maps = {0};
	const struct proc_map *m;

	CHECK(parse_maps(
		      "55d0c0a00000-55d0c0a02000 r--p 00000000 08:01 "
		      "1234567                    /usr/bin/my prog (deleted)\n"
		      "55d0c0a02000-55d0c0a07000 r-xp 00002000 08:01 1234567 "
		      "                   /usr/bin/my prog (deleted)\n"
		      "7f0000000000-7f0000021000 rw-p 00000000 00:00 0 \n"
		      "7ffd5e0a2000-7ffd5e0c3000 rw-p 00000000 00:00 0       "
		      "                   [stack]\n"
		      "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 "
		      "0                  [vsyscall]",
		      &maps) == 0);
	CHECK(maps.n == 5);
	if (maps.n == 5) {
		CHECK(maps.maps[0].start == 0x55d0c0a00000 &&
		      maps.maps[0].end == 0x55d0c0a02000);
		CHECK(maps.maps[0].readable && !maps.maps[0].writable &&
		      !maps.maps[0].executable);
		CHECK(strcmp(maps.maps[0].path, "/usr/bin/my prog (deleted)") ==
		      0);
		CHECK(maps.maps[1].offset == 0x2000 &&
		      maps.maps[1].inode == 1234567 && maps.maps[1].executable);
		CHECK(strcmp(maps.maps[2].path, "") == 0);
		CHECK(strcmp(maps.maps[3].path, "[stack]") == 0);
		CHECK(!maps.maps[4].readable && maps.maps[4].executable);
	}
	m = procfs_maps_find(&maps, 0x55d0c0a02000);
	CHECK(m && m == &maps.maps[1]);
	CHECK(procfs_maps_find(&maps, 0x55d0c0a01fff) == &maps.maps[0]);
	CHECK(procfs_maps_find(&maps, 0x7ffd5e0c2fff) == &maps.maps[3]);
	CHECK(procfs_maps_find(&maps, 0x7ffd5e0c3000) == NULL);
	CHECK(procfs_maps_find(&maps, 0) == NULL);
	CHECK(procfs_maps_find(&maps, 0xffffffffff600123) == &maps.maps[4]);
	procfs_maps_release(&maps);
	CHECK(maps.n == 0 && maps.maps == NULL);

	CHECK(parse_maps("", &maps) == 0 && maps.n == 0);
	procfs_maps_release(&maps);

	maps = (struct proc_maps){0};
	CHECK(parse_maps("1000-2000 r-xp 0 08:01", &maps) == -EINVAL);
	CHECK(parse_maps("1000-2000 r-xq 0 08:01 1 /x\n", &maps) == -EINVAL);
	CHECK(parse_maps("2000-1000 r-xp 0 08:01 1 /x\n", &maps) == -EINVAL);
	CHECK(parse_maps("1000-1000 r-xp 0 08:01 1 /x\n", &maps) == -EINVAL);
	CHECK(parse_maps("1000-3000 r-xp 0 08:01 1 /x\n"
			 "2000-4000 r-xp 0 08:01 1 /y\n",
			 &maps) == -EINVAL);
	CHECK(parse_maps("1000-2000 r-xp 0 08:01 1 /x\n1000", &maps) ==
	      -EINVAL);
	CHECK(parse_maps("10000000000000000-10000000000000001 r-xp 0 08:01 1\n",
			 &maps) == -EINVAL);
	CHECK(maps.n == 0 && maps.maps == NULL);
}

static void test_names(void)
{
	CHECK(strcmp(procfs_state_name('R'), "running") == 0);
	CHECK(strcmp(procfs_state_name('S'), "sleeping") == 0);
	CHECK(strcmp(procfs_state_name('D'), "disk") == 0);
	CHECK(strcmp(procfs_state_name('T'), "stopped") == 0);
	CHECK(strcmp(procfs_state_name('t'), "traced") == 0);
	CHECK(strcmp(procfs_state_name('Z'), "zombie") == 0);
	CHECK(strcmp(procfs_state_name('X'), "dead") == 0);
	CHECK(strcmp(procfs_state_name('I'), "idle") == 0);
	CHECK(strcmp(procfs_state_name('P'), "parked") == 0);
	CHECK(strcmp(procfs_state_name('W'), "waking") == 0);
	CHECK(strcmp(procfs_state_name('?'), "unknown") == 0);
	CHECK(strcmp(procfs_state_name('\0'), "unknown") == 0);

	CHECK(strcmp(procfs_syscall_name(0), "read") == 0);
	CHECK(strcmp(procfs_syscall_name(7), "poll") == 0);
	CHECK(strcmp(procfs_syscall_name(35), "nanosleep") == 0);
	CHECK(strcmp(procfs_syscall_name(202), "futex") == 0);
	CHECK(strcmp(procfs_syscall_name(232), "epoll_wait") == 0);
	CHECK(procfs_syscall_name(-1) == NULL);
	CHECK(procfs_syscall_name(400) == NULL); /* a gap in the table */
	CHECK(procfs_syscall_name(100000) == NULL);
}

/* The real files of this process go through the real readers. */
static void test_live(void)
{
	char buf[4096], small[4];
	struct proc_stat st;
	struct proc_status status;
	struct proc_syscall sc;
	struct proc_schedstat ss;
	struct proc_maps maps = {0};
	ssize_t n;
	int dirfd = open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dirfd < 0) {
		perror("/proc/self");
		exit(EXIT_HARD);
	}
	n = procfs_read_file(dirfd, "stat", buf, sizeof(buf));
	CHECK(n > 0 && buf[n] == '\0');
	CHECK(n > 0 && procfs_parse_stat(buf, (size_t)n, &st) == 0 &&
	      st.state == 'R' && st.ppid == getppid());
	n = procfs_read_file(dirfd, "status", buf, sizeof(buf));
	CHECK(n > 0 && procfs_parse_status(buf, (size_t)n, &status) == 0 &&
	      status.tgid == getpid() && status.threads == 1);
	n = procfs_read_file(dirfd, "syscall", buf, sizeof(buf));
	CHECK(n > 0 && procfs_parse_syscall(buf, (size_t)n, &sc) == 0);
	n = procfs_read_file(dirfd, "schedstat", buf, sizeof(buf));
	CHECK(n > 0 && procfs_parse_schedstat(buf, (size_t)n, &ss) == 0 &&
	      ss.run_count > 0);
	CHECK(procfs_read_file(dirfd, "status", small, sizeof(small)) ==
	      -EFBIG);
	CHECK(procfs_read_file(dirfd, "no-such-file", buf, sizeof(buf)) ==
	      -ENOENT);
	close(dirfd);

	CHECK(procfs_read_maps(getpid(), &maps) == 0 && maps.n > 3);
	CHECK(procfs_maps_find(&maps, (uintptr_t)&maps) != NULL);
	CHECK(procfs_maps_find(&maps, (uintptr_t)test_live) != NULL &&
	      procfs_maps_find(&maps, (uintptr_t)test_live)->executable);
	procfs_maps_release(&maps);
	CHECK(procfs_read_maps(-5, &maps) == -ESRCH);
}

int main(void)
{
	test_stat();
	test_syscall();
	test_schedstat();
	test_status();
	test_maps();
	test_names();
	test_live();
	if (failures) {
		fprintf(stderr, "%d checks failed\n", failures);
		return EXIT_FAIL;
	}
	printf("procfs: all checks passed\n");
	return EXIT_PASS;
}
