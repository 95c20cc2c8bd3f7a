// SPDX-License-Identifier: MIT
#include "attach/procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "syscall-names.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * A bounded reader over bytes that need not be NUL terminated: the parsers
 * below only ever look at [p, end).
 */
struct cursor {
	const char *p, *end;
};

static bool cur_eof(const struct cursor *c)
{
	return c->p >= c->end;
}

static bool cur_take(struct cursor *c, char ch)
{
	if (cur_eof(c) || *c->p != ch)
		return false;
	c->p++;
	return true;
}

static int digit_value(char ch, unsigned base)
{
	int v;

	if (ch >= '0' && ch <= '9')
		v = ch - '0';
	else if (ch >= 'a' && ch <= 'f')
		v = ch - 'a' + 10;
	else if (ch >= 'A' && ch <= 'F')
		v = ch - 'A' + 10;
	else
		return -1;
	return v < (int)base ? v : -1;
}

/* At least one digit; overflow is garbage, not a value to clamp. */
static int cur_u64(struct cursor *c, unsigned base, uint64_t *ret)
{
	uint64_t v = 0;
	const char *start = c->p;
	int d;

	while (!cur_eof(c) && (d = digit_value(*c->p, base)) >= 0) {
		if (v > (UINT64_MAX - (uint64_t)d) / base)
			return -EINVAL;
		v = v * base + (uint64_t)d;
		c->p++;
	}
	if (c->p == start)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* Hex as the kernel prints it, "0x" optional. */
static int cur_hex(struct cursor *c, uint64_t *ret)
{
	if (c->end - c->p >= 2 && c->p[0] == '0' &&
	    (c->p[1] == 'x' || c->p[1] == 'X'))
		c->p += 2;
	return cur_u64(c, 16, ret);
}

static int cur_i64(struct cursor *c, int64_t *ret)
{
	bool negative = cur_take(c, '-');
	uint64_t mag;
	int r;

	r = cur_u64(c, 10, &mag);
	if (r < 0)
		return r;
	if (mag > (uint64_t)INT64_MAX + (negative ? 1 : 0))
		return -EINVAL;
	*ret = negative ? (int64_t)(0 - mag) : (int64_t)mag;
	return 0;
}

static int cur_pid(struct cursor *c, pid_t *ret)
{
	int64_t v;

	if (cur_i64(c, &v) < 0 || v < INT_MIN || v > INT_MAX)
		return -EINVAL;
	*ret = (pid_t)v;
	return 0;
}

/* One or more blanks. */
static int cur_blanks(struct cursor *c)
{
	const char *start = c->p;

	while (!cur_eof(c) && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
	return c->p == start ? -EINVAL : 0;
}

/* The rest of a one-line file may only be a newline. */
static int cur_end_of_file(struct cursor *c)
{
	cur_take(c, '\n');
	return cur_eof(c) ? 0 : -EINVAL;
}

/* ---- maps ---- */

static int parse_perms(struct cursor *c, struct proc_map *map)
{
	if (c->end - c->p < 4)
		return -EINVAL;
	if ((c->p[0] != 'r' && c->p[0] != '-') ||
	    (c->p[1] != 'w' && c->p[1] != '-') ||
	    (c->p[2] != 'x' && c->p[2] != '-') ||
	    (c->p[3] != 'p' && c->p[3] != 's'))
		return -EINVAL;
	map->readable = c->p[0] == 'r';
	map->writable = c->p[1] == 'w';
	map->executable = c->p[2] == 'x';
	c->p += 4;
	return 0;
}

/* Parses one line up to (not including) its newline; path is malloc'ed. */
static int parse_maps_line(struct cursor *c, struct proc_map *ret)
{
	struct proc_map map = {0};
	uint64_t dev_major, dev_minor;
	const char *path;
	size_t path_len;

	if (cur_u64(c, 16, &map.start) < 0 || !cur_take(c, '-') ||
	    cur_u64(c, 16, &map.end) < 0 || cur_blanks(c) < 0 ||
	    parse_perms(c, &map) < 0 || cur_blanks(c) < 0 ||
	    cur_u64(c, 16, &map.offset) < 0 || cur_blanks(c) < 0 ||
	    cur_u64(c, 16, &dev_major) < 0 || !cur_take(c, ':') ||
	    cur_u64(c, 16, &dev_minor) < 0 || cur_blanks(c) < 0 ||
	    cur_u64(c, 10, &map.inode) < 0)
		return -EINVAL;
	if (map.start >= map.end)
		return -EINVAL;
	/* Anonymous mappings may end right after the inode. */
	while (!cur_eof(c) && *c->p == ' ')
		c->p++;
	path = c->p;
	while (!cur_eof(c) && *c->p != '\n')
		c->p++;
	path_len = (size_t)(c->p - path);
	if (memchr(path, '\0', path_len))
		return -EINVAL;
	map.path = strndup(path, path_len);
	if (!map.path)
		return -ENOMEM;
	*ret = map;
	return 0;
}

static int maps_append(struct proc_maps *maps, size_t *cap,
		       const struct proc_map *map)
{
	if (maps->n == *cap) {
		size_t new_cap = *cap ? *cap * 2 : 64;
		struct proc_map *grown;

		grown = reallocarray(maps->maps, new_cap, sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		maps->maps = grown;
		*cap = new_cap;
	}
	maps->maps[maps->n++] = *map;
	return 0;
}

int procfs_parse_maps(const char *buf, size_t len, struct proc_maps *ret_maps)
{
	struct cursor c = {buf, buf + len};
	struct proc_maps maps = {0};
	size_t cap = 0;
	int r = 0;

	while (!cur_eof(&c)) {
		struct proc_map map;

		r = parse_maps_line(&c, &map);
		if (r < 0)
			break;
		/* procfs_maps_find relies on sorted, disjoint entries. */
		if (maps.n && map.start < maps.maps[maps.n - 1].end)
			r = -EINVAL;
		if (r == 0)
			r = maps_append(&maps, &cap, &map);
		if (r < 0) {
			free(map.path);
			break;
		}
		cur_take(&c, '\n');
	}
	if (r < 0) {
		procfs_maps_release(&maps);
		return r;
	}
	*ret_maps = maps;
	return 0;
}

/* Reads a whole file of unknown size; maps of big processes run to MiBs. */
static ssize_t read_whole_fd(int fd, char **ret_buf)
{
	size_t cap = 64 * 1024, len = 0;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *grown = realloc(buf, cap * 2);

			if (!grown) {
				free(buf);
				return -ENOMEM;
			}
			buf = grown;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;

			free(buf);
			return -err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*ret_buf = buf;
	return (ssize_t)len;
}

int procfs_read_maps(pid_t pid, struct proc_maps *ret_maps)
{
	char path[64];
	char *buf = NULL;
	ssize_t len;
	int fd, r;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	len = read_whole_fd(fd, &buf);
	close(fd);
	if (len < 0)
		return (int)len;
	r = procfs_parse_maps(buf, (size_t)len, ret_maps);
	free(buf);
	return r;
}

void procfs_maps_release(struct proc_maps *maps)
{
	if (!maps)
		return;
	for (size_t i = 0; i < maps->n; i++)
		free(maps->maps[i].path);
	free(maps->maps);
	maps->maps = NULL;
	maps->n = 0;
}

const struct proc_map *procfs_maps_find(const struct proc_maps *maps,
					uint64_t addr)
{
	size_t lo = 0, hi;

	if (!maps)
		return NULL;
	hi = maps->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct proc_map *map = &maps->maps[mid];

		if (addr < map->start)
			hi = mid;
		else if (addr >= map->end)
			lo = mid + 1;
		else
			return map;
	}
	return NULL;
}

/* ---- stat ---- */

/* Skips n blank-separated fields that may be negative. */
static int skip_signed_fields(struct cursor *c, int n)
{
	int64_t ignored;

	for (int i = 0; i < n; i++) {
		if (cur_blanks(c) < 0 || cur_i64(c, &ignored) < 0)
			return -EINVAL;
	}
	return 0;
}

/* A longer name than the kernel's is garbage: cut, never overrun. */
static void copy_comm(char *dst, const char *src, size_t len)
{
	if (len >= PROC_COMM_MAX)
		len = PROC_COMM_MAX - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* Skips n blank-separated numeric fields of any size (rsslim is printed
 * as an unsigned 64-bit value no signed parser takes). */
static int skip_numbers(struct cursor *c, int n)
{
	for (int i = 0; i < n; i++) {
		if (cur_blanks(c) < 0 || cur_eof(c))
			return -EINVAL;
		if (*c->p == '-')
			c->p++;
		if (cur_eof(c) || *c->p < '0' || *c->p > '9')
			return -EINVAL;
		while (!cur_eof(c) && *c->p >= '0' && *c->p <= '9')
			c->p++;
	}
	return 0;
}

/* Field 39, after the 23 that follow stime; -1 when it is missing or
 * malformed, as on kernels that print fewer fields. */
static int stat_processor(struct cursor *c)
{
	int64_t cpu;

	if (skip_numbers(c, 23) < 0 || cur_blanks(c) < 0 ||
	    cur_i64(c, &cpu) < 0 || cpu < 0 || cpu > INT32_MAX)
		return -1;
	return (int)cpu;
}

int procfs_parse_stat(const char *buf, size_t len, struct proc_stat *ret)
{
	struct cursor c = {buf, buf + len};
	struct proc_stat st = {0};
	const char *close_paren = NULL;
	pid_t pid;
	uint64_t flags;

	if (cur_pid(&c, &pid) < 0 || pid < 0 || !cur_take(&c, ' ') ||
	    !cur_take(&c, '('))
		return -EINVAL;
	/* comm may hold spaces and ')': only the last ')' closes it. */
	for (const char *p = c.p; p < c.end; p++) {
		if (*p == ')')
			close_paren = p;
	}
	if (!close_paren)
		return -EINVAL;
	copy_comm(st.comm, c.p, (size_t)(close_paren - c.p));
	c.p = close_paren + 1;
	if (!cur_take(&c, ' ') || cur_eof(&c))
		return -EINVAL;
	st.state = *c.p++;
	if (!((st.state >= 'A' && st.state <= 'Z') ||
	      (st.state >= 'a' && st.state <= 'z')))
		return -EINVAL;
	/* ppid, then pgrp session tty_nr tpgid (tpgid is -1 without a tty) */
	if (cur_blanks(&c) < 0 || cur_pid(&c, &st.ppid) < 0 ||
	    skip_signed_fields(&c, 4) < 0)
		return -EINVAL;
	/* flags, then minflt cminflt majflt cmajflt, then utime stime */
	if (cur_blanks(&c) < 0 || cur_u64(&c, 10, &flags) < 0 ||
	    flags > ULONG_MAX || skip_signed_fields(&c, 4) < 0 ||
	    cur_blanks(&c) < 0 || cur_u64(&c, 10, &st.utime_ticks) < 0 ||
	    cur_blanks(&c) < 0 || cur_u64(&c, 10, &st.stime_ticks) < 0)
		return -EINVAL;
	if (!cur_eof(&c) && *c.p != ' ' && *c.p != '\n')
		return -EINVAL;
	st.flags = (unsigned long)flags;
	st.processor = stat_processor(&c);
	*ret = st;
	return 0;
}

/* ---- status ---- */

enum status_field {
	STATUS_TGID = 1 << 0,
	STATUS_TRACER = 1 << 1,
	STATUS_UID = 1 << 2,
	STATUS_THREADS = 1 << 3,
	STATUS_REQUIRED = (1 << 4) - 1,
};

static int parse_uid(struct cursor *c, uid_t *ret)
{
	uint64_t v;

	if (cur_blanks(c) < 0 || cur_u64(c, 10, &v) < 0 || v > UINT32_MAX)
		return -EINVAL;
	*ret = (uid_t)v;
	return 0;
}

static bool key_is(const char *key, size_t key_len, const char *want)
{
	return strlen(want) == key_len && memcmp(key, want, key_len) == 0;
}

/* Parses the value of one line whose key cprof wants; others are skipped. */
static int parse_status_value(const char *key, size_t key_len, struct cursor *c,
			      struct proc_status *st, unsigned *seen)
{
	uint64_t v;

	if (key_is(key, key_len, "Tgid")) {
		*seen |= STATUS_TGID;
		return cur_blanks(c) < 0 ? -EINVAL : cur_pid(c, &st->tgid);
	}
	if (key_is(key, key_len, "TracerPid")) {
		*seen |= STATUS_TRACER;
		return cur_blanks(c) < 0 ? -EINVAL
					 : cur_pid(c, &st->tracer_pid);
	}
	if (key_is(key, key_len, "Uid")) {
		*seen |= STATUS_UID;
		if (parse_uid(c, &st->uid_real) < 0)
			return -EINVAL;
		return parse_uid(c, &st->uid_effective);
	}
	if (key_is(key, key_len, "Threads")) {
		*seen |= STATUS_THREADS;
		if (cur_blanks(c) < 0 || cur_u64(c, 10, &v) < 0 ||
		    v > UINT32_MAX)
			return -EINVAL;
		st->threads = (unsigned)v;
		return 0;
	}
	if (key_is(key, key_len, "CapEff"))
		return cur_blanks(c) < 0 ? -EINVAL
					 : cur_u64(c, 16, &st->cap_effective);
	return 0;
}

int procfs_parse_status(const char *buf, size_t len, struct proc_status *ret)
{
	struct cursor c = {buf, buf + len};
	struct proc_status st = {0};
	unsigned seen = 0;

	while (!cur_eof(&c)) {
		const char *line_end = memchr(c.p, '\n', (size_t)(c.end - c.p));
		const char *colon;
		struct cursor value;

		if (!line_end)
			line_end = c.end;
		colon = memchr(c.p, ':', (size_t)(line_end - c.p));
		if (!colon)
			return -EINVAL;
		value = (struct cursor){colon + 1, line_end};
		if (parse_status_value(c.p, (size_t)(colon - c.p), &value, &st,
				       &seen) < 0)
			return -EINVAL;
		c.p = line_end;
		cur_take(&c, '\n');
	}
	if ((seen & STATUS_REQUIRED) != STATUS_REQUIRED)
		return -EINVAL;
	*ret = st;
	return 0;
}

/* ---- syscall, schedstat ---- */

int procfs_parse_syscall(const char *buf, size_t len, struct proc_syscall *ret)
{
	static const char running[] = "running";
	struct cursor c = {buf, buf + len};
	struct proc_syscall sc = {0};
	int64_t nr;
	uint64_t arg;

	if (len >= sizeof(running) - 1 &&
	    memcmp(buf, running, sizeof(running) - 1) == 0) {
		c.p += sizeof(running) - 1;
		if (cur_end_of_file(&c) < 0)
			return -EINVAL;
		sc.running = true;
		sc.nr = -1;
		*ret = sc;
		return 0;
	}
	if (cur_i64(&c, &nr) < 0 || nr < -1 || nr > LONG_MAX)
		return -EINVAL;
	/* Six arguments follow a system call number, none follow -1. */
	for (int i = 0; nr >= 0 && i < 6; i++) {
		if (cur_blanks(&c) < 0 || cur_hex(&c, &arg) < 0)
			return -EINVAL;
	}
	if (cur_blanks(&c) < 0 || cur_hex(&c, &sc.sp) < 0 ||
	    cur_blanks(&c) < 0 || cur_hex(&c, &sc.pc) < 0 ||
	    cur_end_of_file(&c) < 0)
		return -EINVAL;
	sc.nr = (long)nr;
	*ret = sc;
	return 0;
}

int procfs_parse_schedstat(const char *buf, size_t len,
			   struct proc_schedstat *ret)
{
	struct cursor c = {buf, buf + len};
	struct proc_schedstat ss;

	if (cur_u64(&c, 10, &ss.cpu_ns) < 0 || cur_blanks(&c) < 0 ||
	    cur_u64(&c, 10, &ss.wait_ns) < 0 || cur_blanks(&c) < 0 ||
	    cur_u64(&c, 10, &ss.run_count) < 0 || cur_end_of_file(&c) < 0)
		return -EINVAL;
	*ret = ss;
	return 0;
}

/* ---- files, names ---- */

ssize_t procfs_read_file(int dirfd, const char *path, char *buf, size_t size)
{
	size_t len = 0;
	int fd, err = 0;

	if (!buf || size == 0)
		return -EINVAL;
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < size - 1) {
		ssize_t n = read(fd, buf + len, size - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (err == 0 && len == size - 1) {
		char extra;

		if (read(fd, &extra, 1) > 0)
			err = -EFBIG;
	}
	close(fd);
	if (err < 0)
		return err;
	buf[len] = '\0';
	return (ssize_t)len;
}

const char *procfs_state_name(char state)
{
	switch (state) {
	case 'R':
		return "running";
	case 'S':
		return "sleeping";
	case 'D':
		return "disk";
	case 'T':
		return "stopped";
	case 't':
		return "traced";
	case 'Z':
		return "zombie";
	case 'X':
		return "dead";
	case 'I':
		return "idle";
	case 'P':
		return "parked";
	case 'W':
		return "waking";
	default:
		return "unknown";
	}
}

const char *procfs_syscall_name(long nr)
{
	if (nr < 0 || (unsigned long)nr >= ARRAY_SIZE(syscall_names))
		return NULL;
	return syscall_names[nr];
}

int procfs_read_stat(pid_t pid, struct proc_stat *ret)
{
	char path[64], buf[1024];
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	len = procfs_read_file(AT_FDCWD, path, buf, sizeof(buf));
	if (len < 0)
		return (int)len;
	return procfs_parse_stat(buf, (size_t)len, ret);
}
