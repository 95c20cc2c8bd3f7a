/*
 * A position-dependent executable, stripped of its symbols by the build
 * (nopie-stripped): its frames have no name, and cprof shows them as
 * "nopie-stripped+0xADDR" with the ELF address, the one addr2line and
 * eu-stack take, in the name and in the offset alike.
 *
 *   nopie-stripped  nopie_park <- nopie_outer <- main    pause
 */
#include "target.h"

#include <unistd.h>

SPACER(nopie_spacer0)

NOIPA NORETURN void nopie_park(void);
NOIPA NORETURN void nopie_park(void)
{
	for (;;) {
		pause();
		KEEP_FRAME();
	}
}

SPACER(nopie_spacer1)

NOIPA NORETURN void nopie_outer(void);
NOIPA NORETURN void nopie_outer(void)
{
	nopie_park();
}

int main(void)
{
	target_ready();
	nopie_outer();
}
