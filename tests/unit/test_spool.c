/*
 * test_spool.c - the spool keeps one file per run (task and attempt), so
 * two attempts of one task on one node never share a file (issue 9,
 * defect 12), and older "<task_id>.json" files are picked up and renamed.
 */
#include "common.h"
#include "spool.h"
#include "strbuf.h"
#include "task.h"

#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static int setup(void **state DG_UNUSED)
{
	snprintf(dir, sizeof(dir), "/tmp/dgrid-spool-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state DG_UNUSED)
{
	char *cmd = dg_xasprintf("rm -rf '%s'", dir);
	int rc = system(cmd);

	free(cmd);
	return rc;
}

static void make_result(struct dg_result *r, const char *id, unsigned attempt, const char *out)
{
	memset(r, 0, sizeof(*r));
	r->task_id = dg_xstrdup(id);
	r->node_id = dg_xstrdup("w");
	r->attempt = attempt;
	r->status = DG_RESULT_SUCCESS;
	dg_utc_now(r->timestamp);
	dg_result_set_output(r, out, strlen(out), "", 0);
}

static void release_all(struct dg_result *items, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		dg_result_release(&items[i]);
	free(items);
}

static bool exists(const char *name)
{
	char *p = dg_xasprintf("%s/%s", dir, name);
	bool ok = access(p, F_OK) == 0;

	free(p);
	return ok;
}

static void test_two_attempts_two_files(void **state DG_UNUSED)
{
	struct dg_spool sp;
	struct dg_result a, b, *items = NULL;
	size_t nr = 0;

	assert_int_equal(dg_spool_open(&sp, dir), 0);
	make_result(&a, "x", 1, "first");
	make_result(&b, "x", 2, "second");
	assert_int_equal(dg_spool_put(&sp, &a), 0);
	assert_int_equal(dg_spool_put(&sp, &b), 0);
	assert_true(exists("x.1.json"));
	assert_true(exists("x.2.json"));
	assert_int_equal(dg_spool_load(&sp, &items, &nr), 0);
	assert_int_equal(nr, 2);
	release_all(items, nr);

	/* settling attempt 1 keeps attempt 2 */
	assert_int_equal(dg_spool_remove(&sp, &a), 0);
	assert_int_equal(dg_spool_load(&sp, &items, &nr), 0);
	assert_int_equal(nr, 1);
	assert_int_equal(items[0].attempt, 2);
	assert_string_equal(items[0].stdout_text, "second");
	release_all(items, nr);
	assert_int_equal(dg_spool_remove(&sp, &b), 0);
	dg_result_release(&a);
	dg_result_release(&b);
	dg_spool_release(&sp);
}

static void test_old_name_is_renamed(void **state DG_UNUSED)
{
	struct dg_spool sp;
	struct dg_result a, *items = NULL;
	struct dg_strbuf json = DG_STRBUF_INIT;
	char *p = dg_xasprintf("%s/y.json", dir);
	FILE *f;
	size_t nr = 0;

	make_result(&a, "y", 3, "old");
	dg_result_to_json(&json, &a);
	f = fopen(p, "w");
	assert_non_null(f);
	fwrite(json.buf, 1, json.len, f);
	fclose(f);
	assert_int_equal(dg_spool_open(&sp, dir), 0);
	assert_int_equal(dg_spool_load(&sp, &items, &nr), 0);
	assert_int_equal(nr, 1);
	assert_int_equal(items[0].attempt, 3);
	assert_false(exists("y.json"));
	assert_true(exists("y.3.json"));
	release_all(items, nr);
	assert_int_equal(dg_spool_remove(&sp, &a), 0);
	assert_false(exists("y.3.json"));
	dg_result_release(&a);
	dg_strbuf_release(&json);
	dg_spool_release(&sp);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_two_attempts_two_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_name_is_renamed, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
