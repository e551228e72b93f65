/*
 * error.h - the last error message of the calling thread (libgit2 style).
 *
 * Modules never print. When a function fails it records a one-line message
 * with dg_error_set() and returns a negative enum dg_error_code; the caller
 * reads dg_error_last() on the same thread before calling anything else that
 * may fail. Messages are lowercase, failure first, subjects quoted.
 */
#ifndef DG_ERROR_H
#define DG_ERROR_H

#include "common.h"

void dg_error_set(const char *fmt, ...) DG_PRINTF(1, 2);
/* Prefixes the current message: "prefix: old message". */
void dg_error_prefix(const char *fmt, ...) DG_PRINTF(1, 2);
/* Never NULL; "" when no error was recorded. Valid until the next set. */
const char *dg_error_last(void);
void dg_error_clear(void);

#endif
