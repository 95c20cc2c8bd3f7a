/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "symbolize/symtab.h"

/* How far back a lookup looks for a sized symbol whose range reaches past
 * the symbols after it (a function holding local labels). */
#define NESTED_LOOKBACK 16

struct sym_entry {
	uint64_t start, size;
	size_t name; /* offset in symtab.names */
	unsigned char binding, type;
};

struct symtab {
	struct sym_entry *entries; /* by start, the best name first */
	size_t n;
	char *names; /* every name, NUL-terminated, one after another */
	size_t names_len, names_cap;
};

static bool is_code_symbol(const GElf_Sym *sym, const char *name)
{
	int type = GELF_ST_TYPE(sym->st_info);

	return name && name[0] && sym->st_shndx != SHN_UNDEF &&
	       (type == STT_FUNC || type == STT_GNU_IFUNC ||
		type == STT_NOTYPE);
}

/* Among symbols at one address: functions before labels, global before
 * weak before local, as libdw's own lookup prefers them. */
static int rank(const struct sym_entry *e)
{
	int r = e->type == STT_NOTYPE ? 4 : 0;

	if (e->binding == STB_WEAK)
		r += 1;
	else if (e->binding == STB_LOCAL)
		r += 2;
	return r;
}

static int compare_entries(const void *x, const void *y)
{
	const struct sym_entry *a = x, *b = y;

	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	return rank(a) - rank(b);
}

/* Appends name to tab->names; its offset there, or -ENOMEM. */
static ssize_t add_name(struct symtab *tab, const char *name)
{
	size_t len = strlen(name) + 1, at = tab->names_len;

	if (tab->names_cap - tab->names_len < len) {
		size_t cap = tab->names_cap ? 2 * tab->names_cap : 4096;
		char *grown;

		while (cap - tab->names_len < len)
			cap *= 2;
		grown = realloc(tab->names, cap);
		if (!grown)
			return -ENOMEM;
		tab->names = grown;
		tab->names_cap = cap;
	}
	memcpy(tab->names + at, name, len);
	tab->names_len += len;
	return (ssize_t)at;
}

static int add_symbols(struct symtab *tab, Dwfl_Module *mod, int count,
		       uint64_t bias)
{
	for (int i = 1; i < count; i++) {
		GElf_Addr addr;
		GElf_Sym sym;
		const char *name = dwfl_module_getsym_info(mod, i, &sym, &addr,
							   NULL, NULL, NULL);
		ssize_t at;

		if (!is_code_symbol(&sym, name))
			continue;
		at = add_name(tab, name);
		if (at < 0)
			return -ENOMEM;
		tab->entries[tab->n++] = (struct sym_entry){
			.start = addr - bias,
			.size = sym.st_size,
			.name = (size_t)at,
			.binding = GELF_ST_BIND(sym.st_info),
			.type = GELF_ST_TYPE(sym.st_info),
		};
	}
	return 0;
}

struct symtab *symtab_build(Dwfl_Module *mod, uint64_t bias)
{
	struct symtab *tab = calloc(1, sizeof(*tab));
	int count = dwfl_module_getsymtab(mod);

	if (!tab)
		return NULL;
	if (count > 0)
		tab->entries = calloc((size_t)count, sizeof(*tab->entries));
	if (count > 0 &&
	    (!tab->entries || add_symbols(tab, mod, count, bias) < 0)) {
		symtab_free(tab);
		return NULL;
	}
	if (tab->n)
		qsort(tab->entries, tab->n, sizeof(*tab->entries),
		      compare_entries);
	return tab;
}

void symtab_free(struct symtab *tab)
{
	if (!tab)
		return;
	free(tab->entries);
	free(tab->names);
	free(tab);
}

static bool covers(const struct sym_entry *e, uint64_t addr)
{
	return e->size ? addr - e->start < e->size : addr == e->start;
}

/* The index of the first entry at the greatest start <= addr, or n. */
static size_t last_run_at_or_below(const struct symtab *tab, uint64_t addr)
{
	size_t lo = 0, hi = tab->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (tab->entries[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return tab->n;
	lo--;
	while (lo > 0 && tab->entries[lo - 1].start == tab->entries[lo].start)
		lo--;
	return lo;
}

const char *symtab_lookup(const struct symtab *tab, uint64_t addr,
			  uint64_t *ret_start, bool *ret_is_func)
{
	size_t first = tab ? last_run_at_or_below(tab, addr) : 0;

	if (!tab || first == tab->n)
		return NULL;
	for (size_t i = first + 1, seen = 0; i-- > 0 && seen < NESTED_LOOKBACK;
	     seen++) {
		const struct sym_entry *e = &tab->entries[i];

		/* Entries of one address are best first: take the first
		 * that covers, then go below for an enclosing one. */
		if (!covers(e, addr))
			continue;
		while (i > 0 && tab->entries[i - 1].start == e->start &&
		       covers(&tab->entries[i - 1], addr))
			e = &tab->entries[--i];
		*ret_start = e->start;
		*ret_is_func = e->type != STT_NOTYPE;
		return tab->names + e->name;
	}
	return NULL;
}
