/*
 * test_budget_members.c - the push schedule's members as main's
 * registrations give them (dg_worker_budget_update), read again only when
 * the nodes/ tree changed. A grid keeps the registration of every node
 * that ever joined; reading them all at every turn made a turn's cost
 * grow with the grid's history. What must not happen is a stale list: a
 * node that registers or stops changes the tree, and the schedule must
 * see it; a node silent on main for slot_keep_seconds (dead, or idle) is
 * no member (its slot would go unused in every cycle), and one that joins
 * again counts from its join. Checked on a real repository made with git.
 */
#include "common.h"
#include "worker_int.h"

#include <git2.h>

#include <setjmp.h>
#include <cmocka.h>

#include "repo_fixture.h"
#include "budget_fixture.h"

/* Commits nodes/ID.json registered at HH:MM, stopped or not, and makes the store see it. */
static void registration(struct grid *g, const char *id, const char *at, bool stopped)
{
	sh_in(g->dir, "mkdir -p nodes && printf '{\"node_id\": \"%s\", \"registered_at\": \"2026-12-04T%s:00Z\"%s}\\n' > nodes/%s.json"
	      " && git add nodes && git -c user.name=t -c user.email=t@l commit -q -m 'register %s'",
	   id, at, stopped ? ", \"stopped_at\": \"2026-12-04T12:00:00Z\"" : "", id, id);
	assert_int_equal(dg_store_fetch(g->store), 0);
}

/* Commits nodes/ID.json registered at HH:MM whose key (active_at, stopped_at) says secs_ago seconds ago (by this machine's clock). */
static void registration_stamped(struct grid *g, const char *id, const char *at, const char *key, int secs_ago)
{
	char stamp[32];
	time_t t = time(NULL) - secs_ago;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	sh_in(g->dir, "mkdir -p nodes && printf '{\"node_id\": \"%s\", \"registered_at\": \"2026-12-04T%s:00Z\","
		      " \"%s\": \"%s\"}\\n' > nodes/%s.json"
		      " && git add nodes && git -c user.name=t -c user.email=t@l commit -q -m 'register %s'",
	      id, at, key, stamp, id, id);
	assert_int_equal(dg_store_fetch(g->store), 0);
}

static void registration_active(struct grid *g, const char *id, const char *at, int secs_ago)
{
	registration_stamped(g, id, at, DG_NODE_ACTIVE_KEY, secs_ago);
}

static void registration_stopped(struct grid *g, const char *id, const char *at, int secs_ago)
{
	registration_stamped(g, id, at, DG_NODE_STOPPED_KEY, secs_ago);
}

static int setup(void **state)
{
	*state = grid_open("members");
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	return grid_close(*state);
}

static void test_read_once_while_unchanged(void **state)
{
	struct grid *g = *state;

	registration(g, "n1", "10:00", false);
	registration(g, "n2", "10:01", false);
	registration(g, "n3", "10:02", true);
	dg_worker_budget_update(&g->w);
	assert_int_equal(g->w.budget, 60);
	assert_int_equal(g->w.slot.members, 2);          /* n3 stopped */
	assert_int_equal(g->w.slot.rank, 2);             /* w1 is none of them */
	assert_int_equal(g->w.registrations_read, 3);
	for (int i = 0; i < 5; i++)
		dg_worker_budget_update(&g->w);
	assert_int_equal(g->w.slot.members, 2);
	assert_int_equal(g->w.registrations_read, 3);   /* nothing read again */
}

static void test_changes_are_seen(void **state)
{
	struct grid *g = *state;

	registration(g, "n1", "10:00", false);
	registration(g, "n2", "10:01", false);
	dg_worker_budget_update(&g->w);
	assert_int_equal(g->w.slot.members, 2);

	/* a newcomer registers: the tree changed */
	registration(g, "n4", "10:05", false);
	dg_worker_budget_update(&g->w);
	assert_int_equal(g->w.slot.members, 3);
	assert_int_equal(g->w.registrations_read, 2 + 1);   /* the new file alone: the others' bytes are the same */

	/* n1 stops: its file changed, so did the tree */
	registration(g, "n1", "10:00", true);
	dg_worker_budget_update(&g->w);
	assert_int_equal(g->w.slot.members, 2);

	/* we register ourselves: a member now, ranked by registration */
	registration(g, "w1", "10:03", false);
	dg_worker_budget_update(&g->w);
	assert_int_equal(g->w.slot.members, 3);
	assert_int_equal(g->w.slot.rank, 1);            /* n2 (10:01), w1 (10:03), n4 (10:05) */
	assert_true(g->w.on_main);

	/* a commit elsewhere leaves nodes/ as it was: nothing read */
	{
		unsigned long before = g->w.registrations_read;

		sh_in(g->dir, "echo x > other && git add other && git -c user.name=t -c user.email=t@l commit -q -m other");
		assert_int_equal(dg_store_fetch(g->store), 0);
		dg_worker_budget_update(&g->w);
		assert_int_equal(g->w.registrations_read, before);
		assert_int_equal(g->w.slot.members, 3);
	}
}

