/* SPDX-License-Identifier: MIT */
/*
 * The target's address space: /proc/PID/maps grouped into modules, one
 * libdw Dwfl for the whole run.  Modules are reported the way libdwfl's own
 * /proc reader groups them (consecutive mappings of one inode make one
 * module starting at its first mapping), so load biases agree with
 * eu-stack's; only the file each module is read from differs: cprof opens
 * it as the target sees it.
 */
#include <elf.h>
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "attach/procfs.h"
#include "symbolize/addrspace.h"
#include "symbolize/debugfile.h"
#include "symbolize/debuginfod.h"
#include "symbolize/cuindex.h"
#include "symbolize/objcache.h"
#include "symbolize/symtab.h"

#define VDSO_NAME      "[vdso]"
#define DELETED_SUFFIX " (deleted)"

/* A PT_LOAD segment's file bytes, in unbiased ELF addresses. */
struct load_segment {
	uint64_t vaddr, filesz, offset;
};

struct module {
	struct module_info info; /* the whole object, from its first mapping */
	/* One per executable mapping, as /proc/PID/maps shows it: a pprof
	 * Mapping must give the start and file offset of the very mapping
	 * an address is in, since segments laid out by lld (and libraries
	 * with several executable segments) map file offsets to addresses
	 * with a different delta each. */
	struct module_info *exec_maps;
	size_t nexec_maps;
	char *path;
	char build_id[2 * 64 + 1];
	Dwfl *dwfl;		 /* the address space's */
	struct objcache *shared; /* the address space's; may be NULL */
	pid_t pid;
	uint64_t first_start, first_end; /* names /proc/PID/map_files/ */
	bool is_vdso;
	bool from_memory;   /* no file holds it: read from the target */
	Dwfl_Module *dwmod; /* NULL once the object is unmapped */
	bool image_tried, identified, info_tried;
	bool debuginfo_asked;  /* libdwfl asks again only for a dwz file */
	uint64_t inode;	       /* of the first mapping */
	uint8_t mapped_id[64]; /* the build id in the target's memory */
	size_t mapped_id_len;
	bool mapped_id_tried;
	const uint8_t *image; /* the whole ELF file, owned by libelf */
	size_t image_size;
	uint64_t bias;
	struct load_segment *segments;
	size_t nsegments;
	/* Built, or found in the shared cache, at the first symbol lookup;
	 * own_symtab is set when the module built it for itself. */
	const struct symtab *symtab;
	struct symtab *own_symtab;
	bool symtab_tried;
	struct cu_index *cus; /* built at the first unit lookup */
	bool cus_tried;
};

struct addrspace {
	pid_t pid;
	Dwfl *dwfl;
	struct objcache *shared;
	struct module **live; /* mapped now, sorted by start */
	size_t nlive;
	struct module **all; /* every module ever seen: info outlives unmap */
	size_t nall, all_cap;
};

/* The length of a /proc/PID/maps path without its " (deleted)". */
static size_t undeleted_len(const char *path)
{
	size_t len = strlen(path), suffix = strlen(DELETED_SUFFIX);

	if (len > suffix && !strcmp(path + len - suffix, DELETED_SUFFIX))
		return len - suffix;
	return len;
}

static int read_target(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = {.iov_base = buf, .iov_len = len};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)addr,
			       .iov_len = len};

	return process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)len
		       ? 0
		       : -EFAULT;
}

/* The GNU build id in a note section or segment, or NULL. */
static const uint8_t *note_build_id(const uint8_t *notes, size_t len,
				    size_t *ret_len)
{
	size_t off = 0;

	while (len - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nhdr;
		size_t name_off = off + sizeof(nhdr), desc_off;

		memcpy(&nhdr, notes + off, sizeof(nhdr));
		desc_off = name_off + ((nhdr.n_namesz + 3) & ~3u);
		if (desc_off > len || nhdr.n_descsz > len - desc_off)
			return NULL;
		if (nhdr.n_type == NT_GNU_BUILD_ID && nhdr.n_namesz == 4 &&
		    !memcmp(notes + name_off, "GNU", 4)) {
			*ret_len = nhdr.n_descsz;
			return notes + desc_off;
		}
		off = desc_off + ((nhdr.n_descsz + 3) & ~3u);
	}
	return NULL;
}

