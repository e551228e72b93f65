/*
 * worker_step.c - the worker's one transaction per turn: deliver finished
 * results, hand back tasks killed at shutdown, reject poison files and
 * claim up to the free slots, all in one commit, so a busy worker pushes
 * about once per batch of tasks. The callback starts from scratch on every
 * attempt because a retry sees a different tip.
 */
#include "cancel.h"
#include "error.h"
#include "grid.h"
#include "layout.h"
#include "log.h"
#include "pick.h"
#include "reaper.h"
#include "record.h"
#include "replica.h"
#include "tasksign.h"
#include "worker_step.h"

#include <time.h>

/*
 * What a claim's lease on a budget grid allows for the wait for our slots
 * (batch_lease): LEASE_CYCLES cycles, and never less than LEASE_WAIT_MIN
 * seconds, because while workers join the cycle grows and a worker can
 * lose several slots in a row (32 workers at 60 pushes a minute: one
 * waited 3 minutes to report, and its tasks ran twice).
 */
/* a report retries at once (a second attempt in its step) while fewer others push */
#define REPORT_RETRY_PUSHERS 4
/* a member's attempts in its slot on a budget grid, all but one after races the host never saw */
#define BUDGET_MEMBER_ATTEMPTS 3
#define LEASE_CYCLES 3
#define KEY_LEARN_MS 60000
#define LEASE_WAIT_MIN 600

static void tasks_clear(struct dg_task *t, size_t *nr)
{
	for (size_t i = 0; i < *nr; i++)
		dg_task_release(&t[i]);
	*nr = 0;
}

unsigned step_protocol(const struct step *s)
{
	return s->w->policy.protocol;
}

const char *step_base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/*
 * Reads a claim from tasks/in_progress/. Our own claims are judged with the
 * loosest limits, never with today's policy: a policy tightened while a
 * task runs must not orphan it.
 */
static int read_claim(struct step *s, const char *id, struct dg_task *t, struct dg_strbuf *path)
{
	struct dg_strbuf ip = DG_STRBUF_INIT, data = DG_STRBUF_INIT, file = DG_STRBUF_INIT;
	int ret;

	dg_strbuf_addf(&file, "%s.json", id);
	if ((ret = dg_layout_find_task(s->txn, DG_DIR_RUNNING, id, &ip)) == 0 &&
	    (ret = dg_txn_read(s->txn, ip.buf, &data)) == 0)
		ret = dg_task_parse(t, data.buf, data.len, file.buf, &dg_policy_loosest);
	if (ret == 0 && path)
		dg_strbuf_addstr(path, ip.buf);
	dg_strbuf_release(&ip);
	dg_strbuf_release(&data);
	dg_strbuf_release(&file);
	return ret;
}

static bool is_our_claim(const struct step *s, const struct dg_task *t, unsigned attempt)
{
	return t->node_id && !strcmp(t->node_id, s->w->me) && t->attempt == attempt;
}

/*
 * Did an earlier push of ours deliver exactly this result already? It is
 * in the layout of the protocol then, or moved into its shard since.
 */
static bool delivered_before(struct step *s, const struct dg_result *r)
{
	struct dg_strbuf path = DG_STRBUF_INIT, have = DG_STRBUF_INIT, want = DG_STRBUF_INIT;
	bool same = false;

	dg_result_to_json(&want, r);
	dg_record_seal(&want);   /* as dg_layout_write_result wrote it */
	for (unsigned p = 1; p <= DG_SHARDED_PROTOCOL && !same; p += DG_SHARDED_PROTOCOL - 1) {
		dg_strbuf_reset(&path);
		dg_strbuf_reset(&have);
		dg_layout_result_path(&path, r->status, r->task_id, s->w->me, r->attempt, p);
		same = dg_txn_read(s->txn, path.buf, &have) == 0 && have.len == want.len &&
		       !memcmp(have.buf, want.buf, want.len);
	}
	dg_strbuf_release(&path);
	dg_strbuf_release(&have);
	dg_strbuf_release(&want);
	return same;
}

/*
 * A run that failed with retries left (job_done marked it "will_retry"):
 * its result is kept like any other, and the task goes back to the queue
 * (its lane) with one more "retried" and a "not_before" after the delay.
 */
static int retry_later(struct step *s, struct dg_task *t)
{
	unsigned delay = dg_sched_retry_delay(&t->sched, s->w->policy.retry_delay_max);
	char due[32];

	dg_utc_at(due, dg_wall_ms() / 1000 + delay);
	/* the picker lists the step's base, not its writes: remember the time ourselves */
	if (!s->retry_due || dg_wall_ms() / 1000 + delay < s->retry_due)
		s->retry_due = dg_wall_ms() / 1000 + delay;
	t->sched.retried++;
	json_object_set_new(t->doc, "retried", json_integer(t->sched.retried));
	json_object_set_new(t->doc, "not_before", json_string(due));
	dg_strbuf_addf(&s->msg, " retry %s in %us", t->task_id, delay);
	dg_log(DG_LOG_INFO, "node=%s task=%s event=retry-queued retried=%u of=%u not_before=%s",
	       s->w->me, t->task_id, t->sched.retried, t->sched.retries, due);
	return dg_layout_requeue(s->txn, t, s->w->me, step_protocol(s));
}

static bool marked_will_retry(const struct dg_result *r)
{
	return json_is_true(json_object_get(r->doc, "will_retry"));
}

