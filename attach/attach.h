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
 * target makes on its own between samples (a thread born, an exec, a
 * signal) are answered by target_poll(), which a caller runs whenever
 * SIGCHLD arrives, or else at the next sample or at detach.
 */
#ifndef CPROF_ATTACH_ATTACH_H
#define CPROF_ATTACH_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "attach/procfs.h"

/* What /proc said of a thread just before it was stopped.  wchan is read
 * by snapshots only, sched by target_sample() only, syscall where the
 * capture policy needs it (see enum capture_policy); what is not read is
 * left zero (syscall.nr -1).  A thread that has not run since a file was
 * last read is not asked again: it still shows the same. */
struct thread_info {
	pid_t tid;
	char name[PROC_COMM_MAX];
	char state; /* /proc stat letter, see procfs_state_name */
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
	uint8_t *stack;	   /* owned by the sample set */
	uint64_t pause_ns; /* how long this thread was held stopped */
	/* Not stopped because it has not run since its last capture
	 * (CAPTURE_CHANGED): its previous stack still holds. */
	bool unchanged;
	/* CAPTURE_RUNNING: the thread waited for a CPU between the scan
	 * and its stop, so it stopped where it had been preempted rather
	 * than where it ran (see displaced() in attach.c). */
	bool displaced;
	/* CAPTURE_RUNNING: the thread was running at the scan but asleep
	 * in a system call by its stop (the stop interrupted the call).
	 * Its info then says so: state S, waiting in that call. */
	bool blocked_at_stop;
	/* Read without a stop while it was blocked in the kernel (see
	 * target_options.read_blocked): of the registers only rsp and rip
	 * are known, the SP and PC /proc/.../syscall showed. */
	bool read_blocked;
	/* Read without a stop and walked at once by target_options.walk,
	 * which kept the walk: stack is NULL. */
	bool walked;
	/* What the sample weighs in the profile: the CPU time its thread
	 * used (cpu), the period (wall); set by the session's sampler. */
	int64_t weight_ns;
	/* perf: the kernel copied all the stack asked for, so a walk that
	 * runs out of the copy is truncated, not cut. */
	bool copy_full;
};

/* Every live thread seen by one sample or snapshot, sorted by tid. */
struct sample_set {
	struct raw_sample *samples;
	size_t n;
	size_t lost; /* threads that exited or could not be captured */
};
void sample_set_release(struct sample_set *set);

struct target_options {
	unsigned batch_size; /* threads stopped at once; 0: the default, 2 */
	size_t max_stack;    /* bytes of stack copied per thread; 0: default */
	/*
	 * Snapshots only: a thread blocked in the kernel (state S or D) is
	 * not stopped.  Its user registers and stack stay as they are until
	 * it gets a CPU again, so its stack is copied from the SP that
	 * /proc/.../syscall shows, and kept if schedstat's run count, read
	 * before that file, has not moved after the copy.  Such a sample
	 * holds SP and PC only; see unwinder_unwind() for how a walk that
	 * needed more is told apart, and target_recapture() for the stop
	 * that takes its place then.
	 */
	bool read_blocked;
	/*
	 * With read_blocked, may be NULL: called with each thread read
	 * without a stop as soon as its copy is checked, s->stack pointing
	 * into a buffer the next thread's copy reuses.  It returns true when
	 * it walked the stack whole and kept the walk: the copy is then not
	 * kept and s->walked is set.  A thousand copies kept until after the
	 * capture touched megabytes of fresh memory, page by page.
	 */
	bool (*walk)(void *ctx, const struct raw_sample *s);
	void *walk_ctx;
};

struct target;

/*
 * Seizes every thread of pid (PTRACE_SEIZE; never PTRACE_ATTACH or SIGSTOP)
 * and follows clones; with opts->read_blocked, one thread, and each other
 * only once it is to be stopped.  Errors: -ESRCH no such process, -EPERM not
 * allowed (see target_explain_eperm), -EINVAL a kernel thread, -ECHILD a
 * zombie. On success the caller owns *ret_target and frees it with
 * target_detach().
 */
int target_attach(pid_t pid, const struct target_options *opts,
		  struct target **ret_target);

/*
 * Captures every live thread once: /proc first (wchan included, sched
 * not), then stop a batch, read registers and stack, resume each thread as
 * soon as its copy is taken.  Threads that exit meanwhile are counted in
 * ret_set->lost, not an error.  target_sample() with CAPTURE_ALL, but
 * with the address space always read afresh.
 */
int target_snapshot(struct target *target, struct sample_set *ret_set);

/*
 * Launches argv[0] (found in PATH like execvp) as a child of the caller,
 * traced from its first instruction: the child waits until it is seized,
 * then restores default signal dispositions and an empty signal mask and
 * executes the command.  Returns once the exec is done, so the new image's
 * address space can be read at once.  Errors: -ENOENT, -EACCES, ... when
 * the command cannot be executed (the child is reaped), -ECHILD when it
 * died before its exec.  Works under kernel.yama.ptrace_scope=1, since
 * the command is the caller's child.  Leaves the command running on
 * target_detach(); the caller reaps it then, unless target_exit_status()
 * already has its status.
 */
int target_launch(char *const argv[], const struct target_options *opts,
		  struct target **ret_target);

