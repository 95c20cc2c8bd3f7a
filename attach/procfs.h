/* SPDX-License-Identifier: MIT */
/*
 * Readers for /proc/PID and /proc/PID/task/TID files.  The parsers take the
 * file's bytes and never trust them: every field is bounded and checked, so
 * they can be fuzzed on their own.  None of them prints; all return 0 or a
 * negative errno and leave ret_* untouched on failure.
 */
#ifndef CPROF_ATTACH_PROCFS_H
#define CPROF_ATTACH_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROC_COMM_MAX  16 /* TASK_COMM_LEN, NUL included */
#define PROC_WCHAN_MAX 64

/* One line of /proc/PID/maps. */
struct proc_map {
	uint64_t start, end, offset;
	bool readable, writable, executable;
	uint64_t inode;
	char *path; /* "" for anonymous, "[stack]", "/usr/lib/...", owned */
};

struct proc_maps {
	struct proc_map *maps; /* sorted by start, as the kernel prints them */
	size_t n;
};

int procfs_parse_maps(const char *buf, size_t len, struct proc_maps *ret_maps);
int procfs_read_maps(pid_t pid, struct proc_maps *ret_maps);
void procfs_maps_release(struct proc_maps *maps);
/* The mapping holding addr, or NULL. */
const struct proc_map *procfs_maps_find(const struct proc_maps *maps,
					uint64_t addr);

/* From /proc/PID/task/TID/stat: the state letter (R S D T t Z X I P W). */
struct proc_stat {
	/* The same bytes as the comm file, which holds nothing more: reading
	 * stat alone saves a file per thread. */
	char comm[PROC_COMM_MAX];
	char state;
	pid_t ppid;
	unsigned long flags; /* PF_KTHREAD = 0x00200000 marks kernel threads */
	uint64_t utime_ticks, stime_ticks;
	int processor; /* the CPU it last ran on; -1 when not shown */
};
int procfs_parse_stat(const char *buf, size_t len, struct proc_stat *ret);

/* From /proc/PID/status: what attach needs to explain a refusal. */
struct proc_status {
	pid_t tgid;
	pid_t tracer_pid;
	uid_t uid_real, uid_effective;
	unsigned threads;
	uint64_t cap_effective; /* CapEff bits; 0 when the line is absent */
};
int procfs_parse_status(const char *buf, size_t len, struct proc_status *ret);

/*
 * /proc/PID/task/TID/syscall: "running", or "NR arg1..arg6 SP PC", or "-1 SP
 * PC" for a thread blocked outside a system call.
 */
struct proc_syscall {
	bool running;
	long nr; /* -1: blocked, but not in a system call */
	uint64_t sp, pc;
};
int procfs_parse_syscall(const char *buf, size_t len, struct proc_syscall *ret);

/* /proc/PID/task/TID/schedstat: "cpu_ns wait_ns timeslices". */
struct proc_schedstat {
	uint64_t cpu_ns, wait_ns, run_count;
};
int procfs_parse_schedstat(const char *buf, size_t len,
			   struct proc_schedstat *ret);

/* Reads a whole small /proc file at dirfd-relative path into buf (NUL
 * terminated); returns its length or a negative errno. */
ssize_t procfs_read_file(int dirfd, const char *path, char *buf, size_t size);

/* /proc/PID/stat read and parsed: 0 or a negative errno. */
int procfs_read_stat(pid_t pid, struct proc_stat *ret);

/* "running", "sleeping", "disk", "stopped", "traced", "zombie", "dead",
 * "idle", "parked", "waking" or "unknown"; never NULL. */
const char *procfs_state_name(char state);

/* "futex", "epoll_wait", ... for an x86_64 system call number; NULL when
 * the number is not known. */
const char *procfs_syscall_name(long nr);

#endif