/* Delivers pending result i, or learns that it is superseded. */
static int deliver(struct step *s, size_t i)
{
	struct worker *w = s->w;
	struct dg_result *r = &w->pending[i];
	struct dg_task t = DG_TASK_INIT;
	int ret = 0;

	if (read_claim(s, r->task_id, &t, NULL) == 0 && is_our_claim(s, &t, r->attempt)) {
		dg_worker_lease_seen(w, &t);
		if (marked_will_retry(r) && dg_sched_will_retry(&t.sched, true)) {
			if ((ret = dg_layout_write_result(s->txn, r, step_protocol(s), NULL)) == 0)
				ret = retry_later(s, &t);
		} else if ((ret = dg_layout_remove_claim(s->txn, r->task_id)) == 0) {
			ret = dg_layout_write_result(s->txn, r, step_protocol(s), NULL);
		}
		/* a request to cancel it is answered by its result, whatever it says */
		if (ret == 0)
			ret = dg_cancel_clear(s->txn, r->task_id);
		/* a replica's result may decide its task (replica.h) */
		if (ret == 0 && t.sched.replica_of) {
			const struct dg_result **written = dg_xcalloc(w->pending_nr + 1, sizeof(*written));
			size_t n = 0;

			for (size_t j = 0; j < w->pending_nr; j++) {
				if (j == i || s->delivered[j])
					written[n++] = &w->pending[j];
			}
			ret = dg_replica_judge(s->txn, &t, written, n, w->nodekeys, w->me, step_protocol(s), &s->msg);
			free(written);
		}
		dg_strbuf_addf(&s->msg, " report %s (%s)", r->task_id, dg_result_status_name(r->status));
	} else if (delivered_before(s, r)) {
		/* an earlier push landed but we died before clearing the spool */
	} else {
		/*
		 * Our claim is gone: the task was reaped while we were cut off
		 * and belongs to somebody else now. Recording this late result
		 * would compete with theirs, so it is recorded nowhere (logged).
		 */
		dg_log(DG_LOG_WARNING, "node=%s task=%s event=superseded attempt=%u status=%s",
		       w->me, r->task_id, r->attempt, dg_result_status_name(r->status));
	}
	if (!ret)
		s->delivered[i] = true;
	dg_task_release(&t);
	return ret;
}

/*
 * A claim of ours back to the queue, its attempt kept. One given back
 * unstarted says so ("handed_back"): it never ran the task, so
 * max_attempts, which counts the claims that ended without a result, does
 * not count it (tasksched.h). Before 0.16.0 it did, and a task handed back
 * by three stopping workers was abandoned at its next worker's crash.
 */
static int requeue_ours(struct step *s, struct dg_task *t, bool unstarted)
{
	if (unstarted) {
		t->sched.handed_back++;
		json_object_set_new(t->doc, "handed_back", json_integer(t->sched.handed_back));
	}
	return dg_layout_requeue(s->txn, t, s->w->me, step_protocol(s));
}

/* Hands a task stopped at shutdown back to the queue. */
static int hand_back(struct step *s, const struct handback *h)
{
	struct dg_task t = DG_TASK_INIT;
	int ret = 0;

	if (read_claim(s, h->task_id, &t, NULL) == 0 && is_our_claim(s, &t, h->attempt)) {
		ret = requeue_ours(s, &t, h->unstarted);
		dg_strbuf_addf(&s->msg, " hand back %s", h->task_id);
	}
	dg_task_release(&t);
	return ret;
}

int step_reject(struct step *s, const char *path, const char *reason)
{
	struct worker *w = s->w;
	int ret = dg_layout_reject(s->txn, path, w->me, reason, step_protocol(s));

	s->rejected++;
	w->snap.tasks_rejected++;
	dg_log(DG_LOG_WARNING, "node=%s file=%s event=rejected reason=\"%s\"", w->me, step_base_name(path), reason);
	dg_strbuf_addf(&s->msg, " reject %s", step_base_name(path));
	return ret;
}

/*
 * A claim's lease: its timeout plus lease_margin, plus what it waits for.
 * A batch's tasks (a budget grid, or a crowded one) wait for those ahead
 * of them on our slots; on a budget grid the results also wait for our
 * next push slot. The lease covers both.
 */
static unsigned batch_lease(struct step *s, unsigned timeout_seconds)
{
	struct worker *w = s->w;
	unsigned lease = dg_policy_lease_seconds(&w->policy, timeout_seconds);
	unsigned slots = w->opts->cfg.slots ? w->opts->cfg.slots : 1, wait;

	if (!w->budget) {
		/*
		 * A batch claimed under contention: the tasks ahead of it on our
		 * slots, and on a crowded grid the races its report may lose: a
		 * worker whose pushes are slow keeps its tasks.
		 */
		lease += (s->ahead_seconds + slots - 1) / slots + dg_worker_crowd_seconds(w);
		s->ahead_seconds += timeout_seconds;
		return lease;
	}
	wait = LEASE_CYCLES * dg_worker_cycle_seconds(w);
	lease += (s->ahead_seconds + slots - 1) / slots + (wait > LEASE_WAIT_MIN ? wait : LEASE_WAIT_MIN);
	s->ahead_seconds += timeout_seconds;
	return lease;
}

/*
 * When claims wait in our backlog (and on a budget grid results for our
 * slot), every push of ours renews the leases of the claims we hold that
 * would end sooner than a renewal's (a changed claim restarts every
 * observer's watch, watch.h), so that only a worker that could not push
 * for LEASE_CYCLES cycles loses its tasks.
 */
