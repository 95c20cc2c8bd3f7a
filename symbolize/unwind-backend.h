/* SPDX-License-Identifier: MIT */
/*
 * What an unwinder backend provides, and what the backends share: the
 * register layout and reads of the sample's memory.  x86_64 only: the
 * registers of struct user_regs_struct are mapped to DWARF numbers here.
 */
#ifndef CPROF_SYMBOLIZE_UNWIND_BACKEND_H
#define CPROF_SYMBOLIZE_UNWIND_BACKEND_H

#include "symbolize/unwind.h"

#if !defined(__x86_64__)
#error "cprof unwinds x86_64 targets only"
#endif

/* DWARF register numbers of x86_64 (also libunwind's UNW_X86_64_*). */
#define DWARF_REG_SP 7
#define DWARF_REG_IP 16
#define DWARF_NREGS  17 /* rax..r15, then rip */

struct unwinder_ops {
	int (*init)(struct addrspace *as, void **ret_state);
	void (*fini)(void *state);
	int (*unwind)(void *state, const struct raw_sample *sample,
		      struct frame *frames, size_t max, size_t *ret_n);
};

extern const struct unwinder_ops unwinder_libdw_ops;
extern const struct unwinder_ops unwinder_libunwind_ops;

/* The sample's register by DWARF number; -EINVAL for an unknown one. */
int sample_reg(const struct raw_sample *sample, unsigned regno,
	       uint64_t *ret_val);

/* len bytes at addr: from the stack copy when it holds them all, else from
 * the file mapped there; never from the live process. */
int sample_read(struct addrspace *as, const struct raw_sample *sample,
		uint64_t addr, void *buf, size_t len);

#endif
