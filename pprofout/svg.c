/* SPDX-License-Identifier: MIT */
/*
 * An interactive flame graph: one self-contained SVG (its script and style
 * inline, no font or file fetched), from the same model as every other
 * format.  Frames are merged into a tree by function, root at the bottom;
 * a frame's width is its value (the last sample type, as pprof and the
 * folded output report).  Frames narrower than SVG_MIN_PX are left out, so
 * the file stays bounded by the picture's width, not by the number of
 * distinct stacks.  Colours say what the samples were doing: in a profile
 * with state labels (wall, threads) the dominant wait or state of a
 * frame's samples, else the object the frame's code is in.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pprofout/model.h"

#define SVG_WIDTH    1200
#define SVG_PAD	     10
#define SVG_FRAME_H  16
#define SVG_TOP	     40
#define SVG_LEGEND_H 18
#define SVG_BOTTOM   28
#define SVG_MIN_PX   0.3
#define SVG_NONE     UINT32_MAX
#define SVG_MAX_KEYS 24
#define SVG_KEYS_ROW 6

struct svg_node {
	uint32_t name, file; /* string indexes */
	int64_t line;
	uint32_t key; /* colour key (index into keys) when fixed by the frame */
	int64_t value;
	uint32_t parent, first_child, next_sibling;
	int64_t *key_values; /* per key, for keys set by samples */
};

struct svg_tree {
	const struct profile *profile;
	struct svg_node *nodes;
	size_t nnodes, cap;
	struct htab child_index;     /* (parent, name) -> node */
	uint32_t keys[SVG_MAX_KEYS]; /* string indexes */
	size_t nkeys;
	bool by_state; /* keys come from labels, not from objects */
	int max_depth;
};

struct child_key {
	uint32_t parent, name;
};

static bool child_eq(const void *ctx, uint32_t item, const void *key)
{
	const struct svg_tree *tree = ctx;
	const struct child_key *k = key;
	const struct svg_node *n = &tree->nodes[item];

	return n->parent == k->parent && n->name == k->name;
}

static uint32_t child_hash(uint32_t parent, uint32_t name)
{
	return (uint32_t)hash_u64(hash_u64(HASH_SEED, parent), name);
}

/* The string index of a key name, added to the keys when new ("other"
 * once SVG_MAX_KEYS are taken). */
static uint32_t key_of(struct svg_tree *tree, uint32_t str)
{
	for (size_t i = 0; i < tree->nkeys; i++)
		if (tree->keys[i] == str)
			return (uint32_t)i;
	if (tree->nkeys == SVG_MAX_KEYS)
		return SVG_MAX_KEYS - 1;
	tree->keys[tree->nkeys] = str;
	return (uint32_t)tree->nkeys++;
}

static int new_node(struct svg_tree *tree, uint32_t name, uint32_t file,
		    int64_t line, uint32_t *ret)
{
	struct svg_node *n;

	if (pp_reserve((void **)&tree->nodes, &tree->cap, tree->nnodes + 1,
		       sizeof(*tree->nodes)) < 0)
		return -ENOMEM;
	n = &tree->nodes[tree->nnodes];
	*n = (struct svg_node){.name = name,
			       .file = file,
			       .line = line,
			       .key = SVG_NONE,
			       .first_child = SVG_NONE,
			       .next_sibling = SVG_NONE};
	if (tree->by_state) {
		n->key_values = calloc(SVG_MAX_KEYS, sizeof(*n->key_values));
		if (!n->key_values)
			return -ENOMEM;
	}
	*ret = (uint32_t)tree->nnodes++;
	return 0;
}

/* The child of parent named name, made when missing. */
static int child_of(struct svg_tree *tree, uint32_t parent, uint32_t name,
		    uint32_t file, int64_t line, uint32_t *ret)
{
	struct child_key key = {parent, name};
	uint32_t hash = child_hash(parent, name), item;

	if (htab_find(&tree->child_index, hash, child_eq, tree, &key, &item)) {
		*ret = item;
		return 0;
	}
	if (new_node(tree, name, file, line, &item) < 0 ||
	    htab_insert(&tree->child_index, hash, item) < 0)
		return -ENOMEM;
	tree->nodes[item].parent = parent;
	tree->nodes[item].next_sibling = tree->nodes[parent].first_child;
	tree->nodes[parent].first_child = item;
	*ret = item;
	return 0;
}

