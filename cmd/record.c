/* SPDX-License-Identifier: MIT */
/*
 * cprof record: a sampled CPU or wall-clock profile, like Go's 30-second
 * CPU profile, of a running process or of a command cprof starts.  The
 * session (attach/session.h) takes the samples; the collector
 * (collect/collect.h) makes them a profile; this file parses the command
 * line, wires the two and writes the result.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attach/group.h"
#include "attach/perf.h"
#include "attach/session.h"
#include "cmd/commands.h"
#include "cmd/symbols.h"
#include "cmd/util.h"
#include "collect/collect.h"

#define RECORD_DEFAULT_HZ      100
#define RECORD_MAX_HZ	       10000
#define RECORD_DEFAULT_SECONDS 30

enum record_format {
	FORMAT_PPROF,
	FORMAT_FOLDED,
	FORMAT_TOP,
	FORMAT_SVG
};

struct record_options {
	struct session_options session;
	struct pid_list pids; /* -p, or --pid-tree's roots */
	bool tree;	      /* --pid-tree: descendants too */
	bool no_children;     /* --no-children: the command alone */
	const char *output;
	enum record_format format;
	bool format_given;
	enum unwinder_kind unwinder;
	bool stats;
	bool output_named; /* cprof chose the file name: say it */
	enum debuginfod_mode debuginfod;
};

static const char record_usage[] =
	"usage: cprof record -p PID[,PID...] [-s SECONDS] [-F HZ] [-o FILE]\n"
	"                    [--mode=cpu|wall] "
	"[--format=pprof|folded|top|svg]\n"
	"                    [--unwinder=libdw|libunwind] [--stats]\n"
	"                    [--sampler=auto|perf|ptrace] [--stack-size=N]\n"
	"                    " SYMBOLS_USAGE "\n"
	"       cprof record [options] --pid-tree PID[,PID...]\n"
	"       cprof record [options] [--no-children] -- COMMAND [ARGS...]\n";

static const char record_help[] =
	"\n"
	"Sample the stacks of process PID, or of COMMAND started under cprof,\n"
	"and write a profile.\n"
	"\n"
	"  -p, --pid PID          the process (a thread id names its\n"
	"                         process); PID,PID... and a repeated -p\n"
	"                         record several into one profile\n"
	"      --pid-tree PID     each process and all its descendants,\n"
	"                         those forked while recording included\n"
	"      --no-children      with a COMMAND: the command alone, not the\n"
	"                         processes it starts\n"
	"  -s, --seconds N        how long to record (default 30; with a\n"
	"                         COMMAND, until it exits); Ctrl-C ends early\n"
	"                         and still writes the profile\n"
	"  -F, --frequency HZ     ticks per second (default 100); each tick\n"
	"                         samples the threads the mode needs\n"
	"      --mode=MODE        cpu (default): running threads, weighed by\n"
	"                         the CPU time they used; wall: every thread,\n"
	"                         labelled with its state and wait\n"
	"  -o, --output FILE      write to FILE (default: stdout; pprof to a\n"
	"                         terminal goes to cpu.prof or wall.prof)\n"
	"      --format=FORMAT    pprof (default), folded, top or svg (a\n"
	"                         flame graph); -o NAME.svg, .folded, .txt\n"
	"                         or .prof choose it when --format is not\n"
	"                         given\n"
	"      --unwinder=NAME    libdw (default) or libunwind\n"
	"      --sampler=NAME     cpu mode: perf (no stop; where the kernel\n"
	"                         allows perf_event_open), ptrace (a stop per\n"
	"                         sample) or auto (default: perf, else "
	"ptrace)\n"
	"      --stack-size=N     perf: bytes of user stack copied per sample\n"
	"                         (default 32768, at most 65528)\n"
	"      --stats            sampling figures on standard error\n"
	/* --debuginfod, --no-debuginfod, --no-cache */
	SYMBOLS_HELP "  -h, --help             show the help text and exit\n"
	"\n"
	"Exit status:\n"
	"  0   profile written (stacks cut short are counted by --stats)\n"
	"  2   nothing written: the process could not be traced, recording\n"
	"      failed, or output failed\n"
	"  64  command line error\n"
	"With a COMMAND, once the profile is written: the command's exit\n"
	"status, or 128 + the number of the signal that ended it.\n";

