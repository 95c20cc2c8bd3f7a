/* SPDX-License-Identifier: MIT */
/*
 * .debug_aranges (DWARF 5, section 6.1.2): sets of (address, length)
 * tuples, each set headed by its unit's offset in .debug_info, read
 * straight from the section into one array of ranges sorted by start.
 */
#include "symbolize/cuindex.h"

#include <elfutils/libdw.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>

struct cu_range {
	uint64_t start, end; /* DWARF addresses */
	Dwarf_Off unit;	     /* the unit header's offset in .debug_info */
};

struct cu_index {
	Dwarf *dbg;
	struct cu_range *ranges;
	size_t n;
};

/* A little-endian reader over one section; ok turns false past its end. */
struct reader {
	const unsigned char *p, *end;
	bool ok;
};

static uint64_t read_le(struct reader *r, size_t size)
{
	uint64_t v = 0;

	if (!r->ok || (size_t)(r->end - r->p) < size) {
		r->ok = false;
		return 0;
	}
	for (size_t i = 0; i < size; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += size;
	return v;
}

static Elf_Data *aranges_data(Dwarf *dbg)
{
	Elf *elf = dwarf_getelf(dbg);
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (!elf || elf_getshdrstrndx(elf, &shstrndx) < 0)
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		const char *name;

		if (!gelf_getshdr(scn, &shdr))
			return NULL;
		name = elf_strptr(elf, shstrndx, shdr.sh_name);
		if (!name || strcmp(name, ".debug_aranges"))
			continue;
		/* libdw inflated it when it opened dbg; if not, now. */
		if ((shdr.sh_flags & SHF_COMPRESSED) &&
		    elf_compress(scn, 0, 0) < 0)
			return NULL;
		return elf_getdata(scn, NULL);
	}
	return NULL;
}

static bool add_range(struct cu_index *idx, size_t *cap,
		      const struct cu_range *range)
{
	if (idx->n == *cap) {
		size_t new_cap = *cap ? *cap * 2 : 1024;
		struct cu_range *r = realloc(idx->ranges, new_cap * sizeof(*r));

		if (!r)
			return false;
		idx->ranges = r;
		*cap = new_cap;
	}
	idx->ranges[idx->n++] = *range;
	return true;
}

/* One set: its header, then tuples up to the (0, 0) that ends it. */
static bool read_set(struct cu_index *idx, size_t *cap, struct reader *r)
{
	const unsigned char *set = r->p;
	uint64_t length = read_le(r, 4);
	size_t offset_size = 4, addr_size, tuple;
	struct reader body;
	Dwarf_Off unit;

	if (length == 0xffffffff) {
		length = read_le(r, 8);
		offset_size = 8;
	}
	if (!r->ok || length > (uint64_t)(r->end - r->p))
		return false;
	body = (struct reader){r->p, r->p + length, true};
	r->p += length;
	if (read_le(&body, 2) != 2) /* the only version there is */
		return false;
	unit = read_le(&body, offset_size);
	addr_size = read_le(&body, 1);
	if (read_le(&body, 1) != 0 || (addr_size != 4 && addr_size != 8))
		return false; /* segmented addresses: not on Linux */
	/* Tuples start at a multiple of their size from the set's start. */
	tuple = 2 * addr_size;
	body.p = set + ((size_t)(body.p - set) + tuple - 1) / tuple * tuple;
	while (body.ok) {
		uint64_t start = read_le(&body, addr_size);
		uint64_t len = read_le(&body, addr_size);

		if (!body.ok || (start == 0 && len == 0))
			break;
		if (len &&
		    !add_range(idx, cap,
			       &(struct cu_range){start, start + len, unit}))
			return false;
	}
	return body.ok;
}

static int by_start(const void *a, const void *b)
{
	const struct cu_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static bool sorted(const struct cu_index *idx)
{
	for (size_t i = 1; i < idx->n; i++)
		if (idx->ranges[i].start < idx->ranges[i - 1].start)
			return false;
	return true;
}

struct cu_index *cu_index_build(Dwarf *dbg)
{
	Elf_Data *data = aranges_data(dbg);
	struct cu_index *idx;
	struct reader r;
	size_t cap = 0;

	if (!data || !data->d_buf || data->d_size == 0)
		return NULL;
	idx = calloc(1, sizeof(*idx));
	if (!idx)
		return NULL;
	idx->dbg = dbg;
	r = (struct reader){data->d_buf,
			    (const unsigned char *)data->d_buf + data->d_size,
			    true};
	while (r.p < r.end) {
		if (!read_set(idx, &cap, &r)) {
			cu_index_free(idx);
			return NULL;
		}
	}
	/* gcc writes the units in address order: no sort needed then. */
	if (!sorted(idx))
		qsort(idx->ranges, idx->n, sizeof(*idx->ranges), by_start);
	return idx;
}

void cu_index_free(struct cu_index *idx)
{
	if (!idx)
		return;
	free(idx->ranges);
	free(idx);
}

/* The unit header at offset unit: its DIE follows the header. */
static bool unit_die(Dwarf *dbg, Dwarf_Off unit, Dwarf_Die *die_mem)
{
	Dwarf_Off next;
	size_t header_size;

	return dwarf_next_unit(dbg, unit, &next, &header_size, NULL, NULL, NULL,
			       NULL, NULL, NULL) == 0 &&
	       dwarf_offdie(dbg, unit + header_size, die_mem) != NULL;
}

bool cu_index_find(const struct cu_index *idx, uint64_t addr,
		   Dwarf_Die *die_mem)
{
	size_t lo = 0, hi = idx->n;

	/* The ranges of different units never overlap: the last range
	 * starting at or below addr is the only one that may hold it. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (idx->ranges[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || addr >= idx->ranges[lo - 1].end)
		return false;
	return unit_die(idx->dbg, idx->ranges[lo - 1].unit, die_mem);
}
