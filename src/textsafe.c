#include "textsafe.h"

static const char hex[] = "0123456789abcdef";

size_t dg_textsafe_utf8_len(const unsigned char *s, size_t avail)
{
	size_t n;
	uint32_t cp;

	if (!avail)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2, cp = s[0] & 0x1F;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		n = 3, cp = s[0] & 0x0F;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n > avail)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

static void add_hex(struct dg_strbuf *sb, const char *prefix, unsigned char c)
{
	dg_strbuf_addstr(sb, prefix);
	dg_strbuf_addch(sb, hex[c >> 4]);
	dg_strbuf_addch(sb, hex[c & 0xF]);
}

/* Is the UTF-8 sequence at p (n bytes) a C1 control, U+0080..U+009F? */
static bool is_c1(const unsigned char *p, size_t n)
{
	return n == 2 && p[0] == 0xC2 && p[1] <= 0x9F;
}

void dg_textsafe_add(struct dg_strbuf *sb, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	dg_strbuf_grow(sb, len);
	while (i < len) {
		unsigned char c = p[i];
		size_t n;

		if (c == '\n' || c == '\r' || c == '\t') {
			dg_strbuf_addch(sb, '\\');
			dg_strbuf_addch(sb, c == '\n' ? 'n' : c == '\r' ? 'r' : 't');
			i++;
			continue;
		}
		if (c < 0x20 || c == 0x7F) {
			add_hex(sb, "\\x", c);
			i++;
			continue;
		}
		n = dg_textsafe_utf8_len(p + i, len - i);
		if (!n) {
			add_hex(sb, "\\x", c);
			i++;
			continue;
		}
		if (is_c1(p + i, n))
			add_hex(sb, "\\u00", p[i + 1]);
		else
			dg_strbuf_add(sb, p + i, n);
		i += n;
	}
}

void dg_textsafe_addstr(struct dg_strbuf *sb, const char *s)
{
	if (s)
		dg_textsafe_add(sb, s, strlen(s));
}

void dg_textsafe_vaddf(struct dg_strbuf *sb, const char *fmt, va_list ap)
{
	struct dg_strbuf raw = DG_STRBUF_INIT;

	dg_strbuf_vaddf(&raw, fmt, ap);
	dg_textsafe_add(sb, raw.buf, raw.len);
	dg_strbuf_release(&raw);
}

void dg_textsafe_addf(struct dg_strbuf *sb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dg_textsafe_vaddf(sb, fmt, ap);
	va_end(ap);
}

void dg_textsafe_json(struct dg_strbuf *sb, const char *json, size_t len)
{
	const unsigned char *p = (const unsigned char *)json;

	dg_strbuf_grow(sb, len);
	for (size_t i = 0; i < len; i++) {
		if (p[i] == 0x7F) {
			dg_strbuf_addstr(sb, "\\u007f");
		} else if (p[i] == 0xC2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F) {
			add_hex(sb, "\\u00", p[i + 1]);
			i++;
		} else {
			dg_strbuf_addch(sb, (char)p[i]);
		}
	}
}

void dg_textsafe_println(FILE *f, const char *fmt, ...)
{
	struct dg_strbuf safe = DG_STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	dg_textsafe_vaddf(&safe, fmt, ap);
	va_end(ap);
	dg_strbuf_addch(&safe, '\n');
	fwrite(safe.buf, 1, safe.len, f);
	dg_strbuf_release(&safe);
}