enum {
	OPT_MODE = 256,
	OPT_FORMAT,
	OPT_UNWINDER,
	OPT_STATS,
	OPT_SAMPLER,
	OPT_STACK_SIZE,
	OPT_PID_TREE,
	OPT_NO_CHILDREN
};

static const struct option record_longopts[] = {
	{"pid", required_argument, NULL, 'p'},
	{"pid-tree", required_argument, NULL, OPT_PID_TREE},
	{"no-children", no_argument, NULL, OPT_NO_CHILDREN},
	{"seconds", required_argument, NULL, 's'},
	{"frequency", required_argument, NULL, 'F'},
	{"output", required_argument, NULL, 'o'},
	{"mode", required_argument, NULL, OPT_MODE},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"unwinder", required_argument, NULL, OPT_UNWINDER},
	{"stats", no_argument, NULL, OPT_STATS},
	{"sampler", required_argument, NULL, OPT_SAMPLER},
	{"stack-size", required_argument, NULL, OPT_STACK_SIZE},
	SYMBOLS_LONGOPTS,
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static const char *const mode_names[] = {
	[SESSION_CPU] = "cpu", [SESSION_WALL] = "wall"};
static const char *const sampler_names[] = {[SAMPLER_AUTO] = "auto",
					    [SAMPLER_PERF] = "perf",
					    [SAMPLER_PTRACE] = "ptrace"};
static const char *const format_names[] = {[FORMAT_PPROF] = "pprof",
					   [FORMAT_FOLDED] = "folded",
					   [FORMAT_TOP] = "top",
					   [FORMAT_SVG] = "svg"};

