/* SPDX-License-Identifier: MIT */
/*
 * An entry is text, so that a person can read what cprof kept:
 *
 *   cprof-locations 1 CPROF_BUILD_ID SYMBOLS DWARF
 *   L VADDR ACTIVATION SYMBOL_OFFSET NLINES      (hex, 0 or 1, hex, dec)
 *   LINE START_LINE\tFUNCTION\tSYSTEM_NAME\tFILE  (NLINES of these)
 *
 * VADDR is the PC less the object's load bias, the same in every process
 * that maps the object.  SYMBOLS and DWARF (0 or 1) say whether the object
 * had a symbol table and debug information when the entry was written:
 * an entry written without them is not used once they are there.  A
 * location whose strings hold a tab or a newline is not kept.
 */
#include "symbolize/loccache.h"

#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbolize/debugcache.h"

#define FORMAT	      1
#define MAX_ENTRY     (16u << 20) /* bytes read from one entry at most */
#define MAX_LOCATIONS 20000	  /* per object; beyond, nothing is added */
#define MAX_ID	      64	  /* bytes of a build id */

struct cached_loc {
	uint64_t vaddr;
	bool activation;
	uint64_t symbol_offset;
	size_t nlines;
	struct sym_line *lines;
};

/* One object's entry: what was read, and what this run added. */
struct object_locs {
	char *build_id; /* hex, as module_info has it */
	bool has_symbols, has_dwarf;
	char *text; /* the entry's bytes; the read locations point into it */
	struct cached_loc *read;
	size_t nread;
	struct cached_loc *added; /* lines and strings malloc'd */
	size_t nadded, cap;
	/* The added locations by PC, for the other processes of the run:
	 * open addressing, 1 + the index in added, 0 for a free slot. */
	size_t *added_index;
	size_t index_cap;
};

/* Every symbolizer of a capture may share one cache: its calls take the
 * lock. */
struct loccache {
	pthread_mutex_t lock;
	char self_id[2 * MAX_ID + 1]; /* cprof's own build id */
	struct object_locs *objects;
	size_t nobjects;
};

/* ---- cprof's own build id ---- */

static int find_self_id(struct dl_phdr_info *info, size_t size, void *data)
{
	char *hex = data;

	(void)size;
	/* The first object is the program. */
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
		const char *end = p + ph->p_memsz;

		if (ph->p_type != PT_NOTE)
			continue;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
			const unsigned char *desc =
				(const unsigned char *)(nh + 1) +
				((nh->n_namesz + 3) & ~3u);

			if (nh->n_type == NT_GNU_BUILD_ID &&
			    nh->n_namesz == 4 && nh->n_descsz <= MAX_ID &&
			    !memcmp(nh + 1, "GNU", 4)) {
				for (size_t j = 0; j < nh->n_descsz; j++)
					sprintf(hex + 2 * j, "%02x", desc[j]);
				return 1;
			}
			p = (const char *)desc + ((nh->n_descsz + 3) & ~3u);
		}
	}
	return 1;
}

