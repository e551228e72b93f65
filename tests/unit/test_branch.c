/*
 * test_branch.c - how busy the branch is and who stands aside
 * (worker_branch.c, issue 11 "no collapse"), and the store walk it reads
 * the branch's traffic with (dg_store_walk_since); and the idle poll of a
 * worker nobody counts (dg_worker_unseen_poll_ms), which reads the branch
 * for its registration. An idle worker that
 * misjudges the branch either stands aside on a quiet grid - work waits -
 * or keeps claiming on a crowded one and makes every push lose. So the
 * counts are checked on a real repository made with git: others' commits
 * count, ours do not, a rewritten history counts as the most a look
 * counts; and the rate, the pushers, the streak and the wait are checked
 * against values worked out by hand. Look times are monotonic: instead of
 * sleeping, the tests move the looks in the ring back in time.
 */
#include "common.h"
#include "worker_int.h"

#include <git2.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>

#include <setjmp.h>
#include <cmocka.h>

#include "repo_fixture.h"

/* worker_branch.c's window and its most commits a look counts */
#define WINDOW_MS 15000
#define COUNT_MAX 64

/* A repository made with git, a store on it and a worker "w1" watching it. */
struct grid {
	char dir[32];
	struct dg_store *store;
	struct dg_worker_opts opts;
	struct worker w;
};

static void git(struct grid *g, const char *fmt, ...) DG_PRINTF(2, 3);

static void git(struct grid *g, const char *fmt, ...)
{
	struct dg_strbuf cmd = DG_STRBUF_INIT;
	va_list ap;

	dg_strbuf_addstr(&cmd, "git ");
	va_start(ap, fmt);
	dg_strbuf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	sh_in(g->dir, "%s", cmd.buf);
	dg_strbuf_release(&cmd);
}

static void commit(struct grid *g, const char *msg)
{
	git(g, "commit -q --allow-empty -m '%s'", msg);
}

/* A file on the branch, as a node's registration or a queued task is. */
static void commit_file(struct grid *g, const char *path, const char *msg)
{
	char *cmd = dg_xasprintf("cd '%s' && mkdir -p \"$(dirname '%s')\" && echo '{}' > '%s'", g->dir, path, path);

	assert_int_equal(system(cmd), 0);
	free(cmd);
	git(g, "add '%s'", path);
	commit(g, msg);
}

static void fetch(struct grid *g)
{
	assert_int_equal(dg_store_fetch(g->store), 0);
}

/* w1's registration lands, and w1 looks: it is registered here from now on. */
static void register_w1(struct grid *g)
{
	commit_file(g, "nodes/w1.json", "w1: register");
	fetch(g);
	dg_worker_branch_observe(&g->w, 200);
}