static int renew_one(struct step *s, const struct dg_task *held)
{
	struct dg_strbuf path = DG_STRBUF_INIT, json = DG_STRBUF_INIT;
	struct dg_task t = DG_TASK_INIT;
	int ret = 0;

	if (read_claim(s, held->task_id, &t, &path) < 0 || !is_our_claim(s, &t, held->attempt))
		goto out;   /* gone: its report will say so */
	dg_task_set_lease(&t, batch_lease(s, t.timeout_seconds));
	/*
	 * A lease that runs past this renewal's needs none. A carrier of
	 * quick tasks on a crowded grid steps while its last task runs, and
	 * rewrote that claim and its backlog's in every push, 2-15 files
	 * whose leases only got shorter (claimed for a batch of 36, renewed
	 * for the 6 left): its pushes carried a sixth more bytes than those of
	 * one worker alone, which steps once its tasks are done and rewrote
	 * none (bench-collapse.sh).
	 */
	if (dg_worker_lease_outlasts(s->w, held->task_id, held->attempt, dg_task_lease(&t, &s->w->policy),
				     dg_now_ms()))
		goto out;
	json_object_set_new(t.doc, "lease_renewed_at", json_string(s->now));
	dg_record_sign(t.doc);
	dg_task_to_json(&json, &t);
	ret = dg_txn_write(s->txn, path.buf, json.buf, json.len);
	/* the lease it now states, for when the push lands (worker_rescue.c) */
	if (ret == 0) {
		DG_ALLOC_GROW(s->renewed, s->renewed_nr + 1, s->renewed_alloc);
		s->renewed[s->renewed_nr].held = held;
		s->renewed[s->renewed_nr++].lease_seconds = dg_task_lease(&t, &s->w->policy);
	}
out:
	dg_task_release(&t);
	dg_strbuf_release(&path);
	dg_strbuf_release(&json);
	return ret;
}

static int renew_leases(struct step *s)
{
	struct worker *w = s->w;
	int ret = 0;

	s->ahead_seconds = 0;
	for (size_t i = 0; i < w->jobs_nr && !ret; i++)
		ret = renew_one(s, &w->jobs[i].task);
	for (size_t i = 0; i < w->backlog_nr && !ret; i++)
		ret = renew_one(s, &w->backlog[i]);
	return ret;
}

/*
 * Our backlog's surplus (dg_worker_backlog_surplus) back to the queue, in
 * a push made anyway: the tasks claimed last go first. They stay ours
 * until the push lands (dg_worker_step drops them then).
 */
static int give_back_surplus(struct step *s)
{
	struct worker *w = s->w;
	size_t n = dg_worker_backlog_surplus(w);
	int ret = 0;

	for (size_t i = w->backlog_nr; n && i-- > 0 && !ret;) {
		struct dg_task t = DG_TASK_INIT;

		if (read_claim(s, w->backlog[i].task_id, &t, NULL) == 0 &&
		    is_our_claim(s, &t, w->backlog[i].attempt)) {
			ret = requeue_ours(s, &t, true);
			dg_strbuf_addf(&s->msg, " give back %s", t.task_id);
			s->given_back[i] = true;
			n--;
		}
		dg_task_release(&t);
	}
	return ret;
}

/* Drops from our backlog what the landed push gave back. */
static void drop_given_back(struct worker *w, const bool *given_back)
{
	size_t kept = 0;

	for (size_t i = 0; i < w->backlog_nr; i++) {
		if (given_back[i]) {
			dg_log(DG_LOG_INFO, "node=%s task=%s event=handed-back unstarted=1 why=surplus",
			       w->me, w->backlog[i].task_id);
			dg_task_release(&w->backlog[i]);
		} else {
			w->backlog[kept++] = w->backlog[i];
		}
	}
	w->backlog_nr = kept;
}

static bool all_delivered(const struct step *s)
{
	for (size_t i = 0; i < s->w->pending_nr; i++) {
		if (!s->delivered[i])
			return false;
	}
	return true;
}

/* Our rescue ref goes with this push (a side ref riding on it, store.h). */
static int delete_rescue(struct step *s)
{
	char name[160];

	snprintf(name, sizeof(name), "%s%s", DG_NODE_REF_PREFIX, s->w->me);
	s->rescue_deleted = true;
	return dg_txn_side(s->txn, name, NULL, NULL, 0);
}

static bool replicated(const struct worker *w, const struct dg_task *t)
{
	unsigned n, m;

	dg_replica_plan(t, &w->policy, &n, &m);
	return n > 1;
}

/* Has this step claimed a replica of the same task as t already? One node, one replica. */
static bool replica_claimed_now(const struct step *s, const struct dg_task *t)
{
	for (size_t i = 0; t->sched.replica_of && i < s->claimed_nr; i++) {
		if (s->claimed[i].sched.replica_of && !strcmp(s->claimed[i].sched.replica_of, t->sched.replica_of))
			return true;
	}
	return false;
}

