/* SPDX-License-Identifier: MIT */
/*
 * Remote unwinding of a raw sample, after the thread has been resumed:
 * DWARF CFI over the stack copy and the mapped files' bytes.  Two backends
 * behind one small table, like strace's src/unwind.h: libdw (default) and
 * libunwind.  Both return the same frames for the same sample.
 */
#ifndef CPROF_SYMBOLIZE_UNWIND_H
#define CPROF_SYMBOLIZE_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attach/attach.h"
#include "symbolize/addrspace.h"

/* The deepest stack cprof reports; deeper ones are cut (and counted). */
#define UNWIND_MAX_FRAMES 2048

/*
 * One frame.  pc is the address as unwound: for frame 0 and for a frame
 * interrupted by a signal (activation) the instruction about to run, for
 * every other frame the return address.  Symbolize at pc - !activation.
 */
struct frame {
	uint64_t pc;
	bool activation;
};

enum unwinder_kind {
	UNWINDER_LIBDW,
	UNWINDER_LIBUNWIND,
};

/* "libdw" / "libunwind" to a kind; -EINVAL for anything else. */
int unwinder_kind_parse(const char *name, enum unwinder_kind *ret_kind);

struct unwinder;

/* The unwinder reads modules through as, which must outlive it. */
int unwinder_new(enum unwinder_kind kind, struct addrspace *as,
		 struct unwinder **ret_unwinder);
void unwinder_free(struct unwinder *unwinder);

/*
 * Unwinds one sample into frames[0..max).  Always stores the frames it
 * found in *ret_n (at least frame 0 when the sample was captured).
 * Returns 0 when the stack ended where stacks end (the outermost frame has
 * no caller), or a negative errno when the unwind stopped early: -ENOENT no
 * CFI for a PC, -EFAULT memory outside the copy, -ELOOP the CFA did not
 * move up, -E2BIG depth limit, -ENODATA (a sample read without a stop,
 * which knows SP and PC only) the walk needed another register: its
 * outermost frame is not one CFI marks as having no caller.  Never hangs
 * on garbage.
 */
int unwinder_unwind(struct unwinder *unwinder, const struct raw_sample *sample,
		    struct frame *frames, size_t max, size_t *ret_n);

#endif
