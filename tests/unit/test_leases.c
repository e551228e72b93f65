/*
 * test_leases.c - the worker's view of leases by its own clock: when the
 * owner of claims pushes a rescue (worker_rescue.c: a lead before the
 * first lease it holds ends, later on a budget grid unless its slot
 * failed, never for what it no longer holds, never where heartbeats renew
 * leases), and what a reaper's own drought at the host adds to the leases
 * it judges (worker_drought.c), and the lease of a result spooled in a
 * previous life, read from its claim. The rescue push itself and the reaper's
 * reading of it are shown with a real git daemon by t0704.
 */
#include "common.h"
#include "clock.h"
#include "worker_int.h"

#include <time.h>

#include <setjmp.h>
#include <cmocka.h>

struct fixture {
	struct dg_worker_opts opts;
	struct worker w;
	struct running job;
	struct dg_result done;
};

static struct worker *make(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->opts.cfg.slots = 1;
	f->w.opts = &f->opts;
	f->w.me = "w1";
	f->w.policy = dg_policy_default;
	f->w.policy.protocol = 3;
	return &f->w;
}

/* We hold "id" (attempt 1) as a running job. */
static void hold_running(struct fixture *f, const char *id)
{
	f->job.task.task_id = (char *)id;
	f->job.task.attempt = 1;
	f->w.jobs = &f->job;
	f->w.jobs_nr = 1;
}

static void test_rescue_due(void **state DG_UNUSED)
{
	struct fixture f;
	struct worker *w = make(&f);

	/* nothing held: none due, whatever we remember */
	assert_true(dg_worker_rescue_at(w) == INT64_MAX);
	hold_running(&f, "t1");
	dg_worker_lease_landed(w, "t1", 1, 15, 1000);
	/* half a short lease before its end: 1 s + 15 s - 7.5 s */
	assert_int_equal(dg_worker_rescue_at(w), 8500);
	/* a renewal that landed later moves it */
	dg_worker_lease_landed(w, "t1", 1, 15, 5000);
	assert_int_equal(dg_worker_rescue_at(w), 12500);
	/* a lease of a minute: half of it is the most, 30 s */
	dg_worker_lease_landed(w, "t1", 1, 60, 5000);
	assert_int_equal(dg_worker_rescue_at(w), 5000 + 30000);
	assert_int_equal(w->leases_nr, 1);
	/* a long lease: 30 s before its end */
	dg_worker_lease_landed(w, "t1", 1, 720, 5000);
	assert_int_equal(dg_worker_rescue_at(w), 5000 + 690000);
	/* on a budget grid, half the lead unless our slot failed (dg_worker_rescue) */
	w->budget = 60;
	assert_int_equal(dg_worker_rescue_at(w), 5000 + 720000 - 15000);
	w->budget = 0;
	/* a failed rescue waits for its retry */
	w->rescue_retry_at = 900000;
	assert_int_equal(dg_worker_rescue_at(w), 900000);
	w->rescue_retry_at = 0;
	dg_worker_rescue_free(w);
}

static void test_rescue_first_of_several(void **state DG_UNUSED)
{
	struct fixture f;
	struct worker *w = make(&f);
	struct dg_task backlog = { 0 };

	hold_running(&f, "t1");
	backlog.task_id = (char *)"t2";
	backlog.attempt = 3;
	w->backlog = &backlog;
	w->backlog_nr = 1;
	f.done.task_id = (char *)"t3";
	f.done.attempt = 1;
	w->pending = &f.done;
	w->pending_nr = 1;
	dg_worker_lease_landed(w, "t1", 1, 600, 0);
	dg_worker_lease_landed(w, "t2", 3, 100, 1000);
	dg_worker_lease_landed(w, "t3", 1, 60, 2000);
	/* the first end decides: t3's, 2 s + 60 s - 30 s */
	assert_int_equal(dg_worker_rescue_at(w), 32000);
	/* reported: forgotten, and t2's end decides (1 s + 100 s - 30 s) */
	w->pending_nr = 0;
	assert_int_equal(dg_worker_rescue_at(w), 71000);
	assert_int_equal(w->leases_nr, 2);
	/* another attempt of t2 is another claim: ours no longer */
	backlog.attempt = 4;
	assert_int_equal(dg_worker_rescue_at(w), 600000 - 30000);
	assert_int_equal(w->leases_nr, 1);
	w->jobs_nr = 0;
	assert_true(dg_worker_rescue_at(w) == INT64_MAX);
	dg_worker_rescue_free(w);
}