static int64_t sample_value(const struct profile *profile,
			    const struct pp_sample *sample)
{
	return sample->values[profile->ntypes - 1];
}

/* The colour key a sample's labels give: its wait, else its state. */
static uint32_t sample_key(struct svg_tree *tree, const struct pp_sample *s)
{
	return key_of(tree, pp_sample_state(tree->profile, s));
}

/* The colour key of an object: its file's base name's string index. */
static uint32_t object_key(struct svg_tree *tree, const struct pp_location *loc)
{
	if (loc->mapping == PP_NO_MAPPING)
		return key_of(tree, 0);
	return key_of(tree, tree->profile->mappings[loc->mapping].path);
}

static int add_sample(struct svg_tree *tree, const struct pp_sample *s)
{
	const struct profile *profile = tree->profile;
	int64_t value = sample_value(profile, s);
	uint32_t node = 0, key = tree->by_state ? sample_key(tree, s) : 0;
	int depth = 0;

	if (value <= 0)
		return 0;
	tree->nodes[0].value += value;
	for (uint32_t d = s->depth; d-- > 0;) {
		const struct pp_location *loc =
			&profile->locations[s->locations[d]];
		uint32_t caller = SVG_NONE;

		for (uint32_t i = loc->nlines; i-- > 0;) {
			const struct pp_function *fn =
				&profile->functions[loc->lines[i].function];
			uint32_t child;

			/* As the folded output: a function inlined into a
			 * copy of itself is one frame. */
			if (fn->name == caller)
				continue;
			caller = fn->name;
			if (child_of(tree, node, fn->name, fn->file,
				     loc->lines[i].line, &child) < 0)
				return -ENOMEM;
			node = child;
			tree->nodes[node].value += value;
			if (tree->by_state)
				tree->nodes[node].key_values[key] += value;
			else if (tree->nodes[node].key == SVG_NONE)
				tree->nodes[node].key = object_key(tree, loc);
			depth++;
		}
	}
	if (depth > tree->max_depth)
		tree->max_depth = depth;
	return 0;
}

/* Whether the samples carry a state label: wall and threads profiles. */
static bool has_states(const struct profile *profile)
{
	for (size_t i = 0; i < profile->nsamples; i++)
		for (uint32_t l = 0; l < profile->samples[i].nlabels; l++)
			if (!strcmp(pp_str(profile,
					   profile->samples[i].labels[l].key),
				    LABEL_STATE))
				return true;
	return false;
}

static void tree_release(struct svg_tree *tree)
{
	for (size_t i = 0; i < tree->nnodes; i++)
		free(tree->nodes[i].key_values);
	free(tree->nodes);
	htab_release(&tree->child_index);
}

static int tree_build(const struct profile *profile, struct svg_tree *tree)
{
	uint32_t root;

	*tree = (struct svg_tree){.profile = profile,
				  .by_state = has_states(profile)};
	if (new_node(tree, 0, 0, 0, &root) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < profile->nsamples; i++)
		if (add_sample(tree, &profile->samples[i]) < 0)
			return -ENOMEM;
	return 0;
}

/* ---- writing ---- */

/* Colours by what the key names, so that the same wait has the same
 * colour in every picture; others in turn from a palette. */
static const char *key_colour(const char *name, size_t index)
{
	static const struct {
		const char *name, *colour;
	} known[] = {
		{"running", "#e8623a"},	  {"runnable", "#f2a93b"},
		{"futex", "#4f7fd9"},	  {"epoll_wait", "#45a852"},
		{"poll", "#2e9e8f"},	  {"ppoll", "#2e9e8f"},
		{"select", "#2e9e8f"},	  {"pselect6", "#2e9e8f"},
		{"nanosleep", "#9b9b9b"}, {"clock_nanosleep", "#9b9b9b"},
		{"disk", "#a0622d"},	  {"read", "#8c6bc8"},
		{"recvfrom", "#8c6bc8"},  {"accept4", "#c76bb0"},
		{"sleeping", "#b7b7b7"},
	};
	/* None of the colours above: a wait must not pass for another. */
	static const char *const palette[] = {
		"#c9a227", "#d45d8a", "#7f8c3a", "#5aa5c9", "#b07cd8",
		"#8a6d3b", "#3bb3a0", "#e07bb0", "#6b8e23", "#cc7a00",
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(known[i].name, name))
			return known[i].colour;
	return palette[index % (sizeof(palette) / sizeof(palette[0]))];
}

