/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "attach/perf.h"

/* x86-64 user registers, in perf's numbering (asm/perf_regs.h). */
enum {
	PR_AX = 0,
	PR_BX,
	PR_CX,
	PR_DX,
	PR_SI,
	PR_DI,
	PR_BP,
	PR_SP,
	PR_IP,
	PR_R8 = 16,
	PR_R9,
	PR_R10,
	PR_R11,
	PR_R12,
	PR_R13,
	PR_R14,
	PR_R15,
	PR_COUNT
};
/* The 17 registers DWARF unwinding uses: every one but flags and the
 * segment registers. */
#define USER_REGS_MASK (((1ULL << (PR_IP + 1)) - 1) | (0xffULL << PR_R8))
#define USER_REGS_N    17

#define SAMPLE_TYPE                                                            \
	(PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME |                 \
	 PERF_SAMPLE_PERIOD | PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER)

/* Ring pages per CPU (a power of two), fewer where mlock limits refuse:
 * 8 MiB holds a quarter of a second of two threads at 1000 Hz, time for
 * the first samples' symbols to be read (libc's debug file alone takes
 * tens of milliseconds) without losing the ones behind them. */
#define RING_PAGES_MAX 2048
#define RING_PAGES_MIN 8

struct ring {
	int fd;
	struct perf_event_mmap_page *meta;
	uint8_t *data;
	size_t size; /* data bytes, a power of two */
};

struct thread_name {
	pid_t tid;
	char name[PROC_COMM_MAX];
};

struct perf_sampler {
	pid_t pid;
	struct perf_options opts;
	int *fds; /* every event, rings' own included */
	size_t nfds, fds_cap;
	struct ring *rings; /* one per CPU that has events */
	int *ring_fds;
	size_t nrings, ncpus;
	struct thread_name *names; /* sorted by tid */
	size_t nnames;
	uint8_t *record; /* a record that wraps, copied whole */
	size_t record_cap;
	struct perf_stats stats;
	struct rlimit saved_nofile; /* rlim_cur 0: never raised */
};

static long sys_perf_event_open(struct perf_event_attr *attr, pid_t tid,
				int cpu)
{
	return syscall(SYS_perf_event_open, attr, tid, cpu, -1,
		       PERF_FLAG_FD_CLOEXEC);
}

int perf_probe(void)
{
	struct perf_event_attr attr = {
		.size = sizeof(attr),
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_TASK_CLOCK,
		.disabled = 1,
		.exclude_kernel = 1,
		.exclude_hv = 1,
	};
	long fd = sys_perf_event_open(&attr, 0, -1);

	if (fd < 0)
		return -errno;
	close((int)fd);
	return 0;
}

static void init_attr(const struct perf_sampler *ps, bool kernel,
		      struct perf_event_attr *attr)
{
	*attr = (struct perf_event_attr){
		.size = sizeof(*attr),
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_TASK_CLOCK,
		.sample_period = 1000000000ULL / ps->opts.hz,
		.sample_type = SAMPLE_TYPE,
		.sample_regs_user = USER_REGS_MASK,
		.sample_stack_user = (uint32_t)ps->opts.stack_bytes,
		.disabled = 1,
		.inherit = 1,
		.enable_on_exec = ps->opts.enable_on_exec,
		.exclude_kernel = !kernel,
		.exclude_hv = 1,
		.comm = 1,
		.comm_exec = 1,
		.use_clockid = 1,
		.clockid = CLOCK_MONOTONIC,
		/* The reader is woken when half a ring is full. */
		.watermark = 1,
	};
}

static int keep_fd(struct perf_sampler *ps, int fd)
{
	if (ps->nfds == ps->fds_cap) {
		size_t cap = ps->fds_cap ? 2 * ps->fds_cap : 64;
		int *fds = reallocarray(ps->fds, cap, sizeof(*fds));

		if (!fds)
			return -ENOMEM;
		ps->fds = fds;
		ps->fds_cap = cap;
	}
	ps->fds[ps->nfds++] = fd;
	return 0;
}

static int map_ring(struct ring *ring, int fd)
{
	long page = sysconf(_SC_PAGESIZE);

	for (size_t pages = RING_PAGES_MAX; pages >= RING_PAGES_MIN;
	     pages /= 2) {
		size_t len = (pages + 1) * (size_t)page;
		void *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
				  fd, 0);

		if (base == MAP_FAILED) {
			if (errno == EPERM || errno == ENOMEM)
				continue;
			return -errno;
		}
		ring->fd = fd;
		ring->meta = base;
		ring->data = (uint8_t *)base + page;
		ring->size = pages * (size_t)page;
		return 0;
	}
	return -EPERM;
}

