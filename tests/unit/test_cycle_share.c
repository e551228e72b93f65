/*
 * test_cycle_share.c - a budget grid member's part of a short queue
 * (worker_share.c, doc/protocol.md "Batches"): shared with the members
 * after it in the cycle that have room for work, water-filled, on a real
 * repository whose claims say who holds what.
 */
#include "common.h"
#include "worker_int.h"

#include <git2.h>
#include <setjmp.h>
#include <cmocka.h>

#include "repo_fixture.h"
#include "budget_fixture.h"

static void commit(struct grid *g, const char *what)
{
	sh_in(g->dir, "git add -A && git -c user.name=t -c user.email=t@l commit -q -m '%s'", what);
	assert_int_equal(dg_store_fetch(g->store), 0);
	dg_worker_budget_update(&g->w);
}

/* nodes/ID.json registered at 10:MM of a day long past (a member, ranked by that time) */
static void registration(struct grid *g, const char *id, int minute)
{
	sh_in(g->dir, "mkdir -p nodes && printf '{\"node_id\": \"%s\", \"registered_at\": \"2026-12-04T10:%02d:00Z\"}\\n'"
		      " > nodes/%s.json && git add nodes", id, minute, id);
}

/* n claims of node id: tasks/in_progress/a/b/ID-K.json */
static void claims(struct grid *g, const char *id, int n)
{
	for (int k = 0; k < n; k++)
		sh_in(g->dir, "mkdir -p tasks/in_progress/a/b && printf '{\"task_id\": \"%s-%d\", \"node_id\": \"%s\"}\\n'"
			      " > tasks/in_progress/a/b/%s-%d.json && git add tasks", id, k, id, id, k);
}

static int setup(void **state)
{
	struct grid *g = grid_open("share");

	*state = g;
	if (!g)
		return -1;
	/* w1 (us) first, then w2, w3, w4 */
	registration(g, "w1", 0);
	registration(g, "w2", 1);
	registration(g, "w3", 2);
	registration(g, "w4", 3);
	return 0;
}

static int teardown(void **state)
{
	return grid_close(*state);
}

/* Nobody holds anything: an equal part with the three after us, as before. */
static void test_equal_parts(void **state)
{
	struct grid *g = *state;

	commit(g, "members");
	assert_int_equal(g->w.slot.members, 4);
	assert_int_equal(g->w.slot.rank, 0);
	assert_int_equal(dg_worker_cycle_share(&g->w, 12, 7), 3);
	assert_int_equal(dg_worker_cycle_share(&g->w, 13, 7), 4);
	/* a queue that outlasts the cycle: the plain part, which the batch bounds anyway */
	assert_int_equal(dg_worker_cycle_share(&g->w, 400, 7), 100);
}

/*
 * A member that holds a whole batch takes nothing at its turn: its part
 * is ours and the others'. Until 0.16.13 it stayed queued for a cycle.
 */
static void test_a_full_member_takes_nothing(void **state)
{
	struct grid *g = *state;

	claims(g, "w3", 7);
	commit(g, "w3 holds a batch");
	/* 12 among w1, w2, w4: 4 each (3 before) */
	assert_int_equal(dg_worker_cycle_share(&g->w, 12, 7), 4);
	/* a member with room for 2 takes 2; the rest split between us and the third */
	claims(g, "w2", 5);
	commit(g, "w2 holds 5");
	assert_int_equal(dg_worker_cycle_share(&g->w, 12, 7), 5);
	/* every other one full: all of it (the batch bounds the claim, not the part) */
	claims(g, "w4", 9);
	claims(g, "w2", 7);
	commit(g, "all full");
	assert_int_equal(dg_worker_cycle_share(&g->w, 12, 7), 12);
}

/* Claims of nodes that are no members, or that we cannot read, take nobody's room. */
static void test_claims_of_others(void **state)
{
	struct grid *g = *state;

	claims(g, "gone", 20);
	sh_in(g->dir, "mkdir -p tasks/in_progress/c/d && echo 'not json' > tasks/in_progress/c/d/bad.json && git add tasks");
	commit(g, "claims of no member");
	assert_int_equal(dg_worker_cycle_share(&g->w, 12, 7), 3);
}

/* A newcomer pushes after every member: it counts itself with all of them. */
static void test_newcomer(void **state)
{
	struct grid *g = *state;

	g->w.me = "w9";
	commit(g, "members");
	assert_int_equal(g->w.slot.rank, 4);
	assert_int_equal(dg_worker_cycle_share(&g->w, 12, 7), 3);
	assert_int_equal(dg_worker_cycle_share(&g->w, 11, 7), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_equal_parts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_full_member_takes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claims_of_others, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newcomer, setup, teardown),
	};

	int failed;

	git_libgit2_init();
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	git_libgit2_shutdown();
	return failed;
}
