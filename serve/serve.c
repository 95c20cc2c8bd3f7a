/* SPDX-License-Identifier: MIT */
/*
 * The HTTP front end: one connection per thread (libmicrohttpd), each
 * request answered by a session of its own.  A profile's session polls an
 * epoll set of the server's shutdown eventfd and its client's socket (a
 * hang-up), so SIGTERM and a client that goes away both end it at its
 * next wait, with the target let go as on any other path.
 */
#include "serve/serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "attach/session.h"
#include "collect/collect.h"
#include "serve/mhd.h"

#define PREFIX		"/debug/pprof/"
#define DEFAULT_SECONDS 30

enum busy {
	IDLE,
	SNAPSHOT, /* a threads capture: short, the next one waits */
	PROFILE	  /* a CPU or wall profile: others get 409 */
};

struct server {
	struct serve_options opts;
	struct MHD_Daemon *daemon;
	int sigfd, pidfd, shutdown_fd;
	sigset_t saved_mask;
	bool signals_held;
	atomic_bool shutting_down;
	pthread_mutex_t lock;
	pthread_cond_t idle;
	enum busy busy;
	int64_t profile_end_ns; /* monotonic, while busy == PROFILE */
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- the listen address ---- */

int serve_parse_listen(const char *text, struct sockaddr_storage *ret_addr,
		       socklen_t *ret_len)
{
	struct sockaddr_storage addr = {0};
	const char *colon = strrchr(text, ':');
	char host[INET6_ADDRSTRLEN + 2];
	size_t hlen;
	char *end;
	unsigned long port;

	if (!colon || colon[1] < '0' || colon[1] > '9')
		return -EINVAL;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || port > 65535)
		return -EINVAL;
	hlen = (size_t)(colon - text);
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	if (host[0] == '[' && host[hlen - 1] == ']') {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&addr;

		host[hlen - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1)
			return -EINVAL;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*ret_len = sizeof(*in6);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&addr;

		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return -EINVAL;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*ret_len = sizeof(*in);
	}
	*ret_addr = addr;
	return 0;
}

bool serve_addr_is_loopback(const struct sockaddr_storage *addr)
{
	if (addr->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)addr;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (addr->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)addr;

		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	return false;
}

/* ---- replies ---- */

static enum MHD_Result queue(struct MHD_Connection *conn, unsigned status,
			     struct MHD_Response *resp)
{
	enum MHD_Result r;

	if (!resp)
		return MHD_NO;
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

/* An error as Go's net/http/pprof sends one: text, and X-Go-Pprof so
 * that go tool pprof shows the text rather than a parse error. */
static enum MHD_Result reply_error(struct MHD_Connection *conn, unsigned status,
				   const char *fmt, ...)
{
	struct MHD_Response *resp;
	char text[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(text) - 2)
		n = sizeof(text) - 2;
	text[n++] = '\n';
	resp = MHD_create_response_from_buffer((size_t)n, text,
					       MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type",
				"text/plain; charset=utf-8");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Go-Pprof", "1");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, "Allow", "GET, HEAD");
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
	return queue(conn, status, resp);
}

/* A 409 that says when to come back. */
static enum MHD_Result reply_busy(struct server *s, struct MHD_Connection *conn,
				  const char *what)
{
	struct MHD_Response *resp;
	char text[160], after[32];
	int64_t left;
	int n;

	pthread_mutex_lock(&s->lock);
	left = s->profile_end_ns - now_ns();
	pthread_mutex_unlock(&s->lock);
	n = snprintf(text, sizeof(text),
		     "%s: a profile is in progress; only one runs at a time\n",
		     what);
	resp = MHD_create_response_from_buffer((size_t)n, text,
					       MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	snprintf(after, sizeof(after), "%lld",
		 (long long)(left > 0 ? left / 1000000000 + 1 : 1));
	MHD_add_response_header(resp, "Content-Type",
				"text/plain; charset=utf-8");
	MHD_add_response_header(resp, "X-Go-Pprof", "1");
	MHD_add_response_header(resp, "Retry-After", after);
	return queue(conn, MHD_HTTP_CONFLICT, resp);
}

/* The whole of fd (a memfd, MHD closes it) as the body. */
static enum MHD_Result reply_fd(struct MHD_Connection *conn, int fd,
				bool binary, const char *name)
{
	struct MHD_Response *resp;
	char disposition[64];
	struct stat st;

	if (fstat(fd, &st) < 0) {
		close(fd);
		return reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   "cannot write the profile: %s",
				   strerror(errno));
	}
	resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
	if (!resp) {
		close(fd);
		return MHD_NO;
	}
	if (binary) {
		snprintf(disposition, sizeof(disposition),
			 "attachment; filename=\"%s\"", name);
		MHD_add_response_header(resp, "Content-Type",
					"application/octet-stream");
		MHD_add_response_header(resp, "Content-Disposition",
					disposition);
	} else {
		MHD_add_response_header(resp, "Content-Type",
					"text/plain; charset=utf-8");
	}
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	return queue(conn, MHD_HTTP_OK, resp);
}

/* HEAD: the headers a GET would have, without running a session. */
static enum MHD_Result reply_head(struct MHD_Connection *conn, bool binary)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type",
				binary ? "application/octet-stream"
				       : "text/plain; charset=utf-8");
	return queue(conn, MHD_HTTP_OK, resp);
}

