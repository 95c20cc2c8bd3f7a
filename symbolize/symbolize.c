/* SPDX-License-Identifier: MIT */
/*
 * PC to source frames.  A lookup address is pc - 1 for return addresses so
 * that a call at the very end of a function is not charged to the next
 * one.  Names come from, in order: the DWARF scope chain (which also gives
 * the inline frames), the ELF symbol tables, and "module+0xoffset".
 * Results and strings live in tables owned by the symbolizer.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/demangle.h"
#include "symbolize/loccache.h"
#include "symbolize/perfmap.h"
#include "symbolize/symbolize.h"
#include "symbolize/cuindex.h"

#define TABLE_MIN_CAP 256

/* Interned strings: one copy of each, freed with the symbolizer. */
struct strtab {
	char **slots;
	size_t cap, n;
};

struct loc_slot {
	const struct module_info *module;
	uint64_t pc;
	bool activation;
	struct sym_location *loc; /* NULL: free slot */
};

struct symbolizer {
	struct addrspace *as;
	struct loccache *cache; /* shared, kept between runs; may be NULL */
	struct perfmap *jit;	/* names of code in no object */
	struct strtab strings;
	struct loc_slot *locs;
	size_t locs_cap, nlocs;
};

/* The source frames of one PC being resolved, innermost first. */
struct line_list {
	struct sym_line *lines;
	size_t n, cap;
};

static uint64_t hash_bytes(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

static uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static int strtab_grow(struct strtab *t)
{
	size_t cap = t->cap ? 2 * t->cap : TABLE_MIN_CAP;
	char **slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		size_t j;

		if (!t->slots[i])
			continue;
		j = hash_bytes(t->slots[i]) & (cap - 1);
		while (slots[j])
			j = (j + 1) & (cap - 1);
		slots[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return 0;
}

static const char *intern(struct strtab *t, const char *s)
{
	size_t i;

	if (2 * (t->n + 1) > t->cap && strtab_grow(t) < 0)
		return NULL;
	i = hash_bytes(s) & (t->cap - 1);
	for (; t->slots[i]; i = (i + 1) & (t->cap - 1))
		if (!strcmp(t->slots[i], s))
			return t->slots[i];
	t->slots[i] = strdup(s);
	if (!t->slots[i])
		return NULL;
	t->n++;
	return t->slots[i];
}

static void strtab_release(struct strtab *t)
{
	for (size_t i = 0; i < t->cap; i++)
		free(t->slots[i]);
	free(t->slots);
}

static size_t loc_hash(const struct module_info *module, uint64_t pc,
		       bool activation)
{
	return hash_u64(pc ^ (uintptr_t)module * 31 ^ activation);
}

static struct loc_slot *loc_find(struct symbolizer *sym,
				 const struct module_info *module, uint64_t pc,
				 bool activation)
{
	size_t mask = sym->locs_cap - 1;
	size_t i = loc_hash(module, pc, activation) & mask;

	for (; sym->locs[i].loc; i = (i + 1) & mask) {
		struct loc_slot *s = &sym->locs[i];

		if (s->pc == pc && s->module == module &&
		    s->activation == activation)
			return s;
	}
	return &sym->locs[i];
}

static int locs_grow(struct symbolizer *sym)
{
	struct loc_slot *old = sym->locs;
	size_t old_cap = sym->locs_cap;

	sym->locs = calloc(2 * old_cap, sizeof(*sym->locs));
	if (!sym->locs) {
		sym->locs = old;
		return -ENOMEM;
	}
	sym->locs_cap = 2 * old_cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].loc)
			*loc_find(sym, old[i].module, old[i].pc,
				  old[i].activation) = old[i];
	free(old);
	return 0;
}

int symbolizer_new(struct addrspace *as, struct loccache *cache,
		   struct symbolizer **ret_sym)
{
	struct symbolizer *sym = calloc(1, sizeof(*sym));

