// SPDX-License-Identifier: MIT
/*
 * The ptrace session.  Every thread is a tracee with a phase; one event
 * loop (wait_event + dispatch_event) moves tracees between phases, and each
 * stop it sees is answered at once: a capture, a resume, a re-injected
 * signal, a PTRACE_LISTEN or a detach.  No function leaves a thread in a
 * stop that cprof made.
 *
 * All calls on one target must come from one thread: the kernel makes the
 * thread that seized a tracee its only tracer.
 */
#include "attach/attach.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * Measured with test-attach --bench 1000 B (1000 parked threads, 2 CPUs):
 * the whole snapshot takes about as long for B = 1..16 (45-56 ms), while
 * each thread's pause grows with B, the others in its batch being copied
 * while it waits: mean 38, 51, 81, 138, 288 us for B = 1, 2, 4, 8, 16.
 * Two overlaps the wake-up of one thread with the copy of the other, and
 * the one-pass snapshot and detach is slower with one (135 vs 75 ms).
 */
#define DEFAULT_BATCH_SIZE 2
/* glibc's default thread stack and RLIMIT_STACK: rustc's compile thread
 * keeps more than 512 KiB between its leaf and its entry.  Only what is
 * in use, SP to the mapping's end, is copied. */
#define DEFAULT_MAX_STACK (8 * 1024 * 1024)
#define PREFAULT_STACK	  (256 * 1024)
/* A snapshot's /proc files closed together, with one close_range(). */
#define CLOSE_BATCH	   24
#define PF_KTHREAD	   0x00200000UL
#define CAP_SYS_PTRACE_BIT 19
#define SEIZE_OPTIONS	   (PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC)
/* A wait for any tracee sees this thread's tracees and children only:
 * several sessions of one cprof, each on a thread of its own, must not
 * take each other's reports (the kernel's wait otherwise looks at every
 * thread of the group). */
#define WAIT_OWN (__WALL | __WNOTHREAD)
/* From the timer's wakeup of a real-time sampler to its first look. */
#define TICK_WAKE_SLACK_NS 100000
/* Kernel-internal, not in errno.h: a system call cut short, to restart. */
#define ERESTARTSYS	      512
#define ERESTARTNOINTR	      513
#define ERESTARTNOHAND	      514
#define ERESTART_RESTARTBLOCK 516
/* How long, and how often, a stop's report is polled for before a wait
 * for any tracee. */
#define AWAIT_POLL_NS	       1000000
#define AWAIT_POLL_INTERVAL_NS 10000
/* How long a stop of a thread running on another CPU is spun for. */
#define AWAIT_SPIN_NS 100000

enum tracee_phase {
	PHASE_RUNNING,	 /* seized and running; no stop is owed to us */
	PHASE_LISTENING, /* group-stopped, held with PTRACE_LISTEN */
	PHASE_NEW,	 /* born traced; its first stop is still to come */
	PHASE_CAPTURE,	 /* interrupted to be captured */
	PHASE_DETACH,	 /* interrupted to be detached */
	PHASE_EXITING,	 /* refused ptrace as dying; its exit report is owed */
	PHASE_GONE,	 /* exited or detached */
	PHASE_UNSEIZED,	 /* listed by a snapshot, seized only to be stopped */
};

enum thread_file {
	FILE_STAT,
	FILE_SYSCALL,
	FILE_SCHEDSTAT,
	FILE_WCHAN,
	FILE_COUNT,
};

static const char *const thread_file_names[FILE_COUNT] = {
	[FILE_STAT] = "stat",
	[FILE_SYSCALL] = "syscall",
	[FILE_SCHEDSTAT] = "schedstat",
	[FILE_WCHAN] = "wchan",
};

/*
 * What the files said at the last look.  A thread that has not been given
 * a CPU since a file was read (its schedstat run count is the same, and
 * not zero, which would mean the kernel keeps no count) still shows what
 * it showed then, so that read can be skipped.
 */
struct look {
	struct proc_schedstat sched; /* all zero when it could not be read */
	char state;		     /* from stat; 0 before the first read */
	char name[PROC_COMM_MAX];
	uint64_t stat_runs;
	struct proc_syscall syscall; /* effective nr, see effective_nr */
	bool syscall_kept;	     /* read while not running */
	uint64_t syscall_runs;
};

/* Where a thread was when last captured, to tell whether it ran since. */
struct capture_key {
	bool valid;
	bool runs_known; /* run_count is read once the thread has settled */
	long nr;	 /* the system call it was in, -1 for none */
	uint64_t sp, pc, runs;
	uint64_t cpu_ns; /* its CPU time at the look before the capture */
};

struct tracee {
	pid_t tid;
	/* From stat when it last showed the thread running, else -1: read
	 * at the scan, and again just before a CAPTURE_RUNNING stop. */
	int last_cpu;
	enum tracee_phase phase;
	/* Opened at the first read and kept, so later samples read without
	 * a path lookup; -1 until then, or while the fd limit is reached. */
	int fds[FILE_COUNT];
	struct look look;
	struct raw_sample *sample; /* during a snapshot: where it goes */
	/* A sleep our stop interrupted is resumed as restart_syscall; this
	 * is the call it continues, and the SP it waits at. */
	long restarted_nr;
	uint64_t restarted_sp;
	uint64_t interrupt_ns; /* when the stop for a capture was asked */
	struct capture_key key;
};

struct target {
	pid_t pid;
	int proc_fd; /* /proc/PID */
	int task_fd; /* /proc/PID/task */
	unsigned batch_size;
	bool check_displaced;	  /* a CAPTURE_RUNNING sample is under way */
	bool sampler_realtime;	  /* the calling thread preempts at once */
	uint64_t sample_start_ns; /* when the current sample began */
	size_t max_stack;
	bool detaching;
	bool detach_captured; /* a capture stop ends in a detach */
	bool read_blocked;    /* see target_options.read_blocked */
	bool (*walk)(void *ctx, const struct raw_sample *s); /* may be NULL */
	void *walk_ctx;
	/* A snapshot, not a tick of a record.  It reads each file once: an
	 * open /proc file holds a page of kernel memory, so it is closed at
	 * once (schedstat after the copy it validates), not kept for a next
	 * sample.  And it polls for stop reports (see poll_awaited). */
	bool one_look;
	bool launched; /* the target is the caller's child */
	bool exited;   /* launched: exit_status holds its wait status */
	int exit_status;
	unsigned exec_count;
	bool maps_stale; /* a thread was born or an exec happened */
	bool seized_any; /* else no wait may run: it could reap a stranger */
	struct tracee **threads; /* sorted by tid */
	size_t n, cap;
	size_t awaited; /* tracees in a phase that is owed a report */
	size_t lost;	/* captures lost during the current snapshot */
	int error;	/* first error met while the event loop ran */
	struct proc_maps maps;
	uint8_t *scratch; /* max_stack bytes: a stack copy before it is sized */
	/* Read once and done with, not closed yet (see close_later). */
	int closing[CLOSE_BATCH];
	size_t n_closing;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool phase_awaited(enum tracee_phase phase)
{
	return phase == PHASE_NEW || phase == PHASE_CAPTURE ||
	       phase == PHASE_DETACH || phase == PHASE_EXITING;
}

static void set_phase(struct target *t, struct tracee *th,
		      enum tracee_phase phase)
{
	if (phase_awaited(th->phase))
		t->awaited--;
	if (phase_awaited(phase))
		t->awaited++;
	th->phase = phase;
}

static bool is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN ||
	       sig == SIGTTOU;
}

/* ---- the thread table ---- */

static size_t tracee_slot(const struct target *t, pid_t tid)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->threads[mid]->tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct tracee *tracee_find(const struct target *t, pid_t tid)
{
	size_t i = tracee_slot(t, tid);

	return i < t->n && t->threads[i]->tid == tid ? t->threads[i] : NULL;
}

