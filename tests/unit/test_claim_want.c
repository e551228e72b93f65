/*
 * test_claim_want.c - how many tasks one push claims (worker_budget.c,
 * doc/protocol.md "Push budget" and "Contention without a budget"): alone,
 * the free slots or a turn's worth of quick tasks; on a crowded grid a
 * share that grows with the crowd, never more than 20 s of measured work a
 * slot, 16 a slot before a task has run, nor claim_batch_max; with a budget
 * enough for a cycle within a fair share of the queue. And when a newcomer
 * stands back from its join slot, or leaves a few tasks to the members,
 * and how long a finished result waits for others to share its push.
 */
#include "common.h"
#include "pushslot.h"
#include "worker_int.h"

#include <setjmp.h>
#include <cmocka.h>

struct fixture {
	struct dg_worker_opts opts;
	struct worker w;
};

static struct worker *make(struct fixture *f, unsigned slots)
{
	memset(f, 0, sizeof(*f));
	f->opts.cfg.slots = slots;
	f->w.opts = &f->opts;
	f->w.me = "w1";
	f->w.policy = dg_policy_default;
	return &f->w;
}

/* Alone: the free slots; quick tasks (measured) a turn's worth, within claim_batch_max. */
static void test_alone(void **state DG_UNUSED)
{
	struct fixture f;
	struct worker *w = make(&f, 1);

	assert_int_equal(dg_worker_claim_want(w, 400), 1);
	w->task_ms_avg = 2000, w->turn_ms_avg = 150;
	assert_int_equal(dg_worker_claim_want(w, 400), 1);
	w->task_ms_avg = 10, w->turn_ms_avg = 150;
	assert_int_equal(dg_worker_claim_want(w, 400), 15);
	w->task_ms_avg = 1;
	assert_int_equal(dg_worker_claim_want(w, 400), 64);
	/* what we hold counts */
	w->backlog_nr = 60;
	assert_int_equal(dg_worker_claim_want(w, 400), 4);
	w->backlog_nr = 70;
	assert_int_equal(dg_worker_claim_want(w, 400), 0);
	/* with four slots: four times a slot's share, still within claim_batch_max */
	w = make(&f, 4);
	assert_int_equal(dg_worker_claim_want(w, 400), 4);
	w->task_ms_avg = 50, w->turn_ms_avg = 200;
	assert_int_equal(dg_worker_claim_want(w, 400), 16);
}

/* A crowded grid without a budget: the crowd's size, 20 s of measured work a slot at most. */
static void test_crowded(void **state DG_UNUSED)
{
	struct fixture f;
	struct worker *w = make(&f, 1);

	w->nodes_seen = 32, w->registered = true;
	w->task_ms_avg = 100, w->turn_ms_avg = 1000;
	assert_int_equal(dg_worker_claim_want(w, 400), 32);
	/* two-second tasks: 20 s of work */
	w->task_ms_avg = 2000;
	assert_int_equal(dg_worker_claim_want(w, 400), 10);
	/* five-second tasks: 4 */
	w->task_ms_avg = 5000;
	assert_int_equal(dg_worker_claim_want(w, 400), 4);
	/* a minute each: one */
	w->task_ms_avg = 60000;
	assert_int_equal(dg_worker_claim_want(w, 400), 1);
	/* lost races raise it, within claim_batch_max */
	w->task_ms_avg = 1, w->crowd = 128;
	assert_int_equal(dg_worker_claim_want(w, 4000), 64);
	w->policy.claim_batch_max = 6;
	assert_int_equal(dg_worker_claim_want(w, 4000), 6);
}

/* Before a task has run: a fair share among the crowd, at most 16 a slot. */
static void test_crowded_first_claim(void **state DG_UNUSED)
{
	struct fixture f;
	struct worker *w = make(&f, 1);

	/* no race lost, nobody registered: one task, as alone */
	assert_int_equal(dg_worker_claim_want(w, 400), 1);
	/* lost races suggest a crowd of 32: 800 / 32 = 25, at most 16 */
	w->crowd = 32;
	assert_int_equal(dg_worker_claim_want(w, 800), 16);
	/* a crowd of 16: 400 / 16 = 25, and the crowd's 16 */
	w->crowd = 16;
	assert_int_equal(dg_worker_claim_want(w, 400), 16);
	assert_int_equal(dg_worker_claim_want(w, 160), 10);
	/* a short queue among many: its share, at least one */
	w->crowd = 4, w->nodes_seen = 9;   /* we are the tenth */
	assert_int_equal(dg_worker_claim_want(w, 30), 3);
	assert_int_equal(dg_worker_claim_want(w, 5), 1);
	w = make(&f, 2);
	w->crowd = 32;
	assert_int_equal(dg_worker_claim_want(w, 800), 32);
}

