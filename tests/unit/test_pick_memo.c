/*
 * test_pick_memo.c - the picker's memo of queue shards that held nothing
 * for this node (pick_memo.h), on a real repository.
 *
 * The memo saves reads; what it must never do is hide a task the node may
 * run. So every test first checks that a second pick reads nothing it
 * need not (the saving is real), and then changes what makes a task
 * runnable - a new task in a shard, time passing a not_before, a
 * dependency ending in another part of the tree, the policy - and checks
 * that the pick finds the task.
 */
#include "common.h"
#include "clock.h"
#include "error.h"
#include "layout.h"
#include "pick.h"
#include "pick_memo.h"
#include "deps_stamp.h"
#include "store.h"
#include "task.h"

#include <git2.h>

#include <setjmp.h>
#include <cmocka.h>

#include "repo_fixture.h"

/* tasks this node cannot run (it has no "gpu" label) */
#define UNFIT 24

struct grid {
	char dir[32];
	struct dg_store *store;
	struct dg_pick_memo *memo;
	struct dg_node_facts facts;   /* none: no labels */
};

/* What one pick found. */
struct found {
	size_t cands;
	unsigned read, passed_over, unfit, waiting, blocked;
	size_t refusals;
	char first[64];               /* the first candidate's id */
};

struct pick_args {
	struct grid *g;
	int64_t now;
	struct found *out;
};

static int run_pick(struct dg_txn *txn, void *payload)
{
	struct pick_args *a = payload;
	struct dg_pick p;

	memset(&p, 0, sizeof(p));
	p.policy = &dg_policy_default;
	p.facts = &a->g->facts;
	p.now = a->now;
	p.want = 4;
	p.protocol = 3;
	p.refusals_max = 100;
	p.me = "w1";
	p.memo = a->g->memo;
	assert_int_equal(dg_pick_collect(&p, txn), 0);
	memset(a->out, 0, sizeof(*a->out));
	a->out->cands = p.cands_nr;
	a->out->read = p.read;
	a->out->passed_over = p.passed_over;
	a->out->unfit = p.unfit;
	a->out->waiting = p.waiting;
	a->out->blocked = p.blocked;
	a->out->refusals = p.refusals_nr;
	if (p.cands_nr)
		snprintf(a->out->first, sizeof(a->out->first), "%s", p.cands[0].task.task_id);
	dg_pick_release(&p);
	return 0;   /* nothing written: nothing committed */
}

static struct found pick_at(struct grid *g, int64_t now)
{
	struct found f;
	struct pick_args a = { g, now, &f };

	assert_int_equal(dg_store_transact(g->store, run_pick, &a, NULL), 0);
	return f;
}

static struct found pick(struct grid *g)
{
	return pick_at(g, dg_wall_seconds());
}

struct write_args {
	const char *path, *data;
	bool remove;
};

static int run_write(struct dg_txn *txn, void *payload)
{
	struct write_args *a = payload;

	if (a->remove)
		return dg_txn_remove(txn, a->path);
	return dg_txn_write(txn, a->path, a->data, strlen(a->data));
}

static void write_file(struct grid *g, const char *path, const char *data)
{
	struct write_args a = { path, data, false };

	int ret = dg_store_transact(g->store, run_write, &a, NULL);

	if (ret)
		print_error("%s\n", dg_error_last());
	assert_int_equal(ret, 0);
}

static void remove_file(struct grid *g, const char *path)
{
	struct write_args a = { path, NULL, true };

	int ret = dg_store_transact(g->store, run_write, &a, NULL);

	if (ret)
		print_error("%s\n", dg_error_last());
	assert_int_equal(ret, 0);
}

