/* SPDX-License-Identifier: MIT */
/*
 * Folded stacks and the flat/cum table from a hand-made CPU profile
 * ([samples/count, cpu/nanoseconds]): inlined frames, a function both
 * inlined and called, recursion (counted once per sample in cum), one
 * function at two PCs, a ';' in a name, a sample worth no CPU time and one
 * with no stack.  Both outputs are compared byte for byte against golden
 * files; the pprof file of the same profile is left for
 * tests/unit/pprof-flat-consumer.sh to compare with `go tool pprof -top`.
 *
 * usage: test-pprofout-flat GOLDEN_DIR PPROF_OUT
 * exit: 0 pass, 1 fail, 99 framework error
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pprofout/profile.h"

#define EXIT_FAIL  1
#define EXIT_ERROR 99

#define MS 1000000LL /* nanoseconds */

static const struct module_info app = {
	.start = 0x555555554000,
	.end = 0x555555560000,
	.file_offset = 0,
	.path = "/usr/bin/app",
	.build_id = "5a1e0c0ffee0ddba11ab1ec0de5eed0f00d2bad1",
	.has_symbols = true,
	.has_dwarf = true,
};

static const struct module_info libc = {
	.start = 0x7f0000000000,
	.end = 0x7f0000200000,
	.file_offset = 0x28000,
	.path = "/usr/lib/x86_64-linux-gnu/libc.so.6",
	.build_id = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00",
	.has_symbols = true,
	.has_dwarf = false,
};

#define SYMBOL(name)                                                           \
	{                                                                      \
		.function = name, .system_name = name, .file = "", .line = 0,  \
		.start_line = 0                                                \
	}
#define SOURCE(name, file, line, start)                                        \
	{                                                                      \
		name, name, file, line, start                                  \
	}

static const struct sym_line main_lines[] = {
	SOURCE("main", "/src/app/main.c", 12, 9),
};
static const struct sym_line loop_lines[] = {
	SOURCE("run_loop", "/src/app/loop.c", 30, 20),
};
/* square() inlined into compute(): innermost first. */
static const struct sym_line square_lines[] = {
	SOURCE("square", "/src/app/math.h", 4, 3),
	SOURCE("compute", "/src/app/math.c", 17, 10),
};
static const struct sym_line compute_lines[] = {
	SOURCE("compute", "/src/app/math.c", 21, 10),
};
static const struct sym_line walk_lines[] = {
	SOURCE("walk", "/src/app/tree.c", 44, 40),
};
static const struct sym_line visit_lines[] = {
	SOURCE("visit", "/src/app/tree.c", 8, 6),
};
/* hash_key() inlined into lookup(), and called from insert(). */
static const struct sym_line lookup_lines[] = {
	SOURCE("hash_key", "/src/app/map.c", 5, 3),
	SOURCE("lookup", "/src/app/map.c", 30, 28),
};
static const struct sym_line hash_lines[] = {
	SOURCE("hash_key", "/src/app/map.c", 6, 3),
};
static const struct sym_line insert_lines[] = {
	SOURCE("insert", "/src/app/map.c", 52, 50),
};
static const struct sym_line idle_lines[] = {
	SOURCE("idle_poll", "/src/app/loop.c", 70, 66),
};
static const struct sym_line worker_lines[] = {
	SOURCE("worker", "/src/app/worker.c", 40, 35),
};
static const struct sym_line memcpy_lines[] = {SYMBOL("memcpy")};
static const struct sym_line odd_lines[] = {SYMBOL("odd;name")};
static const struct sym_line start_lines[] = {SYMBOL("start_thread")};
static const struct sym_line clone_lines[] = {SYMBOL("clone3")};

#define LOC(pc_, act, mod, off, lines_)                                        \
	{                                                                      \
		.pc = pc_, .activation = act, .module = mod,                   \
		.symbol_offset = off,                                          \
		.nlines = sizeof(lines_) / sizeof(lines_[0]), .lines = lines_  \
	}