/*
 * With a budget: enough for a cycle, within the fair share (of the members
 * still to push in this cycle); 16 a slot before a task has run.
 */
static void test_budget(void **state DG_UNUSED)
{
	struct fixture f;
	struct worker *w = make(&f, 1);

	w->budget = 60;
	w->slot = (struct dg_pushslot){ .budget = 60, .members = 2, .rank = 0 };
	/* unmeasured: 16, where claim_batch_max (64) would have taken 80 / 2 = 40 */
	assert_int_equal(dg_worker_claim_want(w, 80), 16);
	/* a newcomer counts itself: 80 / 3 = 27 (rounded up), unmeasured 16 */
	w->slot.rank = 2;
	assert_int_equal(dg_worker_claim_want(w, 80), 16);
	assert_int_equal(dg_worker_claim_want(w, 18), 6);
	/* measured: the cycle over the run time, within the share */
	w->slot = (struct dg_pushslot){ .budget = 60, .members = 8, .rank = 0 };
	w->task_ms_avg = 2000;
	{
		int64_t cycle = dg_pushslot_cycle_ms(&w->slot);
		size_t per_cycle = (size_t)((cycle + 1999) / 2000);

		assert_int_equal(dg_worker_claim_want(w, 800), per_cycle);
		assert_int_equal(dg_worker_claim_want(w, 16), 2 < per_cycle ? 2 : per_cycle);
	}
	/* never below the slots */
	assert_int_equal(dg_worker_claim_want(w, 0), 1);
	/*
	 * The share is of those still to push in this cycle: rank 0 of 10
	 * shares with all ten, rank 5 with five, the last takes what is left
	 * (within a cycle's work: 14 slots of 1.2 s over 2 s tasks = 9).
	 */
	w->slot = (struct dg_pushslot){ .budget = 60, .members = 10, .rank = 0 };
	assert_int_equal(dg_worker_claim_want(w, 10), 1);
	w->slot.rank = 5;
	assert_int_equal(dg_worker_claim_want(w, 10), 2);
	w->slot.rank = 9;
	assert_int_equal(dg_worker_claim_want(w, 5), 5);
	assert_int_equal(dg_worker_claim_want(w, 100), 9);
	/* a newcomer pushes after them all, and counts itself with them */
	w->slot.rank = 10;
	assert_int_equal(dg_worker_claim_want(w, 22), 2);
}

/*
 * A running task that has run longer than the mean (or before any ended)
 * is what we know of the run time: a first claim's 16 shrink to a cycle's
 * worth of it, never grow.
 */
static void test_budget_running_task(void **state DG_UNUSED)
{
	struct fixture f;
	struct worker *w = make(&f, 1);
	struct running job = { .started_ms = 0 };
	int64_t cycle;

	w->budget = 60;
	w->slot = (struct dg_pushslot){ .budget = 60, .members = 8, .rank = 0 };
	cycle = dg_pushslot_cycle_ms(&w->slot);
	w->jobs = &job;
	w->jobs_nr = 1;
	/* just started: 16 a slot still (the cycle over 0.5 s would be more), less the one we run */
	job.started_ms = dg_wall_ms() - 500;
	assert_int_equal(dg_worker_claim_want(w, 800), 15);
	/* running for a cycle already: one more task for the next cycle, the slot's own */
	job.started_ms = dg_wall_ms() - cycle;
	assert_int_equal(dg_worker_claim_want(w, 800), 0);
	/* a mean below what the running task shows: the running task's */
	w->task_ms_avg = 1000;
	assert_int_equal(dg_worker_claim_want(w, 800), 0);
	/* measured and quick: the mean's cycle, beyond 16 */
	job.started_ms = dg_wall_ms() - 100;
	w->task_ms_avg = 200;
	assert_int_equal(dg_worker_claim_want(w, 800) + 1, (size_t)((cycle + 199) / 200) < 64 ? (size_t)((cycle + 199) / 200) : 64);
}

/*
 * The share bounds what a claim takes from the queue, not what the worker
 * holds (0.16.2): a member still running a task takes its share of a
 * short queue. Until then the share (1 of a queue of 1) was no more than
 * what it held, it took nothing, and the queue's last task waited for a
 * member that held nothing (bench-budget, 8 workers: 13 s of a 57 s run).
 */
