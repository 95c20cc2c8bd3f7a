/* SPDX-License-Identifier: MIT */
/*
 * Unwinds the threads of unwind-target (argv[1]) with both backends and
 * checks, per thread: both give the same frames, the PCs equal eu-stack's,
 * and the symbolized chain is exactly the expected one.  The capture is
 * plain ptrace here, the way attach/ takes it: seize, interrupt, registers,
 * one process_vm_readv of the stack, detach.
 *
 * Exit codes: 0 pass, 1 fail, 77 skip, 99 framework failure.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attach/procfs.h"
#include "symbolize/demangle.h"
#include "symbolize/symbolize.h"
#include "symbolize/unwind.h"

#define EXIT_PASS 0
#define EXIT_FAIL 1
#define EXIT_SKIP 77
#define EXIT_HARD 99

#define NTHREADS	3
#define STACK_COPY_MAX	(1u << 20)
#define TIMING_ROUNDS	200
#define PARK_TIMEOUT_MS 10000
#define VDSO_TRIES	1000
#define GARBAGE_ROUNDS	300
#define TEST_TIMEOUT_S	120

struct expected {
	const char *role;  /* as the target prints it */
	const char *chain; /* grep -E -x over the names, innermost first */
};

/*
 * libc's frames differ between versions, so they are matched loosely; the
 * target's own frames exactly.  The signal chain runs through the kernel's
 * trampoline (__restore_rt) into the interrupted, spinning frame.
 */
#define LIBC_SLEEP                                                             \
	"(__GI_)?(__)?clock_nanosleep(@GLIBC_2.2.5)? (__GI_)?(__)?nanosleep "
#define THREAD_START "start_thread (__)?clone3?"
static const struct expected expected[NTHREADS] = {
	{"chain", LIBC_SLEEP "park f1 f2 f3 chain_main " THREAD_START},
	{"signal", LIBC_SLEEP "park signal_handler __restore_rt signal_victim "
			      "signal_main " THREAD_START},
	{"recurse",
	 LIBC_SLEEP "park (recurse ){1001}recurse_main " THREAD_START},
};

struct thread_sample {
	struct raw_sample raw;
	uint64_t eu_pcs[UNWIND_MAX_FRAMES];
	size_t eu_n;
};

static int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("FAIL: ", stdout);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
	return EXIT_FAIL;
}

static pid_t spawn_target(const char *path, FILE **ret_out)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fds[1], STDOUT_FILENO);
		execl(path, path, (char *)NULL);
		_exit(EXIT_HARD);
	}
	close(fds[1]);
	*ret_out = fdopen(fds[0], "r");
	return pid;
}

static int read_tids(FILE *out, pid_t tids[NTHREADS], pid_t *ret_vdso_tid)
{
	char role[16];
	int id;

	while (fscanf(out, "%15s %d", role, &id) == 2) {
		if (!strcmp(role, "ready"))
			return 0;
		if (!strcmp(role, "vdso"))
			*ret_vdso_tid = id;
		for (int i = 0; i < NTHREADS; i++)
			if (!strcmp(role, expected[i].role))
				tids[i] = id;
	}
	return -EIO;
}

/* Parked means blocked in clock_nanosleep (230) or nanosleep (35). */
static bool is_parked(pid_t pid, pid_t tid)
{
	char path[64], buf[256];
	struct proc_syscall sc;
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", pid, tid);
	len = procfs_read_file(AT_FDCWD, path, buf, sizeof(buf));
	if (len < 0 || procfs_parse_syscall(buf, len, &sc) < 0)
		return false;
	return !sc.running && (sc.nr == 230 || sc.nr == 35);
}

static int wait_parked(pid_t pid, const pid_t tids[NTHREADS])
{
	const struct timespec tick = {.tv_nsec = 1000000};

	for (int ms = 0; ms < PARK_TIMEOUT_MS; ms++) {
		bool all = true;

		for (int i = 0; i < NTHREADS; i++)
			all &= is_parked(pid, tids[i]);
		if (all)
			return 0;
		nanosleep(&tick, NULL);
	}
	return -ETIMEDOUT;
}

