/* SPDX-License-Identifier: MIT */
/*
 * libdw fetches a debug file it cannot find on disk from the servers that
 * DEBUGINFOD_URLS names, through libdebuginfod, which reads that variable
 * and its bounds (DEBUGINFOD_TIMEOUT, _MAXTIME, _MAXSIZE, _RETRY_LIMIT)
 * from the environment at every request and has no other way to be told.
 * So cprof steers it through its own environment:
 *
 *  - off, or once a server has failed: DEBUGINFOD_URLS is removed, and
 *    libdebuginfod returns at once, before any request or cache look-up;
 *  - on: the bounds the user did not set get cprof's (debuginfod.h), so an
 *    unreachable server costs one bounded wait, after which no server is
 *    asked again in this run.
 *
 * The environment is changed once, at the first debug file looked for:
 * by then a command cprof launched has been forked with the environment
 * cprof was given, and only the thread that symbolizes reads it.
 * Fetches happen inside libdwfl's search, which cprof runs only while
 * unwinding and symbolizing, after every captured thread was resumed.
 *
 * A transfer is never cancelled from the progress callback: libdebuginfod
 * 0.188 then records the file as missing on the server for ten minutes.
 *
 * cprof does not link libdebuginfod: libdw loads it when it first fetches,
 * and loading it, with libcurl and some thirty libraries behind it, cost
 * every cprof run 15 ms at start.  The calls that show progress are
 * looked up in the copy libdw loaded.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/debuginfod.h"

#define URLS_VAR	  "DEBUGINFOD_URLS"
#define DEBUGINFOD_SONAME "libdebuginfod.so.1"

/* libdebuginfod's (elfutils/debuginfod.h); debuginfod_client is named by
 * libdwfl.h. */
typedef int (*progress_fn)(debuginfod_client *client, long a, long b);

static struct {
	bool tried;
	void (*set_progressfn)(debuginfod_client *client, progress_fn fn);
	void (*set_user_data)(debuginfod_client *client, void *value);
	void *(*get_user_data)(debuginfod_client *client);
	const char *(*get_url)(debuginfod_client *client);
	void (*set_verbose_fd)(debuginfod_client *client, int fd);
	int null_fd;
} client_api;

static const struct {
	const char *name, *value;
} bounds[] = {
	{"DEBUGINFOD_TIMEOUT", DEBUGINFOD_BOUND_TIMEOUT},
	{"DEBUGINFOD_MAXTIME", DEBUGINFOD_BOUND_MAXTIME},
	{"DEBUGINFOD_MAXSIZE", DEBUGINFOD_BOUND_MAXSIZE},
	{"DEBUGINFOD_RETRY_LIMIT", DEBUGINFOD_BOUND_RETRY_LIMIT},
};

static struct {
	enum debuginfod_mode mode;
	debuginfod_report_fn *report;
	void *report_arg;
	bool applied; /* the environment says what mode says */
	bool failed;  /* a server failed: none is asked again */
} policy;

/* One look-up, as the progress callback sees it. */
struct fetch {
	const char *module;
	bool reported; /* progress was reported: DONE must follow */
};

static bool urls_set(void)
{
	const char *urls = getenv(URLS_VAR);

	return urls && urls[strspn(urls, " \t\n")] != '\0';
}

int debuginfod_configure(enum debuginfod_mode mode,
			 debuginfod_report_fn *report, void *arg)
{
	if (mode == DEBUGINFOD_ON && !urls_set())
		return -ENOENT;
	policy.mode = mode;
	policy.report = report;
	policy.report_arg = arg;
	policy.applied = false;
	policy.failed = false;
	return 0;
}

bool debuginfod_enabled(void)
{
	return policy.mode != DEBUGINFOD_OFF && !policy.failed && urls_set();
}

static void apply_policy(void)
{
	if (policy.applied)
		return;
	policy.applied = true;
	if (!debuginfod_enabled()) {
		unsetenv(URLS_VAR);
		return;
	}
	for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++)
		setenv(bounds[i].name, bounds[i].value, 0);
}

