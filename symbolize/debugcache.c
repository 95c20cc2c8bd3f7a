/* SPDX-License-Identifier: MIT */
/*
 * Entries are files named by build id in one directory,
 * $XDG_CACHE_HOME/cprof/debug-v1/ID.debug; "v1" names the layout
 * debugfile.c writes, so a cprof that writes another never reads these.
 * ID.locations beside it is loccache.c's, bounded and pruned with them.
 * Two runs may share the directory: each writes a nameless file
 * (O_TMPFILE) or a temporary one of its own, links it under a fresh name
 * and renames it over the entry, so a reader sees an old whole entry, a
 * new whole entry or none.  A run killed while writing leaves nothing, or
 * (without O_TMPFILE) a temporary file that a later prune removes.
 * Entries are not synced to disk: after a crash an entry may hold zeros,
 * and the checks debugfile.c makes before using one (size, section table,
 * build id) turn it down; it is then written again.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "symbolize/debugcache.h"

#define LAYOUT	     "debug-v1"
#define ENTRY_SUFFIX ".debug"
#define TEMP_MARK    ".tmp."
#define COPY_CHUNK   (1u << 20)
/* A temporary file this old was left by a run that died. */
#define STALE_TEMP_SECONDS 3600

static bool cache_off;

void debugcache_configure(bool enabled)
{
	cache_off = !enabled;
}

/* The cache directory, made if missing; NULL when there is none. */
static char *cache_dir(void)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char *base = NULL, *dir = NULL;

	if (cache_off)
		return NULL;
	if (xdg && xdg[0] == '/')
		base = strdup(xdg);
	else if (home && home[0] == '/' &&
		 asprintf(&base, "%s/.cache", home) < 0)
		base = NULL;
	if (!base)
		return NULL;
	if (asprintf(&dir, "%s/cprof/" LAYOUT, base) < 0)
		dir = NULL;
	if (dir) {
		/* Each level, as mkdir -p, private to the user. */
		for (char *p = strchr(dir + 1, '/'); p;
		     p = strchr(p + 1, '/')) {
			*p = '\0';
			mkdir(dir, 0700);
			*p = '/';
		}
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			free(dir);
			dir = NULL;
		}
	}
	free(base);
	return dir;
}

static const char *const entry_suffix[] = {
	[DEBUGCACHE_DEBUG] = ENTRY_SUFFIX,
	[DEBUGCACHE_LOCATIONS] = ".locations",
};

static char *entry_path(const char *dir, enum debugcache_kind kind,
			const unsigned char *id, size_t len)
{
	char *path =
		malloc(strlen(dir) + 2 * len + 2 + strlen(entry_suffix[kind]));
	char *p;

	if (!path)
		return NULL;
	p = stpcpy(stpcpy(path, dir), "/");
	for (size_t i = 0; i < len; i++)
		p += sprintf(p, "%02x", id[i]);
	strcpy(p, entry_suffix[kind]);
	return path;
}

int debugcache_open(const unsigned char *id, size_t len)
{
	return debugcache_open_kind(DEBUGCACHE_DEBUG, id, len);
}

int debugcache_open_kind(enum debugcache_kind kind, const unsigned char *id,
			 size_t len)
{
	char *dir = cache_dir(),
	     *path = dir ? entry_path(dir, kind, id, len) : NULL;
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;

	if (fd >= 0)
		futimens(fd, NULL); /* used now: pruned last */
	free(path);
	free(dir);
	return fd >= 0 ? fd : -ENOENT;
}

static int write_all(int fd, const char *buf, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Copies the data of in to out, leaving its holes as holes. */
static int copy_data(int in, int out, uint64_t size)
{
	char *buf = malloc(COPY_CHUNK);
	off_t data = 0, hole;
	int err = buf ? 0 : -ENOMEM;

	while (!err && (uint64_t)data < size) {
		data = lseek(in, data, SEEK_DATA);
		if (data < 0 || (uint64_t)data >= size)
			break;
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0 || (uint64_t)hole > size)
			hole = (off_t)size;
		while (!err && data < hole) {
			size_t want = hole - data < COPY_CHUNK
					      ? (size_t)(hole - data)
					      : COPY_CHUNK;
			ssize_t got = pread(in, buf, want, data);

			if (got <= 0)
				err = got < 0 ? -errno : -EIO;
			else
				err = write_all(out, buf, (size_t)got, data);
			data += got > 0 ? got : 0;
		}
	}
	free(buf);
	if (!err && ftruncate(out, (off_t)size) < 0)
		err = -errno;
	return err;
}