static int copy_stack(pid_t pid, pid_t tid, struct raw_sample *s)
{
	struct proc_maps maps = {0};
	const struct proc_map *stack;
	struct iovec local, remote;
	int r = procfs_read_maps(pid, &maps);

	if (r < 0)
		return r;
	stack = procfs_maps_find(&maps, s->regs.rsp);
	r = -EFAULT;
	if (stack) {
		s->stack_start = s->regs.rsp;
		s->stack_len = stack->end - s->regs.rsp;
		if (s->stack_len > STACK_COPY_MAX)
			s->stack_len = STACK_COPY_MAX;
		s->stack = malloc(s->stack_len);
		local = (struct iovec){s->stack, s->stack_len};
		remote = (struct iovec){(void *)s->stack_start, s->stack_len};
		if (s->stack && process_vm_readv(tid, &local, 1, &remote, 1,
						 0) == (ssize_t)s->stack_len)
			r = 0;
	}
	procfs_maps_release(&maps);
	return r;
}

static int capture(pid_t pid, pid_t tid, struct raw_sample *s)
{
	struct iovec iov = {&s->regs, sizeof(s->regs)};
	int status, r = 0;

	if (ptrace(PTRACE_SEIZE, tid, 0, 0) < 0)
		return -errno;
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0 ||
	    waitpid(tid, &status, __WALL) != tid)
		r = -errno;
	if (r == 0 && ptrace(PTRACE_GETREGSET, tid, NT_PRSTATUS, &iov) < 0)
		r = -errno;
	if (r == 0)
		r = copy_stack(pid, tid, s);
	ptrace(PTRACE_DETACH, tid, 0, 0);
	s->info.tid = tid;
	s->captured = r == 0;
	return r;
}

/* eu-stack -q prints "#N  0xPC" per frame under "TID N:". */
static int run_eu_stack(pid_t pid, struct thread_sample samples[NTHREADS])
{
	char cmd[64], line[256];
	struct thread_sample *cur = NULL;
	uint64_t pc;
	FILE *p;
	int tid;

	snprintf(cmd, sizeof(cmd), "eu-stack -q -n 0 -p %d 2>/dev/null", pid);
	p = popen(cmd, "r");
	if (!p)
		return -errno;
	while (fgets(line, sizeof(line), p)) {
		if (sscanf(line, "TID %d:", &tid) == 1) {
			cur = NULL;
			for (int i = 0; i < NTHREADS; i++)
				if (samples[i].raw.info.tid == tid)
					cur = &samples[i];
		} else if (cur && cur->eu_n < UNWIND_MAX_FRAMES &&
			   sscanf(line, " #%*d %" SCNx64, &pc) == 1) {
			cur->eu_pcs[cur->eu_n++] = pc;
		}
	}
	return pclose(p) == -1 ? -errno : 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int unwind_timed(struct unwinder *u, const char *name,
			const struct thread_sample *s, struct frame *frames,
			size_t *ret_n)
{
	uint64_t start = now_ns();
	int r = 0;

	for (int i = 0; i < TIMING_ROUNDS; i++)
		r = unwinder_unwind(u, &s->raw, frames, UNWIND_MAX_FRAMES,
				    ret_n);
	printf("# %-9s tid %d: %zu frames, %.1f us per unwind, r=%d\n", name,
	       s->raw.info.tid, *ret_n,
	       (now_ns() - start) / 1000.0 / TIMING_ROUNDS, r);
	return r;
}

static int compare_frames(const struct thread_sample *s, const struct frame *dw,
			  size_t ndw, const struct frame *lu, size_t nlu)
{
	pid_t tid = s->raw.info.tid;

	if (ndw != nlu)
		return fail("tid %d: libdw %zu frames, libunwind %zu", tid, ndw,
			    nlu);
	for (size_t i = 0; i < ndw; i++)
		if (dw[i].pc != lu[i].pc ||
		    dw[i].activation != lu[i].activation)
			return fail("tid %d frame %zu: libdw %#" PRIx64
				    "%s, libunwind %#" PRIx64 "%s",
				    tid, i, dw[i].pc,
				    dw[i].activation ? "!" : "", lu[i].pc,
				    lu[i].activation ? "!" : "");
	if (s->eu_n != ndw)
		return fail("tid %d: eu-stack %zu frames, cprof %zu", tid,
			    s->eu_n, ndw);
	for (size_t i = 0; i < ndw; i++)
		if (s->eu_pcs[i] != dw[i].pc)
			return fail("tid %d frame %zu: eu-stack %#" PRIx64
				    ", cprof %#" PRIx64,
				    tid, i, s->eu_pcs[i], dw[i].pc);
	return EXIT_PASS;
}

/* The frames' names, innermost first, space separated. */
static char *chain_names(struct symbolizer *sym, const struct frame *frames,
			 size_t n)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const struct sym_location *loc =
			symbolizer_lookup(sym, &frames[i]);

		for (size_t j = 0; loc && j < loc->nlines; j++)
			fprintf(f, "%s%s", ftell(f) ? " " : "",
				loc->lines[j].function);
	}
	fclose(f);
	return buf;
}

