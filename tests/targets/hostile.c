/* The hostile target: threads whose registers and stacks lie, beside sane
 * threads whose stacks must still unwind in full.
 *
 * usage: hostile [--spin] [LIBRARY...]
 *
 * Threads:
 *   sane     sane_main > sane_outer > sane_inner > pause()
 *   busy     counts in $CPROF_TARGET_COUNTER (see target.h)
 *   loop     a frame whose saved frame pointer is itself and whose return
 *            address is its own code: a CFA chain that never moves
 *   nosp     stack pointer in an unmapped page
 *   zerosp   stack pointer 0
 *   kernsp   stack pointer in the kernel half of the address space
 *   garbage  stack pointer into a buffer of lies: return addresses into
 *            the middle of functions, pointers back into the buffer,
 *            all-ones, zero
 *   jit      pc in an anonymous executable page without any CFI
 *   entry    entry_main > entry_outer > a function without any CFI; with
 *            --spin the pc stays at its first instruction, where the
 *            frame is the one the call left (CFA = rsp + 8)
 *   lib0...  hostile_lib_park() of each LIBRARY, loaded with dlopen
 *
 * The lying threads block every signal (a handler would run on their
 * stack) and wait in a raw pause system call, or with --spin loop in
 * place without touching memory.  Prints "ready PID" once all are parked.
 */
#include "target.h"

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Parks with rsp = sp and rbp = bp; the CFI is that of a function entry
 * (CFA = rsp + 8), so an unwinder takes its return address from sp. */
void hostile_park_at(uint64_t sp, uint64_t bp, int spin);
/* Parks in a frame at buf (16 bytes, 16-aligned) whose CFA is rbp + 16,
 * whose saved rbp is buf itself and whose return address is inside the
 * same CFI range: every caller frame is the same frame again. */
void hostile_park_loop(void *buf, int spin);

__asm__(".text\n"
	".globl hostile_park_at\n"
	".type hostile_park_at, @function\n"
	"hostile_park_at:\n"
	".cfi_startproc\n"
	"	mov %rdi, %rsp\n"
	"	mov %rsi, %rbp\n"
	"	test %edx, %edx\n"
	"	jnz 3f\n"
	"1:	mov $34, %eax\n" /* SYS_pause */
	"	syscall\n"
	"	jmp 1b\n"
	"3:	jmp 3b\n"
	".cfi_endproc\n"
	".size hostile_park_at, .-hostile_park_at\n"
	"\n"
	".globl hostile_park_loop\n"
	".type hostile_park_loop, @function\n"
	"hostile_park_loop:\n"
	".cfi_startproc\n"
	"	mov %rdi, %rbp\n"
	"	mov %rdi, (%rdi)\n"
	"	lea 2f(%rip), %rax\n"
	"	mov %rax, 8(%rdi)\n"
	"	mov %rdi, %rsp\n"
	".cfi_def_cfa %rbp, 16\n"
	".cfi_offset %rbp, -16\n"
	"	test %esi, %esi\n"
	"	jnz 3f\n"
	"1:	mov $34, %eax\n"
	"2:	syscall\n"
	"	jmp 1b\n"
	"3:	pause\n"
	"	jmp 3b\n"
	".cfi_endproc\n"
	".size hostile_park_loop, .-hostile_park_loop\n"
	"\n"
	/* No CFI on purpose, like crti's _init and _fini. */
	".globl hostile_entry_spin\n"
	".type hostile_entry_spin, @function\n"
	"hostile_entry_spin:\n"
	"	jmp hostile_entry_spin\n"
	".size hostile_entry_spin, .-hostile_entry_spin\n"
	"\n"
	".globl hostile_entry_pause\n"
	".type hostile_entry_pause, @function\n"
	"hostile_entry_pause:\n"
	"	mov $34, %eax\n"
	"	syscall\n"
	"	jmp hostile_entry_pause\n"
	".size hostile_entry_pause, .-hostile_entry_pause\n");

/* Functions without CFI: the first loops on its first instruction, the
 * second in a raw pause system call. */
void hostile_entry_spin(void);
void hostile_entry_pause(void);

static int spin;

static void block_signals(void)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
}

static void announce(const char *name)
{
	target_announce(name, spin ? PARK_RUNNING : SYS_pause);
}

SPACER(hostile_spacer0)

NOIPA NORETURN void sane_inner(void);
NOIPA NORETURN void sane_inner(void)
{
	for (;;) {
		pause();
		KEEP_FRAME();
	}
}

SPACER(hostile_spacer1)

NOIPA NORETURN void sane_outer(void);
NOIPA NORETURN void sane_outer(void)
{
	sane_inner();
}

SPACER(hostile_spacer2)

static void *sane_main(void *arg)
{
	target_announce("sane", SYS_pause);
	sane_outer();
}

NOIPA NORETURN void busy_spin(void);
NOIPA NORETURN void busy_spin(void)
{
	for (;;)
		__atomic_add_fetch(target_counter, 1, __ATOMIC_RELAXED);
}

static void *busy_main(void *arg)
{
	target_announce("busy", PARK_RUNNING);
	busy_spin();
}

static void *loop_main(void *arg)
{
	uint64_t frame[8] __attribute__((aligned(16)));

	block_signals();
	announce("loop");
	hostile_park_loop(&frame[4], spin);
	return NULL;
}

/* An address with nothing mapped at it: a page mapped and given back. */
static uint64_t unmapped_address(void)
{
	long page = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, 3 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED || munmap(p + page, page) < 0) {
		perror("hostile: mmap");
		exit(99);
	}
	return (uint64_t)(p + page + page / 2);
}

