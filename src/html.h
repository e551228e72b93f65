/*
 * html.h - the one place where text becomes HTML, shared by the static
 * dashboard and the worker's web page.
 *
 * Everything that comes from users or tasks (ids, node names, labels,
 * scripts, stdout, stderr) goes through dg_html_escape before it reaches a
 * page: & < > " ' become entities, so the result is safe both as element
 * text and inside a double- or single-quoted attribute value. The page is
 * served as UTF-8; valid UTF-8 passes through, invalid bytes, NUL and other
 * control characters (except tab, newline, carriage return) become U+FFFD,
 * so a hostile byte string cannot break the document's encoding either.
 *
 * Times are written as <time datetime="2026-11-27T10:01:23Z">...</time>
 * with the absolute UTC time as text, so a page read without JavaScript or
 * from a cache is still honest; DG_HTML_AGO_SCRIPT (static, no user data)
 * may rewrite them to "42 s ago" in the browser.
 */
#ifndef DG_HTML_H
#define DG_HTML_H

#include "common.h"
#include "strbuf.h"

/* Appends s (NUL-terminated) escaped. NULL appends nothing. */
void dg_html_escape(struct dg_strbuf *sb, const char *s);
/* Appends len bytes of s escaped (embedded NULs become U+FFFD). */
void dg_html_escape_n(struct dg_strbuf *sb, const char *s, size_t len);

/*
 * Appends at most max_lines lines and max_bytes bytes of s, escaped, cut at
 * a character boundary; appends "…" when something was left out.
 */
void dg_html_escape_excerpt(struct dg_strbuf *sb, const char *s,
			    size_t max_lines, size_t max_bytes);

/* Formats unix seconds as "2026-11-27T10:01:23Z" (out holds 32 bytes). */
void dg_html_utc(char out[32], int64_t unix_seconds);

/*
 * Appends <time datetime="UTC" class="ago">UTC</time>, or "never" when
 * unix_seconds is <= 0.
 */
void dg_html_time(struct dg_strbuf *sb, int64_t unix_seconds);

/* Turns every <time class="ago"> into "42 s ago" (title keeps the UTC). */
#define DG_HTML_AGO_SCRIPT \
	"<script>(function(){var n=Date.now();" \
	"document.querySelectorAll('time.ago').forEach(function(e){" \
	"var t=Date.parse(e.getAttribute('datetime'));if(isNaN(t))return;" \
	"var s=Math.round((n-t)/1000),a=Math.abs(s),v;" \
	"if(a<120)v=a+' s';else if(a<7200)v=Math.round(a/60)+' min';" \
	"else if(a<172800)v=Math.round(a/3600)+' h';else v=Math.round(a/86400)+' d';" \
	"e.title=e.textContent;e.textContent=s>=0?v+' ago':'in '+v;});})();</script>"

/*
 * Appends a Content-Security-Policy that allows inline styles and exactly
 * DG_HTML_AGO_SCRIPT (by its SHA-256) and nothing else: no other script,
 * no external resource. Defence in depth behind the escaping.
 */
void dg_html_csp(struct dg_strbuf *sb);
/* The same policy for another page's one script, given with its <script> tags. */
void dg_html_csp_for(struct dg_strbuf *sb, const char *script);

#endif