static int setup(void **state)
{
	struct grid *g = dg_xcalloc(1, sizeof(*g));
	struct dg_store_opts so = DG_STORE_OPTS_INIT;

	if (tmpdir_make(g->dir, sizeof(g->dir), "branch") < 0) {
		free(g);
		return -1;
	}
	git(g, "-c init.defaultBranch=main init -q");
	commit(g, "seed");
	assert_true(dg_store_url_is_local(g->dir));
	so.url = g->dir;
	so.branch = "main";
	assert_int_equal(dg_store_open(&g->store, &so), 0);
	assert_int_equal(strlen(dg_store_tip(g->store)), 40);
	g->w.opts = &g->opts;
	g->w.me = "w1";
	g->w.policy = dg_policy_default;
	g->w.store = g->store;
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

/* The summaries a walk called back with, newest first. */
struct seen {
	size_t n;
	char summary[8][64];
	int64_t when[8];
};

static int see(int64_t when, const char *summary, void *payload)
{
	struct seen *s = payload;

	if (s->n < DG_ARRAY_SIZE(s->summary)) {
		snprintf(s->summary[s->n], sizeof(s->summary[0]), "%s", summary);
		s->when[s->n] = when;
	}
	s->n++;
	return 0;
}

static size_t prev_look(const struct dg_branch_watch *b, size_t back)
{
	return (b->head + DG_BRANCH_LOOKS - back) % DG_BRANCH_LOOKS;
}

/*
 * Two looks of w: the first at the tip (unless taken already), the second
 * after four commits of others (and one of ours), span_ms apart; fetch
 * 200 ms and a step 300 ms make a turn of 500 ms.
 */
static void two_looks(struct grid *g, int64_t span_ms)
{
	struct worker *w = &g->w;

	if (!w->branch.nr)
		dg_worker_branch_observe(w, 200);
	commit(g, "w2: report t1");
	commit(g, "w3: claim t2");
	commit(g, "w1: update");
	commit(g, "plain submit");
	commit(g, "w2: claim t3");
	fetch(g);
	dg_worker_branch_observe(w, 200);
	dg_worker_branch_pushed(w, 300);
	assert_int_equal(w->branch.nr, 2);
	assert_int_equal(w->branch.commits, 4);
	assert_int_equal(dg_worker_branch_turn_ms(w), 500);
	w->branch.looks[prev_look(&w->branch, 1)].ms = w->branch.looks[w->branch.head].ms - span_ms;
}

/*
 * Another node may hold work to report while the newest of its commits
 * that we saw claimed tasks (worker.c: only then does a winner on a
 * crowded branch sit out a turn): a claim counts, a later commit of the
 * same node that claims nothing ends it - in the same look too, which
 * walks newest first -, our own claims never count, and an hour after its
 * newest commit a node holds nothing we know of.
 */
static void test_others_hold(void **state)
{
	struct grid *g = *state;
	struct worker *w = &g->w;
	struct dg_branch_watch *b = &w->branch;

	dg_worker_branch_observe(w, 200);
	assert_false(dg_worker_branch_others_hold(w));

	commit(g, "w1: claim t1.json");
	commit(g, "w2: register node w2");
	commit(g, "submit 3 tasks: t2 t3 t4");
	fetch(g);
	dg_worker_branch_observe(w, 200);
	assert_false(dg_worker_branch_others_hold(w));

	commit(g, "w2: claim t2.json claim t3.json");
	fetch(g);
	dg_worker_branch_observe(w, 200);
	assert_true(dg_worker_branch_others_hold(w));

	commit(g, "w2: report t2 (success) report t3 (success)");
	fetch(g);
	dg_worker_branch_observe(w, 200);
	assert_false(dg_worker_branch_others_hold(w));

	/* one look: w3's claim is older than its report */
	commit(g, "w3: claim t4.json");
	commit(g, "w3: report t4 (success)");
	fetch(g);
	dg_worker_branch_observe(w, 200);
	assert_false(dg_worker_branch_others_hold(w));

	/* one look: w4's report is older than its claim */
	commit(g, "w4: report t5 (success)");
	commit(g, "w4: report t6 (success) claim t7.json");
	fetch(g);
	dg_worker_branch_observe(w, 200);
	assert_true(dg_worker_branch_others_hold(w));

	for (size_t i = 0; i < DG_BRANCH_AUTHORS; i++) {
		if (!strcmp(b->authors[i].id, "w4"))
			b->authors[i].ms -= 60 * 60 * 1000 + 1000;
	}
	assert_false(dg_worker_branch_others_hold(w));
}

/* Since a tip: exactly the newer commits, newest first; an unreachable id counts as max. */
static void test_walk_since(void **state)
{
	struct grid *g = *state;
	struct seen s = { 0 };
	char base[41], tip[41], unknown[41];

	snprintf(base, sizeof(base), "%s", dg_store_tip(g->store));
	commit(g, "w2: report t1");
	commit(g, "w3: claim t2");
	commit(g, "w1: update");
	commit(g, "plain submit");
	/* unseen until fetched */
	assert_string_equal(dg_store_tip(g->store), base);
	assert_int_equal(dg_store_walk_since(g->store, base, 64, see, &s), 0);
	fetch(g);
	snprintf(tip, sizeof(tip), "%s", dg_store_tip(g->store));
	assert_string_not_equal(tip, base);

	assert_int_equal(dg_store_walk_since(g->store, base, 64, see, &s), 4);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.summary[0], "plain submit");
	assert_string_equal(s.summary[1], "w1: update");
	assert_string_equal(s.summary[2], "w3: claim t2");
	assert_string_equal(s.summary[3], "w2: report t1");
	for (size_t i = 0; i < 4; i++)
		assert_true(s.when[i] > 1600000000);

	/* nothing since the tip itself */
	memset(&s, 0, sizeof(s));
	assert_int_equal(dg_store_walk_since(g->store, tip, 64, see, &s), 0);
	assert_int_equal(s.n, 0);

	/* max: the newest max, and max */
	assert_int_equal(dg_store_walk_since(g->store, base, 2, see, &s), 2);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.summary[0], "plain submit");
	assert_string_equal(s.summary[1], "w1: update");
	memset(&s, 0, sizeof(s));
	assert_int_equal(dg_store_walk_since(g->store, base, 4, see, &s), 4);
	assert_int_equal(s.n, 4);
	memset(&s, 0, sizeof(s));
	assert_int_equal(dg_store_walk_since(g->store, base, 0, see, &s), 0);
	assert_int_equal(s.n, 0);

	/* an id the branch does not reach: max, after walking all there is (5 with the seed) */
	memset(unknown, '7', 40);
	unknown[40] = '\0';
	memset(&s, 0, sizeof(s));
	assert_int_equal(dg_store_walk_since(g->store, unknown, 64, see, &s), 64);
	assert_int_equal(s.n, 5);
	assert_string_equal(s.summary[4], "seed");
	/* a malformed one: max, nothing walked */
	memset(&s, 0, sizeof(s));
	assert_int_equal(dg_store_walk_since(g->store, "not-a-commit", 64, see, &s), 64);
	assert_int_equal(s.n, 0);
	assert_int_equal(dg_store_walk_since(g->store, "", 64, see, &s), 64);
	assert_int_equal(s.n, 0);

	/* history rewritten under the old tip (compaction, a forced push): max */
	git(g, "commit -q --amend --allow-empty -m 'w2: amended'");
	fetch(g);
	memset(&s, 0, sizeof(s));
	assert_int_equal(dg_store_walk_since(g->store, tip, 64, see, &s), 64);
	assert_int_equal(s.n, 5);
	assert_string_equal(s.summary[0], "w2: amended");
	/* while the older base is still reached */
	memset(&s, 0, sizeof(s));
	assert_int_equal(dg_store_walk_since(g->store, base, 64, see, &s), 4);
	assert_string_equal(s.summary[0], "w2: amended");
}

