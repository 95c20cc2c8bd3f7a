/* SPDX-License-Identifier: MIT */
/*
 * Text output modelled on Go's goroutine profile: debug=1 groups equal
 * (stack, labels) samples with a count, debug=2 prints every sample with a
 * thread header.  The exact layouts are in pprofout/FORMATS.md; golden
 * tests pin them, so change both together.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pprofout/model.h"

/* Quoted like a C string literal, so any name stays on one line. */
static void print_quoted(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\')
			fprintf(out, "\\%c", *c);
		else if (*c == '\n')
			fputs("\\n", out);
		else if (*c == '\t')
			fputs("\\t", out);
		else if (*c == '\r')
			fputs("\\r", out);
		else if (*c < 0x20 || *c == 0x7f)
			fprintf(out, "\\%03o", *c);
		else
			fputc(*c, out); /* UTF-8 passes through */
	}
	fputc('"', out);
}

static const struct pp_label *find_label(const struct profile *profile,
					 const struct pp_sample *sample,
					 const char *key)
{
	for (uint32_t i = 0; i < sample->nlabels; i++) {
		if (!strcmp(pp_str(profile, sample->labels[i].key), key))
			return &sample->labels[i];
	}
	return NULL;
}

static const char *location_module(const struct profile *profile,
				   const struct pp_location *loc)
{
	if (loc->mapping == PP_NO_MAPPING)
		return NULL;
	return pp_str(profile, profile->mappings[loc->mapping].path);
}

/* FILE:LINE, else the module's path, else NULL. */
static void print_where(FILE *out, const struct profile *profile,
			const struct pp_location *loc, uint32_t i,
			const char *none)
{
	const struct pp_function *fn =
		&profile->functions[loc->lines[i].function];
	const char *module = location_module(profile, loc);

	if (*pp_str(profile, fn->file))
		fprintf(out, "%s:%" PRId64, pp_str(profile, fn->file),
			loc->lines[i].line);
	else if (module)
		fputs(module, out);
	else if (none)
		fputs(none, out);
}

static bool has_where(const struct profile *profile,
		      const struct pp_location *loc, uint32_t i)
{
	const struct pp_function *fn =
		&profile->functions[loc->lines[i].function];

	return *pp_str(profile, fn->file) || location_module(profile, loc);
}

static const char *line_function(const struct profile *profile,
				 const struct pp_location *loc, uint32_t i)
{
	return pp_str(profile, profile->functions[loc->lines[i].function].name);
}

/* debug=1 */

/* Labels that differ between threads of one group do not split it;
 * those of the process are said once, in its block's header. */
static bool groups_by(const struct profile *profile, const struct pp_label *l)
{
	const char *key = pp_str(profile, l->key);

	return strcmp(key, LABEL_THREAD_ID) && strcmp(key, LABEL_THREAD_NAME) &&
	       strcmp(key, LABEL_PID) && strcmp(key, LABEL_PROCESS);
}

/* Whether a sample belongs to the process asked for (any: all). */
static bool of_process(const struct profile *profile,
		       const struct pp_sample *sample, const int64_t *pid)
{
	const struct pp_label *l;

	if (!pid)
		return true;
	l = find_label(profile, sample, LABEL_PID);
	return l && l->numeric && l->num == *pid;
}

static void print_labels(FILE *out, const struct profile *profile,
			 const struct pp_sample *sample)
{
	const char *sep = "{";

	for (uint32_t i = 0; i < sample->nlabels; i++) {
		const struct pp_label *l = &sample->labels[i];

		if (!groups_by(profile, l))
			continue;
		fputs(sep, out);
		print_quoted(out, pp_str(profile, l->key));
		fputc(':', out);
		if (l->numeric)
			fprintf(out, "%" PRId64, l->num);
		else
			print_quoted(out, pp_str(profile, l->str));
		sep = ", ";
	}
	if (*sep == ',')
		fputc('}', out);
}

/* Function names leaf first, one a line: the stack's sort key. */
static void print_names(FILE *out, const struct profile *profile,
			const struct pp_sample *sample)
{
	for (uint32_t d = 0; d < sample->depth; d++) {
		const struct pp_location *loc =
			&profile->locations[sample->locations[d]];

		for (uint32_t i = 0; i < loc->nlines; i++)
			fprintf(out, "%s\n", line_function(profile, loc, i));
	}
}

struct group {
	uint32_t sample; /* the first sample of the group */
	int64_t count;
	char *labels; /* as printed; "" when none */
	char *names;
};

struct grouping {
	const struct profile *profile;
	struct group *groups;
	size_t ngroups, cap;
	struct htab index;
};

typedef void (*print_fn)(FILE *out, const struct profile *profile,
			 const struct pp_sample *sample);