static void test_share_of_the_queue_not_of_holdings(void **state DG_UNUSED)
{
	struct fixture f;
	struct worker *w = make(&f, 1);
	struct running job = { .started_ms = 0 };
	struct dg_task held[3];

	memset(held, 0, sizeof(held));
	w->budget = 60;
	w->slot = (struct dg_pushslot){ .budget = 60, .members = 8, .rank = 3 };
	w->task_ms_avg = 2000;
	w->jobs = &job;
	w->jobs_nr = 1;
	job.started_ms = dg_wall_ms() - 500;
	/* one queued, shared with the five still to push: ours */
	assert_int_equal(dg_worker_claim_want(w, 1), 1);
	/* ten queued: two of them, though we run one */
	assert_int_equal(dg_worker_claim_want(w, 10), 2);
	/* a backlog that lasts until our next turn takes nothing more */
	w->backlog = held;
	w->backlog_nr = 3;
	w->slot = (struct dg_pushslot){ .budget = 60, .members = 1, .rank = 0 };
	assert_true(dg_pushslot_cycle_ms(&w->slot) <= 4 * 2000);
	assert_int_equal(dg_worker_claim_want(w, 10), 0);
	/* nothing queued: nothing to take, yet a free slot may adopt (an adoption is no claim) */
	w->backlog_nr = 0;
	w->jobs_nr = 0;
	assert_int_equal(dg_worker_claim_want(w, 0), 1);
}

/* The grid's run time, as main's reports gave it (run_time.h): n samples of ms each. */
static void grid_run_time(struct worker *w, int64_t ms, size_t n)
{
	memset(&w->grid_run, 0, sizeof(w->grid_run));
	for (size_t i = 0; i < n; i++)
		w->grid_run.ms[i] = ms;
	w->grid_run.nr = n;
}

/*
 * A newcomer that knows the grid's run time from main's reports sizes its
 * first claim by it, as a member does by its own, instead of 16 a slot:
 * quick tasks up to its share and claim_batch_max, long ones one a slot.
 * Its run of its own tasks, once there is one, is what counts.
 */
static void test_newcomer_knows_grid_run_time(void **state DG_UNUSED)
{
	struct fixture f;
	struct worker *w = make(&f, 1);

	w->budget = 60;
	w->slot = (struct dg_pushslot){ .budget = 60, .members = 4, .rank = 4 };
	/* nothing known: 16 */
	assert_int_equal(dg_worker_claim_want(w, 1000), 16);
	/* quick tasks: its share of 1,000 among five is 200, claim_batch_max 64 */
	grid_run_time(w, 100, 3);
	assert_int_equal(dg_worker_claim_want(w, 1000), 64);
	/* ten-minute tasks: one, where 16 would hold 160 minutes of work for a cycle of seconds */
	grid_run_time(w, 600000, 3);
	assert_int_equal(dg_worker_claim_want(w, 1000), 1);
	/* a member without runs of its own keeps to it too: what it holds beyond goes back */
	{
		struct dg_task backlog[15];

		memset(backlog, 0, sizeof(backlog));
		w->slot.rank = 0;
		w->backlog = backlog;
		w->backlog_nr = 15;
		assert_int_equal(dg_worker_backlog_surplus(w), 13);
		w->backlog_nr = 0;
	}
	/* ours, once measured, wins */
	w->slot.rank = 4;
	w->task_ms_avg = 100;
	assert_int_equal(dg_worker_claim_want(w, 1000), 64);
}

/*
 * A newcomer's horizon is its first turn as a member: its join counts
 * from DG_PUSHSLOT_JOIN_LAG_MS after its stamp, in the cycle after the
 * one that holds that moment, at the rank after everybody's - longer than
 * the cycle it took until 0.16.1, which left it idle before that turn.
 */
static void test_newcomer_horizon_is_first_turn(void **state DG_UNUSED)
{
	struct fixture f;
	struct worker *w = make(&f, 1);
	int64_t joined[4], len = dg_pushslot_len_ms(60), cycle;
	size_t want;

	for (size_t i = 0; i < 4; i++)
		joined[i] = dg_pushslot_slot_of(60, (dg_wall_seconds() - 3600) * 1000) + (int64_t)i;
	w->budget = 60;
	w->slot = (struct dg_pushslot){ .budget = 60, .members = 4, .rank = 4, .joined = joined,
					.now_ms = dg_wall_ms() };
	cycle = dg_pushslot_cycle_ms(&w->slot);
	grid_run_time(w, 1000, 3);
	want = dg_worker_claim_want(w, 1000);
	/* at least the lag and our position; at most that and a cycle of the grid we join and a slot */
	assert_true(want >= (size_t)((DG_PUSHSLOT_JOIN_LAG_MS + 4 * len) / 1000));
	assert_true(want <= (size_t)((DG_PUSHSLOT_JOIN_LAG_MS + 6 * len + 2 * cycle + 999) / 1000));
	/* more than a cycle's worth, which is what a newcomer took before */
	assert_true(want > (size_t)((cycle + 999) / 1000));
	/* without the chain (0.14.12's schedule): a cycle */
	w->slot.joined = NULL;
	assert_int_equal(dg_worker_claim_want(w, 1000), (size_t)((cycle + 999) / 1000));
}

