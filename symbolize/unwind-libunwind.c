/* SPDX-License-Identifier: MIT */
/*
 * The libunwind backend: a remote address space whose accessors read the
 * sample (registers, stack copy) and the mapped files through the
 * addrspace.  Unwind tables are found from each module's .eh_frame_hdr
 * binary search table, handed to libunwind as a remote table, so no word is
 * ever read from the live process.
 */
#include <dwarf.h>
#include <errno.h>
#include <gelf.h>
#include <libunwind.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/unwind-backend.h"

/* Exported by libunwind but not declared in its public headers. */
extern int UNW_OBJ(dwarf_search_unwind_table)(unw_addr_space_t as,
					      unw_word_t ip, unw_dyn_info_t *di,
					      unw_proc_info_t *pi,
					      int need_unwind_info, void *arg);

#define EH_FRAME_HDR_VERSION 1
/* The only search table layout the linkers emit: 4-byte offsets from the
 * start of .eh_frame_hdr. */
#define EH_TABLE_ENCODING   (DW_EH_PE_datarel | DW_EH_PE_sdata4)
#define EH_TABLE_ENTRY_SIZE 8

struct libunwind_unwinder {
	struct addrspace *as;
	unw_addr_space_t uas;
};

/* What the accessors see during one unwind. */
struct unwind_ctx {
	struct libunwind_unwinder *u;
	const struct raw_sample *sample;
	bool read_failed;
};

/* Reads one DW_EH_PE-encoded value at *addr, advancing it. */
static int read_encoded(struct unwind_ctx *ctx, uint8_t enc, uint64_t *addr,
			uint64_t datarel_base, uint64_t *ret_val)
{
	union {
		uint8_t b[8];
		uint16_t u16;
		int16_t s16;
		uint32_t u32;
		int32_t s32;
		uint64_t u64;
	} v;
	size_t size;
	uint64_t val, base = 0;

	switch (enc & 0x0f) {
	case DW_EH_PE_absptr:
	case DW_EH_PE_udata8:
	case DW_EH_PE_sdata8:
		size = 8;
		break;
	case DW_EH_PE_udata4:
	case DW_EH_PE_sdata4:
		size = 4;
		break;
	case DW_EH_PE_udata2:
	case DW_EH_PE_sdata2:
		size = 2;
		break;
	default:
		return -ENOEXEC;
	}
	if (sample_read(ctx->u->as, ctx->sample, *addr, v.b, size) < 0)
		return -EFAULT;
	if (size == 8)
		val = v.u64;
	else if (size == 4)
		val = (enc & 0x08) ? (uint64_t)(int64_t)v.s32 : v.u32;
	else
		val = (enc & 0x08) ? (uint64_t)(int64_t)v.s16 : v.u16;
	if ((enc & 0x70) == DW_EH_PE_pcrel)
		base = *addr;
	else if ((enc & 0x70) == DW_EH_PE_datarel)
		base = datarel_base;
	else if ((enc & 0x70) != DW_EH_PE_absptr)
		return -ENOEXEC;
	*addr += size;
	*ret_val = base + val;
	return 0;
}

/* The target address of the module's .eh_frame_hdr, from its
 * PT_GNU_EH_FRAME program header. */
static int find_eh_frame_hdr(Dwfl_Module *mod, uint64_t *ret_addr)
{
	Dwarf_Addr bias;
	Elf *elf = dwfl_module_getelf(mod, &bias);
	size_t nphdr;

	if (!elf || elf_getphdrnum(elf, &nphdr) != 0)
		return -ENOENT;
	for (size_t i = 0; i < nphdr; i++) {
		GElf_Phdr phdr;

		if (gelf_getphdr(elf, i, &phdr) &&
		    phdr.p_type == PT_GNU_EH_FRAME) {
			*ret_addr = phdr.p_vaddr + bias;
			return 0;
		}
	}
	return -ENOENT;
}

