/* SPDX-License-Identifier: MIT */
/*
 * The debuginfod and cache switches, and what a fetch shows: its progress on a
 * terminal, one line at a time, erased when it ends, and one line on
 * stderr when the servers fail, since frames then lose their file:line.
 */
#include "cmd/symbols.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cmd/util.h"
#include "symbolize/debugcache.h"

/* Progress is redrawn at most this often, in nanoseconds. */
#define PROGRESS_INTERVAL_NS 200000000LL

struct fetch_display {
	bool shown; /* a progress line is on the terminal */
	int64_t shown_ns;
};

static bool no_cache;

bool symbols_option(int opt, enum debuginfod_mode *mode)
{
	switch (opt) {
	case OPT_NO_CACHE:
		no_cache = true;
		return true;
	case OPT_DEBUGINFOD:
		*mode = DEBUGINFOD_ON;
		return true;
	case OPT_NO_DEBUGINFOD:
		*mode = DEBUGINFOD_OFF;
		return true;
	default:
		return false;
	}
}

static void erase_line(struct fetch_display *d)
{
	if (d->shown)
		fputs("\r\033[K", stderr);
	d->shown = false;
}

static void show_progress(struct fetch_display *d,
			  const struct debuginfod_event *event)
{
	int64_t now = monotonic_ns();

	if (!stderr_is_tty() ||
	    (d->shown && now - d->shown_ns < PROGRESS_INTERVAL_NS))
		return;
	d->shown = true;
	d->shown_ns = now;
	fprintf(stderr, "\r\033[Kcprof: fetching the debug file of %s",
		event->module);
	if (!event->url)
		fputs(": waiting for a server", stderr);
	else if (event->total > 0)
		fprintf(stderr, ": %.1f of %.1f MiB", event->done / 1048576.0,
			event->total / 1048576.0);
	else
		fprintf(stderr, ": %.1f MiB", event->done / 1048576.0);
	fflush(stderr);
}

static void on_fetch(const struct debuginfod_event *event, void *arg)
{
	struct fetch_display *d = arg;

	switch (event->kind) {
	case DEBUGINFOD_PROGRESS:
		show_progress(d, event);
		break;
	case DEBUGINFOD_DONE:
		erase_line(d);
		break;
	case DEBUGINFOD_FAILED:
		erase_line(d);
		cprof_error("debuginfod: cannot fetch the debug file of '%s' "
			    "(%s): no server is asked again in this run",
			    event->module, strerror(-event->error));
		break;
	}
}

int symbols_setup(enum debuginfod_mode mode)
{
	static struct fetch_display display;

	debugcache_configure(!no_cache);
	if (debuginfod_configure(mode, on_fetch, &display) < 0) {
		cprof_error("--debuginfod: DEBUGINFOD_URLS names no server");
		return -EINVAL;
	}
	return 0;
}
