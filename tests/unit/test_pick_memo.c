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
	struct dg_pick_memo_entry e = { 3, 0, 0, 0, 0 }, out;
	char id[41];

	for (unsigned i = 0; i <= DG_PICK_MEMO_MAX; i++) {
		snprintf(id, sizeof(id), "%040x", i);
		dg_pick_memo_put(m, id, &e);
	}
	/* the last one went in after the start-over; the first was forgotten */
	assert_true(dg_pick_memo_get(m, id, 0, &out));
	assert_int_equal(out.unfit, 3);
	snprintf(id, sizeof(id), "%040x", 0u);
	assert_false(dg_pick_memo_get(m, id, 0, &out));
	/* not an id: never remembered */
	dg_pick_memo_put(m, "not-a-tree-id", &e);
	assert_false(dg_pick_memo_get(m, "not-a-tree-id", 0, &out));
	/* due: no longer true */
	e.ready_at = 100;
	snprintf(id, sizeof(id), "%040x", 7u);
	dg_pick_memo_put(m, id, &e);
	assert_true(dg_pick_memo_get(m, id, 99, &out));
	assert_false(dg_pick_memo_get(m, id, 100, &out));
	/* waiting for dependencies: true only under the stamp it was read with */
	dg_pick_memo_world(m, 41);
	e = (struct dg_pick_memo_entry){ 0, 0, 0, 2, 41 };
	dg_pick_memo_put(m, id, &e);
	assert_true(dg_pick_memo_get(m, id, 0, &out));
	assert_int_equal(out.blocked, 2);
	dg_pick_memo_world(m, 42);
	assert_false(dg_pick_memo_get(m, id, 0, &out));
	dg_pick_memo_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unchanged_queue_is_not_read_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_task_is_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_before_comes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dependency_ends_elsewhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_change_forgets, setup, teardown),
		cmocka_unit_test(test_bounded),
	};

	int failed;

	git_libgit2_init();
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	git_libgit2_shutdown();
	return failed;
}
