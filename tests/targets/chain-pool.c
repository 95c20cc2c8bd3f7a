/* pool-N: POOL_THREADS identical threads in pthread_cond_wait, so a grouped
 * dump shows one stack with count POOL_THREADS. */
#include "chains.h"
#include "target.h"

#include <stdio.h>
#include <sys/syscall.h>

static pthread_mutex_t pool_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;

SPACER(pool_spacer0)

NOIPA void pool_wait(void);
NOIPA void pool_wait(void)
{
	pthread_mutex_lock(&pool_mutex);
	for (;;) {
		pthread_cond_wait(&pool_cond, &pool_mutex);
		KEEP_FRAME();
	}
}

SPACER(pool_spacer1)

void *pool_main(void *arg)
{
	char name[16];

	snprintf(name, sizeof(name), "pool-%d", (int)(long)arg);
	target_announce(name, SYS_futex);
	pool_wait();
	KEEP_FRAME();
	return arg;
}