static int parse_name(const char *text, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(text, names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

/* Seconds may have a fraction: "-s 0.5" is half a second. */
static int parse_seconds(const char *text, int64_t *ret_ns)
{
	char *end;
	double seconds;

	/* Decimal only: strtod would also take hex and exponents. */
	if (!text || *text < '0' || *text > '9' ||
	    text[strspn(text, "0123456789.")] != '\0')
		return -EINVAL;
	errno = 0;
	seconds = strtod(text, &end);
	if (errno || *end || !isfinite(seconds) || seconds <= 0 ||
	    seconds > 365.0 * 86400)
		return -ERANGE;
	*ret_ns = (int64_t)(seconds * 1e9);
	return *ret_ns > 0 ? 0 : -ERANGE;
}

static int parse_option(int opt, void *ctx)
{
	struct record_options *opts = ctx;
	unsigned long value;
	int index;

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
	case OPT_NO_CHILDREN:
		opts->no_children = true;
		return 0;
	case 's':
		if (parse_seconds(optarg, &opts->session.duration_ns) < 0)
			goto invalid;
		return 0;
	case 'F':
		if (parse_ulong(optarg, 1, RECORD_MAX_HZ, &value) < 0) {
			cprof_error("invalid -F '%s': use 1 to %d samples per "
				    "second",
				    optarg, RECORD_MAX_HZ);
			return -EINVAL;
		}
		opts->session.hz = value;
		return 0;
	case 'o':
		opts->output = optarg;
		return 0;
	case OPT_MODE:
		index = parse_name(optarg, mode_names, 2);
		if (index < 0) {
			cprof_error("invalid --mode '%s': use cpu or wall",
				    optarg);
			return -EINVAL;
		}
		opts->session.mode = index;
		return 0;
	case OPT_FORMAT:
		index = parse_name(optarg, format_names, 4);
		if (index < 0) {
			cprof_error("invalid --format '%s': use pprof, folded, "
				    "top or svg",
				    optarg);
			return -EINVAL;
		}
		opts->format = index;
		opts->format_given = true;
		return 0;
	case OPT_UNWINDER:
		if (unwinder_kind_parse(optarg, &opts->unwinder) < 0) {
			cprof_error("invalid --unwinder '%s': use libdw or "
				    "libunwind",
				    optarg);
			return -EINVAL;
		}
		return 0;
	case OPT_STATS:
		opts->stats = true;
		return 0;
	case OPT_SAMPLER:
		index = parse_name(optarg, sampler_names, 3);
		if (index < 0) {
			cprof_error("invalid --sampler '%s': use auto, perf or "
				    "ptrace",
				    optarg);
			return -EINVAL;
		}
		opts->session.sampler = index;
		return 0;
	case OPT_STACK_SIZE:
		if (parse_ulong(optarg, 8, PERF_STACK_MAX, &value) < 0 ||
		    value % 8) {
			cprof_error("invalid --stack-size '%s': use a multiple "
				    "of 8 from 8 to %d bytes",
				    optarg, PERF_STACK_MAX);
			return -EINVAL;
		}
		opts->session.stack_bytes = value;
		return 0;
	default:
		return symbols_option(opt, &opts->debuginfod) ? 0 : -EINVAL;
	}
invalid:
	cprof_error("invalid -s '%s'", optarg);
	return -EINVAL;
}

/* One process: the profile carries no process labels. */
static bool single_process(const struct record_options *opts)
{
	return opts->session.command ? opts->no_children
				     : !opts->tree && opts->pids.n == 1;
}

/* The format -o's extension asks for, pprof for none. */
static enum record_format format_of_output(const char *path)
{
	const char *name = output_format_of(path);

	if (name && !strcmp(name, "text"))
		return FORMAT_TOP;
	for (int i = FORMAT_PPROF; name && i <= FORMAT_SVG; i++)
		if (!strcmp(name, format_names[i]))
			return (enum record_format)i;
	return FORMAT_PPROF;
}

static int check_options(int argc, char **argv, struct record_options *opts)
{
	if (optind < argc)
		opts->session.command = argv + optind;
	if (opts->session.command && optind > 0 &&
	    strcmp(argv[optind - 1], "--")) {
		cprof_error("unexpected argument '%s'; a command to run "
			    "follows '--'",
			    argv[optind]);
		return -EINVAL;
	}
	if (opts->pids.n && opts->session.command) {
		cprof_error("give either -p PID or a command, not both");
		return -EINVAL;
	}
	if (!opts->pids.n && !opts->session.command) {
		cprof_error("nothing to record: use -p PID or -- COMMAND");
		return -EINVAL;
	}
	if (opts->no_children && !opts->session.command) {
		cprof_error("--no-children goes with a COMMAND; -p records "
			    "the processes named alone");
		return -EINVAL;
	}
	if (opts->pids.n)
		opts->session.pid = opts->pids.pids[0];
	if (opts->session.sampler == SAMPLER_PERF &&
	    opts->session.mode != SESSION_CPU) {
		cprof_error("--sampler=perf takes CPU profiles only; wall "
			    "mode samples every thread with ptrace");
		return -EINVAL;
	}
	if (!opts->session.duration_ns && !opts->session.command)
		opts->session.duration_ns =
			RECORD_DEFAULT_SECONDS * 1000000000LL;
	if (!opts->format_given)
		opts->format = format_of_output(opts->output);
	/* Binary never goes to a terminal: -o - is refused there, and no
	 * -o writes a file whose name is said once it is written. */
	if (opts->format == FORMAT_PPROF && isatty(STDOUT_FILENO) == 1) {
		if (opts->output && output_is_stdout(opts->output)) {
			cprof_error("pprof is binary and stdout is a terminal: "
				    "redirect it or use -o FILE");
			return -EINVAL;
		}
		if (!opts->output) {
			opts->output = opts->session.mode == SESSION_CPU
					       ? "cpu.prof"
					       : "wall.prof";
			opts->output_named = true;
		}
	}
	return 0;
}

static const struct command_line record_command_line = {
	.usage = record_usage,
	.help = record_help,
	.shortopts = "+:p:s:F:o:h",
	.longopts = record_longopts,
	.handle = parse_option,
};

/* Returns 1 when --help was asked, 0 to go on, -EINVAL on a usage error. */
static int parse_options(int argc, char **argv, struct record_options *opts)
{
	int r;

	*opts = (struct record_options){.session.hz = RECORD_DEFAULT_HZ};
	r = parse_command_line(argc, argv, &record_command_line, opts);
	if (r != 0)
		return r;
	return check_options(argc, argv, opts);
}

static void report_start_error(const struct session_options *so, int err)
{
	if (so->command && (err == -ENOENT || err == -EACCES))
		cprof_error_errno(err, "cannot run '%s'", so->command[0]);
	else if (so->command)
		cprof_error_errno(err, "cannot start '%s'", so->command[0]);
	else
		report_target_error(so->pid, err);
}

/* The one line for a session that failed. */
static void report_session_error(const struct session_options *so,
				 const struct session_result *res, int err)
{
	switch (res->failure) {
	case SESSION_FAIL_SIGNALS:
		cprof_error_errno(err, "cannot watch signals");
		break;
	case SESSION_FAIL_THREAD:
		cprof_error_errno(err, "cannot start the sampling thread");
		break;
	case SESSION_FAIL_TARGET:
	case SESSION_FAIL_LAUNCH:
		if (so->command || !res->pid)
			report_start_error(so, err);
		else /* several processes: the one that failed */
			report_target_error(res->pid, err);
		break;
	case SESSION_FAIL_PERF_DENIED:
		cprof_error("perf_event_open refused (%s): lower "
			    "kernel.perf_event_paranoid, grant CAP_PERFMON, "
			    "or use --sampler=ptrace",
			    strerror(-err));
		break;
	case SESSION_FAIL_PERF_FILES:
		cprof_error("pid %d: too many threads for an event each "
			    "within the open file limit: raise 'ulimit -n' or "
			    "use --sampler=ptrace",
			    res->pid);
		break;
	default:
		cprof_error_errno(err, "pid %d: recording failed", res->pid);
	}
}

/* The flame graph's heading: what was recorded, of which process, for
 * how long, in how many samples. */
static void make_title(const struct record_options *opts,
		       const struct session_result *res, size_t samples,
		       char *buf, size_t size)
{
	char link[64], exe[256];
	ssize_t len;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)res->pid);
	len = readlink(link, exe, sizeof(exe) - 1);
	exe[len > 0 ? len : 0] = '\0';
	snprintf(
		buf, size,
		"cprof record: %s profile of pid %d%s%s%s, %.1f s, %zu samples",
		opts->session.mode == SESSION_CPU ? "CPU" : "wall",
		(int)res->pid, exe[0] ? " (" : "",
		exe[0] ? (strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe) : "",
		exe[0] ? ")" : "", res->duration_ns / 1e9, samples);
}

