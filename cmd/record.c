/* SPDX-License-Identifier: MIT */
/*
 * cprof record: a sampled CPU or wall-clock profile, like Go's 30-second
 * CPU profile, of a running process or of a command cprof starts.
 *
 * The threads stay seized for the whole run.  At each tick cprof reads
 * /proc for every thread, stops only those the mode needs (cpu: the ones
 * running; wall: the ones that ran since their last capture), copies
 * registers and stack, resumes them, and only then unwinds.  Between ticks
 * it sleeps on a signalfd, so a ptrace report (a signal for the target, a
 * new thread) is answered at once and Ctrl-C, SIGTERM or SIGHUP end the run
 * with the profile written.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attach/attach.h"
#include "attach/perf.h"
#include "cmd/commands.h"
#include "cmd/pipeline.h"
#include "cmd/record.h"
#include "cmd/symbols.h"
#include "cmd/util.h"

static const char record_usage[] =
	"usage: cprof record -p PID [-s SECONDS] [-F HZ] [-o FILE]\n"
	"                    [--mode=cpu|wall] [--format=pprof|folded|top]\n"
	"                    [--unwinder=libdw|libunwind] [--stats]\n"
	"                    [--sampler=auto|perf|ptrace] [--stack-size=N]\n"
	"                    " SYMBOLS_USAGE "\n"
	"       cprof record [options] -- COMMAND [ARGS...]\n";

static const char record_help[] =
	"\n"
	"Sample the stacks of process PID, or of COMMAND started under cprof,\n"
	"and write a profile.\n"
	"\n"
	"  -p, --pid PID          the process (a thread id names its process)\n"
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
	"      --format=FORMAT    pprof (default), folded or top\n"
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
	OPT_STACK_SIZE
};

static const struct option record_longopts[] = {
	{"pid", required_argument, NULL, 'p'},
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
	[MODE_CPU] = "cpu", [MODE_WALL] = "wall"};
static const char *const sampler_names[] = {[SAMPLER_AUTO] = "auto",
					    [SAMPLER_PERF] = "perf",
					    [SAMPLER_PTRACE] = "ptrace"};
static const char *const format_names[] = {[FORMAT_PPROF] = "pprof",
					   [FORMAT_FOLDED] = "folded",
					   [FORMAT_TOP] = "top"};

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
		if (parse_pid(optarg, &opts->pid) < 0)
			goto invalid;
		return 0;
	case 's':
		if (parse_seconds(optarg, &opts->duration_ns) < 0)
			goto invalid;
		return 0;
	case 'F':
		if (parse_ulong(optarg, 1, RECORD_MAX_HZ, &value) < 0) {
			cprof_error("invalid -F '%s': use 1 to %d samples per "
				    "second",
				    optarg, RECORD_MAX_HZ);
			return -EINVAL;
		}
		opts->hz = value;
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
		opts->mode = index;
		return 0;
	case OPT_FORMAT:
		index = parse_name(optarg, format_names, 3);
		if (index < 0) {
			cprof_error("invalid --format '%s': use pprof, folded "
				    "or top",
				    optarg);
			return -EINVAL;
		}
		opts->format = index;
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
		opts->sampler = index;
		return 0;
	case OPT_STACK_SIZE:
		if (parse_ulong(optarg, 8, PERF_STACK_MAX, &value) < 0 ||
		    value % 8) {
			cprof_error("invalid --stack-size '%s': use a multiple "
				    "of 8 from 8 to %d bytes",
				    optarg, PERF_STACK_MAX);
			return -EINVAL;
		}
		opts->stack_bytes = value;
		return 0;
	default:
		return symbols_option(opt, &opts->debuginfod) ? 0 : -EINVAL;
	}
invalid:
	cprof_error("invalid %s '%s'", opt == 'p' ? "pid" : "-s", optarg);
	return -EINVAL;
}

static int check_options(int argc, char **argv, struct record_options *opts)
{
	if (optind < argc)
		opts->command = argv + optind;
	if (opts->command && optind > 0 && strcmp(argv[optind - 1], "--")) {
		cprof_error("unexpected argument '%s'; a command to run "
			    "follows '--'",
			    argv[optind]);
		return -EINVAL;
	}
	if (opts->pid && opts->command) {
		cprof_error("give either -p PID or a command, not both");
		return -EINVAL;
	}
	if (!opts->pid && !opts->command) {
		cprof_error("nothing to record: use -p PID or -- COMMAND");
		return -EINVAL;
	}
	if (opts->sampler == SAMPLER_PERF && opts->mode != MODE_CPU) {
		cprof_error("--sampler=perf takes CPU profiles only; wall "
			    "mode samples every thread with ptrace");
		return -EINVAL;
	}
	if (!opts->duration_ns && !opts->command)
		opts->duration_ns = RECORD_DEFAULT_SECONDS * 1000000000LL;
	/* Binary never goes to a terminal: -o - is refused there, and no
	 * -o writes a file whose name is said once it is written. */
	if (opts->format == FORMAT_PPROF && isatty(STDOUT_FILENO) == 1) {
		if (opts->output && output_is_stdout(opts->output)) {
			cprof_error("pprof is binary and stdout is a terminal: "
				    "redirect it or use -o FILE");
			return -EINVAL;
		}
		if (!opts->output) {
			opts->output = opts->mode == MODE_CPU ? "cpu.prof"
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

	*opts = (struct record_options){.hz = RECORD_DEFAULT_HZ};
	r = parse_command_line(argc, argv, &record_command_line, opts);
	if (r != 0)
		return r;
	return check_options(argc, argv, opts);
}

static void report_attach_error(const struct record_options *opts, int err)
{
	if (opts->command && (err == -ENOENT || err == -EACCES))
		cprof_error_errno(err, "cannot run '%s'", opts->command[0]);
	else if (opts->command)
		cprof_error_errno(err, "cannot start '%s'", opts->command[0]);
	else
		report_target_error(opts->pid, err);
}

/* The signals that end a run, plus SIGCHLD for ptrace reports, all read
 * from one signalfd so the loop never runs code in a signal handler. */
static int open_signalfd(sigset_t *ret_saved)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	sigaddset(&mask, SIGPIPE);
	sigprocmask(SIG_BLOCK, &mask, ret_saved);
	sigdelset(&mask, SIGPIPE); /* a closed pipe shows as EPIPE */
	fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

static int start_target(const struct record_options *opts,
			struct target **ret_target)
{
	if (opts->command)
		return target_launch(opts->command, NULL, ret_target);
	return target_attach(opts->pid, NULL, ret_target);
}

static int write_output(const struct profile *profile, struct output *out,
			const struct record_options *opts)
{
	int r;

	switch (opts->format) {
	case FORMAT_FOLDED:
		r = profile_write_folded(profile, out->fp);
		break;
	case FORMAT_TOP:
		r = profile_write_top(profile, out->fp);
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
static int command_status(const struct recorder *rec)
{
	int status = rec->exit_status;

	if (!rec->target_exited && !rec->reaped &&
	    waitpid(rec->pid, &status, 0) < 0)
		return EXIT_FAIL;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return EXIT_FAIL;
}

/* What the tracer thread needs and leaves behind. */
struct tracer_run {
	const struct record_options *opts;
	struct recorder *rec;
	int sigfd;
	int result;   /* 0, or a negative errno already reported */
	char why[96]; /* why the sampler that ran was chosen */
};

/*
 * The whole ptrace session runs on its own thread, and ending that thread
 * is how cprof lets go: the kernel detaches every tracee of an exiting
 * tracer without stopping it, where PTRACE_DETACH needs a stopped tracee
 * and so would cost every blocked thread one more EINTR.  Threads held in
 * a group-stop stay stopped, and a pending signal is delivered.
 */
static void *tracer_main(void *arg)
{
	struct tracer_run *run = arg;
	struct recorder *rec = run->rec;
	int r;

	/* A launched command is forked from this thread: it must inherit
	 * cprof's own scheduling, never the real-time policy below. */
	r = start_target(run->opts, &rec->target);
	if (r < 0) {
		report_attach_error(run->opts, r);
		run->result = r;
		return NULL;
	}
	prefer_realtime();
	r = recorder_init(rec, run->opts);
	if (r >= 0)
		r = recorder_run(rec, run->sigfd);
	recorder_finish(rec);
	if (r < 0)
		cprof_error_errno(r, "pid %d: recording failed", rec->pid);
	run->result = r;
	return NULL;
}

static int run_tracer(struct tracer_run *run)
{
	pthread_t thread;
	int r;

	r = pthread_create(&thread, NULL, tracer_main, run);
	if (r) {
		cprof_error_errno(-r, "cannot start the sampling thread");
		return -r;
	}
	pthread_join(thread, NULL);
	/* The tracer is gone: every thread of the target runs free. */
	target_abandon(run->rec->target);
	run->rec->target = NULL;
	return run->result;
}

/*
 * CPU mode on the perf sampler.  Returns 1 when it cannot run and auto
 * may fall back to ptrace: nothing of the target was touched then.
 */
static int run_perf(struct tracer_run *run)
{
	const struct record_options *opts = run->opts;
	struct recorder *rec = run->rec;
	int r = recorder_start_perf(rec, opts);

	if (r < 0 && !rec->perf && !rec->launch_failed &&
	    !rec->target_refused && r != -ESRCH &&
	    opts->sampler == SAMPLER_AUTO) {
		/* Said by --stats only: ptrace may well do the job. */
		recorder_stop_perf(rec);
		snprintf(run->why, sizeof(run->why),
			 "perf_event_open refused: %s", strerror(-r));
		rec->sampler_why = run->why;
		return 1;
	}
	rec->sampler = SAMPLER_PERF;
	rec->sampler_why = opts->sampler == SAMPLER_PERF
				   ? "asked for"
				   : "the kernel allows it";
	if (r < 0 && (rec->launch_failed || rec->target_refused))
		report_attach_error(opts, r);
	else if (r == -EMFILE)
		cprof_error("pid %d: too many threads for an event each "
			    "within the open file limit: raise 'ulimit -n' or "
			    "use --sampler=ptrace",
			    rec->pid);
	else if (r < 0 && !rec->perf && r != -ESRCH && r != -ENOMEM)
		cprof_error("perf_event_open refused (%s): lower "
			    "kernel.perf_event_paranoid, grant CAP_PERFMON, "
			    "or use --sampler=ptrace",
			    strerror(-r));
	else if (r < 0 && !opts->command && r == -ESRCH)
		report_target_error(opts->pid, r);
	else if (r < 0)
		cprof_error_errno(r, "pid %d: cannot record", rec->pid);
	if (r >= 0) {
		r = recorder_run_perf(rec, run->sigfd);
		if (r < 0)
			cprof_error_errno(r, "pid %d: recording failed",
					  rec->pid);
	}
	recorder_stop_perf(rec);
	return r;
}

static int run_sampler(struct tracer_run *run)
{
	const struct record_options *opts = run->opts;
	int r;

	if (opts->mode == MODE_CPU && opts->sampler != SAMPLER_PTRACE) {
		r = run_perf(run);
		if (r <= 0)
			return r;
	} else {
		run->rec->sampler_why = opts->sampler == SAMPLER_PTRACE
						? "asked for"
					: opts->mode == MODE_WALL ? "wall mode"
								  : "";
	}
	run->rec->sampler = SAMPLER_PTRACE;
	return run_tracer(run);
}

int cmd_record(int argc, char **argv)
{
	struct record_options opts;
	struct recorder rec = {0};
	struct tracer_run run = {.opts = &opts, .rec = &rec, .sigfd = -1};
	struct output out = {0};
	sigset_t saved_mask;
	int ret = EXIT_FAIL, r;

	r = parse_options(argc, argv, &opts);
	if (r != 0)
		return r > 0 ? EXIT_ALL : EXIT_USAGE;
	if (symbols_setup(opts.debuginfod) < 0)
		return EXIT_USAGE;
	r = output_open(&out, opts.output);
	if (r < 0) {
		output_report_error(opts.output, r);
		return EXIT_FAIL;
	}
	run.sigfd = open_signalfd(&saved_mask);
	if (run.sigfd < 0) {
		cprof_error_errno(run.sigfd, "cannot watch signals");
		goto cleanup;
	}
	if (run_sampler(&run) < 0)
		goto cleanup;
	if (opts.stats)
		recorder_print_stats(&rec);
	if (recorder_empty_reason(&rec))
		cprof_error("pid %d: no samples: %s", rec.pid,
			    recorder_empty_reason(&rec));
	if (rec.stats.missed_ticks * 10 > rec.stats.ticks)
		cprof_error("warning: %llu of %llu ticks missed: this machine "
			    "cannot keep up with -F %lu here; lower it",
			    (unsigned long long)rec.stats.missed_ticks,
			    (unsigned long long)(rec.stats.ticks +
						 rec.stats.missed_ticks),
			    opts.hz);
	if (write_output(rec.profile, &out, &opts) < 0)
		goto cleanup;
	ret = opts.command ? command_status(&rec) : EXIT_ALL;
cleanup:
	output_abort(&out);
	recorder_release(&rec);
	if (run.sigfd >= 0) {
		close(run.sigfd);
		sigprocmask(SIG_SETMASK, &saved_mask, NULL);
	}
	return ret;
}
