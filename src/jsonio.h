/*
 * jsonio.h - helpers shared by the task, result and policy parsers: strict
 * loading with positioned error messages, locating a top-level key in the
 * source text, and number formatting for messages.
 *
 * Nothing here prints; failures set dg_error_last() and return DG_EINVALID.
 */
#ifndef DG_JSONIO_H
#define DG_JSONIO_H

#include "common.h"

#include <jansson.h>

/*
 * Loads buf as one JSON object: duplicate keys, trailing data and
 * non-objects are errors ("line 2 column 5: <jansson text>", "expected a
 * JSON object, got array"). NUL bytes inside strings are allowed (the
 * caller decides). Returns a new reference or NULL with the reason set.
 */
json_t *dg_json_load_object(const char *buf, size_t len);

/* "object", "array", "string", "integer", "real", "true", "false", "null". */
const char *dg_json_type_name(const json_t *v);

/*
 * Sets "line L column C: " describing where the value of the top-level key
 * starts in buf (a valid JSON object), or "" when it cannot be found.
 */
void dg_json_key_pos(char *out, size_t outsz, const char *buf, size_t len,
		     const char *key);

/* 7312 -> "7,312". out must hold 32 bytes. */
const char *dg_fmt_thousands(char out[32], uint64_t n);

/*
 * Copies s (len bytes) into out for use inside a quoted message: control
 * bytes become \xNN and text beyond max bytes is cut with "...".
 */
const char *dg_fmt_quoted(char *out, size_t outsz, const char *s, size_t len,
			  size_t max);

struct dg_strbuf;
/* Appends doc pretty-printed (2 spaces, key order kept) and a newline. */
void dg_json_dump(struct dg_strbuf *out, const json_t *doc);

#endif