#define MAX_MAPPED_PHDRS 64
#define MAX_MAPPED_NOTES 4096

/* The build id of the object as the target has it mapped, read from its
 * memory: ELF header, program headers and notes lie in the mapping of
 * file offset 0.  Read once; 0 bytes when it has none or it is
 * unreadable. */
static void load_mapped_build_id(struct module *m)
{
	Elf64_Phdr phdrs[MAX_MAPPED_PHDRS];
	uint8_t notes[MAX_MAPPED_NOTES];
	const Elf64_Phdr *load = NULL;
	const uint8_t *id;
	Elf64_Ehdr ehdr;
	uint64_t bias;
	size_t len;

	if (m->mapped_id_tried)
		return;
	m->mapped_id_tried = true;
	if (m->info.file_offset != 0 ||
	    read_target(m->pid, m->first_start, &ehdr, sizeof(ehdr)) < 0 ||
	    memcmp(ehdr.e_ident, ELFMAG, SELFMAG) ||
	    ehdr.e_ident[EI_CLASS] != ELFCLASS64 ||
	    ehdr.e_phentsize != sizeof(Elf64_Phdr) ||
	    ehdr.e_phnum > MAX_MAPPED_PHDRS ||
	    read_target(m->pid, m->first_start + ehdr.e_phoff, phdrs,
			ehdr.e_phnum * sizeof(phdrs[0])) < 0)
		return;
	for (size_t i = 0; i < ehdr.e_phnum && !load; i++)
		if (phdrs[i].p_type == PT_LOAD)
			load = &phdrs[i];
	if (!load)
		return;
	bias = m->first_start - (load->p_vaddr - load->p_offset);
	for (size_t i = 0; i < ehdr.e_phnum; i++) {
		len = phdrs[i].p_filesz < sizeof(notes) ? phdrs[i].p_filesz
							: sizeof(notes);
		if (phdrs[i].p_type != PT_NOTE ||
		    read_target(m->pid, bias + phdrs[i].p_vaddr, notes, len) <
			    0)
			continue;
		id = note_build_id(notes, len, &len);
		if (id && len <= sizeof(m->mapped_id)) {
			memcpy(m->mapped_id, id, len);
			m->mapped_id_len = len;
			return;
		}
	}
}

/*
 * Whether the file open at fd is the object the target has mapped: the
 * same build id as in the target's memory; for an object without one,
 * the same inode.  A path can name another file since (a deploy renamed
 * a new one over it) and an overlay file system shows the file under
 * another inode than the mapping's, so a build id is the better proof.
 */
static bool is_mapped_file(struct module *m, int fd)
{
	const void *id = NULL;
	struct stat st;
	ssize_t len = -1;
	Elf *elf;

	load_mapped_build_id(m);
	if (!m->mapped_id_len)
		return fstat(fd, &st) == 0 && st.st_ino == m->inode;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf)
		len = dwelf_elf_gnu_build_id(elf, &id);
	len = len == (ssize_t)m->mapped_id_len &&
	      !memcmp(id, m->mapped_id, m->mapped_id_len);
	elf_end(elf);
	return len;
}