/* A writable file in dir that becomes the entry at path once complete:
 * nameless where the file system allows, else under a temporary name
 * (*ret_temp, which the caller frees). */
static int open_temp(const char *dir, const char *path, char **ret_temp)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);

	*ret_temp = NULL;
	if (fd >= 0)
		return fd;
	if (asprintf(ret_temp, "%s" TEMP_MARK "XXXXXX", path) < 0) {
		*ret_temp = NULL;
		return -ENOMEM;
	}
	fd = mkostemp(*ret_temp, O_CLOEXEC);
	if (fd < 0) {
		free(*ret_temp);
		*ret_temp = NULL;
		return -errno;
	}
	return fd;
}

/* Gives the nameless file fd a fresh temporary name beside path. */
static int name_temp(int fd, const char *path, char **ret_temp)
{
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	for (int tries = 0; tries < 100; tries++) {
		if (asprintf(ret_temp, "%s" TEMP_MARK "%06x", path,
			     (unsigned)(random() & 0xffffff)) < 0) {
			*ret_temp = NULL;
			return -ENOMEM;
		}
		if (linkat(AT_FDCWD, proc, AT_FDCWD, *ret_temp,
			   AT_SYMLINK_FOLLOW) == 0)
			return 0;
		free(*ret_temp);
		*ret_temp = NULL;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

struct entry {
	char *name;
	time_t used;
	uint64_t bytes;
};

static int by_use(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	return (x->used > y->used) - (x->used < y->used);
}

/* Lists the entries and drops stale temporary files; *ret_total is the
 * disk the entries take. */
static struct entry *list_entries(int dfd, size_t *ret_n, uint64_t *ret_total)
{
	DIR *d = fdopendir(dfd);
	struct entry *list = NULL, *grown;
	size_t n = 0, cap = 0;
	time_t now = time(NULL);
	struct dirent *de;
	struct stat st;

	*ret_total = 0;
	if (!d) {
		close(dfd);
		return NULL;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) <
			    0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (strstr(de->d_name, TEMP_MARK)) {
			if (now - st.st_mtime > STALE_TEMP_SECONDS)
				unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			grown = reallocarray(list, cap, sizeof(*list));
			if (!grown)
				break;
			list = grown;
		}
		list[n].name = strdup(de->d_name);
		if (!list[n].name)
			break;
		list[n].used = st.st_mtime;
		list[n].bytes = (uint64_t)st.st_blocks * 512;
		*ret_total += list[n].bytes;
		n++;
	}
	closedir(d);
	*ret_n = n;
	return list;
}

/* Drops the least recently used entries while over the bound. */
static void prune(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct entry *list;
	uint64_t total;
	size_t n = 0;

	if (dfd < 0)
		return;
	list = list_entries(dfd, &n, &total);
	if (list && total > DEBUGCACHE_MAX_BYTES) {
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		qsort(list, n, sizeof(*list), by_use);
		for (size_t i = 0; i < n && total > DEBUGCACHE_MAX_BYTES; i++)
			if (dfd >= 0 && unlinkat(dfd, list[i].name, 0) == 0)
				total -= list[i].bytes;
		if (dfd >= 0)
			close(dfd);
	}
	for (size_t i = 0; i < n; i++)
		free(list[i].name);
	free(list);
}

int debugcache_store(const unsigned char *id, size_t len, int fd, uint64_t size)
{
	return debugcache_store_kind(DEBUGCACHE_DEBUG, id, len, fd, size);
}

int debugcache_store_kind(enum debugcache_kind kind, const unsigned char *id,
			  size_t len, int fd, uint64_t size)
{
	char *dir = cache_dir(), *path = NULL, *temp = NULL;
	int out = -1, err;

	path = dir ? entry_path(dir, kind, id, len) : NULL;
	if (!path) {
		err = dir ? -ENOMEM : -ENOENT;
		goto done;
	}
	out = open_temp(dir, path, &temp);
	if (out < 0) {
		err = out;
		goto done;
	}
	err = copy_data(fd, out, size);
	if (!err && !temp)
		err = name_temp(out, path, &temp);
	if (!err && rename(temp, path) < 0)
		err = -errno;
	if (err && temp)
		unlink(temp);
	if (!err)
		prune(dir);
done:
	if (out >= 0)
		close(out);
	free(temp);
	free(path);
	free(dir);
	return err;
}
