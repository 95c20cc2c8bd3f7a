/* SPDX-License-Identifier: MIT */
/*
 * cprof serve: Go's /debug/pprof/ endpoints for a running process.  The
 * server (serve/serve.h) answers each request with a session of its own;
 * this file parses the command line, reads the token and reports.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach/keeper.h"
#include "cmd/commands.h"
#include "cmd/symbols.h"
#include "cmd/util.h"
#include "serve/serve.h"

#define SERVE_DEFAULT_LISTEN	  "127.0.0.1:6060"
#define SERVE_DEFAULT_MAX_SECONDS 300
#define SERVE_MAX_SECONDS	  86400
#define SERVE_HZ		  100
#define SERVE_CONNECTIONS	  16
#define SERVE_TIMEOUT_SECONDS	  15
#define SERVE_TOKEN_MAX		  4096

/* Exit status when the target exits while served. */
#define EXIT_TARGET_GONE 3

static const char serve_usage[] =
	"usage: cprof serve -p PID [--listen ADDR:PORT] [--max-seconds N]\n"
	"                   [--token-file FILE | --no-auth]\n"
	"                   [--unwinder=libdw|libunwind]\n"
	"                   " SYMBOLS_USAGE "\n"
	"       cprof serve [options] -- COMMAND [ARGS...]\n";

static const char serve_help[] =
	"\n"
	"Serve Go's /debug/pprof/ endpoints for process PID, or for COMMAND\n"
	"started under cprof: profile, wall, threads and goroutine, read by\n"
	"go tool pprof, curl, Parca or Grafana Alloy.  Each request attaches\n"
	"for its own duration only.\n"
	"\n"
	"  -p, --pid PID          the process (a thread id names its process)\n"
	"  -l, --listen ADDR:PORT where to listen "
	"(default " SERVE_DEFAULT_LISTEN ");\n"
	"                         port 0 picks a free one; an address other\n"
	"                         than loopback needs --token-file or "
	"--no-auth\n"
	"      --max-seconds N    the longest profile a request may ask\n"
	"                         (default 300)\n"
	"      --token-file FILE  requests must carry the header\n"
	"                         Authorization: Bearer TOKEN, TOKEN the\n"
	"                         file's first line\n"
	"      --no-auth          serve a non-loopback address without a "
	"token\n"
	"      --unwinder=NAME    libdw (default) or libunwind\n"
	/* --debuginfod, --no-debuginfod, --no-cache */
	SYMBOLS_HELP "  -h, --help             show the help text and exit\n"
	"\n"
	"Once listening, cprof says on standard error:\n"
	"  cprof: listening on http://ADDR:PORT/debug/pprof/\n"
	"\n"
	"Exit status:\n"
	"  0   ended by SIGINT, SIGTERM, SIGHUP or SIGQUIT\n"
	"  2   cannot serve: no such process, the address cannot be bound\n"
	"  3   the process exited\n"
	"  64  command line error, or a non-loopback address with no\n"
	"      token file and no --no-auth\n"
	"With a COMMAND, cprof ends when it exits, with its status (128 + N\n"
	"when signal N killed it); a signal that ends cprof is passed on to "
	"it\n"
	"as SIGTERM, and cprof waits for it.\n";

enum {
	OPT_MAX_SECONDS = 256,
	OPT_TOKEN_FILE,
	OPT_NO_AUTH,
	OPT_UNWINDER
};

