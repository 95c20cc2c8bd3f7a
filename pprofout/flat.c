/* SPDX-License-Identifier: MIT */
/*
 * Flat outputs for users without pprof: folded stacks (what flamegraph.pl,
 * inferno and speedscope read) and a flat/cum table laid out like
 * `go tool pprof -top`.  Both report the last sample type, as pprof does by
 * default.  The exact layouts are in pprofout/FORMATS.md; golden tests pin
 * them, so change both together.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pprofout/model.h"

/* go tool pprof reports the last sample type unless told otherwise. */
static int64_t sample_value(const struct profile *profile,
			    const struct pp_sample *sample)
{
	return sample->values[profile->ntypes - 1];
}

static uint32_t line_name(const struct profile *profile,
			  const struct pp_line *line)
{
	return profile->functions[line->function].name;
}

/*
 * Control bytes (and the frame separator, when there is one) become '?', so
 * one name can never split a line or a stack.
 */
static void print_clean(FILE *out, const char *name, int separator)
{
	for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
		if (*c < 0x20 || *c == 0x7f || *c == separator)
			fputc('?', out);
		else
			fputc(*c, out);
	}
}

static int64_t abs64(int64_t v)
{
	return v < 0 ? -v : v;
}

static int finish(FILE *out)
{
	/* A full disk must not pass for a complete output. */
	if (fflush(out))
		return -errno;
	return ferror(out) ? -EIO : 0;
}

/* Folded stacks */

struct folded_line {
	char *stack; /* frames root first, ';' between them */
	int64_t value;
};

struct folding {
	const struct profile *profile;
	struct folded_line *lines;
	size_t nlines, cap;
};

static int compare_locations(const void *x, const void *y, void *ctx)
{
	const struct profile *profile = ctx;
	const struct pp_sample *a = &profile->samples[*(const uint32_t *)x];
	const struct pp_sample *b = &profile->samples[*(const uint32_t *)y];

	if (a->depth != b->depth)
		return a->depth < b->depth ? -1 : 1;
	return memcmp(a->locations, b->locations,
		      a->depth * sizeof(*a->locations));
}

