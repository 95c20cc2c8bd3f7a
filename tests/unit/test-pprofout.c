/* SPDX-License-Identifier: MIT */
/*
 * pprofout from hand-made symbolized stacks: two modules, an inlined chain,
 * a PC outside every module, an empty stack, labels including a numeric
 * thread_id.  debug=1 and debug=2 are compared byte for byte against golden
 * files; the pprof file is left for tests/unit/pprof-consumer.sh to read.
 *
 * usage: test-pprofout GOLDEN_DIR PPROF_OUT
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

#define APP  "/usr/bin/app"
#define LIBC "/usr/lib/x86_64-linux-gnu/libc.so.6"

static const struct module_info app = {
	.start = 0x555555554000,
	.end = 0x555555560000,
	.file_offset = 0,
	.path = APP,
	.build_id = "5a1e0c0ffee0ddba11ab1ec0de5eed0f00d2bad1",
	.has_symbols = true,
	.has_dwarf = true,
};

static const struct module_info libc = {
	.start = 0x7f0000000000,
	.end = 0x7f0000200000,
	.file_offset = 0x28000,
	.path = LIBC,
	.build_id = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00",
	.has_symbols = true,
	.has_dwarf = false,
};

/* One source frame with no DWARF: name only. */
#define SYMBOL(name)                                                           \
	{                                                                      \
		.function = name, .system_name = name, .file = "", .line = 0,  \
		.start_line = 0                                                \
	}

static const struct sym_line futex_lines[] = {
	SYMBOL("__futex_abstimed_wait_common"),
};
static const struct sym_line lock_lines[] = {
	SYMBOL("pthread_mutex_lock"),
};
static const struct sym_line start_lines[] = {SYMBOL("start_thread")};
static const struct sym_line clone_lines[] = {SYMBOL("clone3")};
static const struct sym_line unknown_lines[] = {SYMBOL("0xdeadbeef")};

/* queue_empty() inlined into queue_pop(): innermost first. */
static const struct sym_line pop_lines[] = {
	{"queue_empty", "queue_empty", "/src/app/queue.c", 31, 29},
	{"queue_pop", "queue_pop", "/src/app/queue.c", 88, 80},
};
static const struct sym_line worker_lines[] = {
	{"worker_main", "worker_main", "/src/app/worker.c", 40, 35},
};
static const struct sym_line main_lines[] = {
	{"main", "main", "/src/app/main.c", 12, 9},
};
static const struct sym_line run_lines[] = {
	{"ns::Ticker<int>::run()", "_ZN2ns6TickerIiE3runEv",
	 "/src/app/ticker.cc", 17, 15},
};

#define LOC(pc_, act, mod, off, lines_)                                        \
	{                                                                      \
		.pc = pc_, .activation = act, .module = mod,                   \
		.symbol_offset = off,                                          \
		.nlines = sizeof(lines_) / sizeof(lines_[0]), .lines = lines_  \
	}

static const struct sym_location futex =
	LOC(0x7f0000091a12, true, &libc, 0x82, futex_lines);
static const struct sym_location lock =
	LOC(0x7f00000a0123, false, &libc, 0x93, lock_lines);
static const struct sym_location start =
	LOC(0x7f0000094ac3, false, &libc, 0x2f3, start_lines);
static const struct sym_location clone =
	LOC(0x7f0000126850, false, &libc, 0x30, clone_lines);
static const struct sym_location pop =
	LOC(0x5555555550a1, false, &app, 0x21, pop_lines);
static const struct sym_location worker =
	LOC(0x5555555551c4, false, &app, 0x5c, worker_lines);
static const struct sym_location worker_running =
	LOC(0x5555555551b0, true, &app, 0x48, worker_lines);
static const struct sym_location mainf =
	LOC(0x555555555040, false, &app, 0x40, main_lines);
static const struct sym_location unknown =
	LOC(0xdeadbeef, true, NULL, 0, unknown_lines);
static const struct sym_location run =
	LOC(0x555555555310, false, &app, 0x1c, run_lines);

static const struct sym_location *const worker_stack[] = {
	&futex, &pop, &worker, &start, &clone,
};
static const struct sym_location *const main_stack[] = {
	&futex,
	&lock,
	&mainf,
};
static const struct sym_location *const busy_stack[] = {
	&worker_running,
	&start,
	&clone,
};
static const struct sym_location *const ticker_stack[] = {
	&unknown,
	&run,
	&start,
	&clone,
};

struct thread {
	int64_t tid;
	const char *name, *state, *wait;
	const struct sym_location *const *stack;
	size_t depth;
};

#define STACK(s) s, sizeof(s) / sizeof(s[0])

static const struct thread threads[] = {
	{4090, "app", "sleeping", "futex", STACK(main_stack)},
	{4093, "worker-3", "sleeping", "futex", STACK(worker_stack)},
	{4094, "worker-4", "sleeping", "futex", STACK(worker_stack)},
	{4095, "worker \"5\"\\\n", "sleeping", "futex", STACK(worker_stack)},
	{4096, "busy", "running", NULL, STACK(busy_stack)},
	{4097, "ticker", "sleeping", "nanosleep", STACK(ticker_stack)},
	{4098, "lost", "stopped", NULL, NULL, 0},
	{4099, "busy-2", "running", NULL, STACK(busy_stack)},
};

#define NTHREADS (sizeof(threads) / sizeof(threads[0]))

static const struct value_type threads_count = {"threads", "count"};

