/* SPDX-License-Identifier: MIT */
/*
 * The profile model's insides, shared by the writers in pprofout/ only.
 * Everything is stored in flat arrays and referred to by index, so the
 * pprof writer can number ids as index + 1 and the text writers can walk
 * the same tables.  String index 0 is always "".
 */
#ifndef CPROF_PPROFOUT_MODEL_H
#define CPROF_PPROFOUT_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pprofout/htab.h"
#include "pprofout/profile.h"

/* "No mapping": locations whose pc no object covers. */
#define PP_NO_MAPPING UINT32_MAX

struct pp_value_type {
	uint32_t type, unit; /* string indexes */
};

struct pp_function {
	uint32_t name, system_name, file; /* string indexes */
	int64_t start_line;
};

struct pp_mapping {
	uint64_t start, limit, file_offset;
	uint32_t path, build_id; /* string indexes */
	bool has_symbols, has_dwarf;
};

struct pp_line {
	uint32_t function; /* index into functions */
	int64_t line;
};

struct pp_location {
	uint64_t pc; /* as unwound, never adjusted */
	bool activation;
	uint32_t mapping; /* index into mappings or PP_NO_MAPPING */
	uint64_t symbol_offset;
	uint32_t nlines;
	struct pp_line *lines; /* innermost first */
};

struct pp_label {
	uint32_t key; /* string index */
	bool numeric;
	uint32_t str; /* string index, when !numeric */
	int64_t num;  /* when numeric */
};

struct pp_sample {
	uint32_t depth;
	uint32_t *locations; /* indexes into locations, leaf first */
	uint32_t nlabels;
	struct pp_label *labels; /* sorted by key, then value */
	int64_t *values;	 /* ntypes of them */
};

struct profile {
	size_t ntypes;
	struct pp_value_type *sample_types;
	bool has_period;
	struct pp_value_type period_type;
	int64_t period;
	int64_t time_nanos, duration_nanos;

	size_t ncomments, comments_cap;
	uint32_t *comments;

	size_t nstrings, strings_cap;
	char **strings;
	struct htab string_index;

	size_t nfunctions, functions_cap;
	struct pp_function *functions;
	struct htab function_index;

	size_t nmappings, mappings_cap;
	struct pp_mapping *mappings;
	struct htab mapping_index;

	size_t nlocations, locations_cap;
	struct pp_location *locations;
	struct htab location_index;

	size_t nsamples, samples_cap;
	struct pp_sample *samples;
	struct htab sample_index; /* merged samples only */
};

static inline const char *pp_str(const struct profile *profile, uint32_t idx)
{
	return profile->strings[idx];
}

/* The last component of a path. */
static inline const char *pp_base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* Makes room for need elements in *items (capacity *cap); -ENOMEM. */
int pp_reserve(void **items, size_t *cap, size_t need, size_t size);

/* A sample's label with this key: its string index (0 when none), or
 * its number (false when none). */
uint32_t pp_label_str(const struct profile *profile,
		      const struct pp_sample *sample, const char *key);
bool pp_label_num(const struct profile *profile, const struct pp_sample *sample,
		  const char *key, int64_t *num);

/* What a sample's thread was doing, as a string index: its wait, else its
 * state; 0 when unlabelled.  A running thread's wait label is the call it
 * made, not a wait, so running wins. */
uint32_t pp_sample_state(const struct profile *profile,
			 const struct pp_sample *sample);

#endif