/* id (registered at HH:MM) stops secs_ago seconds ago: the members and our rank then. */
static void stop_and_see(struct grid *g, const char *id, const char *at, int secs_ago, size_t members, size_t rank)
{
	registration_stopped(g, id, at, secs_ago);
	dg_worker_budget_update(&g->w);
	assert_int_equal(g->w.slot.members, members);
	assert_int_equal(g->w.slot.rank, rank);
}

/*
 * A stop frees its slot DG_PUSHSLOT_STOP_KEEP_SLOTS after its stopped_at:
 * until then the stopped node keeps its rank, and nobody's slot moves
 * while the members of a drained grid stop one after another. It is no
 * crowd meanwhile; and our own stopped registration keeps nothing (we
 * join again as a newcomer).
 */
static void test_stop_keeps_slot_a_while(void **state)
{
	struct grid *g = *state;
	int64_t keep_s = DG_PUSHSLOT_STOP_KEEP_SLOTS * dg_pushslot_len_ms(60) / 1000;

	registration(g, "n1", "10:00", false);
	registration(g, "n2", "10:01", false);
	registration(g, "n3", "10:02", false);
	registration(g, "w1", "10:03", false);
	dg_worker_budget_update(&g->w);
	assert_int_equal(g->w.slot.members, 4);
	assert_int_equal(g->w.slot.rank, 3);
	/* n2 stopped a second ago: it keeps its slot, and ours stays where it was; it is no crowd */
	stop_and_see(g, "n2", "10:01", 1, 4, 3);
	assert_int_equal(g->w.nodes_seen, 3);
	/* once the keep has passed it is gone */
	stop_and_see(g, "n2", "10:01", (int)keep_s + 2, 3, 2);
	/* a stop stamped a year ahead (a clock far off) keeps nothing for a year */
	stop_and_see(g, "n3", "10:02", -365 * 86400, 2, 1);
	/* our own stop keeps no slot of ours */
	stop_and_see(g, "w1", "10:03", 1, 1, 1);
}

/*
 * Without a push budget the same reading counts the crowd (nodes_seen:
 * claim sizes, the pace after a lost race, the fetch budget's share).
 * Nodes that stopped are no crowd: a grid of containers with fresh ids
 * keeps hundreds of such registrations, and counting them made a lone
 * worker take one task in its first claim and poll as if it had company.
 */
static void test_crowd_is_the_live_nodes(void **state)
{
	struct grid *g = *state;

	g->w.policy.push_budget = 0;
	g->w.policy.push_budget_set = false;
	sh_in(g->dir, "mkdir -p nodes && for i in $(seq 1 300); do printf '{\"node_id\": \"old%%d\", \"registered_at\":"
		      " \"2026-11-01T10:00:00Z\", \"stopped_at\": \"2026-11-01T11:00:00Z\"}\\n' $i > nodes/old$i.json; done"
		      " && git add nodes && git -c user.name=t -c user.email=t@l commit -q -m 'old fleet'");
	registration(g, "n1", "10:00", false);
	registration(g, "w1", "10:02", false);
	dg_worker_budget_update(&g->w);
	assert_int_equal(g->w.budget, 0);
	assert_int_equal(g->w.nodes_seen, 2);
	assert_int_equal(g->w.registrations_read, 302);

	/* n1 stops: the crowd is us alone */
	registration(g, "n1", "10:00", true);
	dg_worker_budget_update(&g->w);
	assert_int_equal(g->w.nodes_seen, 1);
	/* one that never stopped (it may have died) counts: the estimate errs on the host's side */
	registration(g, "n5", "10:05", false);
	dg_worker_budget_update(&g->w);
	assert_int_equal(g->w.nodes_seen, 2);
}

/*
 * A member silent on main for slot_keep_seconds is no member: 30 nodes
 * that died without stopping no longer make every cycle 30 slots longer.
 * A registration of an older version (no active_at) stays one.
 */
