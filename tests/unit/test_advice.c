/*
 * test_advice.c - what limits the grid (advice.h): every verdict with its
 * exact words, the thresholds on both sides, the order in which verdicts
 * win, and the edges: no budget, no nodes, no history, a history that
 * begins inside the window (a new or compacted grid), a walk cut at its
 * cap, numbers too large for the line.
 */
#include "common.h"
#include "advice.h"

#include <setjmp.h>
#include <cmocka.h>

/* A grid whose window is whole: 10 minutes of history on main. */
static struct dg_advice_figures base(void)
{
	struct dg_advice_figures f = {
		.window_seconds = DG_ADVICE_WINDOW,
		.span_seconds = DG_ADVICE_WINDOW,
		.claim_batch_max = 8,
	};
	return f;
}

/* n active, registered members with one slot each, busy of them holding one claim */
static void workers(struct dg_advice_figures *f, size_t n, size_t busy)
{
	f->registered = f->members = f->active = n;
	f->slots = n;
	f->idle = n - busy;
	f->free_slots = n - busy;
	f->running = busy;
}

static struct dg_advice judge(const struct dg_advice_figures *f)
{
	struct dg_advice a;

	dg_advice_judge(&a, f);
	return a;
}

static void test_names(void **state DG_UNUSED)
{
	assert_string_equal(dg_advice_verdict_name(DG_ADVICE_OK), "ok");
	assert_string_equal(dg_advice_verdict_name(DG_ADVICE_IDLE), "idle");
	assert_string_equal(dg_advice_verdict_name(DG_ADVICE_WORKERS), "workers");
	assert_string_equal(dg_advice_verdict_name(DG_ADVICE_QUEUE), "queue");
	assert_string_equal(dg_advice_verdict_name(DG_ADVICE_PUSH_BUDGET), "push_budget");
	assert_string_equal(dg_advice_verdict_name(DG_ADVICE_FETCH_BUDGET), "fetch_budget");
}

/* An empty repository: nothing at all, no history. */
static void test_empty_grid(void **state DG_UNUSED)
{
	struct dg_advice_figures f = base();
	struct dg_advice a;
	char line[640];

	f.span_seconds = 0;
	f.history_begins = true;
	a = judge(&f);
	assert_int_equal(a.verdict, DG_ADVICE_IDLE);
	assert_string_equal(a.text, "idle: nothing is queued and no worker is active");
	assert_true(a.push_rate == 0.0);
	dg_advice_describe(line, sizeof(line), &a);
	assert_string_equal(line, "0 pushes on main (no history yet); push budget none; fetch budget none; "
			    "nodes 0 registered, 0 active, 0 idle; slots 0, 0 free; 0 queued, 0 running");
}

static void test_idle(void **state DG_UNUSED)
{
	struct dg_advice_figures f = base();
	struct dg_advice a;

	workers(&f, 2, 0);
	a = judge(&f);
	assert_int_equal(a.verdict, DG_ADVICE_IDLE);
	assert_string_equal(a.text, "idle: the queue is empty; 2 workers wait");
	workers(&f, 3, 2);
	a = judge(&f);
	assert_string_equal(a.text, "idle: the queue is empty; 1 worker waits");
	/* the fetch budget sets the poll: 72 s x 20 nodes / 100 = 14.4 s */
	f.fetch_budget = 100;
	f.registered = f.members = 20;
	a = judge(&f);
	assert_int_equal(a.verdict, DG_ADVICE_IDLE);
	assert_true(a.fetch_governs);
	assert_string_equal(a.text, "idle: the queue is empty; 1 worker waits "
			    "(an idle worker polls every 14 s: fetch budget)");
}

