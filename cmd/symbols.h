/* SPDX-License-Identifier: MIT */
/* Where threads and record find symbols: the --debuginfod,
 * --no-debuginfod and --no-cache options they share, and what a fetch
 * shows. */
#ifndef CPROF_CMD_SYMBOLS_H
#define CPROF_CMD_SYMBOLS_H

#include <stdbool.h>

#include "symbolize/debuginfod.h"

#define SYMBOLS_USAGE "[--debuginfod|--no-debuginfod] [--no-cache]"

/* clang-format off */
#define SYMBOLS_HELP							       \
	"      --debuginfod       fetch missing debug files from the servers\n"  \
	"                         DEBUGINFOD_URLS names (default: when it is\n" \
	"                         set), each fetch bounded\n"			       \
	"      --no-debuginfod    never fetch a debug file\n"			       \
	"      --no-cache         neither read nor write the debug-info cache\n"

enum {
	OPT_DEBUGINFOD = 512,
	OPT_NO_DEBUGINFOD,
	OPT_NO_CACHE,
};

#define SYMBOLS_LONGOPTS						       \
	{"debuginfod", no_argument, NULL, OPT_DEBUGINFOD},		       \
	{"no-debuginfod", no_argument, NULL, OPT_NO_DEBUGINFOD},	       \
	{"no-cache", no_argument, NULL, OPT_NO_CACHE}
/* clang-format on */

/* Takes opt when it is one of SYMBOLS_LONGOPTS: true then.  --no-cache
 * is kept here until symbols_setup(). */
bool symbols_option(int opt, enum debuginfod_mode *mode);

/* Sets the policies before anything is read; reports a usage error and
 * returns -EINVAL. */
int symbols_setup(enum debuginfod_mode mode);

#endif