static void test_silent_members_give_their_slots_up(void **state)
{
	struct grid *g = *state;
	char id[16];

	g->w.policy.slot_keep_seconds = 600;
	for (int i = 0; i < 30; i++) {
		snprintf(id, sizeof(id), "dead%02d", i);
		registration_active(g, id, "09:00", 3600);
	}
	registration_active(g, "n1", "10:00", 10);
	registration_active(g, "n2", "10:01", 599);
	registration(g, "old", "10:02", false);
	dg_worker_budget_update(&g->w);
	assert_int_equal(g->w.slot.members, 3);          /* n1, n2 and old */
	assert_int_equal(g->w.slot.rank, 3);
	/* the crowd counts them still: a silent node may be an idle one */
	assert_int_equal(g->w.nodes_seen, 33);
	/* without the rule, all 33 */
	g->w.policy.slot_keep_seconds = 0;
	dg_worker_budget_update(&g->w);
	assert_int_equal(g->w.slot.members, 33);
}

/*
 * Our own registration gone silent: we are no member, and join again
 * (dg_worker_rejoins); a join ref newer than the dormant registration
 * makes us one at once, ranked by the join. While a member, our
 * active_at is due for a refresh after a quarter of slot_keep_seconds,
 * and urgently after half of it only while we hold work.
 */
static void test_dormant_member_joins_again(void **state)
{
	struct grid *g = *state;

	g->w.policy.slot_keep_seconds = 600;
	registration_active(g, "n1", "10:00", 10);
	registration_active(g, "w1", "10:01", 100);
	dg_worker_budget_update(&g->w);
	assert_int_equal(g->w.slot.members, 2);
	assert_int_equal(g->w.slot.rank, 1);
	assert_false(dg_worker_rejoins(&g->w));
	assert_false(dg_worker_slot_keep_due(&g->w, false));   /* 100 s < 150 s */
	registration_active(g, "w1", "10:01", 200);
	dg_worker_budget_update(&g->w);
	assert_true(dg_worker_slot_keep_due(&g->w, false));
	assert_false(dg_worker_slot_keep_due(&g->w, true));    /* 200 s < 300 s */
	registration_active(g, "w1", "10:01", 400);
	dg_worker_budget_update(&g->w);
	assert_false(dg_worker_slot_keep_due(&g->w, true));    /* holding nothing: no push of its own */
	g->w.pending_nr = 1;
	assert_true(dg_worker_slot_keep_due(&g->w, true));
	g->w.pending_nr = 0;

	/* silent too long: no member, and we know it */
	registration_active(g, "w1", "10:01", 700);
	dg_worker_budget_update(&g->w);
	assert_int_equal(g->w.slot.members, 1);
	assert_int_equal(g->w.slot.rank, 1);
	assert_true(dg_worker_rejoins(&g->w));
	assert_false(dg_worker_slot_keep_due(&g->w, false));

	/* our join ref, newer than the registration on main: a member again, after n1 */
	sh_in(g->dir, "git init -q jr && cd jr && printf '{\"node_id\": \"w1\", \"registered_at\": \"2026-12-04T11:00:00Z\"}'"
		      " > node.json && git add node.json && git -c user.name=t -c user.email=t@l commit -q -m join"
		      " && git push -q .. HEAD:refs/dgrid/join/w1 && cd .. && rm -rf jr");
	assert_int_equal(dg_store_fetch(g->store), 0);
	dg_worker_budget_update(&g->w);
	assert_int_equal(g->w.slot.members, 2);
	assert_int_equal(g->w.slot.rank, 1);
	assert_true(g->w.join_ref);
	assert_false(dg_worker_rejoins(&g->w));

	/* a node that joined by its ref and died before a claim of its landed: dormant as well */
	sh_in(g->dir, "git init -q jr && cd jr && printf '{\"node_id\": \"ghost\", \"registered_at\": \"2020-01-01T11:30:00Z\","
		      " \"active_at\": \"2020-01-01T11:30:00Z\"}' > node.json && git add node.json"
		      " && git -c user.name=t -c user.email=t@l commit -q -m join"
		      " && git push -q .. HEAD:refs/dgrid/join/ghost && cd .. && rm -rf jr");
	assert_int_equal(dg_store_fetch(g->store), 0);
	dg_worker_budget_update(&g->w);
	assert_int_equal(g->w.slot.members, 2);
	g->w.policy.slot_keep_seconds = 0;
	dg_worker_budget_update(&g->w);
	assert_int_equal(g->w.slot.members, 3);
}

