/* SPDX-License-Identifier: MIT */
/*
 * The MHD_ functions serve.c calls, each a jump through the table
 * mhd_load() fills from the library.  The table is written once, before
 * the daemon's threads exist, and only read after.
 */
#include "serve/mhd.h"

#include <dlfcn.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdbool.h>

static struct {
	bool tried;
	int result;
	struct MHD_Daemon *(*start_daemon_va)(unsigned int flags, uint16_t port,
					      MHD_AcceptPolicyCallback apc,
					      void *apc_cls,
					      MHD_AccessHandlerCallback dh,
					      void *dh_cls, va_list ap);
	void (*stop_daemon)(struct MHD_Daemon *daemon);
	const union MHD_DaemonInfo *(*get_daemon_info)(
		struct MHD_Daemon *daemon, enum MHD_DaemonInfoType type, ...);
	const union MHD_ConnectionInfo *(*get_connection_info)(
		struct MHD_Connection *conn, enum MHD_ConnectionInfoType type,
		...);
	const char *(*lookup_connection_value)(struct MHD_Connection *conn,
					       enum MHD_ValueKind kind,
					       const char *key);
	enum MHD_Result (*queue_response)(struct MHD_Connection *conn,
					  unsigned int status,
					  struct MHD_Response *resp);
	struct MHD_Response *(*create_response_from_buffer)(
		size_t size, void *buffer, enum MHD_ResponseMemoryMode mode);
	struct MHD_Response *(*create_response_from_fd)(size_t size, int fd);
	enum MHD_Result (*add_response_header)(struct MHD_Response *resp,
					       const char *header,
					       const char *content);
	void (*destroy_response)(struct MHD_Response *resp);
} api;

/* dlsym's void * into a function pointer, the POSIX way. */
#define FIND(lib, field, name) (*(void **)&api.field = dlsym(lib, name)) != NULL

static int load(void)
{
	/* Held open for good: the daemon's threads run its code. */
	void *lib = dlopen(MHD_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!lib)
		return -ELIBACC;
	if (FIND(lib, start_daemon_va, "MHD_start_daemon_va") &&
	    FIND(lib, stop_daemon, "MHD_stop_daemon") &&
	    FIND(lib, get_daemon_info, "MHD_get_daemon_info") &&
	    FIND(lib, get_connection_info, "MHD_get_connection_info") &&
	    FIND(lib, lookup_connection_value, "MHD_lookup_connection_value") &&
	    FIND(lib, queue_response, "MHD_queue_response") &&
	    FIND(lib, create_response_from_buffer,
		 "MHD_create_response_from_buffer") &&
	    FIND(lib, create_response_from_fd, "MHD_create_response_from_fd") &&
	    FIND(lib, add_response_header, "MHD_add_response_header") &&
	    FIND(lib, destroy_response, "MHD_destroy_response"))
		return 0;
	return -ELIBACC;
}

int mhd_load(void)
{
	if (!api.tried) {
		api.tried = true;
		api.result = load();
	}
	return api.result;
}

struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port,
				    MHD_AcceptPolicyCallback apc, void *apc_cls,
				    MHD_AccessHandlerCallback dh, void *dh_cls,
				    ...)
{
	struct MHD_Daemon *daemon;
	va_list ap;

	va_start(ap, dh_cls);
	daemon = api.start_daemon_va(flags, port, apc, apc_cls, dh, dh_cls, ap);
	va_end(ap);
	return daemon;
}

void MHD_stop_daemon(struct MHD_Daemon *daemon)
{
	api.stop_daemon(daemon);
}

/* serve.c asks only for kinds that take no further argument. */
const union MHD_DaemonInfo *MHD_get_daemon_info(struct MHD_Daemon *daemon,
						enum MHD_DaemonInfoType type,
						...)
{
	return api.get_daemon_info(daemon, type);
}

const union MHD_ConnectionInfo *
MHD_get_connection_info(struct MHD_Connection *conn,
			enum MHD_ConnectionInfoType type, ...)
{
	return api.get_connection_info(conn, type);
}

const char *MHD_lookup_connection_value(struct MHD_Connection *conn,
					enum MHD_ValueKind kind,
					const char *key)
{
	return api.lookup_connection_value(conn, kind, key);
}

enum MHD_Result MHD_queue_response(struct MHD_Connection *conn,
				   unsigned int status,
				   struct MHD_Response *resp)
{
	return api.queue_response(conn, status, resp);
}

struct MHD_Response *
MHD_create_response_from_buffer(size_t size, void *buffer,
				enum MHD_ResponseMemoryMode mode)
{
	return api.create_response_from_buffer(size, buffer, mode);
}

struct MHD_Response *MHD_create_response_from_fd(size_t size, int fd)
{
	return api.create_response_from_fd(size, fd);
}

enum MHD_Result MHD_add_response_header(struct MHD_Response *resp,
					const char *header, const char *content)
{
	return api.add_response_header(resp, header, content);
}

void MHD_destroy_response(struct MHD_Response *resp)
{
	api.destroy_response(resp);
}
