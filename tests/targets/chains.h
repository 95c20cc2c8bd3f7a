/* Thread entry points of the parked target, one translation unit each. */
#ifndef CPROF_CHAINS_H
#define CPROF_CHAINS_H

#include <pthread.h>

/* Held by main for the whole run: mutex_main blocks on it. */
extern pthread_mutex_t target_held_mutex;

void *mutex_main(void *arg);
void *cond_main(void *arg);
void *pool_main(void *arg);
void *epoll_main(void *arg);
void *poll_main(void *arg);
void *read_main(void *arg);
void *sleep_main(void *arg);
void *sigwait_main(void *arg);
void *busy_main(void *arg);
void *signal_main(void *arg);
void *dlopen_main(void *arg);
void *recurse_main(void *arg);
void *inline_main(void *arg);

/* Set by signal_main: the slot to move on to read(2) once signalled. */
extern int signal_slot;

/* Path of the library dlopen_main loads. */
extern const char *dlopen_path;

#define POOL_THREADS  4
#define RECURSE_DEPTH 1000

#endif