/* Claims candidate c (the picker read and judged it); the task moves into our claims. */
static int claim_one(struct step *s, struct dg_pick_candidate *c)
{
	struct worker *w = s->w;
	struct dg_strbuf ip = DG_STRBUF_INIT, json = DG_STRBUF_INIT;
	struct dg_task *t = &c->task;
	char group[DG_GROUP_NAME_LEN + 1];
	int ret = 0;

	if (dg_layout_find_task(s->txn, DG_DIR_RUNNING, t->task_id, &ip) == 0) {
		ret = step_reject(s, c->path, "a task with this id is already in progress");
		goto out;
	}
	/* a task handed back returns to its submitter's group (layout.h) */
	if (dg_layout_group_in_path(group, c->path))
		json_object_set_new(t->doc, "queue_group", json_string(group));
	/* a signature beside the queued file goes into the claim (tasksign.h) */
	if ((ret = dg_tasksign_adopt(s->txn, c->path, t)) < 0)
		goto out;
	/* a task for several nodes: its replicas are queued, and we claim the first (replica.h) */
	if (!t->sched.replica_of && replicated(w, t)) {
		/* adaptive replication: a node with a good record may run it alone (never a signed task) */
		bool alone = w->policy.adaptive_replication && !json_object_get(t->doc, "signed") &&
			     dg_worker_replicas_alone(w, s->txn);

		if (dg_replica_expand(s->txn, t, &w->policy, step_protocol(s), alone) < 0) {
			ret = step_reject(s, c->path, dg_error_last());
			goto out;
		}
	}
	dg_strbuf_reset(&ip);
	dg_layout_task_path(&ip, DG_DIR_RUNNING, t->task_id, step_protocol(s));
	dg_task_set_claim(t, w->me, s->now, t->attempt + 1);
	dg_task_set_lease(t, batch_lease(s, t->timeout_seconds));
	dg_record_sign(t->doc);
	dg_task_to_json(&json, t);
	if ((ret = dg_txn_remove(s->txn, c->path)) < 0 ||
	    (ret = dg_txn_write(s->txn, ip.buf, json.buf, json.len)) < 0)
		goto out;
	DG_ALLOC_GROW(s->claimed, s->claimed_nr + 1, s->claimed_alloc);
	s->claimed[s->claimed_nr++] = *t;
	memset(t, 0, sizeof(*t));
	dg_strbuf_addf(&s->msg, " claim %s", step_base_name(c->path));
out:
	dg_strbuf_release(&ip);
	dg_strbuf_release(&json);
	return ret;
}

/*
 * Reads the queue (pick.h) for up to want tasks, rejects the files that
 * can never run, and claims the most urgent candidates up to the free
 * slots. want 0 reads only the flat submissions, for intake.
 */
static int claim(struct step *s, size_t want)
{
	struct dg_pick *p = &s->pick;
	int ret;

	p->policy = &s->w->policy;
	p->facts = &s->w->facts;
	p->now = dg_wall_ms() / 1000;
	p->want = want;
	p->protocol = step_protocol(s);
	p->refusals_max = REJECTS_PER_STEP;
	p->keys = s->w->nodekeys;
	p->me = s->w->me;
	p->mine = s->w->replica_tasks;
	p->mine_nr = s->w->replica_tasks_nr;
	p->memo = s->w->pick_memo;
	if ((ret = dg_pick_collect(p, s->txn)) < 0)
		return ret;
	if (p->read || p->passed_over)
		dg_log(DG_LOG_DEBUG, "node=%s event=queue-read read=%u passed_over=%u candidates=%zu unfit=%u waiting=%u",
		       s->w->me, p->read, p->passed_over, p->cands_nr, p->unfit, p->waiting);
	for (size_t i = 0; i < p->refusals_nr && !ret; i++) {
		const struct dg_pick_refusal *r = &p->refusals[i];

		if (!r->doomed_id) {
			ret = step_reject(s, r->path, r->reason);
			continue;
		}
		ret = dg_layout_end_queued(s->txn, r->path, r->doomed_id, r->attempt, s->w->me,
					   DG_RESULT_DEPENDENCY_FAILED, r->reason, step_protocol(s));
		dg_log(DG_LOG_INFO, "node=%s task=%s event=dependency-failed reason=\"%s\"", s->w->me,
		       r->doomed_id, r->reason);
		dg_strbuf_addf(&s->msg, " end %s (dependency_failed)", r->doomed_id);
	}
	for (size_t i = 0; i < p->cands_nr && !ret; i++) {
		if (s->claimed_nr >= want)
			s->eligible_left++;
		else if (!replica_claimed_now(s, &p->cands[i].task))
			ret = claim_one(s, &p->cands[i]);
	}
	s->eligible_left += p->skipped + p->more_queued;
	return ret;
}

/*
 * Claims of ours that we do not run: we crashed or restarted, or a push's
 * fate was unknown. Running one again is a new attempt, so it is claimed
 * anew (attempt + 1, a fresh claim time): max_attempts holds for tasks
 * that crash their worker, and no observer judges the new run by the old
 * claim. Past max_attempts it ends "abandoned" instead.
 */
