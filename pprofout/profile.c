/* SPDX-License-Identifier: MIT */
/*
 * The profile model: every string, function, mapping and location is
 * interned once, and a sample refers to them by index.  What a caller hands
 * in is copied, so symbolizer results need only live for one profile_add().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pprofout/model.h"

int pp_reserve(void **items, size_t *cap, size_t need, size_t size)
{
	size_t new_cap = *cap ? *cap : 16;
	void *grown;

	if (need <= *cap)
		return 0;
	while (new_cap < need)
		new_cap *= 2;
	/* Indexes are 32-bit; UINT32_MAX itself is reserved as "none". */
	if (new_cap > UINT32_MAX)
		return -ENOMEM;
	grown = reallocarray(*items, new_cap, size);
	if (!grown)
		return -ENOMEM;
	*items = grown;
	*cap = new_cap;
	return 0;
}

/* Strings */

static bool string_eq(const void *ctx, uint32_t item, const void *key)
{
	const struct profile *profile = ctx;

	return strcmp(profile->strings[item], key) == 0;
}

static int intern_string(struct profile *profile, const char *s,
			 uint32_t *ret_idx)
{
	uint32_t hash = hash_bytes(HASH_SEED, s, strlen(s));
	uint32_t idx;
	char *copy;
	int ret;

	if (htab_find(&profile->string_index, hash, string_eq, profile, s,
		      &idx)) {
		*ret_idx = idx;
		return 0;
	}
	ret = pp_reserve((void **)&profile->strings, &profile->strings_cap,
			 profile->nstrings + 1, sizeof(*profile->strings));
	if (ret < 0)
		return ret;
	copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	idx = profile->nstrings;
	ret = htab_insert(&profile->string_index, hash, idx);
	if (ret < 0) {
		free(copy);
		return ret;
	}
	profile->strings[profile->nstrings++] = copy;
	*ret_idx = idx;
	return 0;
}

/* Functions, keyed by (name, system_name, file, start_line) */

static bool function_eq(const void *ctx, uint32_t item, const void *key)
{
	const struct profile *profile = ctx;
	const struct pp_function *a = &profile->functions[item], *b = key;

	return a->name == b->name && a->system_name == b->system_name &&
	       a->file == b->file && a->start_line == b->start_line;
}

static int intern_function(struct profile *profile, const struct sym_line *sl,
			   uint32_t *ret_idx)
{
	struct pp_function fn = {.start_line = (int64_t)sl->start_line};
	uint64_t hash;
	uint32_t idx;
	int ret;

	if ((ret = intern_string(profile, sl->function, &fn.name)) < 0 ||
	    (ret = intern_string(profile, sl->system_name, &fn.system_name)) <
		    0 ||
	    (ret = intern_string(profile, sl->file, &fn.file)) < 0)
		return ret;
	hash = hash_bytes(HASH_SEED, &fn.name, sizeof(fn.name));
	hash = hash_bytes(hash, &fn.system_name, sizeof(fn.system_name));
	hash = hash_bytes(hash, &fn.file, sizeof(fn.file));
	hash = hash_u64(hash, fn.start_line);
	if (htab_find(&profile->function_index, hash, function_eq, profile, &fn,
		      &idx)) {
		*ret_idx = idx;
		return 0;
	}
	ret = pp_reserve((void **)&profile->functions, &profile->functions_cap,
			 profile->nfunctions + 1, sizeof(fn));
	if (ret < 0)
		return ret;
	idx = profile->nfunctions;
	ret = htab_insert(&profile->function_index, hash, idx);
	if (ret < 0)
		return ret;
	profile->functions[profile->nfunctions++] = fn;
	*ret_idx = idx;
	return 0;
}

/*
 * Mappings, keyed by (start, path): the same start with another path is
 * another object mapped there after a dlclose.
 */

static bool mapping_eq(const void *ctx, uint32_t item, const void *key)
{
	const struct profile *profile = ctx;
	const struct pp_mapping *a = &profile->mappings[item], *b = key;

	return a->start == b->start && a->path == b->path;
}