static const struct sym_location mainf =
	LOC(0x555555555040, false, &app, 0x40, main_lines);
static const struct sym_location loop =
	LOC(0x555555555120, false, &app, 0x30, loop_lines);
static const struct sym_location square =
	LOC(0x555555555210, true, &app, 0x10, square_lines);
static const struct sym_location compute =
	LOC(0x555555555238, false, &app, 0x38, compute_lines);
static const struct sym_location walk_self =
	LOC(0x555555555318, false, &app, 0x18, walk_lines);
static const struct sym_location walk_top =
	LOC(0x555555555320, false, &app, 0x20, walk_lines);
static const struct sym_location walk_busy =
	LOC(0x555555555308, true, &app, 0x08, walk_lines);
static const struct sym_location visit =
	LOC(0x555555555284, true, &app, 0x04, visit_lines);
static const struct sym_location lookup =
	LOC(0x555555555410, true, &app, 0x10, lookup_lines);
static const struct sym_location hash =
	LOC(0x555555555388, true, &app, 0x08, hash_lines);
static const struct sym_location insert =
	LOC(0x555555555460, false, &app, 0x20, insert_lines);
static const struct sym_location idle =
	LOC(0x555555555500, true, &app, 0x00, idle_lines);
static const struct sym_location worker_a =
	LOC(0x5555555551b0, true, &app, 0x48, worker_lines);
static const struct sym_location worker_b =
	LOC(0x5555555551c4, true, &app, 0x5c, worker_lines);
static const struct sym_location memcpy_loc =
	LOC(0x7f00000b1010, true, &libc, 0x10, memcpy_lines);
static const struct sym_location odd =
	LOC(0x7f00000c2020, true, &libc, 0x20, odd_lines);
static const struct sym_location start =
	LOC(0x7f0000094ac3, false, &libc, 0x2f3, start_lines);
static const struct sym_location clone =
	LOC(0x7f0000126850, false, &libc, 0x30, clone_lines);

/* Leaf first, as unwound. */
static const struct sym_location *const square_stack[] = {&square, &loop,
							  &mainf};
static const struct sym_location *const memcpy_stack[] = {&memcpy_loc, &compute,
							  &loop, &mainf};
/* walk -> walk -> walk -> visit: walk counts once in cum. */
static const struct sym_location *const visit_stack[] = {
	&visit, &walk_self, &walk_self, &walk_top, &loop, &mainf};
static const struct sym_location *const walk_stack[] = {&walk_busy, &walk_top,
							&loop, &mainf};
static const struct sym_location *const lookup_stack[] = {&lookup, &loop,
							  &mainf};
static const struct sym_location *const hash_stack[] = {&hash, &insert, &loop,
							&mainf};
static const struct sym_location *const odd_stack[] = {&odd, &loop, &mainf};
static const struct sym_location *const idle_stack[] = {&idle, &loop, &mainf};
static const struct sym_location *const worker_a_stack[] = {&worker_a, &start,
							    &clone};
static const struct sym_location *const worker_b_stack[] = {&worker_b, &start,
							    &clone};

struct sample {
	int64_t tid;
	const struct sym_location *const *stack;
	size_t depth;
	int64_t cpu; /* nanoseconds */
};

#define STACK(s) s, sizeof(s) / sizeof(s[0])

static const struct sample samples[] = {
	{101, STACK(square_stack), 700 * MS},
	{102, STACK(square_stack), 500 * MS},
	{101, STACK(memcpy_stack), 300 * MS},
	{101, STACK(visit_stack), 250 * MS},
	{102, STACK(walk_stack), 150 * MS},
	{101, STACK(lookup_stack), 200 * MS},
	{102, STACK(hash_stack), 100 * MS},
	{101, STACK(odd_stack), 10 * MS},
	{102, STACK(idle_stack), 0}, /* ran too briefly to count */
	{103, NULL, 0, 30 * MS},     /* nothing could be unwound */
	{104, STACK(worker_a_stack), 50 * MS},
	{105, STACK(worker_b_stack), 40 * MS},
};