static int adopt_one(const struct dg_entry *e, void *payload)
{
	struct step *s = payload;
	struct worker *w = s->w;
	struct dg_strbuf json = DG_STRBUF_INIT, id = DG_STRBUF_INIT;
	struct dg_task t = DG_TASK_INIT;
	int ret = 0;

	if (!e->is_file || !dg_layout_is_task_name(e->name))
		return 0;
	dg_strbuf_add(&id, e->name, strlen(e->name) - 5);
	if (read_claim(s, id.buf, &t, NULL) < 0 || !t.node_id || strcmp(t.node_id, w->me) ||
	    dg_worker_holds(w, t.task_id, t.attempt))
		goto out;
	if (!dg_worker_identity_owns(w, t.doc)) {
		/* in our name, not by our key: the reaper releases it (nodekeys.h) */
		dg_log(DG_LOG_WARNING, "node=%s task=%s event=forged-claim-ignored file=%s", w->me, t.task_id, e->path);
		goto out;
	}
	if (dg_sched_crash_claims(&t.sched, t.attempt) >= w->policy.max_attempts) {
		ret = dg_reap_abandon(s->txn, &t, "its worker restarted while running it", step_protocol(s));
		dg_log(DG_LOG_WARNING, "node=%s task=%s event=abandoned attempt=%u reason=\"restarted while running it\"",
		       w->me, t.task_id, t.attempt);
		dg_strbuf_addf(&s->msg, " abandon %s", t.task_id);
		goto out;
	}
	if (s->adopted_nr >= s->free_slots) {
		s->adopt_later = true;   /* more than we can run now */
		goto out;
	}
	dg_task_set_claim(&t, w->me, s->now, t.attempt + 1);
	dg_task_set_lease(&t, dg_policy_lease_seconds(&w->policy, t.timeout_seconds));
	dg_record_sign(t.doc);
	dg_task_to_json(&json, &t);
	/* rewritten where it is: a flat claim from protocol 2 stays flat */
	if ((ret = dg_txn_write(s->txn, e->path, json.buf, json.len)) < 0)
		goto out;
	dg_strbuf_addf(&s->msg, " adopt %s", t.task_id);
	DG_ALLOC_GROW(s->adopted, s->adopted_nr + 1, s->adopted_alloc);
	s->adopted[s->adopted_nr++] = t;
	memset(&t, 0, sizeof(t));
out:
	dg_task_release(&t);
	dg_strbuf_release(&json);
	dg_strbuf_release(&id);
	return ret;
}

int dg_worker_policy(struct worker *w, const struct dg_strbuf *json)
{
	w->policy = dg_policy_default;
	if (json && dg_policy_parse(&w->policy, json->buf, json->len) < 0) {
		dg_log(DG_LOG_WARNING, "node=%s event=policy-invalid error=\"%s\"", w->me, dg_error_last());
		w->policy = dg_policy_default;
	}
	/* keys of a newer dgrid: worth one line each time they change */
	if (w->policy.ignored_nr && strcmp(w->policy.ignored, w->policy_noted))
		dg_log(DG_LOG_INFO, "node=%s event=policy-keys-ignored count=%u first=\"%s\"",
		       w->me, w->policy.ignored_nr, w->policy.ignored);
	snprintf(w->policy_noted, sizeof(w->policy_noted), "%s", w->policy.ignored);
	return dg_policy_check_protocol(&w->policy);
}

static int count_task(const struct dg_entry *e, void *payload)
{
	size_t *n = payload;

	*n += e->is_file && dg_layout_is_task_name(e->name);
	return 0;
}

/* On a budget or crowded grid: how many tasks this step claims, and what we hold already. */
static int batch_size(struct step *s)
{
	struct worker *w = s->w;
	size_t queued = 0;
	int ret = dg_layout_walk_txn(s->txn, DG_DIR_QUEUE, count_task, &queued);

	/* left to the members, not gone: the queue is not empty, and an --exit-when-idle newcomer stays */
	if (dg_worker_leaves_crumbs(w, queued)) {
		s->free_slots = 0;
		s->eligible_left = queued;
	} else {
		s->free_slots = dg_worker_claim_want(w, queued);
		/*
		 * Claiming none (slots full, or quick tasks yielded to another
		 * carrier) leaves the queue as full as it was. Protocol 3's
		 * claim(s, 0) counts what is left; on older grids nothing did,
		 * and 4 --exit-when-idle workers that yielded in turn each saw
		 * an empty queue and exited with 147 of 200 tasks queued
		 * (t0300 under the sanitizers on a loaded machine).
		 */
		if (!s->free_slots)
			s->eligible_left += queued;
	}
	s->ahead_seconds = 0;
	for (size_t i = 0; i < w->jobs_nr; i++)
		s->ahead_seconds += w->jobs[i].task.timeout_seconds;
	for (size_t i = 0; i < w->backlog_nr; i++)
		s->ahead_seconds += w->backlog[i].timeout_seconds;
	return ret;
}

