/* SPDX-License-Identifier: MIT */
/*
 * cprof threads: one snapshot of every thread of a process, its state and
 * its stack -- the goroutine profile of a native process.  The target is
 * held only for the capture; unwinding and symbolizing happen after every
 * thread is running again and cprof has detached.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach/attach.h"
#include "cmd/commands.h"
#include "cmd/pipeline.h"
#include "cmd/symbols.h"
#include "cmd/util.h"
#include "config.h"
#include "pprofout/profile.h"
#include "symbolize/symbolize.h"
#include "symbolize/unwind.h"

static const char threads_usage[] =
	"usage: cprof threads -p PID [--debug=0|1|2] [-o FILE]\n"
	"                     [--unwinder=libdw|libunwind] [--pcs] [--stats]\n"
	"                     " SYMBOLS_USAGE "\n";

static const char threads_help[] =
	"\n"
	"Print every thread of process PID with its state and stack.\n"
	"\n"
	"  -p, --pid PID          the process (a thread id names its process)\n"
	"      --debug=N          1: group equal stacks with a count "
	"(default)\n"
	"                         2: every thread on its own\n"
	"                         0: pprof, for go tool pprof\n"
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
	pid_t pid;
	int debug;
	const char *output;
	enum unwinder_kind unwinder;
	bool pcs;
	bool stats;
	bool output_named; /* cprof chose the file name: say it */
	enum debuginfod_mode debuginfod;
};

enum {
	OPT_DEBUG = 256,
	OPT_UNWINDER,
	OPT_PCS,
	OPT_STATS
};