/* The profile written into a memfd; -errno on failure. */
static int profile_to_fd(const struct profile *profile, int debug)
{
	int fd = memfd_create("cprof-serve", MFD_CLOEXEC), r;
	FILE *fp;

	if (fd < 0)
		return -errno;
	if (debug == 0) {
		r = profile_write_pprof(profile, fd);
	} else {
		int dupfd = dup(fd);

		fp = dupfd < 0 ? NULL : fdopen(dupfd, "w");
		if (!fp) {
			r = -errno;
			if (dupfd >= 0)
				close(dupfd);
		} else {
			r = profile_write_text(profile, debug, 0, fp);
			if (fclose(fp) != 0 && r >= 0)
				r = -errno;
		}
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

static const char *failure_text(enum session_failure failure)
{
	switch (failure) {
	case SESSION_FAIL_TARGET:
		return "cannot attach";
	case SESSION_FAIL_THREAD:
		return "cannot start the sampling thread";
	case SESSION_FAIL_BEGIN:
		return "cannot read its address space";
	case SESSION_FAIL_PERF_FILES:
		return "too many threads for an event each";
	default:
		return "sampling failed";
	}
}

/* ---- query parameters ---- */

/* seconds=N: a whole number from 1 to max; absent, Go's 30 (or max). */
static int parse_seconds(struct server *s, struct MHD_Connection *conn,
			 unsigned *ret_seconds, char *why, size_t whylen)
{
	const char *text = MHD_lookup_connection_value(
		conn, MHD_GET_ARGUMENT_KIND, "seconds");
	unsigned long value;
	char *end;

	if (!text) {
		*ret_seconds = DEFAULT_SECONDS < s->opts.max_seconds
				       ? DEFAULT_SECONDS
				       : s->opts.max_seconds;
		return 0;
	}
	if (text[0] == '-' && text[1] >= '0' && text[1] <= '9') {
		snprintf(why, whylen, "invalid seconds '%.40s': negative",
			 text);
		return -EINVAL;
	}
	errno = 0;
	value = (text[0] >= '0' && text[0] <= '9') ? strtoul(text, &end, 10)
						   : 0;
	if (!(text[0] >= '0' && text[0] <= '9') || *end) {
		snprintf(why, whylen,
			 "invalid seconds '%.40s': not a whole number", text);
		return -EINVAL;
	}
	if (value == 0) {
		snprintf(why, whylen, "invalid seconds '0': at least 1");
		return -EINVAL;
	}
	if (errno || value > s->opts.max_seconds) {
		snprintf(why, whylen,
			 "invalid seconds '%.40s': over this server's "
			 "--max-seconds %u",
			 text, s->opts.max_seconds);
		return -EINVAL;
	}
	*ret_seconds = (unsigned)value;
	return 0;
}

/* debug=0|1|2; absent, 0 (pprof) as in Go. */
static int parse_debug(struct MHD_Connection *conn, int *ret_debug)
{
	const char *text = MHD_lookup_connection_value(
		conn, MHD_GET_ARGUMENT_KIND, "debug");

	if (!text) {
		*ret_debug = 0;
		return 0;
	}
	if (text[0] < '0' || text[0] > '2' || text[1])
		return -EINVAL;
	*ret_debug = text[0] - '0';
	return 0;
}

/* ---- profiles ---- */

/* Waits out a snapshot; false when a profile holds the target. */
static bool take_target(struct server *s, enum busy what, int64_t end_ns)
{
	bool ok;

	pthread_mutex_lock(&s->lock);
	while (s->busy == SNAPSHOT)
		pthread_cond_wait(&s->idle, &s->lock);
	ok = s->busy == IDLE;
	if (ok) {
		s->busy = what;
		s->profile_end_ns = end_ns;
	}
	pthread_mutex_unlock(&s->lock);
	return ok;
}

static void release_target(struct server *s)
{
	pthread_mutex_lock(&s->lock);
	s->busy = IDLE;
	pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->lock);
}

/* An fd that polls readable once serve shuts down or the client hangs
 * up: the session's cancel_fd. */
static int cancel_set(struct server *s, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(
		conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct epoll_event ev = {.events = EPOLLIN};
	int epfd = epoll_create1(EPOLL_CLOEXEC);

	if (epfd < 0)
		return -errno;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, s->shutdown_fd, &ev) < 0)
		goto fail;
	ev.events = EPOLLRDHUP;
	if (info && epoll_ctl(epfd, EPOLL_CTL_ADD, info->connect_fd, &ev) < 0)
		goto fail;
	return epfd;
fail:
	close(epfd);
	return -errno;
}