/* A result of task id by node gpu1 (status "success" or "failed"), in its leaf or (flat) at the top. */
static void land_result(struct grid *g, const char *id, const char *status, bool flat)
{
	struct dg_strbuf path = DG_STRBUF_INIT;
	char *doc = dg_xasprintf("{\"task_id\": \"%s\", \"node_id\": \"gpu1\", \"status\": \"%s\", \"exit_code\": %d,"
				 " \"stdout\": \"\", \"stderr\": \"\", \"timestamp\": \"2026-12-04T00:00:00Z\", \"attempt\": 1}",
				 id, status, strcmp(status, "success") ? 1 : 0);

	dg_strbuf_addf(&path, "%s/", strcmp(status, "success") ? DG_DIR_FAILED : DG_DIR_COMPLETED);
	if (!flat) {
		dg_layout_shard(&path, id, DG_RESULT_SHARD_DEPTH);
		dg_strbuf_addch(&path, '/');
	}
	dg_strbuf_addf(&path, "%s.gpu1.1.json", id);
	write_file(g, path.buf, doc);
	free(doc);
	dg_strbuf_release(&path);
}

/* Queues task id in its shard (protocol 3) with the JSON fields after script. */
static void queue(struct grid *g, const char *id, const char *fields)
{
	struct dg_strbuf path = DG_STRBUF_INIT;
	char *json = dg_xasprintf("{\"task_id\": \"%s\", \"script\": \"true\"%s%s}", id, *fields ? ", " : "", fields);

	dg_layout_task_path(&path, DG_DIR_QUEUE, id, 3);
	write_file(g, path.buf, json);
	free(json);
	dg_strbuf_release(&path);
}

static int setup(void **state)
{
	struct grid *g = dg_xcalloc(1, sizeof(*g));
	struct dg_store_opts so = DG_STORE_OPTS_INIT;
	char *url;

	if (tmpdir_make(g->dir, sizeof(g->dir), "memo") < 0) {
		free(g);
		return -1;
	}
	/* a bare repository, as a Git host keeps one: the store pushes to it */
	sh_in(g->dir, "git -c init.defaultBranch=main init -q seed && cd seed &&"
		      " echo '{\"protocol\": 3}' > dgrid.json && git add dgrid.json &&"
		      " git -c user.name=t -c user.email=t@l commit -q -m seed && cd .. &&"
		      " git clone -q --bare seed grid.git && rm -rf seed");
	url = dg_xasprintf("%s/grid.git", g->dir);
	so.url = url;
	so.branch = "main";
	if (dg_store_open(&g->store, &so) < 0)
		print_error("%s\n", dg_error_last());
	assert_non_null(g->store);
	free(url);
	g->memo = dg_pick_memo_new();
	for (int i = 0; i < UNFIT; i++) {
		char id[16];

		snprintf(id, sizeof(id), "gpu%02d", i);
		queue(g, id, "\"requires\": {\"labels\": [\"gpu\"]}");
	}
	*state = g;
	return 0;
}

static int teardown(void **state)
{
	struct grid *g = *state;
	int rc = tmpdir_remove(g->dir);

	dg_pick_memo_free(g->memo);
	dg_store_free(g->store);
	free(g);
	return rc;
}

/* A first pick reads everything; an unchanged queue is then passed over, with the same counts. */
static void test_unchanged_queue_is_not_read_again(void **state)
{
	struct grid *g = *state;
	struct found a = pick(g), b;

	assert_int_equal(a.cands, 0);
	assert_int_equal(a.read, UNFIT);
	assert_int_equal(a.unfit, UNFIT);
	b = pick(g);
	assert_int_equal(b.cands, 0);
	assert_int_equal(b.read, 0);
	assert_true(b.passed_over > 0);
	assert_int_equal(b.unfit, UNFIT);
}

/* A task queued later changes its shard only: it is found, and only its shard is read. */
static void test_new_task_is_found(void **state)
{
	struct grid *g = *state;
	struct found f;

	pick(g);
	queue(g, "plain", "");
	f = pick(g);
	assert_int_equal(f.cands, 1);
	assert_string_equal(f.first, "plain");
	assert_true(f.read >= 1 && f.read < UNFIT);
	assert_int_equal(f.unfit, UNFIT);
}

/* A task not due is remembered until it is due, and found then. */
static void test_not_before_comes(void **state)
{
	struct grid *g = *state;
	int64_t now = dg_wall_seconds();
	struct found f;

	queue(g, "later", "\"not_before\": \"2031-01-01T00:00:00Z\"");
	f = pick_at(g, now);
	assert_int_equal(f.cands, 0);
	assert_int_equal(f.waiting, 1);
	f = pick_at(g, now);
	assert_int_equal(f.read, 0);
	assert_int_equal(f.waiting, 1);
	/* 2031-01-01T00:00:00Z */
	f = pick_at(g, 1924992000);
	assert_int_equal(f.cands, 1);
	assert_string_equal(f.first, "later");
}