static const struct option threads_longopts[] = {
	{"pid", required_argument, NULL, 'p'},
	{"debug", required_argument, NULL, OPT_DEBUG},
	{"output", required_argument, NULL, 'o'},
	{"unwinder", required_argument, NULL, OPT_UNWINDER},
	{"pcs", no_argument, NULL, OPT_PCS},
	{"stats", no_argument, NULL, OPT_STATS},
	SYMBOLS_LONGOPTS,
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int parse_option(int opt, void *ctx)
{
	struct threads_options *opts = ctx;
	unsigned long value;

	switch (opt) {
	case 'p':
		if (parse_pid(optarg, &opts->pid) < 0) {
			cprof_error("invalid pid '%s'", optarg);
			return -EINVAL;
		}
		return 0;
	case OPT_DEBUG:
		if (parse_ulong(optarg, 0, 2, &value) < 0) {
			cprof_error("invalid --debug '%s': use 0, 1 or 2",
				    optarg);
			return -EINVAL;
		}
		opts->debug = (int)value;
		return 0;
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
	if (!opts->pid) {
		cprof_error("no process given: use -p PID");
		return -EINVAL;
	}
	if (opts->pcs && opts->debug != 2) {
		cprof_error("--pcs needs --debug=2: debug=1 shows the "
			    "addresses already");
		return -EINVAL;
	}
	/* Binary never goes to a terminal: -o - is refused there, and no
	 * -o writes a file whose name is said once it is written. */
	if (opts->debug == 0 && isatty(STDOUT_FILENO) == 1) {
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

/* What the tracer thread needs and leaves behind; the main thread reads
 * it once the tracer has ended. */
struct snapshot_run {
	pid_t pid;
	enum unwinder_kind unwinder;
	struct pipeline *p;
	struct target *target;
	struct sample_set set;
	size_t stopped_again; /* read without a stop, then needed one */
	int result;	      /* 0, or a negative errno already reported */
};

/*
 * A thread read without a stop gave SP and PC only; where its walk needed
 * more, or stopped early for any reason, it is captured again with a stop,
 * which gives every register.  These walks are thrown away: build_profile
 * walks every sample once more, after the target is let go.
 */
static int stop_short_reads(struct snapshot_run *run)
{
	struct sample_set *set = &run->set;
	bool *redo = calloc(set->n ? set->n : 1, sizeof(*redo));
	size_t depth;
	int r = 0;

	if (!redo)
		return -ENOMEM;
	for (size_t i = 0; i < set->n; i++) {
		const struct raw_sample *s = &set->samples[i];

		if (!s->captured || !s->read_blocked)
			continue;
		redo[i] = unwinder_unwind(run->p->unwinder, s, run->p->frames,
					  UNWIND_MAX_FRAMES, &depth) < 0;
		run->stopped_again += redo[i];
	}
	if (run->stopped_again) {
		prefer_realtime();
		r = target_recapture(run->target, set, redo);
	}
	free(redo);
	return r;
}

/* The address space is read once every thread is captured, so that it
 * holds whatever a stack may point into. */
static int open_pipeline(struct snapshot_run *run)
{
	struct addrspace *as;
	int r;

	r = addrspace_open(target_proc_tid(run->target), &as);
	if (r < 0) {
		cprof_error_errno(r, "pid %d: cannot read its address space",
				  run->pid);
		return r;
	}
	r = pipeline_init(run->p, as, run->unwinder);
	if (r < 0)
		cprof_error_errno(r, "pid %d: cannot unwind", run->pid);
	return r;
}

/*
 * Seize, capture every thread once: the only part the target notices.  A
 * thread blocked in the kernel is read without a stop; any other is let
 * go from the stop that captured it.  Stops are made at real-time
 * priority where allowed, so a stopped thread waits for nothing but its
 * copy; the walks that check the reads are not.
 */
static void *snapshot_main(void *arg)
{
	const struct target_options opts = {.read_blocked = true};
	struct snapshot_run *run = arg;
	int r;

	prefer_realtime();
	r = target_attach(run->pid, &opts, &run->target);
	if (r < 0) {
		report_target_error(run->pid, r);
		run->result = r;
		return NULL;
	}
	r = target_snapshot_release(run->target, &run->set);
	if (r < 0) {
		cprof_error_errno(r, "pid %d: cannot capture threads",
				  run->pid);
		run->result = r;
		return NULL;
	}
	prefer_ordinary();
	r = open_pipeline(run);
	if (r < 0) {
		run->result = r;
		return NULL;
	}
	r = stop_short_reads(run);
	if (r < 0)
		cprof_error_errno(r, "pid %d: cannot capture threads",
				  run->pid);
	run->result = r;
	return NULL;
}

/*
 * The session runs on a thread of its own, and ending that thread is how
 * cprof lets go of the threads it read without a stop: PTRACE_DETACH
 * needs a stopped tracee, while the kernel detaches every tracee of an
 * exiting tracer as it is.  Signals that would end cprof are held until
 * then.
 */
static int capture(struct snapshot_run *run)
{
	sigset_t fatal, saved;
	pthread_t thread;
	int r;

	sigemptyset(&fatal);
	sigaddset(&fatal, SIGINT);
	sigaddset(&fatal, SIGTERM);
	sigaddset(&fatal, SIGHUP);
	sigaddset(&fatal, SIGPIPE);
	sigaddset(&fatal, SIGQUIT);
	sigprocmask(SIG_BLOCK, &fatal, &saved);
	r = -pthread_create(&thread, NULL, snapshot_main, run);
	if (r < 0) {
		cprof_error_errno(r, "cannot start the capture thread");
	} else {
		pthread_join(thread, NULL);
		target_abandon(run->target);
		run->target = NULL;
		r = run->result;
	}
	sigprocmask(SIG_SETMASK, &saved, NULL);
	return r;
}

/* Unwinds and symbolizes one thread and adds it to the profile. */
static int add_thread(struct pipeline *p, struct profile *profile,
		      const struct raw_sample *sample, bool merge)
{
	struct label labels[PIPELINE_LABELS];
	const int64_t one = 1;
	size_t depth, nlabels;
	char buf[32];
	int r;

	r = pipeline_stack(p, sample, &depth);
	if (r < 0)
		return r;
	nlabels = pipeline_labels(&sample->info, labels, buf, sizeof(buf));
	return profile_add(profile, p->stack, depth, &one, labels, nlabels,
			   merge);
}

static int build_profile(struct pipeline *p, const struct sample_set *set,
			 pid_t pid, int64_t time_nanos,
			 const struct threads_options *opts,
			 struct profile **ret_profile)
{
	static const struct value_type threads_count = {"threads", "count"};
	struct profile *profile;
	int r;

	profile = profile_new(&threads_count, 1, NULL, 0);
	if (!profile)
		return -ENOMEM;
	profile_set_time(profile, time_nanos, 0);
	r = pipeline_comment(profile, addrspace_pid(p->as));
	for (size_t i = 0; i < set->n && r >= 0; i++)
		r = add_thread(p, profile, &set->samples[i], opts->debug != 2);
	if (r < 0) {
		profile_free(profile);
		return r;
	}
	*ret_profile = profile;
	return 0;
}

static int write_profile(const struct profile *profile, struct output *out,
			 const struct threads_options *opts)
{
	int r;

	if (opts->debug == 0)
		r = profile_write_pprof(profile, fileno(out->fp));
	else
		r = profile_write_text(profile, opts->debug,
				       opts->pcs ? TEXT_PCS : 0, out->fp);
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

static void print_stats(const struct snapshot_run *run, size_t cut_stacks)
{
	const struct sample_set *set = &run->set;
	uint64_t max_pause = 0, total_pause = 0;
	size_t captured = 0, stopped = 0;

	for (size_t i = 0; i < set->n; i++) {
		const struct raw_sample *s = &set->samples[i];

		if (!s->captured)
			continue;
		captured++;
		if (s->read_blocked)
			continue;
		stopped++;
		total_pause += s->pause_ns;
		if (s->pause_ns > max_pause)
			max_pause = s->pause_ns;
	}
	fprintf(stderr,
		"threads %zu, captured %zu, lost %zu, cut stacks %zu, "
		"stopped %zu (%zu after a read without a stop fell short), "
		"pause per stopped thread mean %.1f us, max %.1f us\n",
		set->n, captured, set->lost, cut_stacks, stopped,
		run->stopped_again, stopped ? total_pause / 1e3 / stopped : 0.0,
		max_pause / 1e3);
}

int cmd_threads(int argc, char **argv)
{
	struct threads_options opts;
	struct pipeline p = {0};
	struct snapshot_run run = {.p = &p};
	struct profile *profile = NULL;
	struct output out = {0};
	int64_t time_nanos;
	int ret = EXIT_FAIL, r;

	r = parse_options(argc, argv, &opts);
	if (r != 0)
		return r > 0 ? EXIT_ALL : EXIT_USAGE;
	if (symbols_setup(opts.debuginfod) < 0)
		return EXIT_USAGE;
	/* Before the target is touched: a bad -o must not cost it a stop. */
	r = output_open(&out, opts.output);
	if (r < 0) {
		output_report_error(opts.output, r);
		return EXIT_FAIL;
	}
	time_nanos = realtime_ns();
	run.pid = opts.pid;
	run.unwinder = opts.unwinder;
	if (capture(&run) < 0)
		goto cleanup;
	r = build_profile(&p, &run.set, opts.pid, time_nanos, &opts, &profile);
	if (r < 0) {
		cprof_error_errno(r, "pid %d: cannot build the profile",
				  opts.pid);
		goto cleanup;
	}
	if (opts.stats)
		print_stats(&run, p.cut_stacks);
	if (write_profile(profile, &out, &opts) < 0)
		goto cleanup;
	ret = (run.set.lost || p.cut_stacks) ? EXIT_PARTIAL : EXIT_ALL;
cleanup:
	output_abort(&out);
	profile_free(profile);
	pipeline_release(&p);
	sample_set_release(&run.set);
	return ret;
}
