/* SPDX-License-Identifier: MIT */
/*
 * libdw inflates every compressed debug section whole, with zlib, when it
 * opens a file, location lists included.  For glibc's debug file that is
 * ~10 MiB and, before this file existed, over half of a snapshot's wall
 * time.  Here the same sections are inflated with libdeflate, about twice
 * as fast as zlib on the same bytes, straight into a memfd that libdw then
 * maps like any file; the location lists, which only describe where
 * variables live, are left empty.
 *
 * The new file keeps every original byte at its original offset (program
 * headers and notes still point at them); the inflated sections and a new
 * section header table follow the old end.  The old compressed ranges are
 * holes in the memfd: nothing reads them, and holes cost no memory.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbolize/debugcache.h"
#include "symbolize/debugfile.h"

/* No real debug section comes near this; a larger ch_size is garbage. */
#define MAX_INFLATED_SECTION (1ull << 32)

enum section_action {
	SECTION_KEEP,
	SECTION_INFLATE,
	SECTION_EMPTY
};

struct section_plan {
	enum section_action action;
	uint64_t offset, size; /* in the new file */
};

struct elf_input {
	const uint8_t *bytes;
	size_t size;
	const Elf64_Ehdr *ehdr;
	const Elf64_Shdr *shdrs;
	size_t nsections;
	const Elf64_Shdr *names; /* .shstrtab */
};

static bool range_ok(const struct elf_input *in, uint64_t off, uint64_t len)
{
	return off <= in->size && len <= in->size - off;
}

static uint64_t align_up(uint64_t value, uint64_t align)
{
	if (align < 2)
		return value;
	return (value + align - 1) / align * align;
}

/* Only what cprof unwinds: 64-bit little-endian, ordinary section
 * numbering.  Anything else is left to libdw as it is. */
static int read_headers(struct elf_input *in)
{
	const Elf64_Ehdr *ehdr = (const Elf64_Ehdr *)in->bytes;

	if (in->size < sizeof(*ehdr) ||
	    memcmp(ehdr->e_ident, ELFMAG, SELFMAG) ||
	    ehdr->e_ident[EI_CLASS] != ELFCLASS64 ||
	    ehdr->e_ident[EI_DATA] != ELFDATA2LSB ||
	    ehdr->e_shentsize != sizeof(Elf64_Shdr) || ehdr->e_shnum == 0 ||
	    ehdr->e_shstrndx == SHN_UNDEF ||
	    ehdr->e_shstrndx >= ehdr->e_shnum ||
	    ehdr->e_shoff % _Alignof(Elf64_Shdr) != 0 ||
	    !range_ok(in, ehdr->e_shoff,
		      (uint64_t)ehdr->e_shnum * sizeof(Elf64_Shdr)))
		return -ENOTSUP;
	in->ehdr = ehdr;
	in->shdrs = (const Elf64_Shdr *)(in->bytes + ehdr->e_shoff);
	in->nsections = ehdr->e_shnum;
	in->names = &in->shdrs[ehdr->e_shstrndx];
	if (in->names->sh_type != SHT_STRTAB ||
	    !range_ok(in, in->names->sh_offset, in->names->sh_size))
		return -ENOTSUP;
	return 0;
}

/* The section's name, or "" when it does not fit in .shstrtab. */
static const char *section_name(const struct elf_input *in,
				const Elf64_Shdr *shdr)
{
	const char *names = (const char *)in->bytes + in->names->sh_offset;
	size_t avail;

	if (shdr->sh_name >= in->names->sh_size)
		return "";
	avail = in->names->sh_size - shdr->sh_name;
	if (!memchr(names + shdr->sh_name, '\0', avail))
		return "";
	return names + shdr->sh_name;
}

static bool is_location_lists(const char *name)
{
	return !strcmp(name, ".debug_loc") || !strcmp(name, ".debug_loclists");
}

