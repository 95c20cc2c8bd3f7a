/* epoll: blocked in epoll_wait on a pipe nobody writes. */
#include "chains.h"
#include "target.h"

#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

SPACER(epoll_spacer0)

NOIPA void epoll_inner(int epfd);
NOIPA void epoll_inner(int epfd)
{
	struct epoll_event ev;

	for (;;) {
		epoll_wait(epfd, &ev, 1, -1);
		KEEP_FRAME();
	}
}

SPACER(epoll_spacer1)

NOIPA void epoll_outer(int epfd);
NOIPA void epoll_outer(int epfd)
{
	epoll_inner(epfd);
	KEEP_FRAME();
}

SPACER(epoll_spacer2)

void *epoll_main(void *arg)
{
	struct epoll_event ev = {.events = EPOLLIN};
	int fds[2], epfd;

	if (pipe(fds) < 0 || (epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		abort();
	ev.data.fd = fds[0];
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fds[0], &ev) < 0)
		abort();
	target_announce("epoll", SYS_epoll_wait);
	epoll_outer(epfd);
	KEEP_FRAME();
	return arg;
}