	if (!sym)
		return -ENOMEM;
	sym->as = as;
	sym->jit = perfmap_new(addrspace_pid(as));
	sym->cache = cache;
	sym->locs_cap = TABLE_MIN_CAP;
	sym->locs = calloc(sym->locs_cap, sizeof(*sym->locs));
	if (!sym->jit || !sym->locs || strtab_grow(&sym->strings) < 0) {
		symbolizer_free(sym);
		return -ENOMEM;
	}
	*ret_sym = sym;
	return 0;
}

void symbolizer_free(struct symbolizer *sym)
{
	if (!sym)
		return;
	for (size_t i = 0; i < sym->locs_cap; i++)
		free(sym->locs[i].loc);
	free(sym->locs);
	strtab_release(&sym->strings);
	perfmap_free(sym->jit);
	free(sym);
}

/* Appends a frame named system_name (demangled here); NULL when out of
 * memory. */
static struct sym_line *add_line(struct symbolizer *sym, struct line_list *list,
				 const char *system_name)
{
	struct sym_line *line;
	char *demangled;

	if (list->n == list->cap) {
		size_t cap = list->cap ? 2 * list->cap : 4;
		struct sym_line *lines =
			reallocarray(list->lines, cap, sizeof(*lines));

		if (!lines)
			return NULL;
		list->lines = lines;
		list->cap = cap;
	}
	line = &list->lines[list->n];
	*line = (struct sym_line){.file = "", .line = 0};
	line->system_name = intern(&sym->strings, system_name);
	demangled = demangle(system_name);
	line->function = demangled ? intern(&sym->strings, demangled)
				   : line->system_name;
	free(demangled);
	if (!line->system_name || !line->function)
		return NULL;
	list->n++;
	return line;
}

static const char *linkage_name(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *name;

	name = dwarf_formstring(
		dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
	if (!name)
		name = dwarf_formstring(dwarf_attr_integrate(
			die, DW_AT_MIPS_linkage_name, &attr));
	return name;
}

static const char *die_name(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *name = linkage_name(die);

	if (!name)
		name = dwarf_formstring(
			dwarf_attr_integrate(die, DW_AT_name, &attr));
	return name;
}

static bool is_cxx(Dwarf_Die *cudie)
{
	switch (dwarf_srclang(cudie)) {
	case DW_LANG_C_plus_plus:
	case DW_LANG_C_plus_plus_03:
	case DW_LANG_C_plus_plus_11:
	case DW_LANG_C_plus_plus_14:
		return true;
	default:
		return false;
	}
}

/* The declaration a concrete or inlined instance refers to: that is where
 * the function sits among namespaces and classes. */
static Dwarf_Die declaration(Dwarf_Die *die)
{
	static const int links[] = {DW_AT_abstract_origin, DW_AT_specification};
	Dwarf_Die decl = *die, next;
	Dwarf_Attribute attr;
	bool moved = true;

	/* Bounded: a cycle in broken DWARF must not hang the lookup. */
	for (int hops = 0; moved && hops < 8; hops++) {
		moved = false;
		for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
			if (dwarf_attr(&decl, links[i], &attr) &&
			    dwarf_formref_die(&attr, &next)) {
				decl = next;
				moved = true;
				break;
			}
		}
	}
	return decl;
}

static bool is_named_scope(int tag)
{
	return tag == DW_TAG_namespace || tag == DW_TAG_class_type ||
	       tag == DW_TAG_structure_type || tag == DW_TAG_union_type;
}

/*
 * "ns::(anonymous namespace)::f" for a C++ function DWARF gives no linkage
 * name (internal linkage): the enclosing namespaces and classes of its
 * declaration, outermost first.  A string the caller frees, or NULL.
 */
static char *qualified_name(Dwarf_Die *die, const char *name)
{
	Dwarf_Die decl = declaration(die), *scopes = NULL;
	int nscopes = dwarf_getscopes_die(&decl, &scopes);
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f) {
		free(scopes);
		return NULL;
	}
	for (int i = nscopes - 1; i > 0; i--) {
		const char *scope_name;

		if (!is_named_scope(dwarf_tag(&scopes[i])))
			continue;
		scope_name = dwarf_diename(&scopes[i]);
		fprintf(f, "%s::",
			scope_name ? scope_name : "(anonymous namespace)");
	}
	fputs(name, f);
	free(scopes);
	return fclose(f) == 0 ? buf : (free(buf), NULL);
}

