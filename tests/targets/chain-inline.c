/* inline: inline_outer blocks in nanosleep through two always_inline
 * functions, inline_mid and inline_leaf, which must show as frames of
 * their own. */
#include "chains.h"
#include "target.h"

#include <sys/syscall.h>
#include <time.h>

static inline __attribute__((always_inline)) void inline_leaf(long secs)
{
	const struct timespec ts = {secs, 0};

	nanosleep(&ts, NULL);
	KEEP_FRAME();
}

static inline __attribute__((always_inline)) void inline_mid(long secs)
{
	for (;;) {
		inline_leaf(secs);
		KEEP_FRAME();
	}
}

SPACER(inline_spacer0)

NOIPA void inline_outer(long secs);
NOIPA void inline_outer(long secs)
{
	inline_mid(secs);
	KEEP_FRAME();
}

SPACER(inline_spacer1)

void *inline_main(void *arg)
{
	target_announce("inline", SYS_clock_nanosleep);
	inline_outer(1000000);
	KEEP_FRAME();
	return arg;
}
