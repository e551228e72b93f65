#include "common.h"
#include "strbuf.h"
#include "log.h"
#include "error.h"

#include <setjmp.h>
#include <cmocka.h>
#include <unistd.h>

static void test_grow_and_detach(void **state DG_UNUSED)
{
	struct dg_strbuf sb = DG_STRBUF_INIT;
	char *s;
	size_t len;

	assert_string_equal(sb.buf, "");
	for (int i = 0; i < 1000; i++)
		dg_strbuf_addf(&sb, "%d,", i);
	assert_int_equal(sb.len, strlen(sb.buf));
	assert_memory_equal(sb.buf, "0,1,2,", 6);
	s = dg_strbuf_detach(&sb, &len);
	assert_int_equal(len, strlen(s));
	assert_string_equal(sb.buf, "");
	free(s);
}

static void test_embedded_nul(void **state DG_UNUSED)
{
	struct dg_strbuf sb = DG_STRBUF_INIT;

	dg_strbuf_add(&sb, "a\0b", 3);
	assert_int_equal(sb.len, 3);
	assert_int_equal(sb.buf[3], '\0');
	dg_strbuf_rtrim(&sb);
	assert_int_equal(sb.len, 3);
	dg_strbuf_release(&sb);
}

static void test_read_file_limit(void **state DG_UNUSED)
{
	struct dg_strbuf sb = DG_STRBUF_INIT;
	char path[] = "/tmp/dg-strbuf-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "0123456789", 10), 10);
	close(fd);
	assert_int_equal(dg_strbuf_read_file(&sb, path, 5), DG_EINVALID);
	assert_non_null(strstr(dg_error_last(), "limit 5"));
	dg_strbuf_reset(&sb);
	assert_int_equal(dg_strbuf_read_file(&sb, path, 10), 0);
	assert_string_equal(sb.buf, "0123456789");
	unlink(path);
	dg_strbuf_reset(&sb);
	assert_int_equal(dg_strbuf_read_file(&sb, path, 0), DG_ENOTFOUND);
	dg_strbuf_release(&sb);
}

static void test_redact(void **state DG_UNUSED)
{
	struct dg_strbuf sb = DG_STRBUF_INIT;

	dg_log_add_secret("s3cr3t-token");
	dg_redact(&sb, "push https://x-access-token:abc@host/r.git with s3cr3t-token!");
	assert_string_equal(sb.buf, "push https://***@host/r.git with ***!");
	dg_strbuf_reset(&sb);
	dg_redact(&sb, "git://127.0.0.1:9418/repo and user@host");
	assert_string_equal(sb.buf, "git://127.0.0.1:9418/repo and user@host");
	dg_strbuf_release(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grow_and_detach),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_read_file_limit),
		cmocka_unit_test(test_redact),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