static bool client_gone(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(
		conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct pollfd pfd = {.events = POLLRDHUP};

	if (!info)
		return false;
	pfd.fd = info->connect_fd;
	return poll(&pfd, 1, 0) == 1 &&
	       (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static enum MHD_Result serve_record(struct server *s,
				    struct MHD_Connection *conn,
				    enum session_mode mode, const char *name)
{
	struct collect_options co = {
		.kind = mode == SESSION_CPU ? COLLECT_CPU : COLLECT_WALL,
		.unwinder = s->opts.unwinder,
		.hz = s->opts.hz,
		.merge = true,
	};
	struct session_options so = {
		.pid = s->opts.pid, .hz = s->opts.hz, .mode = mode};
	struct session_result res;
	struct collector *c = NULL;
	struct sample_sink sink;
	unsigned seconds;
	char why[128];
	int r, fd;

	if (parse_seconds(s, conn, &seconds, why, sizeof(why)) < 0)
		return reply_error(conn, MHD_HTTP_BAD_REQUEST, "%s", why);
	so.duration_ns = seconds * 1000000000LL;
	if (!take_target(s, PROFILE, now_ns() + so.duration_ns))
		return reply_busy(s, conn, "cpu profiling already in use");
	so.cancel_fd = cancel_set(s, conn);
	r = so.cancel_fd;
	if (r >= 0)
		r = collector_new(&co, &c);
	if (r >= 0) {
		collector_sink(c, &sink);
		r = session_record(&so, &sink, &res);
		if (r >= 0)
			r = collector_finish(c, &res);
		if (r < 0)
			r = reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
					"pid %d: %s: %s", (int)s->opts.pid,
					failure_text(res.failure),
					strerror(-r));
		else if (atomic_load(&s->shutting_down))
			r = reply_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
					"cprof serve is shutting down");
		else if (client_gone(conn))
			r = MHD_NO; /* nobody to answer */
		else if ((fd = profile_to_fd(collector_profile(c), 0)) < 0)
			r = reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
					"cannot write the profile: %s",
					strerror(-fd));
		else
			r = reply_fd(conn, fd, true, name);
	} else {
		r = reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				"cannot start a profile: %s", strerror(-r));
	}
	if (so.cancel_fd > 0)
		close(so.cancel_fd);
	collector_free(c);
	release_target(s);
	return (enum MHD_Result)r;
}