/* A branch with no commit yet: nothing to walk. */
static void test_walk_since_empty_branch(void **state DG_UNUSED)
{
	char dir[] = "/tmp/dgrid-branch-empty.XXXXXX";
	struct dg_store_opts so = DG_STORE_OPTS_INIT;
	struct dg_store *store = NULL;
	struct seen s = { 0 };
	char *cmd;

	assert_non_null(mkdtemp(dir));
	cmd = dg_xasprintf("git -C '%s' -c init.defaultBranch=main init -q --bare", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	so.url = dir;
	so.branch = "main";
	assert_int_equal(dg_store_open(&store, &so), 0);
	assert_string_equal(dg_store_tip(store), "");
	assert_int_equal(dg_store_walk_since(store, "7777777777777777777777777777777777777777", 64, see, &s), 0);
	assert_int_equal(s.n, 0);
	dg_store_free(store);
	cmd = dg_xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

/* Others' commits count, ours do not; plain git counts but names nobody; pushers fade after 15 s. */
static void test_observe(void **state)
{
	struct grid *g = *state;
	struct worker *w = &g->w;
	struct dg_branch_watch *b = &w->branch;
	int64_t now;

	/* the first look only sets the mark */
	dg_worker_branch_observe(w, 100);
	assert_int_equal(b->nr, 1);
	assert_int_equal(b->commits, 0);
	assert_string_equal(b->tip, dg_store_tip(g->store));
	assert_int_equal(b->fetch_ms, 100);
	assert_int_equal(dg_worker_branch_pushers(w), 0);

	commit(g, "w2: report t1");
	commit(g, "w3: claim t2");
	commit(g, "w1: update");
	commit(g, "plain submit");
	commit(g, "w2: claim t3");
	commit(g, "w1: claim t4");
	fetch(g);
	now = dg_now_ms();
	dg_worker_branch_observe(w, 300);
	assert_int_equal(b->nr, 2);
	assert_int_equal(b->commits, 4);
	assert_int_equal(b->looks[b->head].commits, 4);
	assert_true(b->looks[b->head].ms >= now);
	assert_int_equal(b->looks[prev_look(b, 1)].commits, 0);
	assert_string_equal(b->tip, dg_store_tip(g->store));
	/* smoothed: half the weight to the newest */
	assert_int_equal(b->fetch_ms, 200);
	/* w2 and w3; not w1, not "plain submit" */
	assert_int_equal(dg_worker_branch_pushers(w), 2);
	for (size_t i = 0; i < DG_BRANCH_AUTHORS; i++) {
		assert_string_not_equal(b->authors[i].id, "w1");
		assert_string_not_equal(b->authors[i].id, "plain submit");
	}

	/* a look with nothing new: the count stays, the ring grows */
	dg_worker_branch_observe(w, 200);
	assert_int_equal(b->nr, 3);
	assert_int_equal(b->commits, 4);
	assert_int_equal(b->looks[b->head].commits, 4);

	/* an id that starts with ours is somebody else's */
	commit(g, "w10: claim t5");
	fetch(g);
	dg_worker_branch_observe(w, 200);
	assert_int_equal(b->commits, 5);
	assert_int_equal(dg_worker_branch_pushers(w), 3);

	/* a summary whose prefix holds a space names no node: traffic, no pusher */
	commit(g, "reap by w7: t1");
	fetch(g);
	dg_worker_branch_observe(w, 200);
	assert_int_equal(b->commits, 6);
	assert_int_equal(dg_worker_branch_pushers(w), 3);

	/* pushers are those seen within the last 15 s */
	for (size_t i = 0; i < DG_BRANCH_AUTHORS; i++)
		if (!strcmp(b->authors[i].id, "w2"))
			b->authors[i].ms -= WINDOW_MS + 1000;
	assert_int_equal(dg_worker_branch_pushers(w), 2);
	for (size_t i = 0; i < DG_BRANCH_AUTHORS; i++)
		b->authors[i].ms -= WINDOW_MS + 1000;
	assert_int_equal(dg_worker_branch_pushers(w), 0);
	/* seen again: back, in its old entry */
	commit(g, "w2: report t3");
	fetch(g);
	dg_worker_branch_observe(w, 200);
	assert_int_equal(dg_worker_branch_pushers(w), 1);
	assert_int_equal(b->commits, 7);
	{
		size_t named = 0;

		for (size_t i = 0; i < DG_BRANCH_AUTHORS; i++)
			named += b->authors[i].id[0] != '\0';
		assert_int_equal(named, 3);
	}
}

/* A history we cannot follow back counts as the most a look counts. */
static void test_observe_rewritten(void **state)
{
	struct grid *g = *state;
	struct worker *w = &g->w;

	commit(g, "w2: report t1");
	fetch(g);
	dg_worker_branch_observe(w, 100);
	assert_int_equal(w->branch.commits, 0);
	git(g, "commit -q --amend --allow-empty -m 'w1: compact history'");
	fetch(g);
	dg_worker_branch_observe(w, 100);
	assert_int_equal(w->branch.commits, COUNT_MAX);
	assert_int_equal(w->branch.looks[w->branch.head].commits, COUNT_MAX);
	/* and the next look follows the new history */
	commit(g, "w3: claim t2");
	fetch(g);
	dg_worker_branch_observe(w, 100);
	assert_int_equal(w->branch.commits, COUNT_MAX + 1);
}

/* The share of time the branch is taken: others' commits times our turn over the span. */
static void test_busy(void **state)
{
	struct grid *g = *state;
	struct worker *w = &g->w;
	struct dg_branch_watch *b = &w->branch;
	size_t prev;

	/* no look, one look: nothing known */
	assert_true(dg_worker_branch_busy(w) == 0);
	w->turn_ms_avg = 700;
	assert_int_equal(dg_worker_branch_turn_ms(w), 700);
	dg_worker_branch_observe(w, 200);
	assert_true(dg_worker_branch_busy(w) == 0);
	/* fetch known, step not: still the turn measured whole */
	assert_int_equal(dg_worker_branch_turn_ms(w), 700);

	two_looks(g, 0);
	prev = prev_look(b, 1);
	/* a span under a second says little */
	assert_true(dg_worker_branch_busy(w) == 0);
	b->looks[prev].ms = b->looks[b->head].ms - 999;
	assert_true(dg_worker_branch_busy(w) == 0);
	/* 4 commits in 2 s, 500 ms each: taken all the time */
	b->looks[prev].ms = b->looks[b->head].ms - 2000;
	assert_true(fabs(dg_worker_branch_busy(w) - 1.0) < 1e-6);
	b->looks[prev].ms = b->looks[b->head].ms - 8000;
	assert_true(fabs(dg_worker_branch_busy(w) - 0.25) < 1e-6);
	/* the look before the newest counts even when older than the window: 4 commits in ~16 s */
	b->looks[prev].ms = b->looks[b->head].ms - WINDOW_MS - 1000;
	assert_true(fabs(dg_worker_branch_busy(w) - 4.0 * 500 / (WINDOW_MS + 1000)) < 1e-6);

	/* three looks: the oldest within the window counts, the one before it not */
	commit(g, "w3: report t2");
	commit(g, "w3: claim t4");
	fetch(g);
	dg_worker_branch_observe(w, 200);
	assert_int_equal(b->commits, 6);
	b->looks[prev_look(b, 2)].ms = b->looks[b->head].ms - WINDOW_MS - 5000;
	b->looks[prev_look(b, 1)].ms = b->looks[b->head].ms - 1000;
	/* 2 commits in 1 s at 500 ms (the smoothed fetch stays 200) */
	assert_int_equal(dg_worker_branch_turn_ms(w), 500);
	assert_true(fabs(dg_worker_branch_busy(w) - 1.0) < 1e-6);
	b->looks[prev_look(b, 2)].ms = b->looks[b->head].ms - 4000;
	/* 6 commits in 4 s */
	assert_true(fabs(dg_worker_branch_busy(w) - 0.75) < 1e-6);

	/* without our step's time the turn is turn_ms_avg: 6 x 700 / 4000 */
	b->push_ms = 0;
	assert_int_equal(dg_worker_branch_turn_ms(w), 700);
	assert_true(fabs(dg_worker_branch_busy(w) - 1.05) < 1e-6);
	/* no turn known at all: 0 */
	w->turn_ms_avg = 0;
	assert_true(dg_worker_branch_busy(w) == 0);
}

/* A step's time, smoothed; never 0 (0 means unknown). */
static void test_pushed(void **state)
{
	struct grid *g = *state;
	struct worker *w = &g->w;

	dg_worker_branch_pushed(w, 300);
	assert_int_equal(w->branch.push_ms, 300);
	dg_worker_branch_pushed(w, 100);
	assert_int_equal(w->branch.push_ms, 200);
	dg_worker_branch_pushed(w, 0);
	assert_int_equal(w->branch.push_ms, 100);
	w->branch.push_ms = 0;
	dg_worker_branch_pushed(w, -5);
	assert_int_equal(w->branch.push_ms, 1);

	/* a mean last fed a window ago is no pace of now: the sample replaces it */
	dg_worker_branch_pushed(w, 1600);
	assert_int_equal(w->branch.push_ms, 800);
	w->branch.push_at -= WINDOW_MS + 1;
	dg_worker_branch_pushed(w, 200);
	assert_int_equal(w->branch.push_ms, 200);
	dg_worker_branch_observe(w, 1600);
	assert_int_equal(w->branch.fetch_ms, 1600);
	dg_worker_branch_observe(w, 100);
	assert_int_equal(w->branch.fetch_ms, 850);
	w->branch.fetch_at -= WINDOW_MS + 1;
	dg_worker_branch_observe(w, 100);
	assert_int_equal(w->branch.fetch_ms, 100);
	/* a look without a fetch (a peek that found our tip) measures nothing */
	w->branch.fetch_at -= WINDOW_MS + 1;
	dg_worker_branch_observe(w, -1);
	assert_int_equal(w->branch.fetch_ms, 100);
	assert_int_equal(dg_worker_branch_turn_ms(w), 300);
}

/*
 * The first move after a look that found the branch still: a registered
 * worker fetches it at once instead of rechecking (a submission, most
 * likely); one not registered here, or one whose last look saw the branch
 * move, rechecks as before. What the fetch brought then decides: a
 * submission alone is claimed, another node's claim means a carrier
 * took the queue already - stand aside, whatever the window's rate says.
 * So does a step that lost its race, and its lost push leaves no claim to
 * adopt that would keep it pushing.
 */
static void test_fresh_move(void **state)
{
	struct grid *g = *state;
	struct worker *w = &g->w;
	struct dg_branch_watch *b = &w->branch;
	int64_t again = -1;

	w->policy.protocol = 3;
	w->nodes_seen = 8;
	dg_worker_branch_observe(w, 200);
	dg_worker_branch_pushed(w, 300);
	/* a look that found the tip we hold: quiet */
	assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_CURRENT);
	w->quiet_looks = 1;
	/* not registered here: recheck, as before */
	commit_file(g, "tasks/queue/t1.json", "plain submit");
	assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_AGAIN);
	assert_false(b->fresh_move);
	b->recheck = false;
	b->peek_tip[0] = '\0';
	/* registered: fetch at once */
	register_w1(g);
	assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_CURRENT);
	commit_file(g, "tasks/queue/t2.json", "plain submit");
	assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_FETCH);
	assert_true(b->fresh_move);
	assert_false(b->recheck);
	/* the last look saw the branch move: recheck, as before */
	b->peek_tip[0] = '\0';
	w->quiet_looks = 0;
	assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_AGAIN);
	assert_false(b->fresh_move);
	b->recheck = false;
	b->peek_tip[0] = '\0';
	w->quiet_looks = 1;
	assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_FETCH);
	assert_true(b->fresh_move);
	/* it brought a submission alone: nobody carries the queue yet, claim */
	fetch(g);
	dg_worker_branch_observe(w, 200);
	assert_int_equal(b->claims_seen, 0);
	assert_false(dg_worker_stand_aside(w));
	assert_false(b->fresh_move);
	assert_true(b->fresh_claim);
	/* its claim landed (worker.c clears the mark) */
	b->fresh_claim = false;

	/* it brought another node's claim: that node carries the queue, stand aside */
	assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_CURRENT);
	commit_file(g, "tasks/queue/t3.json", "plain submit");
	commit(g, "w2: claim t3.json intake 1");
	assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_FETCH);
	fetch(g);
	dg_worker_branch_observe(w, 200);
	assert_int_equal(b->claims_seen, 1);
	assert_true(dg_worker_branch_busy(w) < 0.5);
	/* a task named "claim", reported or handed back, is no claim; one claimed is */
	commit(g, "w2: report claim (success) hand back claim");
	commit(g, "w3: report t1 (success) claim claim.json");
	commit(g, "reap by w4: t5");
	fetch(g);
	dg_worker_branch_observe(w, 200);
	assert_int_equal(b->claims_seen, 1);
	assert_true(dg_worker_stand_aside(w));
	assert_int_equal(b->aside_streak, 1);
	b->aside_streak = 0;
	/* the same commits fetched at any other look: the window's rate decides */
	b->fresh_move = false;
	assert_false(dg_worker_stand_aside(w));

	/*
	 * A lost race for what a fresh fetch found: stand aside, and the lost
	 * push holds no claim to adopt. Any other lost race leaves it to the
	 * rate: a worker may have lost to one that cannot run its tasks.
	 */
	w->conflicts = 1;
	w->need_adopt = true;
	w->adopt_race_only = true;
	assert_false(b->fresh_claim);
	assert_false(dg_worker_stand_aside(w));
	assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_CURRENT);
	commit_file(g, "tasks/queue/t4.json", "plain submit");
	assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_FETCH);
	fetch(g);
	dg_worker_branch_observe(w, 200);
	w->conflicts = 0;
	assert_false(dg_worker_stand_aside(w));
	assert_true(b->fresh_claim);
	w->conflicts = 1;
	w->adopt_race_only = false;
	assert_false(dg_worker_stand_aside(w));
	w->adopt_race_only = true;
	assert_true(dg_worker_stand_aside(w));
	b->aside_streak = 0;
	w->conflicts = 0;
	assert_false(dg_worker_stand_aside(w));
}

