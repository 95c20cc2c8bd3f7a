/* SPDX-License-Identifier: MIT */
/*
 * C++ and Rust legacy names through the C++ runtime's demangler: Rust's
 * legacy scheme is Itanium mangling whose last component is a hash,
 * "h" and 16 hex digits, which says nothing to a reader and is dropped.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/demangle.h"

/* libstdc++'s demangler; its C++ header cannot be included from C. */
char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

#define RUST_HASH_DIGITS 16
#define RUST_HASH_LEN	 (sizeof("::h") - 1 + RUST_HASH_DIGITS)

static bool is_rust_hash(const char *s)
{
	if (strncmp(s, "::h", 3) != 0)
		return false;
	for (int i = 0; i < RUST_HASH_DIGITS; i++)
		if (!isxdigit((unsigned char)s[3 + i]))
			return false;
	return s[3 + RUST_HASH_DIGITS] == '\0';
}

static void strip_rust_hash(char *name)
{
	size_t len = strlen(name);

	if (len > RUST_HASH_LEN && is_rust_hash(name + len - RUST_HASH_LEN))
		name[len - RUST_HASH_LEN] = '\0';
}

char *demangle(const char *name)
{
	int status = 0;
	char *out;

	if (strncmp(name, "_Z", 2) != 0)
		return NULL;
	out = __cxa_demangle(name, NULL, NULL, &status);
	if (!out || status != 0) {
		free(out);
		return NULL;
	}
	strip_rust_hash(out);
	return out;
}
