/*
 * Replication's pure parts (replica.h): the plan from a task and the
 * policy, the streak of agreeing replicas (a disagreement resets it), and
 * when a node may run a task alone.
 */
#include "common.h"
#include "replica.h"
#include "task.h"

#include <setjmp.h>
#include <cmocka.h>

static void plan_of(const char *json, const struct dg_policy *pol, unsigned *n, unsigned *m)
{
	struct dg_task t = DG_TASK_INIT;

	assert_int_equal(dg_task_parse(&t, json, strlen(json), NULL, NULL), 0);
	dg_replica_plan(&t, pol, n, m);
	dg_task_release(&t);
}

static void test_plan(void **state DG_UNUSED)
{
	struct dg_policy pol = dg_policy_default;
	unsigned n, m;

	plan_of("{\"task_id\": \"a\", \"script\": \"true\"}", &pol, &n, &m);
	assert_true(n == 1 && m == 1);
	plan_of("{\"task_id\": \"a\", \"script\": \"true\", \"replicas\": 3}", &pol, &n, &m);
	assert_true(n == 3 && m == 2);   /* a majority */
	plan_of("{\"task_id\": \"a\", \"script\": \"true\", \"replicas\": 4, \"quorum\": 4}", &pol, &n, &m);
	assert_true(n == 4 && m == 4);
	pol.replicas = 5;
	pol.quorum = 0;
	plan_of("{\"task_id\": \"a\", \"script\": \"true\"}", &pol, &n, &m);
	assert_true(n == 5 && m == 3);   /* the grid's default, a majority */
	plan_of("{\"task_id\": \"a\", \"script\": \"true\", \"replicas\": 2, \"quorum\": 1}", &pol, &n, &m);
	assert_true(n == 2 && m == 1);   /* the task's own win */
}

static void test_streak(void **state DG_UNUSED)
{
	const signed char agreed[] = { 1, 1, 1 };
	const signed char reset[] = { 1, 1, -1, 1 };
	const signed char last_bad[] = { 1, 1, 1, -1 };
	const signed char skips[] = { 1, 2, 0, 1 };

	assert_int_equal(dg_replica_streak(agreed, 3), 3);
	assert_int_equal(dg_replica_streak(reset, 4), 1);
	assert_int_equal(dg_replica_streak(last_bad, 4), 0);
	assert_int_equal(dg_replica_streak(skips, 4), 2);   /* alone and undecided count neither way */
	assert_int_equal(dg_replica_streak(NULL, 0), 0);
}

static void test_alone(void **state DG_UNUSED)
{
	unsigned yes = 0;

	assert_false(dg_replica_alone(100, 0));   /* off */
	assert_false(dg_replica_alone(2, 3));     /* below K */
	assert_true(dg_replica_alone(6, 3));      /* 2K and more: always */
	for (int i = 0; i < 2000; i++)
		yes += dg_replica_alone(3, 3);        /* streak K: 1 in K+1 */
	assert_true(yes > 300 && yes < 700);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_streak),
		cmocka_unit_test(test_alone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