static int step_fn(struct dg_txn *txn, void *payload)
{
	struct step *s = payload;
	struct worker *w = s->w;
	struct dg_strbuf pol = DG_STRBUF_INIT;
	int ret = 0;

	s->txn = txn;
	tasks_clear(s->claimed, &s->claimed_nr);
	tasks_clear(s->adopted, &s->adopted_nr);
	dg_pick_release(&s->pick);
	memset(s->delivered, 0, w->pending_nr * sizeof(*s->delivered));
	memset(s->given_back, 0, w->backlog_nr * sizeof(*s->given_back));
	s->rejected = 0;
	s->eligible_left = 0;
	s->intaken = 0;
	s->retry_due = 0;
	s->cancelled = 0;
	s->adopt_later = false;
	s->renewed_nr = 0;
	s->rescue_deleted = false;
	s->covers_rescue = false;
	dg_strbuf_reset(&s->msg);
	dg_utc_now(s->now);

	{
		bool have = dg_txn_read(txn, "dgrid.json", &pol) == 0;

		ret = dg_worker_policy(w, have ? &pol : NULL);
		/* what the memo says of the queue, this policy judged (pick_memo.h) */
		dg_pick_memo_policy(w->pick_memo, pol.buf, have ? pol.len : 0);
		if (ret == 0)
			ret = dg_worker_trust_refresh(w, txn, have ? &pol : NULL);
	}
	/* the keys judging dependencies' results: newcomers' at most a minute late (the reaper's too) */
	if (ret == 0 && w->nodekeys && dg_now_ms() >= w->next_key_learn) {
		if (dg_nodekeys_learn_grid(w->nodekeys, txn, NULL, NULL) < 0)
			dg_log(DG_LOG_WARNING, "node=%s event=node-keys-unread error=\"%s\"", w->me, dg_error_last());
		w->next_key_learn = dg_now_ms() + KEY_LEARN_MS;
	}
	dg_strbuf_release(&pol);
	if (ret < 0)
		return ret;
	/* a crowded grid without a budget sizes its first claims from the queue too */
	if (!w->stopping && (w->budget || w->crowd > 1 || w->nodes_seen > 1))
		ret = batch_size(s);
	if (ret < 0)
		return ret;

	for (size_t i = 0; i < w->pending_nr && !ret; i++)
		ret = deliver(s, i);
	for (size_t i = 0; i < w->requeue_nr && !ret; i++)
		ret = hand_back(s, &w->requeue[i]);
	if (!ret && w->need_adopt)
		ret = dg_layout_walk_txn(txn, DG_DIR_RUNNING, adopt_one, s);
	if (!ret && !w->stopping)
		ret = dg_cancel_list_txn(txn, step_cancel_one, s);
	if (!ret && s->free_slots > s->adopted_nr && dg_worker_trust_may_claim(w)) {
		s->free_slots -= s->adopted_nr;
		ret = claim(s, s->free_slots);
	} else if (!ret && step_protocol(s) >= DG_SHARDED_PROTOCOL) {
		ret = claim(s, 0);
	}
	if (!ret && step_protocol(s) >= DG_SHARDED_PROTOCOL)
		ret = step_intake(s);
	/* a surplus rides on a push made anyway, before the renewals, which then pass over it */
	if (!ret && s->msg.len && !w->stopping)
		ret = give_back_surplus(s);
	/*
	 * Renewals ride on a push made anyway: they alone are no reason to
	 * push. Once we pushed a rescue (worker_rescue.c), the push that
	 * renews every lease we hold deletes it (results it does not report
	 * would lose the rescue's renewal: then a later push does).
	 */
	if (!ret && (w->budget || w->backlog_nr || w->rescue_ref) && s->msg.len && !w->stopping)
		ret = renew_leases(s);
	/*
	 * With a push budget the registration rides on a step that pushes
	 * anyway: a newcomer's first claim (an idle one pushes nothing), and
	 * the last report of a stopping worker, which says it stopped and so
	 * frees its push slots.
	 */
	s->registering = !w->registered || (w->stopping && !w->jobs_nr) || dg_worker_rejoins(w) ||
			 (s->msg.len && dg_worker_slot_keep_due(w, false));
	if (w->budget && !(s->msg.len && (w->registered || !w->stopping)) && !dg_worker_stop_mark_due(w))
		s->registering = false;
	/* a member holding work keeps its slot for the results to come, in a push of its own if need be */
	if (!w->stopping && dg_worker_slot_keep_due(w, true))
		s->registering = true;
	/*
	 * Without a budget, on a grid of leases, a registration alone is no
	 * reason to push while the grid is crowded (a race lost lately): in
	 * the tail of a busy run every idle newcomer otherwise kept racing
	 * the workers that had results to report, only to say it exists.
	 */
	if (!w->budget && !dg_policy_heartbeats(&w->policy) && !s->msg.len && dg_now_ms() < w->contended_until &&
	    !w->stopping)
		s->registering = false;
	if (!ret && s->registering)
		ret = dg_worker_register_txn(w, txn, w->stopping);
	else if (!ret && s->msg.len)
		ret = dg_worker_join_cleanup_txn(w, txn);
	/*
	 * A push that reports all we finished and renews the rest (a stopping
	 * worker's: holds nothing after it) makes our rescue spare once it
	 * lands; the deletion rides on a later one (worker_rescue.c).
	 */
	s->covers_rescue = w->rescue_ref && s->msg.len && all_delivered(s) && (!w->stopping || !w->jobs_nr);
	if (!ret && w->rescue_ref && w->rescue_spare && s->msg.len && !dg_txn_has_side(txn))
		ret = delete_rescue(s);
	if (ret < 0)
		return ret;
	dg_txn_message(txn, "%s:%s", w->me, s->msg.len ? s->msg.buf : w->stopping ? " stopped" : " update");
	return 0;
}