static void *nosp_main(void *arg)
{
	uint64_t sp = unmapped_address();

	block_signals();
	announce("nosp");
	hostile_park_at(sp, sp + 64, spin);
	return NULL;
}

static void *zerosp_main(void *arg)
{
	block_signals();
	announce("zerosp");
	hostile_park_at(0, 0, spin);
	return NULL;
}

static void *kernsp_main(void *arg)
{
	block_signals();
	announce("kernsp");
	hostile_park_at(0xffff888000100000ULL, 0xffffffff81000000ULL, spin);
	return NULL;
}

#define GARBAGE_WORDS 4096

/* Fills buf with a deterministic mix of lies. */
static void fill_garbage(uint64_t *buf, size_t n)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	uint64_t text = (uint64_t)(uintptr_t)&hostile_park_at;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		switch (x % 6) {
		case 0: /* into the middle of code, CFI or not */
			buf[i] = text + (x >> 8) % 4096 - 2048;
			break;
		case 1: /* back into the buffer, up or down */
			buf[i] = (uint64_t)(uintptr_t)&buf[(x >> 8) % n];
			break;
		case 2:
			buf[i] = ~0ULL;
			break;
		case 3:
			buf[i] = 0;
			break;
		case 4: /* the park itself: a return address that loops */
			buf[i] = text + 12;
			break;
		default:
			buf[i] = x;
		}
	}
}

static void *garbage_main(void *arg)
{
	static uint64_t buf[GARBAGE_WORDS];
	uint64_t stack[GARBAGE_WORDS];

	fill_garbage(buf, GARBAGE_WORDS);
	memcpy(stack, buf, sizeof(stack));
	block_signals();
	announce("garbage");
	hostile_park_at((uint64_t)(uintptr_t)&stack[GARBAGE_WORDS / 2],
			stack[GARBAGE_WORDS / 2 + 1], spin);
	return NULL;
}

/* mov $34, %eax; syscall; jmp back to the mov.  --spin: jmp to itself. */
static const unsigned char jit_pause[] = {0xb8, 0x22, 0x00, 0x00, 0x00,
					  0x0f, 0x05, 0xeb, 0xf7};
static const unsigned char jit_spin[] = {0xeb, 0xfe};

NOIPA void jit_outer(void (*code)(void));
NOIPA void jit_outer(void (*code)(void))
{
	code();
	KEEP_FRAME();
}

static void *jit_main(void *arg)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned char *code = mmap(NULL, page, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (code == MAP_FAILED) {
		perror("hostile: mmap");
		exit(99);
	}
	/* Somewhere in the middle of the page, not at a symbol. */
	if (spin)
		memcpy(code + 0x340, jit_spin, sizeof(jit_spin));
	else
		memcpy(code + 0x340, jit_pause, sizeof(jit_pause));
	if (mprotect(code, page, PROT_READ | PROT_EXEC) < 0) {
		perror("hostile: mprotect");
		exit(99);
	}
	block_signals();
	announce("jit");
	jit_outer((void (*)(void))(code + 0x340));
	return NULL;
}

SPACER(hostile_spacer_entry)

NOIPA void entry_outer(void);
NOIPA void entry_outer(void)
{
	if (spin)
		hostile_entry_spin();
	else
		hostile_entry_pause();
	KEEP_FRAME();
}

static void *entry_main(void *arg)
{
	block_signals();
	announce("entry");
	entry_outer();
	return arg;
}

struct lib_thread {
	char name[16];
	void (*park)(void);
};

static void *lib_main(void *arg)
{
	struct lib_thread *t = arg;

	target_announce(t->name, SYS_pause);
	t->park();
	return NULL;
}

static void spawn(void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	pthread_t t;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, fn, arg) != 0) {
		fprintf(stderr, "hostile: pthread_create failed\n");
		exit(99);
	}
	pthread_attr_destroy(&attr);
}

static int spawn_libs(int argc, char **argv)
{
	int n = 0;

	for (int i = 0; i < argc; i++) {
		struct lib_thread *t = calloc(1, sizeof(*t));
		void *handle = dlopen(argv[i], RTLD_NOW | RTLD_LOCAL);

		if (!t || !handle) {
			fprintf(stderr, "hostile: %s\n", dlerror());
			exit(99);
		}
		t->park = (void (*)(void))dlsym(handle, "hostile_lib_park");
		if (!t->park) {
			fprintf(stderr, "hostile: %s\n", dlerror());
			exit(99);
		}
		snprintf(t->name, sizeof(t->name), "lib%d", i);
		spawn(lib_main, t);
		n++;
	}
	return n;
}

SPACER(hostile_spacer3)

NOIPA NORETURN void main_park(void);
NOIPA NORETURN void main_park(void)
{
	for (;;) {
		pause();
		KEEP_FRAME();
	}
}

int main(int argc, char **argv)
{
	int n = 0;

	if (argc > 1 && strcmp(argv[1], "--spin") == 0) {
		spin = 1;
		argc--;
		argv++;
	}
	target_counter_init();
	spawn(sane_main, NULL);
	spawn(busy_main, NULL);
	spawn(loop_main, NULL);
	spawn(nosp_main, NULL);
	spawn(zerosp_main, NULL);
	spawn(kernsp_main, NULL);
	spawn(garbage_main, NULL);
	spawn(jit_main, NULL);
	spawn(entry_main, NULL);
	n = 9 + spawn_libs(argc - 1, argv + 1);
	target_wait_parked(n);
	target_ready();
	main_park();
}
