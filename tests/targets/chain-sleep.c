/* sleep: blocked in nanosleep.  sleep_inner never returns, so the call to
 * it is the last instruction of sleep_outer and its return address is the
 * first byte after sleep_outer: only a pc-1 lookup names sleep_outer. */
#include "chains.h"
#include "target.h"

#include <sys/syscall.h>
#include <time.h>

SPACER(sleep_spacer0)

NOIPA NORETURN void sleep_inner(void);
NOIPA NORETURN void sleep_inner(void)
{
	const struct timespec ts = {1000000, 0};

	for (;;) {
		nanosleep(&ts, NULL);
		KEEP_FRAME();
	}
}

SPACER(sleep_spacer1)

NOIPA NORETURN void sleep_outer(void);
NOIPA NORETURN void sleep_outer(void)
{
	sleep_inner();
}

SPACER(sleep_spacer2)

void *sleep_main(void *arg)
{
	target_announce("sleep", SYS_clock_nanosleep);
	sleep_outer();
}
