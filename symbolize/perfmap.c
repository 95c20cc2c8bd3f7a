/* SPDX-License-Identifier: MIT */
/*
 * The target's perf map, read incrementally: only the complete lines
 * appended since the last read are parsed, and a map that shrank (a new
 * process under the same pid, a truncated file) is read again from the
 * start.  The file is the target's to write, so it is bounded: lines are
 * parsed defensively and at most MAX_MAP_BYTES of it are ever read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbolize/perfmap.h"

#define MAX_MAP_BYTES (256ull << 20)
#define READ_CHUNK    (1u << 20)
/* How far back a lookup looks for a later piece covering addr. */
#define OVERLAP_SCAN 64

struct perfmap_entry {
	uint64_t start, end;
	uint64_t seq; /* line number: a later line wins an overlap */
	char *name;
};

struct perfmap {
	pid_t pid;
	char path[64];
	struct perfmap_entry *entries; /* sorted by (start, seq) */
	size_t n, cap;
	uint64_t consumed; /* bytes of the file parsed, whole lines */
	uint64_t lines;
};

/* The target's pid in its own pid namespace: the last of NSpid. */
static pid_t ns_pid(pid_t pid)
{
	char path[64], line[256];
	pid_t nspid = pid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return pid;
	while (fgets(line, sizeof(line), f)) {
		char *p, *end;
		long value;

		if (strncmp(line, "NSpid:", 6) != 0)
			continue;
		for (p = line + 6; *p; p = end) {
			value = strtol(p, &end, 10);
			if (end == p)
				break;
			if (value > 0)
				nspid = (pid_t)value;
		}
		break;
	}
	fclose(f);
	return nspid;
}

struct perfmap *perfmap_new(pid_t pid)
{
	struct perfmap *map = calloc(1, sizeof(*map));

	if (map)
		map->pid = pid;
	return map;
}

static void forget_entries(struct perfmap *map)
{
	for (size_t i = 0; i < map->n; i++)
		free(map->entries[i].name);
	map->n = 0;
	map->consumed = 0;
	map->lines = 0;
}

void perfmap_free(struct perfmap *map)
{
	if (!map)
		return;
	forget_entries(map);
	free(map->entries);
	free(map);
}

static int add_entry(struct perfmap *map, uint64_t start, uint64_t size,
		     const char *name, size_t len)
{
	struct perfmap_entry *e;

	if (map->n == map->cap) {
		size_t cap = map->cap ? 2 * map->cap : 256;

		e = reallocarray(map->entries, cap, sizeof(*e));
		if (!e)
			return -ENOMEM;
		map->entries = e;
		map->cap = cap;
	}
	e = &map->entries[map->n];
	e->name = strndup(name, len);
	if (!e->name)
		return -ENOMEM;
	e->start = start;
	e->end = start + size < start ? UINT64_MAX : start + size;
	e->seq = map->lines;
	map->n++;
	return 0;
}

/* One line, without its newline: "START SIZE name", hexadecimal numbers
 * with or without 0x.  Anything else is skipped. */
static int parse_line(struct perfmap *map, const char *line, size_t len)
{
	size_t head = len < 47 ? len : 47;
	char buf[48], *end;
	const char *name;
	uint64_t start, size;

	map->lines++;
	/* Two numbers, then the name after one space. */
	memcpy(buf, line, head);
	buf[head] = '\0';
	errno = 0;
	start = strtoull(buf, &end, 16);
	if (errno || end == buf || *end != ' ')
		return 0;
	size = strtoull(end + 1, &end, 16);
	if (errno || *end != ' ' || size == 0)
		return 0;
	name = line + (end + 1 - buf);
	len -= (size_t)(name - line);
	while (len && (name[len - 1] == '\r' || name[len - 1] == ' '))
		len--;
	return len ? add_entry(map, start, size, name, len) : 0;
}

static int compare_entries(const void *a, const void *b)
{
	const struct perfmap_entry *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Parses the whole lines of buf[0..len); returns the bytes used. */
static size_t parse_lines(struct perfmap *map, const char *buf, size_t len)
{
	size_t used = 0;

	while (used < len) {
		const char *nl = memchr(buf + used, '\n', len - used);

		if (!nl)
			break;
		if (parse_line(map, buf + used, (size_t)(nl - buf - used)) < 0)
			break;
		used = (size_t)(nl - buf) + 1;
	}
	return used;
}

/* Reads what the map gained; 1 when it gained whole lines. */
static int refresh(struct perfmap *map)
{
	size_t before = map->n;
	struct stat st;
	char *buf;
	int fd;

	if (!map->path[0])
		snprintf(map->path, sizeof(map->path),
			 "/proc/%d/root/tmp/perf-%d.map", (int)map->pid,
			 (int)ns_pid(map->pid));
	fd = open(map->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	if ((uint64_t)st.st_size < map->consumed)
		forget_entries(map);
	buf = malloc(READ_CHUNK);
	while (buf && map->consumed < (uint64_t)st.st_size &&
	       map->consumed < MAX_MAP_BYTES) {
		ssize_t got = pread(fd, buf, READ_CHUNK, (off_t)map->consumed);
		size_t used;

		if (got <= 0)
			break;
		used = parse_lines(map, buf, (size_t)got);
		if (used == 0) {
			/* A line longer than a chunk, or one half written:
			 * skip a long one, wait for the rest of a short one. */
			if ((size_t)got < READ_CHUNK)
				break;
			used = (size_t)got;
		}
		map->consumed += used;
	}
	free(buf);
	close(fd);
	if (map->n == before)
		return 0;
	qsort(map->entries, map->n, sizeof(*map->entries), compare_entries);
	return 1;
}

static const struct perfmap_entry *find(const struct perfmap *map,
					uint64_t addr)
{
	const struct perfmap_entry *best = NULL;
	size_t lo = 0, hi = map->n;

	/* The first entry that starts after addr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (map->entries[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo, k = 0; i > 0 && k < OVERLAP_SCAN; i--, k++) {
		const struct perfmap_entry *e = &map->entries[i - 1];

		if (addr < e->end && (!best || e->seq > best->seq))
			best = e;
	}
	return best;
}

const char *perfmap_lookup(struct perfmap *map, uint64_t addr,
			   uint64_t *ret_start)
{
	const struct perfmap_entry *e = find(map, addr);

	if (!e && refresh(map) > 0)
		e = find(map, addr);
	if (!e)
		return NULL;
	*ret_start = e->start;
	return e->name;
}