static const struct option serve_longopts[] = {
	{"pid", required_argument, NULL, 'p'},
	{"listen", required_argument, NULL, 'l'},
	{"max-seconds", required_argument, NULL, OPT_MAX_SECONDS},
	{"token-file", required_argument, NULL, OPT_TOKEN_FILE},
	{"no-auth", no_argument, NULL, OPT_NO_AUTH},
	{"unwinder", required_argument, NULL, OPT_UNWINDER},
	SYMBOLS_LONGOPTS,
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

struct serve_cmd_options {
	struct serve_options serve;
	const char *listen;
	const char *token_file;
	enum debuginfod_mode debuginfod;
	bool no_auth;
	char *const *command; /* launch mode */
};

static int parse_option(int opt, void *ctx)
{
	struct serve_cmd_options *opts = ctx;
	unsigned long value;

	switch (opt) {
	case 'p':
		if (parse_pid(optarg, &opts->serve.pid) < 0) {
			cprof_error("invalid pid '%s'", optarg);
			return -EINVAL;
		}
		return 0;
	case 'l':
		if (serve_parse_listen(optarg, &opts->serve.addr,
				       &opts->serve.addrlen) < 0) {
			cprof_error("invalid --listen '%s': use ADDR:PORT, "
				    "ADDR numeric or [IPv6]",
				    optarg);
			return -EINVAL;
		}
		opts->listen = optarg;
		return 0;
	case OPT_MAX_SECONDS:
		if (parse_ulong(optarg, 1, SERVE_MAX_SECONDS, &value) < 0) {
			cprof_error("invalid --max-seconds '%s': use 1 to %d",
				    optarg, SERVE_MAX_SECONDS);
			return -EINVAL;
		}
		opts->serve.max_seconds = (unsigned)value;
		return 0;
	case OPT_TOKEN_FILE:
		opts->token_file = optarg;
		return 0;
	case OPT_NO_AUTH:
		opts->no_auth = true;
		return 0;
	case OPT_UNWINDER:
		if (unwinder_kind_parse(optarg, &opts->serve.unwinder) < 0) {
			cprof_error("invalid --unwinder '%s': use libdw or "
				    "libunwind",
				    optarg);
			return -EINVAL;
		}
		return 0;
	default:
		return symbols_option(opt, &opts->debuginfod) ? 0 : -EINVAL;
	}
}

static const struct command_line serve_command_line = {
	.usage = serve_usage,
	.help = serve_help,
	.shortopts = "+:p:l:h",
	.longopts = serve_longopts,
	.handle = parse_option,
};

static int check_options(int argc, char **argv, struct serve_cmd_options *opts)
{
	if (optind < argc && (optind == 0 || strcmp(argv[optind - 1], "--"))) {
		cprof_error("unexpected argument '%s'; put -- before a "
			    "command to start",
			    argv[optind]);
		return -EINVAL;
	}
	if (optind < argc)
		opts->command = argv + optind;
	if (opts->command && opts->serve.pid) {
		cprof_error("give either -p PID or -- COMMAND, not both");
		return -EINVAL;
	}
	if (!opts->serve.pid && !opts->command) {
		cprof_error("no process given: use -p PID or -- COMMAND");
		return -EINVAL;
	}
	if (opts->token_file && opts->no_auth) {
		cprof_error("give either --token-file or --no-auth, not both");
		return -EINVAL;
	}
	if (!opts->listen) {
		opts->listen = SERVE_DEFAULT_LISTEN;
		serve_parse_listen(opts->listen, &opts->serve.addr,
				   &opts->serve.addrlen);
	}
	if (!serve_addr_is_loopback(&opts->serve.addr) && !opts->token_file &&
	    !opts->no_auth) {
		cprof_error("refusing to serve '%s' without authentication: "
			    "it is not a loopback address; use --token-file "
			    "FILE or --no-auth",
			    opts->listen);
		return -EINVAL;
	}
	return 0;
}

/* Returns 1 when --help was asked, 0 to go on, -EINVAL on a usage error. */
static int parse_options(int argc, char **argv, struct serve_cmd_options *opts)
{
	int r;

	*opts = (struct serve_cmd_options){
		.serve = {.max_seconds = SERVE_DEFAULT_MAX_SECONDS,
			  .hz = SERVE_HZ,
			  .connection_limit = SERVE_CONNECTIONS,
			  .timeout_seconds = SERVE_TIMEOUT_SECONDS}};
	r = parse_command_line(argc, argv, &serve_command_line, opts);
	if (r != 0)
		return r;
	return check_options(argc, argv, opts);
}

/* The token: the file's first line, which must not be empty. */
static int read_token(const char *path, char **ret_token)
{
	char buf[SERVE_TOKEN_MAX + 1];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (buf[0] == '\0')
		return -ENODATA;
	*ret_token = strdup(buf);
	return *ret_token ? 0 : -ENOMEM;
}

static void report_failure(const struct serve_cmd_options *opts,
			   enum serve_failure failure, int err)
{
	switch (failure) {
	case SERVE_FAIL_TARGET:
		report_target_error(opts->serve.pid, err);
		break;
	case SERVE_FAIL_LISTEN:
		cprof_error_errno(err, "cannot listen on '%s'", opts->listen);
		break;
	case SERVE_FAIL_SIGNALS:
		cprof_error_errno(err, "cannot watch signals");
		break;
	case SERVE_FAIL_LIBRARY:
		cprof_error("cannot serve: libmicrohttpd.so.12 cannot be "
			    "loaded; install it (Debian: libmicrohttpd12)");
		break;
	default:
		cprof_error_errno(err, "cannot serve");
	}
}

/* The command's status as cprof's: 128 + N when signal N killed it. */
static int exit_code_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return EXIT_FAIL;
}