static void start_task(struct worker *w, struct dg_task *t)
{
	struct running *r;
	struct dg_exec_limits lim = w->opts->limits;

	DG_ALLOC_GROW(w->jobs, w->jobs_nr + 1, w->jobs_alloc);
	r = &w->jobs[w->jobs_nr];
	memset(r, 0, sizeof(*r));
	r->task = *t;
	memset(t, 0, sizeof(*t));
	lim.timeout_ms = r->task.timeout_seconds * 1000u;
	lim.output_cap = w->policy.output_cap;
	/* the grid may tighten what the operator allows, never loosen it */
	if (!lim.memory_bytes || w->policy.memory_bytes < lim.memory_bytes)
		lim.memory_bytes = w->policy.memory_bytes;
	if (!lim.pids || w->policy.pids < lim.pids)
		lim.pids = w->policy.pids;
	if (!lim.tmp_bytes || w->policy.tmp_bytes < lim.tmp_bytes)
		lim.tmp_bytes = w->policy.tmp_bytes;
	r->started_ms = dg_wall_ms();
	dg_utc_now(r->started_at);
	if (dg_worker_trust_check(w, r) < 0) {
		r->job = NULL;   /* job_done records it as rejected */
	} else if (dg_job_start(&r->job, w->opts->executor, r->task.script, &lim) < 0) {
		dg_log(DG_LOG_ERROR, "node=%s task=%s event=start-failed error=\"%s\"",
		       w->me, r->task.task_id, dg_error_last());
		r->job = NULL;
	} else {
		dg_log(DG_LOG_INFO, "node=%s task=%s event=started executor=%s", w->me,
		       r->task.task_id, w->opts->executor->name);
	}
	w->jobs_nr++;
}

void dg_worker_start_backlog(struct worker *w)
{
	size_t n = 0;

	while (n < w->backlog_nr && w->jobs_nr < w->opts->cfg.slots && !w->stopping)
		start_task(w, &w->backlog[n++]);
	if (n) {
		memmove(w->backlog, w->backlog + n, (w->backlog_nr - n) * sizeof(*w->backlog));
		w->backlog_nr -= n;
	}
}