/* path opened, if it is the object mapped; else -1. */
static int open_mapped(struct module *m, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0 && !is_mapped_file(m, fd)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/*
 * Opens the object the target really has mapped: map_files/ holds the very
 * inode (deleted or replaced files too) but needs CAP_SYS_ADMIN or
 * CAP_CHECKPOINT_RESTORE.  Without them root/ resolves the path in the
 * target's mount namespace, and exe is the executable even once deleted
 * or replaced; either is taken only when it is the mapped object.  The
 * file name handed back to libdwfl is the target's path, which is what
 * .gnu_debuglink lookups under /usr/lib/debug expect.
 */
static int find_elf(Dwfl_Module *mod, void **userdata, const char *name,
		    Dwarf_Addr base, char **file_name, Elf **elfp)
{
	struct module *m = *userdata;
	char path[PATH_MAX];
	int fd;

	if (!m)
		return -1;
	if (m->is_vdso)
		return dwfl_linux_proc_find_elf(mod, userdata, name, base,
						file_name, elfp);
	snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64,
		 (int)m->pid, m->first_start, m->first_end);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && snprintf(path, sizeof(path), "/proc/%d/root%s",
			       (int)m->pid, m->path) < (int)sizeof(path))
		fd = open_mapped(m, path);
	if (fd < 0) {
		snprintf(path, sizeof(path), "/proc/%d/exe", (int)m->pid);
		fd = open_mapped(m, path);
	}
	if (fd >= 0) {
		*file_name = strdup(m->path);
		return fd;
	}
	/* No file is the mapped object (a library deleted or replaced, and
	 * no map_files): its loaded segments, which hold what unwinding
	 * and .dynsym names need, are read from the target's memory as the
	 * vDSO's are. */
	m->from_memory = true;
	snprintf(path, sizeof(path), "[vdso: %d]", (int)m->pid);
	return dwfl_linux_proc_find_elf(mod, userdata, path, m->first_start,
					file_name, elfp);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/*
 * A module's debug file, looked up by build id first so that one with
 * compressed sections is handed over inflated (debugfile.h): libdwfl's own
 * build-id lookup would keep the file it opened, compressed.  Anything else
 * (.gnu_debuglink, and the dwz file asked for in a later call) is
 * libdwfl's own search, then debuginfod where allowed (debuginfod.h).
 * The file name is the real one: dwz's .gnu_debugaltlink is resolved
 * relative to it.
 */
static int find_debuginfo(Dwfl_Module *mod, void **userdata,
			  const char *modname, Dwarf_Addr base,
			  const char *file_name, const char *debuglink_file,
			  GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	struct module *m = *userdata;
	const unsigned char *build_id;
	GElf_Addr vaddr;
	int len, fd;

	if (m && !m->debuginfo_asked) {
		m->debuginfo_asked = true;
		len = dwfl_module_build_id(mod, &build_id, &vaddr);
		fd = len > 0 ? debugfile_open(build_id, (size_t)len,
					      debuginfo_file_name)
			     : -ENOENT;
		if (fd >= 0)
			return fd;
	}
	if (!m)
		return dwfl_standard_find_debuginfo(
			mod, userdata, modname, base, file_name, debuglink_file,
			debuglink_crc, debuginfo_file_name);
	return debuginfod_find(m->dwfl, base_name(m->path), mod, userdata,
			       modname, base, file_name, debuglink_file,
			       debuglink_crc, debuginfo_file_name);
}

static const Dwfl_Callbacks dwfl_callbacks = {
	.find_elf = find_elf,
	.find_debuginfo = find_debuginfo,
	.section_address = dwfl_offline_section_address,
};

static void module_free(struct module *m)
{
	if (!m)
		return;
	free(m->segments);
	free(m->exec_maps);
	symtab_free(m->own_symtab);
	cu_index_free(m->cus);
	free(m->path);
	free(m);
}

static bool is_object_mapping(const struct proc_map *map)
{
	return map->path[0] == '/' || !strcmp(map->path, VDSO_NAME);
}

static bool same_object(const struct proc_map *a, const struct proc_map *b)
{
	return a->inode == b->inode && a->inode != 0 &&
	       !strcmp(a->path, b->path);
}

/* Whether maps[i] is an executable mapping of the object that starts at
 * maps[first] (the vDSO, with no inode, is its own first mapping). */
static bool exec_of_object(const struct proc_maps *maps, size_t first, size_t i)
{
	return maps->maps[i].executable &&
	       (i == first || same_object(&maps->maps[i], &maps->maps[first]));
}

/* Notes each executable mapping of the object maps[first..last]. */
static int note_exec_maps(struct module *m, const struct proc_maps *maps,
			  size_t first, size_t last)
{
	size_t n = 0;

	m->exec_maps = calloc(last - first + 1, sizeof(*m->exec_maps));
	if (!m->exec_maps)
		return -ENOMEM;
	for (size_t i = first; i <= last; i++) {
		const struct proc_map *map = &maps->maps[i];

		if (!exec_of_object(maps, first, i))
			continue;
		m->exec_maps[n++] = (struct module_info){
			.start = map->start,
			.end = map->end,
			.file_offset = map->offset,
			/* Until the ELF says otherwise. */
			.bias = map->start - map->offset,
			.path = m->path,
			.build_id = m->build_id,
		};
	}
	m->nexec_maps = n;
	return 0;
}

