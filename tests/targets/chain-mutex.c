/* mutex: blocked in pthread_mutex_lock on a mutex main holds. */
#include "chains.h"
#include "target.h"

#include <sys/syscall.h>

SPACER(mutex_spacer0)

NOIPA void mutex_inner(void);
NOIPA void mutex_inner(void)
{
	pthread_mutex_lock(&target_held_mutex);
	KEEP_FRAME();
	pthread_mutex_unlock(&target_held_mutex);
}

SPACER(mutex_spacer1)

NOIPA void mutex_outer(void);
NOIPA void mutex_outer(void)
{
	mutex_inner();
	KEEP_FRAME();
}

SPACER(mutex_spacer2)

void *mutex_main(void *arg)
{
	target_announce("mutex", SYS_futex);
	mutex_outer();
	KEEP_FRAME();
	return arg;
}
