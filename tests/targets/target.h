/* Shared by the test targets: frame attributes and the park registry.
 *
 * Every named frame is NOIPA (never inlined, cloned, merged or given
 * interprocedural register assumptions) and is followed by KEEP_FRAME()
 * after its call, so the compiler cannot turn the call into a tail call
 * and hide the frame.  SPACER() functions sit between frames: a return
 * address looked up without the pc-1 adjustment lands in a spacer (or in
 * padding), never in the expected neighbour.
 */
#ifndef CPROF_TARGET_H
#define CPROF_TARGET_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __clang__
/* clang has no noipa; it neither clones nor merges noinline functions. */
#define NOIPA __attribute__((noinline))
#else
#define NOIPA __attribute__((noipa))
#endif
#define NORETURN     __attribute__((noreturn))
#define KEEP_FRAME() __asm__ volatile("" ::: "memory")
#define SPACER(name)                                                           \
	NOIPA int name(int x);                                                 \
	NOIPA int name(int x)                                                  \
	{                                                                      \
		return x * 7 + __LINE__;                                       \
	}

/* Expected syscall of a slot whose thread spins instead of blocking. */
#define PARK_RUNNING (-1L)

/* Names the calling thread, records its tid and the syscall it is about to
 * block in (or PARK_RUNNING); returns the slot. */
int target_announce(const char *name, long sysno);

/* Changes what a slot's thread is expected to block in next. */
void target_expect(int slot, long sysno);

/* Waits until every announced thread (count of them) is parked. */
void target_wait_parked(int count);

/* Returns the tid of a slot. */
int target_tid(int slot);

/* Maps the busy counter: the 8-byte file named by $CPROF_TARGET_COUNTER
 * (shared, so a test reads it while the target runs) or anonymous memory. */
void target_counter_init(void);
/* One unit of CPU work, counted in *target_counter: what every busy
 * thread repeats under a named frame of its own. */
void target_count_work(void);
extern volatile uint64_t *target_counter;

/* Prints "ready PID" and flushes. */
void target_ready(void);

#ifdef __cplusplus
}
#endif

#endif
