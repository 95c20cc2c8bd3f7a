/* state-file.h: the shared page a bench target counts its work in, made
 * and mapped at PATH: word 0 the target's magic, word 1 its count of
 * workers.  Shared by spin.c and tree.c, which each build alone. */
#ifndef CPROF_BENCH_STATE_FILE_H
#define CPROF_BENCH_STATE_FILE_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Exits 2, naming prog, when the file cannot be made or mapped. */
static void *map_state_file(const char *prog, const char *path, size_t size,
			    uint64_t magic, uint64_t workers)
{
	void *p;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		fprintf(stderr, "%s: cannot create '%s': %s\n", prog, path,
			strerror(errno));
		exit(2);
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		fprintf(stderr, "%s: mmap: %s\n", prog, strerror(errno));
		exit(2);
	}
	((uint64_t *)p)[1] = workers;
	((uint64_t *)p)[0] = magic;
	return p;
}

#endif
