/* SPDX-License-Identifier: MIT */
/*
 * Where -o points, written as a shell redirection or perf would: "-" is
 * stdout; a character device or FIFO is written in place; a symlink is
 * followed as open(2) follows it, except one the kernel's
 * protected_symlinks rule would refuse (in a sticky world-writable
 * directory, owned neither by the caller nor by the directory's owner),
 * which cprof refuses whatever the sysctl says; a regular file is
 * replaced atomically, only once it is complete, so a crash or a full
 * disk never leaves a truncated profile under the final name.  The new
 * file is made nameless (O_TMPFILE) where the file system allows, so a
 * SIGKILLed cprof leaves nothing; elsewhere it is NAME.tmp.XXXXXX beside
 * it until the rename.
 */
#ifndef CPROF_CMD_OUTPUT_H
#define CPROF_CMD_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

struct output {
	FILE *fp;
	const char *path; /* as given; NULL: stdout */
	char *final_path; /* the file replaced at commit; NULL: in place */
	char *tmp_path;	  /* a named temporary file, to unlink on abort */
	bool nameless;	  /* an O_TMPFILE file, linked in at commit */
};

/* NULL or "-": stdout.  -EPERM for a protected symlink, -ELOOP for a
 * symlink chain too long, -EISDIR for a directory. */
int output_open(struct output *out, const char *path);
/* Flushes, checks for write errors, closes and puts the file in place. */
int output_commit(struct output *out);
/* Drops what was written; safe after a failed or no open. */
void output_abort(struct output *out);
/* The one line for an output that cannot be opened. */
void output_report_error(const char *path, int err);
/* Whether the output is stdout. */
bool output_is_stdout(const char *path);

/* The format a file name's extension asks for: "svg" (.svg), "pprof"
 * (.prof, .pprof, .pb.gz), "folded" (.folded) or "text" (.txt); NULL for
 * stdout and any other name.  An explicit --format wins over it. */
const char *output_format_of(const char *path);

#endif