static int write_output(const struct profile *profile, struct output *out,
			const struct record_options *opts,
			const struct session_result *res)
{
	char title[512];
	int r;

	make_title(opts, res, (size_t)res->stats.samples, title, sizeof(title));
	switch (opts->format) {
	case FORMAT_FOLDED:
		r = profile_write_folded(profile, out->fp);
		break;
	case FORMAT_TOP:
		r = profile_write_top(profile, out->fp);
		break;
	case FORMAT_SVG:
		r = profile_write_svg(profile, title, out->fp);
		break;
	default:
		r = profile_write_pprof(profile, fileno(out->fp));
	}
	if (r >= 0)
		r = output_commit(out);
	/* A reader that went away is no error to report: SIGPIPE, held
	 * until the target was let go, ends cprof as it ends any filter. */
	if (r < 0 && !(r == -EPIPE && output_is_stdout(opts->output)))
		cprof_error_errno(r, "cannot write '%s'",
				  output_is_stdout(opts->output)
					  ? "stdout"
					  : opts->output);
	if (r >= 0 && opts->output_named)
		cprof_error("wrote %s", opts->output);
	return r;
}

/* Launch mode: the command's status, waiting for it if the run ended
 * first.  A command killed by a signal gives 128 + the signal. */
static int command_status(struct session_result *res)
{
	int status = session_wait_command(res);

	if (status < 0)
		return EXIT_FAIL;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return EXIT_FAIL;
}

