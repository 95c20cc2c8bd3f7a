/* SPDX-License-Identifier: MIT */
/*
 * cprof threads: one snapshot of every thread of a process, its state and
 * its stack -- the goroutine profile of a native process.  The target is
 * held only for the capture; unwinding and symbolizing happen after every
 * thread is running again and cprof has detached.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach/group.h"
#include "attach/session.h"
#include "cmd/commands.h"
#include "cmd/symbols.h"
#include "cmd/util.h"
#include "collect/collect.h"

static const char threads_usage[] =
	"usage: cprof threads -p PID[,PID...] [--debug=0|1|2] "
	"[--format=text|pprof|svg]\n"
	"                     [-o FILE]\n"
	"                     [--unwinder=libdw|libunwind] [--pcs] [--stats]\n"
	"                     " SYMBOLS_USAGE "\n"
	"       cprof threads [options] --pid-tree PID[,PID...]\n";

static const char threads_help[] =
	"\n"
	"Print every thread of process PID with its state and stack.\n"
	"\n"
	"  -p, --pid PID          the process (a thread id names its\n"
	"                         process); PID,PID... and a repeated -p\n"
	"                         show several, a block each\n"
	"      --pid-tree PID     each process and all its descendants\n"
	"      --debug=N          1: group equal stacks with a count "
	"(default)\n"
	"                         2: every thread on its own\n"
	"                         0: pprof, for go tool pprof\n"
	"      --format=FORMAT    text (the --debug layout, default), pprof\n"
	"                         (--debug=0) or svg (a flame graph of the\n"
	"                         threads, coloured by state); without\n"
	"                         this or --debug, -o NAME.svg, .prof or\n"
	"                         .txt chooses it\n"
	"  -o, --output FILE      write to FILE (default: stdout; pprof to a\n"
	"                         terminal goes to threads.prof instead)\n"
	"      --unwinder=NAME    libdw (default) or libunwind\n"
	"      --pcs              debug=2: end each frame with its address\n"
	"      --stats            capture figures on standard error\n"
	/* --debuginfod, --no-debuginfod, --no-cache */
	SYMBOLS_HELP "  -h, --help             show the help text and exit\n"
	"\n"
	"Exit status:\n"
	"  0   every thread shown, its stack unwound to its end\n"
	"  1   output written, but a thread is missing or its stack cut short\n"
	"  2   nothing written: no such process, it cannot be traced, or\n"
	"      output failed\n"
	"  64  command line error\n";

struct threads_options {
	struct pid_list pids; /* -p, or --pid-tree's roots */
	bool tree;	      /* --pid-tree: descendants too */
	int debug;
	const char *output;
	enum unwinder_kind unwinder;
	bool pcs;
	bool stats;
	bool output_named; /* cprof chose the file name: say it */
	bool svg;
	bool format_given; /* --format or --debug */
	enum debuginfod_mode debuginfod;
};

enum {
	OPT_DEBUG = 256,
	OPT_PID_TREE,
	OPT_UNWINDER,
	OPT_PCS,
	OPT_STATS,
	OPT_FORMAT
};

static const struct option threads_longopts[] = {
	{"pid", required_argument, NULL, 'p'},
	{"pid-tree", required_argument, NULL, OPT_PID_TREE},
	{"debug", required_argument, NULL, OPT_DEBUG},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"output", required_argument, NULL, 'o'},
	{"unwinder", required_argument, NULL, OPT_UNWINDER},
	{"pcs", no_argument, NULL, OPT_PCS},
	{"stats", no_argument, NULL, OPT_STATS},
	SYMBOLS_LONGOPTS,
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* --format, or the extension of -o: text keeps the --debug layout. */
static int parse_format(const char *name, struct threads_options *opts)
{
	if (!strcmp(name, "svg")) {
		opts->svg = true;
	} else if (!strcmp(name, "pprof")) {
		opts->debug = 0;
	} else if (strcmp(name, "text")) {
		cprof_error("invalid --format '%s': use text, pprof or svg",
			    name);
		return -EINVAL;
	}
	opts->format_given = true;
	return 0;
}