/* Routes an event of this CPU into the CPU's ring, making one first. */
static int attach_to_ring(struct perf_sampler *ps, int cpu, int fd)
{
	struct ring *ring = &ps->rings[cpu];

	if (ring->meta)
		return ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, ring->fd) < 0
			       ? -errno
			       : 0;
	return map_ring(ring, fd);
}

/*
 * An event per thread and CPU: a thousand threads need more fds than the
 * usual soft limit.  cprof's own limit is raised to the hard one while
 * the events are open; a launched command was forked before.
 */
static bool raise_nofile(struct perf_sampler *ps)
{
	struct rlimit lim;

	if (ps->saved_nofile.rlim_cur || getrlimit(RLIMIT_NOFILE, &lim) < 0 ||
	    lim.rlim_cur >= lim.rlim_max)
		return false;
	ps->saved_nofile = lim;
	lim.rlim_cur = lim.rlim_max;
	return setrlimit(RLIMIT_NOFILE, &lim) == 0;
}

static int open_thread(struct perf_sampler *ps, pid_t tid, bool kernel)
{
	struct perf_event_attr attr;
	int opened = 0;

	init_attr(ps, kernel, &attr);
	for (size_t cpu = 0; cpu < ps->ncpus; cpu++) {
		long fd = sys_perf_event_open(&attr, tid, (int)cpu);
		int r;

		if (fd < 0 && errno == EMFILE && raise_nofile(ps))
			fd = sys_perf_event_open(&attr, tid, (int)cpu);
		if (fd < 0 && errno == ENODEV)
			continue; /* an offline CPU */
		if (fd < 0)
			return -errno;
		r = keep_fd(ps, (int)fd);
		if (r == 0)
			r = attach_to_ring(ps, (int)cpu, (int)fd);
		if (r < 0) {
			if (ps->nfds && ps->fds[ps->nfds - 1] == (int)fd)
				ps->nfds--;
			close((int)fd);
			return r;
		}
		opened++;
	}
	return opened ? 0 : -ENODEV;
}

/*
 * Events for every thread /proc/PID/task lists, in one pass.  Threads
 * born later inherit the events of the thread that starts them; a second
 * pass could not tell those from threads started meanwhile by one not yet
 * given events, and would count the first twice.  As perf does, a thread
 * started during the pass by a thread not yet reached is missed.
 */
static int open_threads(struct perf_sampler *ps, bool kernel)
{
	char path[64];
	struct dirent *d;
	int r = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)ps->pid);
	dir = opendir(path);
	if (!dir)
		return errno == ENOENT ? -ESRCH : -errno;
	while (r >= 0 && (d = readdir(dir))) {
		pid_t tid = (pid_t)strtol(d->d_name, NULL, 10);

		if (tid <= 0)
			continue;
		r = open_thread(ps, tid, kernel);
		if (r == -ESRCH) /* exited meanwhile */
			r = 0;
	}
	closedir(dir);
	return r;
}

static void close_events(struct perf_sampler *ps)
{
	long page = sysconf(_SC_PAGESIZE);

	for (size_t i = 0; i < ps->ncpus; i++)
		if (ps->rings[i].meta)
			munmap(ps->rings[i].meta,
			       ps->rings[i].size + (size_t)page);
	memset(ps->rings, 0, ps->ncpus * sizeof(*ps->rings));
	for (size_t i = 0; i < ps->nfds; i++)
		close(ps->fds[i]);
	ps->nfds = 0;
}

void perf_close(struct perf_sampler *ps)
{
	if (!ps)
		return;
	if (ps->rings)
		close_events(ps);
	if (ps->saved_nofile.rlim_cur)
		setrlimit(RLIMIT_NOFILE, &ps->saved_nofile);
	free(ps->fds);
	free(ps->rings);
	free(ps->ring_fds);
	free(ps->names);
	free(ps->record);
	free(ps);
}

static int start(struct perf_sampler *ps)
{
	int r = open_threads(ps, true);

	/* Kernel mode may not be sampled (perf_event_paranoid >= 2 without
	 * CAP_PERFMON): then user mode alone. */
	if (r == -EACCES || r == -EPERM) {
		close_events(ps);
		r = open_threads(ps, false);
	} else if (r >= 0) {
		ps->stats.kernel_sampled = true;
	}
	if (r < 0)
		return r;
	if (!ps->opts.enable_on_exec && !ps->opts.start_disabled)
		perf_enable(ps);
	return 0;
}

void perf_enable(struct perf_sampler *ps)
{
	/* Without PERF_IOC_FLAG_GROUP an ioctl acts on the inherited
	 * events too. */
	for (size_t i = 0; i < ps->nfds; i++)
		ioctl(ps->fds[i], PERF_EVENT_IOC_ENABLE, 0);
}

int perf_open(pid_t pid, const struct perf_options *opts,
	      struct perf_sampler **ret_sampler)
{
	struct perf_sampler *ps = calloc(1, sizeof(*ps));
	long ncpus = sysconf(_SC_NPROCESSORS_CONF);
	int r;

