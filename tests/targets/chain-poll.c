/* poll: blocked in poll on a pipe nobody writes. */
#include "chains.h"
#include "target.h"

#include <poll.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

SPACER(poll_spacer0)

NOIPA void poll_inner(int fd);
NOIPA void poll_inner(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	for (;;) {
		poll(&pfd, 1, -1);
		KEEP_FRAME();
	}
}

SPACER(poll_spacer1)

NOIPA void poll_outer(int fd);
NOIPA void poll_outer(int fd)
{
	poll_inner(fd);
	KEEP_FRAME();
}

SPACER(poll_spacer2)

void *poll_main(void *arg)
{
	int fds[2];

	if (pipe(fds) < 0)
		abort();
	target_announce("poll", SYS_poll);
	poll_outer(fds[0]);
	KEEP_FRAME();
	return arg;
}