static int intern_mapping(struct profile *profile,
			  const struct module_info *module, uint32_t *ret_idx)
{
	struct pp_mapping map = {
		.start = module->start,
		.limit = module->end,
		.file_offset = module->file_offset,
		.has_symbols = module->has_symbols,
		.has_dwarf = module->has_dwarf,
	};
	uint64_t hash;
	uint32_t idx;
	int ret;

	if ((ret = intern_string(profile, module->path, &map.path)) < 0 ||
	    (ret = intern_string(profile, module->build_id, &map.build_id)) < 0)
		return ret;
	hash = hash_u64(HASH_SEED, map.start);
	hash = hash_bytes(hash, &map.path, sizeof(map.path));
	if (htab_find(&profile->mapping_index, hash, mapping_eq, profile, &map,
		      &idx)) {
		*ret_idx = idx;
		return 0;
	}
	ret = pp_reserve((void **)&profile->mappings, &profile->mappings_cap,
			 profile->nmappings + 1, sizeof(map));
	if (ret < 0)
		return ret;
	idx = profile->nmappings;
	ret = htab_insert(&profile->mapping_index, hash, idx);
	if (ret < 0)
		return ret;
	profile->mappings[profile->nmappings++] = map;
	*ret_idx = idx;
	return 0;
}

/*
 * Locations, keyed by (pc, activation, mapping): the symbolizer resolves
 * exactly these, so equal keys always carry equal lines.
 */

static bool location_eq(const void *ctx, uint32_t item, const void *key)
{
	const struct profile *profile = ctx;
	const struct pp_location *a = &profile->locations[item], *b = key;

	return a->pc == b->pc && a->activation == b->activation &&
	       a->mapping == b->mapping;
}

static int copy_lines(struct profile *profile, const struct sym_location *sl,
		      struct pp_location *loc)
{
	int ret;

	if (sl->nlines == 0 || sl->nlines > UINT32_MAX || !sl->lines)
		return -EINVAL;
	loc->lines = calloc(sl->nlines, sizeof(*loc->lines));
	if (!loc->lines)
		return -ENOMEM;
	for (size_t i = 0; i < sl->nlines; i++) {
		ret = intern_function(profile, &sl->lines[i],
				      &loc->lines[i].function);
		if (ret < 0) {
			free(loc->lines);
			return ret;
		}
		loc->lines[i].line = sl->lines[i].line;
	}
	loc->nlines = sl->nlines;
	return 0;
}

static int intern_location(struct profile *profile,
			   const struct sym_location *sl, uint32_t *ret_idx)
{
	struct pp_location loc = {
		.pc = sl->pc,
		.activation = sl->activation,
		.mapping = PP_NO_MAPPING,
		.symbol_offset = sl->symbol_offset,
	};
	uint64_t hash;
	uint32_t idx;
	int ret;

	if (sl->module) {
		ret = intern_mapping(profile, sl->module, &loc.mapping);
		if (ret < 0)
			return ret;
	}
	hash = hash_u64(HASH_SEED, loc.pc);
	hash = hash_u64(hash, loc.activation);
	hash = hash_u64(hash, loc.mapping);
	if (htab_find(&profile->location_index, hash, location_eq, profile,
		      &loc, &idx)) {
		*ret_idx = idx;
		return 0;
	}
	ret = pp_reserve((void **)&profile->locations, &profile->locations_cap,
			 profile->nlocations + 1, sizeof(loc));
	if (ret < 0)
		return ret;
	ret = copy_lines(profile, sl, &loc);
	if (ret < 0)
		return ret;
	idx = profile->nlocations;
	ret = htab_insert(&profile->location_index, hash, idx);
	if (ret < 0) {
		free(loc.lines);
		return ret;
	}
	profile->locations[profile->nlocations++] = loc;
	*ret_idx = idx;
	return 0;
}

/* Labels, sorted so that equal sets compare equal whatever the input order */

static int label_cmp(const void *a, const void *b, void *ctx)
{
	const struct profile *profile = ctx;
	const struct pp_label *x = a, *y = b;
	int cmp = strcmp(pp_str(profile, x->key), pp_str(profile, y->key));

	if (cmp)
		return cmp;
	if (x->numeric != y->numeric)
		return x->numeric ? -1 : 1;
	if (x->numeric)
		return (x->num > y->num) - (x->num < y->num);
	return strcmp(pp_str(profile, x->str), pp_str(profile, y->str));
}

static int intern_labels(struct profile *profile, const struct label *labels,
			 size_t nlabels, struct pp_label *out)
{
	int ret;

	for (size_t i = 0; i < nlabels; i++) {
		if (!labels[i].key)
			return -EINVAL;
		out[i] = (struct pp_label){.numeric = !labels[i].str,
					   .num = labels[i].num};
		ret = intern_string(profile, labels[i].key, &out[i].key);
		if (ret < 0)
			return ret;
		if (labels[i].str) {
			out[i].num = 0;
			ret = intern_string(profile, labels[i].str,
					    &out[i].str);
			if (ret < 0)
				return ret;
		}
	}
	qsort_r(out, nlabels, sizeof(*out), label_cmp, profile);
	return 0;
}