/* The zlib-compressed debug section's header, or NULL to keep it as is. */
static const Elf64_Chdr *inflatable(const struct elf_input *in,
				    const Elf64_Shdr *shdr)
{
	const Elf64_Chdr *chdr;

	if (!(shdr->sh_flags & SHF_COMPRESSED) || shdr->sh_type == SHT_NOBITS ||
	    strncmp(section_name(in, shdr), ".debug_", 7) ||
	    shdr->sh_size < sizeof(*chdr) ||
	    shdr->sh_offset % _Alignof(Elf64_Chdr) != 0 ||
	    !range_ok(in, shdr->sh_offset, shdr->sh_size))
		return NULL;
	chdr = (const Elf64_Chdr *)(in->bytes + shdr->sh_offset);
	if (chdr->ch_type != ELFCOMPRESS_ZLIB ||
	    chdr->ch_size > MAX_INFLATED_SECTION ||
	    (chdr->ch_addralign & (chdr->ch_addralign - 1)) != 0)
		return NULL;
	return chdr;
}

/* Where each section goes; returns the new file's size, 0 when no section
 * changes.  New data starts at tail_start, which is page aligned so that
 * it can be mapped on its own. */
static uint64_t plan_sections(const struct elf_input *in,
			      struct section_plan *plan, uint64_t tail_start)
{
	uint64_t end = tail_start;
	bool changed = false;

	for (size_t i = 0; i < in->nsections; i++) {
		const Elf64_Shdr *shdr = &in->shdrs[i];
		const Elf64_Chdr *chdr = inflatable(in, shdr);

		plan[i] = (struct section_plan){SECTION_KEEP, shdr->sh_offset,
						shdr->sh_size};
		if (!chdr)
			continue;
		changed = true;
		if (is_location_lists(section_name(in, shdr))) {
			plan[i] = (struct section_plan){SECTION_EMPTY, end, 0};
			continue;
		}
		end = align_up(end, chdr->ch_addralign);
		plan[i] = (struct section_plan){SECTION_INFLATE, end,
						chdr->ch_size};
		end += chdr->ch_size;
	}
	if (!changed)
		return 0;
	end = align_up(end, _Alignof(Elf64_Shdr));
	return end + in->nsections * sizeof(Elf64_Shdr);
}

static int write_all(int fd, const void *buf, size_t len, uint64_t offset)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		offset += (uint64_t)n;
	}
	return 0;
}

/* The ELF header pointing at the new section headers, the program
 * headers, and every section kept as it is, at their old offsets. */
static int write_kept(int out, const struct elf_input *in,
		      const struct section_plan *plan, uint64_t shdrs_offset)
{
	Elf64_Ehdr ehdr = *in->ehdr;
	uint64_t phdrs_len = (uint64_t)ehdr.e_phnum * ehdr.e_phentsize;
	int err;

	ehdr.e_shoff = shdrs_offset;
	err = write_all(out, &ehdr, sizeof(ehdr), 0);
	if (!err && phdrs_len && range_ok(in, ehdr.e_phoff, phdrs_len))
		err = write_all(out, in->bytes + ehdr.e_phoff, phdrs_len,
				ehdr.e_phoff);
	for (size_t i = 0; i < in->nsections && !err; i++) {
		const Elf64_Shdr *shdr = &in->shdrs[i];

		if (plan[i].action != SECTION_KEEP ||
		    shdr->sh_type == SHT_NOBITS || shdr->sh_size == 0)
			continue;
		if (!range_ok(in, shdr->sh_offset, shdr->sh_size))
			return -ENOTSUP;
		err = write_all(out, in->bytes + shdr->sh_offset, shdr->sh_size,
				shdr->sh_offset);
	}
	return err;
}

/* Inflates the changed sections into tail (the new file from tail_start
 * on) and writes the new section headers at its end. */
static int fill_tail(uint8_t *tail, uint64_t tail_start, uint64_t file_size,
		     const struct elf_input *in,
		     const struct section_plan *plan)
{
	Elf64_Shdr *shdrs = (Elf64_Shdr *)(tail + (file_size - tail_start) -
					   in->nsections * sizeof(Elf64_Shdr));
	struct libdeflate_decompressor *inflater =
		libdeflate_alloc_decompressor();
	int err = inflater ? 0 : -ENOMEM;

	for (size_t i = 0; i < in->nsections && !err; i++) {
		const Elf64_Shdr *old = &in->shdrs[i];
		const Elf64_Chdr *chdr;
		size_t got = 0;

		shdrs[i] = *old;
		if (plan[i].action == SECTION_KEEP)
			continue;
		chdr = (const Elf64_Chdr *)(in->bytes + old->sh_offset);
		shdrs[i].sh_flags &= ~(uint64_t)SHF_COMPRESSED;
		shdrs[i].sh_offset = plan[i].offset;
		shdrs[i].sh_size = plan[i].size;
		shdrs[i].sh_addralign = chdr->ch_addralign;
		if (plan[i].action == SECTION_EMPTY)
			continue;
		if (libdeflate_zlib_decompress(
			    inflater, chdr + 1, old->sh_size - sizeof(*chdr),
			    tail + (plan[i].offset - tail_start), plan[i].size,
			    &got) != LIBDEFLATE_SUCCESS ||
		    got != plan[i].size)
			err = -EBADMSG;
	}
	if (inflater)
		libdeflate_free_decompressor(inflater);
	return err;
}

