/* The library the parked target loads with dlopen. */
#include "target.h"

#include <time.h>

SPACER(dl_spacer0)

NOIPA void dl_inner(void);
NOIPA void dl_inner(void)
{
	const struct timespec ts = {1000000, 0};

	for (;;) {
		nanosleep(&ts, NULL);
		KEEP_FRAME();
	}
}

SPACER(dl_spacer1)

NOIPA void dl_outer(void);
NOIPA void dl_outer(void)
{
	dl_inner();
	KEEP_FRAME();
}

SPACER(dl_spacer2)

/* Spins for 200 ms of its thread's CPU time: CPU samples in a library
 * loaded while the record runs. */
NOIPA void dl_spin(void);
NOIPA void dl_spin(void)
{
	struct timespec ts;

	do {
		KEEP_FRAME();
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	} while (ts.tv_sec == 0 && ts.tv_nsec < 200000000);
}

SPACER(dl_spacer3)