static enum MHD_Result serve_threads(struct server *s,
				     struct MHD_Connection *conn)
{
	const struct session_options so = {.pid = s->opts.pid};
	struct collect_options co = {.kind = COLLECT_THREADS,
				     .unwinder = s->opts.unwinder};
	struct session_result res;
	struct collector *c = NULL;
	struct sample_sink sink;
	int debug, r, fd;

	if (parse_debug(conn, &debug) < 0)
		return reply_error(conn, MHD_HTTP_BAD_REQUEST,
				   "invalid debug: use 0, 1 or 2");
	co.merge = debug != 2;
	if (!take_target(s, SNAPSHOT, 0))
		return reply_busy(s, conn, "threads");
	r = collector_new(&co, &c);
	if (r >= 0) {
		collector_sink(c, &sink);
		r = session_snapshot(&so, &sink, &res);
		if (r >= 0)
			r = collector_finish(c, &res);
	} else {
		res.failure = SESSION_FAIL_CAPTURE;
	}
	release_target(s);
	if (r < 0)
		r = reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				"pid %d: %s: %s", (int)s->opts.pid,
				failure_text(res.failure), strerror(-r));
	else if ((fd = profile_to_fd(collector_profile(c), debug)) < 0)
		r = reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				"cannot write the profile: %s", strerror(-fd));
	else
		r = reply_fd(conn, fd, debug == 0, "threads");
	collector_free(c);
	return (enum MHD_Result)r;
}

/* ---- the index and the names cprof does not have ---- */

struct endpoint {
	const char *name, *query, *what;
};

static const struct endpoint endpoints[] = {
	{"profile", "?seconds=30",
	 "CPU profile: running threads, weighed by the CPU time they used"},
	{"wall", "?seconds=30",
	 "Wall-clock profile: every thread, labelled with its state and "
	 "wait"},
	{"threads", "?debug=1",
	 "Every thread's state and stack, grouped (debug=1), each on its "
	 "own (debug=2) or as pprof (debug=0)"},
	{"goroutine", "?debug=1", "The same as threads, under Go's name"},
};

static const struct {
	const char *name, *instead;
} missing[] = {
	{"heap", "cprof has no heap profile: it samples threads from outside "
		 "and sees no allocations; use profile or wall"},
	{"allocs", "cprof has no allocation profile: it samples threads from "
		   "outside and sees no allocations; use profile or wall"},
	{"block", "cprof has no block profile: use wall and go tool pprof "
		  "-tagfocus=state=sleeping"},
	{"mutex", "cprof has no mutex profile: use wall and go tool pprof "
		  "-tagfocus=wait=futex"},
	{"threadcreate", "cprof has no threadcreate profile: threads shows "
			 "every thread"},
	{"cmdline", "cprof does not serve the target's command line, which "
		    "may hold secrets; the index names its executable"},
	{"symbol", "cprof symbolizes its profiles itself; there is no symbol "
		   "endpoint"},
	{"trace", "cprof has no execution trace: use wall"},
};

static void html_escape(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (; *in && o + 7 < len; in++) {
		const char *rep = *in == '<'   ? "&lt;"
				  : *in == '>' ? "&gt;"
				  : *in == '&' ? "&amp;"
				  : *in == '"' ? "&quot;"
					       : NULL;

		if (rep) {
			memcpy(out + o, rep, strlen(rep));
			o += strlen(rep);
		} else {
			out[o++] = *in;
		}
	}
	out[o] = '\0';
}