static void test_ok(void **state DG_UNUSED)
{
	struct dg_advice_figures f = base();
	struct dg_advice a;

	workers(&f, 3, 3);
	f.pushes = 12;
	a = judge(&f);
	assert_int_equal(a.verdict, DG_ADVICE_OK);
	assert_string_equal(a.text, "ok: nothing limits the grid now: the queue is empty and every "
			    "worker holds a claim (3 running)");
	/* a push budget with room changes nothing */
	f.push_budget = 60;
	assert_int_equal(judge(&f).verdict, DG_ADVICE_OK);
}

static void test_workers(void **state DG_UNUSED)
{
	struct dg_advice_figures f = base();
	struct dg_advice a;

	f.queued = 3;
	a = judge(&f);
	assert_int_equal(a.verdict, DG_ADVICE_WORKERS);
	assert_string_equal(a.text, "workers: 3 tasks wait and no worker is active - start a worker");
	f.queued = 1;
	assert_string_equal(judge(&f).text, "workers: 1 task waits and no worker is active - start a worker");
	/* registered but stopped or stale: not active */
	f.registered = f.members = 2;
	assert_int_equal(judge(&f).verdict, DG_ADVICE_WORKERS);

	f = base();
	workers(&f, 2, 2);
	f.queued = 5;
	f.pushes = 10;
	a = judge(&f);
	assert_int_equal(a.verdict, DG_ADVICE_WORKERS);
	assert_string_equal(a.text, "workers: 5 tasks wait and every worker is busy - more workers would "
			    "help (no push budget)");
	f.push_budget = 6;   /* 1.0 a minute; the schedule gives 2 members 3.4 */
	a = judge(&f);
	assert_int_equal(a.verdict, DG_ADVICE_WORKERS);
	assert_string_equal(a.text, "workers: 5 tasks wait and every worker is busy - more workers would "
			    "help (the push budget has room: 1.0 of 6 pushes/min used)");
	/* busy means no free slot: a node with a claim and a free slot is not */
	f.slots = 4;
	f.free_slots = 2;
	assert_int_equal(judge(&f).verdict, DG_ADVICE_QUEUE);
}

/*
 * Saturated: the measured rate reaches 85 % of what the schedule lets the
 * members push, B x 0.85 x n / (n + 1 + n / 4).
 */
static void test_push_budget(void **state DG_UNUSED)
{
	struct dg_advice_figures f = base();
	struct dg_advice a;

	workers(&f, 4, 4);
	f.queued = 10;
	f.push_budget = 6;
	/* 4 members: 6 x 0.85 x 4 / 6 = 3.4 a minute; 85 % of it is 2.89 */
	f.pushes = 29;   /* 2.9 a minute */
	a = judge(&f);
	assert_int_equal(a.verdict, DG_ADVICE_PUSH_BUDGET);
	assert_true(a.push_ceiling > 3.39 && a.push_ceiling < 3.41);
	assert_string_equal(a.text, "push budget: 2.9 pushes/min of 6 used (the schedule allows 3.4 for "
			    "4 workers) - more workers will not help: raise claim_batch_max (now 8), or add "
			    "a repository");
	f.pushes = 28;   /* 2.8: below */
	a = judge(&f);
	assert_int_equal(a.verdict, DG_ADVICE_WORKERS);
	assert_string_equal(a.text, "workers: 10 tasks wait and every worker is busy - more workers would "
			    "help (the push budget has room: 2.8 of 6 pushes/min used)");

	/* one member: 6 x 0.85 / 2 = 2.55, threshold 2.1675 */
	f = base();
	workers(&f, 1, 1);
	f.push_budget = 6;
	f.pushes = 22;
	assert_int_equal(judge(&f).verdict, DG_ADVICE_PUSH_BUDGET);
	f.pushes = 21;
	assert_int_equal(judge(&f).verdict, DG_ADVICE_OK);

	/* no member (submissions, plain git): 6 x 0.85 = 5.1, threshold 4.335 */
	f = base();
	f.push_budget = 6;
	f.queued = 2;
	f.pushes = 44;
	a = judge(&f);
	assert_int_equal(a.verdict, DG_ADVICE_PUSH_BUDGET);
	assert_string_equal(a.text, "push budget: 4.4 pushes/min of 6 used (the schedule allows 5.1 for "
			    "0 workers) - more workers will not help: raise claim_batch_max (now 8), or add "
			    "a repository");
	f.pushes = 43;
	assert_int_equal(judge(&f).verdict, DG_ADVICE_WORKERS);

	/* it wins over everything: an idle grid whose budget others use up */
	f = base();
	workers(&f, 2, 0);
	f.push_budget = 6;
	f.pushes = 600;
	f.claim_batch_max = 3;
	a = judge(&f);
	assert_int_equal(a.verdict, DG_ADVICE_PUSH_BUDGET);
	assert_non_null(strstr(a.text, "raise claim_batch_max (now 3)"));
	assert_non_null(strstr(a.text, "for 2 workers"));
}