static struct module *module_new(struct addrspace *as,
				 const struct proc_maps *maps,
				 size_t first_index, size_t last_index)
{
	const struct proc_map *first = &maps->maps[first_index];
	uint64_t end = maps->maps[last_index].end;
	struct module *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	/* The path the file had: a deleted one keeps its name, as Go's
	 * profiles show it. */
	m->path = strndup(first->path, undeleted_len(first->path));
	if (!m->path || note_exec_maps(m, maps, first_index, last_index) < 0) {
		module_free(m);
		return NULL;
	}
	m->pid = as->pid;
	m->dwfl = as->dwfl;
	m->shared = as->shared;
	m->inode = first->inode;
	m->first_start = first->start;
	m->first_end = first->end;
	m->is_vdso = !strcmp(first->path, VDSO_NAME);
	m->info.start = first->start;
	m->info.end = end;
	m->info.file_offset = first->offset;
	m->info.bias = first->start - first->offset;
	m->info.path = m->path;
	m->info.build_id = m->build_id;
	return m;
}

static bool is_anonymous(const struct proc_map *map)
{
	return map->inode == 0 && map->path[0] == '\0';
}

/*
 * The mappings [i, *ret_last] belong to one object; is any executable?
 * An object's segments can have anonymous memory between them (the .bss
 * that ends a data segment, with a code segment after it: rustc's
 * libraries, laid out by lld), so the object goes on past anonymous
 * mappings to the next mapping of the same file at a higher offset.
 */
static bool group_object(const struct proc_maps *maps, size_t i,
			 size_t *ret_last)
{
	const struct proc_map *first = &maps->maps[i];
	bool exec = first->executable;
	size_t last = i;

	for (size_t j = i + 1; j < maps->n; j++) {
		const struct proc_map *map = &maps->maps[j];

		if (is_anonymous(map))
			continue;
		if (!same_object(first, map) ||
		    map->offset < maps->maps[last].offset)
			break;
		exec |= map->executable;
		last = j;
	}
	*ret_last = last;
	return exec;
}

static int keep_module(struct addrspace *as, struct module *m)
{
	struct module **all;

	if (as->nall == as->all_cap) {
		size_t cap = as->all_cap ? 2 * as->all_cap : 32;

		all = reallocarray(as->all, cap, sizeof(*all));
		if (!all)
			return -ENOMEM;
		as->all = all;
		as->all_cap = cap;
	}
	as->all[as->nall++] = m;
	return 0;
}

static struct module *find_live(struct module **mods, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < mods[mid]->info.start)
			hi = mid;
		else if (addr >= mods[mid]->info.end)
			lo = mid + 1;
		else
			return mods[mid];
	}
	return NULL;
}

/* The module from the previous report with this exact place, if any. */
static struct module *find_unchanged(struct addrspace *as,
				     const struct proc_map *first, uint64_t end,
				     size_t nexec_maps)
{
	struct module *m = find_live(as->live, as->nlive, first->start);

	if (m && m->info.start == first->start && m->info.end == end &&
	    m->first_end == first->end && m->nexec_maps == nexec_maps &&
	    strlen(m->path) == undeleted_len(first->path) &&
	    !strncmp(m->path, first->path, strlen(m->path)))
		return m;
	return NULL;
}

static int report_module(struct addrspace *as, struct module *m)
{
	char vdso_name[32];
	const char *name = m->path;
	void **userdata;

	if (m->is_vdso) {
		/* dwfl_linux_proc_find_elf reads the vDSO image out of the
		 * target's memory when the name carries the pid. */
		snprintf(vdso_name, sizeof(vdso_name), "[vdso: %d]",
			 (int)m->pid);
		name = vdso_name;
	}
	m->dwmod =
		dwfl_report_module(as->dwfl, name, m->info.start, m->info.end);
	if (!m->dwmod)
		return -ENOMEM;
	dwfl_module_info(m->dwmod, &userdata, NULL, NULL, NULL, NULL, NULL,
			 NULL);
	*userdata = m;
	return 0;
}