static int parse_option(int opt, void *ctx)
{
	struct threads_options *opts = ctx;
	unsigned long value;

	switch (opt) {
	case 'p':
	case OPT_PID_TREE:
		if (opts->pids.n && opts->tree != (opt == OPT_PID_TREE)) {
			cprof_error("give either -p or --pid-tree, not both");
			return -EINVAL;
		}
		opts->tree = opt == OPT_PID_TREE;
		return pid_list_parse(&opts->pids, optarg,
				      opts->tree ? "--pid-tree" : "-p");
	case OPT_DEBUG:
		if (parse_ulong(optarg, 0, 2, &value) < 0) {
			cprof_error("invalid --debug '%s': use 0, 1 or 2",
				    optarg);
			return -EINVAL;
		}
		opts->debug = (int)value;
		opts->format_given = true;
		return 0;
	case OPT_FORMAT:
		return parse_format(optarg, opts);
	case 'o':
		opts->output = optarg;
		return 0;
	case OPT_UNWINDER:
		if (unwinder_kind_parse(optarg, &opts->unwinder) < 0) {
			cprof_error("invalid --unwinder '%s': use libdw or "
				    "libunwind",
				    optarg);
			return -EINVAL;
		}
		return 0;
	case OPT_PCS:
		opts->pcs = true;
		return 0;
	case OPT_STATS:
		opts->stats = true;
		return 0;
	default:
		return symbols_option(opt, &opts->debuginfod) ? 0 : -EINVAL;
	}
}

static const struct command_line threads_command_line = {
	.usage = threads_usage,
	.help = threads_help,
	.shortopts = "+:p:o:h",
	.longopts = threads_longopts,
	.handle = parse_option,
};