/* Budget 0 is no budget: no rate is too high. */
static void test_no_budget(void **state DG_UNUSED)
{
	struct dg_advice_figures f = base();
	struct dg_advice a;
	char line[640];

	workers(&f, 2, 0);
	f.pushes = 100000;
	a = judge(&f);
	assert_int_equal(a.verdict, DG_ADVICE_IDLE);
	assert_true(a.push_ceiling == 0.0);
	assert_false(a.fetch_governs);
	assert_true(a.poll_seconds == DG_ADVICE_PULL_DEFAULT);
	dg_advice_describe(line, sizeof(line), &a);
	assert_string_equal(line, "100000 pushes on main in the last 10 min (10000.0/min); push budget none; "
			    "fetch budget none; nodes 2 registered, 2 active, 2 idle; slots 2, 2 free; "
			    "0 queued, 0 running");
}

/*
 * Fetch budget: idle workers poll every 72 s x members / budget when
 * that is longer than PULL_INTERVAL's default (10 s).
 */
static void test_fetch_budget(void **state DG_UNUSED)
{
	struct dg_advice_figures f = base();
	struct dg_advice a;

	workers(&f, 2, 1);
	f.queued = 3;
	f.fetch_budget = 10;   /* 72 x 2 / 10 = 14.4 s */
	a = judge(&f);
	assert_int_equal(a.verdict, DG_ADVICE_FETCH_BUDGET);
	assert_true(a.poll_seconds > 14.39 && a.poll_seconds < 14.41);
	assert_string_equal(a.text, "fetch budget: idle workers poll every 14 s (8.3 fetches/min for 2 nodes, "
			    "budget 10) - queued tasks wait that long to be seen: raise fetch_budget if the "
			    "host allows it, or run fewer workers with more --slots");
	/* stopped registrations take no share: the worker counts the others (since 0.14.8) */
	f.registered = 300;
	a = judge(&f);
	assert_true(a.poll_seconds > 14.39 && a.poll_seconds < 14.41);
	/* those that never said they stopped (they may have died) do: the estimate errs on the host's side */
	f.members = 5;      /* 36 s */
	a = judge(&f);
	assert_true(a.poll_seconds > 35.99 && a.poll_seconds < 36.01);
	assert_non_null(strstr(a.text, "poll every 36 s (8.3 fetches/min for 5 nodes"));
	/* a dormant registration weighs slot_keep_seconds / its silence: 300 dead for a day, 12.5 */
	f.members = 2;
	f.poll_shares = 2 + 300.0 / 24;   /* 72 x 14.5 / 10 = 104.4 s */
	a = judge(&f);
	assert_true(a.poll_seconds > 104.39 && a.poll_seconds < 104.41);
	assert_true(a.sharers > 14.49 && a.sharers < 14.51);
	f.poll_shares = 0;                 /* at least the members */
	f.members = 5;
	/* 72 x 5 / 36 = 10 s: PULL_INTERVAL's default, the budget does not stretch it */
	f.fetch_budget = 36;
	a = judge(&f);
	assert_false(a.fetch_governs);
	assert_int_equal(a.verdict, DG_ADVICE_QUEUE);
	/* GitHub's 900: a grid of 100 nodes polls every 8 s, the default wins */
	f.fetch_budget = 900;
	f.registered = f.members = 100;
	assert_int_equal(judge(&f).verdict, DG_ADVICE_QUEUE);
	/* no node registered: one's share, 72 / 5 */
	f = base();
	f.fetch_budget = 5;
	a = judge(&f);
	assert_true(a.fetch_governs);
	assert_true(a.fetch_rate == 0.0);
	assert_int_equal(a.verdict, DG_ADVICE_IDLE);
	/* workers with claims and a free slot fetch between tasks: not the budget */
	f = base();
	workers(&f, 2, 2);
	f.slots = 4;
	f.free_slots = 2;
	f.queued = 1;
	f.fetch_budget = 1;
	assert_int_equal(judge(&f).verdict, DG_ADVICE_QUEUE);
}