static size_t count_exec_maps(const struct proc_maps *maps, size_t first,
			      size_t last)
{
	size_t n = 0;

	for (size_t i = first; i <= last; i++)
		n += exec_of_object(maps, first, i);
	return n;
}

/* Reports the object maps[first..last]; a module libdwfl refuses
 * (overlap) is skipped. */
static int add_object(struct addrspace *as, const struct proc_maps *maps,
		      size_t first, size_t last, struct module **live,
		      size_t *nlive)
{
	struct module *m =
		find_unchanged(as, &maps->maps[first], maps->maps[last].end,
			       count_exec_maps(maps, first, last));
	bool fresh = !m;
	int r;

	if (fresh) {
		m = module_new(as, maps, first, last);
		if (!m)
			return -ENOMEM;
		r = keep_module(as, m);
		if (r < 0) {
			module_free(m);
			return r;
		}
	}
	r = report_module(as, m);
	if (r < 0)
		return fresh ? 0 : r;
	live[(*nlive)++] = m;
	return 0;
}

static int report_maps(struct addrspace *as, const struct proc_maps *maps,
		       struct module **live, size_t *ret_nlive)
{
	size_t i = 0, last, nlive = 0;
	int r;

	while (i < maps->n) {
		const struct proc_map *first = &maps->maps[i];

		if (!is_object_mapping(first)) {
			i++;
			continue;
		}
		if (!group_object(maps, i, &last) &&
		    strcmp(first->path, VDSO_NAME)) {
			i = last + 1;
			continue;
		}
		r = add_object(as, maps, i, last, live, &nlive);
		if (r < 0)
			return r;
		i = last + 1;
	}
	*ret_nlive = nlive;
	return 0;
}

static int forget_removed(Dwfl_Module *mod, void *userdata, const char *name,
			  Dwarf_Addr base, void *arg)
{
	struct module *m = userdata;

	if (m)
		m->dwmod = NULL;
	return 0;
}

static int load_maps(struct addrspace *as)
{
	struct proc_maps maps = {0};
	struct module **live;
	size_t nlive = 0;
	int r;

	r = procfs_read_maps(as->pid, &maps);
	if (r < 0)
		return r;
	live = calloc(maps.n ? maps.n : 1, sizeof(*live));
	if (!live) {
		procfs_maps_release(&maps);
		return -ENOMEM;
	}
	dwfl_report_begin(as->dwfl);
	r = report_maps(as, &maps, live, &nlive);
	if (dwfl_report_end(as->dwfl, forget_removed, NULL) != 0 && r == 0)
		r = -ENOMEM;
	procfs_maps_release(&maps);
	if (r < 0) {
		free(live);
		return r;
	}
	free(as->live);
	as->live = live;
	as->nlive = nlive;
	return 0;
}

int addrspace_open(pid_t pid, struct objcache *shared,
		   struct addrspace **ret_as)
{
	struct addrspace *as;
	int r;

	as = calloc(1, sizeof(*as));
	if (!as)
		return -ENOMEM;
	as->pid = pid;
	as->shared = shared;
	as->dwfl = dwfl_begin(&dwfl_callbacks);
	if (!as->dwfl) {
		free(as);
		return -ENOMEM;
	}
	r = load_maps(as);
	if (r < 0) {
		addrspace_free(as);
		return r;
	}
	*ret_as = as;
	return 0;
}

void addrspace_free(struct addrspace *as)
{
	if (!as)
		return;
	dwfl_end(as->dwfl);
	for (size_t i = 0; i < as->nall; i++)
		module_free(as->all[i]);
	free(as->all);
	free(as->live);
	free(as);
}

int addrspace_refresh(struct addrspace *as)
{
	return load_maps(as);
}

pid_t addrspace_pid(const struct addrspace *as)
{
	return as->pid;
}

Dwfl *addrspace_dwfl(struct addrspace *as)
{
	return as->dwfl;
}