struct loccache *loccache_new(void)
{
	struct loccache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	dl_iterate_phdr(find_self_id, c->self_id);
	if (!c->self_id[0]) {
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

/* ---- reading an entry ---- */

static size_t hex_to_bytes(const char *hex, unsigned char *out)
{
	size_t n = 0;

	while (n < MAX_ID && hex[2 * n] && hex[2 * n + 1] &&
	       sscanf(hex + 2 * n, "%2hhx", &out[n]) == 1)
		n++;
	return n;
}

/* The whole entry, NUL-terminated; NULL when there is none. */
static char *read_entry(const char *build_id)
{
	unsigned char id[MAX_ID];
	size_t len = hex_to_bytes(build_id, id);
	int fd = len ? debugcache_open_kind(DEBUGCACHE_LOCATIONS, id, len)
		     : -ENOENT;
	struct stat st;
	char *text = NULL;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && st.st_size > 0 && st.st_size < MAX_ENTRY &&
	    (text = malloc((size_t)st.st_size + 1)) &&
	    pread(fd, text, (size_t)st.st_size, 0) == st.st_size)
		text[st.st_size] = '\0';
	else {
		free(text);
		text = NULL;
	}
	close(fd);
	return text;
}

/* The next line of *p, cut at its newline; NULL at the end. */
static char *next_line(char **p)
{
	char *line = *p, *nl;

	if (!line || !*line)
		return NULL;
	nl = strchr(line, '\n');
	if (!nl)
		return NULL; /* a cut entry: its last line is not whole */
	*nl = '\0';
	*p = nl + 1;
	return line;
}

/* "LINE START\tFUNCTION\tSYSTEM_NAME\tFILE", cut in place. */
static bool parse_line(char *text, struct sym_line *line)
{
	char *fields[4];
	long long lineno;
	unsigned long long start;

	fields[0] = text;
	for (int i = 1; i < 4; i++) {
		fields[i] = strchr(fields[i - 1], '\t');
		if (!fields[i])
			return false;
		*fields[i]++ = '\0';
	}
	if (sscanf(fields[0], "%lld %llu", &lineno, &start) != 2 ||
	    lineno < 0 || lineno > INT32_MAX || !*fields[1] || !*fields[2])
		return false;
	*line = (struct sym_line){.function = fields[1],
				  .system_name = fields[2],
				  .file = fields[3],
				  .line = (int)lineno,
				  .start_line = start};
	return true;
}

static bool parse_loc(char **p, char *head, struct cached_loc *loc)
{
	int activation;

	if (sscanf(head, "L %" SCNx64 " %d %" SCNx64 " %zu", &loc->vaddr,
		   &activation, &loc->symbol_offset, &loc->nlines) != 4 ||
	    loc->nlines == 0 || loc->nlines > 256)
		return false;
	loc->activation = activation != 0;
	loc->lines = calloc(loc->nlines, sizeof(*loc->lines));
	if (!loc->lines)
		return false;
	for (size_t i = 0; i < loc->nlines; i++) {
		char *text = next_line(p);

		if (!text || !parse_line(text, &loc->lines[i])) {
			free(loc->lines);
			return false;
		}
	}
	return true;
}

static int by_pc(const void *a, const void *b)
{
	const struct cached_loc *x = a, *y = b;

	if (x->vaddr != y->vaddr)
		return x->vaddr < y->vaddr ? -1 : 1;
	return (int)x->activation - (int)y->activation;
}

/* The header's promise: this cprof, the object as it is now. */
static bool header_matches(const struct loccache *c,
			   const struct object_locs *o, const char *head)
{
	char want[sizeof(c->self_id) + 64];

	snprintf(want, sizeof(want), "cprof-locations %d %s %d %d", FORMAT,
		 c->self_id, o->has_symbols, o->has_dwarf);
	return head && !strcmp(head, want);
}

/* Reads the object's entry; one that does not parse is left unused. */
static void load_object(const struct loccache *c, struct object_locs *o)
{
	char *p = read_entry(o->build_id), *head;
	size_t cap = 0;

	o->text = p;
	if (!header_matches(c, o, next_line(&p)))
		return;
	while ((head = next_line(&p))) {
		struct cached_loc loc;

		if (o->nread == cap) {
			size_t new_cap = cap ? 2 * cap : 64;
			struct cached_loc *grown =
				reallocarray(o->read, new_cap, sizeof(loc));

			if (!grown)
				break;
			o->read = grown;
			cap = new_cap;
		}
		if (!parse_loc(&p, head, &loc))
			break;
		o->read[o->nread++] = loc;
	}
	if (o->nread)
		qsort(o->read, o->nread, sizeof(*o->read), by_pc);
}

/* The object's entry, read at its first use; NULL for an object without
 * a build id, or out of memory.  Objects are told apart by what was found
 * of them too: the entry of an object read with its debug information is
 * not for one read without. */
static struct object_locs *object_of(struct loccache *c,
				     const struct module_info *m)
{
	struct object_locs *o;

	if (!m || !m->build_id[0])
		return NULL;
	for (size_t i = 0; i < c->nobjects; i++) {
		o = &c->objects[i];
		if (!strcmp(o->build_id, m->build_id) &&
		    o->has_symbols == m->has_symbols &&
		    o->has_dwarf == m->has_dwarf)
			return o;
	}
	o = reallocarray(c->objects, c->nobjects + 1, sizeof(*o));
	if (!o)
		return NULL;
	c->objects = o;
	o = &c->objects[c->nobjects];
	*o = (struct object_locs){.build_id = strdup(m->build_id),
				  .has_symbols = m->has_symbols,
				  .has_dwarf = m->has_dwarf};
	if (!o->build_id)
		return NULL;
	c->nobjects++;
	load_object(c, o);
	return o;
}

static size_t index_slot(const struct object_locs *o, uint64_t vaddr,
			 bool activation)
{
	uint64_t h = (vaddr ^ activation) * 0x9e3779b97f4a7c15ULL;
	size_t mask = o->index_cap - 1, i = (size_t)(h >> 32) & mask;

	for (; o->added_index[i]; i = (i + 1) & mask) {
		const struct cached_loc *loc = &o->added[o->added_index[i] - 1];

		if (loc->vaddr == vaddr && loc->activation == activation)
			break;
	}
	return i;
}

static const struct cached_loc *find_added(const struct object_locs *o,
					   uint64_t vaddr, bool activation)
{
	size_t i;

	if (!o->nadded)
		return NULL;
	i = index_slot(o, vaddr, activation);
	return o->added_index[i] ? &o->added[o->added_index[i] - 1] : NULL;
}

static const struct cached_loc *find_loc(const struct object_locs *o,
					 uint64_t vaddr, bool activation)
{
	struct cached_loc key = {.vaddr = vaddr, .activation = activation};
	const struct cached_loc *found = NULL;

	if (o->nread)
		found = bsearch(&key, o->read, o->nread, sizeof(key), by_pc);
	return found ? found : find_added(o, vaddr, activation);
}

bool loccache_find(struct loccache *c, const struct module_info *module,
		   uint64_t pc, bool activation, struct sym_location *ret)
{
	const struct cached_loc *found = NULL;
	struct object_locs *o;

	if (!c || !module)
		return false;
	pthread_mutex_lock(&c->lock);
	o = object_of(c, module);
	if (o)
		found = find_loc(o, pc - module->bias, activation);
	if (found) {
		ret->symbol_offset = found->symbol_offset;
		ret->nlines = found->nlines;
		ret->lines = found->lines;
	}
	pthread_mutex_unlock(&c->lock);
	return found != NULL;
}

/* ---- adding and writing ---- */

static bool keepable(const char *s)
{
	return !strpbrk(s, "\t\n");
}

static bool dup_line_strings(struct sym_line *line)
{
	line->function = strdup(line->function);
	line->system_name = strdup(line->system_name);
	line->file = strdup(line->file);
	return line->function && line->system_name && line->file;
}

static void free_lines(struct sym_line *lines, size_t n)
{
	for (size_t i = 0; lines && i < n; i++) {
		free((char *)lines[i].function);
		free((char *)lines[i].system_name);
		free((char *)lines[i].file);
	}
	free(lines);
}

static bool keepable_loc(const struct sym_location *loc)
{
	for (size_t i = 0; i < loc->nlines; i++)
		if (!keepable(loc->lines[i].function) ||
		    !keepable(loc->lines[i].system_name) ||
		    !keepable(loc->lines[i].file))
			return false;
	return true;
}

/* A copy of loc's lines and their strings; NULL out of memory. */
static struct sym_line *copy_lines(const struct sym_location *loc)
{
	struct sym_line *lines = calloc(loc->nlines, sizeof(*lines));
	bool ok = lines != NULL;

