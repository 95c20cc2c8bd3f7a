/* SPDX-License-Identifier: MIT */
/*
 * The flame graph writer on profiles whose frames are known.
 *
 *   test-svg small OUT.svg   a CPU profile: main -> work_a (60), main ->
 *                            work_b (30), main -> work_b -> leaf (10), in
 *                            two objects; and a wall profile of a futex
 *                            and a running sample, written to OUT.svg
 *                            and OUT-wall.svg; checks what it can itself
 *   test-svg big OUT.svg     100000 distinct stacks, 8 to 24 frames deep
 *                            over 2000 function names, for the size bound
 *                            and the browser check
 *
 * The shell half (tests/integration/pictures-svg.sh) reads the files with
 * xmllint and a browser.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pprofout/profile.h"

static int failures;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			failures++;                                            \
		}                                                              \
	} while (0)

static const struct module_info program = {.start = 0x1000,
					   .end = 1ULL << 40,
					   .path = "/srv/bin/program",
					   .build_id = ""};
static const struct module_info libc = {.start = 1ULL << 41,
					.end = 1ULL << 42,
					.path = "/usr/lib/libc.so.6",
					.build_id = ""};

static struct sym_line line_of(const char *fn)
{
	return (struct sym_line){.function = fn,
				 .system_name = fn,
				 .file = "/src/program.c",
				 .line = 7};
}

/* A PC of its own for each name (the model keys locations by PC). */
static uint64_t pc_of(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const char *c = name; *c; c++)
		h = (h ^ (unsigned char)*c) * 0x100000001b3ULL;
	return 0x1000 + (h % (1ULL << 35)) * 16;
}

