/* SPDX-License-Identifier: MIT */
/*
 * cprof top: a recording that shows its hottest functions as it goes,
 * like py-spy top and perf top.  The session (attach/session.h) samples
 * until q, Ctrl-C or the command's exit; the collector makes the profile;
 * the live view (live/live.h) draws it from the session's progress calls.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach/session.h"
#include "cmd/commands.h"
#include "cmd/util.h"
#include "collect/collect.h"
#include "live/live.h"

#define TOP_DEFAULT_HZ	 100
#define TOP_MAX_HZ	 10000
#define TOP_MAX_INTERVAL 3600
#define TOP_FOREVER_NS	 (100LL * 365 * 24 * 3600 * 1000000000LL)

static const char top_usage[] =
	"usage: cprof top -p PID [-F HZ] [--mode=cpu|wall] [--interval N]\n"
	"       cprof top [options] -- COMMAND [ARGS...]\n";

static const char top_help[] =
	"\n"
	"Show the hottest functions of process PID, or of COMMAND started\n"
	"under cprof, live on the terminal: own and total share, redrawn\n"
	"as the samples come.\n"
	"\n"
	"  -p, --pid PID          the process (a thread id names its process)\n"
	"  -F, --frequency HZ     ticks per second (default 100)\n"
	"      --mode=MODE        cpu (default) or wall\n"
	"      --interval N       redraw every N seconds (default 1)\n"
	"  -h, --help             show the help text and exit\n"
	"\n"
	"Keys: o sort by own share, t by total; n and p show the next or\n"
	"previous thread alone, a all threads again; q quits (as Ctrl-C)\n"
	"and the process runs on, untraced.\n"
	"\n"
	"Exit status:\n"
	"  0   ended by q, a signal, or the process's exit\n"
	"  2   cannot record: no such process, or it cannot be traced\n"
	"  64  command line error, or standard output is not a terminal\n";

enum {
	OPT_MODE = 256,
	OPT_INTERVAL
};

static const struct option top_longopts[] = {
	{"pid", required_argument, NULL, 'p'},
	{"frequency", required_argument, NULL, 'F'},
	{"mode", required_argument, NULL, OPT_MODE},
	{"interval", required_argument, NULL, OPT_INTERVAL},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

struct top_args {
	struct session_options session;
	unsigned long interval_s;
};

static int parse_option(int opt, void *ctx)
{
	struct top_args *opts = ctx;

	switch (opt) {
	case 'p':
		if (parse_pid(optarg, &opts->session.pid) < 0) {
			cprof_error("invalid pid '%s'", optarg);
			return -EINVAL;
		}
		return 0;
	case 'F':
		if (parse_ulong(optarg, 1, TOP_MAX_HZ, &opts->session.hz) < 0) {
			cprof_error("invalid -F '%s': use 1 to %d", optarg,
				    TOP_MAX_HZ);
			return -EINVAL;
		}
		return 0;
	case OPT_MODE:
		if (strcmp(optarg, "cpu") && strcmp(optarg, "wall")) {
			cprof_error("invalid --mode '%s': use cpu or wall",
				    optarg);
			return -EINVAL;
		}
		opts->session.mode =
			strcmp(optarg, "cpu") ? SESSION_WALL : SESSION_CPU;
		return 0;
	case OPT_INTERVAL:
		if (parse_ulong(optarg, 1, TOP_MAX_INTERVAL,
				&opts->interval_s) < 0) {
			cprof_error("invalid --interval '%s': use 1 to %d",
				    optarg, TOP_MAX_INTERVAL);
			return -EINVAL;
		}
		return 0;
	default:
		return -EINVAL;
	}
}

static const struct command_line top_command_line = {
	.usage = top_usage,
	.help = top_help,
	.shortopts = "+:p:F:h",
	.longopts = top_longopts,
	.handle = parse_option,
};

static int check_options(int argc, char **argv, struct top_args *opts)
{
	if (optind < argc && (optind == 0 || strcmp(argv[optind - 1], "--"))) {
		cprof_error("unexpected argument '%s'; a command to run "
			    "follows '--'",
			    argv[optind]);
		return -EINVAL;
	}
	if (optind < argc)
		opts->session.command = argv + optind;
	if (opts->session.pid && opts->session.command) {
		cprof_error("give either -p PID or a command, not both");
		return -EINVAL;
	}
	if (!opts->session.pid && !opts->session.command) {
		cprof_error("nothing to show: use -p PID or -- COMMAND");
		return -EINVAL;
	}
	if (isatty(STDOUT_FILENO) != 1) {
		cprof_error("top: standard output is not a terminal; use "
			    "cprof record --format=top for a table");
		return -EINVAL;
	}
	if (!opts->session.command)
		opts->session.duration_ns = TOP_FOREVER_NS;
	return 0;
}

struct top_run {
	struct live_view *view;
	struct collector *collector;
	bool quit;
};

/* On the sampling thread, about once a second. */
static void on_progress(void *ctx, int64_t elapsed_ns,
			const struct session_stats *stats)
{
	struct top_run *run = ctx;
	struct live_progress progress = {
		.elapsed_ns = elapsed_ns,
		.samples = stats->samples,
		.lost = stats->lost + stats->missed_ticks,
	};

	if (run->quit)
		return;
	if (!live_view_update(run->view, collector_profile(run->collector),
			      &progress)) {
		/* q ends the session as Ctrl-C does: the session holds
		 * SIGINT and lets the target go. */
		run->quit = true;
		kill(getpid(), SIGINT);
	}
}