/*
 * A task waiting for a dependency is remembered only while no result
 * lands: the dependency ends elsewhere in the tree, and the waiting
 * task's shard does not change.
 */
static void test_dependency_ends_elsewhere(void **state)
{
	struct grid *g = *state;
	struct dg_strbuf path = DG_STRBUF_INIT, a = DG_STRBUF_INIT, b = DG_STRBUF_INIT;
	struct found f;
	char *result;

	/* ids in different top shards, so that the parent's end leaves the child's shard as it is */
	dg_layout_shard(&a, "parent", 1);
	dg_layout_shard(&b, "child3", 1);
	assert_string_not_equal(a.buf, b.buf);
	queue(g, "parent", "\"requires\": {\"labels\": [\"gpu\"]}");
	queue(g, "child3", "\"depends_on\": [\"parent\"]");
	f = pick(g);
	assert_int_equal(f.cands, 0);
	assert_int_equal(f.blocked, 1);
	f = pick(g);
	assert_int_equal(f.blocked, 1);
	assert_int_equal(f.read, 0);   /* nothing landed: passed over */

	/* the parent ran on a GPU node */
	dg_layout_task_path(&path, DG_DIR_QUEUE, "parent", 3);
	remove_file(g, path.buf);
	dg_strbuf_reset(&path);
	dg_strbuf_addstr(&path, DG_DIR_COMPLETED "/");
	dg_layout_shard(&path, "parent", 3);
	dg_strbuf_addstr(&path, "/parent.gpu1.1.json");
	result = dg_xasprintf("{\"task_id\": \"parent\", \"node_id\": \"gpu1\", \"status\": \"success\", \"exit_code\": 0,"
			      " \"stdout\": \"\", \"stderr\": \"\", \"timestamp\": \"2026-12-04T00:00:00Z\", \"attempt\": 1}");
	write_file(g, path.buf, result);
	f = pick(g);
	assert_int_equal(f.cands, 1);
	assert_string_equal(f.first, "child3");
	free(result);
	dg_strbuf_release(&path);
	dg_strbuf_release(&a);
	dg_strbuf_release(&b);
}

/* An id whose results live in leaf (or, with other, in any leaf but it), for the results below. */
static void id_in_leaf(char *out, size_t size, const char *stem, uint16_t leaf, bool other)
{
	for (unsigned i = 0;; i++) {
		snprintf(out, size, "%s%u", stem, i);
		if ((dg_results_leaf(out) == leaf) != other)
			return;
	}
}

/*
 * On a busy grid results land all the time: a shard of tasks waiting for a
 * dependency is read again only when a result lands in the dependency's
 * results leaf (or nodes/ change, whose keys judge results), and a
 * dependency that fails there ends the waiting task.
 */
static void test_waiting_survives_other_results(void **state)
{
	struct grid *g = *state;
	struct dg_strbuf path = DG_STRBUF_INIT;
	uint16_t leaf = dg_results_leaf("parent");
	char other[32], same[32];
	struct found f;

	queue(g, "parent", "\"requires\": {\"labels\": [\"gpu\"]}");
	queue(g, "child3", "\"depends_on\": [\"parent\"]");
	f = pick(g);
	assert_int_equal(f.blocked, 1);
	assert_true(f.read > 0);

	/* another task's result, in another leaf: nothing to read again */
	id_in_leaf(other, sizeof(other), "other", leaf, true);
	land_result(g, other, "success", false);
	f = pick(g);
	assert_int_equal(f.cands, 0);
	assert_int_equal(f.blocked, 1);
	assert_int_equal(f.unfit, UNFIT + 1);
	assert_int_equal(f.read, 0);

	/* another task's result in the parent's leaf: the waiting shard is read (and still waits) */
	id_in_leaf(same, sizeof(same), "same", leaf, false);
	land_result(g, same, "failed", false);
	f = pick(g);
	assert_int_equal(f.blocked, 1);
	assert_true(f.read >= 1 && f.read < UNFIT);
	assert_int_equal(pick(g).read, 0);

	/* a node registers: whose results count may have changed */
	write_file(g, "nodes/n1.json", "{\"node_id\": \"n1\"}");
	f = pick(g);
	assert_int_equal(f.blocked, 1);
	assert_true(f.read >= 1);

	/* the parent fails on its GPU node: the child can never run and is ended */
	dg_layout_task_path(&path, DG_DIR_QUEUE, "parent", 3);
	remove_file(g, path.buf);
	land_result(g, "parent", "failed", false);
	f = pick(g);
	assert_int_equal(f.cands, 0);
	assert_int_equal(f.blocked, 0);
	assert_int_equal(f.refusals, 1);
	dg_strbuf_release(&path);
}

