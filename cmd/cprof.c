/* SPDX-License-Identifier: MIT */
/* cprof: Go's pprof experience for native Linux processes. */
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "config.h"
#include "cmd/commands.h"
#include "cmd/util.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{"record", cmd_record, "a sampled CPU or wall-clock profile"},
	{"threads", cmd_threads, "every thread's state and stack, once"},
	{"serve", cmd_serve, "Go's /debug/pprof/ endpoints over HTTP"},
	{"top", cmd_top, "the hottest functions, live on the terminal"},
};

/* Not in the table: "help" runs no command of its own. */
static const char help_summary[] = "this list, or a command's help";

static void usage(FILE *out)
{
	fputs("usage: cprof [--version] [--help] COMMAND [ARGS]\n\n"
	      "commands:\n",
	      out);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "   %-10s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(out, "   %-10s %s\n", "help", help_summary);
	fputs("\n"
	      "Exit status:\n"
	      "  0   --help or --version shown\n"
	      "  64  no command, or one cprof does not know\n"
	      "Otherwise the command's own: see 'cprof COMMAND --help'.\n"
	      "\n"
	      "'cprof COMMAND --help' and 'man cprof-COMMAND' tell more; the\n"
	      "manuals are installed by 'meson install --tags man', which\n"
	      "tests/demo.sh runs as root, or read in the source tree with\n"
	      "'man -l man/cprof-COMMAND.1'.\n",
	      out);
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* "cprof help" lists commands; "cprof help NAME" is "cprof NAME --help". */
static int run_help(int argc, char **argv)
{
	const struct command *cmd;
	char *help_argv[] = {NULL, "--help", NULL};

	if (argc < 2) {
		usage(stdout);
		return EXIT_ALL;
	}
	cmd = find_command(argv[1]);
	if (!cmd) {
		cprof_error("'%s' is not a cprof command; see 'cprof help'",
			    argv[1]);
		return EXIT_USAGE;
	}
	help_argv[0] = argv[1];
	return cmd->run(2, help_argv);
}

/* cprof keeps a few /proc files open per thread of the target, so a
 * process of thousands of threads needs more than the usual soft limit of
 * 1024 descriptors; the hard limit is ours to take. */
static void raise_fd_limit(void)
{
	struct rlimit limit;

	if (getrlimit(RLIMIT_NOFILE, &limit) == 0 &&
	    limit.rlim_cur < limit.rlim_max) {
		limit.rlim_cur = limit.rlim_max;
		setrlimit(RLIMIT_NOFILE, &limit);
	}
}

int main(int argc, char **argv)
{
	const struct command *cmd;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("cprof %s\n", CPROF_VERSION);
		return EXIT_ALL;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0)
		return run_help(argc - 1, argv + 1);
	cmd = find_command(argv[1]);
	if (!cmd) {
		cprof_error("'%s' is not a cprof command; see 'cprof help'",
			    argv[1]);
		return EXIT_USAGE;
	}
	raise_fd_limit();
	/* One heap for every thread: glibc grows a thread's own arena with
	 * an mprotect per allocation past its top, one per stack copy, and
	 * cprof's two threads never contend for it. */
	mallopt(M_ARENA_MAX, 1);
	return cmd->run(argc - 1, argv + 1);
}