static void test_queue(void **state DG_UNUSED)
{
	struct dg_advice_figures f = base();
	struct dg_advice a;

	workers(&f, 3, 1);
	f.queued = 4;
	a = judge(&f);
	assert_int_equal(a.verdict, DG_ADVICE_QUEUE);
	assert_string_equal(a.text, "queue: 4 tasks wait and 2 worker slots are free - the next poll or "
			    "push slot claims them; if this lasts, check that those workers still run and "
			    "can take these tasks");
	f.free_slots = 1;
	f.queued = 1;
	assert_non_null(strstr(judge(&f).text, "queue: 1 task waits and 1 worker slot is free"));
}

/*
 * History that begins inside the window (a new grid, or main compacted):
 * the count is what exists, the rate is over what it covers but never
 * less than a minute.
 */
static void test_history_begins(void **state DG_UNUSED)
{
	struct dg_advice_figures f = base();
	struct dg_advice a;
	char line[640];

	f.history_begins = true;
	f.span_seconds = 30;
	f.pushes = 5;
	f.push_budget = 6;
	a = judge(&f);
	assert_int_equal(a.rate_seconds, 60);
	assert_true(a.push_rate == 5.0);
	assert_int_equal(a.verdict, DG_ADVICE_PUSH_BUDGET);
	dg_advice_describe(line, sizeof(line), &a);
	assert_string_equal(line, "5 pushes on main since its history begins, 30 s ago (a new or compacted "
			    "grid: counted what exists; 5.0/min over 1 min); push budget 6/min (schedule: "
			    "5.1 for 0 members); fetch budget none; nodes 0 registered, 0 active, 0 idle; "
			    "slots 0, 0 free; 0 queued, 0 running");
	/* the same pushes over 5 minutes: 1 a minute */
	f.span_seconds = 300;
	a = judge(&f);
	assert_int_equal(a.rate_seconds, 300);
	assert_true(a.push_rate == 1.0);
	assert_int_equal(a.verdict, DG_ADVICE_IDLE);
	dg_advice_describe(line, sizeof(line), &a);
	assert_non_null(strstr(line, "5 pushes on main since its history begins, 5 min ago (a new or "
			       "compacted grid: counted what exists; 1.0/min over 5 min)"));
	/* a span beyond the window (clock skew) is the window */
	f.span_seconds = 5000;
	assert_int_equal(judge(&f).rate_seconds, DG_ADVICE_WINDOW);
	f.span_seconds = -5;
	assert_int_equal(judge(&f).rate_seconds, DG_ADVICE_MIN_SPAN);
	/* the whole window, not cut short */
	f = base();
	f.pushes = 1;
	a = judge(&f);
	dg_advice_describe(line, sizeof(line), &a);
	assert_non_null(strstr(line, "1 push on main in the last 10 min (0.1/min); "));
}

