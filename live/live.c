/* SPDX-License-Identifier: MIT */
/*
 * The table is pprofout's top table, the one `record --format=top`
 * prints, so the live view and the file agree; this file only lays it out
 * under a heading and a key line, and keeps what the keys chose: the sort
 * and the one thread shown.
 */
#include <curses.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live/live.h"

struct live_view {
	struct live_options opts;
	bool by_cum;
	bool one_thread; /* only thread_id's samples; else all threads */
	int64_t thread_id;
	int step; /* +1 n, -1 p: a move to the next or previous thread */
	int64_t drawn_ns; /* elapsed at the last redraw; -1 before any */
};

int live_view_new(const struct live_options *opts, struct live_view **ret)
{
	struct live_view *v = calloc(1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	v->opts = *opts;
	if (v->opts.interval_s < 1)
		v->opts.interval_s = 1;
	v->drawn_ns = -1;
	if (!initscr()) {
		free(v);
		return -ENOTTY;
	}
	cbreak();
	noecho();
	nodelay(stdscr, TRUE);
	curs_set(0);
	*ret = v;
	return 0;
}

/* The keys typed since the last call: false for q. */
static bool read_keys(struct live_view *v, bool *redraw)
{
	int key;

	while ((key = getch()) != ERR) {
		switch (key) {
		case 'q':
		case 'Q':
			return false;
		case 'o':
		case 't':
			v->by_cum = key == 't';
			break;
		case 'n':
		case 'p':
			v->step += key == 'n' ? 1 : -1;
			break;
		case 'a':
			v->one_thread = false;
			v->step = 0;
			break;
		default:
			continue;
		}
		*redraw = true;
	}
	return true;
}

/*
 * Moves the shown thread by v->step through "all, then each thread by
 * id", wrapping.  Sets *index to the shown thread's, or n for all.
 */
static void step_thread(struct live_view *v,
			const struct profile_thread *threads, size_t n,
			size_t *index)
{
	long pos = (long)n; /* all threads */
	long span = (long)n + 1;

	for (size_t i = 0; v->one_thread && i < n; i++)
		if (threads[i].id == v->thread_id)
			pos = (long)i;
	/* A thread that ended shows on until the next move. */
	if (v->one_thread && pos == (long)n && v->step == 0) {
		*index = SIZE_MAX;
		return;
	}
	pos = ((pos + v->step) % span + span) % span;
	v->step = 0;
	v->one_thread = pos < (long)n;
	if (v->one_thread)
		v->thread_id = threads[pos].id;
	*index = (size_t)pos;
}

static void draw_heading(struct live_view *v, const struct profile *profile,
			 const struct live_progress *progress)
{
	struct profile_thread *threads = NULL;
	size_t n = 0, shown = SIZE_MAX;

	if (profile_threads(profile, &threads, &n) == 0)
		step_thread(v, threads, n, &shown);
	mvprintw(0, 0,
		 "cprof top: %s, %.0f s, %" PRIu64 " samples, %" PRIu64
		 " lost, %zu threads sampled",
		 v->opts.heading, progress->elapsed_ns / 1e9, progress->samples,
		 progress->lost, n);
	if (!v->one_thread)
		mvprintw(1, 0, "all threads");
	else if (shown < n)
		mvprintw(1, 0, "thread %" PRId64 " (%s), %zu of %zu",
			 v->thread_id, threads[shown].name, shown + 1, n);
	else
		mvprintw(1, 0, "thread %" PRId64 " (no samples)", v->thread_id);
	printw(", sorted by %s; keys: o own, t total, n/p next/previous "
	       "thread, a all, q quit",
	       v->by_cum ? "total (cum)" : "own (flat)");
	free(threads);
}

static void draw(struct live_view *v, const struct profile *profile,
		 const struct live_progress *progress)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	int row = 3;

	erase();
	draw_heading(v, profile, progress);
	if (out) {
		profile_write_top_with(
			profile,
			&(struct top_options){.by_cum = v->by_cum,
					      .one_thread = v->one_thread,
					      .thread_id = v->thread_id,
					      .where = true,
					      .states = v->opts.states},
			out);
		fclose(out);
	}
	for (char *line = text, *next; line && *line && row < LINES;
	     line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		/* "Type:" says what the heading says. */
		if (!strncmp(line, "Type:", 5))
			continue;
		mvaddnstr(row++, 0, line, COLS);
		if (!next)
			break;
	}
	free(text);
	refresh();
	v->drawn_ns = progress->elapsed_ns;
}

bool live_view_update(struct live_view *v, const struct profile *profile,
		      const struct live_progress *progress)
{
	bool redraw = v->drawn_ns < 0 ||
		      progress->elapsed_ns - v->drawn_ns >=
			      (int64_t)v->opts.interval_s * 1000000000;

	if (!read_keys(v, &redraw))
		return false;
	if (redraw)
		draw(v, profile, progress);
	return true;
}

void live_view_free(struct live_view *v)
{
	if (!v)
		return;
	endwin();
	free(v);
}