/* Only an idle worker without a budget on a crowded, busy branch stands aside. */
static void test_stand_aside(void **state)
{
	struct grid *g = *state;
	struct worker *w = &g->w;
	struct dg_branch_watch *b = &w->branch;

	two_looks(g, 2000);
	assert_true(fabs(dg_worker_branch_busy(w) - 1.0) < 1e-6);
	/* not registered yet, but w2 and w3 pushed lately: a crowd of 3 */
	assert_int_equal(dg_worker_crowd_nodes(w), 3);
	assert_true(dg_worker_stand_aside(w));
	b->aside_streak = 0;
	/* nobody else pushed lately: alone on the grid, push */
	for (size_t i = 0; i < DG_BRANCH_AUTHORS; i++)
		b->authors[i].ms -= 20000;
	assert_int_equal(dg_worker_crowd_nodes(w), 1);
	assert_false(dg_worker_stand_aside(w));
	/* a race lost lately: somebody else pushes, whoever it is */
	w->contended_until = dg_now_ms() + 60000;
	assert_int_equal(dg_worker_crowd_nodes(w), 2);
	assert_true(dg_worker_stand_aside(w));
	w->contended_until = 0;
	b->aside_streak = 0;
	assert_false(dg_worker_stand_aside(w));
	/* registered nodes count as they are */
	w->nodes_seen = 2;
	assert_int_equal(dg_worker_crowd_nodes(w), 2);
	assert_true(dg_worker_stand_aside(w));
	assert_int_equal(b->aside_streak, 1);

	/* each disqualifier alone */
	w->budget = 60;
	assert_false(dg_worker_stand_aside(w));
	w->budget = 0;
	w->jobs_nr = 1;
	assert_false(dg_worker_stand_aside(w));
	w->jobs_nr = 0;
	w->backlog_nr = 1;
	assert_false(dg_worker_stand_aside(w));
	w->backlog_nr = 0;
	w->pending_nr = 1;
	assert_false(dg_worker_stand_aside(w));
	w->pending_nr = 0;
	w->requeue_nr = 1;
	assert_false(dg_worker_stand_aside(w));
	w->requeue_nr = 0;
	w->stopping = true;
	assert_false(dg_worker_stand_aside(w));
	w->stopping = false;
	w->nodes_seen = 1;
	assert_false(dg_worker_stand_aside(w));
	w->nodes_seen = 32;
	b->aside_streak = 0;
	assert_true(dg_worker_stand_aside(w));

	/* busy below half the time: push, and the streak starts over */
	b->looks[prev_look(b, 1)].ms = b->looks[b->head].ms - 8000;
	assert_false(dg_worker_stand_aside(w));
	assert_int_equal(b->aside_streak, 0);
	assert_int_equal(b->queue_first_ms, 0);
	/* exactly half: stand aside */
	b->looks[prev_look(b, 1)].ms = b->looks[b->head].ms - 4000;
	assert_true(fabs(dg_worker_branch_busy(w) - 0.5) < 1e-6);
	assert_true(dg_worker_stand_aside(w));
	b->looks[prev_look(b, 1)].ms = b->looks[b->head].ms - 2000;

	/* claims to adopt are possible only once registered (nodes/w1.json) */
	b->aside_streak = 0;
	w->need_adopt = true;
	assert_true(dg_worker_stand_aside(w));
	commit_file(g, "nodes/w2.json", "w2: register");
	fetch(g);
	assert_true(dg_worker_stand_aside(w));
	commit_file(g, "nodes/w1.json", "w1: register");
	fetch(g);
	assert_false(dg_worker_stand_aside(w));
	w->need_adopt = false;

	/* never for long: four in a row, then a try, then again */
	b->aside_streak = 0;
	for (int i = 0; i < 4; i++)
		assert_true(dg_worker_stand_aside(w));
	assert_int_equal(b->aside_streak, 4);
	assert_true(b->queue_first_ms != 0);
	assert_false(dg_worker_stand_aside(w));
	assert_int_equal(b->aside_streak, 0);
	assert_int_equal(b->queue_first_ms, 0);
	assert_true(dg_worker_stand_aside(w));
	assert_int_equal(b->aside_streak, 1);
}