/* Where the new file's own data starts: a page after the old end. */
static uint64_t tail_start_of(const struct elf_input *in)
{
	return align_up(in->size, (uint64_t)sysconf(_SC_PAGESIZE));
}

/* The new file, as plan_sections() laid it out, in a memfd. */
static int rewrite(const struct elf_input *in, const struct section_plan *plan,
		   uint64_t file_size)
{
	uint64_t tail_start = tail_start_of(in);
	uint8_t *tail;
	int out, err;

	out = memfd_create("cprof-debuginfo", MFD_CLOEXEC);
	if (out < 0)
		return -errno;
	err = ftruncate(out, (off_t)file_size) < 0 ? -errno : 0;
	if (!err)
		err = write_kept(out, in, plan,
				 file_size -
					 in->nsections * sizeof(Elf64_Shdr));
	if (err) {
		close(out);
		return err;
	}
	/* Populated up front: one call instead of a fault per page. */
	tail = mmap(NULL, file_size - tail_start, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_POPULATE, out, (off_t)tail_start);
	if (tail == MAP_FAILED) {
		err = -errno;
		close(out);
		return err;
	}
	err = fill_tail(tail, tail_start, file_size, in, plan);
	munmap(tail, file_size - tail_start);
	if (err) {
		close(out);
		return err;
	}
	return out;
}

static void input_release(struct elf_input *in)
{
	if (in->bytes)
		munmap((void *)in->bytes, in->size);
	*in = (struct elf_input){0};
}

static int input_load(int fd, struct elf_input *in)
{
	struct stat st;
	void *bytes;
	int err;

	*in = (struct elf_input){0};
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(Elf64_Ehdr))
		return -ENOENT;
	bytes = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (bytes == MAP_FAILED)
		return -errno;
	in->bytes = bytes;
	in->size = (size_t)st.st_size;
	err = read_headers(in);
	if (err)
		input_release(in);
	return err;
}

/* Whether one SHT_NOTE section holds a GNU build-id note equal to id. */
static bool note_has_build_id(const uint8_t *notes, uint64_t len,
			      const unsigned char *id, size_t id_len)
{
	uint64_t off = 0;

	while (len - off >= sizeof(Elf64_Nhdr)) {
		const Elf64_Nhdr *nhdr = (const Elf64_Nhdr *)(notes + off);
		uint64_t name_off = off + sizeof(*nhdr);
		uint64_t desc_off = name_off + align_up(nhdr->n_namesz, 4);

		if (desc_off > len || nhdr->n_descsz > len - desc_off)
			return false;
		if (nhdr->n_type == NT_GNU_BUILD_ID && nhdr->n_namesz == 4 &&
		    !memcmp(notes + name_off, "GNU", 4))
			return nhdr->n_descsz == id_len &&
			       !memcmp(notes + desc_off, id, id_len);
		off = desc_off + align_up(nhdr->n_descsz, 4);
	}
	return false;
}

static bool has_build_id(const struct elf_input *in, const unsigned char *id,
			 size_t id_len)
{
	for (size_t i = 0; i < in->nsections; i++) {
		const Elf64_Shdr *shdr = &in->shdrs[i];

		if (shdr->sh_type == SHT_NOTE && shdr->sh_offset % 4 == 0 &&
		    range_ok(in, shdr->sh_offset, shdr->sh_size) &&
		    note_has_build_id(in->bytes + shdr->sh_offset,
				      shdr->sh_size, id, id_len))
			return true;
	}
	return false;
}

/* The section table a whole rewrite of in holds: each section where the
 * plan put it, inflated ones no longer compressed. */
