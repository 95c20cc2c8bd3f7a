/* kvserver: a small key-value server and its clients in one process, for
 * the tests of CPU profiles of programs that live in system calls.
 *
 * usage: kvserver [CLIENTS]
 *
 * Threads:
 *   "server"  waits in epoll_wait (kv_wait) on one socket pair per client,
 *             reads each request (kv_read), looks the key up (kv_lookup,
 *             a little CPU) and writes the answer (kv_write), counting
 *             answers in $CPROF_TARGET_COUNTER
 *   "client"  CLIENTS of them (default 4), each sending a request
 *             (client_send), hashing for a while (client_think) and
 *             reading the answer (client_recv), for ever
 * Most of the server's CPU is the kernel's, in read, write and epoll_wait.
 * Prints "ready PID" once every client has had an answer.
 */
#include "target.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 16
#define MSG_SIZE    512
#define TABLE_SIZE  4096

static int server_fds[MAX_CLIENTS], client_fds[MAX_CLIENTS];
static int nclients = 4;
static uint64_t table[TABLE_SIZE];
static uint64_t answers;

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

SPACER(kv_spacer0)

NOIPA int kv_wait(int epfd, struct epoll_event *events, int max);
NOIPA int kv_wait(int epfd, struct epoll_event *events, int max)
{
	int n = epoll_wait(epfd, events, max, -1);

	KEEP_FRAME();
	return n;
}

SPACER(kv_spacer1)

NOIPA ssize_t kv_read(int fd, char *buf);
NOIPA ssize_t kv_read(int fd, char *buf)
{
	ssize_t n = read(fd, buf, MSG_SIZE);

	KEEP_FRAME();
	return n;
}

SPACER(kv_spacer2)

NOIPA uint64_t kv_lookup(const char *buf);
NOIPA uint64_t kv_lookup(const char *buf)
{
	uint64_t h = 0;

	for (int round = 0; round < 4; round++)
		for (int i = 0; i < MSG_SIZE; i += 8) {
			uint64_t word;

			memcpy(&word, buf + i, sizeof(word));
			h = mix(h ^ word ^ table[h % TABLE_SIZE]);
		}
	return h;
}

SPACER(kv_spacer3)

NOIPA void kv_write(int fd, char *buf, uint64_t value);
NOIPA void kv_write(int fd, char *buf, uint64_t value)
{
	memcpy(buf, &value, sizeof(value));
	if (write(fd, buf, MSG_SIZE) != MSG_SIZE)
		exit(99);
	KEEP_FRAME();
}

SPACER(kv_spacer4)

NOIPA NORETURN void kv_serve(int epfd);
NOIPA NORETURN void kv_serve(int epfd)
{
	struct epoll_event events[MAX_CLIENTS];
	char buf[MSG_SIZE];

	for (;;) {
		int n = kv_wait(epfd, events, MAX_CLIENTS);

		for (int i = 0; i < n; i++) {
			int fd = events[i].data.fd;

			if (kv_read(fd, buf) != MSG_SIZE)
				exit(99);
			kv_write(fd, buf, kv_lookup(buf));
			target_count_work();
		}
	}
}

SPACER(kv_spacer5)

static void *server_thread(void *arg)
{
	int epfd = epoll_create1(0);

	pthread_setname_np(pthread_self(), "server");
	for (int i = 0; i < nclients; i++) {
		struct epoll_event ev = {.events = EPOLLIN,
					 .data.fd = server_fds[i]};

		if (epoll_ctl(epfd, EPOLL_CTL_ADD, server_fds[i], &ev) < 0)
			exit(99);
	}
	kv_serve(epfd);
	return arg;
}

NOIPA void client_send(int fd, char *buf);
NOIPA void client_send(int fd, char *buf)
{
	if (write(fd, buf, MSG_SIZE) != MSG_SIZE)
		exit(99);
	KEEP_FRAME();
}

SPACER(kv_spacer6)

NOIPA void client_recv(int fd, char *buf);
NOIPA void client_recv(int fd, char *buf)
{
	if (read(fd, buf, MSG_SIZE) != MSG_SIZE)
		exit(99);
	KEEP_FRAME();
}

SPACER(kv_spacer7)

NOIPA uint64_t client_think(uint64_t seed);
NOIPA uint64_t client_think(uint64_t seed)
{
	for (int i = 0; i < 2000; i++)
		seed = mix(seed + (uint64_t)i);
	return seed;
}

SPACER(kv_spacer8)

NOIPA NORETURN void client_loop(int fd);
NOIPA NORETURN void client_loop(int fd)
{
	char buf[MSG_SIZE] = {0};
	uint64_t seed = (uint64_t)fd;

	for (;;) {
		memcpy(buf, &seed, sizeof(seed));
		client_send(fd, buf);
		seed = client_think(seed);
		client_recv(fd, buf);
		__atomic_fetch_add(&answers, 1, __ATOMIC_RELAXED);
	}
}

static void *client_thread(void *arg)
{
	pthread_setname_np(pthread_self(), "client");
	client_loop((int)(intptr_t)arg);
	return arg;
}

int main(int argc, char **argv)
{
	const struct timespec tick = {0, 1000000};
	pthread_t t;

	if (argc > 1)
		nclients = atoi(argv[1]);
	if (nclients < 1 || nclients > MAX_CLIENTS) {
		fprintf(stderr, "usage: kvserver [CLIENTS]\n");
		return 64;
	}
	for (int i = 0; i < TABLE_SIZE; i++)
		table[i] = mix((uint64_t)i + 1);
	for (int i = 0; i < nclients; i++) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
			return 99;
		server_fds[i] = sv[0];
		client_fds[i] = sv[1];
	}
	target_counter_init();
	if (pthread_create(&t, NULL, server_thread, NULL) != 0)
		return 99;
	for (int i = 0; i < nclients; i++)
		if (pthread_create(&t, NULL, client_thread,
				   (void *)(intptr_t)client_fds[i]) != 0)
			return 99;
	while (__atomic_load_n(&answers, __ATOMIC_RELAXED) <
		       (uint64_t)nclients ||
	       *target_counter == 0)
		nanosleep(&tick, NULL);
	target_ready();
	for (;;)
		pause();
}
