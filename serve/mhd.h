/* SPDX-License-Identifier: MIT */
/*
 * libmicrohttpd, loaded when a server starts rather than with cprof.
 * Debian builds it with TLS, so linking it would make every cprof run
 * (a snapshot, a recording) load gnutls and nine more libraries it never
 * uses: about 3 ms of a 10-thread snapshot.  serve.c calls the MHD_*
 * functions it always called; mhd.c defines them, forwarding to the
 * library that mhd_load() opened.
 */
#ifndef CPROF_SERVE_MHD_H
#define CPROF_SERVE_MHD_H

/* The library's soname: the ABI microhttpd.h describes. */
#define MHD_SONAME "libmicrohttpd.so.12"

/* Opens the library and finds every function serve.c calls; 0, or
 * -ELIBACC when it is missing or lacks one.  Call it before any other
 * MHD_ function, from one thread; later calls return the first result. */
int mhd_load(void);

#endif