static void print_frames(struct symbolizer *sym, const struct frame *frames,
			 size_t n)
{
	for (size_t i = 0; i < n && i < 12; i++) {
		const struct sym_location *loc =
			symbolizer_lookup(sym, &frames[i]);

		for (size_t j = 0; loc && j < loc->nlines; j++)
			printf("#   %#" PRIx64 "%s %s+%#" PRIx64 " %s:%d\n",
			       frames[i].pc, frames[i].activation ? "!" : "",
			       loc->lines[j].function, loc->symbol_offset,
			       loc->lines[j].file, loc->lines[j].line);
	}
}

static int check_names(struct symbolizer *sym, const struct expected *exp,
		       pid_t tid, const struct frame *frames, size_t n)
{
	char *names = chain_names(sym, frames, n);
	char pattern[512];
	regex_t re;
	int r = EXIT_PASS;

	snprintf(pattern, sizeof(pattern), "^%s$", exp->chain);
	if (!names || regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB)) {
		free(names);
		return EXIT_HARD;
	}
	if (regexec(&re, names, 0, NULL, 0)) {
		print_frames(sym, frames, n);
		r = fail("tid %d (%s): chain '%.300s' does not match '%s'", tid,
			 exp->role, names, exp->chain);
	}
	regfree(&re);
	free(names);
	return r;
}

/* The signal thread's frames outside libc must carry file:line: DWARF of
 * the target itself and glibc's from libc6-dbg. */
static int check_lines(struct symbolizer *sym, const struct frame *frames,
		       size_t n, pid_t tid)
{
	for (size_t i = 0; i < n && i < 4; i++) {
		const struct sym_location *loc =
			symbolizer_lookup(sym, &frames[i]);

		if (!loc || loc->lines[0].line <= 0 || !loc->lines[0].file[0])
			return fail("tid %d frame %zu (%s): no file:line", tid,
				    i, loc ? loc->lines[0].function : "?");
	}
	return EXIT_PASS;
}

static int check_thread(struct unwinder *dw, struct unwinder *lu,
			struct symbolizer *sym, const struct thread_sample *s,
			const struct expected *exp)
{
	struct frame dw_frames[UNWIND_MAX_FRAMES];
	struct frame lu_frames[UNWIND_MAX_FRAMES];
	size_t ndw = 0, nlu = 0;
	int r;

	if (unwind_timed(dw, "libdw", s, dw_frames, &ndw) < 0 ||
	    unwind_timed(lu, "libunwind", s, lu_frames, &nlu) < 0)
		return fail("tid %d: unwind did not reach the outermost frame",
			    s->raw.info.tid);
	r = compare_frames(s, dw_frames, ndw, lu_frames, nlu);
	if (r == EXIT_PASS)
		r = check_names(sym, exp, s->raw.info.tid, dw_frames, ndw);
	if (r == EXIT_PASS)
		r = check_lines(sym, dw_frames, ndw, s->raw.info.tid);
	return r;
}