/* A dependency's result at the top of tasks/completed (a grid upgraded from protocol 2) counts too. */
static void test_flat_result_ends_the_wait(void **state)
{
	struct grid *g = *state;
	struct dg_strbuf path = DG_STRBUF_INIT;
	struct found f;

	queue(g, "parent", "\"requires\": {\"labels\": [\"gpu\"]}");
	queue(g, "child3", "\"depends_on\": [\"parent\"]");
	assert_int_equal(pick(g).blocked, 1);
	assert_int_equal(pick(g).read, 0);
	dg_layout_task_path(&path, DG_DIR_QUEUE, "parent", 3);
	remove_file(g, path.buf);
	land_result(g, "parent", "success", true);
	f = pick(g);
	assert_int_equal(f.cands, 1);
	assert_string_equal(f.first, "child3");
	dg_strbuf_release(&path);
}

/*
 * A dependency deleted by hand (git rm of its queued file) leaves no
 * result, so no stamp tells: the waiting task is judged again once
 * DG_PICK_MEMO_WAIT_S passed since it was, and refused then (missing).
 * Its shard's parents pass the time on: the whole queue is read again.
 */
static void test_deleted_dependency_is_seen_in_time(void **state)
{
	struct grid *g = *state;
	struct dg_strbuf path = DG_STRBUF_INIT;
	int64_t now = dg_wall_seconds();
	struct found f;

	queue(g, "parent", "\"requires\": {\"labels\": [\"gpu\"]}");
	queue(g, "child3", "\"depends_on\": [\"parent\"]");
	f = pick_at(g, now);
	assert_int_equal(f.blocked, 1);
	assert_int_equal(pick_at(g, now + 1).read, 0);

	dg_layout_task_path(&path, DG_DIR_QUEUE, "parent", 3);
	remove_file(g, path.buf);
	/* the parent's shard changed: it is read, the child's is passed over within the time */
	f = pick_at(g, now + DG_PICK_MEMO_WAIT_S - 1);
	assert_int_equal(f.blocked, 1);
	assert_int_equal(f.refusals, 0);
	assert_true(f.read < UNFIT);
	/* then judged again: its dependency is nowhere */
	f = pick_at(g, now + DG_PICK_MEMO_WAIT_S);
	assert_int_equal(f.blocked, 0);
	assert_int_equal(f.refusals, 1);
	assert_int_equal(f.unfit, UNFIT);
	dg_strbuf_release(&path);
}

/* A new policy may judge the same files otherwise: the memo starts over. */
static void test_policy_change_forgets(void **state)
{
	struct grid *g = *state;
	struct found f;

	dg_pick_memo_policy(g->memo, "{\"protocol\": 3}", 15);
	pick(g);
	assert_int_equal(pick(g).read, 0);
	dg_pick_memo_policy(g->memo, "{\"protocol\": 3}", 15);
	assert_int_equal(pick(g).read, 0);
	dg_pick_memo_policy(g->memo, "{\"protocol\": 3, \"timeout_max\": 60}", 34);
	f = pick(g);
	assert_int_equal(f.read, UNFIT);
	assert_int_equal(f.passed_over, 0);
}