/*
 * The process pid names, as target_attach() would take it, with nothing
 * attached: a thread id names its process; same errors.  For samplers
 * that need no ptrace session.
 */
int target_resolve(pid_t pid, pid_t *ret_pid);

/*
 * A command started without a tracer, for samplers that need none: the
 * child waits in launch_spawn() until launch_release() lets it go, so the
 * caller can set up (perf events enabled on exec) first; it starts as
 * target_launch()'s does.  launch_release() returns once the exec is
 * done, or the exec's error (the child then exits 127: reap it).
 */
int launch_spawn(char *const argv[], pid_t *ret_pid, int *ret_go_fd,
		 int *ret_err_fd);

/* In a forked child: waits for "g" on go_fd (anything else: exit 127
 * unrun), then execs argv as a shell would, with default signal
 * dispositions and an empty mask; a failed exec's errno goes to err_fd. */
void launch_exec(char *const argv[], int go_fd, int err_fd)
	__attribute__((noreturn));
int launch_release(int go_fd, int err_fd);

/*
 * target_snapshot() for a session that ends by its tracer thread exiting
 * (see target_abandon): each stopped thread is detached straight from the
 * stop that captured it, and a thread read without a stop stays seized, so
 * that target_recapture() can still stop it.  Threads born meanwhile are
 * detached at their first stop.
 */
int target_snapshot_release(struct target *target, struct sample_set *ret_set);

/*
 * Captures again, each with a stop, the samples of set whose redo[i] is
 * true (taken by target_snapshot_release without one), replacing them in
 * place; each thread is detached from that stop.  A thread gone since
 * keeps its first sample.
 */
int target_recapture(struct target *target, struct sample_set *set,
		     const bool *redo);

/* Which threads target_sample() stops. */
enum capture_policy {
	/* every thread (the threads command) */
	CAPTURE_ALL,
	/* only threads in state R when /proc is read (cpu mode): a thread
	 * that is not running is never stopped, and its syscall is not
	 * read */
	CAPTURE_RUNNING,
	/* every thread except one that has not run since its last capture
	 * (same syscall, SP and PC in /proc/.../syscall, same schedstat run
	 * count): that one is not stopped and comes back captured=false,
	 * unchanged=true (wall mode) */
	CAPTURE_CHANGED,
};

/*
 * One sampling tick.  Reads /proc for every thread first (through fds
 * kept open; wchan is left empty, it costs a stack walk in the kernel),
 * then stops the threads the policy selects, in batches, and resumes each
 * as soon as it is copied.  ret_set->n counts every live thread, captured
 * or not, each with its info filled.  Returns -ESRCH once the whole
 * process is gone.
 */
int target_sample(struct target *target, enum capture_policy policy,
		  struct sample_set *ret_set);

/*
 * Answers every ptrace report already pending, without blocking: new
 * threads are followed, exited ones dropped, a signal is passed on to the
 * target at once, a group-stop is kept (PTRACE_LISTEN), an exec counted.
 * Call it whenever SIGCHLD arrives so that no stop waits for the next
 * sample.  Returns 0, or -ESRCH once the whole process has exited.
 */
int target_poll(struct target *target);

/* How many execs the target made while attached (launch counts its own). */
unsigned target_exec_count(const struct target *target);

/* Threads currently followed. */
size_t target_thread_count(const struct target *target);

/* The wait status of a launched command that has exited; -ECHILD when the
 * target was attached to, not launched, or has not exited yet. */
int target_exit_status(const struct target *target, int *ret_status);

/*
 * target_snapshot() and target_detach() in one pass: every thread is
 * detached straight from the stop that captured it, so each is stopped
 * once, not twice.  Threads born meanwhile are detached without a
 * capture; a group-stopped target stays stopped.  Afterwards only
 * target_detach() may be called, and it just frees.
 */
int target_snapshot_detach(struct target *target, struct sample_set *ret_set);

/* The process id, and its address space as last read from /proc. */
pid_t target_pid(const struct target *target);

/* A live thread to read the process's /proc files through (maps, exe,
 * map_files, mem): the main thread, unless it has exited while others
 * live, when its own entry shows none of them. */
pid_t target_proc_tid(const struct target *target);

/* Detaches every thread (leaving a group-stopped target stopped) and frees
 * the session.  NULL-safe; safe to call from any error path. */
void target_detach(struct target *target);

/*
 * Frees the session without a single ptrace call or wait: for use once the
 * thread that seized the target has exited.  The kernel detached every
 * tracee then without stopping it (a PTRACE_DETACH needs a stopped tracee,
 * which costs a blocked thread one more EINTR): a group-stopped target
 * stays stopped, a signal held in a delivery stop is delivered.  Called
 * while the tracer thread lives, it would leave the target traced.
 * NULL-safe.
 */
void target_abandon(struct target *target);

/*
 * Why PTRACE_SEIZE of pid failed with EPERM, as a phrase fit for an error
 * line: "already traced by pid 123 (gdb)", "kernel.yama.ptrace_scope is 1;
 * ...", "owned by uid 0; run as that user or with CAP_SYS_PTRACE".
 * Writes into buf and returns it.
 */
const char *target_explain_eperm(pid_t pid, char *buf, size_t size);

#endif