static bool is_function(Dwarf_Die *die)
{
	int tag = dwarf_tag(die);

	return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
	       tag == DW_TAG_entry_point;
}

/* Drops "." and folds "dir/.." in an absolute path, in place, so a file
 * named relative to its build directory reads as the path it has. */
static void normalize_path(char *path)
{
	char *out = path, *in = path;

	while (*in) {
		char *end = strchrnul(in + 1, '/');
		size_t len = (size_t)(end - in);

		if (len == 2 && in[1] == '.') {
			in = end;
			continue;
		}
		if (len == 3 && in[1] == '.' && in[2] == '.') {
			while (out > path && *--out != '/')
				;
			in = end;
			continue;
		}
		memmove(out, in, len);
		out += len;
		in = end;
	}
	*out = '\0';
	if (out == path)
		strcpy(path, "/");
}

/*
 * Line tables may name files relative to the compilation directory; pprof
 * -list and editors need the path the source has, so relative names are
 * joined to DW_AT_comp_dir.
 */
static int set_file(struct symbolizer *sym, struct sym_line *line,
		    Dwarf_Die *cudie, const char *file)
{
	Dwarf_Attribute attr;
	const char *comp_dir;
	char *joined = NULL;

	if (!file)
		file = "";
	comp_dir = cudie ? dwarf_formstring(
				   dwarf_attr(cudie, DW_AT_comp_dir, &attr))
			 : NULL;
	if (file[0] && file[0] != '/' && comp_dir && comp_dir[0] == '/' &&
	    asprintf(&joined, "%s/%s", comp_dir, file) >= 0) {
		normalize_path(joined);
		file = joined;
	}
	line->file = intern(&sym->strings, file);
	free(joined);
	return line->file ? 0 : -ENOMEM;
}

/* A frame named from DWARF; C++ names without a linkage name are
 * qualified with their namespaces and classes. */
static struct sym_line *add_dwarf_line(struct symbolizer *sym,
				       struct line_list *list, Dwarf_Die *cudie,
				       Dwarf_Die *die, const char *name)
{
	struct sym_line *line;
	char *qualified;

	if (linkage_name(die) || !is_cxx(cudie))
		return add_line(sym, list, name);
	qualified = qualified_name(die, name);
	line = add_line(sym, list, qualified ? qualified : name);
	free(qualified);
	return line;
}

/* Where inlined was called from: the caller frame's file:line. */
static int set_call_site(struct symbolizer *sym, struct sym_line *line,
			 Dwarf_Die *cudie, Dwarf_Die *inlined)
{
	Dwarf_Attribute attr;
	Dwarf_Files *files;
	Dwarf_Word file_idx, lineno;

	if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_file, &attr),
			    &file_idx) != 0 ||
	    dwarf_getsrcfiles(cudie, &files, NULL) != 0)
		return 0;
	if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_line, &attr),
			    &lineno) == 0 &&
	    lineno <= INT32_MAX)
		line->line = (int)lineno;
	return set_file(sym, line, cudie,
			dwarf_filesrc(files, file_idx, NULL, NULL));
}

static void set_start_line(struct sym_line *line, Dwarf_Die *die)
{
	int decl_line;

	if (dwarf_decl_line(die, &decl_line) == 0 && decl_line > 0)
		line->start_line = (uint64_t)decl_line;
}

/*
 * The compilation unit whose code holds addr, in *mem or libdw's.  Found
 * through .debug_aranges, read by cuindex.c where the object has it;
 * clang emits none, and this libdw does not make it up from the units'
 * own ranges: there the units are asked one by one.
 */