/* The progress calls, from the libdebuginfod libdw has loaded; false when
 * it has loaded none. */
static bool load_client_api(void)
{
	void *lib;

	if (!client_api.tried) {
		client_api.tried = true;
		/* Held open for good: libdw holds it too. */
		lib = dlopen(DEBUGINFOD_SONAME, RTLD_LAZY | RTLD_NOLOAD);
		if (lib) {
			*(void **)&client_api.set_progressfn =
				dlsym(lib, "debuginfod_set_progressfn");
			*(void **)&client_api.set_user_data =
				dlsym(lib, "debuginfod_set_user_data");
			*(void **)&client_api.get_user_data =
				dlsym(lib, "debuginfod_get_user_data");
			*(void **)&client_api.get_url =
				dlsym(lib, "debuginfod_get_url");
			*(void **)&client_api.set_verbose_fd =
				dlsym(lib, "debuginfod_set_verbose_fd");
		}
		client_api.null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	}
	return client_api.set_progressfn && client_api.set_user_data &&
	       client_api.get_user_data && client_api.get_url &&
	       client_api.set_verbose_fd && client_api.null_fd >= 0;
}

static void report(const struct debuginfod_event *event)
{
	if (policy.report)
		policy.report(event, policy.report_arg);
}

/* Called by libdebuginfod about once a second while it waits, and as
 * bytes come: a is the bytes received (before a server answered, a loop
 * count), b the file's size when known. */
static int on_progress(debuginfod_client *client, long a, long b)
{
	struct fetch *fetch = client_api.get_user_data(client);
	const char *url = client_api.get_url(client);
	struct debuginfod_event event = {
		.kind = DEBUGINFOD_PROGRESS,
		.module = fetch ? fetch->module : "",
		.url = url,
		.done = url ? a : 0,
		.total = url ? b : 0,
	};

	if (fetch)
		fetch->reported = true;
	report(&event);
	return 0;
}

/* Whether a fetch's result says the servers cannot serve this run: not
 * "no such file there" (ENOENT), "too large" (EFBIG), "no server"
 * (ENOSYS) or the -1 of a search that never reached a server. */
static bool is_server_failure(int fd)
{
	return fd < -1 && fd != -ENOENT && fd != -EFBIG && fd != -ENOSYS;
}

int debuginfod_find(Dwfl *dwfl, const char *name, Dwfl_Module *mod,
		    void **userdata, const char *modname, Dwarf_Addr base,
		    const char *file_name, const char *debuglink_file,
		    GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	struct fetch fetch = {.module = name};
	debuginfod_client *client = NULL;
	bool fetching;
	int fd;

	apply_policy();
	fetching = debuginfod_enabled();
	if (fetching)
		client = dwfl_get_debuginfod_client(dwfl);
	if (client && !load_client_api())
		client = NULL;
	if (client) {
		client_api.set_user_data(client, &fetch);
		client_api.set_progressfn(client, on_progress);
		/* libdebuginfod 0.188 writes some messages to its verbose
		 * fd even when it has none (-1), and each such dprintf leaks
		 * glibc's 8 KiB buffer: with MAXSIZE set, one a fetch. */
		client_api.set_verbose_fd(client, client_api.null_fd);
	}
	fd = dwfl_standard_find_debuginfo(mod, userdata, modname, base,
					  file_name, debuglink_file,
					  debuglink_crc, debuginfo_file_name);
	if (client)
		client_api.set_user_data(client, NULL);
	if (fetch.reported) {
		struct debuginfod_event done = {.kind = DEBUGINFOD_DONE,
						.module = name};

		report(&done);
	}
	if (fetching && is_server_failure(fd)) {
		struct debuginfod_event failed = {
			.kind = DEBUGINFOD_FAILED, .module = name, .error = fd};

		policy.failed = true;
		unsetenv(URLS_VAR);
		report(&failed);
	}
	return fd;
}