/*
 * The fetch budget's sharers: a dormant registration keeps a share of
 * slot_keep_seconds / its silence, and a dormant worker polls that much
 * less often itself, so that the sum stays within the budget whether the
 * silent are dead or idle. Up to 0.14.9 each counted whole, and the long
 * dead slowed every live member's polls for good.
 */
static void test_long_silent_share_less_of_the_fetch_budget(void **state)
{
	struct grid *g = *state;
	char id[16];
	int64_t share;

	g->w.policy.slot_keep_seconds = 600;
	for (int i = 0; i < 40; i++) {
		snprintf(id, sizeof(id), "dead%02d", i);
		registration_active(g, id, "09:00", 6000);   /* ten times slot_keep_seconds: a tenth each */
	}
	registration_active(g, "n1", "10:00", 10);
	registration(g, "gone", "10:02", true);
	dg_worker_budget_update(&g->w);
	assert_int_equal(g->w.nodes_seen, 41);
	/* n1 whole, the 40 dead a tenth each (a second more of silence moves it by 1/600 of that) */
	assert_true(g->w.poll_shares > 4.9 && g->w.poll_shares < 5.001);
	assert_true(g->w.poll_share_me == 1.0);          /* not on main: counted by nobody, a whole share */
	share = dg_worker_fetch_share_ms(&g->w, 900);
	assert_true(share > 390 && share <= 400);          /* 72 s x 5 / 900; 41 x 80 ms before */

	/* we are dormant too, silent twice slot_keep_seconds: half a share, half the looks */
	registration_active(g, "w1", "10:01", 1200);
	dg_worker_budget_update(&g->w);
	assert_true(dg_worker_rejoins(&g->w));
	assert_true(g->w.poll_share_me > 0.49 && g->w.poll_share_me < 0.501);
	assert_true(g->w.poll_shares > 5.39 && g->w.poll_shares < 5.501);
	assert_true(dg_worker_idle_crowd(&g->w) > 10.9 && dg_worker_idle_crowd(&g->w) < 11.1);
	share = dg_worker_fetch_share_ms(&g->w, 900);
	assert_true(share > 870 && share < 890);           /* 72 s x 5.5 / 900 / 0.5 */

	/* silent for ever: our looks never wait longer than the unseen's */
	registration_active(g, "w1", "10:01", 6000000);
	dg_worker_budget_update(&g->w);
	assert_int_equal(dg_worker_fetch_share_ms(&g->w, 30), 5 * 60 * 1000);

	/* a member again (a fresh active_at): a whole share, at the members' pace */
	registration_active(g, "w1", "10:01", 5);
	dg_worker_budget_update(&g->w);
	assert_true(g->w.poll_share_me == 1.0);
	share = dg_worker_fetch_share_ms(&g->w, 900);
	assert_true(share > 470 && share <= 480);          /* 72 s x 6 / 900 */

	/*
	 * Without a push budget the same weights (since 0.14.11; before,
	 * every live registration counted whole: 42 shares, 3,360 ms), and
	 * members keep their own active_at fresh in the pushes they make
	 * anyway: a quarter of slot_keep_seconds old, never in a push of its own.
	 */
	g->w.policy.push_budget = 0;
	dg_worker_budget_update(&g->w);
	assert_int_equal(g->w.budget, 0);
	assert_true(g->w.poll_share_me == 1.0);
	assert_true(g->w.poll_shares > 5.9 && g->w.poll_shares < 6.001);
	share = dg_worker_fetch_share_ms(&g->w, 900);
	assert_true(share > 470 && share <= 480);          /* 72 s x 6 / 900 */
	assert_false(dg_worker_slot_keep_due(&g->w, false));
	registration_active(g, "w1", "10:01", 200);        /* over 600 / 4 */
	dg_worker_budget_update(&g->w);
	assert_true(dg_worker_slot_keep_due(&g->w, false));
	assert_false(dg_worker_slot_keep_due(&g->w, true));
	/* idle and silent twice slot_keep_seconds: half a share, half the looks, as with a budget */
	registration_active(g, "w1", "10:01", 1200);
	dg_worker_budget_update(&g->w);
	assert_true(g->w.poll_share_me > 0.49 && g->w.poll_share_me < 0.501);
	assert_true(dg_worker_idle_crowd(&g->w) > 10.9 && dg_worker_idle_crowd(&g->w) < 11.1);
	/* a registration written before 0.14.9 has no active_at: it gets one with our next report */
	registration(g, "w1", "10:01", false);
	dg_worker_budget_update(&g->w);
	assert_true(dg_worker_slot_keep_due(&g->w, false));
}