static char *print_to_string(const struct profile *profile,
			     const struct pp_sample *sample, print_fn print)
{
	char *buf = NULL;
	size_t len;
	FILE *out = open_memstream(&buf, &len);

	if (!out)
		return NULL;
	print(out, profile, sample);
	if (fclose(out)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static bool group_eq(const void *ctx, uint32_t item, const void *key)
{
	const struct grouping *g = ctx;
	const struct group *a = &g->groups[item], *b = key;
	const struct pp_sample *sa = &g->profile->samples[a->sample];
	const struct pp_sample *sb = &g->profile->samples[b->sample];

	return sa->depth == sb->depth &&
	       !memcmp(sa->locations, sb->locations,
		       sa->depth * sizeof(*sa->locations)) &&
	       !strcmp(a->labels, b->labels);
}

static int group_sample(struct grouping *g, uint32_t idx)
{
	const struct pp_sample *s = &g->profile->samples[idx];
	struct group key = {.sample = idx, .count = s->values[0]};
	uint64_t hash;
	uint32_t found;
	int ret = -ENOMEM;

	key.labels = print_to_string(g->profile, s, print_labels);
	if (!key.labels)
		return -ENOMEM;
	hash = hash_bytes(HASH_SEED, s->locations,
			  s->depth * sizeof(*s->locations));
	hash = hash_bytes(hash, key.labels, strlen(key.labels));
	if (htab_find(&g->index, hash, group_eq, g, &key, &found)) {
		g->groups[found].count += key.count;
		free(key.labels);
		return 0;
	}
	key.names = print_to_string(g->profile, s, print_names);
	if (!key.names ||
	    pp_reserve((void **)&g->groups, &g->cap, g->ngroups + 1,
		       sizeof(key)) < 0 ||
	    htab_insert(&g->index, hash, g->ngroups) < 0)
		goto fail;
	g->groups[g->ngroups++] = key;
	return 0;
fail:
	free(key.names);
	free(key.labels);
	return ret;
}

static int compare_pcs(const struct profile *profile, const struct pp_sample *a,
		       const struct pp_sample *b)
{
	for (uint32_t d = 0; d < a->depth && d < b->depth; d++) {
		uint64_t pa = profile->locations[a->locations[d]].pc;
		uint64_t pb = profile->locations[b->locations[d]].pc;

		if (pa != pb)
			return pa < pb ? -1 : 1;
	}
	return (a->depth > b->depth) - (a->depth < b->depth);
}

/* Count descending, then names, then labels: dumps of one process diff. */
static int group_cmp(const void *x, const void *y, void *ctx)
{
	const struct profile *profile = ctx;
	const struct group *a = x, *b = y;
	int cmp;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	if ((cmp = strcmp(a->names, b->names)))
		return cmp;
	if ((cmp = strcmp(a->labels, b->labels)))
		return cmp;
	cmp = compare_pcs(profile, &profile->samples[a->sample],
			  &profile->samples[b->sample]);
	if (cmp)
		return cmp;
	return (a->sample > b->sample) - (a->sample < b->sample);
}

static void grouping_release(struct grouping *g)
{
	for (size_t i = 0; i < g->ngroups; i++) {
		free(g->groups[i].labels);
		free(g->groups[i].names);
	}
	free(g->groups);
	htab_release(&g->index);
}

static void print_group_frames(FILE *out, const struct profile *profile,
			       const struct pp_sample *s)
{
	for (uint32_t d = 0; d < s->depth; d++) {
		const struct pp_location *loc =
			&profile->locations[s->locations[d]];

		for (uint32_t i = 0; i < loc->nlines; i++) {
			fprintf(out, "#\t0x%" PRIx64 "\t%s", loc->pc,
				line_function(profile, loc, i));
			if (i == loc->nlines - 1)
				fprintf(out, "+0x%" PRIx64, loc->symbol_offset);
			if (has_where(profile, loc, i))
				fputc('\t', out);
			print_where(out, profile, loc, i, NULL);
			fputc('\n', out);
		}
	}
}

static void print_group(FILE *out, const struct profile *profile,
			const struct group *group)
{
	const struct pp_sample *s = &profile->samples[group->sample];

	fprintf(out, "%" PRId64 " @", group->count);
	for (uint32_t d = 0; d < s->depth; d++)
		fprintf(out, " 0x%" PRIx64,
			profile->locations[s->locations[d]].pc);
	fputc('\n', out);
	if (*group->labels)
		fprintf(out, "# labels: %s\n", group->labels);
	print_group_frames(out, profile, s);
	fputc('\n', out);
}

static int write_grouped(const struct profile *profile, const int64_t *pid,
			 FILE *out)
{
	struct grouping g = {.profile = profile};
	int64_t total = 0;
	int ret = 0;

	for (size_t i = 0; i < profile->nsamples && ret == 0; i++) {
		if (!of_process(profile, &profile->samples[i], pid))
			continue;
		total += profile->samples[i].values[0];
		ret = group_sample(&g, i);
	}
	if (ret == 0) {
		qsort_r(g.groups, g.ngroups, sizeof(*g.groups), group_cmp,
			(void *)profile);
		fprintf(out, "thread profile: total %" PRId64 "\n", total);
		for (size_t i = 0; i < g.ngroups; i++)
			print_group(out, profile, &g.groups[i]);
	}
	grouping_release(&g);
	return ret;
}

/* debug=2 */

static void print_header(FILE *out, const struct profile *profile,
			 const struct pp_sample *s)
{
	const struct pp_label *tid = find_label(profile, s, LABEL_THREAD_ID);
	const struct pp_label *name = find_label(profile, s, LABEL_THREAD_NAME);
	const struct pp_label *state = find_label(profile, s, LABEL_STATE);
	const struct pp_label *wait = find_label(profile, s, LABEL_WAIT);

	fputs("thread ", out);
	if (tid && tid->numeric)
		fprintf(out, "%" PRId64, tid->num);
	else
		fputs(tid ? pp_str(profile, tid->str) : "?", out);
	fputc(' ', out);
	print_quoted(out,
		     name && !name->numeric ? pp_str(profile, name->str) : "");
	fputs(" [", out);
	if (wait && !wait->numeric)
		fprintf(out, "%s, ", pp_str(profile, wait->str));
	fprintf(out, "%s]:\n",
		state && !state->numeric ? pp_str(profile, state->str)
					 : "unknown");
}

static void print_location(FILE *out, const struct profile *profile,
			   const struct pp_location *loc, unsigned flags)
{
	for (uint32_t i = 0; i < loc->nlines; i++) {
		fprintf(out, "%s(...)\n\t", line_function(profile, loc, i));
		print_where(out, profile, loc, i, "?");
		if (i == loc->nlines - 1) {
			fprintf(out, " +0x%" PRIx64, loc->symbol_offset);
			if (flags & TEXT_PCS)
				fprintf(out, " @ 0x%" PRIx64, loc->pc);
		}
		fputc('\n', out);
	}
}

static void print_thread(FILE *out, const struct profile *profile,
			 const struct pp_sample *s, unsigned flags)
{
	print_header(out, profile, s);
	if (s->depth == 0)
		fputs("\t(no stack)\n", out);
	for (uint32_t d = 0; d < s->depth; d++)
		print_location(out, profile,
			       &profile->locations[s->locations[d]], flags);
}

static void write_every(const struct profile *profile, unsigned flags,
			const int64_t *pid, FILE *out)
{
	bool first = true;

	for (size_t i = 0; i < profile->nsamples; i++) {
		if (!of_process(profile, &profile->samples[i], pid))
			continue;
		if (!first)
			fputc('\n', out);
		print_thread(out, profile, &profile->samples[i], flags);
		first = false;
	}
}

static int write_level(const struct profile *profile, int level, unsigned flags,
		       const int64_t *pid, FILE *out)
{
	if (level == 1)
		return write_grouped(profile, pid, out);
	write_every(profile, flags, pid, out);
	return 0;
}

/* A full disk must not pass for a complete dump. */
static int flush_result(FILE *out)
{
	if (fflush(out))
		return -errno;
	return ferror(out) ? -EIO : 0;
}

int profile_write_text(const struct profile *profile, int level, unsigned flags,
		       FILE *out)
{
	int ret;

	if (!profile || !out || (level != 1 && level != 2))
		return -EINVAL;
	ret = write_level(profile, level, flags, NULL, out);
	return ret < 0 ? ret : flush_result(out);
}

static void print_process_header(FILE *out, const struct profile_process *p)
{
	fprintf(out, "process %" PRId64 " ", p->pid);
	print_quoted(out, p->name ? p->name : "");
	fprintf(out, " [%s, %zu thread%s]:\n", p->exe && *p->exe ? p->exe : "?",
		p->threads, p->threads == 1 ? "" : "s");
}

int profile_write_text_processes(const struct profile *profile, int level,
				 unsigned flags,
				 const struct profile_process *procs, size_t n,
				 FILE *out)
{
	int ret = 0;

	if (!profile || !out || (level != 1 && level != 2))
		return -EINVAL;
	for (size_t i = 0; i < n && ret == 0; i++) {
		/* debug=1 ends each group with an empty line already. */
		if (i && level == 2)
			fputc('\n', out);
		print_process_header(out, &procs[i]);
		ret = write_level(profile, level, flags, &procs[i].pid, out);
	}
	return ret < 0 ? ret : flush_result(out);
}
