/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <gelf.h>
#include <stdlib.h>

#include "symbolize/symtab.h"

/* How far back a lookup looks for a sized symbol whose range reaches past
 * the symbols after it (a function holding local labels). */
#define NESTED_LOOKBACK 16

struct sym_entry {
	uint64_t start, size;
	const char *name; /* owned by libelf, lives as long as the module */
	unsigned char binding, type;
};

struct symtab {
	struct sym_entry *entries; /* by start, the best name first */
	size_t n;
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

struct symtab *symtab_build(Dwfl_Module *mod)
{
	struct symtab *tab = calloc(1, sizeof(*tab));
	int count = dwfl_module_getsymtab(mod);

	if (!tab)
		return NULL;
	if (count > 0)
		tab->entries = calloc((size_t)count, sizeof(*tab->entries));
	if (count > 0 && !tab->entries) {
		free(tab);
		return NULL;
	}
	for (int i = 1; i < count; i++) {
		GElf_Addr addr;
		GElf_Sym sym;
		const char *name = dwfl_module_getsym_info(mod, i, &sym, &addr,
							   NULL, NULL, NULL);

		if (!is_code_symbol(&sym, name))
			continue;
		tab->entries[tab->n++] = (struct sym_entry){
			.start = addr,
			.size = sym.st_size,
			.name = name,
			.binding = GELF_ST_BIND(sym.st_info),
			.type = GELF_ST_TYPE(sym.st_info),
		};
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
		return e->name;
	}
	return NULL;
}