/*
 * Labels in a scrambled order on purpose: the model must sort them.  With
 * per_thread 0 only state and wait are given, as for one sample per
 * (state, stack).
 */
static size_t thread_labels(const struct thread *t, int per_thread,
			    struct label *labels)
{
	size_t n = 0;

	if (t->wait)
		labels[n++] = (struct label){.key = LABEL_WAIT, .str = t->wait};
	labels[n++] = (struct label){.key = LABEL_STATE, .str = t->state};
	if (!strcmp(t->state, "running"))
		labels[n++] = (struct label){.key = "cpu", .num = 1};
	if (!per_thread)
		return n;
	labels[n++] = (struct label){.key = LABEL_THREAD_NAME, .str = t->name};
	labels[n++] = (struct label){.key = LABEL_THREAD_ID, .num = t->tid};
	return n;
}

static struct profile *build(int per_thread, int merge)
{
	struct profile *profile = profile_new(&threads_count, 1, NULL, 0);
	const int64_t one = 1;

	if (!profile)
		return NULL;
	profile_set_time(profile, 1700000000000000000, 0);
	if (profile_add_comment(profile, "executable: " APP) < 0 ||
	    profile_add_comment(profile, "cprof 0.1.0") < 0)
		goto fail;
	for (size_t i = 0; i < NTHREADS; i++) {
		struct label labels[8];
		size_t n = thread_labels(&threads[i], per_thread, labels);

		if (profile_add(profile, threads[i].stack, threads[i].depth,
				&one, labels, n, merge) < 0)
			goto fail;
	}
	return profile;
fail:
	profile_free(profile);
	return NULL;
}

static char *render(const struct profile *profile, int level, unsigned flags)
{
	char *buf = NULL;
	size_t len;
	FILE *out = open_memstream(&buf, &len);
	int ret;

	if (!out)
		return NULL;
	ret = profile_write_text(profile, level, flags, out);
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

static void check_golden(const char *dir, const char *name, const char *got)
{
	char *want = slurp(dir, name);

	if (!want) {
		fprintf(stderr, "cannot read '%s/%s'\n", dir, name);
		exit(EXIT_ERROR);
	}
	if (strcmp(want, got)) {
		fprintf(stderr, "FAIL: %s differs; got:\n%s", name, got);
		failures++;
	}
	free(want);
}

/* debug=1 of a merged profile equals debug=1 of one sample per thread. */
static void check_merge(const char *per_thread_text)
{
	struct profile *merged = build(0, 1);
	struct profile *unmerged = build(1, 1);
	char *text = merged ? render(merged, 1, 0) : NULL;

	if (!merged || !unmerged || !text) {
		fprintf(stderr, "cannot build merged profiles\n");
		exit(EXIT_ERROR);
	}
	/* (state, stack): main, worker x3, busy x2, ticker, lost */
	check(profile_sample_count(merged) == 5, "merge by (stack, labels)");
	check(profile_sample_count(unmerged) == NTHREADS,
	      "thread_id keeps samples apart");
	check(!strcmp(text, per_thread_text), "merged debug=1 equal");
	free(text);
	profile_free(unmerged);
	profile_free(merged);
}

static void check_pcs(const struct profile *profile)
{
	char *text = render(profile, 2, TEXT_PCS);

	if (!text) {
		fprintf(stderr, "cannot render debug=2 with pcs\n");
		exit(EXIT_ERROR);
	}
	check(strstr(text, "queue_empty(...)\n\t/src/app/queue.c:31\n"
			   "queue_pop(...)\n\t/src/app/queue.c:88 +0x21 @ "
			   "0x5555555550a1\n") != NULL,
	      "TEXT_PCS on the outermost line only");
	check(strstr(text, "\t? +0x0 @ 0xdeadbeef\n") != NULL,
	      "TEXT_PCS without a module");
	free(text);
}

static void check_errors(struct profile *profile)
{
	const struct sym_location *hole[] = {&futex, NULL};
	const int64_t one = 1;

	check(profile_add(profile, hole, 2, &one, NULL, 0, 0) == -EINVAL,
	      "NULL frame is -EINVAL");
	check(profile_write_text(profile, 3, 0, stdout) == -EINVAL,
	      "unknown text level is -EINVAL");
	check(profile_write_pprof(profile, -1) == -EINVAL, "bad fd");
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
	char *debug1, *debug2;

	if (argc != 3) {
		fprintf(stderr, "usage: test-pprofout GOLDEN_DIR PPROF_OUT\n");
		return EXIT_ERROR;
	}
	profile = build(1, 0);
	debug1 = profile ? render(profile, 1, 0) : NULL;
	debug2 = profile ? render(profile, 2, 0) : NULL;
	if (!debug1 || !debug2) {
		fprintf(stderr, "cannot build the profile\n");
		return EXIT_ERROR;
	}
	check(profile_sample_count(profile) == NTHREADS, "one sample a thread");
	check_golden(argv[1], "threads-debug1.txt", debug1);
	check_golden(argv[1], "threads-debug2.txt", debug2);
	check_merge(debug1);
	check_pcs(profile);
	if (write_pprof(profile, argv[2]) < 0) {
		fprintf(stderr, "cannot write '%s'\n", argv[2]);
		return EXIT_ERROR;
	}
	check_errors(profile);
	free(debug2);
	free(debug1);
	profile_free(profile);
	return failures ? EXIT_FAIL : 0;
}