static Dwarf_Die *cu_at(struct addrspace *as, Dwfl_Module *mod, uint64_t addr,
			Dwarf_Die *mem, Dwarf_Addr *ret_bias)
{
	const struct cu_index *idx = addrspace_cu_index_at(as, addr);
	Dwarf_Die *cudie = NULL;

	if (!dwfl_module_getdwarf(mod, ret_bias))
		return NULL;
	if (idx && cu_index_find(idx, addr - *ret_bias, mem))
		return mem;
	if (!idx && (cudie = dwfl_module_addrdie(mod, addr, ret_bias)))
		return cudie;
	while ((cudie = dwfl_module_nextcu(mod, cudie, ret_bias)))
		if (dwarf_haspc(cudie, addr - *ret_bias) == 1)
			return cudie;
	return NULL;
}

/* The innermost frame's file:line is the line table's row for addr. */
static int set_src(struct symbolizer *sym, struct sym_line *line,
		   Dwfl_Module *mod, Dwarf_Die *cudie, uint64_t addr)
{
	Dwarf_Addr bias = 0;
	Dwarf_Die mem;
	Dwarf_Die *unit = cu_at(sym->as, mod, addr, &mem, &bias);
	Dwarf_Line *src = unit ? dwarf_getsrc_die(unit, addr - bias) : NULL;
	int lineno = 0;

	if (!src)
		return 0;
	if (dwarf_lineno(src, &lineno) == 0 && lineno > 0)
		line->line = lineno;
	return set_file(sym, line, cudie ? cudie : unit,
			dwarf_linesrc(src, NULL, NULL));
}

/* The frames of the scope chain from the function-like DIE innermost at
 * addr out to the subprogram it was inlined into.  *ret_start is that
 * subprogram's entry when known. */
static int add_scope_chain(struct symbolizer *sym, struct line_list *list,
			   Dwfl_Module *mod, Dwarf_Die *cudie, Dwarf_Die *die,
			   uint64_t addr, uint64_t bias, uint64_t *ret_start)
{
	Dwarf_Die *scopes = NULL, *callee = NULL;
	int nscopes = dwarf_getscopes_die(die, &scopes);
	int r = 0;

	for (int i = 0; i < nscopes && r == 0; i++) {
		Dwarf_Die *scope = &scopes[i];
		struct sym_line *line;
		const char *name;
		Dwarf_Addr entry;

		if (!is_function(scope) || !(name = die_name(scope)))
			continue;
		line = add_dwarf_line(sym, list, cudie, scope, name);
		if (!line) {
			r = -ENOMEM;
			break;
		}
		set_start_line(line, scope);
		r = callee ? set_call_site(sym, line, cudie, callee)
			   : set_src(sym, line, mod, cudie, addr);
		if (dwarf_tag(scope) == DW_TAG_subprogram) {
			if (dwarf_entrypc(scope, &entry) == 0)
				*ret_start = entry + bias;
			break;
		}
		callee = scope;
	}
	free(scopes);
	return r;
}

static int add_dwarf_frames(struct symbolizer *sym, struct line_list *list,
			    Dwfl_Module *mod, uint64_t addr,
			    uint64_t *ret_start)
{
	Dwarf_Addr bias = 0;
	Dwarf_Die mem;
	Dwarf_Die *cudie = cu_at(sym->as, mod, addr, &mem, &bias);
	Dwarf_Die *scopes = NULL;
	int nscopes, r = 0;

	if (!cudie)
		return 0;
	nscopes = dwarf_getscopes(cudie, addr - bias, &scopes);
	for (int i = 0; i < nscopes; i++) {
		if (is_function(&scopes[i]) && die_name(&scopes[i])) {
			r = add_scope_chain(sym, list, mod, cudie, &scopes[i],
					    addr, bias, ret_start);
			break;
		}
	}
	free(scopes);
	return r;
}