/*
 * A renewal only where it is needed: a lease that runs past the end the
 * renewal would give it stands (a crowded carrier of quick tasks rewrote
 * 2-15 such claims in every push, worker_step.c). Not a claim we know no
 * lease of, nor with a rescue out, which the push renewing every lease
 * deletes.
 */
static void test_lease_outlasts(void **state DG_UNUSED)
{
	struct fixture f;
	struct worker *w = make(&f);

	hold_running(&f, "t1");
	/* no lease known: renew */
	assert_false(dg_worker_lease_outlasts(w, "t1", 1, 120, 5000));
	/* claimed for a batch of 36 at 1 s: 2,160 s, ends at 2,161 s */
	dg_worker_lease_landed(w, "t1", 1, 2160, 1000);
	/* 4 s later a renewal for the 6 left would state 360 s: the lease stands */
	assert_true(dg_worker_lease_outlasts(w, "t1", 1, 360, 5000));
	/* to the millisecond: a renewal ending with it adds nothing */
	assert_true(dg_worker_lease_outlasts(w, "t1", 1, 360, 2161000 - 360000));
	/* one that would end later is needed */
	assert_false(dg_worker_lease_outlasts(w, "t1", 1, 360, 2161000 - 360000 + 1));
	assert_false(dg_worker_lease_outlasts(w, "t1", 1, 2200, 5000));
	/* another attempt is another claim, of which we know no lease */
	assert_false(dg_worker_lease_outlasts(w, "t1", 2, 360, 5000));
	/* a rescue out: every lease is renewed, so that the push may delete it */
	w->rescue_ref = true;
	assert_false(dg_worker_lease_outlasts(w, "t1", 1, 360, 5000));
	w->rescue_ref = false;
	/* a renewal that landed moves the end: 360 s from 100 s, to 460 s, which a 60 s one outlasts after 400 s */
	dg_worker_lease_landed(w, "t1", 1, 360, 100000);
	assert_true(dg_worker_lease_outlasts(w, "t1", 1, 360, 100000));
	assert_false(dg_worker_lease_outlasts(w, "t1", 1, 60, 400001));
	dg_worker_rescue_free(w);
}

/* RFC 3339 UTC of ago_s seconds before now */
static void utc_ago(char *buf, size_t len, int64_t ago_s)
{
	time_t t = (time_t)(dg_wall_ms() / 1000 - ago_s);
	struct tm tm;

	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
}

/*
 * A result spooled in a previous life: its claim, read on the branch,
 * gives the lease's start (lease_renewed_at, else claimed_at), never one
 * we already know.
 */
