/* SPDX-License-Identifier: MIT */
/* What every subcommand shares: exit codes, the one error line, option
 * parsing and crash-safe output files. */
#ifndef CPROF_CMD_UTIL_H
#define CPROF_CMD_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Exit codes, documented in cprof(1). */
enum {
	EXIT_ALL = 0,	  /* every thread captured and unwound */
	EXIT_PARTIAL = 1, /* output written, some threads missing or cut */
	EXIT_FAIL = 2,	  /* nothing useful written */
	EXIT_USAGE = 64,  /* bad command line (sysexits EX_USAGE) */
};

/* "cprof: " + message + "\n" on stderr; the one way cmd/ reports. */
void cprof_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, with ": strerror(-err)" appended. */
void cprof_error_errno(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The one error line for a target cprof could not attach to. */
void report_target_error(pid_t pid, int err);

/* Strict numeric options: the whole string, in [min, max]. */
int parse_ulong(const char *text, unsigned long min, unsigned long max,
		unsigned long *ret_value);
int parse_pid(const char *text, pid_t *ret_pid);

/* The processes of -p and --pid-tree: comma lists, and a repeated option
 * adds to the list, as pgrep and perf take them. */
struct pid_list {
	pid_t *pids;
	size_t n;
};

/* Appends "PID[,PID...]" to list: -EINVAL (reported, naming option when
 * the list has several) for an empty element or a bad number, -ENOMEM. */
int pid_list_parse(struct pid_list *list, const char *text, const char *option);
/* Before anything is touched: each pid names a live process (a thread
 * id names its process, and is replaced by it), given once.  Reports the
 * one line and returns EXIT_FAIL (no such process, a zombie, a kernel
 * thread) or EXIT_USAGE (given twice); 0 when all is well. */
int pid_list_check(struct pid_list *list);
void pid_list_free(struct pid_list *list);

#include "cmd/output.h"

struct option;

/* A subcommand's command line: its usage lines, help text and options. */
struct command_line {
	const char *usage, *help;
	const char *shortopts; /* with the leading "+:" */
	const struct option *longopts;
	/* Takes one parsed option (optarg set); -EINVAL after reporting. */
	int (*handle)(int opt, void *ctx);
};

/* Runs getopt_long over argv: 1 when --help was shown, 0 to go on (optind
 * at the first operand), -EINVAL after a usage error was reported. */
int parse_command_line(int argc, char **argv, const struct command_line *cl,
		       void *ctx);

/* One line for an option getopt refused ('?' unknown, ':' no value),
 * naming cprof rather than the subcommand. */
void report_bad_option(int opt, char **argv, int next_index, int bad_char);

/* CLOCK_REALTIME and CLOCK_MONOTONIC in nanoseconds. */
int64_t realtime_ns(void);
int64_t monotonic_ns(void);

/* Whether stderr is a terminal: progress lines are shown only then. */
bool stderr_is_tty(void);

#endif
