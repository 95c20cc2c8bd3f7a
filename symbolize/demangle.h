/* SPDX-License-Identifier: MIT */
#ifndef CPROF_SYMBOLIZE_DEMANGLE_H
#define CPROF_SYMBOLIZE_DEMANGLE_H

/*
 * The readable form of a C++ or Rust symbol (legacy or v0 mangling),
 * without Rust's hash or crate disambiguators, in a string the caller
 * frees; NULL when name is not mangled (C names) or cannot be demangled.
 */
char *demangle(const char *name);

#endif