static void test_lease_seen(void **state DG_UNUSED)
{
	struct fixture f;
	struct worker *w = make(&f);
	struct dg_task claim = { 0 };
	char at[32], renewed[32];
	int64_t due, now;

	f.done.task_id = (char *)"t1";
	f.done.attempt = 2;
	w->pending = &f.done;
	w->pending_nr = 1;
	claim.task_id = (char *)"t1";
	claim.attempt = 2;
	claim.timeout_seconds = 10;
	claim.doc = json_object();
	json_object_set_new(claim.doc, "lease_seconds", json_integer(15));
	utc_ago(at, sizeof(at), 100);
	claim.claimed_at = at;
	/* renewed 10 s ago (claimed 100 s ago): due 15 s - 7.5 s after that */
	utc_ago(renewed, sizeof(renewed), 10);
	json_object_set_new(claim.doc, "lease_renewed_at", json_string(renewed));
	now = dg_now_ms();
	dg_worker_lease_seen(w, &claim);
	due = dg_worker_rescue_at(w);
	/* whole seconds: the stamp may be up to 1 s older than 10 s */
	assert_true(due >= now - 10000 - 1000 + 7500 && due <= dg_now_ms() - 10000 + 7500);
	/* a lease we know is kept: ours is newer than anything the claim says */
	dg_worker_lease_landed(w, "t1", 2, 15, now + 5000);
	dg_worker_lease_seen(w, &claim);
	assert_int_equal(dg_worker_rescue_at(w), now + 5000 + 7500);
	dg_worker_rescue_free(w);
	/* without lease_renewed_at, claimed_at: 100 s ago, long lapsed: due at once */
	json_object_del(claim.doc, "lease_renewed_at");
	dg_worker_lease_seen(w, &claim);
	assert_true(dg_worker_rescue_at(w) <= dg_now_ms());
	dg_worker_rescue_free(w);
	/* a claim that says no time: due at once */
	claim.claimed_at = NULL;
	dg_worker_lease_seen(w, &claim);
	assert_true(dg_worker_rescue_at(w) <= dg_now_ms());
	assert_int_equal(w->leases_nr, 1);
	dg_worker_rescue_free(w);
	json_decref(claim.doc);
}

/* Heartbeats renew leases by themselves; a protocol 1 grid has no leases. */
static void test_rescue_not_wanted(void **state DG_UNUSED)
{
	struct fixture f;
	struct worker *w = make(&f);

	hold_running(&f, "t1");
	dg_worker_lease_landed(w, "t1", 1, 15, 1000);
	w->policy.heartbeat_set = true;
	assert_true(dg_worker_rescue_at(w) == INT64_MAX);
	w->policy.heartbeat_set = false;
	w->policy.protocol = 1;
	assert_true(dg_worker_rescue_at(w) == INT64_MAX);
	dg_worker_rescue_free(w);
}

/* What our own drought adds to the leases we judge. */
static void test_drought(void **state DG_UNUSED)
{
	struct fixture f;
	struct worker *w = make(&f);
	int64_t now = dg_now_ms();

	assert_int_equal(dg_worker_drought_seconds(w), 0);
	/* a short stretch of lost races is no drought */
	dg_worker_drought_failed(w);
	assert_true(w->drought_since > 0);
	assert_int_equal(dg_worker_drought_seconds(w), 0);
	dg_worker_drought_ended(w);
	assert_int_equal(w->drought_since, 0);
	assert_int_equal(w->drought_ms, 0);
	/* 100 s without the host, going on: 100 s + the longest retry wait (61 s) */
	w->drought_since = now - 100000;
	assert_in_range(dg_worker_drought_seconds(w), 161, 162);
	/* a later failure does not move its start */
	dg_worker_drought_failed(w);
	assert_true(w->drought_since <= now - 100000);
	/* ended: remembered for 10 minutes at least */
	dg_worker_drought_ended(w);
	assert_in_range(w->drought_ms, 100000, 101000);
	assert_in_range(dg_worker_drought_seconds(w), 161, 162);
	w->drought_ended = dg_now_ms() - 9 * 60 * 1000;
	assert_in_range(dg_worker_drought_seconds(w), 161, 162);
	w->drought_ended = dg_now_ms() - 11 * 60 * 1000;
	assert_int_equal(dg_worker_drought_seconds(w), 0);
	/* a drought longer than 10 minutes is remembered for as long again */
	w->drought_ms = 20 * 60 * 1000;
	w->drought_ended = dg_now_ms() - 15 * 60 * 1000;
	assert_int_equal(dg_worker_drought_seconds(w), 1200 + 61);
	/* and never adds more than a day */
	w->drought_since = now - (int64_t)3 * 86400 * 1000;
	assert_int_equal(dg_worker_drought_seconds(w), 86400);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rescue_due),
		cmocka_unit_test(test_rescue_first_of_several),
		cmocka_unit_test(test_lease_outlasts),
		cmocka_unit_test(test_rescue_not_wanted),
		cmocka_unit_test(test_lease_seen),
		cmocka_unit_test(test_drought),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