/* The walk stopped at its cap: the count and the rate are lower bounds. */
static void test_at_least(void **state DG_UNUSED)
{
	struct dg_advice_figures f = base();
	struct dg_advice a;
	char line[640];

	workers(&f, 2, 2);
	f.pushes = DG_ADVICE_WALK_MAX;
	f.pushes_at_least = true;
	f.push_budget = 1000;
	a = judge(&f);
	assert_int_equal(a.verdict, DG_ADVICE_PUSH_BUDGET);
	assert_non_null(strstr(a.text, "push budget: at least 2000.0 pushes/min of 1000 used"));
	dg_advice_describe(line, sizeof(line), &a);
	assert_non_null(strstr(line, "at least 20000 pushes on main in the last 10 min (2000.0/min)"));
	f.push_budget = 10000;
	f.queued = 1;
	a = judge(&f);
	assert_int_equal(a.verdict, DG_ADVICE_WORKERS);
	assert_non_null(strstr(a.text, "(the push budget has room: at least 2000.0 of 10000 pushes/min used)"));
}

/* Whatever the figures, the lines are cut, never overrun, and ASCII. */
static void test_huge(void **state DG_UNUSED)
{
	struct dg_advice_figures f = base();
	struct dg_advice a;
	char line[640], small[16];

	f.pushes = UINT64_MAX;
	f.registered = f.members = f.active = f.slots = SIZE_MAX;
	f.idle = f.queued = f.running = SIZE_MAX;
	f.free_slots = 0;
	f.push_budget = f.fetch_budget = UINT_MAX;
	f.claim_batch_max = UINT_MAX;
	f.window_seconds = 0;
	f.span_seconds = INT64_MAX;
	for (int v = 0; v < 4; v++) {
		f.free_slots = v & 1 ? SIZE_MAX : 0;
		f.push_budget = v & 2 ? UINT_MAX : 0;
		a = judge(&f);
		assert_true(strlen(a.text) < sizeof(a.text));
		for (const char *p = a.text; *p; p++)
			assert_true(*p >= 0x20 && *p < 0x7f);
		dg_advice_describe(line, sizeof(line), &a);
		assert_true(strlen(line) < sizeof(line));
		dg_advice_describe(small, sizeof(small), &a);
		assert_int_equal(strlen(small), sizeof(small) - 1);
	}
	dg_advice_describe(small, 1, &a);
	assert_string_equal(small, "");
}

static void test_json(void **state DG_UNUSED)
{
	struct dg_advice_figures f = base();
	struct dg_advice a;
	json_t *j, *fig;

	workers(&f, 4, 4);
	f.queued = 10;
	f.push_budget = 6;
	f.pushes = 29;
	f.history_begins = false;
	a = judge(&f);
	j = dg_advice_json(&a);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "verdict")), "push_budget");
	assert_string_equal(json_string_value(json_object_get(j, "text")), a.text);
	assert_non_null(strstr(json_string_value(json_object_get(j, "figures_text")), "29 pushes on main"));
	fig = json_object_get(j, "figures");
	assert_int_equal(json_integer_value(json_object_get(fig, "pushes")), 29);
	assert_int_equal(json_integer_value(json_object_get(fig, "push_budget")), 6);
	assert_int_equal(json_integer_value(json_object_get(fig, "active_nodes")), 4);
	assert_int_equal(json_integer_value(json_object_get(fig, "queued")), 10);
	assert_int_equal(json_integer_value(json_object_get(fig, "window_seconds")), 600);
	assert_true(json_is_false(json_object_get(fig, "history_begins_in_window")));
	assert_true(json_real_value(json_object_get(fig, "push_rate_per_minute")) == 2.9);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_empty_grid),
		cmocka_unit_test(test_idle),
		cmocka_unit_test(test_ok),
		cmocka_unit_test(test_workers),
		cmocka_unit_test(test_push_budget),
		cmocka_unit_test(test_no_budget),
		cmocka_unit_test(test_fetch_budget),
		cmocka_unit_test(test_queue),
		cmocka_unit_test(test_history_begins),
		cmocka_unit_test(test_at_least),
		cmocka_unit_test(test_huge),
		cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