/* Launch mode: the command, waiting before its exec until serving can
 * start; its pid becomes the one served. */
static int start_command(struct serve_cmd_options *opts, struct keeper **ret)
{
	int r = keeper_spawn(opts->command, ret, &opts->serve.pid);

	if (r < 0)
		cprof_error_errno(r, "cannot start '%s'", opts->command[0]);
	return r;
}

/* Launch mode, once serving ended: the command's exit code, after
 * SIGTERM when cprof was ended by a signal. */
static int end_command(struct keeper *k, enum serve_end end)
{
	int status;

	if (keeper_wait(k, end == SERVE_END_SIGNAL, &status) < 0)
		return EXIT_FAIL;
	return exit_code_of(status);
}

int cmd_serve(int argc, char **argv)
{
	struct serve_cmd_options opts;
	enum serve_failure failure;
	enum serve_end end;
	struct server *s = NULL;
	struct keeper *keeper = NULL;
	char *token = NULL;
	const char *host;
	int ret = EXIT_FAIL, r;

	r = parse_options(argc, argv, &opts);
	if (r != 0)
		return r > 0 ? EXIT_ALL : EXIT_USAGE;
	if (symbols_setup(opts.debuginfod) < 0)
		return EXIT_USAGE;
	if (opts.token_file) {
		r = read_token(opts.token_file, &token);
		if (r < 0) {
			cprof_error_errno(r, "cannot read a token from '%s'",
					  opts.token_file);
			return EXIT_FAIL;
		}
		opts.serve.token = token;
	}
	if (opts.command && start_command(&opts, &keeper) < 0)
		goto cleanup;
	r = serve_new(&opts.serve, &s, &failure);
	if (r < 0) {
		report_failure(&opts, failure, r);
		goto cleanup;
	}
	if (keeper) {
		r = keeper_release(keeper);
		if (r < 0) {
			cprof_error_errno(r, "cannot run '%s'",
					  opts.command[0]);
			end_command(keeper, SERVE_END_TARGET_EXITED);
			goto cleanup;
		}
	}
	/* The address as given, the port as bound (--listen ADDR:0). */
	host = opts.listen;
	fprintf(stderr, "cprof: listening on http://%.*s:%u/debug/pprof/\n",
		(int)(strrchr(host, ':') - host), host, serve_port(s));
	r = serve_run(s, &end);
	if (r < 0) {
		cprof_error_errno(r, "serving failed");
		if (keeper)
			end_command(keeper, SERVE_END_SIGNAL);
		goto cleanup;
	}
	if (keeper) {
		ret = end_command(keeper, end);
	} else if (end == SERVE_END_TARGET_EXITED) {
		cprof_error("pid %d: exited", opts.serve.pid);
		ret = EXIT_TARGET_GONE;
	} else {
		ret = EXIT_ALL;
	}
cleanup:
	serve_free(s);
	keeper_free(keeper);
	free(token);
	return ret;
}
