/* libFuzzer harness for the /proc parsers of attach/procfs.c, which read
 * bytes the target controls (a thread names itself; a mapped file's path is
 * chosen by whoever created it).  Built once per parser with
 * -DFUZZ_PARSER=maps|stat|status|syscall|schedstat by run.sh.
 *
 * Beyond "no crash, no sanitizer report", each harness checks what the
 * callers rely on when a parse succeeds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attach/procfs.h"

#define FUZZ_maps      1
#define FUZZ_stat      2
#define FUZZ_status    3
#define FUZZ_syscall   4
#define FUZZ_schedstat 5
#define FUZZ_ID_(x)    FUZZ_##x
#define FUZZ_ID(x)     FUZZ_ID_(x)

#if !defined(FUZZ_PARSER)
#error "define FUZZ_PARSER"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

#if FUZZ_ID(FUZZ_PARSER) == FUZZ_maps
static void fuzz(const char *buf, size_t len)
{
	struct proc_maps maps = {0};

	if (procfs_parse_maps(buf, len, &maps) < 0) {
		check(maps.maps == NULL && maps.n == 0);
		return;
	}
	for (size_t i = 0; i < maps.n; i++) {
		const struct proc_map *m = &maps.maps[i];

		/* Sorted and disjoint: procfs_maps_find bisects. */
		check(m->start < m->end && m->path != NULL);
		check(!strchr(m->path, '\n'));
		check(i == 0 || maps.maps[i - 1].end <= m->start);
		check(procfs_maps_find(&maps, m->start) == m);
		check(procfs_maps_find(&maps, m->end - 1) == m);
		if (i == 0 || maps.maps[i - 1].end < m->start)
			check(!procfs_maps_find(&maps, m->start - 1) ||
			      m->start == 0);
	}
	procfs_maps_release(&maps);
}
#elif FUZZ_ID(FUZZ_PARSER) == FUZZ_stat
static void fuzz(const char *buf, size_t len)
{
	struct proc_stat st;

	memset(&st, 0xa5, sizeof(st));
	if (procfs_parse_stat(buf, len, &st) < 0)
		return;
	check((st.state >= 'A' && st.state <= 'Z') ||
	      (st.state >= 'a' && st.state <= 'z'));
	check(procfs_state_name(st.state) != NULL);
}
#elif FUZZ_ID(FUZZ_PARSER) == FUZZ_status
static void fuzz(const char *buf, size_t len)
{
	struct proc_status st;

	if (procfs_parse_status(buf, len, &st) < 0)
		return;
	/* Every required key was there. */
	check(memmem(buf, len, "Tgid:", 5) && memmem(buf, len, "Uid:", 4) &&
	      memmem(buf, len, "TracerPid:", 10) &&
	      memmem(buf, len, "Threads:", 8));
}
#elif FUZZ_ID(FUZZ_PARSER) == FUZZ_syscall
static void fuzz(const char *buf, size_t len)
{
	struct proc_syscall sc;
	const char *name;

	if (procfs_parse_syscall(buf, len, &sc) < 0)
		return;
	check(sc.nr >= -1);
	check(!sc.running || sc.nr == -1);
	name = procfs_syscall_name(sc.nr);
	check(!name || strlen(name) < 64);
}
#elif FUZZ_ID(FUZZ_PARSER) == FUZZ_schedstat
static void fuzz(const char *buf, size_t len)
{
	struct proc_schedstat ss;

	(void)procfs_parse_schedstat(buf, len, &ss);
}
#else
#error "unknown FUZZ_PARSER"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy: reading one byte past it is an ASan report,
	 * and the parsers must not need a NUL terminator. */
	char *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	fuzz(buf, size);
	free(buf);
	/* procfs_syscall_name and procfs_state_name take any value. */
	if (size >= sizeof(long)) {
		long nr;

		memcpy(&nr, data, sizeof(nr));
		(void)procfs_syscall_name(nr);
		(void)procfs_state_name((char)data[0]);
	}
	return 0;
}