#define NSAMPLES (sizeof(samples) / sizeof(samples[0]))

static const struct value_type cpu_types[] = {
	{"samples", "count"},
	{"cpu", "nanoseconds"},
};

static struct profile *build(void)
{
	struct profile *profile =
		profile_new(cpu_types, 2, &cpu_types[1], 10 * MS);

	if (!profile)
		return NULL;
	profile_set_time(profile, 1700000000000000000, 2 * 1000 * MS);
	for (size_t i = 0; i < NSAMPLES; i++) {
		const struct sample *s = &samples[i];
		int64_t values[] = {(s->cpu + 10 * MS - 1) / (10 * MS), s->cpu};
		struct label tid = {.key = LABEL_THREAD_ID, .num = s->tid};

		if (values[0] == 0)
			values[0] = 1;
		if (profile_add(profile, s->stack, s->depth, values, &tid, 1,
				1) < 0)
			goto fail;
	}
	return profile;
fail:
	profile_free(profile);
	return NULL;
}

typedef int (*write_fn)(const struct profile *profile, FILE *out);

static char *render(const struct profile *profile, write_fn write)
{
	char *buf = NULL;
	size_t len;
	FILE *out = open_memstream(&buf, &len);
	int ret;

	if (!out)
		return NULL;
	ret = write(profile, out);
	if (fclose(out) || ret < 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static char *slurp(const char *dir, const char *name)
{
	char path[4096], *buf = NULL;
	size_t len = 0, cap = 0;
	FILE *in;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	in = fopen(path, "re");
	if (!in)
		return NULL;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *grown = realloc(buf, cap = 2 * cap + 8192);

			if (!grown)
				break;
			buf = grown;
		}
		size_t n = fread(buf + len, 1, 4096, in);

		len += n;
		if (n == 0)
			break;
	}
	fclose(in);
	if (buf)
		buf[len] = '\0';
	return buf;
}

static int failures;

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "FAIL: %s\n", what);
		failures++;
	}
}

static void check_golden(const char *dir, const char *name,
			 const struct profile *profile, write_fn write)
{
	char *want = slurp(dir, name);
	char *got = render(profile, write);

	if (!want || !got) {
		fprintf(stderr, "cannot read '%s/%s' or render it\n", dir,
			name);
		exit(EXIT_ERROR);
	}
	if (strcmp(want, got)) {
		fprintf(stderr, "FAIL: %s differs; got:\n%s", name, got);
		failures++;
	}
	free(got);
	free(want);
}

/* A newline in a name must not end a folded line or a table row. */
static void check_control_bytes(void)
{
	static const struct sym_line bad_lines[] = {SYMBOL("bad\nname")};
	static const struct sym_location bad =
		LOC(0x7f00000d0000, true, &libc, 0, bad_lines);
	const struct sym_location *stack[] = {&bad, &mainf};
	const int64_t values[] = {1, 5 * MS};
	struct profile *profile = profile_new(cpu_types, 2, NULL, 0);
	char *folded, *top;

	if (!profile || profile_add(profile, stack, 2, values, NULL, 0, 1) < 0)
		exit(EXIT_ERROR);
	folded = render(profile, profile_write_folded);
	top = render(profile, profile_write_top);
	if (!folded || !top)
		exit(EXIT_ERROR);
	check(!strcmp(folded, "main;bad?name 5000000\n"), "folded bad name");
	check(strstr(top, "  100%  bad?name\n") != NULL, "top bad name");
	free(top);
	free(folded);
	profile_free(profile);
}

