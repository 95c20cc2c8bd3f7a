/* The library the hostile target loads with dlopen, in copies whose
 * sections the tests corrupt: a thread parks in pause() under two named
 * frames of it. */
#include "target.h"

#include <unistd.h>

SPACER(hostile_lib_spacer0)

NOIPA NORETURN void hostile_lib_inner(void);
NOIPA NORETURN void hostile_lib_inner(void)
{
	for (;;) {
		pause();
		KEEP_FRAME();
	}
}

SPACER(hostile_lib_spacer1)

NOIPA NORETURN void hostile_lib_outer(void);
NOIPA NORETURN void hostile_lib_outer(void)
{
	hostile_lib_inner();
}

SPACER(hostile_lib_spacer2)

NORETURN void hostile_lib_park(void);
NORETURN void hostile_lib_park(void)
{
	hostile_lib_outer();
}