/* Standing aside notes the queue's length: its first (the longest) and its last. */
static void test_stand_aside_notes_queue(void **state)
{
	struct grid *g = *state;
	struct worker *w = &g->w;
	struct dg_branch_watch *b = &w->branch;
	int64_t first_ms;

	commit_file(g, "tasks/queue/a.json", "w2: submit a");
	commit_file(g, "tasks/queue/b.json", "w2: submit b");
	commit_file(g, "tasks/queue/c.json", "w2: submit c");
	commit_file(g, "tasks/queue/.keep", "plain keep");
	fetch(g);
	two_looks(g, 2000);
	w->nodes_seen = 8;
	assert_true(dg_worker_stand_aside(w));
	assert_int_equal(b->queue_first, 3);
	assert_int_equal(b->queue_last, 3);
	assert_true(b->queue_first_ms > 0);
	first_ms = b->queue_first_ms;

	git(g, "rm -q tasks/queue/a.json tasks/queue/b.json");
	commit(g, "w3: claim a b");
	fetch(g);
	assert_true(dg_worker_stand_aside(w));
	assert_int_equal(b->queue_first, 3);
	assert_int_equal(b->queue_first_ms, first_ms);
	assert_int_equal(b->queue_last, 1);
	assert_true(b->queue_last_ms >= first_ms);

	/* a longer queue than the first starts the measure again */
	commit_file(g, "tasks/queue/d.json", "w2: submit d");
	commit_file(g, "tasks/queue/e.json", "w2: submit e");
	commit_file(g, "tasks/queue/f.json", "w2: submit f");
	fetch(g);
	assert_true(dg_worker_stand_aside(w));
	assert_int_equal(b->queue_first, 4);
	assert_int_equal(b->queue_last, 4);

	/* a queue that did not shrink since the first look (a second later): the busy ones do not take it, claim */
	b->queue_first_ms -= 1000;
	assert_false(dg_worker_stand_aside(w));
	assert_int_equal(b->aside_streak, 0);
	assert_int_equal(b->queue_first_ms, 0);
	/* and the next look starts a new measure */
	assert_true(dg_worker_stand_aside(w));
	assert_int_equal(b->aside_streak, 1);
	assert_int_equal(b->queue_first, 4);
	/* a first look never claims for a queue that did not shrink: no time between */
	b->aside_streak = 0;
	b->queue_first_ms -= 1000;
	assert_true(dg_worker_stand_aside(w));

	/* 40 then 4 ten seconds apart: empty within a wait at that pace, stand aside */
	b->queue_first = 40, b->queue_first_ms = dg_now_ms() - 10000;
	assert_true(dg_worker_stand_aside(w));
	assert_int_equal(b->queue_last, 4);
	/* 5 then 4: 40 s more at that pace, longer than a wait (30 s): more hands, claim */
	b->queue_first = 5, b->queue_first_ms = dg_now_ms() - 10000;
	assert_false(dg_worker_stand_aside(w));
	assert_int_equal(b->aside_streak, 0);
	assert_int_equal(b->queue_first_ms, 0);
}