/* A word that makes unwinders work hard: a real return address, a pointer
 * into the copy (loops), or noise. */
static uint64_t garbage_word(const struct raw_sample *real,
			     const uint64_t *ret_addrs, size_t nret,
			     unsigned *seed)
{
	unsigned pick = rand_r(seed);

	switch (pick % 4) {
	case 0:
		return ret_addrs[(pick / 4) % nret];
	case 1:
		return real->stack_start + (pick / 4) % real->stack_len;
	default:
		return ((uint64_t)rand_r(seed) << 32) ^ (uint64_t)rand_r(seed);
	}
}

/*
 * Garbage must end an unwind, never hang or crash it: random stacks built
 * from return addresses, self-pointers and noise, for both backends.
 */
static int check_garbage(struct unwinder *dw, struct unwinder *lu,
			 const struct thread_sample *s)
{
	struct frame frames[UNWIND_MAX_FRAMES];
	uint64_t ret_addrs[16];
	struct raw_sample fake = s->raw;
	unsigned seed = 1;
	size_t n, nret, deepest = 0;

	fake.stack = malloc(fake.stack_len);
	if (!fake.stack)
		return EXIT_HARD;
	if (unwinder_unwind(dw, &s->raw, frames, 16, &nret) < 0 && nret == 0)
		nret = 1;
	for (size_t i = 0; i < nret; i++)
		ret_addrs[i] = frames[i].pc;
	for (int round = 0; round < GARBAGE_ROUNDS; round++) {
		uint64_t *words = (uint64_t *)fake.stack;

		for (size_t i = 0; i < fake.stack_len / 8; i++)
			words[i] =
				garbage_word(&s->raw, ret_addrs, nret, &seed);
		fake.regs.rip = ret_addrs[round % nret];
		fake.regs.rbp = garbage_word(&s->raw, ret_addrs, nret, &seed);
		unwinder_unwind(dw, &fake, frames, UNWIND_MAX_FRAMES, &n);
		if (n > UNWIND_MAX_FRAMES)
			return fail("garbage: libdw %zu frames", n);
		deepest = n > deepest ? n : deepest;
		unwinder_unwind(lu, &fake, frames, UNWIND_MAX_FRAMES, &n);
		if (n > UNWIND_MAX_FRAMES)
			return fail("garbage: libunwind %zu frames", n);
	}
	free(fake.stack);
	printf("# garbage: %d stacks of %zu bytes, deepest %zu frames\n",
	       GARBAGE_ROUNDS, fake.stack_len, deepest);
	return EXIT_PASS;
}

/* Caught in the vDSO: both backends agree, and CFI leads out of it into
 * the target's own frames. */
static int check_vdso(struct unwinder *dw, struct unwinder *lu,
		      struct symbolizer *sym, const struct thread_sample *s)
{
	static const struct expected exp = {
		"vdso", ".* vdso_spin vdso_main " THREAD_START};
	struct frame dw_frames[UNWIND_MAX_FRAMES], lu_frames[UNWIND_MAX_FRAMES];
	size_t ndw = 0, nlu = 0;
	const struct sym_location *loc;