static void make_heading(const struct top_args *opts, char *buf, size_t size)
{
	if (opts->session.command)
		snprintf(buf, size, "%s, %s, %lu Hz", opts->session.command[0],
			 opts->session.mode == SESSION_CPU ? "CPU" : "wall",
			 opts->session.hz);
	else
		snprintf(buf, size, "pid %d, %s, %lu Hz",
			 (int)opts->session.pid,
			 opts->session.mode == SESSION_CPU ? "CPU" : "wall",
			 opts->session.hz);
}

int cmd_top(int argc, char **argv)
{
	struct top_args opts = {.session.hz = TOP_DEFAULT_HZ, .interval_s = 1};
	struct top_run run = {0};
	struct session_result res;
	struct sample_sink sink;
	char heading[256];
	int r;

	r = parse_command_line(argc, argv, &top_command_line, &opts);
	if (r == 0)
		r = check_options(argc, argv, &opts);
	if (r != 0)
		return r > 0 ? EXIT_ALL : EXIT_USAGE;
	r = collector_new(
		&(struct collect_options){
			.kind = opts.session.mode == SESSION_CPU ? COLLECT_CPU
								 : COLLECT_WALL,
			.hz = opts.session.hz,
			.merge = true},
		&run.collector);
	if (r < 0) {
		cprof_error_errno(r, "cannot record");
		return EXIT_FAIL;
	}
	make_heading(&opts, heading, sizeof(heading));
	r = live_view_new(
		&(struct live_options){.heading = heading,
				       .interval_s = (int)opts.interval_s,
				       .states = opts.session.mode ==
						 SESSION_WALL},
		&run.view);
	if (r < 0) {
		cprof_error_errno(r, "top: cannot use the terminal");
		collector_free(run.collector);
		return EXIT_FAIL;
	}
	collector_sink(run.collector, &sink);
	opts.session.progress = on_progress;
	opts.session.progress_ctx = &run;
	r = session_record(&opts.session, &sink, &res);
	live_view_free(run.view);
	collector_free(run.collector);
	if (r < 0) {
		cprof_error_errno(r, "top: recording failed");
		return EXIT_FAIL;
	}
	return EXIT_ALL;
}