/* The module's search table as libunwind's remote-table description. */
static int module_table(struct unwind_ctx *ctx, Dwfl_Module *mod,
			unw_dyn_info_t *ret_di)
{
	uint8_t hdr[4];
	uint64_t hdr_addr, pos, eh_frame, fde_count;
	Dwarf_Addr start, end;
	int r;

	r = find_eh_frame_hdr(mod, &hdr_addr);
	if (r < 0)
		return r;
	if (sample_read(ctx->u->as, ctx->sample, hdr_addr, hdr, sizeof(hdr)) <
		    0 ||
	    hdr[0] != EH_FRAME_HDR_VERSION || hdr[3] != EH_TABLE_ENCODING)
		return -ENOENT;
	pos = hdr_addr + sizeof(hdr);
	if (read_encoded(ctx, hdr[1], &pos, hdr_addr, &eh_frame) < 0 ||
	    read_encoded(ctx, hdr[2], &pos, hdr_addr, &fde_count) < 0)
		return -ENOENT;
	dwfl_module_info(mod, NULL, &start, &end, NULL, NULL, NULL, NULL);
	memset(ret_di, 0, sizeof(*ret_di));
	ret_di->format = UNW_INFO_FORMAT_REMOTE_TABLE;
	ret_di->start_ip = start;
	ret_di->end_ip = end;
	ret_di->u.rti.segbase = hdr_addr;
	ret_di->u.rti.table_data = pos;
	/* In words, as libunwind counts it. */
	ret_di->u.rti.table_len =
		fde_count * EH_TABLE_ENTRY_SIZE / sizeof(unw_word_t);
	return 0;
}

static int find_proc_info(unw_addr_space_t uas, unw_word_t ip,
			  unw_proc_info_t *pi, int need_unwind_info, void *arg)
{
	struct unwind_ctx *ctx = arg;
	Dwfl_Module *mod = dwfl_addrmodule(addrspace_dwfl(ctx->u->as), ip);
	unw_dyn_info_t di;

	if (!mod || module_table(ctx, mod, &di) < 0)
		return -UNW_ENOINFO;
	return UNW_OBJ(dwarf_search_unwind_table)(uas, ip, &di, pi,
						  need_unwind_info, arg);
}

/* Table-format unwind info is freed by libunwind itself. */
static void put_unwind_info(unw_addr_space_t uas, unw_proc_info_t *pi,
			    void *arg)
{
}

static int get_dyn_info_list_addr(unw_addr_space_t uas, unw_word_t *ret_addr,
				  void *arg)
{
	return -UNW_ENOINFO;
}

static int access_mem(unw_addr_space_t uas, unw_word_t addr, unw_word_t *valp,
		      int write, void *arg)
{
	struct unwind_ctx *ctx = arg;

	if (write)
		return -UNW_EREADONLYREG;
	if (sample_read(ctx->u->as, ctx->sample, addr, valp, sizeof(*valp)) <
	    0) {
		ctx->read_failed = true;
		return -UNW_EINVAL;
	}
	return 0;
}

static int access_reg(unw_addr_space_t uas, unw_regnum_t regnum,
		      unw_word_t *valp, int write, void *arg)
{
	struct unwind_ctx *ctx = arg;
	uint64_t val;

	if (write)
		return -UNW_EREADONLYREG;
	/* libunwind's x86_64 numbers are the DWARF ones. */
	if (regnum < 0 || sample_reg(ctx->sample, regnum, &val) < 0)
		return -UNW_EBADREG;
	*valp = val;
	return 0;
}

static int access_fpreg(unw_addr_space_t uas, unw_regnum_t regnum,
			unw_fpreg_t *valp, int write, void *arg)
{
	return -UNW_EBADREG;
}

static int resume(unw_addr_space_t uas, unw_cursor_t *cursor, void *arg)
{
	return -UNW_EINVAL;
}

static int get_proc_name(unw_addr_space_t uas, unw_word_t addr, char *buf,
			 size_t len, unw_word_t *offp, void *arg)
{
	return -UNW_ENOINFO;
}