/* Samples, keyed by (stack, labels) */

static uint64_t sample_hash(const struct pp_sample *sample)
{
	uint64_t hash = hash_u64(HASH_SEED, sample->depth);

	hash = hash_bytes(hash, sample->locations,
			  sample->depth * sizeof(*sample->locations));
	for (uint32_t i = 0; i < sample->nlabels; i++) {
		const struct pp_label *l = &sample->labels[i];

		hash = hash_u64(hash, l->key);
		hash = hash_u64(hash, l->numeric ? (uint64_t)l->num : l->str);
	}
	return hash;
}

static bool label_eq(const struct pp_label *a, const struct pp_label *b)
{
	return a->key == b->key && a->numeric == b->numeric &&
	       (a->numeric ? a->num == b->num : a->str == b->str);
}

static bool sample_eq(const void *ctx, uint32_t item, const void *key)
{
	const struct profile *profile = ctx;
	const struct pp_sample *a = &profile->samples[item], *b = key;

	if (a->depth != b->depth || a->nlabels != b->nlabels)
		return false;
	if (memcmp(a->locations, b->locations,
		   a->depth * sizeof(*a->locations)))
		return false;
	for (uint32_t i = 0; i < a->nlabels; i++) {
		if (!label_eq(&a->labels[i], &b->labels[i]))
			return false;
	}
	return true;
}

static void sample_release(struct pp_sample *sample)
{
	free(sample->locations);
	free(sample->labels);
	free(sample->values);
}

/* Fills key with interned copies of the caller's stack and labels. */
static int sample_init(struct profile *profile,
		       const struct sym_location *const *stack, size_t depth,
		       const struct label *labels, size_t nlabels,
		       struct pp_sample *key)
{
	int ret;

	*key = (struct pp_sample){.depth = depth, .nlabels = nlabels};
	/* One extra element so an empty stack is not a NULL from malloc. */
	key->locations = calloc(depth + 1, sizeof(*key->locations));
	key->labels = calloc(nlabels + 1, sizeof(*key->labels));
	key->values = calloc(profile->ntypes, sizeof(*key->values));
	if (!key->locations || !key->labels || !key->values) {
		ret = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < depth; i++) {
		ret = -EINVAL;
		if (!stack[i])
			goto fail;
		ret = intern_location(profile, stack[i], &key->locations[i]);
		if (ret < 0)
			goto fail;
	}
	ret = intern_labels(profile, labels, nlabels, key->labels);
	if (ret < 0)
		goto fail;
	return 0;
fail:
	sample_release(key);
	return ret;
}

static int append_sample(struct profile *profile, struct pp_sample *sample,
			 uint64_t hash, int merge)
{
	int ret;

	ret = pp_reserve((void **)&profile->samples, &profile->samples_cap,
			 profile->nsamples + 1, sizeof(*sample));
	if (ret < 0)
		return ret;
	if (merge) {
		ret = htab_insert(&profile->sample_index, hash,
				  profile->nsamples);
		if (ret < 0)
			return ret;
	}
	profile->samples[profile->nsamples++] = *sample;
	return 0;
}

int profile_add(struct profile *profile,
		const struct sym_location *const *stack, size_t depth,
		const int64_t *values, const struct label *labels,
		size_t nlabels, int merge)
{
	struct pp_sample key;
	uint64_t hash;
	uint32_t idx;
	int ret;

	if (!profile || !values || (depth && !stack) || (nlabels && !labels) ||
	    depth >= UINT32_MAX || nlabels >= UINT32_MAX)
		return -EINVAL;
	ret = sample_init(profile, stack, depth, labels, nlabels, &key);
	if (ret < 0)
		return ret;
	hash = sample_hash(&key);
	if (merge && htab_find(&profile->sample_index, hash, sample_eq, profile,
			       &key, &idx)) {
		for (size_t i = 0; i < profile->ntypes; i++)
			profile->samples[idx].values[i] += values[i];
		sample_release(&key);
		return 0;
	}
	memcpy(key.values, values, profile->ntypes * sizeof(*values));
	ret = append_sample(profile, &key, hash, merge);
	if (ret < 0)
		sample_release(&key);
	return ret;
}

size_t profile_sample_count(const struct profile *profile)
{
	return profile->nsamples;
}

/* Profile */

