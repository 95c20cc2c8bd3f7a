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
