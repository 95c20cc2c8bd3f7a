/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/output.h"
#include "cmd/util.h"

/* As the kernel's own limit on a path's symlinks. */
#define MAX_SYMLINK_HOPS 40

bool output_is_stdout(const char *path)
{
	return !path || !strcmp(path, "-");
}

static bool ends_with(const char *text, const char *suffix)
{
	size_t len = strlen(text), slen = strlen(suffix);

	return len > slen && !strcmp(text + len - slen, suffix);
}

const char *output_format_of(const char *path)
{
	static const struct {
		const char *suffix, *format;
	} by_suffix[] = {
		{".svg", "svg"},     {".prof", "pprof"},    {".pprof", "pprof"},
		{".pb.gz", "pprof"}, {".folded", "folded"}, {".txt", "text"},
	};

	if (output_is_stdout(path))
		return NULL;
	for (size_t i = 0; i < sizeof(by_suffix) / sizeof(by_suffix[0]); i++)
		if (ends_with(path, by_suffix[i].suffix))
			return by_suffix[i].format;
	return NULL;
}

static char *dir_of(const char *path)
{
	char *copy = strdup(path), *dir;

	if (!copy)
		return NULL;
	dir = strdup(dirname(copy));
	free(copy);
	return dir;
}

/* The kernel's protected_symlinks rule, applied whatever the sysctl says:
 * a link in a sticky world-writable directory is followed only when the
 * caller or the directory's owner owns it. */
static int check_link(const char *link, const struct stat *link_st)
{
	char *dir = dir_of(link);
	struct stat st;
	int r = 0;

	if (!dir)
		return -ENOMEM;
	if (stat(dir, &st) < 0)
		r = -errno;
	else if ((st.st_mode & S_ISVTX) && (st.st_mode & S_IWOTH) &&
		 link_st->st_uid != geteuid() && link_st->st_uid != st.st_uid)
		r = -EPERM;
	free(dir);
	return r;
}

/* The next path along a symlink: its target, relative to its directory. */
static char *follow(const char *link)
{
	char target[PATH_MAX], *dir, *next = NULL;
	ssize_t n = readlink(link, target, sizeof(target) - 1);

	if (n < 0)
		return NULL;
	target[n] = '\0';
	if (target[0] == '/')
		return strdup(target);
	dir = dir_of(link);
	if (dir && asprintf(&next, "%s/%s", dir, target) < 0)
		next = NULL;
	free(dir);
	return next;
}

/* The path at the end of path's symlinks, checked hop by hop. */
static int resolve(const char *path, char **ret_final, struct stat *ret_st,
		   bool *ret_exists)
{
	char *cur = strdup(path), *next;
	struct stat st;
	int r;

	for (int hop = 0; cur; hop++) {
		if (lstat(cur, &st) < 0) {
			if (errno != ENOENT) {
				r = -errno;
				free(cur);
				return r;
			}
			*ret_exists = false;
			*ret_final = cur;
			return 0;
		}
		if (!S_ISLNK(st.st_mode)) {
			*ret_exists = true;
			*ret_st = st;
			*ret_final = cur;
			return 0;
		}
		r = hop < MAX_SYMLINK_HOPS ? check_link(cur, &st) : -ELOOP;
		if (r < 0) {
			free(cur);
			return r;
		}
		next = follow(cur);
		free(cur);
		cur = next;
	}
	return -ENOMEM;
}

static int open_fp(struct output *out, int fd)
{
	out->fp = fdopen(fd, "w");
	if (out->fp)
		return 0;
	close(fd);
	return -errno;
}

/* A new file in final's directory: nameless where it can be, else under
 * a temporary name created with O_EXCL (a link planted there is never
 * followed). */
static int open_new(struct output *out)
{
	char *dir = dir_of(out->final_path);
	int fd;

	if (!dir)
		return -ENOMEM;
	fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
	free(dir);
	if (fd >= 0) {
		out->nameless = true;
		return open_fp(out, fd);
	}
	if (asprintf(&out->tmp_path, "%s.tmp.XXXXXX", out->final_path) < 0) {
		out->tmp_path = NULL;
		return -ENOMEM;
	}
	fd = mkostemp(out->tmp_path, O_CLOEXEC);
	if (fd < 0) {
		int err = -errno;

		free(out->tmp_path);
		out->tmp_path = NULL;
		return err;
	}
	return open_fp(out, fd);
}

int output_open(struct output *out, const char *path)
{
	struct stat st;
	bool exists = false;
	int r, fd;

	*out = (struct output){.path = output_is_stdout(path) ? NULL : path};
	if (!out->path) {
		out->fp = stdout;
		return 0;
	}
	if (!*path)
		return -ENOENT;
	r = resolve(path, &out->final_path, &st, &exists);
	if (r < 0)
		return r;
	if (exists && S_ISDIR(st.st_mode))
		r = -EISDIR;
	else if (exists && !S_ISREG(st.st_mode)) {
		/* A device or a FIFO: written in place, never replaced. */
		fd = open(out->final_path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
		free(out->final_path);
		out->final_path = NULL;
		r = fd < 0 ? -errno : open_fp(out, fd);
	} else
		r = open_new(out);
	if (r < 0)
		output_abort(out);
	return r;
}

/* Puts a finished nameless file at final_path, atomically: linked under a
 * fresh temporary name, then renamed over the final one. */
static int link_nameless(struct output *out)
{
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fileno(out->fp));
	for (int tries = 0; tries < 100; tries++) {
		free(out->tmp_path);
		if (asprintf(&out->tmp_path, "%s.tmp.%06x", out->final_path,
			     (unsigned)(random() & 0xffffff)) < 0) {
			out->tmp_path = NULL;
			return -ENOMEM;
		}
		if (linkat(AT_FDCWD, proc, AT_FDCWD, out->tmp_path,
			   AT_SYMLINK_FOLLOW) == 0)
			return 0;
		if (errno != EEXIST) {
			int err = -errno;

			free(out->tmp_path);
			out->tmp_path = NULL;
			return err;
		}
	}
	free(out->tmp_path);
	out->tmp_path = NULL;
	return -EEXIST;
}

int output_commit(struct output *out)
{
	int err = 0;

	if (fflush(out->fp) != 0 || ferror(out->fp))
		err = -(errno ? errno : EIO);
	if (!out->path)
		return err;
	if (out->final_path && fchmod(fileno(out->fp), 0644) < 0 && !err)
		err = -errno;
	if (!err && out->nameless)
		err = link_nameless(out);
	if (fclose(out->fp) != 0 && !err)
		err = -errno;
	out->fp = NULL;
	if (!err && out->final_path &&
	    rename(out->tmp_path, out->final_path) < 0)
		err = -errno;
	if (err) {
		output_abort(out);
		return err;
	}
	free(out->tmp_path);
	free(out->final_path);
	out->tmp_path = out->final_path = NULL;
	return 0;
}

void output_abort(struct output *out)
{
	if (out->path && out->fp)
		fclose(out->fp);
	out->fp = NULL;
	if (out->tmp_path)
		unlink(out->tmp_path);
	free(out->tmp_path);
	free(out->final_path);
	out->tmp_path = out->final_path = NULL;
}

void output_report_error(const char *path, int err)
{
	if (err == -EPERM)
		cprof_error("cannot create '%s': a symlink on the way is in a "
			    "sticky world-writable directory and owned by "
			    "another user; refusing to follow it",
			    path);
	else
		cprof_error_errno(err, "cannot create '%s'", path);
}
