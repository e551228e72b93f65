/*
 * log.h - one line per event on stderr:
 *
 *   2026-11-27T10:01:23.456Z info node=w1 task=t1 event=claimed
 *
 * The level comes from LOG_LEVEL (debug, info, warning, error). Secrets are
 * redacted here, at the one place every line passes through, not at each
 * call: register them with dg_log_add_secret() as soon as they are read.
 * Credentials inside URLs ("https://user:secret@host") are masked too.
 * Then the whole line is escaped with dg_textsafe_add (textsafe.h): control
 * characters, C1 controls and invalid UTF-8 become visible escapes (\x1b,
 * \n, \u009b), so no field can forge a second line or act on a terminal.
 * Thread-safe: a line is formatted in a local buffer and written whole.
 */
#ifndef DG_LOG_H
#define DG_LOG_H

#include "common.h"

enum dg_log_level {
	DG_LOG_DEBUG,
	DG_LOG_INFO,
	DG_LOG_WARNING,
	DG_LOG_ERROR,
};

void dg_log(enum dg_log_level level, const char *fmt, ...) DG_PRINTF(2, 3);
void dg_log_set_level(enum dg_log_level level);
enum dg_log_level dg_log_get_level(void);

/* Parses "debug", "info", "warning"/"warn", "error" (any case). */
int dg_log_parse_level(enum dg_log_level *out, const char *name);

/* Every later occurrence of secret (at least 4 bytes) prints as "***". */
void dg_log_add_secret(const char *secret);

/*
 * Copies src into dst with registered secrets and URL credentials masked.
 * Used by the logger and by anything else that shows text to people (the
 * web pages, error messages passed on from libgit2).
 */
struct dg_strbuf;
void dg_redact(struct dg_strbuf *dst, const char *src);

#endif