/*
 * A worker that holds nothing peeks before it fetches. A branch at the tip
 * it holds needs no fetch, one that did not move since the last peek is
 * fetched (and a worker that stood aside claims: peek_quiet);
 * one that moved is peeked at again after a random wait between a turn
 * and (the nodes that push x a turn), at most 10 s - 10 s for a worker
 * not registered here: moved again, the fetch is skipped (the known tip
 * stays), unless the last fetch is a minute old; still, it is fetched. A
 * worker with work of its own, on a budget grid or alone does not peek.
 */
static void test_peek(void **state)
{
	struct grid *g = *state;
	struct worker *w = &g->w;
	struct dg_branch_watch *b = &w->branch;
	char known[41];
	int64_t again = -1;

	two_looks(g, 2000);
	w->nodes_seen = 8;
	assert_true(dg_worker_stand_aside(w));
	assert_int_equal(b->aside_streak, 1);

	/* nothing new since the look, the tip we hold: on a grid of heartbeats, fetch (their refs move) */
	assert_true(dg_policy_heartbeats(&w->policy));
	assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_FETCH);
	b->peek_tip[0] = '\0';
	/* on a grid of leases no fetch, and the step claims */
	w->policy.protocol = 3;
	assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_CURRENT);
	assert_string_equal(b->peek_tip, dg_store_tip(g->store));
	assert_true(b->peek_quiet);
	assert_false(dg_worker_stand_aside(w));
	assert_false(b->peek_quiet);
	assert_int_equal(b->aside_streak, 0);

	/* a move, seen by a worker not registered here: look again within 10 s */
	commit(g, "plain submit");
	assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_AGAIN);
	assert_in_range(again, 500, 10000);
	assert_true(b->recheck);
	b->recheck = false;
	b->peek_tip[0] = '\0';
	/* registered: within 8 nodes x 500 ms - those who claimed here go first */
	register_w1(g);
	snprintf(known, sizeof(known), "%s", dg_store_tip(g->store));
	commit(g, "plain submit");
	for (int i = 0; i < 20; i++) {
		assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_AGAIN);
		assert_in_range(again, 500, 4000);
		b->recheck = false;
		b->peek_tip[0] = '\0';
	}
	assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_AGAIN);
	assert_true(b->recheck);
	assert_false(b->peek_quiet);
	/* what it knows is stale until it fetches: an --exit-when-idle worker must not exit on it */
	assert_true(dg_worker_branch_unfetched(w));
	/* nothing since: fetch (the submission is the worker's to see) */
	assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_FETCH);
	assert_false(b->recheck);
	assert_true(b->peek_quiet);
	/* moving on: busy, no fetch, the known tip stays; peeks are no looks of the streak */
	b->aside_streak = 1;
	for (unsigned k = 1; k <= 6; k++) {
		commit(g, "w2: claim t4");
		assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_AGAIN);
		commit(g, "w3: report t2");
		assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_BUSY);
		assert_int_equal(b->peek_skips, k);
		assert_int_equal(b->aside_streak, 1);
		assert_false(b->peek_quiet);
		assert_string_equal(dg_store_tip(g->store), known);
		assert_string_not_equal(b->peek_tip, known);
	}
	/*
	 * One fetched look of the queue, 10 s ago: the recheck fetches for a
	 * second, which gives the pace; a pace known, or a look under 10 s
	 * old, keeps the peek
	 */
	b->queue_first_ms = b->queue_last_ms = dg_now_ms() - 10000;
	commit(g, "w2: claim t4");
	assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_AGAIN);
	commit(g, "w3: report t2");
	assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_FETCH);
	b->queue_first_ms = b->queue_last_ms = dg_now_ms() - 9000;
	commit(g, "w2: claim t4");
	assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_AGAIN);
	commit(g, "w3: report t2");
	assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_BUSY);
	b->queue_first_ms -= 5000;
	commit(g, "w2: claim t4");
	assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_AGAIN);
	commit(g, "w3: report t2");
	assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_BUSY);
	b->queue_first_ms = b->queue_last_ms = 0;
	b->peek_skips = 6;
	/* a minute after the last fetch, a branch that moves on is fetched - at the recheck */
	b->looks[b->head].ms -= 60000;
	commit(g, "w2: claim t5");
	assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_AGAIN);
	commit(g, "w3: report t4");
	assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_FETCH);
	assert_int_equal(b->peek_skips, 6);
	fetch(g);
	dg_worker_branch_observe(w, 200);
	assert_string_equal(b->peek_tip, "");
	assert_int_equal(b->peek_skips, 0);
	assert_false(dg_worker_branch_unfetched(w));
	/* the branch stayed at the tip fetched: it is free, and there is nothing to fetch */
	assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_CURRENT);
	assert_true(b->peek_quiet);
	b->aside_streak = 1;
	assert_false(dg_worker_stand_aside(w));

	/* the wait to look again: a turn at least, 10 s at most */
	w->nodes_seen = 64;
	for (int i = 0; i < 50; i++) {
		commit(g, "w2: claim t6");
		assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_AGAIN);
		assert_in_range(again, 500, 10000);
		b->recheck = false;
	}

	/* with work of its own, on a budget grid or alone, a worker fetches */
	commit(g, "w2: claim t7");
	b->peek_tip[0] = '\0';
	w->pending_nr = 1;
	assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_FETCH);
	assert_string_equal(b->peek_tip, "");
	w->pending_nr = 0;
	w->budget = 60;
	assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_FETCH);
	w->budget = 0;
	w->nodes_seen = 1;
	for (size_t i = 0; i < DG_BRANCH_AUTHORS; i++)
		b->authors[i].ms -= 20000;
	assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_FETCH);
	assert_string_equal(b->peek_tip, "");
	w->nodes_seen = 8;
	assert_int_equal(dg_worker_peek(w, &again), DG_PEEK_AGAIN);
}