/*
 * With a budget, what we hold beyond a cycle's work and a task a slot to
 * spare goes back to the queue from the backlog (tasks not started): the
 * surplus of a first claim, sized before a task ran here, or of a long
 * task's batch once the running one outlasts the cycle.
 */
static void test_backlog_surplus(void **state DG_UNUSED)
{
	struct fixture f;
	struct worker *w = make(&f, 1);
	struct running job = { .started_ms = 0 };
	struct dg_task backlog[15];
	int64_t cycle;
	size_t per_cycle;

	memset(backlog, 0, sizeof(backlog));
	w->budget = 60;
	w->slot = (struct dg_pushslot){ .budget = 60, .members = 8, .rank = 0 };
	cycle = dg_pushslot_cycle_ms(&w->slot);
	w->jobs = &job;
	w->jobs_nr = 1;
	w->backlog = backlog;
	w->backlog_nr = 15;
	/* nothing known: a first claim of 16 is what we keep */
	job.started_ms = dg_wall_ms() - 100;
	assert_int_equal(dg_worker_backlog_surplus(w), 0);
	/* 2 s tasks: keep a cycle's worth and one more, the rest goes back */
	w->task_ms_avg = 2000;
	per_cycle = (size_t)((cycle + 1999) / 2000);
	assert_true(per_cycle + 1 < 16);
	assert_int_equal(dg_worker_backlog_surplus(w), 16 - (per_cycle + 1));
	/* what our next claim would take is never given back */
	w->backlog_nr = per_cycle;
	assert_int_equal(dg_worker_backlog_surplus(w), 0);
	assert_int_equal(dg_worker_claim_want(w, 800), 0);
	w->backlog_nr = per_cycle - 2;
	assert_int_equal(dg_worker_claim_want(w, 800), 1);
	assert_int_equal(dg_worker_backlog_surplus(w), 0);
	/* a long task, no mean yet: once it has run a cycle, all but one of the backlog goes back */
	w->task_ms_avg = 0;
	w->backlog_nr = 15;
	job.started_ms = dg_wall_ms() - cycle - 1000;
	assert_int_equal(dg_worker_backlog_surplus(w), 14);
	/* only what has not started: running tasks stay */
	w->jobs_nr = 1, w->backlog_nr = 0;
	assert_int_equal(dg_worker_backlog_surplus(w), 0);
	/* a stopping worker hands back its whole backlog anyway; without a budget nothing goes back */
	w->backlog_nr = 15;
	w->stopping = true;
	assert_int_equal(dg_worker_backlog_surplus(w), 0);
	w->stopping = false;
	w->budget = 0;
	assert_int_equal(dg_worker_backlog_surplus(w), 0);
}

/*
 * A newcomer stands back when a node registered in this slot's second, or
 * when recent joins filled half the join slots of the window (a fleet is
 * arriving); members and newcomers on a quiet grid push.
 */
static void test_join_stands_back(void **state DG_UNUSED)
{
	struct fixture f;
	struct worker *w = make(&f, 1);
	int64_t len = dg_pushslot_len_ms(60);

	w->budget = 60;
	w->slot = (struct dg_pushslot){ .budget = 60, .members = 32, .rank = 32 };
	/* nobody ever joined, or long ago */
	assert_false(dg_worker_join_taken(w));
	w->newest_join = dg_wall_seconds() - 600;
	w->joins_window_ms = 10 * len;
	assert_false(dg_worker_join_taken(w));
	/* a member never stands back */
	w->slot.rank = 3;
	w->newest_join = dg_wall_seconds();
	assert_false(dg_worker_join_taken(w));
	/* a newcomer does when a node registered in the second its slot started */
	w->slot.rank = 32;
	assert_true(dg_worker_join_taken(w));
	/*
	 * 32 members, no fleet: 16 join slots in 48, 3.3 in the last 10
	 * slots. One join then is no crowd; two are.
	 */
	w->newest_join = dg_wall_seconds() - 5;
	w->joins_lately = 1;
	assert_false(dg_worker_join_taken(w));
	w->joins_lately = 2;
	assert_true(dg_worker_join_taken(w));
	/* a fleet arriving: 3 members, 2 slots since we started, one join in them */
	w->slot = (struct dg_pushslot){ .budget = 60, .members = 3, .rank = 3, .joining = 3 };
	w->joins_window_ms = 2 * len;
	w->joins_lately = 1;
	assert_true(dg_worker_join_taken(w));
	/* and no push budget: no join slots at all */
	w->budget = 0;
	assert_false(dg_worker_join_taken(w));
}