static int compare_fds(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Each run of consecutive fds with one call: fds between two runs are
 * not ours (libdw opens files during a walk). */
static void close_pending(struct target *t)
{
	int *fds = t->closing;
	size_t n = t->n_closing;

	t->n_closing = 0;
	qsort(fds, n, sizeof(*fds), compare_fds);
	for (size_t first = 0, last; first < n; first = last + 1) {
		last = first;
		while (last + 1 < n && fds[last + 1] == fds[last] + 1)
			last++;
		if (last == first || close_range((unsigned)fds[first],
						 (unsigned)fds[last], 0) < 0)
			for (size_t i = first; i <= last; i++)
				close(fds[i]);
	}
}

/*
 * A snapshot opens three files of each thread and is done with them at
 * once.  Closing them a batch at a time spares two system calls in three
 * (1 us each on a VM; 2,000 of them at 1,000 threads).  The batch is
 * small: more open fds would grow cprof's fd table, which for a process
 * of two threads waits for an RCU grace period.
 */
static void close_later(struct target *t, int fd)
{
	if (t->n_closing == CLOSE_BATCH)
		close_pending(t);
	t->closing[t->n_closing++] = fd;
}

static void tracee_close_later(struct target *t, struct tracee *th)
{
	for (int f = 0; f < FILE_COUNT; f++) {
		if (th->fds[f] >= 0)
			close_later(t, th->fds[f]);
		th->fds[f] = -1;
	}
}

static void tracee_close_files(struct tracee *th)
{
	for (int f = 0; f < FILE_COUNT; f++) {
		if (th->fds[f] >= 0)
			close(th->fds[f]);
		th->fds[f] = -1;
	}
}

static struct tracee *tracee_add(struct target *t, pid_t tid,
				 enum tracee_phase phase)
{
	size_t slot = tracee_slot(t, tid);
	struct tracee *th;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct tracee **grown;

		grown = reallocarray(t->threads, cap, sizeof(*grown));
		if (!grown)
			return NULL;
		t->threads = grown;
		t->cap = cap;
	}
	th = calloc(1, sizeof(*th));
	if (!th)
		return NULL;
	th->tid = tid;
	th->phase = PHASE_RUNNING;
	th->restarted_nr = -1;
	th->last_cpu = -1;
	for (int f = 0; f < FILE_COUNT; f++)
		th->fds[f] = -1;
	memmove(&t->threads[slot + 1], &t->threads[slot],
		(t->n - slot) * sizeof(*t->threads));
	t->threads[slot] = th;
	t->n++;
	t->seized_any |= phase != PHASE_UNSEIZED;
	set_phase(t, th, phase);
	return th;
}

/* Frees the tracees that are gone; only outside the event loop. */
static void tracee_compact(struct target *t)
{
	size_t kept = 0;

	for (size_t i = 0; i < t->n; i++) {
		struct tracee *th = t->threads[i];

		if (th->phase == PHASE_GONE) {
			tracee_close_files(th);
			free(th);
			continue;
		}
		t->threads[kept++] = th;
	}
	t->n = kept;
}

/* Opens a thread's file for keeps; false when it must be read by path
 * (out of fds), with *ret_err set when it cannot be read at all. */
static bool tracee_open_file(const struct target *t, struct tracee *th,
			     enum thread_file f, const char *path, int *ret_err)
{
	*ret_err = 0;
	if (th->fds[f] >= 0)
		return true;
	th->fds[f] = openat(t->task_fd, path, O_RDONLY | O_CLOEXEC);
	if (th->fds[f] >= 0)
		return true;
	if (errno != EMFILE && errno != ENFILE)
		*ret_err = -errno;
	return false;
}

