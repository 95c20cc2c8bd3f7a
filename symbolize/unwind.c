/* SPDX-License-Identifier: MIT */
/* The unwinder table and what both backends share. */
#include <errno.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/unwind-backend.h"

struct unwinder {
	const struct unwinder_ops *ops;
	void *state;
	struct addrspace *as;
};

static const struct {
	const char *name;
	enum unwinder_kind kind;
	const struct unwinder_ops *ops;
} backends[] = {
	{"libdw", UNWINDER_LIBDW, &unwinder_libdw_ops},
	{"libunwind", UNWINDER_LIBUNWIND, &unwinder_libunwind_ops},
};

#define NBACKENDS (sizeof(backends) / sizeof(backends[0]))

int unwinder_kind_parse(const char *name, enum unwinder_kind *ret_kind)
{
	for (size_t i = 0; i < NBACKENDS; i++) {
		if (!strcmp(backends[i].name, name)) {
			*ret_kind = backends[i].kind;
			return 0;
		}
	}
	return -EINVAL;
}

int unwinder_new(enum unwinder_kind kind, struct addrspace *as,
		 struct unwinder **ret_unwinder)
{
	struct unwinder *u;
	int r;

	for (size_t i = 0; i < NBACKENDS; i++) {
		if (backends[i].kind != kind)
			continue;
		u = calloc(1, sizeof(*u));
		if (!u)
			return -ENOMEM;
		u->ops = backends[i].ops;
		u->as = as;
		r = u->ops->init(as, &u->state);
		if (r < 0) {
			free(u);
			return r;
		}
		*ret_unwinder = u;
		return 0;
	}
	return -EINVAL;
}

void unwinder_free(struct unwinder *unwinder)
{
	if (!unwinder)
		return;
	unwinder->ops->fini(unwinder->state);
	free(unwinder);
}

/* No user-space instruction lives at 0 or in the upper half of the
 * address space (the kernel's); a caller's PC there is garbage read off
 * the stack, which ends the stack rather than becoming a frame. */
#define USER_ADDRESS_LIMIT (UINT64_C(1) << 56)

static int end_at_impossible_pc(const struct frame *frames, size_t *n, int r)
{
	for (size_t i = 1; i < *n; i++) {
		if (frames[i].pc == 0 || frames[i].pc >= USER_ADDRESS_LIMIT) {
			*n = i;
			return r < 0 ? r : -EFAULT;
		}
	}
	return r;
}

/* The CFI of the code at pc: .eh_frame first, the one the code ships. */
static Dwarf_CFI *module_cfi(Dwfl_Module *mod, Dwarf_Addr *bias)
{
	Dwarf_CFI *cfi = dwfl_module_eh_cfi(mod, bias);

	return cfi ? cfi : dwfl_module_dwarf_cfi(mod, bias);
}

/*
 * True when CFI says the frame has no caller: its return address is
 * "undefined", as the x86_64 ABI marks the outermost frame (_start, a
 * thread's clone).  A walk over SP and PC alone also ends, silently in
 * libdw, where a frame needs a register the sample lacks; only a frame
 * like this one proves the stack whole.
 */
static bool ends_stack(struct addrspace *as, const struct frame *f)
{
	Dwarf_Addr lookup = f->pc - !f->activation, bias;
	Dwfl_Module *mod = dwfl_addrmodule(addrspace_dwfl(as), lookup);
	Dwarf_CFI *cfi = mod ? module_cfi(mod, &bias) : NULL;
	Dwarf_Frame *frame;
	Dwarf_Op ops_mem[3], *ops;
	size_t nops;
	bool undefined;

	if (!cfi || dwarf_cfi_addrframe(cfi, lookup - bias, &frame) != 0)
		return false;
	undefined = dwarf_frame_register(frame, DWARF_REG_IP, ops_mem, &ops,
					 &nops) == 0 &&
		    nops == 0 && ops == ops_mem;
	free(frame);
	return undefined;
}

static bool has_cfi(Dwfl_Module *mod, uint64_t pc)
{
	Dwarf_CFI *cfis[2];
	Dwarf_Addr bias[2];

	cfis[0] = dwfl_module_eh_cfi(mod, &bias[0]);
	cfis[1] = dwfl_module_dwarf_cfi(mod, &bias[1]);
	for (int i = 0; i < 2; i++) {
		Dwarf_Frame *frame;

		if (cfis[i] &&
		    dwarf_cfi_addrframe(cfis[i], pc - bias[i], &frame) == 0) {
			free(frame);
			return true;
		}
	}
	return false;
}

/* The first instruction of a function that has no CFI at all: crti's
 * _init and _fini, hand-written assembly. */
