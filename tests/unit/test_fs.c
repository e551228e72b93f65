/*
 * test_fs.c - dg_fs_write leaves the file and no temporary behind;
 * dg_fs_rmtree removes a tree without following a symbolic link out of it,
 * and a missing path is not an error.
 */
#include "common.h"
#include "fs.h"
#include "strbuf.h"

#include <setjmp.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static int setup(void **state DG_UNUSED)
{
	snprintf(dir, sizeof(dir), "/tmp/dgrid-fs-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state DG_UNUSED)
{
	return dg_fs_rmtree(dir);
}

static char *at(const char *name)
{
	return dg_xasprintf("%s/%s", dir, name);
}

static void test_write_replaces(void **state DG_UNUSED)
{
	struct dg_strbuf sb = DG_STRBUF_INIT;
	char *path = at("f.txt"), *tmp = at(".f.txt.tmp");

	assert_int_equal(dg_fs_write(dir, "f.txt", "old", 3), 0);
	assert_int_equal(dg_fs_write(dir, "f.txt", "new\n", 4), 0);
	assert_int_equal(dg_strbuf_read_file(&sb, path, 0), 0);
	assert_string_equal(sb.buf, "new\n");
	assert_int_not_equal(access(tmp, F_OK), 0);
	assert_int_equal(dg_fs_write("/nonexistent-dgrid-dir", "f", "x", 1), DG_ERROR);
	dg_strbuf_release(&sb);
	free(path);
	free(tmp);
}

static void test_rmtree_stays_inside(void **state DG_UNUSED)
{
	char *tree = at("tree"), *sub = at("tree/a"), *outside = at("keep.txt");
	char *link = at("tree/a/link"), *missing = at("missing");

	assert_int_equal(dg_fs_mkdir(tree), 0);
	assert_int_equal(dg_fs_mkdir(tree), 0); /* exists: fine */
	assert_int_equal(dg_fs_mkdir(sub), 0);
	assert_int_equal(dg_fs_write(sub, "f", "x", 1), 0);
	assert_int_equal(dg_fs_write(dir, "keep.txt", "x", 1), 0);
	assert_int_equal(symlink(outside, link), 0);
	assert_int_equal(dg_fs_rmtree(tree), 0);
	assert_int_not_equal(access(tree, F_OK), 0);
	assert_int_equal(access(outside, F_OK), 0);
	assert_int_equal(dg_fs_rmtree(missing), 0);
	free(tree);
	free(sub);
	free(outside);
	free(link);
	free(missing);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_replaces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rmtree_stays_inside, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
