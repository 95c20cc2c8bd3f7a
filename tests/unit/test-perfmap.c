/* SPDX-License-Identifier: MIT */
/*
 * symbolize/perfmap: this process's own perf map, /tmp/perf-PID.map, read
 * through /proc/PID/root/tmp as for a target.  Names are found in their
 * ranges only; lines appended later are found once looked for; a later
 * line wins where two overlap; garbage lines are skipped; a map that
 * shrank is read again from its start.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbolize/perfmap.h"

static int failures;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);   \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			failures++;                                            \
		}                                                              \
	} while (0)

static char path[64];

static void write_map(const char *mode, const char *text)
{
	FILE *f = fopen(path, mode);

	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(99);
	}
}

/* The name perfmap gives addr, "" for none; start checked when named. */
static const char *name_at(struct perfmap *map, uint64_t addr,
			   uint64_t want_start)
{
	uint64_t start = 0;
	const char *name = perfmap_lookup(map, addr, &start);

	if (!name)
		return "";
	CHECK(start == want_start, "%#llx: start %#llx, expected %#llx",
	      (unsigned long long)addr, (unsigned long long)start,
	      (unsigned long long)want_start);
	return name;
}

#define EXPECT(map, addr, start, want)                                         \
	do {                                                                   \
		const char *got_ = name_at(map, addr, start);                  \
		CHECK(!strcmp(got_, want), "%#llx: '%s', expected '%s'",       \
		      (unsigned long long)(addr), got_, want);                 \
	} while (0)

int main(void)
{
	struct perfmap *map;

	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
	map = perfmap_new(getpid());
	if (!map)
		return 99;
	EXPECT(map, 0x1000, 0, ""); /* no map yet */

	write_map("w", "1000 100 JS:*hot /app/x.js:1:13\n"
		       "0x2000 0x10 LazyCompile:~cold x.js:9\n"
		       "garbage\n"
		       "3000 0 empty\n"
		       "zz 10 bad start\n"
		       "4000 20 name with  spaces\r\n"
		       "5000 10 half-writ");
	EXPECT(map, 0x1000, 0x1000, "JS:*hot /app/x.js:1:13");
	EXPECT(map, 0x10ff, 0x1000, "JS:*hot /app/x.js:1:13");
	EXPECT(map, 0x1100, 0, "");
	EXPECT(map, 0x2008, 0x2000, "LazyCompile:~cold x.js:9");
	EXPECT(map, 0x3000, 0, "");
	EXPECT(map, 0x4010, 0x4000, "name with  spaces");
	EXPECT(map, 0x5000, 0, ""); /* its line is not whole yet */

	/* The JIT goes on: the half-written line ends, code is reused. */
	write_map("a", "ten\n"
		       "1080 40 JS:*reused /app/x.js:7:1\n");
	EXPECT(map, 0x5008, 0x5000, "half-written");
	EXPECT(map, 0x1090, 0x1080, "JS:*reused /app/x.js:7:1");
	EXPECT(map, 0x1010, 0x1000, "JS:*hot /app/x.js:1:13");

	/* A new map under the same name, shorter: read from the start. */
	write_map("w", "9000 8 fresh\n");
	EXPECT(map, 0x9004, 0x9000, "fresh");
	EXPECT(map, 0x1010, 0, "");

	perfmap_free(map);
	unlink(path);
	if (failures)
		fprintf(stderr, "%d failures\n", failures);
	return failures ? 1 : 0;
}
