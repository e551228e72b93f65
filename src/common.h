/*
 * common.h - included first by every dgrid source file.
 *
 * Pulls in the system headers nearly every module needs, the allocation
 * wrappers that abort on exhaustion (as git's xmalloc does: a daemon that
 * cannot allocate a few bytes cannot do anything sensible), and banned.h.
 */
#ifndef DG_COMMON_H
#define DG_COMMON_H

#define _GNU_SOURCE 1

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* Error codes returned by every module (0 means success). */
enum dg_error_code {
	DG_OK = 0,
	DG_ERROR = -1,      /* generic failure; message in dg_error_last() */
	DG_ENOTFOUND = -2,  /* a file, ref or object does not exist */
	DG_ECONFLICT = -3,  /* a transaction lost a race or a precondition failed */
	DG_ETIMEOUT = -4,   /* a deadline passed */
	DG_EINVALID = -5,   /* bad input: malformed JSON, failed validation */
	DG_EAUTH = -6,      /* credentials rejected */
	DG_ENET = -7,       /* the remote could not be reached */
	DG_EREFUSED = -8,   /* the server declined a push (hook, protection, throttling) */
	DG_EPROTOCOL = -9,  /* the grid needs a newer dgrid (dgrid.json "protocol") */
};

#define DG_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define DG_UNUSED __attribute__((unused))
#define DG_PRINTF(f, a) __attribute__((format(printf, f, a)))

void *dg_xmalloc(size_t size);
void *dg_xcalloc(size_t n, size_t size);
void *dg_xrealloc(void *ptr, size_t size);
char *dg_xstrdup(const char *s);
char *dg_xstrndup(const char *s, size_t n);
/* Returns a malloc'ed formatted string. */
char *dg_xasprintf(const char *fmt, ...) DG_PRINTF(1, 2);

/* Grows an array so that it holds at least nr elements; like git's ALLOC_GROW. */
#define DG_ALLOC_GROW(x, nr, alloc)                                        \
	do {                                                               \
		if ((nr) > (alloc)) {                                      \
			(alloc) = (nr) + 16 > (alloc) * 3 / 2 ? (nr) + 16   \
							: (alloc) * 3 / 2;  \
			(x) = dg_xrealloc((x), (alloc) * sizeof(*(x)));    \
		}                                                          \
	} while (0)

#include "banned.h"

#endif