/* The symbol table entry that really covers addr, or NULL (symtab.h). */
static const char *symtab_name(struct addrspace *as, uint64_t addr,
			       uint64_t *ret_start)
{
	bool is_func;

	return addrspace_symbol_at(as, addr, ret_start, &is_func);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* "libc.so.6+0x1234": the offset is from the object's load bias, the
 * address addr2line and objdump use for it. */
static int add_fallback_frame(struct symbolizer *sym, struct line_list *list,
			      Dwfl_Module *mod,
			      const struct module_info *module, uint64_t pc)
{
	char name[PATH_MAX + 32];

	if (module)
		snprintf(name, sizeof(name), "%s+0x%" PRIx64,
			 base_name(module->path), pc - module->bias);
	else
		snprintf(name, sizeof(name), "0x%" PRIx64, pc);
	return add_line(sym, list, name) ? 0 : -ENOMEM;
}

static int resolve(struct symbolizer *sym, struct sym_location *loc,
		   struct line_list *list, uint64_t addr)
{
	Dwfl_Module *mod = NULL;
	uint64_t dwarf_start = 0, sym_start = 0;
	const char *name = NULL;
	struct sym_line *line;
	int r;

	if (loc->module)
		mod = dwfl_addrmodule(addrspace_dwfl(sym->as), addr);
	if (mod) {
		r = add_dwarf_frames(sym, list, mod, addr, &dwarf_start);
		if (r < 0)
			return r;
		name = symtab_name(sym->as, addr, &sym_start);
	} else if (!loc->module) {
		/* Code in no object: JIT code, named by the perf map. */
		name = perfmap_lookup(sym->jit, addr, &sym_start);
	}
	/* The symbol table says where the machine code starts even for
	 * split (hot/cold) functions, where DWARF's entry may lie after. */
	if (sym_start && sym_start <= loc->pc)
		loc->symbol_offset = loc->pc - sym_start;
	else if (dwarf_start && dwarf_start <= loc->pc)
		loc->symbol_offset = loc->pc - dwarf_start;
	else if (loc->module)
		loc->symbol_offset = loc->pc - loc->module->bias;
	if (list->n > 0)
		return 0;
	if (!name)
		return add_fallback_frame(sym, list, mod, loc->module, loc->pc);
	line = add_line(sym, list, name);
	if (!line)
		return -ENOMEM;
	return set_src(sym, line, mod, NULL, addr);
}

/* One allocation holds the location and its lines; the lines' strings
 * are the symbolizer's or the cache's. */
static struct sym_location *copy_location(const struct sym_location *tmp,
					  const struct sym_line *lines,
					  size_t nlines)
{
	struct sym_location *loc =
		malloc(sizeof(*loc) + nlines * sizeof(*lines));

	if (loc) {
		struct sym_line *copy = (struct sym_line *)(loc + 1);

		memcpy(copy, lines, nlines * sizeof(*lines));
		*loc = *tmp;
		loc->nlines = nlines;
		loc->lines = copy;
	}
	return loc;
}

static struct sym_location *build_location(struct symbolizer *sym,
					   const struct frame *frame)
{
	uint64_t addr = frame->pc - !frame->activation;
	struct sym_location tmp = {
		.pc = frame->pc,
		.activation = frame->activation,
		.module = addrspace_module_at(sym->as, addr),
	};
	struct line_list list = {0};
	struct sym_location *loc = NULL;

	if (loccache_find(sym->cache, tmp.module, frame->pc, frame->activation,
			  &tmp))
		return copy_location(&tmp, tmp.lines, tmp.nlines);
	if (resolve(sym, &tmp, &list, addr) == 0 && list.n > 0)
		loc = copy_location(&tmp, list.lines, list.n);
	if (loc)
		loccache_add(sym->cache, loc);
	free(list.lines);
	return loc;
}

const struct sym_location *symbolizer_lookup(struct symbolizer *sym,
					     const struct frame *frame)
{
	uint64_t addr = frame->pc - !frame->activation;
	const struct module_info *module = addrspace_module_at(sym->as, addr);
	struct loc_slot *slot;

	slot = loc_find(sym, module, frame->pc, frame->activation);
	if (slot->loc)
		return slot->loc;
	if (2 * (sym->nlocs + 1) > sym->locs_cap) {
		if (locs_grow(sym) < 0)
			return NULL;
		slot = loc_find(sym, module, frame->pc, frame->activation);
	}
	slot->loc = build_location(sym, frame);
	if (!slot->loc)
		return NULL;
	slot->module = module;
	slot->pc = frame->pc;
	slot->activation = frame->activation;
	sym->nlocs++;
	return slot->loc;
}
