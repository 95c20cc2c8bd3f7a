/* SPDX-License-Identifier: MIT */
/*
 * The libdw backend: the addrspace's Dwfl gets a process state once, whose
 * callbacks serve the sample being unwound (its one thread, its registers,
 * its stack copy), so each sample is one dwfl_getthread_frames call and the
 * modules' CFI stays cached across samples.
 */
#include <errno.h>
#include <fcntl.h>
#include <libelf.h>
#include <stdlib.h>
#include <unistd.h>

#include "symbolize/unwind-backend.h"

struct libdw_unwinder {
	struct addrspace *as;
	/* The ELF file the process state takes its architecture from. */
	Elf *arch_elf;
	int arch_fd;
	/* The sample being unwound, and where its frames go. */
	const struct raw_sample *sample;
	struct frame *frames;
	size_t max, n;
	uint64_t last_sp;
	int stop;	  /* why the frame callback stopped the walk, or 0 */
	bool read_failed; /* a memory read failed since the last frame */
};

static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	struct libdw_unwinder *u = arg;

	/* The state holds exactly one thread: the current sample's. */
	if (*thread_argp || !u->sample)
		return 0;
	*thread_argp = u;
	return u->sample->info.tid;
}

static bool get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
	struct libdw_unwinder *u = arg;

	if (!u->sample || u->sample->info.tid != tid)
		return false;
	*thread_argp = u;
	return true;
}

static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result,
			void *arg)
{
	struct libdw_unwinder *u = arg;

	if (sample_read(u->as, u->sample, addr, result, sizeof(*result)) < 0) {
		u->read_failed = true;
		return false;
	}
	return true;
}

/* A register the sample lacks is left unset: a frame that needs it ends
 * the walk. */
static bool set_initial_registers(Dwfl_Thread *thread, void *thread_arg)
{
	struct libdw_unwinder *u = thread_arg;

	for (unsigned i = 0; i < DWARF_NREGS; i++) {
		uint64_t val;
		Dwarf_Word word;

		if (sample_reg(u->sample, i, &val) < 0)
			continue;
		word = val;
		if (!dwfl_thread_state_registers(thread, (int)i, 1, &word))
			return false;
	}
	return true;
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
	.next_thread = next_thread,
	.get_thread = get_thread,
	.memory_read = memory_read,
	.set_initial_registers = set_initial_registers,
};

/* Garbage on the stack must end the walk: every caller's stack pointer
 * (its CFA) lies strictly above its callee's. */
static int check_sp(struct libdw_unwinder *u, Dwfl_Frame *state)
{
	Dwarf_Word sp;

	if (u->n == 0) {
		u->last_sp = u->sample->regs.rsp;
		return 0;
	}
	if (dwfl_frame_reg(state, DWARF_REG_SP, &sp) != 0)
		return 0;
	if (sp <= u->last_sp)
		return -ELOOP;
	u->last_sp = sp;
	return 0;
}

static int frame_cb(Dwfl_Frame *state, void *arg)
{
	struct libdw_unwinder *u = arg;
	Dwarf_Addr pc;
	bool activation;
	int r;

	u->read_failed = false;
	if (!dwfl_frame_pc(state, &pc, &activation)) {
		u->stop = -ENOENT;
		return DWARF_CB_ABORT;
	}
	if (pc == 0)
		return DWARF_CB_ABORT; /* no caller: a clean end */
	r = check_sp(u, state);
	if (r == 0 && u->n == u->max)
		r = -E2BIG;
	if (r < 0) {
		u->stop = r;
		return DWARF_CB_ABORT;
	}
	u->frames[u->n++] = (struct frame){.pc = pc, .activation = activation};
	return DWARF_CB_OK;
}

static void libdw_free(struct libdw_unwinder *u)
{
	if (u->arch_elf)
		elf_end(u->arch_elf);
	if (u->arch_fd >= 0)
		close(u->arch_fd);
	free(u);
}

/*
 * Given no ELF, libdw would borrow the architecture backend of the first
 * module it can read, and free it with that module: after an exec or a
 * dlclose the process state would use freed memory (seen as an assertion
 * in libdw on rustc).  cprof's own executable, of the one architecture it
 * unwinds, gives the state a backend of its own.
 */
static int open_arch_elf(struct libdw_unwinder *u)
{
	elf_version(EV_CURRENT);
	u->arch_fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (u->arch_fd < 0)
		return -errno;
	u->arch_elf = elf_begin(u->arch_fd, ELF_C_READ_MMAP, NULL);
	return u->arch_elf ? 0 : -ENOEXEC;
}

static int libdw_init(struct addrspace *as, void **ret_state)
{
	struct libdw_unwinder *u = calloc(1, sizeof(*u));
	int r;

	if (!u)
		return -ENOMEM;
	u->as = as;
	u->arch_fd = -1;
	r = open_arch_elf(u);
	if (r < 0) {
		libdw_free(u);
		return r;
	}
	/* A Dwfl holds one process state for its life: a second libdw
	 * unwinder on the same address space cannot have one. */
	if (!dwfl_attach_state(addrspace_dwfl(as), u->arch_elf,
			       addrspace_pid(as), &thread_callbacks, u)) {
		libdw_free(u);
		return -EBUSY;
	}
	*ret_state = u;
	return 0;
}

/* The Dwfl keeps its process state until dwfl_end, but calls back into it
 * only from dwfl_getthread_frames, which only libdw_unwind calls; its
 * backend was opened from arch_elf and no longer reads it. */
static void libdw_fini(void *state)
{
	libdw_free(state);
}

static int libdw_unwind(void *state, const struct raw_sample *sample,
			struct frame *frames, size_t max, size_t *ret_n)
{
	struct libdw_unwinder *u = state;
	int r;

	u->sample = sample;
	u->frames = frames;
	u->max = max;
	u->n = 0;
	u->stop = 0;
	u->read_failed = false;
	r = dwfl_getthread_frames(addrspace_dwfl(u->as), sample->info.tid,
				  frame_cb, u);
	u->sample = NULL;
	*ret_n = u->n;
	/* libdw leaves a register it could not read unset, and a caller
	 * without a return address is the outermost frame to it: a walk
	 * that ends on a failed read (past the stack copy) is cut. */
	if (r == 0 && u->read_failed)
		return -EFAULT;
	if (r == 0 || (r == DWARF_CB_ABORT && u->stop == 0))
		return 0;
	if (u->stop < 0)
		return u->stop;
	if (u->n == 0)
		return -ENOENT;
	return u->read_failed ? -EFAULT : -ENOENT;
}

const struct unwinder_ops unwinder_libdw_ops = {
	.init = libdw_init,
	.fini = libdw_fini,
	.unwind = libdw_unwind,
};