static enum MHD_Result serve_index(struct server *s,
				   struct MHD_Connection *conn)
{
	char link[64], exe[PATH_MAX], safe[PATH_MAX * 2];
	struct MHD_Response *resp;
	char *page = NULL;
	size_t size = 0;
	ssize_t n;
	FILE *fp;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)s->opts.pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	html_escape(n > 0 ? exe : "(unknown)", safe, sizeof(safe));
	fp = open_memstream(&page, &size);
	if (!fp)
		return MHD_NO;
	fprintf(fp,
		"<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
		"<title>/debug/pprof/</title>\n</head>\n<body>\n"
		"<h1>/debug/pprof/</h1>\n"
		"<p>pid %d, executable %s, served by cprof</p>\n<ul>\n",
		(int)s->opts.pid, safe);
	for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++)
		fprintf(fp, "<li><a href=\"%s%s\">%s</a>: %s</li>\n",
			endpoints[i].name, endpoints[i].query,
			endpoints[i].name, endpoints[i].what);
	fputs("</ul>\n<p>threads and goroutine take debug=0 (pprof), 1 or 2; "
	      "profile and wall take seconds=N.</p>\n</body>\n</html>\n",
	      fp);
	if (fclose(fp) != 0) {
		free(page);
		return MHD_NO;
	}
	resp = MHD_create_response_from_buffer(size, page,
					       MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(page);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type",
				"text/html; charset=utf-8");
	return queue(conn, MHD_HTTP_OK, resp);
}

/* ---- requests ---- */

/* Constant time in the token's content: every byte is compared. */
static bool token_matches(const char *want, const char *got)
{
	size_t wlen = strlen(want), glen = strlen(got);
	unsigned char diff = wlen != glen;

	for (size_t i = 0; i < wlen; i++)
		diff |= (unsigned char)want[i] ^
			(unsigned char)(i < glen ? got[i] : 0);
	return diff == 0;
}

static bool authorized(struct server *s, struct MHD_Connection *conn)
{
	const char *auth;

	if (!s->opts.token)
		return true;
	auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					   MHD_HTTP_HEADER_AUTHORIZATION);
	if (!auth || strncmp(auth, "Bearer ", 7) != 0)
		return false;
	return token_matches(s->opts.token, auth + 7);
}

static enum MHD_Result dispatch(struct server *s, struct MHD_Connection *conn,
				const char *name, bool head)
{
	if (name[0] == '\0')
		return serve_index(s, conn);
	if (strcmp(name, "profile") == 0 || strcmp(name, "wall") == 0) {
		if (head)
			return reply_head(conn, true);
		return serve_record(s, conn,
				    name[0] == 'p' ? SESSION_CPU : SESSION_WALL,
				    name);
	}
	if (strcmp(name, "threads") == 0 || strcmp(name, "goroutine") == 0) {
		int debug;

		if (head)
			return reply_head(conn, parse_debug(conn, &debug) < 0 ||
							debug == 0);
		return serve_threads(s, conn);
	}
	for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++)
		if (strcmp(name, missing[i].name) == 0)
			return reply_error(conn, MHD_HTTP_NOT_FOUND, "%s",
					   missing[i].instead);
	return reply_error(conn, MHD_HTTP_NOT_FOUND,
			   "unknown profile; see " PREFIX);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
			      const char *url, const char *method,
			      const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct server *s = cls;
	bool head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;

	/* Answered at once: a body, if any, is not read. */
	*upload_data_size = 0;
	if (!authorized(s, conn))
		return reply_error(conn, MHD_HTTP_UNAUTHORIZED,
				   "unauthorized: send Authorization: Bearer "
				   "TOKEN");
	if (!head && strcmp(method, MHD_HTTP_METHOD_GET) != 0)
		return reply_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				   "method %.20s not allowed: use GET or HEAD",
				   method);
	if (strcmp(url, "/debug/pprof") == 0 || strcmp(url, "/") == 0) {
		struct MHD_Response *resp = MHD_create_response_from_buffer(
			0, "", MHD_RESPMEM_PERSISTENT);

		if (!resp)
			return MHD_NO;
		MHD_add_response_header(resp, "Location", PREFIX);
		return queue(conn, MHD_HTTP_MOVED_PERMANENTLY, resp);
	}
	if (strncmp(url, PREFIX, strlen(PREFIX)) != 0)
		return reply_error(conn, MHD_HTTP_NOT_FOUND,
				   "not found; see " PREFIX);
	return dispatch(s, conn, url + strlen(PREFIX), head);
}

