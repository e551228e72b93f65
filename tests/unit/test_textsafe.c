#include "common.h"
#include "log.h"
#include "strbuf.h"
#include "textsafe.h"

#include <jansson.h>
#include <setjmp.h>
#include <cmocka.h>
#include <unistd.h>

static void expect_escaped(const char *in, size_t len, const char *want)
{
	struct dg_strbuf sb = DG_STRBUF_INIT;

	dg_textsafe_add(&sb, in, len);
	assert_string_equal(sb.buf, want);
	assert_int_equal(sb.len, strlen(want));
	dg_strbuf_release(&sb);
}

#define EXPECT(in, want) expect_escaped(in, sizeof(in) - 1, want)

static void test_controls(void **state DG_UNUSED)
{
	/* the attacks of the issue: OSC 52 clipboard write, clear screen, CSI, bare CR */
	EXPECT("a\x1b]52;c;aGk=\x07z", "a\\x1b]52;c;aGk=\\x07z");
	EXPECT("\x1b[2J", "\\x1b[2J");
	EXPECT("x\xc2\x9b" "31mred", "x\\u009b31mred");
	EXPECT("over\rwrite", "over\\rwrite");
	EXPECT("two\nlines\tand tab", "two\\nlines\\tand tab");
	EXPECT("nul\0byte", "nul\\x00byte");
	EXPECT("del\x7f", "del\\x7f");
	EXPECT("\x01\x1f", "\\x01\\x1f");
	EXPECT("\xc2\x80\xc2\x9f", "\\u0080\\u009f");
}

static void test_printable_utf8_stays(void **state DG_UNUSED)
{
	EXPECT("plain ASCII ~!@#$%^&*()_+ \\ back", "plain ASCII ~!@#$%^&*()_+ \\ back");
	/* U+00A0 follows the C1 range: printable, kept */
	EXPECT("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc2\xa0", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc2\xa0");
}

static void test_invalid_utf8(void **state DG_UNUSED)
{
	EXPECT("\xff", "\\xff");
	EXPECT("lone\x9b", "lone\\x9b");          /* an 8-bit CSI outside UTF-8 */
	EXPECT("\xc0\x80", "\\xc0\\x80");         /* overlong NUL */
	EXPECT("\xed\xa0\x80", "\\xed\\xa0\\x80"); /* surrogate */
	EXPECT("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"); /* beyond U+10FFFF */
	EXPECT("cut\xe2\x82", "cut\\xe2\\x82");   /* truncated sequence at the end */
	EXPECT("\xe2(x", "\\xe2(x");
}

static void test_addf_and_null(void **state DG_UNUSED)
{
	struct dg_strbuf sb = DG_STRBUF_INIT;

	dg_textsafe_addstr(&sb, NULL);
	assert_int_equal(sb.len, 0);
	dg_textsafe_addf(&sb, "file=%s n=%d", "q\x1b[2J.json", 3);
	assert_string_equal(sb.buf, "file=q\\x1b[2J.json n=3");
	dg_strbuf_release(&sb);
}

static void test_json(void **state DG_UNUSED)
{
	static const char value[] = "e\x1b[2J d\x7f c1\xc2\x9b\xc2\x80 ok\xc3\xa9";
	json_t *doc = json_pack("{s:s}", "v", value), *back;
	struct dg_strbuf sb = DG_STRBUF_INIT;
	char *text = json_dumps(doc, JSON_COMPACT);

	assert_non_null(text);
	dg_textsafe_json(&sb, text, strlen(text));
	assert_null(memchr(sb.buf, 0x1b, sb.len));
	assert_null(memchr(sb.buf, 0x7f, sb.len));
	assert_null(strstr(sb.buf, "\xc2\x9b"));
	assert_null(strstr(sb.buf, "\xc2\x80"));
	assert_non_null(strstr(sb.buf, "\\u007f"));
	assert_non_null(strstr(sb.buf, "\\u009b\\u0080"));
	assert_non_null(strstr(sb.buf, "ok\xc3\xa9"));
	/* still valid JSON, with the very same value */
	back = json_loads(sb.buf, 0, NULL);
	assert_non_null(back);
	assert_string_equal(json_string_value(json_object_get(back, "v")), value);
	json_decref(back);
	json_decref(doc);
	free(text);
	dg_strbuf_release(&sb);
}

/* The logger escapes the whole line and still redacts secrets. */
static void test_log_line(void **state DG_UNUSED)
{
	char path[] = "/tmp/dg-textsafe-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	struct dg_strbuf sb = DG_STRBUF_INIT;
	size_t newlines = 0;

	assert_true(fd >= 0 && saved >= 0);
	dup2(fd, STDERR_FILENO);
	dg_log_add_secret("hunter2-secret");
	dg_log(DG_LOG_WARNING, "node=%s file=%s token=%s", "n\x1b]52;c;eA==\x07",
	       "a\rb\nforged event=x\xc2\x9b", "hunter2-secret");
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	assert_int_equal(dg_strbuf_read_file(&sb, path, 0), 0);
	unlink(path);
	for (size_t i = 0; i < sb.len; i++)
		newlines += sb.buf[i] == '\n';
	assert_int_equal(newlines, 1);
	assert_int_equal(sb.buf[sb.len - 1], '\n');
	assert_null(memchr(sb.buf, 0x1b, sb.len));
	assert_null(memchr(sb.buf, 0x07, sb.len));
	assert_null(memchr(sb.buf, '\r', sb.len));
	assert_null(strstr(sb.buf, "\xc2\x9b"));
	assert_non_null(strstr(sb.buf, "node=n\\x1b]52;c;eA==\\x07 file=a\\rb\\nforged event=x\\u009b"));
	assert_null(strstr(sb.buf, "hunter2-secret"));
	assert_non_null(strstr(sb.buf, "token=***"));
	dg_strbuf_release(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_controls),
		cmocka_unit_test(test_printable_utf8_stays),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_addf_and_null),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_log_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
