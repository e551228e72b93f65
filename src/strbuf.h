/*
 * strbuf.h - the one growable string type (git's strbuf invariants).
 *
 * Invariants: sb->buf is never NULL and is always NUL-terminated at
 * sb->buf[sb->len]; it may hold embedded NUL bytes (output of tasks does).
 * A buffer made with DG_STRBUF_INIT points at a static empty string and owns
 * nothing until it first grows. dg_strbuf_release() frees the contents and
 * re-initialises; dg_strbuf_detach() hands the memory to the caller.
 */
#ifndef DG_STRBUF_H
#define DG_STRBUF_H

#include "common.h"

extern char dg_strbuf_empty[];

struct dg_strbuf {
	size_t alloc;
	size_t len;
	char *buf;
};

#define DG_STRBUF_INIT { 0, 0, dg_strbuf_empty }

void dg_strbuf_init(struct dg_strbuf *sb, size_t hint);
void dg_strbuf_release(struct dg_strbuf *sb);
char *dg_strbuf_detach(struct dg_strbuf *sb, size_t *len);
void dg_strbuf_grow(struct dg_strbuf *sb, size_t extra);
void dg_strbuf_setlen(struct dg_strbuf *sb, size_t len);
static inline void dg_strbuf_reset(struct dg_strbuf *sb)
{
	dg_strbuf_setlen(sb, 0);
}

void dg_strbuf_add(struct dg_strbuf *sb, const void *data, size_t len);
void dg_strbuf_addstr(struct dg_strbuf *sb, const char *s);
void dg_strbuf_addch(struct dg_strbuf *sb, int c);
void dg_strbuf_addf(struct dg_strbuf *sb, const char *fmt, ...) DG_PRINTF(2, 3);
void dg_strbuf_vaddf(struct dg_strbuf *sb, const char *fmt, va_list ap) DG_PRINTF(2, 0);

/* Removes trailing whitespace. */
void dg_strbuf_rtrim(struct dg_strbuf *sb);

/*
 * Appends up to max bytes read from fd (all of it when max is 0).
 * Returns the number of bytes read, or -1 with errno set.
 */
ssize_t dg_strbuf_read_fd(struct dg_strbuf *sb, int fd, size_t max);

/*
 * Appends the contents of the file at path. Fails with DG_EINVALID (and a
 * message) when the file is larger than max bytes (max 0: no limit), with
 * DG_ENOTFOUND when it does not exist, DG_ERROR otherwise.
 */
int dg_strbuf_read_file(struct dg_strbuf *sb, const char *path, size_t max);

#endif