/*
 * A newcomer that stands back from its join slot keeps a look at the queue
 * (since 0.15.2), as its step would have: the looks tell it later what
 * the members take in a cycle (dg_worker_leaves_crumbs). Files that are
 * no task (a dotfile, no .json) are not counted; a member keeps no looks.
 */
static void test_stood_back_keeps_a_look(void **state)
{
	struct grid *g = *state;

	registration(g, "n1", "10:00", false);
	sh_in(g->dir, "mkdir -p tasks/queue && for i in 1 2 3 4 5; do echo '{}' > tasks/queue/t$i.json; done"
	      " && echo x > tasks/queue/.keep && echo x > tasks/queue/notes.txt && git add tasks"
	      " && git -c user.name=t -c user.email=t@l commit -q -m submit");
	assert_int_equal(dg_store_fetch(g->store), 0);
	dg_worker_budget_update(&g->w);
	assert_int_equal(g->w.slot.rank, g->w.slot.members);   /* w1: a newcomer */
	dg_worker_join_stood_back(&g->w);
	assert_int_equal(g->w.queue_looks_nr, 1);
	assert_int_equal(g->w.queue_looks[0].queued, 5);
	/* a member keeps none */
	g->w.queue_looks_nr = 0;
	g->w.slot.rank = 0;
	dg_worker_join_stood_back(&g->w);
	assert_int_equal(g->w.queue_looks_nr, 0);
}

/* Runs fn's pick of the join-ref cleanup on main's tip and says whether it deletes the ref; pushes nothing. */
struct cleanup_run {
	struct worker *w;
	bool registering, stopped;
	bool deletes;
};

static int run_cleanup(struct dg_txn *txn, void *payload)
{
	struct cleanup_run *c = payload;
	int ret = c->registering ? dg_worker_register_txn(c->w, txn, c->stopped) : dg_worker_join_cleanup_txn(c->w, txn);

	assert_int_equal(ret, 0);
	c->deletes = dg_txn_has_side(txn);
	return DG_EINVALID;   /* a look: no commit, no push */
}

static bool cleanup_deletes(struct grid *g, bool registering, bool stopped)
{
	struct cleanup_run c = { &g->w, registering, stopped, false };

	assert_int_equal(dg_store_transact(g->store, run_cleanup, &c, NULL), DG_EINVALID);
	return c.deletes;
}

/*
 * A member that joined by its join ref keeps the ref until a tip holds its
 * live registration (since 0.15.3): the host updates each ref of a push on
 * its own, so a deletion that rode on the push bringing the registration
 * landed when main lost the race, and the node was a member nowhere
 * (t0379 shows it against a git daemon). A registration that says
 * stopped_at is a former life's and keeps the ref too; a stopping node's
 * last push deletes it in any case.
 */
static void test_join_ref_kept_until_registered(void **state)
{
	static const struct dg_executor process = { .name = "process" };
	struct grid *g = *state;

	g->opts.executor = &process;   /* the registration's facts name it */
	g->w.join_ref = true;
	snprintf(g->w.joined_at, sizeof(g->w.joined_at), "2026-12-04T10:00:00Z");
	g->w.budget = 60;
	g->w.slot.members = 1;
	g->w.slot.rank = 0;   /* a member, by its join ref */
	assert_false(cleanup_deletes(g, false, false));
	assert_false(cleanup_deletes(g, true, false));   /* the push that brings the registration */
	assert_true(cleanup_deletes(g, true, true));     /* unless we stop */
	registration(g, "w1", "09:00", true);             /* a former life's, stopped */
	assert_false(cleanup_deletes(g, false, false));
	assert_false(cleanup_deletes(g, true, false));
	registration(g, "w1", "10:00", false);            /* ours, live: it has served */
	assert_true(cleanup_deletes(g, false, false));
	assert_true(cleanup_deletes(g, true, false));
	g->w.join_ref = false;                            /* no ref in our view: nothing to delete */
	assert_false(cleanup_deletes(g, false, false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_once_while_unchanged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changes_are_seen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_keeps_slot_a_while, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stood_back_keeps_a_look, setup, teardown),
		cmocka_unit_test_setup_teardown(test_join_ref_kept_until_registered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crowd_is_the_live_nodes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_members_give_their_slots_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dormant_member_joins_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_silent_share_less_of_the_fetch_budget, setup, teardown),
	};
	int failed;

	git_libgit2_init();
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	git_libgit2_shutdown();
	return failed;
}