static unw_accessors_t accessors = {
	.find_proc_info = find_proc_info,
	.put_unwind_info = put_unwind_info,
	.get_dyn_info_list_addr = get_dyn_info_list_addr,
	.access_mem = access_mem,
	.access_reg = access_reg,
	.access_fpreg = access_fpreg,
	.resume = resume,
	.get_proc_name = get_proc_name,
};

static int libunwind_init(struct addrspace *as, void **ret_state)
{
	struct libunwind_unwinder *u = calloc(1, sizeof(*u));

	if (!u)
		return -ENOMEM;
	u->as = as;
	u->uas = unw_create_addr_space(&accessors, 0);
	if (!u->uas) {
		free(u);
		return -ENOMEM;
	}
	unw_set_caching_policy(u->uas, UNW_CACHE_GLOBAL);
	*ret_state = u;
	return 0;
}

static void libunwind_fini(void *state)
{
	struct libunwind_unwinder *u = state;

	if (!u)
		return;
	unw_destroy_addr_space(u->uas);
	free(u);
}

static int step_error(const struct unwind_ctx *ctx, int r)
{
	if (ctx->read_failed)
		return -EFAULT;
	return r == -UNW_ENOMEM ? -ENOMEM : -ENOENT;
}

/*
 * Is pc glibc's and the kernel's signal return trampoline, "mov $15,%rax;
 * syscall"?  unw_is_signal_frame cannot say: in libunwind 1.6 it answers
 * for the frame unwound last, not for the cursor's.
 */
static bool is_sigreturn(struct unwind_ctx *ctx, uint64_t pc)
{
	static const uint8_t rt_sigreturn[] = {0x48, 0xc7, 0xc0, 0x0f, 0x00,
					       0x00, 0x00, 0x0f, 0x05};
	uint8_t code[sizeof(rt_sigreturn)];

	return sample_read(ctx->u->as, ctx->sample, pc, code, sizeof(code)) ==
		       0 &&
	       !memcmp(code, rt_sigreturn, sizeof(code));
}

/*
 * Walks the frames.  A frame is an activation (its pc is the next
 * instruction, not a return address) when it is frame 0, a signal
 * trampoline, or the frame a signal interrupted: the same rule libdw's
 * dwfl_frame_pc applies, so both backends report the same frames.
 */
static int walk(struct unwind_ctx *ctx, unw_cursor_t *cursor,
		struct frame *frames, size_t max, size_t *ret_n)
{
	bool after_signal = false;
	unw_word_t pc, sp, last_sp = 0;
	size_t n = 0;
	int r;

	for (;;) {
		bool signal;

		if (unw_get_reg(cursor, UNW_REG_IP, &pc) < 0 ||
		    unw_get_reg(cursor, UNW_REG_SP, &sp) < 0) {
			r = -ENOENT;
			break;
		}
		if (pc == 0) {
			r = 0;
			break;
		}
		if (n > 0 && sp <= last_sp) {
			r = -ELOOP;
			break;
		}
		if (n == max) {
			r = -E2BIG;
			break;
		}
		signal = is_sigreturn(ctx, pc);
		frames[n].pc = pc;
		frames[n].activation = n == 0 || signal || after_signal;
		n++;
		after_signal = signal;
		last_sp = sp;
		ctx->read_failed = false;
		r = unw_step(cursor);
		if (r <= 0) {
			/* The end, unless a read failed on the way to it. */
			if (r == 0)
				r = ctx->read_failed ? -EFAULT : 0;
			else
				r = step_error(ctx, r);
			break;
		}
	}
	*ret_n = n;
	return r;
}

static int libunwind_unwind(void *state, const struct raw_sample *sample,
			    struct frame *frames, size_t max, size_t *ret_n)
{
	struct unwind_ctx ctx = {.u = state, .sample = sample};
	unw_cursor_t cursor;

	if (unw_init_remote(&cursor, ctx.u->uas, &ctx) < 0) {
		*ret_n = 0;
		return -ENOENT;
	}
	return walk(&ctx, &cursor, frames, max, ret_n);
}

const struct unwinder_ops unwinder_libunwind_ops = {
	.init = libunwind_init,
	.fini = libunwind_fini,
	.unwind = libunwind_unwind,
};