static void put_escaped(FILE *out, const char *text)
{
	for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
		switch (*c) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		default:
			fputc(*c < 0x20 || *c == 0x7f ? '?' : *c, out);
		}
	}
}

struct svg_writer {
	const struct svg_tree *tree;
	FILE *out;
	double total;
	bool nanoseconds;
	int height;
	size_t shown, hidden;
};

static const char *key_name(const struct svg_tree *tree, uint32_t key)
{
	const char *name;

	if (key >= tree->nkeys)
		return "other";
	name = pp_str(tree->profile, tree->keys[key]);
	if (!tree->by_state)
		name = pp_base_name(name);
	return name[0] ? name : "unknown";
}

static uint32_t node_key(const struct svg_tree *tree, const struct svg_node *n)
{
	uint32_t best = 0;

	if (!tree->by_state)
		return n->key == SVG_NONE ? 0 : n->key;
	for (uint32_t k = 1; k < tree->nkeys; k++)
		if (n->key_values[k] > n->key_values[best])
			best = k;
	return best;
}

static void put_value(struct svg_writer *w, int64_t value)
{
	if (w->nanoseconds)
		fprintf(w->out, "%.2f ms", (double)value / 1e6);
	else
		fprintf(w->out, "%" PRId64, value);
}

static void write_frame(struct svg_writer *w, const struct svg_node *n,
			int64_t offset, int depth)
{
	const struct profile *profile = w->tree->profile;
	const char *name = depth ? pp_str(profile, n->name) : "all";
	const char *file = depth ? pp_str(profile, n->file) : "";
	double x =
		SVG_PAD + (double)offset / w->total * (SVG_WIDTH - 2 * SVG_PAD);
	double width = (double)n->value / w->total * (SVG_WIDTH - 2 * SVG_PAD);
	int y = w->height - SVG_BOTTOM - SVG_LEGEND_H * 2 -
		(depth + 1) * SVG_FRAME_H;
	uint32_t key = node_key(w->tree, n);

	fprintf(w->out,
		"<g class=\"f\" data-x=\"%" PRId64 "\" data-v=\"%" PRId64
		"\" data-d=\"%d\" data-k=\"",
		offset, n->value, depth);
	put_escaped(w->out, depth ? key_name(w->tree, key) : "");
	fputs("\" data-n=\"", w->out);
	put_escaped(w->out, name);
	fputs("\"><title>", w->out);
	put_escaped(w->out, name);
	if (file[0]) {
		fputs(" (", w->out);
		put_escaped(w->out, file);
		if (n->line > 0)
			fprintf(w->out, ":%" PRId64, n->line);
		fputc(')', w->out);
	}
	fputs(": ", w->out);
	put_value(w, n->value);
	fprintf(w->out,
		", %.2f%%</title><rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" "
		"height=\"%d\" fill=\"%s\" rx=\"2\"/><text x=\"%.2f\" "
		"y=\"%d\"></text></g>\n",
		(double)n->value * 100 / w->total, x, y, width, SVG_FRAME_H - 1,
		depth ? key_colour(key_name(w->tree, key), key) : "#d8d8d8",
		x + 3, y + SVG_FRAME_H - 4);
	w->shown++;
}

/* Depth first, children left to right in the order they came. */
static void write_tree(struct svg_writer *w, uint32_t node, int64_t offset,
		       int depth)
{
	const struct svg_tree *tree = w->tree;
	const struct svg_node *n = &tree->nodes[node];

	if ((double)n->value / w->total * SVG_WIDTH < SVG_MIN_PX) {
		w->hidden++;
		return;
	}
	write_frame(w, n, offset, depth);
	for (uint32_t c = n->first_child; c != SVG_NONE;
	     c = tree->nodes[c].next_sibling) {
		write_tree(w, c, offset, depth + 1);
		offset += tree->nodes[c].value;
	}
}

