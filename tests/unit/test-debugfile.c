/* SPDX-License-Identifier: MIT */
/*
 * symbolize/debugfile: glibc's separate debug file (libc6-dbg, compressed
 * sections) rewritten inflated must hold, section for section, the bytes
 * libelf inflates itself, with location lists empty, and libdw must read
 * the same compile units from it.  Damaged input fails cleanly.
 *
 *   test-debugfile LIBC
 */
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbolize/debugfile.h"

static int failures;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);   \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			failures++;                                            \
		}                                                              \
	} while (0)

static Elf *elf_of(int fd)
{
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);

	if (!elf) {
		fprintf(stderr, "test-debugfile: elf_begin: %s\n",
			elf_errmsg(-1));
		exit(1);
	}
	return elf;
}

static const char *name_of(Elf *elf, Elf_Scn *scn)
{
	size_t shstrndx;
	GElf_Shdr shdr;

	if (elf_getshdrstrndx(elf, &shstrndx) < 0 || !gelf_getshdr(scn, &shdr))
		return "";
	return elf_strptr(elf, shstrndx, shdr.sh_name);
}

/* Each section of the rewritten file against libelf's own inflation. */
static int compare_sections(Elf *orig, Elf *inflated)
{
	Elf_Scn *a = NULL, *b = NULL;
	int compressed = 0;

	while ((a = elf_nextscn(orig, a)) && (b = elf_nextscn(inflated, b))) {
		const char *name = name_of(orig, a);
		GElf_Shdr sa, sb;
		Elf_Data *da, *db;

		gelf_getshdr(a, &sa);
		gelf_getshdr(b, &sb);
		CHECK(!strcmp(name, name_of(inflated, b)), "section %s renamed",
		      name);
		CHECK(!(sb.sh_flags & SHF_COMPRESSED), "%s still compressed",
		      name);
		if (sa.sh_flags & SHF_COMPRESSED) {
			compressed++;
			CHECK(elf_compress(a, 0, 0) >= 0, "libelf: %s",
			      elf_errmsg(-1));
		}
		if (sa.sh_type == SHT_NOBITS)
			continue;
		if (!strcmp(name, ".debug_loclists") ||
		    !strcmp(name, ".debug_loc")) {
			CHECK(sb.sh_size == 0, "%s not left empty", name);
			continue;
		}
		da = elf_getdata(a, NULL);
		db = elf_getdata(b, NULL);
		CHECK(da && db && da->d_size == db->d_size &&
			      !memcmp(da->d_buf, db->d_buf, da->d_size),
		      "%s differs", name);
	}
	CHECK(a == NULL && elf_nextscn(inflated, b) == NULL,
	      "section counts differ");
	return compressed;
}

static int count_units(Elf *elf, Dwarf_Off *ret_last)
{
	Dwarf *dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
	Dwarf_Off off = 0, next;
	size_t header;
	int n = 0;

	if (!dw)
		return -1;
	while (dwarf_nextcu(dw, off, &next, &header, NULL, NULL, NULL) == 0) {
		*ret_last = off;
		off = next;
		n++;
	}
	dwarf_end(dw);
	return n;
}

static int build_id_of(const char *path, unsigned char *id, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf;
	Elf_Scn *scn = NULL;
	int len = -1;

	if (fd < 0)
		return -1;
	elf = elf_of(fd);
	while (len < 0 && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		GElf_Nhdr nhdr;
		Elf_Data *data;
		size_t off = 0, name_off, desc_off;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_NOTE)
			continue;
		data = elf_getdata(scn, NULL);
		while (data && (off = gelf_getnote(data, off, &nhdr, &name_off,
						   &desc_off)) > 0) {
			if (nhdr.n_type == NT_GNU_BUILD_ID &&
			    nhdr.n_descsz <= size) {
				memcpy(id, (char *)data->d_buf + desc_off,
				       nhdr.n_descsz);
				len = (int)nhdr.n_descsz;
			}
		}
	}
	elf_end(elf);
	close(fd);
	return len;
}

/* A memfd holding len bytes of the file at fd, first changed by damage. */
static int damaged_copy(int fd, size_t len, size_t damage_at)
{
	int copy = memfd_create("damaged", MFD_CLOEXEC);
	char *bytes = malloc(len);

	if (copy < 0 || !bytes || pread(fd, bytes, len, 0) != (ssize_t)len) {
		perror("test-debugfile: copy");
		exit(1);
	}
	if (damage_at < len)
		memset(bytes + damage_at, 0x5a, 64);
	if (write(copy, bytes, len) != (ssize_t)len) {
		perror("test-debugfile: write");
		exit(1);
	}
	free(bytes);
	return copy;
}

/* Offset of the compressed payload of section name, or 0. */
static size_t payload_of(Elf *elf, const char *name)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;

		if (gelf_getshdr(scn, &shdr) &&
		    !strcmp(name_of(elf, scn), name))
			return shdr.sh_offset + sizeof(Elf64_Chdr) + 1024;
	}
	return 0;
}

static void check_damage(int fd, Elf *orig)
{
	struct stat st;
	size_t info = payload_of(orig, ".debug_info");
	int copy, ret;

	fstat(fd, &st);
	/* The section headers are at the end: a truncated file has none. */
	copy = damaged_copy(fd, (size_t)st.st_size / 2, SIZE_MAX);
	ret = debugfile_inflate(copy);
	CHECK(ret < 0, "half a file inflated: %d", ret);
	close(copy);
	copy = damaged_copy(fd, (size_t)st.st_size, info);
	ret = debugfile_inflate(copy);
	CHECK(ret == -EBADMSG, "damaged .debug_info: %d, want -EBADMSG", ret);
	close(copy);
}

int main(int argc, char **argv)
{
	unsigned char id[64], bogus[20] = {0xde, 0xad};
	Dwarf_Off last_a = 0, last_b = 0;
	int id_len, fd, orig_fd, self;
	char *path = NULL;
	Elf *orig, *inflated;

	if (argc != 2) {
		fprintf(stderr, "usage: test-debugfile LIBC\n");
		return 64;
	}
	elf_version(EV_CURRENT);
	id_len = build_id_of(argv[1], id, sizeof(id));
	CHECK(id_len == 20, "no build id in %s", argv[1]);
	fd = debugfile_open(id, (size_t)id_len, &path);
	if (fd == -ENOENT) {
		fprintf(stderr,
			"test-debugfile: no debug file for %s "
			"(libc6-dbg missing)\n",
			argv[1]);
		return 77;
	}
	CHECK(fd >= 0 && path && strstr(path, "/usr/lib/debug/.build-id/"),
	      "debugfile_open: %d", fd);
	if (fd < 0)
		return 1;
	orig_fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	orig = elf_of(orig_fd);
	inflated = elf_of(fd);
	CHECK(compare_sections(orig, inflated) >= 4,
	      "glibc's debug file has compressed sections");
	CHECK(count_units(orig, &last_a) > 100, "libdw reads the original");
	CHECK(count_units(inflated, &last_b) == count_units(orig, &last_a) &&
		      last_a == last_b,
	      "compile units differ");
	CHECK(debugfile_open(bogus, sizeof(bogus), &path) == -ENOENT,
	      "a build id with no file");
	self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	CHECK(debugfile_inflate(self) == -ENODATA, "nothing to inflate");
	check_damage(orig_fd, orig);
	elf_end(orig);
	elf_end(inflated);
	close(self);
	close(orig_fd);
	close(fd);
	if (failures)
		return 1;
	printf("debugfile: ok\n");
	return 0;
}