static int load_segments(struct module *m, Elf *elf)
{
	size_t nphdr;

	if (elf_getphdrnum(elf, &nphdr) != 0)
		return -ENOEXEC;
	m->segments = calloc(nphdr ? nphdr : 1, sizeof(*m->segments));
	if (!m->segments)
		return -ENOMEM;
	for (size_t i = 0; i < nphdr; i++) {
		GElf_Phdr phdr;

		if (!gelf_getphdr(elf, i, &phdr) || phdr.p_type != PT_LOAD)
			continue;
		m->segments[m->nsegments++] = (struct load_segment){
			.vaddr = phdr.p_vaddr,
			.filesz = phdr.p_filesz,
			.offset = phdr.p_offset,
		};
	}
	return 0;
}

/* The mapped file's bytes and PT_LOAD table, loaded once per module. */
static int module_load_image(struct module *m)
{
	Dwarf_Addr bias;
	Elf *elf;
	char *raw;
	size_t size;

	if (m->image_tried)
		return m->image ? 0 : -ENOENT;
	m->image_tried = true;
	if (!m->dwmod)
		return -ENOENT;
	elf = dwfl_module_getelf(m->dwmod, &bias);
	if (!elf)
		return -ENOENT;
	raw = elf_rawfile(elf, &size);
	if (!raw || load_segments(m, elf) < 0)
		return -ENOENT;
	m->bias = bias;
	m->image = (const uint8_t *)raw;
	m->image_size = size;
	return 0;
}

static int module_read(struct module *m, uint64_t addr, void *buf, size_t len)
{
	uint64_t vaddr = addr - m->bias;

	if (module_load_image(m) < 0)
		return -EFAULT;
	for (size_t i = 0; i < m->nsegments; i++) {
		const struct load_segment *seg = &m->segments[i];
		uint64_t off;

		if (vaddr < seg->vaddr || vaddr - seg->vaddr >= seg->filesz)
			continue;
		off = vaddr - seg->vaddr;
		if (len > seg->filesz - off ||
		    seg->offset + off > m->image_size ||
		    len > m->image_size - (seg->offset + off))
			return -EFAULT;
		memcpy(buf, m->image + seg->offset + off, len);
		return 0;
	}
	return -EFAULT;
}

int addrspace_read(struct addrspace *as, uint64_t addr, void *buf, size_t len)
{
	struct module *m = find_live(as->live, as->nlive, addr);

	if (!m)
		return -EFAULT;
	return module_read(m, addr, buf, len);
}

static void format_build_id(struct module *m)
{
	const unsigned char *bits;
	GElf_Addr vaddr;
	int len = dwfl_module_build_id(m->dwmod, &bits, &vaddr);

	if (len <= 0 || (size_t)len * 2 >= sizeof(m->build_id))
		return;
	for (int i = 0; i < len; i++)
		snprintf(m->build_id + 2 * i, 3, "%02x", bits[i]);
}

/* The load bias and build id, from the module's ELF file. */
static bool module_identify(struct module *m)
{
	Dwarf_Addr bias;

	if (!m->identified && m->dwmod && dwfl_module_getelf(m->dwmod, &bias)) {
		m->identified = true;
		m->info.bias = bias;
		format_build_id(m);
	}
	return m->identified;
}

/* Whether what is read of the object can be shared with other processes
 * by its build id: the object as a file holds it, not the part of it the
 * target's memory had, nor the vDSO. */
static bool is_shareable(const struct module *m)
{
	return m->shared && m->build_id[0] && !m->is_vdso && !m->from_memory;
}

static void read_flags(void *ctx, struct object_flags *ret)
{
	struct module *m = ctx;
	Dwarf_Addr bias;

	ret->has_symbols = dwfl_module_getsymtab(m->dwmod) > 0;
	ret->has_dwarf = dwfl_module_getdwarf(m->dwmod, &bias) != NULL;
}

/* Build-id and has_* are filled the first time anyone asks for them:
 * finding debug info costs file look-ups, done only for sampled objects,
 * and only by the first process that maps the object. */
