/* cond: blocked in pthread_cond_wait on a condition nobody signals. */
#include "chains.h"
#include "target.h"

#include <sys/syscall.h>

static pthread_mutex_t cond_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond_never = PTHREAD_COND_INITIALIZER;

SPACER(cond_spacer0)

NOIPA void cond_inner(void);
NOIPA void cond_inner(void)
{
	pthread_mutex_lock(&cond_mutex);
	for (;;) {
		pthread_cond_wait(&cond_never, &cond_mutex);
		KEEP_FRAME();
	}
}

SPACER(cond_spacer1)

NOIPA void cond_outer(void);
NOIPA void cond_outer(void)
{
	cond_inner();
	KEEP_FRAME();
}

SPACER(cond_spacer2)

void *cond_main(void *arg)
{
	target_announce("cond", SYS_futex);
	cond_outer();
	KEEP_FRAME();
	return arg;
}