static void print_objects(const struct collect_stats *cs)
{
	fprintf(stderr,
		"cprof: objects read %zu, found already read %zu "
		"times\n",
		cs->objects, cs->objects_reused);
}

static void print_stats(const struct session_result *res,
			const struct collector *c)
{
	const struct session_stats *st = &res->stats;
	struct collect_stats cs;

	collector_get_stats(c, &cs);
	if (res->sampler != SAMPLER_AUTO)
		fprintf(stderr, "cprof: sampler %s (%s)\n",
			res->sampler == SAMPLER_PERF ? "perf" : "ptrace",
			res->why);
	if (res->sampler == SAMPLER_PERF) {
		fprintf(stderr,
			"cprof: samples %llu, lost %llu, ptrace stops 0, "
			"kernel mode %s, truncated %zu, cut stacks %zu\n",
			(unsigned long long)st->samples,
			(unsigned long long)st->lost,
			st->kernel_sampled ? "sampled" : "not sampled",
			cs.truncated, cs.cut);
		print_objects(&cs);
		return;
	}
	fprintf(stderr,
		"cprof: ticks %llu (missed %llu), samples %llu, threads "
		"stopped per tick %.2f, stacks reused %zu, displaced %llu, "
		"asleep at the stop %llu, "
		"pause p50 %.1fus p99 %.1fus max %.1fus, cut stacks %zu\n",
		(unsigned long long)st->ticks,
		(unsigned long long)st->missed_ticks,
		(unsigned long long)st->samples,
		st->ticks ? (double)st->stopped / st->ticks : 0.0, cs.reused,
		(unsigned long long)st->displaced,
		(unsigned long long)st->blocked_at_stop,
		session_pause_percentile(st, 0.5) / 1e3,
		session_pause_percentile(st, 0.99) / 1e3,
		st->pause_max_ns / 1e3, cs.cut);
	print_objects(&cs);
}

/* On a terminal, about once a second. */
static void show_progress(void *ctx, int64_t elapsed_ns,
			  const struct session_stats *stats)
{
	unsigned long long samples = stats->samples;

	const struct session_options *so = ctx;

	if (so->duration_ns)
		fprintf(stderr,
			"\rcprof: recording pid %d: %llds of %llds, %llu "
			"samples",
			so->pid, (long long)(elapsed_ns / 1000000000),
			(long long)(so->duration_ns / 1000000000), samples);
	else
		fprintf(stderr, "\rcprof: recording %s: %llds, %llu samples",
			so->command[0], (long long)(elapsed_ns / 1000000000),
			samples);
}

static int record_one(struct record_options *opts, struct collector *c,
		      struct session_result *res)
{
	struct session_options *so = &opts->session;
	bool tty = stderr_is_tty();
	struct sample_sink sink;
	int r;

	collector_sink(c, &sink);
	if (tty) {
		so->progress = show_progress;
		so->progress_ctx = so;
	}
	r = session_record(so, &sink, res);
	if (tty)
		fputs("\r\033[K", stderr);
	return r;
}