static void module_load_info(struct module *m)
{
	struct object_flags flags = {0};

	if (m->info_tried || !m->dwmod)
		return;
	m->info_tried = true;
	if (!module_identify(m))
		return;
	if (is_shareable(m))
		flags = objcache_flags(m->shared, m->build_id, read_flags, m);
	else
		read_flags(m, &flags);
	m->info.has_symbols = flags.has_symbols;
	m->info.has_dwarf = flags.has_dwarf;
	for (size_t i = 0; i < m->nexec_maps; i++) {
		m->exec_maps[i].bias = m->info.bias;
		m->exec_maps[i].has_symbols = m->info.has_symbols;
		m->exec_maps[i].has_dwarf = m->info.has_dwarf;
	}
}

static struct symtab *build_symtab(void *ctx)
{
	struct module *m = ctx;

	return symtab_build(m->dwmod, m->info.bias);
}

static const struct symtab *module_symtab(struct module *m)
{
	if (m->symtab_tried || !m->dwmod)
		return m->symtab;
	m->symtab_tried = true;
	if (!module_identify(m))
		return NULL;
	if (is_shareable(m))
		m->symtab = objcache_symtab(m->shared, m->build_id,
					    build_symtab, m);
	else
		m->symtab = m->own_symtab = build_symtab(m);
	return m->symtab;
}

/* Whether the object's debug information is on this machine: its own
 * sections, or a debug file under /usr/lib/debug by build id. */
static bool has_local_debug(struct module *m)
{
	const unsigned char *id;
	GElf_Addr vaddr;
	Dwarf_Addr bias;
	Elf *elf = dwfl_module_getelf(m->dwmod, &bias);
	size_t shstrndx;
	int len;

	if (elf && elf_getshdrstrndx(elf, &shstrndx) == 0)
		for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn;
		     scn = elf_nextscn(elf, scn)) {
			GElf_Shdr shdr;
			const char *name;

			if (!gelf_getshdr(scn, &shdr))
				continue;
			name = elf_strptr(elf, shstrndx, shdr.sh_name);
			if (name && !strcmp(name, ".debug_info"))
				return true;
		}
	len = dwfl_module_build_id(m->dwmod, &id, &vaddr);
	return len > 0 && debugfile_exists(id, (size_t)len);
}

void addrspace_preload(struct addrspace *as)
{
	for (size_t i = 0; i < as->nlive; i++) {
		struct module *m = as->live[i];

		if (!m->dwmod || m->is_vdso)
			continue;
		module_load_image(m);
		if (has_local_debug(m))
			module_load_info(m);
		module_symtab(m);
	}
}

bool addrspace_covers(struct addrspace *as, uint64_t addr)
{
	return find_live(as->live, as->nlive, addr) != NULL;
}

const struct module_info *addrspace_module_at(struct addrspace *as,
					      uint64_t addr)
{
	struct module *m = find_live(as->live, as->nlive, addr);

	if (!m)
		return NULL;
	module_load_info(m);
	for (size_t i = 0; i < m->nexec_maps; i++)
		if (addr >= m->exec_maps[i].start && addr < m->exec_maps[i].end)
			return &m->exec_maps[i];
	return &m->info;
}

const char *addrspace_symbol_at(struct addrspace *as, uint64_t addr,
				uint64_t *ret_start, bool *ret_is_func)
{
	struct module *m = find_live(as->live, as->nlive, addr);
	const struct symtab *tab = m ? module_symtab(m) : NULL;
	const char *name;
	uint64_t start;

	if (!tab)
		return NULL;
	name = symtab_lookup(tab, addr - m->info.bias, &start, ret_is_func);
	if (name)
		*ret_start = start + m->info.bias;
	return name;
}

const struct cu_index *addrspace_cu_index_at(struct addrspace *as,
					     uint64_t addr)
{
	struct module *m = find_live(as->live, as->nlive, addr);
	Dwarf_Addr bias;
	Dwarf *dbg;

	if (!m || !m->dwmod)
		return NULL;
	if (!m->cus_tried) {
		m->cus_tried = true;
		dbg = dwfl_module_getdwarf(m->dwmod, &bias);
		m->cus = dbg ? cu_index_build(dbg) : NULL;
	}
	return m->cus;
}