/* Count units print as plain integers; one autoscaled unit otherwise. */
static void check_units(void)
{
	const struct sym_location *stack[] = {&square, &loop, &mainf};
	const int64_t values[] = {3, 1500};
	struct profile *count = profile_new(cpu_types, 1, NULL, 0);
	struct profile *time = profile_new(cpu_types, 2, NULL, 0);
	char *count_top, *time_top;

	if (!count || !time ||
	    profile_add(count, stack, 3, values, NULL, 0, 1) < 0 ||
	    profile_add(time, stack, 3, values, NULL, 0, 1) < 0)
		exit(EXIT_ERROR);
	count_top = render(count, profile_write_top);
	time_top = render(time, profile_write_top);
	if (!count_top || !time_top)
		exit(EXIT_ERROR);
	check(strstr(count_top, "Type: samples\nShowing nodes accounting for "
				"3, 100% of 3 total\n") != NULL,
	      "count header");
	check(strstr(count_top, "\n         3   100%   100%          3   100%"
				"  square (inline)\n") != NULL,
	      "count row");
	check(strstr(time_top, "\n    1.50us   100%   100%     1.50us   100%"
			       "  square (inline)\n") != NULL,
	      "microseconds row");
	free(time_top);
	free(count_top);
	profile_free(time);
	profile_free(count);
}

static void check_empty(void)
{
	struct profile *profile = profile_new(cpu_types, 2, NULL, 0);
	char *folded = profile ? render(profile, profile_write_folded) : NULL;
	char *top = profile ? render(profile, profile_write_top) : NULL;

	if (!folded || !top)
		exit(EXIT_ERROR);
	check(!strcmp(folded, ""), "empty folded");
	check(!strcmp(top, "Type: cpu\n"
			   "Showing nodes accounting for 0, 0% of 0 total\n"
			   "      flat  flat%   sum%        cum   cum%\n"),
	      "empty top");
	check(profile_write_top(NULL, stdout) == -EINVAL, "NULL profile");
	check(profile_write_folded(profile, NULL) == -EINVAL, "NULL file");
	free(top);
	free(folded);
	profile_free(profile);
}

struct live_sample {
	int64_t tid;
	const char *thread, *state, *wait;
	const struct sym_location *const *stack;
	size_t depth;
	int64_t wall;
};

static const struct sym_location *const live_loop_stack[] = {&loop, &mainf};
static const struct sym_location *const live_idle_stack[] = {&idle, &loop,
							     &mainf};

/* Three threads: main runs in run_loop, then waits in idle_poll on a
 * futex; "io" waits in idle_poll on epoll_wait and once runs (its wait
 * label, the call it made, is then no wait); "spare" has no stack.  In
 * main's and run_loop's cum, running and epoll_wait tie: the state seen
 * first shows. */
static const struct live_sample live_samples[] = {
	{7, "main", "running", NULL, STACK(live_loop_stack), 300},
	{7, "main", "sleeping", "futex", STACK(live_idle_stack), 100},
	{8, "io", "sleeping", "epoll_wait", STACK(live_idle_stack), 400},
	{8, "io", "running", "epoll_wait", STACK(live_idle_stack), 100},
	{9, "spare", "sleeping", NULL, NULL, 0, 100},
};

static struct profile *build_live(void)
{
	static const struct value_type wall_types[] = {{"samples", "count"},
						       {"wall", "nanoseconds"}};
	struct profile *profile = profile_new(wall_types, 2, NULL, 0);

	for (size_t i = 0;
	     profile && i < sizeof(live_samples) / sizeof(live_samples[0]);
	     i++) {
		const struct live_sample *s = &live_samples[i];
		const int64_t values[] = {1, s->wall};
		struct label labels[] = {
			{.key = LABEL_THREAD_ID, .num = s->tid},
			{.key = LABEL_THREAD_NAME, .str = s->thread},
			{.key = LABEL_STATE, .str = s->state},
			{.key = LABEL_WAIT, .str = s->wait},
		};

		if (profile_add(profile, s->stack, s->depth, values, labels,
				s->wait ? 4 : 3, 1) < 0)
			exit(EXIT_ERROR);
	}
	if (!profile)
		exit(EXIT_ERROR);
	return profile;
}