static int process_sink(void *ctx, struct sample_sink *ret_sink)
{
	return collector_process_sink(ctx, ret_sink);
}

/* Several processes, one profile: res gets the group's time and summed
 * figures over the first member's result (a command's exit status). */
static int record_group(struct record_options *opts, struct collector *c,
			struct session_result *res)
{
	struct group_options go = {
		.session = opts->session,
		.pids = opts->pids.pids,
		.npids = opts->pids.n,
		.follow = opts->tree || opts->session.command,
		.member_sink = process_sink,
		.ctx = c,
	};
	struct group_result gr;
	int r;

	r = group_record(&go, &gr);

	*res = gr.first;
	res->start_realtime_ns = gr.start_realtime_ns;
	res->duration_ns = gr.duration_ns;
	res->stopped_by_signal = gr.stopped_by_signal;
	if (r >= 0)
		res->stats = gr.stats;
	return r;
}

static int record(struct record_options *opts, struct collector **ret_c,
		  struct session_result *res)
{
	struct session_options *so = &opts->session;
	const struct collect_options co = {
		.kind = so->mode == SESSION_CPU ? COLLECT_CPU : COLLECT_WALL,
		.unwinder = opts->unwinder,
		.hz = so->hz,
		.merge = true,
		.label_process = !single_process(opts),
	};
	int r;

	r = collector_new(&co, ret_c);
	if (r < 0) {
		cprof_error_errno(r, "cannot record");
		return r;
	}
	if (single_process(opts))
		r = record_one(opts, *ret_c, res);
	else
		r = record_group(opts, *ret_c, res);
	if (r >= 0)
		r = collector_finish(*ret_c, res);
	if (r < 0)
		report_session_error(so, res, r);
	return r;
}

/* What the profile alone cannot say: said once, on stderr. */
static void report_gaps(const struct record_options *opts,
			const struct session_result *res)
{
	const struct session_stats *st = &res->stats;
	const char *empty = session_empty_reason(&opts->session, res);

	if (empty && !single_process(opts))
		cprof_error("no samples: no process ran on a CPU");
	else if (empty)
		cprof_error("pid %d: no samples: %s", res->pid, empty);
	if (st->missed_ticks * 10 > st->ticks)
		cprof_error("warning: %llu of %llu ticks missed: this machine "
			    "cannot keep up with -F %lu here; lower it",
			    (unsigned long long)st->missed_ticks,
			    (unsigned long long)(st->ticks + st->missed_ticks),
			    opts->session.hz);
}

int cmd_record(int argc, char **argv)
{
	struct record_options opts;
	struct session_result res;
	struct collector *c = NULL;
	struct output out = {0};
	int ret = EXIT_FAIL, r;

	r = parse_options(argc, argv, &opts);
	if (r != 0) {
		pid_list_free(&opts.pids);
		return r > 0 ? EXIT_ALL : EXIT_USAGE;
	}
	if (symbols_setup(opts.debuginfod) < 0)
		ret = EXIT_USAGE;
	else if ((r = pid_list_check(&opts.pids)) != 0)
		ret = r;
	else if ((r = output_open(&out, opts.output)) < 0)
		output_report_error(opts.output, r);
	else
		ret = EXIT_ALL;
	if (ret != EXIT_ALL) {
		pid_list_free(&opts.pids);
		return ret;
	}
	ret = EXIT_FAIL;
	opts.session.pid = opts.pids.n ? opts.pids.pids[0] : 0;
	if (record(&opts, &c, &res) < 0)
		goto cleanup;
	if (opts.stats)
		print_stats(&res, c);
	report_gaps(&opts, &res);
	if (write_output(collector_profile(c), &out, &opts, &res) < 0)
		goto cleanup;
	ret = opts.session.command ? command_status(&res) : EXIT_ALL;
cleanup:
	output_abort(&out);
	collector_free(c);
	pid_list_free(&opts.pids);
	return ret;
}