	if (!ps)
		return -ENOMEM;
	ps->pid = pid;
	ps->opts = *opts;
	if (!ps->opts.hz)
		ps->opts.hz = 100;
	if (!ps->opts.stack_bytes)
		ps->opts.stack_bytes = PERF_STACK_DEFAULT;
	ps->opts.stack_bytes &= ~(size_t)7;
	ps->ncpus = ncpus > 0 ? (size_t)ncpus : 1;
	ps->rings = calloc(ps->ncpus, sizeof(*ps->rings));
	ps->ring_fds = calloc(ps->ncpus, sizeof(*ps->ring_fds));
	if (!ps->rings || !ps->ring_fds) {
		perf_close(ps);
		return -ENOMEM;
	}
	r = start(ps);
	if (r < 0) {
		perf_close(ps);
		return r;
	}
	for (size_t i = 0; i < ps->ncpus; i++)
		if (ps->rings[i].meta)
			ps->ring_fds[ps->nrings++] = ps->rings[i].fd;
	*ret_sampler = ps;
	return 0;
}

size_t perf_fds(const struct perf_sampler *ps, const int **ret_fds)
{
	*ret_fds = ps->ring_fds;
	return ps->nrings;
}

void perf_get_stats(const struct perf_sampler *ps, struct perf_stats *ret)
{
	*ret = ps->stats;
}

/* ---- names ---- */

/* Where tid is, or would go, in the names sorted by tid. */
static size_t name_index(const struct perf_sampler *ps, pid_t tid)
{
	size_t lo = 0, hi = ps->nnames;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ps->names[mid].tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void read_comm(pid_t pid, pid_t tid, char *buf, size_t size)
{
	char path[64];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)pid,
		 (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, size - 1);
		close(fd);
	}
	if (n <= 0)
		n = 0;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

/* The thread's slot, made at first sight with the name /proc shows;
 * NULL when out of memory. */
static struct thread_name *name_slot(struct perf_sampler *ps, pid_t tid)
{
	size_t i = name_index(ps, tid);
	struct thread_name *names;

	if (i < ps->nnames && ps->names[i].tid == tid)
		return &ps->names[i];
	names = reallocarray(ps->names, ps->nnames + 1, sizeof(*names));
	if (!names)
		return NULL;
	ps->names = names;
	memmove(&names[i + 1], &names[i], (ps->nnames - i) * sizeof(*names));
	ps->nnames++;
	names[i].tid = tid;
	read_comm(ps->pid, tid, names[i].name, sizeof(names[i].name));
	return &names[i];
}

/* ---- records ---- */

struct cursor {
	const uint8_t *p, *end;
};

static bool take(struct cursor *c, void *out, size_t len)
{
	if ((size_t)(c->end - c->p) < len)
		return false;
	if (out)
		memcpy(out, c->p, len);
	c->p += len;
	return true;
}

static void fill_regs(struct user_regs_struct *regs, const uint64_t *v)
{
	/* In mask order: ax bx cx dx si di bp sp ip r8..r15. */
	regs->rax = v[0], regs->rbx = v[1], regs->rcx = v[2];
	regs->rdx = v[3], regs->rsi = v[4], regs->rdi = v[5];
	regs->rbp = v[6], regs->rsp = v[7], regs->rip = v[8];
	regs->r8 = v[9], regs->r9 = v[10], regs->r10 = v[11];
	regs->r11 = v[12], regs->r12 = v[13], regs->r13 = v[14];
	regs->r14 = v[15], regs->r15 = v[16];
}

static int parse_sample(struct perf_sampler *ps, struct cursor *c,
			struct raw_sample *s)
{
	uint64_t ip, time, period, abi, size, dyn_size = 0;
	uint64_t regs[USER_REGS_N];
	struct thread_name *slot;
	uint32_t pid_tid[2];
	const uint8_t *stack;

	if (!take(c, &ip, 8) || !take(c, pid_tid, 8) || !take(c, &time, 8) ||
	    !take(c, &period, 8) || !take(c, &abi, 8))
		return -EBADMSG;
	if (abi == PERF_SAMPLE_REGS_ABI_NONE)
		return 0; /* no user state: a tick in a kernel thread */
	/* Events are inherited by forked processes too, whose address
	 * spaces this session does not read: their samples are dropped. */
	if ((pid_t)pid_tid[0] != ps->pid) {
		ps->stats.other_processes++;
		return 0;
	}
	if (!take(c, regs, sizeof(regs)) || !take(c, &size, 8))
		return -EBADMSG;
	stack = c->p;
	if (!take(c, NULL, size) || (size && !take(c, &dyn_size, 8)) ||
	    dyn_size > size)
		return -EBADMSG;
	*s = (struct raw_sample){
		.info.tid = (pid_t)pid_tid[1],
		.info.state = 'R',
		.info.syscall.running = true,
		.info.syscall.nr = -1,
		.time_ns = time,
		.captured = true,
		.stack_start = regs[7],
		.stack_len = dyn_size,
		.stack = (uint8_t *)stack,
		.weight_ns = (int64_t)period,
		.copy_full = dyn_size == size,
	};
	fill_regs(&s->regs, regs);
	slot = name_slot(ps, s->info.tid);
	snprintf(s->info.name, sizeof(s->info.name), "%s",
		 slot ? slot->name : "");
	return 1;
}

