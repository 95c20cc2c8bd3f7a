/* sigwait: blocked in sigwait for SIGUSR2, which every thread blocks and
 * nobody sends. */
#include "chains.h"
#include "target.h"

#include <signal.h>
#include <sys/syscall.h>

SPACER(sigwait_spacer0)

NOIPA void sigwait_inner(void);
NOIPA void sigwait_inner(void)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	for (;;) {
		sigwait(&set, &sig);
		KEEP_FRAME();
	}
}

SPACER(sigwait_spacer1)

NOIPA void sigwait_outer(void);
NOIPA void sigwait_outer(void)
{
	sigwait_inner();
	KEEP_FRAME();
}

SPACER(sigwait_spacer2)

void *sigwait_main(void *arg)
{
	target_announce("sigwait", SYS_rt_sigtimedwait);
	sigwait_outer();
	KEEP_FRAME();
	return arg;
}
