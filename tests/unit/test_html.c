#include "common.h"
#include "html.h"
#include "strbuf.h"

#include <setjmp.h>
#include <cmocka.h>

static char *esc(const char *s)
{
	struct dg_strbuf sb = DG_STRBUF_INIT;

	dg_html_escape(&sb, s);
	return dg_strbuf_detach(&sb, NULL);
}

#define assert_escapes(in, want) do { \
		char *got_ = esc(in); \
		assert_string_equal(got_, want); \
		free(got_); \
	} while (0)

static void test_specials(void **state DG_UNUSED)
{
	assert_escapes("", "");
	assert_escapes("plain text 123", "plain text 123");
	assert_escapes("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;");
	assert_escapes("a & b", "a &amp; b");
	assert_escapes("&amp;", "&amp;amp;");
	assert_escapes("node \"quoted\" 'single'", "node &quot;quoted&quot; &#39;single&#39;");
	assert_escapes("\" onmouseover=\"x", "&quot; onmouseover=&quot;x");
	assert_escapes("tab\tnl\ncr\r", "tab\tnl\ncr\r");
}

static void test_non_ascii(void **state DG_UNUSED)
{
	/* valid UTF-8 passes through untouched */
	assert_escapes("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xE6\x97\xA5\xE6\x9C\xAC",
		       "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xE6\x97\xA5\xE6\x9C\xAC");
	/* lone continuation byte, truncated sequence, overlong '<', surrogate */
	assert_escapes("a\x80z", "a\xEF\xBF\xBDz");
	assert_escapes("a\xC3", "a\xEF\xBF\xBD");
	assert_escapes("\xC0\xBC", "\xEF\xBF\xBD\xEF\xBF\xBD");
	assert_escapes("\xE0\x80\xBC", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
	assert_escapes("\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
	assert_escapes("\xF5\x80\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
	/* control characters */
	assert_escapes("bell\x07 esc\x1b del\x7f", "bell\xEF\xBF\xBD esc\xEF\xBF\xBD del\xEF\xBF\xBD");
}

static void test_embedded_nul(void **state DG_UNUSED)
{
	struct dg_strbuf sb = DG_STRBUF_INIT;

	dg_html_escape_n(&sb, "a\0<", 3);
	assert_string_equal(sb.buf, "a\xEF\xBF\xBD&lt;");
	dg_strbuf_release(&sb);
	dg_html_escape(&sb, NULL);
	assert_int_equal(sb.len, 0);
}

static void test_excerpt(void **state DG_UNUSED)
{
	struct dg_strbuf sb = DG_STRBUF_INIT;

	dg_html_escape_excerpt(&sb, "one\ntwo\nthree\nfour\n", 2, 1000);
	assert_string_equal(sb.buf, "one\ntwo\xE2\x80\xA6");
	dg_strbuf_reset(&sb);
	dg_html_escape_excerpt(&sb, "one\ntwo\n", 2, 1000);
	assert_string_equal(sb.buf, "one\ntwo");
	dg_strbuf_reset(&sb);
	dg_html_escape_excerpt(&sb, "<b>bold</b>", 5, 6);
	assert_string_equal(sb.buf, "&lt;b&gt;bol\xE2\x80\xA6");
	dg_strbuf_reset(&sb);
	/* "é" is 2 bytes: a cut at 2 must not split it */
	dg_html_escape_excerpt(&sb, "a\xC3\xA9z", 5, 2);
	assert_string_equal(sb.buf, "a\xE2\x80\xA6");
	dg_strbuf_release(&sb);
}

static void test_time(void **state DG_UNUSED)
{
	struct dg_strbuf sb = DG_STRBUF_INIT;
	char utc[32];

	dg_html_utc(utc, 1795774883);
	assert_string_equal(utc, "2026-11-27T10:21:23Z");
	dg_html_time(&sb, 1795774883);
	assert_string_equal(sb.buf, "<time datetime=\"2026-11-27T10:21:23Z\" class=\"ago\">2026-11-27T10:21:23Z</time>");
	dg_strbuf_reset(&sb);
	dg_html_time(&sb, 0);
	assert_string_equal(sb.buf, "never");
	dg_strbuf_release(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_specials),
		cmocka_unit_test(test_non_ascii),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_excerpt),
		cmocka_unit_test(test_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
