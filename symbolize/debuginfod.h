/* SPDX-License-Identifier: MIT */
/*
 * Debug files fetched from debuginfod servers: whether, within which
 * bounds, and what the front end is told while it happens.  libdw's own
 * client does the fetching; cprof decides when it may.
 */
#ifndef CPROF_SYMBOLIZE_DEBUGINFOD_H
#define CPROF_SYMBOLIZE_DEBUGINFOD_H

#include <elfutils/libdwfl.h>
#include <stdbool.h>

enum debuginfod_mode {
	DEBUGINFOD_DEFAULT, /* fetch when DEBUGINFOD_URLS names a server */
	DEBUGINFOD_ON,	    /* fetch; DEBUGINFOD_URLS must name a server */
	DEBUGINFOD_OFF,	    /* never: no request, not even a cache look-up */
};

/*
 * The bounds a fetch gets when the environment sets none, in seconds and
 * bytes (libdebuginfod's own variables, see debuginfod-find(1)): a
 * transfer slower than 100 KiB/s for TIMEOUT seconds ends, so does one
 * that lasts MAXTIME, a file over MAXSIZE is refused, and a failed request
 * is not retried.
 */
#define DEBUGINFOD_BOUND_TIMEOUT     "5"
#define DEBUGINFOD_BOUND_MAXTIME     "10"
#define DEBUGINFOD_BOUND_MAXSIZE     "536870912"
#define DEBUGINFOD_BOUND_RETRY_LIMIT "0"

enum debuginfod_event_kind {
	DEBUGINFOD_PROGRESS, /* a fetch goes on */
	DEBUGINFOD_DONE,     /* the fetch that reported progress ended */
	DEBUGINFOD_FAILED,   /* servers failed: none is asked again */
};

struct debuginfod_event {
	enum debuginfod_event_kind kind;
	const char *module; /* the object whose debug file is fetched */
	const char *url;    /* where from, once known; else NULL */
	long done, total;   /* bytes; total <= 0 when not known */
	int error;	    /* DEBUGINFOD_FAILED: a negative errno */
};

/* Called on the thread that symbolizes, during a fetch. */
typedef void debuginfod_report_fn(const struct debuginfod_event *event,
				  void *arg);

/*
 * Sets the policy of every address space opened later, and who hears of
 * fetches (report may be NULL).  Nothing of the environment changes
 * here: that waits for the first debug file cprof looks for, so that a
 * command cprof starts meanwhile inherits cprof's environment as it was.
 * -ENOENT when mode is DEBUGINFOD_ON and DEBUGINFOD_URLS names no server.
 */
int debuginfod_configure(enum debuginfod_mode mode,
			 debuginfod_report_fn *report, void *arg);

/* Whether a debug file may be fetched now: configured so, and no server
 * has failed yet. */
bool debuginfod_enabled(void);

/*
 * The search of a find_debuginfo callback (libdwfl.h) for a module of
 * dwfl that the user knows as name: libdwfl's standard search (build id,
 * .gnu_debuglink, dwz files) and, where the policy allows, a fetch,
 * bounded; a failure of the servers stops every later fetch.
 */
int debuginfod_find(Dwfl *dwfl, const char *name, Dwfl_Module *mod,
		    void **userdata, const char *modname, Dwarf_Addr base,
		    const char *file_name, const char *debuglink_file,
		    GElf_Word debuglink_crc, char **debuginfo_file_name);

#endif
