/* SPDX-License-Identifier: MIT */
/*
 * Go's /debug/pprof/ endpoints for a native process, over HTTP
 * (libmicrohttpd).  Every request runs a session of its own
 * (attach/session.h) into a collector (collect/collect.h), so nothing is
 * attached between requests.  One CPU or wall profile runs at a time.
 *
 * The server's thread owns the signals that end cprof: serve_new() holds
 * them in every thread before any is started, and serve_run() reads them.
 * Endpoints, statuses and texts are in man/cprof-serve.1.
 */
#ifndef CPROF_SERVE_SERVE_H
#define CPROF_SERVE_SERVE_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "symbolize/unwind.h"

struct serve_options {
	pid_t pid;
	struct sockaddr_storage addr; /* where to listen */
	socklen_t addrlen;
	unsigned max_seconds; /* the longest profile a request may ask */
	const char *token;    /* Bearer token; NULL: no authentication */
	unsigned long hz;     /* profiles' ticks per second */
	unsigned connection_limit;
	unsigned timeout_seconds; /* an idle connection is closed after it */
	enum unwinder_kind unwinder;
};

/* "HOST:PORT", HOST a numeric IPv4 address or a bracketed IPv6 one, or
 * "localhost"; PORT 0 to 65535 (0: any free port).  -EINVAL otherwise. */
int serve_parse_listen(const char *text, struct sockaddr_storage *ret_addr,
		       socklen_t *ret_len);
bool serve_addr_is_loopback(const struct sockaddr_storage *addr);

enum serve_failure {
	SERVE_FAIL_SIGNALS, /* the signalfd could not be made */
	SERVE_FAIL_TARGET,  /* no such process (pidfd_open) */
	SERVE_FAIL_LISTEN,  /* the address cannot be bound */
	SERVE_FAIL_MEMORY,
	SERVE_FAIL_LIBRARY, /* libmicrohttpd (MHD_SONAME) cannot be loaded */
};

enum serve_end {
	SERVE_END_SIGNAL,	/* SIGINT, SIGTERM, SIGHUP or SIGQUIT */
	SERVE_END_TARGET_EXITED /* the process is gone */
};

struct server;

/* Listens; a negative errno with *ret_failure saying where. */
int serve_new(const struct serve_options *opts, struct server **ret_server,
	      enum serve_failure *ret_failure);
/* The port bound, for a --listen with port 0. */
unsigned serve_port(const struct server *s);
/* Serves until a signal or the target's exit; any profile in flight is
 * ended, and every request has been answered or dropped on return. */
int serve_run(struct server *s, enum serve_end *ret_end);
void serve_free(struct server *s);

#endif
