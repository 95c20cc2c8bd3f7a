/* SPDX-License-Identifier: MIT */
/*
 * C++ and Rust names through libiberty's demangler, the one binutils, gdb
 * and perf use: it reads the Itanium C++ ABI and both of Rust's schemes,
 * legacy (Itanium mangling whose last component is a hash) and v0 ("_R").
 * Without DMGL_VERBOSE it leaves out what says nothing to a reader: the
 * legacy hash ("::h" and 16 hex digits) and v0's crate disambiguators.
 */
#include <libiberty/demangle.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/demangle.h"

char *demangle(const char *name)
{
	/* Only what is mangled: a C name that happens to parse as a type
	 * ("i", "f") stays as it is. */
	if (strncmp(name, "_Z", 2) != 0 && strncmp(name, "_R", 2) != 0)
		return NULL;
	/* DMGL_AUTO tries Rust first: a legacy Rust name is also a valid
	 * C++ name, whose hash C++ rules would keep. */
	return cplus_demangle(name, DMGL_PARAMS | DMGL_ANSI | DMGL_AUTO);
}