static char *render_with(const struct profile *profile,
			 const struct top_options *opts)
{
	char *buf = NULL;
	size_t len;
	FILE *out = open_memstream(&buf, &len);
	int ret;

	if (!out)
		exit(EXIT_ERROR);
	ret = profile_write_top_with(profile, opts, out);
	if (fclose(out) || ret < 0)
		exit(EXIT_ERROR);
	return buf;
}

/* What cprof top adds: the state column, where functions start, one
 * thread alone, and the threads' list. */
static void check_live(void)
{
	struct profile *profile = build_live();
	struct profile_thread *threads;
	size_t nthreads;
	char *all = render_with(profile, &(struct top_options){.by_cum = true,
							       .where = true,
							       .states = true});
	char *io =
		render_with(profile, &(struct top_options){.one_thread = true,
							   .thread_id = 8,
							   .states = true});

	check(!strcmp(all,
		      "Type: wall\n"
		      "Showing nodes accounting for 900ns, 90.00% of 1000ns "
		      "total\n"
		      "      flat  flat%   sum%        cum   cum%  state\n"
		      "     300ns 30.00% 30.00%      900ns 90.00%  "
		      "running          44%  run_loop (loop.c:20)\n"
		      "         0     0% 30.00%      900ns 90.00%  "
		      "running          44%  main (main.c:9)\n"
		      "     600ns 60.00% 90.00%      600ns 60.00%  "
		      "epoll_wait       67%  idle_poll (loop.c:66)\n"),
	      "live: states and where, by cum");
	check(!strcmp(io, "Type: wall\n"
			  "Showing nodes accounting for 500ns, 100% of 500ns "
			  "total\n"
			  "      flat  flat%   sum%        cum   cum%  state\n"
			  "     500ns   100%   100%      500ns   100%  "
			  "epoll_wait       80%  idle_poll\n"
			  "         0     0%   100%      500ns   100%  "
			  "epoll_wait       80%  main\n"
			  "         0     0%   100%      500ns   100%  "
			  "epoll_wait       80%  run_loop\n"),
	      "live: one thread");
	check(profile_threads(profile, &threads, &nthreads) == 0 &&
		      nthreads == 3 && threads[0].id == 7 &&
		      !strcmp(threads[0].name, "main") && threads[1].id == 8 &&
		      !strcmp(threads[1].name, "io") && threads[2].id == 9 &&
		      !strcmp(threads[2].name, "spare"),
	      "live: threads by id");
	free(threads);
	free(io);
	free(all);
	profile_free(profile);
}

static int write_pprof(const struct profile *profile, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int ret;

	if (fd < 0)
		return -errno;
	ret = profile_write_pprof(profile, fd);
	if (close(fd) && ret == 0)
		ret = -errno;
	return ret;
}

int main(int argc, char **argv)
{
	struct profile *profile;

	if (argc != 3) {
		fprintf(stderr,
			"usage: test-pprofout-flat GOLDEN_DIR PPROF_OUT\n");
		return EXIT_ERROR;
	}
	profile = build();
	if (!profile) {
		fprintf(stderr, "cannot build the profile\n");
		return EXIT_ERROR;
	}
	check_golden(argv[1], "folded.txt", profile, profile_write_folded);
	check_golden(argv[1], "top.txt", profile, profile_write_top);
	check_control_bytes();
	check_units();
	check_empty();
	check_live();
	if (write_pprof(profile, argv[2]) < 0) {
		fprintf(stderr, "cannot write '%s'\n", argv[2]);
		return EXIT_ERROR;
	}
	profile_free(profile);
	return failures ? EXIT_FAIL : 0;
}