/* ---- the server's life ---- */

static int hold_signals(struct server *s)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	/* Held in every thread: sessions read SIGCHLD from their own
	 * signalfd, and a closed socket shows as EPIPE. */
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGPIPE);
	if (pthread_sigmask(SIG_BLOCK, &mask, &s->saved_mask) != 0)
		return -EINVAL;
	s->signals_held = true;
	sigdelset(&mask, SIGCHLD);
	sigdelset(&mask, SIGPIPE);
	s->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	return s->sigfd < 0 ? -errno : 0;
}

int serve_new(const struct serve_options *opts, struct server **ret_server,
	      enum serve_failure *ret_failure)
{
	struct server *s = calloc(1, sizeof(*s));
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
	int r;

	*ret_failure = SERVE_FAIL_LIBRARY;
	r = mhd_load();
	if (r < 0) {
		free(s);
		return r;
	}
	*ret_failure = SERVE_FAIL_MEMORY;
	if (!s)
		return -ENOMEM;
	s->opts = *opts;
	s->sigfd = s->pidfd = s->shutdown_fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->idle, NULL);
	*ret_failure = SERVE_FAIL_SIGNALS;
	r = hold_signals(s);
	if (r < 0)
		goto fail;
	s->shutdown_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->shutdown_fd < 0) {
		r = -errno;
		goto fail;
	}
	*ret_failure = SERVE_FAIL_TARGET;
	s->pidfd = (int)syscall(SYS_pidfd_open, opts->pid, 0);
	if (s->pidfd < 0) {
		r = -errno;
		goto fail;
	}
	*ret_failure = SERVE_FAIL_LISTEN;
	if (opts->addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR,
		(const struct sockaddr *)&s->opts.addr,
		MHD_OPTION_CONNECTION_LIMIT, opts->connection_limit,
		MHD_OPTION_CONNECTION_TIMEOUT, opts->timeout_seconds,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
		MHD_OPTION_END);
	if (!s->daemon) {
		/* MHD does not say why; binding again does. */
		int fd = socket(opts->addr.ss_family,
				SOCK_STREAM | SOCK_CLOEXEC, 0),
		    one = 1;

		r = -EADDRNOTAVAIL;
		if (fd >= 0) {
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
				   sizeof(one));
			if (bind(fd, (const struct sockaddr *)&opts->addr,
				 opts->addrlen) < 0)
				r = -errno;
			close(fd);
		}
		goto fail;
	}
	*ret_server = s;
	return 0;
fail:
	serve_free(s);
	return r;
}

unsigned serve_port(const struct server *s)
{
	const union MHD_DaemonInfo *info =
		MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);

	return info ? info->port : 0;
}

int serve_run(struct server *s, enum serve_end *ret_end)
{
	struct pollfd pfds[2] = {{.fd = s->sigfd, .events = POLLIN},
				 {.fd = s->pidfd, .events = POLLIN}};
	struct signalfd_siginfo info;
	uint64_t one = 1;

	for (;;) {
		if (poll(pfds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfds[0].revents &&
		    read(s->sigfd, &info, sizeof(info)) == sizeof(info)) {
			*ret_end = SERVE_END_SIGNAL;
			break;
		}
		if (pfds[1].revents) {
			*ret_end = SERVE_END_TARGET_EXITED;
			break;
		}
	}
	/* A profile in flight ends at its session's next wait; then every
	 * connection's thread is joined. */
	atomic_store(&s->shutting_down, true);
	if (write(s->shutdown_fd, &one, sizeof(one)) < 0)
		return -errno;
	MHD_stop_daemon(s->daemon);
	s->daemon = NULL;
	return 0;
}

void serve_free(struct server *s)
{
	if (!s)
		return;
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	if (s->pidfd >= 0)
		close(s->pidfd);
	if (s->shutdown_fd >= 0)
		close(s->shutdown_fd);
	if (s->sigfd >= 0)
		close(s->sigfd);
	if (s->signals_held)
		pthread_sigmask(SIG_SETMASK, &s->saved_mask, NULL);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->idle);
	free(s);
}
