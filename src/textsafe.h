/*
 * textsafe.h - text that is safe to show on a terminal or write to a log.
 *
 * Task ids are restricted, but much of what dgrid prints is not: file names
 * in tasks/queue, node ids under nodes/ and refs/dgrid/nodes/ (anyone who
 * can push writes those with plain git), task output, messages that quote
 * them. A terminal acts on some bytes instead of showing them: ESC starts a
 * sequence that can clear the screen, retitle the window or write the
 * clipboard (OSC 52), CR rewrites the line, and many terminals take the C1
 * controls U+0080-U+009F (CSI is U+009B) as ESC sequences too. In a log,
 * a newline forges a second event.
 *
 * dg_textsafe_add() is the one escaping for a terminal or a log line:
 *   \n \r \t                          -> the two characters \n \r \t
 *   other C0 controls (0x00-0x1f)     -> \xHH   (ESC is \x1b, BEL \x07)
 *   DEL 0x7f                          -> \x7f
 *   C1 controls (UTF-8 C2 80..C2 9F)  -> \u0080 .. \u009f
 *   a byte that is not valid UTF-8    -> \xHH   (one per byte)
 * Everything else, including every printable UTF-8 character and the
 * backslash itself, stays as it is: the result is for people to read and
 * grep, not to be decoded back.
 *
 * JSON output is already escaped by jansson for C0 but not for DEL or C1;
 * dg_textsafe_json() adds that, keeping the JSON valid and its value equal.
 */
#ifndef DG_TEXTSAFE_H
#define DG_TEXTSAFE_H

#include "common.h"
#include "strbuf.h"

/* Appends len bytes of s, escaped as above. */
void dg_textsafe_add(struct dg_strbuf *sb, const char *s, size_t len);

/* The same for a NUL-terminated string; NULL appends nothing. */
void dg_textsafe_addstr(struct dg_strbuf *sb, const char *s);

/* Formats like printf, then appends the result escaped. */
void dg_textsafe_addf(struct dg_strbuf *sb, const char *fmt, ...) DG_PRINTF(2, 3);
void dg_textsafe_vaddf(struct dg_strbuf *sb, const char *fmt, va_list ap) DG_PRINTF(2, 0);

/* Prints one formatted line to f, escaped as above, ending in a newline. */
void dg_textsafe_println(FILE *f, const char *fmt, ...) DG_PRINTF(2, 3);

/*
 * Appends JSON text produced by an encoder (every control byte already
 * inside a string as \uXXXX) with DEL and the C1 controls written as
 * \u007f and \u0080..\u009f. Other bytes are copied unchanged, so pass only
 * valid JSON: outside strings JSON has no bytes above 0x7e to change.
 */
void dg_textsafe_json(struct dg_strbuf *sb, const char *json, size_t len);

/*
 * Length of the valid UTF-8 sequence at s (at most avail bytes), or 0 when
 * it is not one: bad lead or continuation byte, overlong form, surrogate,
 * beyond U+10FFFF.
 */
size_t dg_textsafe_utf8_len(const unsigned char *s, size_t avail);

#endif