	if (unwinder_unwind(dw, &s->raw, dw_frames, UNWIND_MAX_FRAMES, &ndw) <
		    0 ||
	    unwinder_unwind(lu, &s->raw, lu_frames, UNWIND_MAX_FRAMES, &nlu) <
		    0)
		return fail("vdso: unwind did not reach the outermost frame");
	if (ndw != nlu ||
	    memcmp(dw_frames, lu_frames, ndw * sizeof(*dw_frames)))
		return fail("vdso: libdw and libunwind disagree");
	loc = symbolizer_lookup(sym, &dw_frames[0]);
	if (!loc || !loc->module || strcmp(loc->module->path, "[vdso]"))
		return fail("vdso: frame 0 not in the [vdso] module");
	printf("# vdso: frame 0 %s, %zu frames\n", loc->lines[0].function, ndw);
	return check_names(sym, &exp, s->raw.info.tid, dw_frames, ndw);
}

/* C++ and Rust names, legacy and v0, read as their authors wrote them. */
static int check_demangle(void)
{
	static const char *const cases[][2] = {
		{"_ZN2ns4TmplIiE3runEv", "ns::Tmpl<int>::run()"},
		{"_ZN4core3fmt5write17h0123456789abcdefE", "core::fmt::write"},
		{"_ZN3std2rt10lang_start28_$u7b$$u7b$closure$u7d$$u7d$"
		 "17h0123456789abcdefE",
		 "std::rt::lang_start::{{closure}}"},
		{"_RNvCs15kBYyAo9fc_7mycrate7example", "mycrate::example"},
		{"_RINvNtC3std3mem8align_ofjE", "std::mem::align_of::<usize>"},
		{"_RNvMNtCs4fqI2P2rA04_5crate4parkINtB2_7SleeperKj3_E3nap",
		 "<crate::park::Sleeper<3>>::nap"},
		{"_RNvXCs4fqI2P2rA04_5crateINtB2_4PipehENtB2_4Wait4wait",
		 "<crate::Pipe<u8> as crate::Wait>::wait"},
		{"_RNCNvCs4fqI2P2rA04_5crate4main0B3_",
		 "crate::main::{closure#0}"},
		{"_R", NULL},
		{"_RNvC", NULL},
		{"i", NULL},
		{"main", NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = demangle(cases[i][0]);
		bool ok = cases[i][1] ? out && !strcmp(out, cases[i][1]) : !out;

		if (!ok) {
			fail("demangle '%s': '%s'", cases[i][0],
			     out ? out : "(null)");
			free(out);
			return EXIT_FAIL;
		}
		free(out);
	}
	return EXIT_PASS;
}

/* The first mapping of path's object, or 0. */
static uint64_t object_start(pid_t pid, const char *name)
{
	struct proc_maps maps = {0};
	uint64_t start = 0;

	if (procfs_read_maps(pid, &maps) < 0)
		return 0;
	for (size_t i = 0; i < maps.n && !start; i++)
		if (strstr(maps.maps[i].path, name) && maps.maps[i].executable)
			start = maps.maps[i].start;
	procfs_maps_release(&maps);
	return start;
}

/* dlopen in the target, then refresh: the new object is found, and the
 * modules already known keep their identity (and so their caches). */
static int check_refresh(struct addrspace *as, pid_t pid, FILE *out,
			 const struct thread_sample *s)
{
	const struct module_info *before =
		addrspace_module_at(as, s->raw.regs.rip);
	uint64_t libz;
	int loaded = 0;

	if (kill(pid, SIGUSR2) < 0 || fscanf(out, " loaded %d", &loaded) != 1)
		return EXIT_HARD;
	if (!loaded)
		return EXIT_PASS; /* no libz here: nothing to look for */
	libz = object_start(pid, "libz.so");
	if (!libz || addrspace_module_at(as, libz))
		return fail("refresh: libz %#" PRIx64 " known before refresh",
			    libz);
	if (addrspace_refresh(as) < 0)
		return fail("refresh failed");
	if (!addrspace_module_at(as, libz))
		return fail("refresh: libz not found after refresh");
	if (addrspace_module_at(as, s->raw.regs.rip) != before)
		return fail("refresh: libc's module was replaced");
	printf("# refresh: dlopen'ed libz found at %#" PRIx64 "\n", libz);
	return EXIT_PASS;
}

static int check_all(pid_t pid, FILE *out,
		     struct thread_sample samples[NTHREADS],
		     const struct thread_sample *vdso)
{
	struct addrspace *as = NULL;
	struct unwinder *dw = NULL, *lu = NULL;
	struct symbolizer *sym = NULL;
	int r = EXIT_HARD;

	if (addrspace_open(pid, NULL, &as) < 0 ||
	    unwinder_new(UNWINDER_LIBDW, as, &dw) < 0 ||
	    unwinder_new(UNWINDER_LIBUNWIND, as, &lu) < 0 ||
	    symbolizer_new(as, NULL, &sym) < 0)
		goto out;
	r = EXIT_PASS;
	for (int i = 0; i < NTHREADS; i++) {
		int ri = check_thread(dw, lu, sym, &samples[i], &expected[i]);

		if (ri != EXIT_PASS)
			r = ri;
	}
	if (r == EXIT_PASS)
		r = check_vdso(dw, lu, sym, vdso);
	if (r == EXIT_PASS)
		r = check_garbage(dw, lu, &samples[2]);
	if (r == EXIT_PASS)
		r = check_demangle();
	if (r == EXIT_PASS)
		r = check_refresh(as, pid, out, &samples[0]);
out:
	symbolizer_free(sym);
	unwinder_free(lu);
	unwinder_free(dw);
	addrspace_free(as);
	return r;
}

static bool in_vdso(pid_t pid, uint64_t pc)
{
	struct proc_maps maps = {0};
	const struct proc_map *map;
	bool vdso;

	if (procfs_read_maps(pid, &maps) < 0)
		return false;
	map = procfs_maps_find(&maps, pc);
	vdso = map && !strcmp(map->path, "[vdso]");
	procfs_maps_release(&maps);
	return vdso;
}

/* The spinning thread is caught inside the vDSO within a few tries. */
static int capture_in_vdso(pid_t pid, pid_t tid, struct raw_sample *s)
{
	for (int i = 0; i < VDSO_TRIES; i++) {
		int r = capture(pid, tid, s);

		if (r < 0)
			return r;
		if (in_vdso(pid, s->regs.rip))
			return 0;
		free(s->stack);
		s->stack = NULL;
	}
	return -EAGAIN;
}

static int run(pid_t pid, FILE *out, struct thread_sample samples[NTHREADS],
	       struct thread_sample *vdso)
{
	pid_t tids[NTHREADS] = {0}, vdso_tid = 0;

	if (read_tids(out, tids, &vdso_tid) < 0 || wait_parked(pid, tids) < 0 ||
	    capture_in_vdso(pid, vdso_tid, &vdso->raw) < 0)
		return EXIT_HARD;
	for (int i = 0; i < NTHREADS; i++) {
		int r = capture(pid, tids[i], &samples[i].raw);

		if (r == -EPERM)
			return EXIT_SKIP;
		if (r < 0)
			return EXIT_HARD;
	}
	/* Parked threads keep their PCs: eu-stack sees the same stacks. */
	if (run_eu_stack(pid, samples) < 0)
		return EXIT_HARD;
	return check_all(pid, out, samples, vdso);
}

int main(int argc, char **argv)
{
	static struct thread_sample samples[NTHREADS], vdso;
	FILE *out = NULL;
	pid_t pid;
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: test-unwind UNWIND-TARGET\n");
		return EXIT_HARD;
	}
	/* A hang is a failure: SIGALRM ends the test, PDEATHSIG the target. */
	alarm(TEST_TIMEOUT_S);
	pid = spawn_target(argv[1], &out);
	if (pid < 0 || !out)
		return EXIT_HARD;
	r = run(pid, out, samples, &vdso);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fclose(out);
	for (int i = 0; i < NTHREADS; i++)
		free(samples[i].raw.stack);
	free(vdso.raw.stack);
	printf("%s\n", r == EXIT_PASS	? "PASS"
		       : r == EXIT_SKIP ? "SKIP"
					: "FAIL");
	return r;
}
