/*
 * A shared library linked by lld with a second executable segment: the
 * functions marked FAR go to .text.far, which lld-far.lds places after
 * .bss in a segment of its own.  The big .bss leaves anonymous memory
 * between the data segment and that code, and lld gives every segment a
 * p_vaddr other than its p_offset: the layout of rustc's libLLVM.
 *
 * The "line:" comments name the lines the tests expect a frame at.
 */
#include "lld-lib.h"
#include "target.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define FAR __attribute__((section(".text.far")))

/* Filled so it cannot be merged away: 1 MiB of .bss. */
char lib_scratch[1 << 20];

SPACER(lib_spacer0)

NOIPA void lib_near_inner(void);
NOIPA void lib_near_inner(void)
{
	struct timespec ts = {.tv_sec = 1000};

	for (;;) {
		nanosleep(&ts, NULL); /* line: lib_near_inner */
		KEEP_FRAME();
	}
}

SPACER(lib_spacer1)

NOIPA void lib_near_outer(void)
{
	lib_near_inner(); /* line: lib_near_outer */
	KEEP_FRAME();
}

FAR SPACER(lib_far_spacer0)

FAR NOIPA void lib_far_inner(int fd);
FAR NOIPA void lib_far_inner(int fd)
{
	for (;;) {
		if (read(fd, lib_scratch, 1) == 0) /* line: lib_far_inner */
			abort();
		KEEP_FRAME();
	}
}

FAR SPACER(lib_far_spacer1)

FAR NOIPA void lib_far_outer(int fd)
{
	lib_far_inner(fd); /* line: lib_far_outer */
	KEEP_FRAME();
}

FAR SPACER(lib_far_spacer2)

FAR NOIPA void lib_far_work(void);
FAR NOIPA void lib_far_work(void)
{
	target_count_work();
	KEEP_FRAME();
}

FAR NOIPA void lib_far_spin(void)
{
	for (;;) {
		lib_far_work();
		KEEP_FRAME();
	}
}