int dg_worker_step(struct worker *w)
{
	struct step s;
	struct dg_txn_stats st;
	int64_t t0 = dg_now_ms();
	int ret;

	memset(&s, 0, sizeof(s));
	s.w = w;
	/* a stopping worker hands back the batch it has not started, in this push */
	for (size_t i = 0; w->stopping && i < w->backlog_nr; i++) {
		DG_ALLOC_GROW(w->requeue, w->requeue_nr + 1, w->requeue_alloc);
		w->requeue[w->requeue_nr].task_id = dg_xstrdup(w->backlog[i].task_id);
		w->requeue[w->requeue_nr].attempt = w->backlog[i].attempt;
		w->requeue[w->requeue_nr++].unstarted = true;
		dg_log(DG_LOG_INFO, "node=%s task=%s event=handed-back unstarted=1", w->me, w->backlog[i].task_id);
		dg_task_release(&w->backlog[i]);
	}
	if (w->stopping)
		w->backlog_nr = 0;
	s.free_slots = w->stopping ? 0 : dg_worker_claim_want(w, 0);
	s.delivered = dg_xcalloc(w->pending_nr + 1, sizeof(*s.delivered));
	s.given_back = dg_xcalloc(w->backlog_nr + 1, sizeof(*s.given_back));
	dg_strbuf_init(&s.msg, 0);

	/*
	 * Without a budget, results to report among a few pushers try twice
	 * in one step: a race lost to a worker that has just pushed leaves
	 * the branch free while that one runs its batch, and the loss itself
	 * fetched the new tip - so the second try costs no fetch and no wait,
	 * where the loop's retry cost both (bench-collapse.sh: two workers on
	 * trivial tasks lost 30 % of their races). Anything else tries once
	 * and goes back to the loop's paced retries.
	 */
	dg_store_set_max_attempts(w->store, !w->budget && (w->pending_nr || w->requeue_nr) &&
						    dg_worker_branch_pushers(w) < REPORT_RETRY_PUSHERS ? 2 : 1);
	/*
	 * A member on a budget grid retries a race lost before its pack was
	 * sent: the host saw no push, so the cycle still holds one of ours at
	 * most. On a busy host a turn (fetch, commit, push) outlasts a slot,
	 * the turns of neighbouring slots overlap, and the later one found the
	 * branch moved - then waited a whole cycle with its results (32
	 * workers at a budget of 60: a third of the members' turns, bench-budget).
	 * A newcomer does not: a join slot that somebody took is lost.
	 */
	if (w->budget && w->slot.rank < w->slot.members) {
		dg_store_set_max_attempts(w->store, BUDGET_MEMBER_ATTEMPTS);
		dg_store_set_max_lost_at_host(w->store, 1);
	} else {
		dg_store_set_max_lost_at_host(w->store, 0);
	}
	w->join_writing[0] = '\0';
	ret = dg_store_transact(w->store, step_fn, &s, &st);
	w->step_reached_host = st.committed || st.lost_at_host || st.refused;
	/* the join ref landed even if the claim lost its race: we are a member now */
	if (st.side_published && w->join_writing[0]) {
		w->join_ref = true;
		snprintf(w->joined_at, sizeof(w->joined_at), "%s", w->join_writing);
		dg_log(DG_LOG_INFO, "node=%s event=joined claim_landed=%d", w->me, ret == 0 && st.committed);
	} else if (st.side_published && s.rescue_deleted) {
		/* landed or not, the commit it rode on renewed nothing the tip it built on did not hold */
		w->rescue_ref = w->rescue_spare = false;
	} else if (st.side_published) {
		w->join_ref = false;
	}
	/* a race lost before the retry won is contention all the same */
	if (ret == 0 && st.rejected)
		dg_worker_contention(w, true);
	w->snap.txn_retries += st.rejected;
	w->snap.pushes_rejected += st.rejected;
	w->tip_is_ours = ret == 0 && st.committed;
	/* it renewed or reported all we held, and main has it now: our rescue is spare */
	if (ret == 0 && st.committed && s.covers_rescue && w->rescue_ref)
		w->rescue_spare = true;
	if (ret < 0) {
		/*
		 * A push may have landed before the error: look for our claims
		 * next time. Not after a lost race alone: the host refused
		 * that push (adopt_race_only; worker_branch.c may stand aside).
		 */
		w->adopt_race_only = ret == DG_ECONFLICT && (!w->need_adopt || w->adopt_race_only);
		w->need_adopt = true;
		/*
		 * What it gave back may be queued now, and somebody else's
		 * soon: we must not run it. If the push did not land, the
		 * claims are still ours, and the adoption takes them again
		 * (one more claim each, which max_attempts counts: rare).
		 */
		if (ret != DG_ECONFLICT && ret != DG_EREFUSED)
			drop_given_back(w, s.given_back);
		goto out;
	}
	w->snap.last_fetch_ok = dg_wall_ms();
	if (st.committed) {
		int64_t ms = dg_now_ms() - t0;
		static const unsigned bounds[] = DG_STATUS_LATENCY_BUCKETS;
		w->snap.pushes++;
		w->snap.last_push = dg_wall_ms();
		w->snap.push_latency_count++;
		w->snap.push_latency_sum_seconds += (double)ms / 1000.0;
		for (size_t i = 0; i < DG_STATUS_LATENCY_NR; i++) {
			if (ms <= (int64_t)bounds[i])
				w->snap.push_latency_buckets[i]++;
		}
		dg_log(DG_LOG_DEBUG, "node=%s event=pushed commit=%.12s attempts=%u ms=%lld bytes=%zu",
		       w->me, st.commit, st.attempts, (long long)ms, st.bytes_pushed);
	}
	w->need_adopt = s.adopt_later;
	w->adopt_race_only = false;
	dg_worker_queue_seen(w, s.eligible_left == 0 && s.claimed_nr == 0);
	w->ready_at = s.pick.ready_at;
	if (s.retry_due && (!w->ready_at || s.retry_due < w->ready_at))
		w->ready_at = s.retry_due;
	/*
	 * Tasks wait for dependencies and this push may have ended one (the
	 * step judged them by its base): look again in a second rather than
	 * idle, or leave (--exit-when-idle), while they might be ready.
	 */
	if (s.pick.blocked && st.committed && (!w->ready_at || w->ready_at > dg_wall_ms() / 1000 + 1))
		w->ready_at = dg_wall_ms() / 1000 + 1;

	/* what the published commit settled, we can forget */
	for (size_t i = w->pending_nr; i-- > 0;) {
		if (!s.delivered[i])
			continue;
		dg_spool_remove(&w->spool, &w->pending[i]);
		dg_result_release(&w->pending[i]);
		w->pending[i] = w->pending[--w->pending_nr];
	}
	for (size_t i = 0; i < w->requeue_nr; i++)
		free(w->requeue[i].task_id);
	w->requeue_nr = 0;

	/* what the push wrote, every observer counts the leases of from now on */
	for (size_t i = 0; st.committed && i < s.renewed_nr; i++)
		dg_worker_lease_landed(w, s.renewed[i].held->task_id, s.renewed[i].held->attempt,
				       s.renewed[i].lease_seconds, t0);
	/* after the renewals, which borrow the backlog's tasks */
	if (st.committed)
		drop_given_back(w, s.given_back);
	for (size_t i = 0; st.committed && i < s.adopted_nr + s.claimed_nr; i++) {
		const struct dg_task *t = i < s.adopted_nr ? &s.adopted[i] : &s.claimed[i - s.adopted_nr];

		dg_worker_lease_landed(w, t->task_id, t->attempt, dg_task_lease(t, &w->policy), t0);
	}
	if (s.registering)
		w->registered = true;
	/* our last report, or a push of its own, said we stopped */
	if (s.registering && w->stopping && !w->jobs_nr)
		w->stop_marked = true;
	/* now, and only now, are the claims ours: start them, or keep them for a free slot */
	for (size_t i = 0; i < s.adopted_nr + s.claimed_nr; i++) {
		struct dg_task *t = i < s.adopted_nr ? &s.adopted[i] : &s.claimed[i - s.adopted_nr];

		w->snap.tasks_claimed++;
		dg_log(DG_LOG_INFO, "node=%s task=%s event=%s attempt=%u", w->me, t->task_id,
		       i < s.adopted_nr ? "adopted" : "claimed", t->attempt);
		if (t->sched.replica_of)
			dg_worker_replicas_remember(w, t->sched.replica_of,
						    json_is_true(json_object_get(t->doc, "adaptive")) ?
						    DG_REPLICA_UNJUDGED : DG_REPLICA_UNDECIDED);
		DG_ALLOC_GROW(w->backlog, w->backlog_nr + 1, w->backlog_alloc);
		w->backlog[w->backlog_nr++] = *t;
		memset(t, 0, sizeof(*t));
	}
	dg_worker_start_backlog(w);
	ret = 0;
out:
	tasks_clear(s.claimed, &s.claimed_nr);
	tasks_clear(s.adopted, &s.adopted_nr);
	dg_pick_release(&s.pick);
	free(s.claimed);
	free(s.adopted);
	free(s.delivered);
	free(s.given_back);
	free(s.renewed);
	dg_strbuf_release(&s.msg);
	return ret;
}
