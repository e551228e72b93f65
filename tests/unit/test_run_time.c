/*
 * test_run_time.c - the grid's task run time from main's newest reports
 * (run_time.h), on a real repository made with git: the median of the
 * successful results' duration_ms, read once per commit, and nothing from
 * what a report commit does not name or a result does not say.
 */
#include "common.h"
#include "layout.h"
#include "run_time.h"
#include "store.h"
#include "strbuf.h"

#include <git2.h>
#include <setjmp.h>
#include <cmocka.h>

#include "repo_fixture.h"

struct grid {
	char dir[64];
	struct dg_store *store;
	struct dg_run_time rt;
};

/* Commits a result of task by node (its duration_ms field as given, raw JSON) with the summary given. */
static void commit_result(struct grid *g, const char *node, const char *task, const char *ms_json,
			  const char *summary)
{
	struct dg_strbuf dir = DG_STRBUF_INIT;

	dg_strbuf_addf(&dir, "%s/", DG_DIR_COMPLETED);
	dg_layout_shard(&dir, task, DG_RESULT_SHARD_DEPTH);
	sh_in(g->dir, "mkdir -p %s && printf '{\"task_id\": \"%s\", \"node_id\": \"%s\", \"duration_ms\": %s}\\n'"
	      " > %s/%s.%s.1.json && git add -A && git -c user.name=t -c user.email=t@l commit -q -m '%s'",
	      dir.buf, task, node, ms_json, dir.buf, task, node, summary);
	dg_strbuf_release(&dir);
}

/* A report as a worker's push says it: "NODE: report TASK (success)". */
static void report(struct grid *g, const char *node, const char *task, long ms)
{
	char json[32], summary[256];

	snprintf(json, sizeof(json), "%ld", ms);
	snprintf(summary, sizeof(summary), "%s: report %s (success)", node, task);
	commit_result(g, node, task, json, summary);
}

static void update(struct grid *g, unsigned protocol)
{
	assert_int_equal(dg_store_fetch(g->store), 0);
	dg_run_time_update(&g->rt, g->store, protocol);
}

static int setup(void **state)
{
	struct grid *g = dg_xcalloc(1, sizeof(*g));
	struct dg_store_opts so = DG_STORE_OPTS_INIT;

	if (tmpdir_make(g->dir, sizeof(g->dir), "runtime") < 0) {
		free(g);
		return -1;
	}
	sh_in(g->dir, "git -c init.defaultBranch=main init -q && echo '{\"protocol\": 3}' > dgrid.json && git add dgrid.json"
	      " && git -c user.name=t -c user.email=t@l commit -q -m seed");
	so.url = g->dir;
	so.branch = "main";
	assert_int_equal(dg_store_open(&g->store, &so), 0);
	*state = g;
	return 0;
}

static int teardown(void **state)
{
	struct grid *g = *state;
	int rc = tmpdir_remove(g->dir);

	dg_store_free(g->store);
	free(g);
	return rc;
}

/* No report yet: nothing known. Then the median of what the reports' results say. */
static void test_median_of_reports(void **state)
{
	struct grid *g = *state;

	update(g, 3);
	assert_int_equal(g->rt.nr, 0);
	assert_int_equal(dg_run_time_ms(&g->rt), 0);
	report(g, "w1", "t1", 1000);
	report(g, "w2", "t2", 9000);
	report(g, "w1", "t3", 2000);
	update(g, 3);
	assert_int_equal(g->rt.nr, 3);
	assert_int_equal(dg_run_time_ms(&g->rt), 2000);
	/* one commit reporting two: both read */
	sh_in(g->dir, "echo x > other && git add other && git -c user.name=t -c user.email=t@l commit -q -m 'w3: claim t9.json'");
	report(g, "w3", "t4", 3000);
	commit_result(g, "w3", "t5", "4000", "w3: report t5 (success) report t4 (success) claim t6.json");
	update(g, 3);
	assert_int_equal(g->rt.nr, 6);
	assert_int_equal(dg_run_time_ms(&g->rt), 3000);
}

/* A commit is read once: an update on an unchanged tip, or one that gained no report, adds nothing. */
static void test_commits_read_once(void **state)
{
	struct grid *g = *state;

	report(g, "w1", "t1", 1000);
	update(g, 3);
	update(g, 3);
	assert_int_equal(g->rt.nr, 1);
	sh_in(g->dir, "echo x > other && git add other && git -c user.name=t -c user.email=t@l commit -q -m 'w1: update'");
	update(g, 3);
	assert_int_equal(g->rt.nr, 1);
	report(g, "w1", "t2", 5000);
	update(g, 3);
	assert_int_equal(g->rt.nr, 2);
}

/* The newest DG_RUN_TIME_SAMPLES count: a grid whose tasks got slower says so. */
static void test_newest_samples(void **state)
{
	struct grid *g = *state;
	char task[16];

	for (int i = 0; i < DG_RUN_TIME_SAMPLES; i++) {
		snprintf(task, sizeof(task), "a%d", i);
		report(g, "w1", task, 100);
	}
	update(g, 3);
	assert_int_equal(dg_run_time_ms(&g->rt), 100);
	for (int i = 0; i < DG_RUN_TIME_SAMPLES / 2 + 1; i++) {
		snprintf(task, sizeof(task), "b%d", i);
		report(g, "w1", task, 60000);
	}
	update(g, 3);
	assert_int_equal(g->rt.nr, DG_RUN_TIME_SAMPLES);
	assert_int_equal(dg_run_time_ms(&g->rt), 60000);
}

/*
 * Passed over: failures, summaries without a node, names with characters
 * no id has, results whose duration_ms is missing, negative or no
 * integer, reports whose result is not where the node's name says.
 */
static void test_what_is_passed_over(void **state)
{
	struct grid *g = *state;

	commit_result(g, "w1", "f1", "5", "w1: report f1 (failure)");
	commit_result(g, "w1", "n1", "5", "report n1 (success)");
	commit_result(g, "w1", "s1", "5", "w/1: report s1 (success)");
	commit_result(g, "w1", "q1", "5", "w1: report q/1 (success)");
	commit_result(g, "w1", "m1", "\"5\"", "w1: report m1 (success)");
	commit_result(g, "w1", "m2", "-5", "w1: report m2 (success)");
	commit_result(g, "w1", "m3", "null", "w1: report m3 (success)");
	commit_result(g, "w2", "o1", "5", "w1: report o1 (success)");
	update(g, 3);
	assert_int_equal(g->rt.nr, 0);
	assert_int_equal(dg_run_time_ms(&g->rt), 0);
	/* a task that took no measurable time still took some: 0 is "unknown" */
	report(g, "w1", "z1", 0);
	update(g, 3);
	assert_int_equal(g->rt.nr, 1);
	assert_int_equal(dg_run_time_ms(&g->rt), 1);
}

/* Grids before protocol 3 keep results in one flat directory: not read. */
static void test_old_protocols_not_read(void **state)
{
	struct grid *g = *state;

	report(g, "w1", "t1", 1000);
	update(g, 2);
	assert_int_equal(g->rt.nr, 0);
	assert_string_equal(g->rt.tip, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_median_of_reports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commits_read_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newest_samples, setup, teardown),
		cmocka_unit_test_setup_teardown(test_what_is_passed_over, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_protocols_not_read, setup, teardown),
	};
	int failed;

	git_libgit2_init();
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	git_libgit2_shutdown();
	return failed;
}
