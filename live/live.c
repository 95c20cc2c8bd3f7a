/* SPDX-License-Identifier: MIT */
/*
 * The table is pprofout's top table, the one `record --format=top`
 * prints, so the live view and the file agree; this file only lays it out
 * under a heading and a key line.
 */
#include <curses.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live/live.h"

struct live_view {
	struct live_options opts;
	bool by_cum;
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
			v->by_cum = false;
			*redraw = true;
			break;
		case 't':
			v->by_cum = true;
			*redraw = true;
			break;
		default:
			break;
		}
	}
	return true;
}

static void draw(struct live_view *v, const struct profile *profile,
		 int64_t elapsed_ns, uint64_t samples)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	int row = 3;

	erase();
	mvprintw(0, 0, "cprof top: %s, %.0f s, %llu samples", v->opts.heading,
		 elapsed_ns / 1e9, (unsigned long long)samples);
	mvprintw(1, 0, "sorted by %s; keys: o own, t total, q quit",
		 v->by_cum ? "total (cum)" : "own (flat)");
	if (out) {
		profile_write_top_sorted(profile, v->by_cum, out);
		fclose(out);
	}
	for (char *line = text, *next; line && *line && row < LINES;
	     line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		/* "Type:" and "Showing ..." say what the heading says. */
		if (!strncmp(line, "Type:", 5))
			continue;
		mvaddnstr(row++, 0, line, COLS);
		if (!next)
			break;
	}
	free(text);
	refresh();
	v->drawn_ns = elapsed_ns;
}

bool live_view_update(struct live_view *v, const struct profile *profile,
		      int64_t elapsed_ns, uint64_t samples)
{
	bool redraw = v->drawn_ns < 0 ||
		      elapsed_ns - v->drawn_ns >=
			      (int64_t)v->opts.interval_s * 1000000000;

	if (!read_keys(v, &redraw))
		return false;
	if (redraw)
		draw(v, profile, elapsed_ns, samples);
	return true;
}

void live_view_free(struct live_view *v)
{
	if (!v)
		return;
	endwin();
	free(v);
}