static ssize_t tracee_read(struct target *t, struct tracee *th,
			   enum thread_file f, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int err;

	if (th->fds[f] < 0)
		snprintf(path, sizeof(path), "%d/%s", (int)th->tid,
			 thread_file_names[f]);
	if (!tracee_open_file(t, th, f, path, &err))
		return err < 0 ? err
			       : procfs_read_file(t->task_fd, path, buf, size);
	do {
		n = pread(th->fds[f], buf, size - 1, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		n = -errno;
	else
		buf[n] = '\0';
	if (t->one_look && f != FILE_SCHEDSTAT) {
		close_later(t, th->fds[f]);
		th->fds[f] = -1;
	}
	return n;
}

/* ---- capture ---- */

static size_t copy_stack(struct target *t, pid_t tid, uint64_t sp)
{
	const struct proc_map *map = procfs_maps_find(&t->maps, sp);
	size_t want = t->max_stack;
	struct iovec local, remote;
	ssize_t n;

	/* A stack mapped since the maps were read: bounded by max_stack
	 * this time, by its mapping from the next sample on. */
	if (!map)
		t->maps_stale = true;
	if (map && map->end - sp < want)
		want = (size_t)(map->end - sp);
	local = (struct iovec){t->scratch, want};
	remote = (struct iovec){(void *)(uintptr_t)sp, want};
	/* A fault part way keeps the bytes read before it. */
	n = process_vm_readv(tid, &local, 1, &remote, 1, 0);
	return n > 0 ? (size_t)n : 0;
}

/* The kernel restarts nanosleep, clock_nanosleep and poll-like calls cut by
 * a stop through restart_syscall; remember which call that continues. */
static void note_restart(struct tracee *th, const struct user_regs_struct *regs)
{
	long nr = (long)regs->orig_rax;

	if ((long)regs->rax != -ERESTART_RESTARTBLOCK || nr < 0) {
		th->restarted_nr = -1;
		return;
	}
	/* Cut again while restarting: still the same call. */
	if (nr == SYS_restart_syscall && th->restarted_nr >= 0 &&
	    th->restarted_sp == regs->rsp)
		return;
	th->restarted_nr = nr == SYS_restart_syscall ? -1 : nr;
	th->restarted_sp = regs->rsp;
}

/* The call a restarted sleep continues, as /proc shows it once mapped. */
static long effective_nr(const struct tracee *th, long nr, uint64_t sp)
{
	if (nr == SYS_restart_syscall && th->restarted_nr >= 0 &&
	    th->restarted_sp == sp)
		return th->restarted_nr;
	return nr;
}

/* The registers say where the thread goes back to once resumed: the SP
 * and the PC after its system call, which /proc/.../syscall shows while it
 * waits there again.  Its run count is taken at the next look, when our
 * own stop and resume are behind it. */
static void note_key(struct tracee *th, const struct user_regs_struct *regs)
{
	th->key = (struct capture_key){
		.valid = true,
		.nr = effective_nr(th, (long)regs->orig_rax, regs->rsp),
		.sp = regs->rsp,
		.pc = regs->rip,
		.cpu_ns = th->look.sched.cpu_ns,
	};
}

static void tracee_detach(struct target *t, struct tracee *th, int sig);

/* Ends a capture stop: detach, keep a group-stop, or resume. */
static void release_capture(struct target *t, struct tracee *th,
			    bool group_stop)
{
	if (t->detach_captured) {
		tracee_detach(t, th, 0);
		return;
	}
	if (group_stop && ptrace(PTRACE_LISTEN, th->tid, 0, 0) == 0) {
		set_phase(t, th, PHASE_LISTENING);
		return;
	}
	ptrace(PTRACE_CONT, th->tid, 0, 0);
	set_phase(t, th, PHASE_RUNNING);
}

/* Registers and stack into th->sample, then the resume; the stack copy
 * leaves the scratch buffer only once the thread runs again. */
/*
 * State R also covers a thread waiting for a CPU.  One that waited since
 * the scan has a larger schedstat run delay now (the kernel adds a wait
 * when the thread gets a CPU back), and it stopped where it had been
 * preempted.  For an ordinary task's wakeup the scheduler defers that
 * preemption to the thread's next return to user space, mostly a system
 * call's, so its PC would tell where preemption happens rather than where
 * CPU time goes.  Read while it is stopped, so later waits do not count.
 */
static bool displaced(struct target *t, struct tracee *th,
		      const struct thread_info *scanned)
{
	struct proc_schedstat now;
	uint64_t waited, since_tick;
	char buf[128];
	ssize_t n = tracee_read(t, th, FILE_SCHEDSTAT, buf, sizeof(buf));

	if (n <= 0 || procfs_parse_schedstat(buf, (size_t)n, &now) < 0 ||
	    now.wait_ns == scanned->sched.wait_ns)
		return false;
	/* cprof's sampler, real-time where allowed, preempted the thread on
	 * its own CPU at once when the tick woke it, wherever the thread
	 * was: a wait no longer than the tick so far began then, and that
	 * PC is a fair sample.  A longer wait began before: some other task
	 * had the CPU. */
	waited = now.wait_ns - scanned->sched.wait_ns;
	since_tick = now_ns() - t->sample_start_ns + TICK_WAKE_SLACK_NS;
	return !(t->sampler_realtime && th->last_cpu >= 0 &&
		 th->last_cpu == sched_getcpu() && waited <= since_tick);
}

/*
 * A thread seen running at the scan may have gone to sleep in a system
 * call by the time the interrupt reached it: the stop then cut the call
 * short, which leaves -ERESTART* (or -EINTR) in rax with the call's
 * number in orig_rax.  A call that ran in the kernel ends before a stop
 * can happen, so its result is never one of those.  Such a sample is the
 * thread asleep, not where its CPU time went.
 */
static bool stopped_asleep(const struct user_regs_struct *regs)
{
	long ret = (long)regs->rax;

	if ((long)regs->orig_rax < 0)
		return false;
	return ret == -EINTR || ret == -ERESTARTSYS || ret == -ERESTARTNOINTR ||
	       ret == -ERESTARTNOHAND || ret == -ERESTART_RESTARTBLOCK;
}

static void note_asleep(struct raw_sample *s)
{
	s->blocked_at_stop = true;
	s->info.state = 'S';
	s->info.syscall = (struct proc_syscall){.nr = (long)s->regs.orig_rax,
						.sp = s->regs.rsp,
						.pc = s->regs.rip};
}

/* Stored with the sample, which owns its copy from here on. */
static bool keep_stack(struct target *t, struct raw_sample *s, size_t len)
{
	if (len == 0)
		return true;
	s->stack = malloc(len);
	if (!s->stack) {
		t->error = t->error ? t->error : -ENOMEM;
		return false;
	}
	memcpy(s->stack, t->scratch, len);
	s->stack_len = len;
	return true;
}

static void capture_and_resume(struct target *t, struct tracee *th,
			       bool group_stop)
{
	struct raw_sample *s = th->sample;
	struct iovec iov = {&s->regs, sizeof(s->regs)};
	size_t len = 0;
	bool ok;

	ok = ptrace(PTRACE_GETREGSET, th->tid, (void *)NT_PRSTATUS, &iov) == 0;
	if (ok) {
		s->time_ns = now_ns();
		len = copy_stack(t, th->tid, s->regs.rsp);
		note_restart(th, &s->regs);
		note_key(th, &s->regs);
		if (t->check_displaced && stopped_asleep(&s->regs))
			note_asleep(s);
		else if (t->check_displaced)
			s->displaced = displaced(t, th, &s->info);
	}
	release_capture(t, th, group_stop);
	s->pause_ns = now_ns() - th->interrupt_ns;
	if (!ok) {
		t->lost++;
		return;
	}
	s->stack_start = s->regs.rsp;
	s->captured = keep_stack(t, s, len);
}

static bool blocked_in_kernel(const struct target *t, const struct tracee *th)
{
	const struct thread_info *info = &th->sample->info;

	return t->read_blocked &&
	       (th->phase == PHASE_RUNNING || th->phase == PHASE_UNSEIZED) &&
	       (info->state == 'S' || info->state == 'D') &&
	       !info->syscall.running && info->syscall.sp && info->syscall.pc &&
	       info->sched.run_count;
}

/*
 * A thread blocked in the kernel, captured without a stop (see
 * target_options.read_blocked).  Its run count was read before
 * /proc/.../syscall: unchanged after the copy, the thread has not been on
 * a CPU since that file showed it off one, so nothing moved the stack or
 * the SP and PC under the copy.
 */
static bool read_blocked(struct target *t, struct tracee *th)
{
	struct raw_sample *s = th->sample;
	struct proc_schedstat after;
	char buf[128];
	size_t len;
	ssize_t n;

	if (!blocked_in_kernel(t, th))
		return false;
	len = copy_stack(t, th->tid, s->info.syscall.sp);
	n = tracee_read(t, th, FILE_SCHEDSTAT, buf, sizeof(buf));
	if (t->one_look)
		tracee_close_later(t, th);
	if (len == 0 || n <= 0 ||
	    procfs_parse_schedstat(buf, (size_t)n, &after) < 0 ||
	    after.run_count != s->info.sched.run_count)
		return false;
	s->time_ns = now_ns();
	s->regs = (struct user_regs_struct){
		.rsp = s->info.syscall.sp,
		.rip = s->info.syscall.pc,
	};
	s->stack_start = s->regs.rsp;
	s->read_blocked = true;
	if (t->walk) {
		s->stack = t->scratch;
		s->stack_len = len;
		s->captured = true;
		s->walked = t->walk(t->walk_ctx, s);
		s->stack = NULL;
		s->stack_len = 0;
	}
	s->captured = s->walked || keep_stack(t, s, len);
	return true;
}

/* ---- the event loop ---- */

static void tracee_gone(struct target *t, struct tracee *th)
{
	if (th->phase == PHASE_CAPTURE)
		t->lost++;
	set_phase(t, th, PHASE_GONE);
	tracee_close_files(th);
}

static void tracee_detach(struct target *t, struct tracee *th, int sig)
{
	/* A group-stop in effect is re-entered by the kernel on detach.
	 * Its files are closed at compaction, off the capture's clock. */
	ptrace(PTRACE_DETACH, th->tid, 0, sig);
	set_phase(t, th, PHASE_GONE);
}

/*
 * A stop that is not the one asked for: a signal to re-inject, a clone or
 * exec report.  It answers a pending PTRACE_INTERRUPT as well (any trap
 * clears it), so a tracee still to be captured is interrupted again.
 */
static void resume_other_stop(struct target *t, struct tracee *th, int sig)
{
	if (th->phase == PHASE_DETACH ||
	    (t->detaching && th->phase == PHASE_NEW)) {
		tracee_detach(t, th, sig);
		return;
	}
	if (ptrace(PTRACE_CONT, th->tid, 0, sig) < 0)
		return; /* dying: its exit report follows */
	if (th->phase == PHASE_CAPTURE)
		ptrace(PTRACE_INTERRUPT, th->tid, 0, 0);
}

/* The PTRACE_EVENT_STOP kind of stop: our interrupt, a group-stop, the
 * first stop of a new thread, or the end of a group-stop (SIGCONT). */
static void on_event_stop(struct target *t, struct tracee *th, int sig)
{
	bool group_stop = is_stop_signal(sig);

	if (th->phase == PHASE_CAPTURE) {
		capture_and_resume(t, th, group_stop);
		return;
	}
	if (th->phase == PHASE_DETACH ||
	    (t->detaching && th->phase == PHASE_NEW)) {
		tracee_detach(t, th, 0);
		return;
	}
	if (group_stop && ptrace(PTRACE_LISTEN, th->tid, 0, 0) == 0) {
		set_phase(t, th, PHASE_LISTENING);
		return;
	}
	ptrace(PTRACE_CONT, th->tid, 0, 0);
	set_phase(t, th, PHASE_RUNNING);
}

static void on_clone(struct target *t, struct tracee *th)
{
	unsigned long child = 0;

	/* The child may have reported its first stop already; then it is
	 * known and running. */
	if (ptrace(PTRACE_GETEVENTMSG, th->tid, 0, &child) == 0 && child &&
	    child <= INT_MAX && !tracee_find(t, (pid_t)child)) {
		if (!tracee_add(t, (pid_t)child, PHASE_NEW))
			t->error = t->error ? t->error : -ENOMEM;
		t->maps_stale = true;
	}
	resume_other_stop(t, th, 0);
}

/* After exec only the thread now holding the leader's tid is left; the
 * others' exits are not all reported (ptrace(2)), so they go here. */
static void on_exec(struct target *t, struct tracee *th)
{
	for (size_t i = 0; i < t->n; i++) {
		if (t->threads[i] != th && t->threads[i]->phase != PHASE_GONE)
			tracee_gone(t, t->threads[i]);
	}
	/* The files name the thread by tid: open them afresh. */
	tracee_close_files(th);
	th->look = (struct look){0};
	th->key.valid = false;
	th->restarted_nr = -1;
	t->exec_count++;
	t->maps_stale = true;
	resume_other_stop(t, th, 0);
}

static void dispatch_event(struct target *t, pid_t tid, int status);

/* A stop from a tid not yet known: a new thread whose first stop came
 * before its parent's clone report. */
static void on_unknown(struct target *t, pid_t tid, int status)
{
	enum tracee_phase phase;

	if (!WIFSTOPPED(status))
		return; /* a child of the caller that is not a tracee */
	/* Only a new thread's first stop is a PTRACE_EVENT_STOP; an exec
	 * report can come from a tid already forgotten. */
	phase = (unsigned)status >> 16 == PTRACE_EVENT_STOP ? PHASE_NEW
							    : PHASE_RUNNING;
	t->maps_stale = true;
	if (!tracee_add(t, tid, phase)) {
		/* Cannot track it: better let it go than hold it. */
		t->error = t->error ? t->error : -ENOMEM;
		ptrace(PTRACE_DETACH, tid, 0, 0);
		return;
	}
	dispatch_event(t, tid, status);
}

static void dispatch_event(struct target *t, pid_t tid, int status)
{
	struct tracee *th = tracee_find(t, tid);
	int sig = WSTOPSIG(status);

	/* The wait just reaped the command: its status is ours to keep. */
	if (t->launched && tid == t->pid && !WIFSTOPPED(status)) {
		t->exited = true;
		t->exit_status = status;
	}
	if (!th) {
		on_unknown(t, tid, status);
		return;
	}
	if (th->phase == PHASE_GONE) {
		if (!WIFSTOPPED(status))
			return;
		/* Back from the dead: an exec gave the leader's tid, seen
		 * as a zombie meanwhile, to the thread that called it. */
		tracee_close_files(th);
		th->look = (struct look){0};
		set_phase(t, th, PHASE_RUNNING);
	}
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		tracee_gone(t, th);
		return;
	}
	if (!WIFSTOPPED(status))
		return;
	switch ((unsigned)status >> 16) {
	case PTRACE_EVENT_STOP:
		on_event_stop(t, th, sig);
		break;
	case PTRACE_EVENT_CLONE:
		on_clone(t, th);
		break;
	case PTRACE_EVENT_EXEC:
		on_exec(t, th);
		break;
	case 0: /* signal-delivery-stop: the signal goes on to the target */
		resume_other_stop(t, th, sig);
		break;
	default:
		resume_other_stop(t, th, 0);
		break;
	}
}

/* True for an awaited tracee that will never report: released already, or
 * the leader, whose exit the kernel holds back while other threads live. */
static bool tracee_vanished(struct target *t, struct tracee *th)
{
	char buf[512];
	struct proc_stat st;
	ssize_t n;

	n = tracee_read(t, th, FILE_STAT, buf, sizeof(buf));
	if (n == -ESRCH || n == -ENOENT)
		return true;
	if (n < 0 || procfs_parse_stat(buf, (size_t)n, &st) < 0)
		return false;
	return th->tid == t->pid && (st.state == 'Z' || st.state == 'X');
}

/* Drops awaited tracees that vanished; true if the leader is awaited. */
static bool sweep_vanished(struct target *t)
{
	bool leader_awaited = false;

	for (size_t i = 0; i < t->n && t->awaited; i++) {
		struct tracee *th = t->threads[i];

		/* Other awaited tracees report their exit like any stop. */
		if (!phase_awaited(th->phase) ||
		    (th->tid != t->pid && th->phase != PHASE_EXITING))
			continue;
		if (tracee_vanished(t, th))
			tracee_gone(t, th);
		else if (th->tid == t->pid)
			leader_awaited = true;
	}
	return leader_awaited;
}

/*
 * One waitpid by tid for each awaited tracee: the first report found, 0
 * for none, -1 when spin_cpu >= 0 and a tracee is awaited that does not
 * stop running on another CPU than spin_cpu (see spin_awaited).
 */
static pid_t poll_pass(struct target *t, int spin_cpu, int *ret_status)
{
	for (size_t i = 0; i < t->n; i++) {
		struct tracee *th = t->threads[i];
		pid_t tid;

		if (!phase_awaited(th->phase))
			continue;
		if (spin_cpu >= 0 &&
		    (th->phase != PHASE_CAPTURE || th->last_cpu < 0 ||
		     th->last_cpu == spin_cpu))
			return -1;
		tid = waitpid(th->tid, ret_status, __WALL | WNOHANG);
		if (tid > 0)
			return tid;
	}
	return 0;
}

/*
 * A stop is reported tens of microseconds after the interrupt, while a
 * wait for any tracee makes the kernel walk every one of them (a third of
 * a millisecond at 1000 threads, all of it added to the stopped thread's
 * pause).  So the awaited tracees are first polled by tid for a while,
 * never waited for by tid (see wait_event).  Between polls the CPU is
 * given up: on a busy machine the tracee may need this very CPU to reach
 * its stop.
 */
static pid_t poll_awaited(struct target *t, int *ret_status)
{
	const struct timespec pause = {0, AWAIT_POLL_INTERVAL_NS};
	uint64_t deadline = now_ns() + AWAIT_POLL_NS;

	do {
		pid_t tid = poll_pass(t, -1, ret_status);

		if (tid > 0)
			return tid;
		clock_nanosleep(CLOCK_MONOTONIC, 0, &pause, NULL);
	} while (now_ns() < deadline);
	return 0;
}

/*
 * A running thread reaches its stop some 10 us after the interrupt.  A
 * tracer asleep meanwhile sees the report tens of microseconds later (its
 * CPU idles, and a virtual CPU is slow to wake), and the stopped thread's
 * own CPU has gone idle by the time it is let go: on a VM that doubles
 * the pause.  So while every awaited thread is a capture of one last
 * seen running on another CPU than this one, the reports are polled
 * without a break, briefly.  A thread that needs this CPU to reach its
 * stop (it was last seen here, or was not running) would wait for the
 * spin to end, so none is spun for.
 */
static pid_t spin_awaited(struct target *t, int *ret_status)
{
	uint64_t deadline = now_ns() + AWAIT_SPIN_NS;
	int cpu = sched_getcpu();
	pid_t tid;

	if (cpu < 0 || t->awaited == 0)
		return 0;
	do
		tid = poll_pass(t, cpu, ret_status);
	while (tid == 0 && now_ns() < deadline);
	return tid > 0 ? tid : 0;
}

/*
 * Waits for the next report.  A blocking wait is safe only when every
 * awaited tracee is sure to report: a leader that exits while other
 * threads live is not reported until they are gone, so while the leader is
 * awaited this polls, checking whether it became a zombie.
 */
static pid_t wait_event(struct target *t, int *ret_status)
{
	long backoff_ns = 10000;
	pid_t found = spin_awaited(t, ret_status);

	if (!found && t->one_look)
		found = poll_awaited(t, ret_status);

	if (found)
		return found;

	/* Always a wait for any tracee, never for one tid: a thread that
	 * calls execve waits in the kernel until its siblings' exits are
	 * reaped, and a wait for it alone would never return. */
	for (;;) {
		pid_t tid = waitpid(-1, ret_status, WAIT_OWN | WNOHANG);

		if (tid > 0)
			return tid;
		if (tid < 0 && errno == EINTR)
			continue;
		if (tid < 0)
			return -errno;
		if (!sweep_vanished(t)) {
			if (t->awaited == 0)
				return 0;
			tid = waitpid(-1, ret_status, WAIT_OWN);
			if (tid < 0 && errno == EINTR)
				continue;
			return tid < 0 ? -errno : tid;
		}
		clock_nanosleep(CLOCK_MONOTONIC, 0,
				&(struct timespec){0, backoff_ns}, NULL);
		if (backoff_ns < 1000000)
			backoff_ns *= 2;
	}
}

/* Runs the event loop until no tracee is owed a report. */
static void await_reports(struct target *t)
{
	while (t->awaited) {
		int status;
		pid_t tid = wait_event(t, &status);

		if (tid > 0) {
			dispatch_event(t, tid, status);
			continue;
		}
		if (tid == 0)
			break;
		/* ECHILD: no tracee is left to report anything. */
		for (size_t i = 0; i < t->n; i++) {
			if (phase_awaited(t->threads[i]->phase))
				tracee_gone(t, t->threads[i]);
		}
	}
}

/* Answers every report already pending, without blocking. */
static void answer_pending(struct target *t)
{
	for (;;) {
		int status;
		pid_t tid = waitpid(-1, &status, WAIT_OWN | WNOHANG);

		if (tid > 0) {
			dispatch_event(t, tid, status);
			continue;
		}
		if (tid < 0 && errno == EINTR)
			continue;
		/* ECHILD: every tracee has been reaped. */
		if (tid < 0 && errno == ECHILD) {
			for (size_t i = 0; i < t->n; i++) {
				enum tracee_phase p = t->threads[i]->phase;

				if (p != PHASE_GONE && p != PHASE_UNSEIZED)
					tracee_gone(t, t->threads[i]);
			}
		}
		return;
	}
}

/* Answers every stop already reported (clones, signals, group-stops that
 * arrived between snapshots), and the first stops of new threads. */
static void drain_reports(struct target *t)
{
	answer_pending(t);
	await_reports(t);
}

/* Asks th to stop; a tracee that cannot be interrupted is dying. */
static void tracee_interrupt(struct target *t, struct tracee *th,
			     enum tracee_phase phase)
{
	th->interrupt_ns = now_ns();
	if (ptrace(PTRACE_INTERRUPT, th->tid, 0, 0) == 0) {
		set_phase(t, th, phase);
		return;
	}
	if (phase == PHASE_CAPTURE)
		t->lost++;
	set_phase(t, th, errno == ESRCH ? PHASE_EXITING : PHASE_GONE);
}

/* ---- attach ---- */

static int read_status_at(int dirfd, const char *path, struct proc_status *st)
{
	char buf[4096];
	ssize_t n = procfs_read_file(dirfd, path, buf, sizeof(buf));

	if (n < 0)
		return n == -ENOENT ? -ESRCH : (int)n;
	return procfs_parse_status(buf, (size_t)n, st);
}

static int read_stat_at(int dirfd, const char *path, struct proc_stat *st)
{
	char buf[1024];
	ssize_t n = procfs_read_file(dirfd, path, buf, sizeof(buf));

	if (n < 0)
		return n == -ENOENT ? -ESRCH : (int)n;
	return procfs_parse_stat(buf, (size_t)n, st);
}

static int open_proc_dir(pid_t pid, int *ret_fd)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	*ret_fd = fd;
	return 0;
}