static bool at_entry_without_cfi(struct addrspace *as, uint64_t pc)
{
	Dwfl_Module *mod = dwfl_addrmodule(addrspace_dwfl(as), pc);
	uint64_t start;
	bool is_func;

	/* CFI first: nearly every pc has it, and its lookup is one binary
	 * search in .eh_frame_hdr, where the symbol test first sorts the
	 * whole symbol table (libc's 7,000 functions: 3 to 4 ms).  A
	 * snapshot whose frames are named from the location cache needs
	 * no symbol table otherwise. */
	return mod && !has_cfi(mod, pc) &&
	       addrspace_symbol_at(as, pc, &start, &is_func) && start == pc &&
	       is_func;
}

/*
 * At a function's first instruction the ABI alone fixes the frame: the
 * call has just pushed the return address, the caller's SP is above it,
 * and no other register has changed.  So a walk goes on from the caller,
 * with the state the call left, as from any caller frame.  A thread is
 * caught there often enough: the first instruction of a library's _init
 * faults in the page that dlopen has just mapped.
 */
static int unwind_from_entry(struct unwinder *unwinder,
			     const struct raw_sample *sample,
			     struct frame *frames, size_t max, size_t *ret_n)
{
	struct raw_sample caller = *sample;
	uint64_t ra;
	size_t n = 0;
	int r;

	if (max < 2)
		return -E2BIG;
	if (sample_read(unwinder->as, sample, sample->regs.rsp, &ra,
			sizeof(ra)) < 0)
		return -EFAULT;
	/* Looked up in the call instruction, like every caller frame. */
	caller.regs.rip = ra - 1;
	caller.regs.rsp += 8;
	r = unwinder->ops->unwind(unwinder->state, &caller, frames + 1, max - 1,
				  &n);
	if (n == 0)
		return r < 0 ? r : -ENOENT;
	frames[1] = (struct frame){.pc = ra, .activation = false};
	*ret_n = n + 1;
	return r;
}

int unwinder_unwind(struct unwinder *unwinder, const struct raw_sample *sample,
		    struct frame *frames, size_t max, size_t *ret_n)
{
	int r;

	if (!sample->captured || max == 0) {
		*ret_n = 0;
		return sample->captured ? -E2BIG : -EINVAL;
	}
	if (max > UNWIND_MAX_FRAMES)
		max = UNWIND_MAX_FRAMES;
	/* Asked before the walk: without CFI a backend guesses from the
	 * frame pointer, or stops. */
	if (!sample->read_blocked &&
	    at_entry_without_cfi(unwinder->as, sample->regs.rip)) {
		frames[0] = (struct frame){.pc = sample->regs.rip,
					   .activation = true};
		*ret_n = 1;
		r = unwind_from_entry(unwinder, sample, frames, max, ret_n);
	} else {
		r = unwinder->ops->unwind(unwinder->state, sample, frames, max,
					  ret_n);
	}
	r = end_at_impossible_pc(frames, ret_n, r);
	if (r == 0 && sample->read_blocked &&
	    (*ret_n == 0 || !ends_stack(unwinder->as, &frames[*ret_n - 1])))
		r = -ENODATA;
	return r;
}

/* user_regs_struct in DWARF order: rax rdx rcx rbx rsi rdi rbp rsp
 * r8..r15 rip. */
int sample_reg(const struct raw_sample *sample, unsigned regno,
	       uint64_t *ret_val)
{
	const struct user_regs_struct *r = &sample->regs;
	const unsigned long long regs[DWARF_NREGS] = {
		r->rax, r->rdx, r->rcx, r->rbx, r->rsi, r->rdi,
		r->rbp, r->rsp, r->r8,	r->r9,	r->r10, r->r11,
		r->r12, r->r13, r->r14, r->r15, r->rip,
	};

	if (regno >= DWARF_NREGS)
		return -EINVAL;
	/* Read while blocked: SP and PC are all /proc shows. */
	if (sample->read_blocked && regno != DWARF_REG_SP &&
	    regno != DWARF_REG_IP)
		return -ENODATA;
	*ret_val = regs[regno];
	return 0;
}

int sample_read(struct addrspace *as, const struct raw_sample *sample,
		uint64_t addr, void *buf, size_t len)
{
	uint64_t start = sample->stack_start;

	if (sample->stack && addr >= start &&
	    addr - start <= sample->stack_len &&
	    len <= sample->stack_len - (addr - start)) {
		memcpy(buf, sample->stack + (addr - start), len);
		return 0;
	}
	return addrspace_read(as, addr, buf, len);
}
