/* busy: spins, counting, with a clock_gettime call per turn.  The CPU-time
 * clock is not served by the vDSO's fast path: the vDSO itself makes the
 * system call, so a stop usually finds the thread with its leaf in the
 * vDSO. */
#include "chains.h"
#include "target.h"

#include <time.h>

SPACER(busy_spacer0)

NOIPA void busy_spin(void);
NOIPA void busy_spin(void)
{
	struct timespec ts;

	for (;;) {
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
		__atomic_fetch_add(target_counter, 1, __ATOMIC_RELAXED);
	}
}

SPACER(busy_spacer1)

NOIPA void busy_outer(void);
NOIPA void busy_outer(void)
{
	busy_spin();
	KEEP_FRAME();
}

SPACER(busy_spacer2)

void *busy_main(void *arg)
{
	target_announce("busy", PARK_RUNNING);
	busy_outer();
	KEEP_FRAME();
	return arg;
}