/* svg-script.js and svg-style.css, embedded by embed.sh. */
extern const char svg_script[], svg_style[];

static void write_legend(struct svg_writer *w)
{
	const struct svg_tree *tree = w->tree;
	int y = w->height - SVG_BOTTOM - SVG_LEGEND_H * 2 + 6;

	fputs("<g id=\"legend\">\n", w->out);
	for (size_t k = 0; k < tree->nkeys && k < SVG_KEYS_ROW * 2; k++) {
		const char *name = key_name(tree, (uint32_t)k);
		double x = SVG_PAD + (double)(k % SVG_KEYS_ROW) *
					     (SVG_WIDTH - 2 * SVG_PAD) /
					     SVG_KEYS_ROW;
		int row = y + (int)(k / SVG_KEYS_ROW) * SVG_LEGEND_H;

		fprintf(w->out, "<g class=\"key\" data-k=\"");
		put_escaped(w->out, name);
		fprintf(w->out,
			"\"><rect x=\"%.1f\" y=\"%d\" width=\"12\" "
			"height=\"12\" "
			"fill=\"%s\"/><text x=\"%.1f\" y=\"%d\">",
			x, row, key_colour(name, k), x + 16, row + 10);
		put_escaped(w->out, name);
		fputs("</text></g>\n", w->out);
	}
	fputs("</g>\n", w->out);
}

int profile_write_svg(const struct profile *profile, const char *title,
		      FILE *out)
{
	struct svg_tree tree;
	struct svg_writer w = {.out = out};
	const struct pp_value_type *type;
	int r = tree_build(profile, &tree);

	if (r < 0) {
		tree_release(&tree);
		return r;
	}
	type = &profile->sample_types[profile->ntypes - 1];
	w.tree = &tree;
	w.total = tree.nodes[0].value > 0 ? (double)tree.nodes[0].value : 1;
	w.nanoseconds = !strcmp(pp_str(profile, type->unit), "nanoseconds");
	w.height = SVG_TOP + (tree.max_depth + 1) * SVG_FRAME_H +
		   SVG_LEGEND_H * 2 + SVG_BOTTOM;
	fprintf(out,
		"<?xml version=\"1.0\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" width=\"%d\" height=\"%d\" "
		"viewBox=\"0 0 %d %d\" xmlns=\"http://www.w3.org/2000/svg\" "
		"data-total=\"%.0f\" data-unit=\"%s\">\n",
		SVG_WIDTH, w.height, SVG_WIDTH, w.height, w.total,
		w.nanoseconds ? "ms" : "");
	fprintf(out, "<style>%s</style>\n<script><![CDATA[%s]]></script>\n",
		svg_style, svg_script);
	fprintf(out,
		"<rect width=\"100%%\" height=\"100%%\" fill=\"#fdfdfd\"/>\n"
		"<text id=\"title\" x=\"%d\" y=\"24\">",
		SVG_WIDTH / 2);
	put_escaped(out, title ? title : "cprof");
	fprintf(out,
		"</text>\n<text id=\"reset\" class=\"button\" x=\"%d\" "
		"y=\"24\">Reset zoom</text>\n<text id=\"search\" "
		"class=\"button\" x=\"%d\" y=\"24\">Search</text>\n"
		"<text id=\"details\" x=\"%d\" y=\"%d\"> </text>\n"
		"<text id=\"matched\" x=\"%d\" y=\"%d\"> </text>\n"
		"<text id=\"selftest\" x=\"%d\" y=\"%d\"></text>\n",
		SVG_PAD, SVG_WIDTH - SVG_PAD - 60, SVG_PAD, w.height - 10,
		SVG_WIDTH - SVG_PAD - 160, w.height - 10, SVG_WIDTH / 2,
		w.height - 10);
	write_legend(&w);
	fputs("<g id=\"frames\">\n", out);
	write_tree(&w, 0, 0, 0);
	fprintf(out,
		"</g>\n<!-- %zu frames shown, %zu narrower than %.1f px "
		"left out -->\n</svg>\n",
		w.shown, w.hidden, SVG_MIN_PX);
	tree_release(&tree);
	if (fflush(out))
		return -errno;
	return ferror(out) ? -EIO : 0;
}