static int intern_value_type(struct profile *profile,
			     const struct value_type *vt,
			     struct pp_value_type *out)
{
	int ret;

	if (!vt->type || !vt->unit)
		return -EINVAL;
	ret = intern_string(profile, vt->type, &out->type);
	if (ret < 0)
		return ret;
	return intern_string(profile, vt->unit, &out->unit);
}

static int profile_init(struct profile *profile,
			const struct value_type *sample_types, size_t ntypes,
			const struct value_type *period_type, int64_t period)
{
	uint32_t empty;
	int ret;

	/* pprof requires string_table[0] == "". */
	ret = intern_string(profile, "", &empty);
	if (ret < 0)
		return ret;
	profile->sample_types = calloc(ntypes, sizeof(*profile->sample_types));
	if (!profile->sample_types)
		return -ENOMEM;
	profile->ntypes = ntypes;
	for (size_t i = 0; i < ntypes; i++) {
		ret = intern_value_type(profile, &sample_types[i],
					&profile->sample_types[i]);
		if (ret < 0)
			return ret;
	}
	if (!period_type)
		return 0;
	profile->has_period = true;
	profile->period = period;
	return intern_value_type(profile, period_type, &profile->period_type);
}

struct profile *profile_new(const struct value_type *sample_types,
			    size_t ntypes, const struct value_type *period_type,
			    int64_t period)
{
	struct profile *profile;
	int ret;

	/* Text output counts values[0], so there is always one. */
	if (!sample_types || ntypes == 0) {
		errno = EINVAL;
		return NULL;
	}
	profile = calloc(1, sizeof(*profile));
	if (!profile)
		return NULL;
	ret = profile_init(profile, sample_types, ntypes, period_type, period);
	if (ret < 0) {
		profile_free(profile);
		errno = -ret;
		return NULL;
	}
	return profile;
}

void profile_free(struct profile *profile)
{
	if (!profile)
		return;
	for (size_t i = 0; i < profile->nsamples; i++)
		sample_release(&profile->samples[i]);
	for (size_t i = 0; i < profile->nlocations; i++)
		free(profile->locations[i].lines);
	for (size_t i = 0; i < profile->nstrings; i++)
		free(profile->strings[i]);
	htab_release(&profile->sample_index);
	htab_release(&profile->location_index);
	htab_release(&profile->mapping_index);
	htab_release(&profile->function_index);
	htab_release(&profile->string_index);
	free(profile->samples);
	free(profile->locations);
	free(profile->mappings);
	free(profile->functions);
	free(profile->strings);
	free(profile->comments);
	free(profile->sample_types);
	free(profile);
}

void profile_set_time(struct profile *profile, int64_t time_nanos,
		      int64_t duration_nanos)
{
	profile->time_nanos = time_nanos;
	profile->duration_nanos = duration_nanos;
}

int profile_add_comment(struct profile *profile, const char *comment)
{
	uint32_t idx;
	int ret;

	if (!profile || !comment)
		return -EINVAL;
	ret = pp_reserve((void **)&profile->comments, &profile->comments_cap,
			 profile->ncomments + 1, sizeof(*profile->comments));
	if (ret < 0)
		return ret;
	ret = intern_string(profile, comment, &idx);
	if (ret < 0)
		return ret;
	profile->comments[profile->ncomments++] = idx;
	return 0;
}

static const struct pp_label *find_label(const struct profile *profile,
					 const struct pp_sample *sample,
					 const char *key, bool numeric)
{
	for (uint32_t i = 0; i < sample->nlabels; i++) {
		const struct pp_label *label = &sample->labels[i];

		if (label->numeric == numeric &&
		    !strcmp(pp_str(profile, label->key), key))
			return label;
	}
	return NULL;
}

uint32_t pp_label_str(const struct profile *profile,
		      const struct pp_sample *sample, const char *key)
{
	const struct pp_label *label = find_label(profile, sample, key, false);

	return label ? label->str : 0;
}

bool pp_label_num(const struct profile *profile, const struct pp_sample *sample,
		  const char *key, int64_t *num)
{
	const struct pp_label *label = find_label(profile, sample, key, true);

	if (label)
		*num = label->num;
	return label != NULL;
}

uint32_t pp_sample_state(const struct profile *profile,
			 const struct pp_sample *sample)
{
	uint32_t state = pp_label_str(profile, sample, LABEL_STATE);
	uint32_t wait = pp_label_str(profile, sample, LABEL_WAIT);

	if (state && !strcmp(pp_str(profile, state), "running"))
		return state;
	return wait ? wait : state;
}