/*
 * A newcomer whose turn outlasted the join slot it woke for pushes not,
 * wherever it is now: it takes another join slot within the join spread,
 * which is no loss (its wait does not double); the fourth late turn in a
 * row pushes all the same. A member's late turn is no newcomer's business.
 */
static void test_join_late(void **state DG_UNUSED)
{
	struct fixture f;
	struct worker *w = make(&f, 1);
	int64_t len = dg_pushslot_len_ms(60), now, slot;

	w->budget = 60;
	w->slot = (struct dg_pushslot){ .budget = 60, .members = 3, .rank = 3 };
	now = dg_wall_ms();
	slot = now / len * len;
	/* in the slot it woke for: on time */
	assert_false(dg_worker_join_late(w, slot));
	/* the slot ended a moment ago: late, another join slot within the spread */
	assert_true(dg_worker_join_late(w, slot - len));
	assert_true(w->join_after_ms >= now);
	assert_true(w->join_after_ms <= dg_wall_ms() + dg_pushslot_join_spread_ms(60));
	assert_true(w->join_jitter_ms < len / 2);
	assert_int_equal(w->join_losses, 0);
	/* late again and again: the fourth in a row pushes */
	assert_true(dg_worker_join_late(w, slot - 3 * len));
	assert_true(dg_worker_join_late(w, slot - 3 * len));
	assert_false(dg_worker_join_late(w, slot - 3 * len));
	/* and the count starts anew */
	assert_true(dg_worker_join_late(w, slot - 3 * len));
	/* an on-time turn ends the streak */
	assert_false(dg_worker_join_late(w, dg_wall_ms() / len * len));
	assert_int_equal(w->join_lates, 0);
	/* a member, a turn without a slot, a grid without a budget: never */
	w->slot.rank = 1;
	assert_false(dg_worker_join_late(w, slot - 5 * len));
	w->slot.rank = 3;
	assert_false(dg_worker_join_late(w, 0));
	w->budget = 0;
	assert_false(dg_worker_join_late(w, slot - 5 * len));
}

/*
 * A join that landed without its claim (another newcomer's push won main,
 * our join ref did not lose): a member whose first slot is a cycle and
 * more away. Holding nothing, it claims in a join slot before then, as a
 * newcomer would, and never late; holding work, on main, or without a
 * join ref, it is an ordinary member.
 */
static void test_unclaimed_join(void **state DG_UNUSED)
{
	struct fixture f;
	struct worker *w = make(&f, 1);
	int64_t joined[4], len = dg_pushslot_len_ms(60), at, own, other, past;
	struct dg_pushslot member0;

	for (size_t i = 0; i < 3; i++)
		joined[i] = dg_pushslot_slot_of(60, (dg_wall_seconds() - 3600) * 1000) + (int64_t)i;
	joined[3] = dg_pushslot_slot_of(60, dg_wall_ms());
	w->budget = 60;
	w->slot = (struct dg_pushslot){ .budget = 60, .members = 4, .rank = 3, .joined = joined,
					.now_ms = dg_wall_ms() };
	w->join_ref = true;
	assert_true(dg_worker_unclaimed_join(w));
	own = dg_pushslot_next(&w->slot, dg_wall_ms());
	assert_true(own >= dg_wall_ms() + DG_PUSHSLOT_JOIN_LAG_MS);
	/* a join slot before our own */
	at = dg_worker_next_push(w) - w->join_jitter_ms;
	assert_true(at < own);
	assert_true(dg_pushslot_is_join(&w->slot, at));
	assert_int_equal(dg_worker_turn_slot(w), at);
	assert_true(dg_worker_slot_ours(w, at));
	/* never a member's slot */
	member0 = w->slot;
	member0.rank = 0;
	other = dg_pushslot_next(&member0, dg_wall_ms());
	assert_false(dg_pushslot_is_join(&w->slot, other));
	assert_false(dg_worker_slot_ours(w, other));
	/* late in a join slot that ended: another; late in a member's slot: a member pushes late */
	past = at - len;
	while (!dg_pushslot_is_join(&w->slot, past) || past + len > dg_wall_ms())
		past -= len;
	assert_true(dg_worker_join_late(w, past));
	past = at - len;
	while (dg_pushslot_is_join(&w->slot, past) || past + len > dg_wall_ms())
		past -= len;
	assert_false(dg_worker_join_late(w, past));
	/* a lost join slot does not double its wait, as it does a newcomer's */
	w->join_losses = 2;
	w->join_after_ms = 1;
	dg_worker_budget_rejoin(w);
	assert_int_equal(w->join_losses, 2);
	assert_true(w->join_after_ms <= dg_wall_ms() + dg_pushslot_join_spread_ms(60));
	w->join_after_ms = 0;
	/* holding work, or on main, or without a join ref: our own slot only */
	w->backlog_nr = 1;
	assert_false(dg_worker_unclaimed_join(w));
	assert_int_equal(dg_worker_next_push(w), own);
	assert_false(dg_worker_slot_ours(w, at));
	w->backlog_nr = 0;
	w->on_main = true;
	assert_false(dg_worker_unclaimed_join(w));
	w->on_main = false;
	w->join_ref = false;
	assert_false(dg_worker_unclaimed_join(w));
	/* a newcomer is none, nor is a grid without a budget */
	w->join_ref = true;
	w->slot.rank = 4;
	assert_false(dg_worker_unclaimed_join(w));
	w->slot.rank = 3;
	w->budget = 0;
	assert_false(dg_worker_unclaimed_join(w));
}

