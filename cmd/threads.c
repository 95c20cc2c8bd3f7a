/* SPDX-License-Identifier: MIT */
/*
 * cprof threads: one snapshot of every thread of a process, its state and
 * its stack -- the goroutine profile of a native process.  The target is
 * held only for the capture; unwinding and symbolizing happen after every
 * thread is running again and cprof has detached.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach/attach.h"
#include "cmd/commands.h"
#include "cmd/pipeline.h"
#include "cmd/util.h"
#include "config.h"
#include "pprofout/profile.h"
#include "symbolize/symbolize.h"
#include "symbolize/unwind.h"

static const char threads_usage[] =
	"usage: cprof threads -p PID [--debug=0|1|2] [-o FILE]\n"
	"                     [--unwinder=libdw|libunwind] [--pcs] [--stats]\n";

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
	"      --stats            capture figures on stderr\n"
	"  -h, --help             show this help\n"
	"\n"
	"Exit status: 0 all threads shown, 1 some threads missing or cut,\n"
	"2 failure, 64 usage error.\n";

struct threads_options {
	pid_t pid;
	int debug;
	const char *output;
	enum unwinder_kind unwinder;
	bool pcs;
	bool stats;
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
		return -EINVAL;
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
	if (opts->debug == 0 && !opts->output && isatty(STDOUT_FILENO) == 1)
		opts->output = "threads.prof";
	return 0;
}

/*
 * Seize, read the address space, capture every thread once, detach: the
 * only part the target notices.  The maps are read while attached so they
 * describe the address space the stacks were taken in.  Signals that would
 * end cprof are held until detach is done.
 */
static int capture(pid_t pid, struct addrspace **ret_as,
		   struct sample_set *ret_set)
{
	struct target *target = NULL;
	sigset_t fatal, saved;
	int r;

	sigemptyset(&fatal);
	sigaddset(&fatal, SIGINT);
	sigaddset(&fatal, SIGTERM);
	sigaddset(&fatal, SIGHUP);
	sigaddset(&fatal, SIGPIPE);
	sigaddset(&fatal, SIGQUIT);
	sigprocmask(SIG_BLOCK, &fatal, &saved);
	r = target_attach(pid, NULL, &target);
	if (r < 0) {
		report_target_error(pid, r);
		goto out;
	}
	r = addrspace_open(target_proc_tid(target), ret_as);
	if (r < 0) {
		cprof_error_errno(r, "pid %d: cannot read its address space",
				  pid);
		goto out;
	}
	/* Each thread is let go from the stop that captured it: one stop
	 * per thread, so one spurious EINTR at most. */
	r = target_snapshot_detach(target, ret_set);
	if (r < 0)
		cprof_error_errno(r, "pid %d: cannot capture threads", pid);
out:
	target_detach(target);
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
	if (r < 0 && !(r == -EPIPE && !opts->output))
		cprof_error_errno(r, "cannot write '%s'",
				  opts->output ? opts->output : "stdout");
	return r;
}

static void print_stats(const struct sample_set *set, size_t cut_stacks)
{
	uint64_t max_pause = 0, total_pause = 0;
	size_t captured = 0;

	for (size_t i = 0; i < set->n; i++) {
		if (!set->samples[i].captured)
			continue;
		captured++;
		total_pause += set->samples[i].pause_ns;
		if (set->samples[i].pause_ns > max_pause)
			max_pause = set->samples[i].pause_ns;
	}
	fprintf(stderr,
		"threads %zu, captured %zu, lost %zu, cut stacks %zu, "
		"pause per thread mean %.1f us, max %.1f us\n",
		set->n, captured, set->lost, cut_stacks,
		captured ? total_pause / 1e3 / captured : 0.0, max_pause / 1e3);
}

int cmd_threads(int argc, char **argv)
{
	struct threads_options opts;
	struct sample_set set = {0};
	struct pipeline p = {0};
	struct profile *profile = NULL;
	struct addrspace *as = NULL;
	struct output out = {0};
	int64_t time_nanos;
	int ret = EXIT_FAIL, r;

	r = parse_options(argc, argv, &opts);
	if (r != 0)
		return r > 0 ? EXIT_ALL : EXIT_USAGE;
	/* Before the target is touched: a bad -o must not cost it a stop. */
	r = output_open(&out, opts.output);
	if (r < 0) {
		cprof_error_errno(r, "cannot create '%s'", opts.output);
		return EXIT_FAIL;
	}
	time_nanos = realtime_ns();
	if (capture(opts.pid, &as, &set) < 0)
		goto cleanup;
	r = pipeline_init(&p, as, opts.unwinder);
	if (r >= 0)
		r = build_profile(&p, &set, opts.pid, time_nanos, &opts,
				  &profile);
	if (r < 0) {
		cprof_error_errno(r, "pid %d: cannot build the profile",
				  opts.pid);
		goto cleanup;
	}
	if (opts.stats)
		print_stats(&set, p.cut_stacks);
	if (write_profile(profile, &out, &opts) < 0)
		goto cleanup;
	ret = (set.lost || p.cut_stacks) ? EXIT_PARTIAL : EXIT_ALL;
cleanup:
	output_abort(&out);
	profile_free(profile);
	pipeline_release(&p);
	sample_set_release(&set);
	return ret;
}
