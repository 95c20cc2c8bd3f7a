/* SPDX-License-Identifier: MIT */
/*
 * A ptrace session on one target process.  attach/ owns every ptrace call
 * and every stop: each stop it makes is paired with a resume on every path,
 * signals seen while a thread is stopped are re-injected, and a group-stop
 * (the target was SIGSTOPped) is kept with PTRACE_LISTEN.
 *
 * The session captures raw samples: registers and one copy of the stack,
 * taken while the thread is stopped; the thread is resumed as soon as its
 * copy is taken.  Unwinding happens later, over the copy.
 *
 * A session is driven from one thread (the kernel's tracer is a thread),
 * and it waits with waitpid(-1, __WALL): while a target is attached, the
 * exit of another child of the caller may be consumed by it.  Stops the
 * target makes on its own between snapshots (a thread born, an exec, a
 * signal) are answered at the next target_snapshot or target_detach.
 */
#ifndef CPROF_ATTACH_ATTACH_H
#define CPROF_ATTACH_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "attach/procfs.h"

/* What /proc said of a thread just before it was stopped. */
struct thread_info {
	pid_t tid;
	char name[PROC_COMM_MAX];
	char state;		     /* /proc stat letter, see procfs_state_name */
	char wchan[PROC_WCHAN_MAX];  /* "" when the kernel hides it */
	struct proc_syscall syscall; /* where it waits, if it waits */
	struct proc_schedstat sched;
};

/* One thread captured once. */
struct raw_sample {
	struct thread_info info;
	uint64_t time_ns; /* CLOCK_MONOTONIC at capture */
	bool captured;	  /* false: thread known but not stopped/read */
	struct user_regs_struct regs;
	uint64_t stack_start; /* target address of stack[0]: the SP */
	size_t stack_len;
	uint8_t *stack; /* owned by the sample set */
	uint64_t pause_ns; /* how long this thread was held stopped */
};

/* All threads captured by one snapshot, sorted by tid. */
struct sample_set {
	struct raw_sample *samples;
	size_t n;
	size_t lost; /* threads that exited or could not be captured */
};
void sample_set_release(struct sample_set *set);

struct target_options {
	unsigned batch_size; /* threads stopped at once; 0: the default */
	size_t max_stack;    /* bytes of stack copied per thread; 0: default */
};

struct target;

/*
 * Seizes every thread of pid (PTRACE_SEIZE; never PTRACE_ATTACH or SIGSTOP)
 * and follows clones.  Errors: -ESRCH no such process, -EPERM not allowed
 * (see target_explain_eperm), -EINVAL a kernel thread, -ECHILD a zombie.
 * On success the caller owns *ret_target and frees it with target_detach().
 */
int target_attach(pid_t pid, const struct target_options *opts,
		  struct target **ret_target);

/*
 * Captures every live thread once: /proc first, then stop a batch, read
 * registers and stack, resume each thread as soon as its copy is taken.
 * Threads that exit meanwhile are counted in ret_set->lost, not an error.
 */
int target_snapshot(struct target *target, struct sample_set *ret_set);

/* The process id, and its address space as last read from /proc. */
pid_t target_pid(const struct target *target);

/* Detaches every thread (leaving a group-stopped target stopped) and frees
 * the session.  NULL-safe; safe to call from any error path. */
void target_detach(struct target *target);

/*
 * Why PTRACE_SEIZE of pid failed with EPERM, as a phrase fit for an error
 * line: "already traced by pid 123 (gdb)", "kernel.yama.ptrace_scope is 1;
 * ...", "owned by uid 0; run as that user or with CAP_SYS_PTRACE".
 * Writes into buf and returns it.
 */
const char *target_explain_eperm(pid_t pid, char *buf, size_t size);

#endif