/*
 * A newcomer leaves a queue of no more tasks than there are members to the
 * members' next claims, until a whole cycle passed in which the queue did
 * not shrink (members may have died; while it shrinks they are alive).
 */
static void test_newcomer_leaves_crumbs(void **state DG_UNUSED)
{
	struct fixture f;
	struct worker *w = make(&f, 1);

	w->budget = 60;
	w->slot = (struct dg_pushslot){ .budget = 60, .members = 10, .rank = 10 };
	assert_false(dg_worker_leaves_crumbs(w, 11));
	assert_int_equal(w->crumbs_since_ms, 0);
	assert_true(dg_worker_leaves_crumbs(w, 10));
	assert_true(w->crumbs_since_ms > 0);
	assert_true(dg_worker_leaves_crumbs(w, 1));
	/* a cycle on, the members have not taken them: join */
	w->crumbs_since_ms -= dg_pushslot_cycle_ms(&w->slot) + 1;
	assert_false(dg_worker_leaves_crumbs(w, 1));
	/* the queue grew past the members, then shrank: a new wait */
	assert_false(dg_worker_leaves_crumbs(w, 40));
	assert_int_equal(w->crumbs_since_ms, 0);
	assert_true(dg_worker_leaves_crumbs(w, 3));
	/* a cycle on, the members took one meanwhile: alive, a cycle from now again */
	w->crumbs_since_ms -= dg_pushslot_cycle_ms(&w->slot) + 1;
	assert_true(dg_worker_leaves_crumbs(w, 2));
	assert_true(dg_wall_ms() - w->crumbs_since_ms < 1000);
	/* a submission that keeps the queue within the members is no sign of life */
	w->crumbs_since_ms -= dg_pushslot_cycle_ms(&w->slot) / 2;
	assert_true(dg_worker_leaves_crumbs(w, 5));
	w->crumbs_since_ms -= dg_pushslot_cycle_ms(&w->slot) / 2 + 1;
	assert_false(dg_worker_leaves_crumbs(w, 5));
	/* one taken after that counts from the count last seen (5, not 2) */
	assert_true(dg_worker_leaves_crumbs(w, 4));
	w->crumbs_since_ms -= dg_pushslot_cycle_ms(&w->slot) + 1;
	assert_false(dg_worker_leaves_crumbs(w, 4));
	/* an empty queue is no crumbs; nor is a grid without members */
	assert_false(dg_worker_leaves_crumbs(w, 0));
	w->slot = (struct dg_pushslot){ .budget = 60, .members = 0, .rank = 0 };
	assert_false(dg_worker_leaves_crumbs(w, 1));
	/* a member claims them itself; and without a budget nobody waits */
	w->slot = (struct dg_pushslot){ .budget = 60, .members = 10, .rank = 4 };
	assert_false(dg_worker_leaves_crumbs(w, 2));
	w->slot.rank = 10;
	w->budget = 0;
	assert_false(dg_worker_leaves_crumbs(w, 2));
}

/*
 * A newcomer that leaves crumbs takes its next turn (a fetch) an eighth of
 * a cycle on at the soonest, not at the next join slot; one that joins
 * is held back no more.
 */