	for (size_t i = 0; ok && i < loc->nlines; i++) {
		lines[i] = loc->lines[i];
		ok = dup_line_strings(&lines[i]);
	}
	if (!ok) {
		free_lines(lines, lines ? loc->nlines : 0);
		return NULL;
	}
	return lines;
}

/* Room for one more added location, its index grown to keep it at most
 * half full. */
static bool make_room(struct object_locs *o)
{
	if (o->nadded == o->cap) {
		size_t new_cap = o->cap ? 2 * o->cap : 64;
		struct cached_loc *grown =
			reallocarray(o->added, new_cap, sizeof(*grown));

		if (!grown)
			return false;
		o->added = grown;
		o->cap = new_cap;
	}
	if (2 * (o->nadded + 1) > o->index_cap) {
		size_t cap = o->index_cap ? 2 * o->index_cap : 128;
		size_t *index = calloc(cap, sizeof(*index));

		if (!index)
			return false;
		free(o->added_index);
		o->added_index = index;
		o->index_cap = cap;
		for (size_t i = 0; i < o->nadded; i++)
			index[index_slot(o, o->added[i].vaddr,
					 o->added[i].activation)] = i + 1;
	}
	return true;
}

static void add_locked(struct loccache *c, const struct sym_location *loc)
{
	struct object_locs *o = object_of(c, loc->module);
	struct cached_loc add;

	if (!o || o->nread + o->nadded >= MAX_LOCATIONS || !keepable_loc(loc))
		return;
	add = (struct cached_loc){.vaddr = loc->pc - loc->module->bias,
				  .activation = loc->activation,
				  .symbol_offset = loc->symbol_offset,
				  .nlines = loc->nlines};
	/* Another process of the run may have added it meanwhile. */
	if (find_loc(o, add.vaddr, add.activation) || !make_room(o))
		return;
	add.lines = copy_lines(loc);
	if (!add.lines)
		return;
	o->added[o->nadded] = add;
	o->added_index[index_slot(o, add.vaddr, add.activation)] = ++o->nadded;
}

void loccache_add(struct loccache *c, const struct sym_location *loc)
{
	if (!c || !loc->module)
		return;
	pthread_mutex_lock(&c->lock);
	add_locked(c, loc);
	pthread_mutex_unlock(&c->lock);
}

static void write_loc(FILE *out, const struct cached_loc *loc)
{
	fprintf(out, "L %" PRIx64 " %d %" PRIx64 " %zu\n", loc->vaddr,
		loc->activation, loc->symbol_offset, loc->nlines);
	for (size_t i = 0; i < loc->nlines; i++)
		fprintf(out, "%d %" PRIu64 "\t%s\t%s\t%s\n", loc->lines[i].line,
			loc->lines[i].start_line, loc->lines[i].function,
			loc->lines[i].system_name, loc->lines[i].file);
}

/* The entry as it should be now: what was read, then what was added. */
static void store_object(const struct loccache *c, const struct object_locs *o)
{
	unsigned char id[MAX_ID];
	size_t len = hex_to_bytes(o->build_id, id), size = 0;
	char *text = NULL;
	FILE *out = open_memstream(&text, &size);
	int fd = -1;

	if (!out)
		return;
	fprintf(out, "cprof-locations %d %s %d %d\n", FORMAT, c->self_id,
		o->has_symbols, o->has_dwarf);
	for (size_t i = 0; i < o->nread; i++)
		write_loc(out, &o->read[i]);
	for (size_t i = 0; i < o->nadded; i++)
		write_loc(out, &o->added[i]);
	if (fclose(out) == 0 && len)
		fd = memfd_create("cprof-locations", MFD_CLOEXEC);
	if (fd >= 0 && write(fd, text, size) == (ssize_t)size)
		debugcache_store_kind(DEBUGCACHE_LOCATIONS, id, len, fd, size);
	if (fd >= 0)
		close(fd);
	free(text);
}

void loccache_free(struct loccache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nobjects; i++) {
		struct object_locs *o = &c->objects[i];

		if (o->nadded)
			store_object(c, o);
		for (size_t j = 0; j < o->nread; j++)
			free(o->read[j].lines);
		for (size_t j = 0; j < o->nadded; j++)
			free_lines(o->added[j].lines, o->added[j].nlines);
		free(o->read);
		free(o->added);
		free(o->added_index);
		free(o->text);
		free(o->build_id);
	}
	free(c->objects);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