static bool matches_plan(const struct elf_input *in,
			 const struct section_plan *plan,
			 const struct elf_input *out, uint64_t file_size)
{
	if (out->size != file_size || out->nsections != in->nsections ||
	    out->ehdr->e_shoff !=
		    file_size - in->nsections * sizeof(Elf64_Shdr))
		return false;
	for (size_t i = 0; i < in->nsections; i++) {
		const Elf64_Shdr *o = &out->shdrs[i], *old = &in->shdrs[i];

		if (o->sh_offset != plan[i].offset ||
		    o->sh_size != plan[i].size || o->sh_type != old->sh_type ||
		    o->sh_name != old->sh_name ||
		    (plan[i].action != SECTION_KEEP &&
		     (o->sh_flags & SHF_COMPRESSED)))
			return false;
	}
	return true;
}

/* The cached rewrite of in, if the cache holds a whole one: the size and
 * section table the plan gives, and the build id. */
static int open_cached(const struct elf_input *in,
		       const struct section_plan *plan, uint64_t file_size,
		       const unsigned char *build_id, size_t len)
{
	int fd = debugcache_open(build_id, len);
	struct elf_input cached;
	bool whole;

	if (fd < 0)
		return -ENOENT;
	if (input_load(fd, &cached) != 0) {
		close(fd);
		return -ENOENT;
	}
	whole = matches_plan(in, plan, &cached, file_size) &&
		has_build_id(&cached, build_id, len);
	input_release(&cached);
	if (!whole) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

/* The rewrite of in: from the cache when build_id is given and it holds
 * one, else made now (and then cached).  -ENODATA when in has nothing to
 * inflate. */
static int inflate_input(const struct elf_input *in,
			 const unsigned char *build_id, size_t len)
{
	struct section_plan *plan = calloc(in->nsections, sizeof(*plan));
	uint64_t file_size;
	int ret;

	if (!plan)
		return -ENOMEM;
	file_size = plan_sections(in, plan, tail_start_of(in));
	ret = file_size ? -ENOENT : -ENODATA;
	if (file_size && build_id)
		ret = open_cached(in, plan, file_size, build_id, len);
	if (ret == -ENOENT) {
		ret = rewrite(in, plan, file_size);
		/* A cache: whether it took the file changes nothing. */
		if (ret >= 0 && build_id)
			debugcache_store(build_id, len, ret, file_size);
	}
	free(plan);
	return ret;
}

int debugfile_inflate(int fd)
{
	struct elf_input in;
	int ret = input_load(fd, &in);

	if (ret)
		return ret;
	ret = inflate_input(&in, NULL, 0);
	input_release(&in);
	return ret;
}

static char *build_id_path(const unsigned char *id, size_t len)
{
	static const char dir[] = "/usr/lib/debug/.build-id/";
	char *path = malloc(sizeof(dir) + 2 * len + sizeof("/.debug"));
	char *p;

	if (!path)
		return NULL;
	p = stpcpy(path, dir);
	for (size_t i = 0; i < len; i++) {
		p += sprintf(p, "%02x", id[i]);
		if (i == 0)
			*p++ = '/';
	}
	strcpy(p, ".debug");
	return path;
}

/* The build id file's own fd when it has nothing to inflate (or cannot
 * be): libdw then reads it as it is.  -ENOENT unless the file is an ELF
 * file carrying that build id, so that libdw's own search runs instead. */
static int open_checked(int fd, const unsigned char *build_id, size_t len)
{
	struct elf_input in;
	int ret = input_load(fd, &in);

	if (ret)
		return -ENOENT;
	if (!has_build_id(&in, build_id, len))
		ret = -ENOENT;
	else
		ret = inflate_input(&in, build_id, len);
	input_release(&in);
	return ret == -ENOENT || ret >= 0 ? ret : fd;
}

bool debugfile_exists(const unsigned char *build_id, size_t len)
{
	char *path = len < 2 ? NULL : build_id_path(build_id, len);
	bool found = path && access(path, R_OK) == 0;

	free(path);
	return found;
}

int debugfile_open(const unsigned char *build_id, size_t len, char **ret_path)
{
	char *path;
	int fd, ret;

	if (len < 2)
		return -ENOENT;
	path = build_id_path(build_id, len);
	if (!path)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ret = fd < 0 ? -errno : open_checked(fd, build_id, len);
	if (fd >= 0 && ret != fd)
		close(fd);
	if (ret < 0) {
		free(path);
		return ret;
	}
	*ret_path = path;
	return ret;
}
