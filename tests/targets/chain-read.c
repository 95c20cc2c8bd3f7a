/* read: blocked in read on a pipe nobody writes. */
#include "chains.h"
#include "target.h"

#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

SPACER(read_spacer0)

NOIPA void read_inner(int fd);
NOIPA void read_inner(int fd)
{
	char c;

	for (;;) {
		if (read(fd, &c, 1) == 0)
			abort();
		KEEP_FRAME();
	}
}

SPACER(read_spacer1)

NOIPA void read_outer(int fd);
NOIPA void read_outer(int fd)
{
	read_inner(fd);
	KEEP_FRAME();
}

SPACER(read_spacer2)

void *read_main(void *arg)
{
	int fds[2];

	if (pipe(fds) < 0)
		abort();
	target_announce("read", SYS_read);
	read_outer(fds[0]);
	KEEP_FRAME();
	return arg;
}