static void test_crumbs_turns_an_eighth_apart(void **state DG_UNUSED)
{
	struct fixture f;
	struct worker *w = make(&f, 1);
	int64_t eighth, before;

	w->budget = 60;
	w->slot = (struct dg_pushslot){ .budget = 60, .members = 10, .rank = 10 };
	eighth = dg_pushslot_cycle_ms(&w->slot) / 8;
	assert_true(eighth > dg_pushslot_len_ms(60));   /* more than a join slot away */
	before = dg_wall_ms();
	assert_true(dg_worker_leaves_crumbs(w, 5));
	assert_true(w->crumbs_next_ms >= before + eighth);
	assert_true(dg_worker_next_push(w) >= w->crumbs_next_ms);
	/* the turn waits for it wherever the join slots fall: a minute on, say */
	w->crumbs_next_ms = dg_wall_ms() + 60000;
	assert_true(dg_worker_next_push(w) >= w->crumbs_next_ms);
	w->crumbs_next_ms = before + eighth;
	/* a cycle on, nobody took them: it joins, at the next join slot */
	w->crumbs_since_ms -= dg_pushslot_cycle_ms(&w->slot) + 1;
	assert_false(dg_worker_leaves_crumbs(w, 5));
	assert_int_equal(w->crumbs_next_ms, 0);
	assert_true(dg_worker_next_push(w) < dg_wall_ms() + dg_pushslot_cycle_ms(&w->slot));
	/* the members took two: crumbs again, held back; then the queue grows past them: no hold */
	assert_true(dg_worker_leaves_crumbs(w, 3));
	assert_true(w->crumbs_next_ms >= dg_wall_ms() + eighth - 1000);
	assert_false(dg_worker_leaves_crumbs(w, 40));
	assert_int_equal(w->crumbs_next_ms, 0);
}

/*
 * A newcomer also leaves the members a queue no longer than what they took
 * in the last cycle (its looks at least a cycle apart, the shrinking
 * scaled to one cycle): they take it within their next cycle anyway.
 */
static void test_newcomer_leaves_what_members_take(void **state DG_UNUSED)
{
	struct fixture f;
	struct worker *w = make(&f, 1);
	int64_t cycle;

	w->budget = 60;
	w->slot = (struct dg_pushslot){ .budget = 60, .members = 10, .rank = 10 };
	cycle = dg_pushslot_cycle_ms(&w->slot);
	/* the first look: nothing to compare with, and 100 is more than the members */
	assert_false(dg_worker_leaves_crumbs(w, 100));
	assert_int_equal(w->queue_looks_nr, 1);
	/* a look within an eighth of a cycle is not kept */
	assert_false(dg_worker_leaves_crumbs(w, 90));
	assert_int_equal(w->queue_looks_nr, 1);
	/* a cycle ago the queue held 100: the members took 60 in a cycle, and 40 are left */
	w->queue_looks[0].ms -= cycle;
	assert_true(dg_worker_leaves_crumbs(w, 40));
	assert_true(w->crumbs_since_ms > 0);
	assert_int_equal(w->queue_looks_nr, 2);
	/* more than they took: join */
	w->queue_looks_nr = 0, w->queue_looks_next = 0;
	assert_false(dg_worker_leaves_crumbs(w, 100));
	w->queue_looks[0].ms -= cycle;
	assert_false(dg_worker_leaves_crumbs(w, 70));
	assert_int_equal(w->crumbs_since_ms, 0);
	/* 60 taken over two cycles is 30 a cycle: 40 is more */
	w->queue_looks_nr = 0, w->queue_looks_next = 0;
	assert_false(dg_worker_leaves_crumbs(w, 100));
	w->queue_looks[0].ms -= 2 * cycle;
	assert_false(dg_worker_leaves_crumbs(w, 40));
	/* the newest look a cycle old counts, not an older one: 50 then, 40 now, 10 taken */
	w->queue_looks_nr = 0, w->queue_looks_next = 0;
	assert_false(dg_worker_leaves_crumbs(w, 100));
	w->queue_looks[0].ms -= 2 * cycle;
	w->queue_looks[1] = (struct queue_look){ .ms = dg_wall_ms() - cycle, .queued = 50 };
	w->queue_looks_nr = 2, w->queue_looks_next = 2;
	assert_false(dg_worker_leaves_crumbs(w, 40));
	/* a queue that grew took nothing */
	w->queue_looks_nr = 0, w->queue_looks_next = 0;
	assert_false(dg_worker_leaves_crumbs(w, 20));
	w->queue_looks[0].ms -= cycle;
	assert_false(dg_worker_leaves_crumbs(w, 30));
	/* standing aside, then a cycle in which nobody took any: join (the members may be dead) */
	w->queue_looks_nr = 0, w->queue_looks_next = 0;
	assert_false(dg_worker_leaves_crumbs(w, 100));
	w->queue_looks[0].ms -= cycle;
	assert_true(dg_worker_leaves_crumbs(w, 40));
	w->crumbs_since_ms -= cycle + 1;
	assert_false(dg_worker_leaves_crumbs(w, 40));
	/* a member keeps no looks */
	w->slot.rank = 3;
	assert_false(dg_worker_leaves_crumbs(w, 40));
	assert_int_equal(w->queue_looks_nr, 0);
	assert_int_equal(w->queue_looks_next, 0);
	/* the ring keeps DG_QUEUE_LOOKS looks */
	w->slot.rank = 10;
	for (int i = 0; i < 2 * DG_QUEUE_LOOKS; i++) {
		for (size_t k = 0; k < DG_QUEUE_LOOKS; k++)
			w->queue_looks[k].ms -= cycle / 8;
		dg_worker_leaves_crumbs(w, 1000);
	}
	assert_int_equal(w->queue_looks_nr, DG_QUEUE_LOOKS);
}