/* Returns 1 when --help was asked, 0 to go on, -EINVAL on a usage error. */
static int parse_options(int argc, char **argv, struct threads_options *opts)
{
	int r;

	*opts = (struct threads_options){.debug = 1};
	r = parse_command_line(argc, argv, &threads_command_line, opts);
	if (r != 0)
		return r;
	if (optind < argc) {
		cprof_error("unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	if (!opts->pids.n) {
		cprof_error("no process given: use -p PID");
		return -EINVAL;
	}
	if (!opts->format_given && output_format_of(opts->output) &&
	    strcmp(output_format_of(opts->output), "folded"))
		parse_format(output_format_of(opts->output), opts);
	if (opts->svg && opts->debug == 0) {
		cprof_error("--format=svg and --debug=0 (pprof) ask for two "
			    "formats: give one");
		return -EINVAL;
	}
	if (opts->pcs && opts->debug != 2) {
		cprof_error("--pcs needs --debug=2: debug=1 shows the "
			    "addresses already");
		return -EINVAL;
	}
	/* Binary never goes to a terminal: -o - is refused there, and no
	 * -o writes a file whose name is said once it is written. */
	if (opts->debug == 0 && !opts->svg && isatty(STDOUT_FILENO) == 1) {
		if (opts->output && output_is_stdout(opts->output)) {
			cprof_error("pprof is binary and stdout is a terminal: "
				    "redirect it or use -o FILE");
			return -EINVAL;
		}
		if (!opts->output) {
			opts->output = "threads.prof";
			opts->output_named = true;
		}
	}
	return 0;
}

static void report_session_error(const struct session_result *res, int err)
{
	switch (res->failure) {
	case SESSION_FAIL_TARGET:
		report_target_error(res->pid, err);
		break;
	case SESSION_FAIL_THREAD:
		cprof_error_errno(err, "cannot start the capture thread");
		break;
	case SESSION_FAIL_BEGIN:
		cprof_error_errno(err, "pid %d: cannot read its address space",
				  res->pid);
		break;
	default:
		cprof_error_errno(err, "pid %d: cannot capture threads",
				  res->pid);
	}
}

static bool single_process(const struct threads_options *opts)
{
	return !opts->tree && opts->pids.n == 1;
}

static int process_sink(void *ctx, struct sample_sink *ret_sink)
{
	return collector_process_sink(ctx, ret_sink);
}

/* Each process captured in turn, into one profile. */
static int capture_group(const struct threads_options *opts,
			 struct collector *c, struct session_result *res)
{
	const struct group_options go = {.pids = opts->pids.pids,
					 .npids = opts->pids.n,
					 .follow = opts->tree,
					 .member_sink = process_sink,
					 .ctx = c};
	struct group_result gr;
	int r = group_snapshot(&go, &gr);

	*res = gr.first;
	res->stats = gr.stats;
	return r;
}

/* Seize, capture every thread once, let go, then unwind and symbolize:
 * the target notices the capture only. */
static int capture(const struct threads_options *opts,
		   struct session_result *res, struct collector **ret_c)
{
	const struct session_options so = {.pid = opts->pids.pids[0]};
	const struct collect_options co = {
		.kind = COLLECT_THREADS,
		.unwinder = opts->unwinder,
		.merge = opts->debug != 2,
		.label_process = !single_process(opts),
	};
	struct sample_sink sink;
	int r;

	r = collector_new(&co, ret_c);
	if (r < 0) {
		cprof_error_errno(r, "cannot capture threads");
		return r;
	}
	if (single_process(opts)) {
		collector_sink(*ret_c, &sink);
		r = session_snapshot(&so, &sink, res);
	} else {
		r = capture_group(opts, *ret_c, res);
	}
	if (r >= 0)
		r = collector_finish(*ret_c, res);
	if (r < 0)
		report_session_error(res, r);
	return r;
}

/* Text: a block per process when there are several. */
static int write_text(const struct collector *c,
		      const struct threads_options *opts, FILE *fp)
{
	unsigned flags = opts->pcs ? TEXT_PCS : 0;
	struct profile_process *procs;
	size_t n;
	int r;

	if (single_process(opts))
		return profile_write_text(collector_profile(c), opts->debug,
					  flags, fp);
	r = collector_processes(c, &procs, &n);
	if (r < 0)
		return r;
	r = profile_write_text_processes(collector_profile(c), opts->debug,
					 flags, procs, n, fp);
	free(procs);
	return r;
}

static int write_profile(const struct collector *c, struct output *out,
			 const struct threads_options *opts,
			 const struct session_result *res)
{
	char title[128];
	int r;

	if (single_process(opts))
		snprintf(title, sizeof(title),
			 "cprof threads: pid %d, %zu threads", (int)res->pid,
			 res->stats.threads);
	else
		snprintf(title, sizeof(title),
			 "cprof threads: %zu threads of pid %d and others",
			 res->stats.threads, (int)opts->pids.pids[0]);
	if (opts->svg)
		r = profile_write_svg(collector_profile(c), title, out->fp);
	else if (opts->debug == 0)
		r = profile_write_pprof(collector_profile(c), fileno(out->fp));
	else
		r = write_text(c, opts, out->fp);
	if (r >= 0)
		r = output_commit(out);
	/* A reader that went away is no error to report (see record.c). */
	if (r < 0 && !(r == -EPIPE && output_is_stdout(opts->output)))
		cprof_error_errno(r, "cannot write '%s'",
				  output_is_stdout(opts->output)
					  ? "stdout"
					  : opts->output);
	if (r >= 0 && opts->output_named)
		cprof_error("wrote %s", opts->output);
	return r;
}

static void print_stats(const struct session_stats *st,
			const struct collect_stats *cs)
{
	fprintf(stderr,
		"threads %zu, captured %zu, lost %zu, cut stacks %zu, "
		"stopped %llu (%zu after a read without a stop fell short), "
		"pause per stopped thread mean %.1f us, max %.1f us\n",
		st->threads, st->captured, st->lost_threads, cs->cut,
		(unsigned long long)st->stopped, st->stopped_again,
		st->stopped ? st->pause_total_ns / 1e3 / st->stopped : 0.0,
		st->pause_max_ns / 1e3);
	fprintf(stderr, "objects read %zu, found already read %zu times\n",
		cs->objects, cs->objects_reused);
}

int cmd_threads(int argc, char **argv)
{
	struct threads_options opts;
	struct session_result res;
	struct collector *c = NULL;
	struct collect_stats cs;
	struct output out = {0};
	int ret = EXIT_FAIL, r;

	r = parse_options(argc, argv, &opts);
	if (r != 0) {
		pid_list_free(&opts.pids);
		return r > 0 ? EXIT_ALL : EXIT_USAGE;
	}
	if (symbols_setup(opts.debuginfod) < 0) {
		pid_list_free(&opts.pids);
		return EXIT_USAGE;
	}
	/* Before the target is touched: a bad pid or -o must not cost the
	 * others a stop. */
	r = pid_list_check(&opts.pids);
	if (r == 0 && (r = output_open(&out, opts.output)) < 0) {
		output_report_error(opts.output, r);
		r = EXIT_FAIL;
	}
	if (r != 0) {
		pid_list_free(&opts.pids);
		return r;
	}
	if (capture(&opts, &res, &c) < 0)
		goto cleanup;
	collector_get_stats(c, &cs);
	if (opts.stats)
		print_stats(&res.stats, &cs);
	if (write_profile(c, &out, &opts, &res) < 0)
		goto cleanup;
	ret = (res.stats.lost_threads || cs.cut) ? EXIT_PARTIAL : EXIT_ALL;
cleanup:
	output_abort(&out);
	collector_free(c);
	pid_list_free(&opts.pids);
	return ret;
}
