/* dlopen: calls into a library loaded with dlopen, which blocks in
 * nanosleep two frames deep. */
#include "chains.h"
#include "target.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>

const char *dlopen_path;

SPACER(dlopen_spacer0)

void *dlopen_main(void *arg)
{
	void (*outer)(void);
	void *h;

	h = dlopen(dlopen_path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "target: %s\n", dlerror());
		exit(99);
	}
	*(void **)&outer = dlsym(h, "dl_outer");
	if (!outer) {
		fprintf(stderr, "target: %s\n", dlerror());
		exit(99);
	}
	target_announce("dlopen", SYS_clock_nanosleep);
	outer();
	KEEP_FRAME();
	return arg;
}

SPACER(dlopen_spacer1)