/*
 * A finished result's wait for others to share its push: --batch-ms alone,
 * on a quiet grid or with a budget; while we lose races without a budget,
 * the crowd x our turn, or until the backlog is down to its last task a
 * slot when that is longer; at most 20 s, and a tenth of lease_margin plus
 * what the task left unused of its timeout.
 */
static void test_report_wait(void **state DG_UNUSED)
{
	struct fixture f;
	struct worker *w = make(&f, 1);

	f.opts.batch_ms = 300;
	w->nodes_seen = 10, w->registered = true, w->turn_ms_avg = 500;
	/* no race lost lately: the grid is not crowded for us */
	assert_int_equal(dg_worker_report_wait_ms(w, 60000), 300);
	w->contended_until = dg_now_ms() + 60000;
	assert_int_equal(dg_worker_report_wait_ms(w, 60000), 5000);
	/* a task that used its whole timeout: a tenth of lease_margin (60 s) at most */
	w->nodes_seen = 40;
	assert_int_equal(dg_worker_report_wait_ms(w, 0), 6000);
	/* what it left unused adds to that */
	assert_int_equal(dg_worker_report_wait_ms(w, 1500), 7500);
	assert_int_equal(dg_worker_report_wait_ms(w, 58000), 20000);
	/* and 20 s however long lease_margin is */
	w->policy.lease_margin = 600;
	assert_int_equal(dg_worker_report_wait_ms(w, 0), 20000);
	/* lease_margin 30 s: 3 s at most for a task that timed out */
	w->policy.lease_margin = 30;
	assert_int_equal(dg_worker_report_wait_ms(w, -5), 3000);
	/* never below --batch-ms */
	w->policy.lease_margin = 1;
	assert_int_equal(dg_worker_report_wait_ms(w, 0), 300);
	w->policy.lease_margin = 60;
	/* a backlog of 6 two-second tasks: until its last one starts (12 s less a turn) */
	w->nodes_seen = 10, w->backlog_nr = 6, w->task_ms_avg = 2000;
	assert_int_equal(dg_worker_report_wait_ms(w, 58000), 11500);
	/* over two slots, half of it, and never less than the crowd x our turn */
	f.opts.cfg.slots = 2;
	assert_int_equal(dg_worker_report_wait_ms(w, 58000), 5500);
	w->backlog_nr = 2;
	assert_int_equal(dg_worker_report_wait_ms(w, 58000), 5000);
	f.opts.cfg.slots = 1;
	/* quick tasks: the crowd x our turn */
	w->backlog_nr = 60, w->task_ms_avg = 10;
	assert_int_equal(dg_worker_report_wait_ms(w, 58000), 5000);
	w->backlog_nr = 0;
	/* a budget's slots batch already */
	w->budget = 60;
	assert_int_equal(dg_worker_report_wait_ms(w, 60000), 300);
	w->budget = 0;
	/* the race was lost long ago */
	w->contended_until = dg_now_ms() - 1;
	assert_int_equal(dg_worker_report_wait_ms(w, 60000), 300);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alone),
		cmocka_unit_test(test_crowded),
		cmocka_unit_test(test_crowded_first_claim),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_budget_running_task),
		cmocka_unit_test(test_backlog_surplus),
		cmocka_unit_test(test_newcomer_knows_grid_run_time),
		cmocka_unit_test(test_newcomer_horizon_is_first_turn),
		cmocka_unit_test(test_join_stands_back),
		cmocka_unit_test(test_join_late),
		cmocka_unit_test(test_unclaimed_join),
		cmocka_unit_test(test_newcomer_leaves_crumbs),
		cmocka_unit_test(test_crumbs_turns_an_eighth_apart),
		cmocka_unit_test(test_newcomer_leaves_what_members_take),
		cmocka_unit_test(test_report_wait),
		cmocka_unit_test(test_share_of_the_queue_not_of_holdings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