/* Full, the memo starts over rather than grow: what it forgot is read once more. */
static void test_bounded(void **state DG_UNUSED)
{
	struct dg_pick_memo *m = dg_pick_memo_new();
	struct dg_pick_memo_entry e = { .unfit = 3 }, out;
	const uint16_t leaves[] = { 5, 9 };
	char id[41];

	for (unsigned i = 0; i <= DG_PICK_MEMO_MAX; i++) {
		snprintf(id, sizeof(id), "%040x", i);
		dg_pick_memo_put(m, id, &e);
	}
	/* the last one went in after the start-over; the first was forgotten */
	assert_int_equal(dg_pick_memo_get(m, id, 0, &out), DG_PICK_MEMO_HIT);
	assert_int_equal(out.unfit, 3);
	snprintf(id, sizeof(id), "%040x", 0u);
	assert_int_equal(dg_pick_memo_get(m, id, 0, &out), DG_PICK_MEMO_MISS);
	/* not an id: never remembered */
	dg_pick_memo_put(m, "not-a-tree-id", &e);
	assert_int_equal(dg_pick_memo_get(m, "not-a-tree-id", 0, &out), DG_PICK_MEMO_MISS);
	/* due: no longer true */
	e.ready_at = 100;
	snprintf(id, sizeof(id), "%040x", 7u);
	dg_pick_memo_put(m, id, &e);
	assert_int_equal(dg_pick_memo_get(m, id, 99, &out), DG_PICK_MEMO_HIT);
	assert_int_equal(dg_pick_memo_get(m, id, 100, &out), DG_PICK_MEMO_MISS);
	/* waiting for dependencies, leaves unknown: true only under the stamp it was read with */
	dg_pick_memo_world(m, 41);
	e = (struct dg_pick_memo_entry){ .blocked = 2, .world = 41, .judged_by = 1000 };
	dg_pick_memo_put(m, id, &e);
	assert_int_equal(dg_pick_memo_get(m, id, 0, &out), DG_PICK_MEMO_HIT);
	assert_int_equal(out.blocked, 2);
	/* judged too long ago: read again even under the same stamp */
	assert_int_equal(dg_pick_memo_get(m, id, 999, &out), DG_PICK_MEMO_HIT);
	assert_int_equal(dg_pick_memo_get(m, id, 1000, &out), DG_PICK_MEMO_MISS);
	dg_pick_memo_world(m, 42);
	assert_int_equal(dg_pick_memo_get(m, id, 0, &out), DG_PICK_MEMO_MISS);
	/* with its leaves: to be checked under another stamp (a copy is kept), and true again once renewed */
	e = (struct dg_pick_memo_entry){ .blocked = 2, .world = 42, .judged_by = 1000, .leaves_known = true,
					 .leaves = leaves, .leaves_nr = 2, .leaves_stamp = 77 };
	dg_pick_memo_put(m, id, &e);
	assert_int_equal(dg_pick_memo_get(m, id, 0, &out), DG_PICK_MEMO_HIT);
	assert_ptr_not_equal(out.leaves, leaves);
	dg_pick_memo_world(m, 43);
	assert_int_equal(dg_pick_memo_get(m, id, 0, &out), DG_PICK_MEMO_CHECK);
	assert_int_equal(out.leaves_nr, 2);
	assert_int_equal(out.leaves[1], 9);
	assert_int_equal(out.leaves_stamp, 77);
	assert_int_equal(dg_pick_memo_get(m, id, 1000, &out), DG_PICK_MEMO_MISS);
	dg_pick_memo_renew(m, id);
	assert_int_equal(dg_pick_memo_get(m, id, 0, &out), DG_PICK_MEMO_HIT);
	/* put over it again, and forgotten with leaves held: nothing leaks (make asan) */
	dg_pick_memo_put(m, id, &e);
	dg_pick_memo_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unchanged_queue_is_not_read_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_task_is_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_before_comes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dependency_ends_elsewhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_waiting_survives_other_results, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flat_result_ends_the_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deleted_dependency_is_seen_in_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_change_forgets, setup, teardown),
		cmocka_unit_test(test_bounded),
	};

	int failed;

	git_libgit2_init();
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	git_libgit2_shutdown();
	return failed;
}