/*
 * Quick tasks on a busy branch: a worker about to report claims no more
 * when another node that pushed lately leads (more commits seen than our
 * own, or as many and its id sorts first); the leader goes on, and so
 * does everybody on a quiet branch or with tasks longer than a turn.
 */
static void test_yields_quick_tasks(void **state)
{
	struct grid *g = *state;
	struct worker *w = &g->w;

	g->w.me = "w3";
	two_looks(g, 2000);   /* w2 and w3 pushed, busy 1.0, turn 500 ms */
	w->pending_nr = 1;
	w->task_ms_avg = 20;
	/* w2 leads: two commits to our one (w1 has one) */
	assert_int_equal(w->branch.own, 1);
	assert_true(dg_worker_yields_quick_tasks(w, 500));
	/* the carrier with the most commits goes on */
	w->branch.own = 3;
	assert_false(dg_worker_yields_quick_tasks(w, 500));
	/* as many: the first by id */
	w->branch.own = 2;
	assert_true(dg_worker_yields_quick_tasks(w, 500));
	g->w.me = "w1";
	assert_false(dg_worker_yields_quick_tasks(w, 500));
	g->w.me = "w3";
	w->branch.own = 1;
	/* a queue of a batch or less: its last tasks may be ones the first cannot run */
	w->policy.claim_batch_max = 64;
	assert_false(dg_worker_yields_quick_tasks(w, 64));
	assert_true(dg_worker_yields_quick_tasks(w, 65));
	/* nothing to report (an idle worker trying anyway must claim) */
	w->pending_nr = 0;
	assert_false(dg_worker_yields_quick_tasks(w, 500));
	w->pending_nr = 1;
	/* tasks as long as a turn, or not measured yet */
	w->task_ms_avg = 500;
	assert_false(dg_worker_yields_quick_tasks(w, 500));
	w->task_ms_avg = 0;
	assert_false(dg_worker_yields_quick_tasks(w, 500));
	w->task_ms_avg = 20;
	/* a budget grid has its own schedule */
	w->budget = 6;
	assert_false(dg_worker_yields_quick_tasks(w, 500));
	w->budget = 0;
	/* a quiet branch: busy below half */
	w->branch.looks[prev_look(&w->branch, 1)].ms = w->branch.looks[w->branch.head].ms - 8000;
	assert_false(dg_worker_yields_quick_tasks(w, 500));
	w->branch.looks[prev_look(&w->branch, 1)].ms = w->branch.looks[w->branch.head].ms - 2000;
	assert_true(dg_worker_yields_quick_tasks(w, 500));
	/* w2 has not pushed for longer than the window */
	for (size_t i = 0; i < DG_BRANCH_AUTHORS; i++)
		w->branch.authors[i].ms -= 20000;
	assert_false(dg_worker_yields_quick_tasks(w, 500));
}

/*
 * Before the queue's pace is known: the nodes that push x our turn, at
 * most 30 s; a worker not registered here, which cannot count the others
 * like it, at least 10 s (bench-collapse.sh: 31 unregistered workers that
 * each counted a crowd of 2 looked every 0.5-1.5 s while one drained).
 */
static void test_aside_no_pace(void **state)
{
	struct grid *g = *state;
	struct worker *w = &g->w;

	/* w2, w3 and we push, a turn of 500 ms: 1.5 s, but we are not registered */
	two_looks(g, 2000);
	assert_int_equal(dg_worker_crowd_nodes(w), 3);
	assert_int_equal(dg_worker_aside_no_pace_ms(w), 10000);
	w->nodes_seen = 100;
	assert_int_equal(dg_worker_aside_no_pace_ms(w), 30000);

	/* registered (nodes/w1.json on the branch we hold): the crowd we count */
	w->nodes_seen = 0;
	commit_file(g, "nodes/w1.json", "w1: register");
	fetch(g);
	assert_int_equal(dg_worker_aside_no_pace_ms(w), 1500);
	w->nodes_seen = 30;
	assert_int_equal(dg_worker_aside_no_pace_ms(w), 15000);
	w->nodes_seen = 100;
	assert_int_equal(dg_worker_aside_no_pace_ms(w), 30000);
}

/*
 * On a grid with a fetch budget, an idle worker that is not registered
 * waits at least a quarter of the time the queue has been empty to it, at
 * most 5 minutes (worker_budget.c); a registered one, or one that saw
 * work, or any worker on a grid without a fetch budget: no such wait.
 */
