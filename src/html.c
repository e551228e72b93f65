#include "html.h"
#include "textsafe.h"

#include <sodium.h>
#include <time.h>

static const char replacement[] = "\xEF\xBF\xBD";

void dg_html_escape_n(struct dg_strbuf *sb, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	dg_strbuf_grow(sb, len + len / 8);
	while (i < len) {
		unsigned char c = p[i];
		size_t n;

		switch (c) {
		case '&': dg_strbuf_addstr(sb, "&amp;"); i++; continue;
		case '<': dg_strbuf_addstr(sb, "&lt;"); i++; continue;
		case '>': dg_strbuf_addstr(sb, "&gt;"); i++; continue;
		case '"': dg_strbuf_addstr(sb, "&quot;"); i++; continue;
		case '\'': dg_strbuf_addstr(sb, "&#39;"); i++; continue;
		case '\t': case '\n': case '\r':
			dg_strbuf_addch(sb, c);
			i++;
			continue;
		}
		if (c < 0x20 || c == 0x7F) {
			dg_strbuf_addstr(sb, replacement);
			i++;
			continue;
		}
		n = dg_textsafe_utf8_len(p + i, len - i);
		if (!n) {
			dg_strbuf_addstr(sb, replacement);
			i++;
			continue;
		}
		dg_strbuf_add(sb, p + i, n);
		i += n;
	}
}

void dg_html_escape(struct dg_strbuf *sb, const char *s)
{
	if (s)
		dg_html_escape_n(sb, s, strlen(s));
}

void dg_html_escape_excerpt(struct dg_strbuf *sb, const char *s,
			    size_t max_lines, size_t max_bytes)
{
	size_t len, lines = 0, end = 0;

	if (!s)
		return;
	len = strlen(s);
	while (end < len && end < max_bytes) {
		if (s[end] == '\n' && ++lines >= max_lines)
			break;
		end++;
	}
	/* never cut inside a UTF-8 sequence */
	while (end < len && end > 0 && ((unsigned char)s[end] & 0xC0) == 0x80)
		end--;
	dg_html_escape_n(sb, s, end);
	while (end < len && (s[end] == '\n' || s[end] == '\r'))
		end++;
	if (end < len)
		dg_strbuf_addstr(sb, "\xE2\x80\xA6");
}

void dg_html_utc(char out[32], int64_t unix_seconds)
{
	time_t t = (time_t)unix_seconds;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "?");
}

void dg_html_time(struct dg_strbuf *sb, int64_t unix_seconds)
{
	char utc[32];

	if (unix_seconds <= 0) {
		dg_strbuf_addstr(sb, "never");
		return;
	}
	dg_html_utc(utc, unix_seconds);
	dg_strbuf_addf(sb, "<time datetime=\"%s\" class=\"ago\">%s</time>", utc, utc);
}

void dg_html_csp_for(struct dg_strbuf *sb, const char *script)
{
	const size_t open_len = strlen("<script>"), close_len = strlen("</script>");
	unsigned char hash[crypto_hash_sha256_BYTES];
	char b64[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES, sodium_base64_VARIANT_ORIGINAL)];

	crypto_hash_sha256(hash, (const unsigned char *)script + open_len,
			   strlen(script) - open_len - close_len);
	sodium_bin2base64(b64, sizeof(b64), hash, sizeof(hash), sodium_base64_VARIANT_ORIGINAL);
	dg_strbuf_addf(sb, "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
		       "script-src 'sha256-%s'; base-uri 'none'; form-action 'none'", b64);
}

void dg_html_csp(struct dg_strbuf *sb)
{
	dg_html_csp_for(sb, DG_HTML_AGO_SCRIPT);
}
