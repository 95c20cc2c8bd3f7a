/* pin-apart.h: the stop benches' child on one CPU, their tracer on
 * another, as a thread on another CPU than cprof's sampler.  Shared by
 * stopfloor.c and stopland.c, which each build alone. */
#ifndef CPROF_BENCH_PIN_APART_H
#define CPROF_BENCH_PIN_APART_H

#include <sched.h>
#include <stdbool.h>
#include <sys/types.h>

/* False with a single CPU. */
static bool pin_apart(pid_t child)
{
	cpu_set_t allowed, one;
	int cpus[2], n = 0;

	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
		return false;
	for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &allowed))
			cpus[n++] = c;
	if (n < 2)
		return false;
	CPU_ZERO(&one);
	CPU_SET(cpus[0], &one);
	if (sched_setaffinity(child, sizeof(one), &one) < 0)
		return false;
	CPU_ZERO(&one);
	CPU_SET(cpus[1], &one);
	return sched_setaffinity(0, sizeof(one), &one) == 0;
}

#endif
