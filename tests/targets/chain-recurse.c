/* recurse: RECURSE_DEPTH frames of recurse(), then nanosleep. */
#include "chains.h"
#include "target.h"

#include <sys/syscall.h>
#include <time.h>

SPACER(recurse_spacer0)

NOIPA void recurse_bottom(void);
NOIPA void recurse_bottom(void)
{
	const struct timespec ts = {1000000, 0};

	for (;;) {
		nanosleep(&ts, NULL);
		KEEP_FRAME();
	}
}

SPACER(recurse_spacer1)

NOIPA void recurse(int n);
NOIPA void recurse(int n)
{
	if (n > 1)
		recurse(n - 1);
	else
		recurse_bottom();
	KEEP_FRAME();
}

SPACER(recurse_spacer2)

void *recurse_main(void *arg)
{
	target_announce("recurse", SYS_clock_nanosleep);
	recurse(RECURSE_DEPTH);
	KEEP_FRAME();
	return arg;
}
