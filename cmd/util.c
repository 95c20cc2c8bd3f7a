/* SPDX-License-Identifier: MIT */
#include "cmd/util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attach/attach.h"

static void vreport(int err, const char *fmt, va_list ap)
{
	fputs("cprof: ", stderr);
	vfprintf(stderr, fmt, ap);
	if (err)
		fprintf(stderr, ": %s", strerror(err < 0 ? -err : err));
	fputc('\n', stderr);
}

void cprof_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(0, fmt, ap);
	va_end(ap);
}

void cprof_error_errno(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(err, fmt, ap);
	va_end(ap);
}

int parse_ulong(const char *text, unsigned long min, unsigned long max,
		unsigned long *ret_value)
{
	unsigned long long value;
	char *end;

	if (!text || *text < '0' || *text > '9')
		return -EINVAL;
	errno = 0;
	value = strtoull(text, &end, 10);
	if (errno == ERANGE || value > ULONG_MAX)
		return -ERANGE;
	if (*end)
		return -EINVAL;
	if (value < min || value > max)
		return -ERANGE;
	*ret_value = value;
	return 0;
}

int parse_pid(const char *text, pid_t *ret_pid)
{
	unsigned long value;
	int r;

	r = parse_ulong(text, 1, INT32_MAX, &value);
	if (r < 0)
		return r;
	*ret_pid = (pid_t)value;
	return 0;
}

/* One element of a pid list; the line names the list only when it has
 * several. */
static int parse_list_pid(const char *text, size_t len, const char *list,
			  const char *option, pid_t *ret_pid)
{
	char *one = strndup(text, len);
	int r;

	if (!one)
		return -ENOMEM;
	r = parse_pid(one, ret_pid);
	if (r < 0 && strchr(list, ','))
		cprof_error("invalid pid '%s' in %s '%s'", one, option, list);
	else if (r < 0)
		cprof_error("invalid pid '%s'", one);
	free(one);
	return r < 0 ? -EINVAL : 0;
}

int pid_list_parse(struct pid_list *list, const char *text, const char *option)
{
	const char *p = text;

	do {
		size_t len = strcspn(p, ",");
		pid_t pid, *grown;
		int r = parse_list_pid(p, len, text, option, &pid);

		if (r < 0)
			return r;
		grown = realloc(list->pids, (list->n + 1) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		list->pids = grown;
		list->pids[list->n++] = pid;
		p += len;
	} while (*p++ == ',');
	return 0;
}

int pid_list_check(struct pid_list *list)
{
	for (size_t i = 0; i < list->n; i++) {
		pid_t given = list->pids[i];
		int r = target_resolve(given, &list->pids[i]);

		if (r < 0) {
			report_target_error(given, r);
			return EXIT_FAIL;
		}
		for (size_t j = 0; j < i; j++) {
			if (list->pids[j] != list->pids[i])
				continue;
			if (given == list->pids[i])
				cprof_error("pid %d given twice", given);
			else
				cprof_error("pid %d given twice (thread %d "
					    "is in it)",
					    list->pids[i], given);
			return EXIT_USAGE;
		}
	}
	return 0;
}

void pid_list_free(struct pid_list *list)
{
	free(list->pids);
	*list = (struct pid_list){0};
}

bool stderr_is_tty(void)
{
	return isatty(STDERR_FILENO) == 1;
}

static int64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t realtime_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

int64_t monotonic_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

void report_bad_option(int opt, char **argv, int next_index, int bad_char)
{
	const char *arg = argv[next_index - 1];
	bool is_long = arg[0] == '-' && arg[1] == '-';

	if (opt == ':' && is_long)
		cprof_error("option '%s' needs a value", arg);
	else if (opt == ':')
		cprof_error("option '-%c' needs a value", bad_char);
	else if (is_long)
		cprof_error("unknown option '%s'", arg);
	else
		cprof_error("unknown option '-%c'", bad_char);
}

int parse_command_line(int argc, char **argv, const struct command_line *cl,
		       void *ctx)
{
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, cl->shortopts, cl->longopts,
				  NULL)) != -1) {
		if (opt == 'h') {
			fputs(cl->usage, stdout);
			fputs(cl->help, stdout);
			return 1;
		}
		if (opt == '?' || opt == ':') {
			report_bad_option(opt, argv, optind, optopt);
			fputs(cl->usage, stderr);
			return -EINVAL;
		}
		if (cl->handle(opt, ctx) < 0)
			return -EINVAL;
	}
	return 0;
}

void report_target_error(pid_t pid, int err)
{
	char why[256];

	switch (err) {
	case -ESRCH:
		cprof_error("pid %d: no such process", pid);
		break;
	case -ECHILD:
		cprof_error("pid %d: process is a zombie; it has exited and "
			    "waits for its parent to reap it",
			    pid);
		break;
	case -EINVAL:
		cprof_error("pid %d: a kernel thread has no user stack to "
			    "show",
			    pid);
		break;
	case -EPERM:
		cprof_error("pid %d: ptrace not permitted: %s; or start it "
			    "under cprof with 'cprof record -- COMMAND'",
			    pid, target_explain_eperm(pid, why, sizeof(why)));
		break;
	default:
		cprof_error_errno(err, "pid %d: cannot attach", pid);
	}
}