static void test_unseen_poll(void **state)
{
	struct grid *g = *state;
	struct worker *w = &g->w;

	dg_worker_queue_seen(w, true);
	assert_true(w->queue_seen_empty);
	/* no fetch budget (github.com's default is none here: the repository is local) */
	w->queue_empty_since -= 400000;
	assert_int_equal(dg_worker_unseen_poll_ms(w), 0);
	w->policy.fetch_budget = 30;
	w->policy.fetch_budget_set = true;
	assert_in_range(dg_worker_unseen_poll_ms(w), 100000, 100100);
	/* a later look that finds nothing keeps the quiet's start */
	dg_worker_queue_seen(w, true);
	assert_in_range(dg_worker_unseen_poll_ms(w), 100000, 100100);
	w->queue_empty_since -= 1200000;
	assert_int_equal(dg_worker_unseen_poll_ms(w), 300000);
	/* work seen: the quiet starts over at the next empty look */
	dg_worker_queue_seen(w, false);
	assert_false(w->queue_seen_empty);
	assert_int_equal(w->queue_empty_since, 0);
	assert_int_equal(dg_worker_unseen_poll_ms(w), 0);
	dg_worker_queue_seen(w, true);
	assert_in_range(dg_worker_unseen_poll_ms(w), 0, 100);
	w->queue_empty_since -= 40000;
	assert_in_range(dg_worker_unseen_poll_ms(w), 10000, 10100);
	/* registered (nodes/w1.json on the branch we hold): counted in the share, no wait of its own */
	commit_file(g, "nodes/w1.json", "w1: register");
	fetch(g);
	assert_int_equal(dg_worker_unseen_poll_ms(w), 0);
}

static void assert_wait_within(const struct worker *w, int64_t floor_ms, int64_t no_pace_ms, int64_t lo, int64_t hi)
{
	/* jittered: look at many */
	for (int i = 0; i < 200; i++) {
		int64_t ms = dg_worker_stand_aside_ms(w, floor_ms, no_pace_ms);

		assert_in_range(ms, lo, hi);
	}
}

/*
 * About when the queue drains at the pace seen (no_pace_ms when none is
 * known), 30 s at most, half to one and a half times that, never below
 * the floor.
 */
static void test_stand_aside_ms(void **state)
{
	struct grid *g = *state;
	struct worker *w = &g->w;
	struct dg_branch_watch *b = &w->branch;
	int64_t t = dg_now_ms();
	bool jittered = false;

	/* nothing seen of the queue: no_pace_ms (the next look measures a pace) */
	assert_wait_within(w, 0, 0, 0, 0);
	assert_wait_within(w, 1000, 0, 1000, 1500);
	assert_wait_within(w, 0, 8000, 4000, 12000);
	assert_wait_within(w, 1000, 60000, 15000, 45000);
	for (int i = 0; i < 200 && !jittered; i++)
		jittered = dg_worker_stand_aside_ms(w, 1000, 8000) != dg_worker_stand_aside_ms(w, 1000, 8000);
	assert_true(jittered);

	/* 100 then 50 five seconds later: 50 more take about 5 s, whatever no_pace_ms says */
	b->queue_first_ms = t, b->queue_first = 100;
	b->queue_last_ms = t + 5000, b->queue_last = 50;
	assert_wait_within(w, 0, 0, 2500, 7500);
	assert_wait_within(w, 1000, 30000, 2500, 7500);
	/* never below the floor */
	assert_wait_within(w, 8000, 0, 8000, 12000);
	/* a slow drain: 30 s at most */
	b->queue_last = 99;
	assert_wait_within(w, 0, 0, 15000, 45000);
	/* drained: the floor */
	b->queue_last = 0;
	assert_wait_within(w, 500, 9000, 500, 750);
	/* a queue that grew, or no time between: no pace known */
	b->queue_last = 120;
	assert_wait_within(w, 700, 0, 700, 1050);
	assert_wait_within(w, 0, 2000, 1000, 3000);
	b->queue_last = 50, b->queue_last_ms = t;
	assert_wait_within(w, 0, 2000, 1000, 3000);
}

/* A new store: nothing of the old branch remains. */
static void test_forget(void **state)
{
	struct grid *g = *state;
	struct worker *w = &g->w;
	struct dg_branch_watch *b = &w->branch;

	two_looks(g, 2000);
	w->nodes_seen = 4;
	w->turn_ms_avg = 900;
	assert_true(dg_worker_stand_aside(w));
	assert_int_equal(dg_worker_branch_pushers(w), 2);

	dg_worker_branch_forget(w);
	assert_int_equal(b->nr, 0);
	assert_int_equal(b->head, 0);
	assert_int_equal(b->commits, 0);
	assert_string_equal(b->tip, "");
	assert_int_equal(b->aside_streak, 0);
	assert_int_equal(b->fetch_ms, 0);
	assert_int_equal(b->push_ms, 0);
	assert_int_equal(b->queue_first_ms, 0);
	assert_int_equal(b->queue_last_ms, 0);
	for (size_t i = 0; i < DG_BRANCH_LOOKS; i++) {
		assert_int_equal(b->looks[i].ms, 0);
		assert_int_equal(b->looks[i].commits, 0);
	}
	for (size_t i = 0; i < DG_BRANCH_AUTHORS; i++) {
		assert_string_equal(b->authors[i].id, "");
		assert_int_equal(b->authors[i].ms, 0);
	}
	assert_int_equal(dg_worker_branch_pushers(w), 0);
	assert_true(dg_worker_branch_busy(w) == 0);
	assert_int_equal(dg_worker_branch_turn_ms(w), 900);
	assert_false(dg_worker_stand_aside(w));

	/* the next look starts afresh: no walk from a tip we no longer know */
	commit(g, "w2: report t9");
	fetch(g);
	dg_worker_branch_observe(w, 100);
	assert_int_equal(b->nr, 1);
	assert_int_equal(b->commits, 0);
	assert_string_equal(b->tip, dg_store_tip(g->store));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_walk_since, setup, teardown),
		cmocka_unit_test(test_walk_since_empty_branch),
		cmocka_unit_test_setup_teardown(test_observe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_observe_rewritten, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pushed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_others_hold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stand_aside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stand_aside_notes_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peek, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fresh_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_yields_quick_tasks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aside_no_pace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stand_aside_ms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unseen_poll, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget, setup, teardown),
	};
	int ret;

	/* git's commits, whoever runs the tests and however their git is set up */
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	setenv("GIT_AUTHOR_NAME", "test", 1);
	setenv("GIT_AUTHOR_EMAIL", "test@localhost", 1);
	setenv("GIT_COMMITTER_NAME", "test", 1);
	setenv("GIT_COMMITTER_EMAIL", "test@localhost", 1);
	git_libgit2_init();
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	git_libgit2_shutdown();
	return ret;
}