/*
 * Opens /proc of the process holding pid.  A tid that is not a leader
 * names its whole process: profiling one thread alone would still stop
 * and hold its siblings' shared state, and users pass what top -H shows.
 */
static int open_process(pid_t pid, int *ret_fd, pid_t *ret_tgid)
{
	struct proc_status status;
	struct proc_stat stat;
	int fd = -1, r;

	if (pid <= 0)
		return -ESRCH;
	r = open_proc_dir(pid, &fd);
	if (r < 0)
		return r;
	r = read_status_at(fd, "status", &status);
	if (r == 0 && status.tgid != pid) {
		close(fd);
		pid = status.tgid;
		r = open_proc_dir(pid, &fd);
		if (r < 0)
			return r;
		r = read_status_at(fd, "status", &status);
	}
	if (r == 0)
		r = read_stat_at(fd, "stat", &stat);
	if (r == 0 && (stat.flags & PF_KTHREAD))
		r = -EINVAL;
	/* A zombie leader with live threads is still a process to profile. */
	if (r == 0 && (stat.state == 'Z' || stat.state == 'X') &&
	    status.threads <= 1)
		r = -ECHILD;
	if (r < 0) {
		close(fd);
		return r;
	}
	*ret_fd = fd;
	*ret_tgid = pid;
	return 0;
}