/* Adds one sample: names leaf first, each in its own location. */
static int add(struct profile *p, const char *const *names, size_t depth,
	       int64_t value, const struct label *labels, size_t nlabels)
{
	struct sym_line lines[64];
	struct sym_location locs[64];
	const struct sym_location *stack[64];
	int64_t values[2] = {1, value};

	for (size_t i = 0; i < depth; i++) {
		lines[i] = line_of(names[i]);
		locs[i] = (struct sym_location){
			.pc = pc_of(names[i]),
			.module = strncmp(names[i], "libc_", 5) ? &program
								: &libc,
			.nlines = 1,
			.lines = &lines[i]};
		if (locs[i].module == &libc)
			locs[i].pc += libc.start;
		stack[i] = &locs[i];
	}
	return profile_add(p, stack, depth, values, labels, nlabels, 1);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	if (getdelim(&buf, &len, '\0', f) < 0) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static int write_svg(const struct profile *p, const char *title,
		     const char *path)
{
	FILE *out = fopen(path, "w");
	int r;

	if (!out)
		return -errno;
	r = profile_write_svg(p, title, out);
	if (fclose(out) && r == 0)
		r = -errno;
	return r;
}

static void small_cpu(const char *path)
{
	static const struct value_type types[] = {{"samples", "count"},
						  {"cpu", "nanoseconds"}};
	const char *a[] = {"work_a", "main"}, *b[] = {"work_b", "main"},
		   *c[] = {"libc_leaf", "work_b", "main"};
	struct profile *p = profile_new(types, 2, &types[1], 10000000);
	char *svg;

	CHECK(p != NULL);
	CHECK(add(p, a, 2, 60000000, NULL, 0) == 0);
	CHECK(add(p, b, 2, 30000000, NULL, 0) == 0);
	CHECK(add(p, c, 3, 10000000, NULL, 0) == 0);
	CHECK(write_svg(p, "cpu <test> & title", path) == 0);
	svg = slurp(path);
	CHECK(svg != NULL);
	if (svg) {
		/* Widths: the value of each merged frame. */
		CHECK(strstr(svg, "data-v=\"100000000\" data-d=\"0\"") != NULL);
		CHECK(strstr(svg,
			     "data-v=\"100000000\" data-d=\"1\" "
			     "data-k=\"program\" data-n=\"main\"") != NULL);
		CHECK(strstr(svg,
			     "data-v=\"60000000\" data-d=\"2\" "
			     "data-k=\"program\" data-n=\"work_a\"") != NULL);
		CHECK(strstr(svg,
			     "data-v=\"40000000\" data-d=\"2\" "
			     "data-k=\"program\" data-n=\"work_b\"") != NULL);
		CHECK(strstr(svg, "data-v=\"10000000\" data-d=\"3\" "
				  "data-k=\"libc.so.6\" "
				  "data-n=\"libc_leaf\"") != NULL);
		/* Escaped, and the hover text says file:line and share. */
		CHECK(strstr(svg, "cpu &lt;test&gt; &amp; title") != NULL);
		CHECK(strstr(svg, "<title>work_a (/src/program.c:7): 60.00 ms, "
				  "60.00%</title>") != NULL);
		/* Colours by object, each in the legend. */
		CHECK(strstr(svg, "class=\"key\" data-k=\"program\"") != NULL);
		CHECK(strstr(svg, "class=\"key\" data-k=\"libc.so.6\"") !=
		      NULL);
		CHECK(strstr(svg, "http://") ==
		      strstr(svg, "http://www.w3.org/2000/svg"));
	}
	free(svg);
	profile_free(p);
}

static void small_wall(const char *path)
{
	static const struct value_type types[] = {{"samples", "count"},
						  {"wall", "nanoseconds"}};
	const char *waiting[] = {"libc_futex_wait", "pool_wait", "main"},
		   *spinning[] = {"spin", "main"};
	const struct label futex[] = {{LABEL_STATE, "sleeping", 0},
				      {LABEL_WAIT, "futex", 0}};
	const struct label running[] = {{LABEL_STATE, "running", 0},
					{LABEL_WAIT, "write", 0}};
	struct profile *p = profile_new(types, 2, &types[1], 10000000);
	char *svg;

	CHECK(p != NULL);
	CHECK(add(p, waiting, 3, 70000000, futex, 2) == 0);
	CHECK(add(p, spinning, 2, 30000000, running, 2) == 0);
	CHECK(write_svg(p, "wall", path) == 0);
	svg = slurp(path);
	CHECK(svg != NULL);
	if (svg) {
		/* A wait colours its frames; a running thread's call does
		 * not; the shared root takes the dominant one. */
		CHECK(strstr(svg, "data-k=\"futex\" data-n=\"pool_wait\"") !=
		      NULL);
		CHECK(strstr(svg, "data-k=\"running\" data-n=\"spin\"") !=
		      NULL);
		CHECK(strstr(svg, "data-k=\"futex\" data-n=\"main\"") != NULL);
		CHECK(strstr(svg, "data-k=\"write\"") == NULL);
	}
	free(svg);
	profile_free(p);
}

/* 100000 distinct stacks: a fixed pseudo-random walk, so the file is the
 * same every run. */
static void big(const char *path)
{
	static const struct value_type types[] = {{"samples", "count"},
						  {"cpu", "nanoseconds"}};
	struct profile *p = profile_new(types, 2, &types[1], 10000000);
	static char names[2000][16];
	const char *stack[24];
	uint32_t x = 12345;

	CHECK(p != NULL);
	for (int i = 0; i < 2000; i++)
		snprintf(names[i], sizeof(names[i]), "fn_%d", i);
	for (int s = 0; s < 100000; s++) {
		size_t depth = 8 + (size_t)(s % 17);

		for (size_t d = 0; d < depth; d++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			/* Outer frames from a few names, inner from many. */
			stack[depth - 1 - d] = d < 3 ? names[x % (4 * (d + 1))]
						     : names[x % 2000];
		}
		stack[depth - 1] = "main";
		stack[0] = s % 10 == 0 ? "hot_leaf" : stack[0];
		CHECK(add(p, stack, depth, 1000000 + (s % 7) * 100000, NULL,
			  0) == 0);
	}
	CHECK(profile_sample_count(p) > 90000);
	CHECK(write_svg(p, "100000 distinct stacks", path) == 0);
	profile_free(p);
}

int main(int argc, char **argv)
{
	char wall[4096];

	if (argc != 3) {
		fprintf(stderr, "usage: test-svg small|big OUT.svg\n");
		return 2;
	}
	if (!strcmp(argv[1], "big")) {
		big(argv[2]);
	} else {
		small_cpu(argv[2]);
		snprintf(wall, sizeof(wall), "%.*s-wall.svg",
			 (int)(strlen(argv[2]) - 4), argv[2]);
		small_wall(wall);
	}
	if (failures)
		fprintf(stderr, "%d checks failed\n", failures);
	return failures ? 1 : 0;
}
