/* sighandler: waits in pause(); main then sends it SIGUSR1, whose handler
 * blocks in read on a pipe nobody writes.  The stack goes through the
 * signal trampoline (__restore_rt) back into pause. */
#include "chains.h"
#include "target.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int signal_slot = -1;
static int signal_pipe[2];

SPACER(signal_spacer0)

NOIPA void signal_handler_park(void);
NOIPA void signal_handler_park(void)
{
	char c;

	for (;;) {
		if (read(signal_pipe[0], &c, 1) == 0)
			abort();
		KEEP_FRAME();
	}
}

SPACER(signal_spacer1)

NOIPA void signal_handler(int sig);
NOIPA void signal_handler(int sig)
{
	signal_handler_park();
	KEEP_FRAME();
}

SPACER(signal_spacer2)

NOIPA void signal_victim(void);
NOIPA void signal_victim(void)
{
	for (;;) {
		pause();
		KEEP_FRAME();
	}
}

SPACER(signal_spacer3)

void *signal_main(void *arg)
{
	struct sigaction sa;

	if (pipe(signal_pipe) < 0)
		abort();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = signal_handler;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		abort();
	signal_slot = target_announce("sighandler", SYS_pause);
	signal_victim();
	KEEP_FRAME();
	return arg;
}