static void parse_comm(struct perf_sampler *ps,
		       const struct perf_event_header *h, struct cursor *c,
		       bool *ret_exec)
{
	struct thread_name *slot;
	uint32_t pid_tid[2];
	char comm[PROC_COMM_MAX] = "";
	size_t len = (size_t)(c->end - c->p);

	if (!take(c, pid_tid, 8))
		return;
	len = len - 8 < sizeof(comm) - 1 ? len - 8 : sizeof(comm) - 1;
	memcpy(comm, c->p, len);
	comm[len] = '\0';
	slot = name_slot(ps, (pid_t)pid_tid[1]);
	if (slot)
		snprintf(slot->name, sizeof(slot->name), "%s", comm);
	if (h->misc & PERF_RECORD_MISC_COMM_EXEC)
		*ret_exec = true;
}

/* The record at tail, contiguous: copied out when it wraps. */
static const uint8_t *record_at(struct perf_sampler *ps,
				const struct ring *ring, uint64_t tail,
				size_t len)
{
	size_t off = (size_t)(tail & (ring->size - 1));

	if (off + len <= ring->size)
		return ring->data + off;
	if (len > ps->record_cap) {
		uint8_t *buf = realloc(ps->record, len);

		if (!buf)
			return NULL;
		ps->record = buf;
		ps->record_cap = len;
	}
	memcpy(ps->record, ring->data + off, ring->size - off);
	memcpy(ps->record + (ring->size - off), ring->data,
	       len - (ring->size - off));
	return ps->record;
}

static int dispatch(struct perf_sampler *ps, const uint8_t *rec,
		    perf_sample_fn fn, void *ctx, bool *ret_exec)
{
	const struct perf_event_header *h = (const void *)rec;
	struct cursor c = {rec + sizeof(*h), rec + h->size};
	struct raw_sample sample;
	uint64_t lost[2];
	int r;

	switch (h->type) {
	case PERF_RECORD_SAMPLE:
		r = parse_sample(ps, &c, &sample);
		if (r <= 0)
			return r;
		ps->stats.samples++;
		return fn(&sample, ctx);
	case PERF_RECORD_COMM:
		parse_comm(ps, h, &c, ret_exec);
		return 0;
	case PERF_RECORD_LOST:
		if (take(&c, lost, sizeof(lost)))
			ps->stats.lost += lost[1];
		return 0;
	default:
		return 0;
	}
}

static int drain_ring(struct perf_sampler *ps, struct ring *ring,
		      perf_sample_fn fn, void *ctx, bool *ret_exec)
{
	uint64_t head =
		__atomic_load_n(&ring->meta->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = ring->meta->data_tail;
	int r = 0, n = 0;

	while (tail < head && r >= 0) {
		const struct perf_event_header *h =
			(const void *)record_at(ps, ring, tail, sizeof(*h));
		struct perf_event_header hdr;
		const uint8_t *rec;

		if (!h)
			return -ENOMEM;
		hdr = *h;
		if (hdr.size < sizeof(hdr) || hdr.size > head - tail)
			break;
		rec = record_at(ps, ring, tail, hdr.size);
		if (!rec)
			return -ENOMEM;
		r = dispatch(ps, rec, fn, ctx, ret_exec);
		n += r > 0;
		tail += hdr.size;
		/* Each record's room goes back to the kernel as soon as it is
		 * unwound, not after the whole batch. */
		__atomic_store_n(&ring->meta->data_tail, tail,
				 __ATOMIC_RELEASE);
		if (tail == head)
			head = __atomic_load_n(&ring->meta->data_head,
					       __ATOMIC_ACQUIRE);
	}
	return r < 0 ? r : n;
}

int perf_drain(struct perf_sampler *ps, perf_sample_fn fn, void *ctx,
	       bool *ret_exec)
{
	int total = 0;

	*ret_exec = false;
	for (size_t i = 0; i < ps->ncpus; i++) {
		int r;

		if (!ps->rings[i].meta)
			continue;
		r = drain_ring(ps, &ps->rings[i], fn, ctx, ret_exec);
		if (r < 0)
			return r;
		total += r;
	}
	return total;
}