int target_resolve(pid_t pid, pid_t *ret_pid)
{
	int fd, r = open_process(pid, &fd, ret_pid);

	if (r == 0)
		close(fd);
	return r;
}

static int parse_tid(const char *name, pid_t *ret)
{
	long v = 0;

	if (!*name)
		return -EINVAL;
	for (const char *p = name; *p; p++) {
		if (*p < '0' || *p > '9' || v > (INT_MAX - (*p - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (*p - '0');
	}
	*ret = (pid_t)v;
	return 0;
}

/* PTRACE_SEIZE refused: tell a thread traced by us already (born of a
 * seized thread) and a zombie leader from a real refusal. */
static int seize_refused(struct target *t, pid_t tid, int err)
{
	char path[64];
	struct proc_status status;
	struct proc_stat stat;
	int r;

	if (err == ESRCH)
		return 0;
	if (err != EPERM)
		return -err;
	/* Auto-attached at its clone: the tracer is this thread, which in
	 * record is not cprof's main thread. */
	snprintf(path, sizeof(path), "%d/status", (int)tid);
	if (read_status_at(t->task_fd, path, &status) == 0 &&
	    status.tracer_pid == gettid())
		return tracee_add(t, tid, PHASE_NEW) ? 1 : -ENOMEM;
	/* A thread that is exiting refuses ptrace; once gone it has no
	 * /proc entry left to read. */
	snprintf(path, sizeof(path), "%d/stat", (int)tid);
	r = read_stat_at(t->task_fd, path, &stat);
	if (r == -ENOENT || r == -ESRCH ||
	    (r == 0 && (stat.state == 'Z' || stat.state == 'X')))
		return 0;
	return -EPERM;
}

/*
 * Seizes every listed thread not seized yet; *ret_added counts them.  A
 * snapshot that reads blocked threads without a stop seizes one thread,
 * which checks cprof's rights, and lists the others: each is seized only
 * once it must be stopped (seize_to_stop).  Seizing a thousand threads
 * that are then read without a stop cost 3 ms of system calls, and a
 * seized thread's signals pass through cprof until it lets go.
 */
static int seize_listed(struct target *t, size_t *ret_added)
{
	size_t added = 0;
	struct dirent *de;
	DIR *dir;
	int fd, r = 0;

	fd = openat(t->task_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -ENOMEM;
	}
	while (r >= 0 && (de = readdir(dir))) {
		pid_t tid;

		if (parse_tid(de->d_name, &tid) < 0 || tracee_find(t, tid))
			continue;
		if (t->read_blocked && t->seized_any)
			r = tracee_add(t, tid, PHASE_UNSEIZED) ? 1 : -ENOMEM;
		else if (ptrace(PTRACE_SEIZE, tid, 0, SEIZE_OPTIONS) == 0)
			r = tracee_add(t, tid, PHASE_RUNNING) ? 1 : -ENOMEM;
		else
			r = seize_refused(t, tid, errno);
		if (r > 0)
			added++;
	}
	closedir(dir);
	*ret_added = added;
	return r < 0 ? r : 0;
}

/* Threads born during a scan may be missed by it; scan until stable. */
static int seize_all(struct target *t)
{
	size_t added;
	int r;

	do {
		r = seize_listed(t, &added);
		if (r < 0)
			return r;
	} while (added);
	return t->n ? 0 : -ECHILD;
}

/* A session with nothing attached yet; target_detach() frees it. */
static int target_new(const struct target_options *opts,
		      struct target **ret_target)
{
	struct target *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->proc_fd = -1;
	t->task_fd = -1;
	t->batch_size = opts && opts->batch_size ? opts->batch_size
						 : DEFAULT_BATCH_SIZE;
	t->max_stack =
		opts && opts->max_stack ? opts->max_stack : DEFAULT_MAX_STACK;
	t->read_blocked = opts && opts->read_blocked;
	t->walk = opts ? opts->walk : NULL;
	t->walk_ctx = opts ? opts->walk_ctx : NULL;
	t->scratch = malloc(t->max_stack);
	if (!t->scratch) {
		free(t);
		return -ENOMEM;
	}
	/* Fault in now, not while a thread waits on its copy, the part
	 * nearly every copy fits in: all of it would cost each process
	 * of a tree 8 MiB and two thousand page faults. */
	memset(t->scratch, 0,
	       t->max_stack < PREFAULT_STACK ? t->max_stack : PREFAULT_STACK);
	*ret_target = t;
	return 0;
}

static int open_task_dir(struct target *t)
{
	t->task_fd =
		openat(t->proc_fd, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->task_fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	return 0;
}

int target_attach(pid_t pid, const struct target_options *opts,
		  struct target **ret_target)
{
	struct target *t;
	int r;

	r = target_new(opts, &t);
	if (r < 0)
		return r;
	r = open_process(pid, &t->proc_fd, &t->pid);
	if (r == 0)
		r = open_task_dir(t);
	if (r == 0)
		r = seize_all(t);
	if (r == 0) {
		/* A stopped target reports its group-stop at once. */
		drain_reports(t);
		r = t->error;
	}
	if (r < 0) {
		target_detach(t);
		return r;
	}
	*ret_target = t;
	return 0;
}

/* ---- launch ---- */

void launch_exec(char *const argv[], int go_fd, int err_fd)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigset_t none;
	char go = 0;
	int err;

	while (read(go_fd, &go, 1) < 0 && errno == EINTR)
		;
	/* EOF: cprof gave up before seizing; run nothing untraced. */
	if (go != 'g')
		_exit(127);
	/* The command starts as if run by a shell, not with the mask and
	 * ignored signals cprof set up for itself. */
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvp(argv[0], argv);
	err = errno;
	(void)!write(err_fd, &err, sizeof(err));
	_exit(127);
}

/* Runs the loop for the lone child until its exec is reported or it
 * dies: signals that reach it before (Ctrl-C) are passed on meanwhile. */
static int await_exec(struct target *t, int err_fd)
{
	int status, err = 0;

	while (t->exec_count == 0 && !t->exited) {
		pid_t tid = waitpid(t->pid, &status, __WALL);

		if (tid < 0 && errno == EINTR)
			continue;
		if (tid < 0)
			return -errno;
		dispatch_event(t, tid, status);
	}
	if (t->exec_count)
		return 0;
	if (read(err_fd, &err, sizeof(err)) == sizeof(err) && err > 0)
		return -err;
	return -ECHILD;
}

/* Seizes the waiting child, lets it go on and waits for its exec. */
static int launch_seize(struct target *t, int go_fd, int err_fd)
{
	int r = 0;

	if (ptrace(PTRACE_SEIZE, t->pid, 0, SEIZE_OPTIONS) < 0)
		r = -errno;
	if (r == 0)
		r = open_proc_dir(t->pid, &t->proc_fd);
	if (r == 0)
		r = open_task_dir(t);
	if (r == 0 && !tracee_add(t, t->pid, PHASE_RUNNING))
		r = -ENOMEM;
	t->launched = true;
	if (r == 0 && write(go_fd, "g", 1) != 1)
		r = -errno;
	if (r == 0)
		r = await_exec(t, err_fd);
	return r;
}

/* The child must not outlive a failed launch, nor stay unreaped. */
static void launch_abort(struct target *t)
{
	int status;

	if (!t->exited) {
		kill(t->pid, SIGKILL);
		for (;;) {
			pid_t tid = waitpid(t->pid, &status, __WALL);

			if (tid < 0 && errno == EINTR)
				continue;
			if (tid < 0 || !WIFSTOPPED(status))
				break;
		}
	}
	for (size_t i = 0; i < t->n; i++)
		set_phase(t, t->threads[i], PHASE_GONE);
	t->seized_any = false;
	target_detach(t);
}

int launch_spawn(char *const argv[], pid_t *ret_pid, int *ret_go_fd,
		 int *ret_err_fd)
{
	int go[2], err[2];
	pid_t pid;

	if (!argv || !argv[0])
		return -EINVAL;
	if (pipe2(go, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(err, O_CLOEXEC) < 0) {
		int r = -errno;

		close(go[0]);
		close(go[1]);
		return r;
	}
	pid = fork();
	if (pid == 0) {
		close(go[1]);
		close(err[0]);
		launch_exec(argv, go[0], err[1]);
	}
	close(go[0]);
	close(err[1]);
	if (pid < 0) {
		int r = -errno;

		close(go[1]);
		close(err[0]);
		return r;
	}
	*ret_pid = pid;
	*ret_go_fd = go[1];
	*ret_err_fd = err[0];
	return 0;
}

int launch_release(int go_fd, int err_fd)
{
	int err = 0, r = 0;
	ssize_t n;

	if (write(go_fd, "g", 1) != 1)
		r = -errno;
	close(go_fd);
	/* EOF: the exec closed the pipe (O_CLOEXEC). */
	do
		n = read(err_fd, &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(err_fd);
	if (r == 0 && n == sizeof(err) && err > 0)
		r = -err;
	return r;
}

int target_launch(char *const argv[], const struct target_options *opts,
		  struct target **ret_target)
{
	struct target *t;
	int go[2], err[2], r;

	if (!argv || !argv[0])
		return -EINVAL;
	r = target_new(opts, &t);
	if (r < 0)
		return r;
	if (pipe2(go, O_CLOEXEC) < 0) {
		r = -errno;
		target_detach(t);
		return r;
	}
	if (pipe2(err, O_CLOEXEC) < 0) {
		r = -errno;
		close(go[0]);
		close(go[1]);
		target_detach(t);
		return r;
	}
	t->pid = fork();
	if (t->pid == 0) {
		close(go[1]);
		close(err[0]);
		launch_exec(argv, go[0], err[1]);
	}
	close(go[0]);
	close(err[1]);
	r = t->pid < 0 ? -errno : launch_seize(t, go[1], err[0]);
	close(go[1]);
	close(err[0]);
	if (r < 0) {
		if (t->pid > 0)
			launch_abort(t);
		else
			target_detach(t);
		return r;
	}
	*ret_target = t;
	return 0;
}

pid_t target_pid(const struct target *target)
{
	return target->pid;
}

/* A main thread that has exited stays a zombie until the last thread
 * does, and its /proc entry then shows no maps and no exe. */
static bool leader_alive(const struct target *t)
{
	char path[64];
	struct proc_stat stat;

	snprintf(path, sizeof(path), "%d/stat", (int)t->pid);
	return read_stat_at(t->task_fd, path, &stat) == 0 &&
	       stat.state != 'Z' && stat.state != 'X';
}

pid_t target_proc_tid(const struct target *target)
{
	if (leader_alive(target))
		return target->pid;
	for (size_t i = 0; i < target->n; i++) {
		const struct tracee *th = target->threads[i];

		if (th->tid != target->pid && th->phase != PHASE_GONE &&
		    th->phase != PHASE_EXITING)
			return th->tid;
	}
	return target->pid;
}

/* ---- snapshot ---- */

static bool detach_batch(struct target *t);

static void copy_line(char *dst, size_t size, const char *src)
{
	size_t len = strcspn(src, "\n");

	if (len >= size)
		len = size - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

static bool not_run_since(const struct look *look, uint64_t runs)
{
	return runs != 0 && look->sched.run_count == runs;
}

/* A kernel without schedstat, or a thread gone meanwhile, leaves it
 * zero: then every other file is read, and stat tells a thread gone. */
static void look_schedstat(struct target *t, struct tracee *th)
{
	char buf[128];
	ssize_t n = tracee_read(t, th, FILE_SCHEDSTAT, buf, sizeof(buf));

	if (n <= 0 ||
	    procfs_parse_schedstat(buf, (size_t)n, &th->look.sched) < 0)
		th->look.sched = (struct proc_schedstat){0};
}

static int look_stat(struct target *t, struct tracee *th)
{
	char buf[1024];
	struct proc_stat stat;
	ssize_t n = tracee_read(t, th, FILE_STAT, buf, sizeof(buf));

	if (n == -ESRCH || n == -ENOENT)
		return -ESRCH;
	th->look.state = '?';
	th->last_cpu = -1;
	if (n > 0 && procfs_parse_stat(buf, (size_t)n, &stat) == 0) {
		th->look.state = stat.state;
		if (stat.state == 'R')
			th->last_cpu = stat.processor;
		copy_line(th->look.name, sizeof(th->look.name), stat.comm);
	}
	th->look.stat_runs = th->look.sched.run_count;
	return 0;
}

static void look_syscall(struct target *t, struct tracee *th,
			 struct proc_syscall *ret)
{
	struct look *look = &th->look;
	char buf[1024];
	ssize_t n;

	if (look->syscall_kept && not_run_since(look, look->syscall_runs)) {
		*ret = look->syscall;
		return;
	}
	*ret = (struct proc_syscall){.nr = -1};
	n = tracee_read(t, th, FILE_SYSCALL, buf, sizeof(buf));
	if (n > 0)
		procfs_parse_syscall(buf, (size_t)n, ret);
	ret->nr = effective_nr(th, ret->nr, ret->sp);
	look->syscall = *ret;
	look->syscall_kept = !ret->running && look->state != 'R';
	look->syscall_runs = look->sched.run_count;
}

/* True when th waits where it was last captured: whether it ran since
 * is then up to its run count. */
static bool key_matches(const struct tracee *th, const struct thread_info *info)
{
	const struct capture_key *k = &th->key;

	return k->valid && !info->syscall.running && info->state != 'R' &&
	       info->syscall.nr == k->nr && info->syscall.sp == k->sp &&
	       info->syscall.pc == k->pc;
}

/*
 * Each file read costs microseconds per thread per tick, so only what the
 * policy looks at is read, and nothing a thread cannot have changed
 * without running.  schedstat comes first, it is the cheapest (2.5 us
 * against 11.5 for stat) and tells whether the thread ran.  CPU mode
 * reads no more of a thread that slept at the last look and has not run
 * since: it is not running now.  A snapshot needs no schedstat.
 */
static int read_thread_info(struct target *t, struct tracee *th,
			    enum capture_policy policy, bool wchan,
			    struct thread_info *info)
{
	struct look *look = &th->look;
	char buf[1024];
	bool asleep = false;
	int r;

	info->tid = th->tid;
	info->syscall.nr = -1;
	if (policy != CAPTURE_ALL || t->read_blocked) {
		look_schedstat(t, th);
		info->sched = look->sched;
		asleep = look->state && look->state != 'R' &&
			 not_run_since(look, look->stat_runs);
	}
	if (!(asleep && policy == CAPTURE_RUNNING)) {
		r = look_stat(t, th);
		if (r < 0)
			return r;
	}
	info->state = look->state ? look->state : '?';
	memcpy(info->name, look->name, sizeof(info->name));
	/* Held with PTRACE_LISTEN, a SIGSTOPped thread reads as traced. */
	if (th->phase == PHASE_LISTENING && info->state == 't')
		info->state = 'T';
	if (policy == CAPTURE_RUNNING && info->state != 'R')
		return 0;
	/* The kernel writes "0" where it hides or has no wait channel.
	 * Only a thread in uninterruptible sleep is asked (11 us each):
	 * of one in a system call that call says more. */
	if (wchan && info->state == 'D' &&
	    tracee_read(t, th, FILE_WCHAN, buf, sizeof(buf)) > 0 &&
	    strcmp(buf, "0") != 0)
		copy_line(info->wchan, sizeof(info->wchan), buf);
	look_syscall(t, th, &info->syscall);
	return 0;
}

/*
 * A stop cuts a wait short (EINTR), and the thread then runs for a moment
 * on its way back in.  Caught on that way, by a look that comes before it
 * has used TRANSIT_CPU_NS of CPU, it is not captured again: that capture
 * would forget where it waited, and the next look, finding it back in its
 * wait, would stop it there a second time.
 */
#define TRANSIT_CPU_NS 500000

static bool in_transit(const struct capture_key *k,
		       const struct thread_info *info)
{
	bool running = info->state == 'R' || info->syscall.running;

	return running && k->valid && !k->runs_known && k->nr >= 0 &&
	       k->cpu_ns && info->sched.cpu_ns >= k->cpu_ns &&
	       info->sched.cpu_ns - k->cpu_ns < TRANSIT_CPU_NS;
}

/* True when th waits where it was last captured and has not run since,
 * or is on its way back there (in_transit). */
static bool tracee_unchanged(struct tracee *th, const struct thread_info *info)
{
	struct capture_key *k = &th->key;

	if (!key_matches(th, info))
		return in_transit(k, info);
	/* The first look after a capture counts the runs our own stop and
	 * resume caused; later looks compare with it. */
	if (!k->runs_known) {
		k->runs = info->sched.run_count;
		k->runs_known = true;
		return true;
	}
	return info->sched.run_count == k->runs;
}

static bool policy_selects(struct tracee *th, enum capture_policy policy,
			   struct raw_sample *s)
{
	switch (policy) {
	case CAPTURE_RUNNING:
		return s->info.state == 'R';
	case CAPTURE_CHANGED:
		s->unchanged = tracee_unchanged(th, &s->info);
		return !s->unchanged;
	default:
		return true;
	}
}

/* One sample per live tracee, info read while nothing is stopped; the
 * tracees to capture get th->sample set. */
static int prepare_samples(struct target *t, struct sample_set *set,
			   enum capture_policy policy, bool wchan)
{
	set->samples = calloc(t->n ? t->n : 1, sizeof(*set->samples));
	if (!set->samples)
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++) {
		struct tracee *th = t->threads[i];
		struct raw_sample *s = &set->samples[set->n];

		if (th->phase != PHASE_RUNNING &&
		    th->phase != PHASE_LISTENING && th->phase != PHASE_UNSEIZED)
			continue;
		if (read_thread_info(t, th, policy, wchan, &s->info) < 0) {
			memset(s, 0, sizeof(*s));
			t->lost++;
			continue;
		}
		/* Refused at attach: a leader whose thread has exited. */
		if (th->phase == PHASE_UNSEIZED &&
		    (s->info.state == 'Z' || s->info.state == 'X')) {
			memset(s, 0, sizeof(*s));
			set_phase(t, th, PHASE_GONE);
			continue;
		}
		if (policy_selects(th, policy, s))
			th->sample = s;
		/* At once, while the thread's files are open: with every
		 * thread's schedstat held open at the same time, cprof's fd
		 * table grows, and growing a table shared by two threads
		 * waits for an RCU grace period (milliseconds) each time. */
		if (th->sample && read_blocked(t, th))
			th->sample = NULL;
		set->n++;
	}
	close_pending(t);
	return 0;
}

/*
 * Read just before the stop: a thread that blocked since the scan must
 * not be stopped in its sleep.  Its schedstat is taken again too, so the
 * displaced check compares with the moment of the stop, not of the scan:
 * only a thread that waited for a CPU at the stop itself counts.
 */
static bool still_running(struct target *t, struct tracee *th)
{
	char buf[1024];
	struct proc_stat stat;
	ssize_t n = tracee_read(t, th, FILE_STAT, buf, sizeof(buf));

	if (n <= 0 || procfs_parse_stat(buf, (size_t)n, &stat) < 0 ||
	    stat.state != 'R')
		return false;
	th->last_cpu = stat.processor;
	n = tracee_read(t, th, FILE_SCHEDSTAT, buf, sizeof(buf));
	if (n > 0)
		procfs_parse_schedstat(buf, (size_t)n, &th->sample->info.sched);
	return true;
}

/*
 * Seizes the listed threads that are to be stopped (see seize_listed); a
 * group-stopped one reports its stop at once.  One that cannot be seized
 * is exiting or gone: its sample is lost, or, for a recapture, the first
 * one is kept.
 */
static void seize_to_stop(struct target *t, bool recapture)
{
	bool seized = false;

	for (size_t i = 0; i < t->n; i++) {
		struct tracee *th = t->threads[i];

		if (th->phase != PHASE_UNSEIZED || !th->sample)
			continue;
		if (ptrace(PTRACE_SEIZE, th->tid, 0, SEIZE_OPTIONS) < 0) {
			set_phase(t, th, PHASE_GONE);
			th->sample = NULL;
			t->lost += !recapture;
			continue;
		}
		set_phase(t, th, PHASE_RUNNING);
		seized = true;
	}
	if (seized)
		answer_pending(t);
}

/* The tids of the tracees to stop, in tid order: batches walk this,
 * not every sample, so that a stopped thread does not wait on a pass over
 * a thousand blocked ones before its stop is awaited. */
struct capture_queue {
	pid_t *tids;
	size_t n, next;
};

static int queue_selected(const struct target *t,
			  struct capture_queue *ret_queue)
{
	struct capture_queue q = {
		.tids = malloc((t->n ? t->n : 1) * sizeof(*q.tids))};

	if (!q.tids)
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++)
		if (t->threads[i]->sample)
			q.tids[q.n++] = t->threads[i]->tid;
	*ret_queue = q;
	return 0;
}

/* Interrupts the next batch of queued tracees and answers their stops;
 * false once the queue is empty. */
static bool capture_next_batch(struct target *t, struct capture_queue *q,
			       enum capture_policy policy)
{
	unsigned stopped = 0;

	if (q->next >= q->n)
		return false;
	while (q->next < q->n && stopped < t->batch_size) {
		struct tracee *th = tracee_find(t, q->tids[q->next++]);

		if (!th || !th->sample)
			continue;
		if (th->phase != PHASE_RUNNING &&
		    th->phase != PHASE_LISTENING) {
			t->lost++; /* exited since the scan */
			continue;
		}
		if (policy == CAPTURE_RUNNING && !still_running(t, th))
			continue;
		tracee_interrupt(t, th, PHASE_CAPTURE);
		stopped++;
	}
	await_reports(t);
	return true;
}

/* Every queued tracee captured, in batches. */
static int capture_selected(struct target *t, enum capture_policy policy)
{
	struct capture_queue q;
	int r = queue_selected(t, &q);

	if (r < 0)
		return r;
	while (capture_next_batch(t, &q, policy))
		;
	free(q.tids);
	return 0;
}

/*
 * After the last thread is reaped the leader's exit is reported at once:
 * a launched command's status is taken here if the loop has not.  No
 * tracee left and a leader alive is an exec by another thread caught
 * midway: its siblings are gone, its own tid too, and its report, from the
 * leader's tid, is still to come.
 */
static bool process_gone(struct target *t)
{
	int status;

	tracee_compact(t);
	if (t->n)
		return false;
	if (t->launched && !t->exited &&
	    waitpid(t->pid, &status, __WALL | WNOHANG) == t->pid &&
	    !WIFSTOPPED(status)) {
		t->exited = true;
		t->exit_status = status;
	}
	return t->exited || !leader_alive(t);
}

static void refresh_maps(struct target *t)
{
	procfs_maps_release(&t->maps);
	/* Without maps a stack copy is bounded by max_stack alone. */
	procfs_read_maps(t->pid, &t->maps);
	t->maps_stale = false;
}

static int sample_threads(struct target *t, enum capture_policy policy,
			  bool wchan, struct sample_set *ret_set)
{
	struct sample_set set = {0};
	int r;

	t->lost = 0;
	t->error = 0;
	drain_reports(t);
	if (process_gone(t))
		return -ESRCH;
	if (t->maps_stale || t->maps.n == 0)
		refresh_maps(t);
	/* Blocked threads are read there, before any stop, so that no
	 * stopped thread waits on those reads. */
	r = prepare_samples(t, &set, policy, wchan);
	if (r == 0) {
		seize_to_stop(t, false);
		r = capture_selected(t, policy);
	}
	/* Nothing may wait for the next call: it may never come. */
	answer_pending(t);
	for (size_t i = 0; i < t->n; i++)
		t->threads[i]->sample = NULL;
	tracee_compact(t);
	if (r == 0)
		r = t->error;
	if (r < 0) {
		sample_set_release(&set);
		return r;
	}
	set.lost = t->lost;
	*ret_set = set;
	return 0;
}

int target_sample(struct target *target, enum capture_policy policy,
		  struct sample_set *ret_set)
{
	int r;

	target->check_displaced = policy == CAPTURE_RUNNING;
	/* The policy may carry SCHED_RESET_ON_FORK (session.c). */
	target->sampler_realtime =
		(sched_getscheduler(0) & ~SCHED_RESET_ON_FORK) == SCHED_FIFO;
	target->sample_start_ns = now_ns();
	r = sample_threads(target, policy, false, ret_set);
	target->check_displaced = false;
	return r;
}

int target_snapshot(struct target *target, struct sample_set *ret_set)
{
	/* One look at the target: the address space as it is now. */
	target->maps_stale = true;
	return sample_threads(target, CAPTURE_ALL, true, ret_set);
}

int target_snapshot_detach(struct target *target, struct sample_set *ret_set)
{
	struct target *t = target;
	int r;

	t->maps_stale = true;
	/* A thread born meanwhile is let go at its first stop. */
	t->detaching = true;
	t->detach_captured = true;
	r = sample_threads(t, CAPTURE_ALL, true, ret_set);
	/* What the pass did not capture: threads whose /proc read failed,
	 * and any left attached after an error. */
	drain_reports(t);
	while (detach_batch(t))
		;
	tracee_compact(t);
	return r;
}

int target_snapshot_release(struct target *target, struct sample_set *ret_set)
{
	struct target *t = target;

	t->one_look = true;
	t->maps_stale = true;
	t->detaching = true;
	t->detach_captured = true;
	return sample_threads(t, CAPTURE_ALL, true, ret_set);
}

/* Each fresh capture replaces its sample; one that failed is dropped. */
static void keep_recaptured(struct sample_set *set, struct raw_sample *fresh)
{
	for (size_t i = 0; i < set->n; i++) {
		if (!fresh[i].captured) {
			free(fresh[i].stack);
			continue;
		}
		free(set->samples[i].stack);
		set->samples[i] = fresh[i];
	}
}

int target_recapture(struct target *target, struct sample_set *set,
		     const bool *redo)
{
	struct target *t = target;
	struct raw_sample *fresh = calloc(set->n ? set->n : 1, sizeof(*fresh));
	int r;

	if (!fresh)
		return -ENOMEM;
	t->error = 0;
	drain_reports(t);
	for (size_t i = 0; i < set->n; i++) {
		struct tracee *th = tracee_find(t, set->samples[i].info.tid);

		if (!redo[i] || !th ||
		    (th->phase != PHASE_RUNNING && th->phase != PHASE_UNSEIZED))
			continue;
		fresh[i].info = set->samples[i].info;
		th->sample = &fresh[i];
	}
	seize_to_stop(t, true);
	/* A thread gone meanwhile keeps its first sample: not lost. */
	r = capture_selected(t, CAPTURE_ALL);
	answer_pending(t);
	for (size_t i = 0; i < t->n; i++)
		t->threads[i]->sample = NULL;
	tracee_compact(t);
	keep_recaptured(set, fresh);
	free(fresh);
	return r < 0 ? r : t->error;
}

int target_poll(struct target *target)
{
	struct target *t = target;
	int r;

	t->error = 0;
	answer_pending(t);
	r = t->error;
	if (process_gone(t))
		return -ESRCH;
	return r;
}

unsigned target_exec_count(const struct target *target)
{
	return target->exec_count;
}

size_t target_thread_count(const struct target *target)
{
	size_t live = 0;

	for (size_t i = 0; i < target->n; i++)
		live += target->threads[i]->phase != PHASE_GONE;
	return live;
}

int target_exit_status(const struct target *target, int *ret_status)
{
	if (!target->launched || !target->exited)
		return -ECHILD;
	*ret_status = target->exit_status;
	return 0;
}

void sample_set_release(struct sample_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++)
		free(set->samples[i].stack);
	free(set->samples);
	set->samples = NULL;
	set->n = 0;
	set->lost = 0;
}

/* ---- detach ---- */

/* Stops up to batch_size attached tracees for detaching; false if none. */
static bool detach_batch(struct target *t)
{
	unsigned stopped = 0;

	for (size_t i = 0; i < t->n && stopped < t->batch_size; i++) {
		struct tracee *th = t->threads[i];

		/* A running or listening tracee cannot be detached until it
		 * is in a ptrace stop. */
		if (th->phase != PHASE_RUNNING && th->phase != PHASE_LISTENING)
			continue;
		tracee_interrupt(t, th, PHASE_DETACH);
		stopped++;
	}
	await_reports(t);
	return stopped > 0;
}

static void target_free(struct target *t)
{
	close_pending(t);
	for (size_t i = 0; i < t->n; i++) {
		tracee_close_files(t->threads[i]);
		free(t->threads[i]);
	}
	free(t->threads);
	procfs_maps_release(&t->maps);
	free(t->scratch);
	if (t->task_fd >= 0)
		close(t->task_fd);
	if (t->proc_fd >= 0)
		close(t->proc_fd);
	free(t);
}

void target_detach(struct target *target)
{
	struct target *t = target;

	if (!t)
		return;
	t->detaching = true;
	if (t->batch_size == 0)
		t->batch_size = DEFAULT_BATCH_SIZE;
	if (t->seized_any) {
		drain_reports(t);
		while (detach_batch(t))
			;
	}
	target_free(t);
}

void target_abandon(struct target *target)
{
	if (target)
		target_free(target);
}

/* ---- explaining EPERM ---- */

static int read_int_file(const char *path, long *ret)
{
	char buf[32], *end;
	ssize_t n = procfs_read_file(AT_FDCWD, path, buf, sizeof(buf));
	long v;

	if (n <= 0)
		return n < 0 ? (int)n : -EINVAL;
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n'))
		return -EINVAL;
	*ret = v;
	return 0;
}

static bool have_cap_sys_ptrace(void)
{
	struct proc_status self;

	if (read_status_at(AT_FDCWD, "/proc/self/status", &self) < 0)
		return false;
	return self.cap_effective & (1ull << CAP_SYS_PTRACE_BIT);
}

static void explain_tracer(pid_t tracer, char *buf, size_t size)
{
	char path[64], comm[PROC_COMM_MAX + 1] = "";

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)tracer);
	if (procfs_read_file(AT_FDCWD, path, comm, sizeof(comm)) > 0)
		comm[strcspn(comm, "\n")] = '\0';
	if (comm[0])
		snprintf(buf, size, "already traced by pid %d (%s)",
			 (int)tracer, comm);
	else
		snprintf(buf, size, "already traced by pid %d", (int)tracer);
}

/* Yama's ptrace_scope: 1 lets only ancestors trace without the capability,
 * 2 only holders of CAP_SYS_PTRACE, 3 nobody. */
static bool explain_yama(pid_t pid, char *buf, size_t size)
{
	char path[64];
	struct proc_stat stat;
	long scope = 0;

	if (read_int_file("/proc/sys/kernel/yama/ptrace_scope", &scope) < 0 ||
	    scope < 1)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (scope == 1 && read_stat_at(AT_FDCWD, path, &stat) == 0 &&
	    stat.ppid == getpid())
		return false;
	if (scope < 3 && have_cap_sys_ptrace())
		return false;
	if (scope >= 3)
		snprintf(buf, size,
			 "kernel.yama.ptrace_scope is %ld: no process may be "
			 "traced",
			 scope);
	else
		snprintf(buf, size,
			 "kernel.yama.ptrace_scope is %ld; run with "
			 "CAP_SYS_PTRACE (e.g. as root)%s",
			 scope,
			 scope == 1 ? " or set it to 0 with sysctl" : "");
	return true;
}

const char *target_explain_eperm(pid_t pid, char *buf, size_t size)
{
	char path[64];
	struct proc_status status;
	bool have_status;

	if (!buf || size == 0)
		return "";
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	have_status = read_status_at(AT_FDCWD, path, &status) == 0;
	if (have_status && status.tracer_pid != 0) {
		explain_tracer(status.tracer_pid, buf, size);
		return buf;
	}
	if (explain_yama(pid, buf, size))
		return buf;
	if (have_status && status.uid_real != geteuid() &&
	    !have_cap_sys_ptrace()) {
		snprintf(buf, size,
			 "owned by uid %u; run as that user or with "
			 "CAP_SYS_PTRACE",
			 (unsigned)status.uid_real);
		return buf;
	}
	snprintf(buf, size,
		 "permission denied by the kernel (a set-user-id or "
		 "non-dumpable process, or a security module)");
	return buf;
}
