/*
 * test_layout.c - result names: the path of a run, and which task a file
 * name belongs to. Original-layout names ({node}-{task}.json) are ambiguous
 * and must be left to their content (DG_ENOTFOUND), never guessed.
 */
#include "common.h"
#include "layout.h"
#include "strbuf.h"

#include <setjmp.h>
#include <cmocka.h>

static void test_result_path(void **state DG_UNUSED)
{
	struct dg_strbuf p = DG_STRBUF_INIT;

	dg_layout_result_path(&p, DG_RESULT_SUCCESS, "1-t", "w", 1, 2);
	assert_string_equal(p.buf, "tasks/completed/1-t.w.1.json");
	dg_strbuf_reset(&p);
	dg_layout_result_path(&p, DG_RESULT_TIMEOUT, "t", "w-1.example.com", 12, 1);
	assert_string_equal(p.buf, "tasks/failed/t.w-1.example.com.12.json");
	dg_strbuf_reset(&p);
	/* protocol 3: three levels of SHA-256("1-t") = a3e... */
	dg_layout_result_path(&p, DG_RESULT_SUCCESS, "1-t", "w", 1, 3);
	assert_string_equal(p.buf, "tasks/completed/a/3/e/1-t.w.1.json");
	dg_strbuf_release(&p);
}

/* The shards are SHA-256 hex digits: the documented format others compute too. */
static void test_task_path(void **state DG_UNUSED)
{
	struct dg_strbuf p = DG_STRBUF_INIT;

	dg_layout_task_path(&p, "tasks/queue", "hello", 3);
	assert_string_equal(p.buf, "tasks/queue/2/c/hello.json");
	dg_strbuf_reset(&p);
	dg_layout_task_path(&p, "tasks/in_progress", "t", 3);
	assert_string_equal(p.buf, "tasks/in_progress/e/3/t.json");
	dg_strbuf_reset(&p);
	dg_layout_task_path(&p, "tasks/queue", "hello", 2);
	assert_string_equal(p.buf, "tasks/queue/hello.json");
	dg_strbuf_reset(&p);
	dg_layout_shard(&p, "t", 3);
	assert_string_equal(p.buf, "e/3/b");
	dg_strbuf_release(&p);
}

/* a queued task's lane follows its priority; 5 keeps the plain shards */
static void test_queue_path(void **state DG_UNUSED)
{
	struct dg_strbuf p = DG_STRBUF_INIT;
	struct dg_task t = DG_TASK_INIT;

	t.task_id = dg_xstrdup("hello");
	dg_layout_queue_path(&p, &t, 3);
	assert_string_equal(p.buf, "tasks/queue/2/c/hello.json");
	dg_strbuf_reset(&p);
	t.sched.priority = 9;
	dg_layout_queue_path(&p, &t, 3);
	assert_string_equal(p.buf, "tasks/queue/p9/2/c/hello.json");
	dg_strbuf_reset(&p);
	t.sched.priority = 0;
	dg_layout_queue_path(&p, &t, 3);
	assert_string_equal(p.buf, "tasks/queue/p0/2/c/hello.json");
	dg_strbuf_reset(&p);
	/* before shards there are no lanes either */
	dg_layout_queue_path(&p, &t, 2);
	assert_string_equal(p.buf, "tasks/queue/hello.json");
	dg_strbuf_reset(&p);
	dg_layout_lane_dir(&p, 5);
	assert_string_equal(p.buf, "tasks/queue");
	dg_strbuf_release(&p);
	dg_task_release(&t);
}

static void check_task(const char *name, int want_ret, const char *want_id)
{
	struct dg_strbuf id = DG_STRBUF_INIT;

	assert_int_equal(dg_layout_result_task(name, &id), want_ret);
	assert_string_equal(id.buf, want_ret == 0 ? want_id : "");
	dg_strbuf_release(&id);
}

static void test_result_task(void **state DG_UNUSED)
{
	check_task("t.w.1.json", 0, "t");
	check_task("1-t.host.example.com.3.json", 0, "1-t");
	check_task("t2.w.1~2.json", 0, "t2");
	/* the original layout: only the content can tell */
	check_task("w-1-done-1.json", DG_ENOTFOUND, NULL);
	check_task("node-x-y.json", DG_ENOTFOUND, NULL);
	check_task("x.json", DG_ENOTFOUND, NULL);
	check_task("a.b.json", DG_ENOTFOUND, NULL);
	check_task(".json", DG_ENOTFOUND, NULL);
	check_task("t..json", DG_ENOTFOUND, NULL);
	check_task("json", DG_ENOTFOUND, NULL);
	check_task("t.w.1.txt", DG_ENOTFOUND, NULL);
	check_task("t\xc3\xa2.w.1.json", DG_ENOTFOUND, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_result_path),
		cmocka_unit_test(test_task_path),
		cmocka_unit_test(test_queue_path),
		cmocka_unit_test(test_result_task),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