/* Root first; within a location the caller before the functions inlined. */
static char *stack_text(const struct profile *profile,
			const struct pp_sample *sample)
{
	const char *sep = "";
	char *buf = NULL;
	size_t len;
	FILE *out = open_memstream(&buf, &len);

	if (!out)
		return NULL;
	if (sample->depth == 0)
		fputs("[unknown]", out);
	for (uint32_t d = sample->depth; d-- > 0;) {
		const struct pp_location *loc =
			&profile->locations[sample->locations[d]];

		uint32_t caller = UINT32_MAX;

		for (uint32_t i = loc->nlines; i-- > 0;) {
			uint32_t name = line_name(profile, &loc->lines[i]);

			/* A function inlined into a copy of itself (glibc's
			 * syscall wrappers) differs only by line, which folded
			 * stacks do not show: one frame, as eu-stack names it.
			 */
			if (name == caller)
				continue;
			caller = name;
			fputs(sep, out);
			print_clean(out, pp_str(profile, name), ';');
			sep = ";";
		}
	}
	if (fclose(out)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int add_folded(struct folding *f, const struct pp_sample *sample,
		      int64_t value)
{
	struct folded_line line = {.value = value};

	line.stack = stack_text(f->profile, sample);
	if (!line.stack || pp_reserve((void **)&f->lines, &f->cap,
				      f->nlines + 1, sizeof(line)) < 0) {
		free(line.stack);
		return -ENOMEM;
	}
	f->lines[f->nlines++] = line;
	return 0;
}

/*
 * Samples with equal location chains are summed before any text is made,
 * so the text costs one string per distinct chain, not per sample.
 */
static int fold_samples(struct folding *f, uint32_t *order)
{
	const struct profile *profile = f->profile;
	size_t n = profile->nsamples;
	int ret;

	for (size_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(*order), compare_locations, (void *)profile);
	for (size_t i = 0, j; i < n; i = j) {
		int64_t value = 0;

		for (j = i; j < n && !compare_locations(&order[i], &order[j],
							(void *)profile);
		     j++)
			value += sample_value(profile,
					      &profile->samples[order[j]]);
		ret = add_folded(f, &profile->samples[order[i]], value);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int compare_folded(const void *x, const void *y)
{
	const struct folded_line *a = x, *b = y;

	return strcmp(a->stack, b->stack);
}

/* Different chains can read the same (one function at two PCs): merged. */
static void print_folded(FILE *out, struct folding *f)
{
	if (f->nlines) /* qsort() must not be given NULL */
		qsort(f->lines, f->nlines, sizeof(*f->lines), compare_folded);
	for (size_t i = 0, j; i < f->nlines; i = j) {
		int64_t value = 0;

		for (j = i; j < f->nlines &&
			    !strcmp(f->lines[i].stack, f->lines[j].stack);
		     j++)
			value += f->lines[j].value;
		/* pprof leaves out samples worth nothing; so do we. */
		if (value)
			fprintf(out, "%s %" PRId64 "\n", f->lines[i].stack,
				value);
	}
}

int profile_write_folded(const struct profile *profile, FILE *out)
{
	struct folding f = {.profile = profile};
	uint32_t *order;
	int ret;

	if (!profile || !out || profile->ntypes == 0)
		return -EINVAL;
	order = calloc(profile->nsamples ? profile->nsamples : 1,
		       sizeof(*order));
	if (!order)
		return -ENOMEM;
	ret = fold_samples(&f, order);
	if (ret == 0)
		print_folded(out, &f);
	for (size_t i = 0; i < f.nlines; i++)
		free(f.lines[i].stack);
	free(f.lines);
	free(order);
	return ret < 0 ? ret : finish(out);
}

/* Flat/cum table */

#define NO_NODE UINT32_MAX

/* One row: pprof merges every function of one name into one node. */
struct top_node {
	uint32_t name;	   /* string index */
	uint32_t function; /* the first function of that name seen */
	int64_t flat, cum;
	uint32_t state;		 /* string index of the commonest state, or 0 */
	int64_t state_value;	 /* of cum */
	size_t last_sample;	 /* sample index + 1 that last added to cum */
	bool inline_in, call_in; /* called inlined, called for real */
};

/* Caller to callee; pprof labels a row "(inline)" from these. */
struct top_edge {
	uint32_t caller, callee; /* node indexes */
	size_t last_sample;	 /* only a sample's first crossing counts */
	int64_t value;		 /* of the samples that crossed it */
	bool inlined;		 /* every counted crossing was inlined */
};

/* How much of a row's cum its samples spent in one state. */
struct top_state {
	uint32_t node, state;
	int64_t value;
};

struct top_table {
	const struct profile *profile;
	const struct top_options *opts;
	uint32_t *node_by_name; /* per string index: node index + 1, or 0 */
	struct top_node *nodes;
	size_t nnodes, nodes_cap;
	struct top_edge *edges;
	size_t nedges, edges_cap;
	struct htab edge_index;
	struct top_state *states;
	size_t nstates, states_cap;
	struct htab state_index;
	uint32_t sample_state; /* of the sample being counted */
	int64_t total;	       /* every sample's value, stack or not */
};

static int node_for(struct top_table *t, const struct pp_line *line,
		    uint32_t *ret_node)
{
	uint32_t name = line_name(t->profile, line);
	struct top_node node = {.name = name, .function = line->function};
	int ret;

	if (t->node_by_name[name]) {
		*ret_node = t->node_by_name[name] - 1;
		return 0;
	}
	ret = pp_reserve((void **)&t->nodes, &t->nodes_cap, t->nnodes + 1,
			 sizeof(node));
	if (ret < 0)
		return ret;
	t->nodes[t->nnodes] = node;
	*ret_node = t->nnodes++;
	t->node_by_name[name] = *ret_node + 1;
	return 0;
}

static bool edge_eq(const void *ctx, uint32_t item, const void *key)
{
	const struct top_table *t = ctx;
	const struct top_edge *a = &t->edges[item], *b = key;

	return a->caller == b->caller && a->callee == b->callee;
}

static int add_edge(struct top_table *t, const struct top_edge *crossing)
{
	uint64_t hash = hash_u64(HASH_SEED, crossing->caller);
	struct top_edge *edge;
	uint32_t found;
	int ret;

	hash = hash_u64(hash, crossing->callee);
	if (!htab_find(&t->edge_index, hash, edge_eq, t, crossing, &found)) {
		ret = pp_reserve((void **)&t->edges, &t->edges_cap,
				 t->nedges + 1, sizeof(*crossing));
		if (ret < 0)
			return ret;
		ret = htab_insert(&t->edge_index, hash, t->nedges);
		if (ret < 0)
			return ret;
		t->edges[t->nedges++] = *crossing;
		return 0;
	}
	edge = &t->edges[found];
	if (edge->last_sample != crossing->last_sample) {
		edge->last_sample = crossing->last_sample;
		edge->value += crossing->value;
		edge->inlined = edge->inlined && crossing->inlined;
	}
	return 0;
}

static bool state_eq(const void *ctx, uint32_t item, const void *key)
{
	const struct top_table *t = ctx;
	const struct top_state *a = &t->states[item], *b = key;

	return a->node == b->node && a->state == b->state;
}

/* The sample being counted adds value to node's cum in its state. */
static int add_state(struct top_table *t, uint32_t node, int64_t value)
{
	struct top_state key = {node, t->sample_state, value};
	uint64_t hash = hash_u64(hash_u64(HASH_SEED, node), key.state);
	uint32_t found;
	int ret;

	if (htab_find(&t->state_index, hash, state_eq, t, &key, &found)) {
		t->states[found].value += value;
		return 0;
	}
	ret = pp_reserve((void **)&t->states, &t->states_cap, t->nstates + 1,
			 sizeof(key));
	if (ret < 0)
		return ret;
	ret = htab_insert(&t->state_index, hash, t->nstates);
	if (ret < 0)
		return ret;
	t->states[t->nstates++] = key;
	return 0;
}

/*
 * One location's source frames, caller first.  *parent is the node of the
 * frame before, NO_NODE at the root; it ends as this location's innermost.
 */
static int count_location(struct top_table *t, const struct pp_location *loc,
			  size_t sample_idx, int64_t value, uint32_t *parent)
{
	uint32_t node;
	int ret;

	for (uint32_t i = loc->nlines; i-- > 0;) {
		struct top_edge crossing = {.caller = *parent,
					    .last_sample = sample_idx + 1,
					    .value = value,
					    .inlined = i != loc->nlines - 1};

		ret = node_for(t, &loc->lines[i], &node);
		if (ret < 0)
			return ret;
		/* Recursion: a function counts once per sample in cum. */
		if (t->nodes[node].last_sample != sample_idx + 1) {
			t->nodes[node].last_sample = sample_idx + 1;
			t->nodes[node].cum += value;
			if (t->opts->states &&
			    (ret = add_state(t, node, value)) < 0)
				return ret;
		}
		crossing.callee = node;
		if (*parent != NO_NODE && *parent != node &&
		    (ret = add_edge(t, &crossing)) < 0)
			return ret;
		*parent = node;
	}
	return 0;
}

static int count_sample(struct top_table *t, size_t sample_idx)
{
	const struct pp_sample *s = &t->profile->samples[sample_idx];
	int64_t value = sample_value(t->profile, s);
	uint32_t leaf = NO_NODE;
	int64_t tid;
	int ret;

	if (t->opts->one_thread &&
	    (!pp_label_num(t->profile, s, LABEL_THREAD_ID, &tid) ||
	     tid != t->opts->thread_id))
		return 0;
	t->total += value;
	if (t->opts->states)
		t->sample_state = pp_sample_state(t->profile, s);
	/* pprof builds no node and no edge from a sample worth nothing. */
	if (value == 0)
		return 0;
	for (uint32_t d = s->depth; d-- > 0;) {
		ret = count_location(t, &t->profile->locations[s->locations[d]],
				     sample_idx, value, &leaf);
		if (ret < 0)
			return ret;
	}
	if (leaf != NO_NODE)
		t->nodes[leaf].flat += value;
	return 0;
}

static int count_samples(struct top_table *t)
{
	int ret;

	for (size_t i = 0; i < t->profile->nsamples; i++) {
		ret = count_sample(t, i);
		if (ret < 0)
			return ret;
	}
	for (size_t i = 0; i < t->nstates; i++) {
		struct top_node *node = &t->nodes[t->states[i].node];

		if (abs64(t->states[i].value) > abs64(node->state_value)) {
			node->state = t->states[i].state;
			node->state_value = t->states[i].value;
		}
	}
	return 0;
}

/*
 * "(inline)" when every call into a function that is worth 0.1% of the
 * rows' flat sum was inlined, "(partial-inline)" when only some were: the
 * marks pprof derives from its call graph, whose lighter edges it drops.
 */
static void mark_inlined(struct top_table *t)
{
	int64_t flat_sum = 0, cutoff;

	for (size_t i = 0; i < t->nnodes; i++)
		flat_sum += t->nodes[i].flat;
	cutoff = abs64((int64_t)((double)flat_sum * 0.001));
	for (size_t i = 0; i < t->nedges; i++) {
		const struct top_edge *edge = &t->edges[i];
		struct top_node *callee = &t->nodes[edge->callee];

		if (abs64(edge->value) < cutoff)
			continue;
		if (edge->inlined)
			callee->inline_in = true;
		else
			callee->call_in = true;
	}
}

struct node_order {
	const struct profile *profile;
	bool by_cum;
};

/* Flat descending, then name, then cum descending: pprof's row order;
 * by_cum puts cum first, as -cum does. */
static int compare_nodes(const void *x, const void *y, void *ctx)
{
	const struct node_order *order = ctx;
	const struct profile *profile = order->profile;
	const struct top_node *a = x, *b = y;
	int cmp;

	if (order->by_cum && abs64(a->cum) != abs64(b->cum))
		return abs64(a->cum) > abs64(b->cum) ? -1 : 1;
	if (abs64(a->flat) != abs64(b->flat))
		return abs64(a->flat) > abs64(b->flat) ? -1 : 1;
	cmp = strcmp(pp_str(profile, a->name), pp_str(profile, b->name));
	if (cmp)
		return cmp;
	if (abs64(a->cum) != abs64(b->cum))
		return abs64(a->cum) > abs64(b->cum) ? -1 : 1;
	return 0;
}

/* Values: one unit for the whole table, chosen as pprof does */

struct time_unit {
	const char *name;
	double nanoseconds;
};

static const struct time_unit time_units[] = {
	{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"hrs", 3600e9},
};

struct value_format {
	bool time;		      /* the unit is nanoseconds */
	const struct time_unit *unit; /* NULL: the best unit for each value */
};

/* The largest unit that value is at least one of; seconds for zero. */
static const struct time_unit *time_unit_for(int64_t value)
{
	const struct time_unit *best = &time_units[3];
	double v = (double)abs64(value);

	for (size_t i = 0; i < sizeof(time_units) / sizeof(time_units[0]);
	     i++) {
		if (v / time_units[i].nanoseconds >= 1.0)
			best = &time_units[i];
	}
	return best;
}

/*
 * The unit of the smallest row, unless the total is over 100 times larger
 * and in another unit: then the smallest row may show as 0.01 of a larger
 * one.
 */
static void choose_unit(const struct top_table *t, struct value_format *fmt)
{
	const struct time_unit *min_unit, *max_unit;
	int64_t min = 0, max = abs64(t->total);

	if (!fmt->time || t->nnodes == 0)
		return;
	for (size_t i = 0; i < t->nnodes; i++) {
		int64_t v = abs64(t->nodes[i].flat);

		if (v == 0)
			v = abs64(t->nodes[i].cum);
		if (v > 0 && (min == 0 || v < min))
			min = v;
	}
	if (min == 0)
		min = max;
	min_unit = time_unit_for(min);
	max_unit = time_unit_for(max);
	fmt->unit = min_unit;
	if (min_unit != max_unit && min * 100 < max)
		fmt->unit = time_unit_for(100 * min);
}

/* Two decimals without ".00", the unit appended, and any zero as "0". */
static const char *format_value(char *buf, size_t size,
				const struct value_format *fmt, int64_t value)
{
	const struct time_unit *unit;
	size_t len;

	if (!fmt->time) {
		snprintf(buf, size, "%" PRId64, value);
		return buf;
	}
	unit = fmt->unit ? fmt->unit : time_unit_for(value);
	snprintf(buf, size, "%.2f", (double)value / unit->nanoseconds);
	len = strlen(buf);
	if (len > 3 && !strcmp(buf + len - 3, ".00"))
		buf[len - 3] = '\0';
	if (!strcmp(buf, "0") || !strcmp(buf, "-0"))
		return "0";
	snprintf(buf + strlen(buf), size - strlen(buf), "%s", unit->name);
	return buf;
}

/* At least two significant digits, six columns wide. */
static const char *format_percent(char *buf, size_t size, int64_t value,
				  int64_t total)
{
	double ratio = total ? (double)value / (double)total : 0;

	ratio = (ratio < 0 ? -ratio : ratio) * 100;
	if (ratio >= 99.95 && ratio <= 100.05)
		snprintf(buf, size, "  100%%");
	else if (ratio >= 1.0)
		snprintf(buf, size, "%5.2f%%", ratio);
	else
		snprintf(buf, size, "%5.2g%%", ratio);
	return buf;
}

#define VALUE_BUF	48
#define PERCENT_BUF	16
#define TOP_STATE_WIDTH 15

static void print_top_header(FILE *out, const struct top_table *t,
			     const struct value_format *fmt)
{
	const struct profile *profile = t->profile;
	char shown[VALUE_BUF], total[VALUE_BUF], pct[PERCENT_BUF];
	const char *pct_text;
	int64_t flat_sum = 0;

	for (size_t i = 0; i < t->nnodes; i++)
		flat_sum += t->nodes[i].flat;
	pct_text = format_percent(pct, sizeof(pct), flat_sum, t->total);
	pct_text += strspn(pct_text, " ");
	fputs("Type: ", out);
	print_clean(out,
		    pp_str(profile,
			   profile->sample_types[profile->ntypes - 1].type),
		    0);
	fprintf(out, "\nShowing nodes accounting for %s, %s of %s total\n",
		format_value(shown, sizeof(shown), fmt, flat_sum), pct_text,
		format_value(total, sizeof(total), fmt, t->total));
	fprintf(out, "%10s %5s%% %5s%% %10s %5s%%%s\n", "flat", "flat", "sum",
		"cum", "cum", t->opts->states ? "  state" : "");
}

/* "futex       98%  ": the state most of the row's cum was spent in. */
static void print_state(FILE *out, const struct top_table *t,
			const struct top_node *node)
{
	char pct[PERCENT_BUF] = "";

	if (node->state)
		snprintf(pct, sizeof(pct), "%3.0f%%",
			 node->cum ? 100.0 * (double)node->state_value /
					     (double)node->cum
				   : 0.0);
	fprintf(out, "%-*.*s %4s  ", TOP_STATE_WIDTH, TOP_STATE_WIDTH,
		node->state ? pp_str(t->profile, node->state) : "-", pct);
}

/* " (file.c:42)": where the function starts, when its file is known. */
static void print_where(FILE *out, const struct top_table *t,
			const struct top_node *node)
{
	const struct pp_function *fn = &t->profile->functions[node->function];
	const char *file = pp_str(t->profile, fn->file);

	if (!*file)
		return;
	fputs(" (", out);
	print_clean(out, pp_base_name(file), 0);
	if (fn->start_line > 0)
		fprintf(out, ":%" PRId64, fn->start_line);
	fputc(')', out);
}

static void print_top_row(FILE *out, const struct top_table *t,
			  const struct top_node *node,
			  const struct value_format *fmt, int64_t flat_sum)
{
	char flat[VALUE_BUF], cum[VALUE_BUF];
	char flat_pct[PERCENT_BUF], sum_pct[PERCENT_BUF], cum_pct[PERCENT_BUF];

	fprintf(out, "%10s %s %s %10s %s  ",
		format_value(flat, sizeof(flat), fmt, node->flat),
		format_percent(flat_pct, sizeof(flat_pct), node->flat,
			       t->total),
		format_percent(sum_pct, sizeof(sum_pct), flat_sum, t->total),
		format_value(cum, sizeof(cum), fmt, node->cum),
		format_percent(cum_pct, sizeof(cum_pct), node->cum, t->total));
	if (t->opts->states)
		print_state(out, t, node);
	print_clean(out, pp_str(t->profile, node->name), 0);
	if (node->inline_in)
		fputs(node->call_in ? " (partial-inline)" : " (inline)", out);
	if (t->opts->where)
		print_where(out, t, node);
	fputc('\n', out);
}

static void print_top(FILE *out, struct top_table *t)
{
	const struct profile *profile = t->profile;
	struct node_order order = {profile, t->opts->by_cum};
	struct value_format fmt = {0};
	int64_t flat_sum = 0;

	fmt.time =
		!strcmp(pp_str(profile,
			       profile->sample_types[profile->ntypes - 1].unit),
			"nanoseconds");
	if (t->nnodes) /* qsort_r() must not be given NULL */
		qsort_r(t->nodes, t->nnodes, sizeof(*t->nodes), compare_nodes,
			&order);
	choose_unit(t, &fmt);
	print_top_header(out, t, &fmt);
	for (size_t i = 0; i < t->nnodes; i++) {
		flat_sum += t->nodes[i].flat;
		print_top_row(out, t, &t->nodes[i], &fmt, flat_sum);
	}
}

int profile_write_top(const struct profile *profile, FILE *out)
{
	return profile_write_top_with(profile, &(struct top_options){0}, out);
}

int profile_write_top_with(const struct profile *profile,
			   const struct top_options *opts, FILE *out)
{
	struct top_table t = {.profile = profile, .opts = opts};
	int ret;

	if (!profile || !opts || !out || profile->ntypes == 0)
		return -EINVAL;
	t.node_by_name = calloc(profile->nstrings ? profile->nstrings : 1,
				sizeof(*t.node_by_name));
	if (!t.node_by_name)
		return -ENOMEM;
	ret = count_samples(&t);
	if (ret == 0) {
		mark_inlined(&t);
		print_top(out, &t);
	}
	htab_release(&t.state_index);
	free(t.states);
	htab_release(&t.edge_index);
	free(t.edges);
	free(t.nodes);
	free(t.node_by_name);
	return ret < 0 ? ret : finish(out);
}

/* Threads */

static int compare_threads(const void *x, const void *y)
{
	const struct profile_thread *a = x, *b = y;

	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	return strcmp(a->name, b->name);
}

int profile_threads(const struct profile *profile, struct profile_thread **ret,
		    size_t *count)
{
	struct profile_thread *threads = NULL;
	size_t n = 0, cap = 0, kept = 0;

	for (size_t i = 0; i < profile->nsamples; i++) {
		const struct pp_sample *s = &profile->samples[i];
		struct profile_thread th = {.name = ""};

		if (!pp_label_num(profile, s, LABEL_THREAD_ID, &th.id))
			continue;
		th.name = pp_str(profile,
				 pp_label_str(profile, s, LABEL_THREAD_NAME));
		if (pp_reserve((void **)&threads, &cap, n + 1, sizeof(th)) <
		    0) {
			free(threads);
			return -ENOMEM;
		}
		threads[n++] = th;
	}
	if (n)
		qsort(threads, n, sizeof(*threads), compare_threads);
	/* One entry per id: a renamed thread shows its least name. */
	for (size_t i = 0; i < n; i++)
		if (kept == 0 || threads[kept - 1].id != threads[i].id)
			threads[kept++] = threads[i];
	*ret = threads;
	*count = kept;
	return 0;
}
