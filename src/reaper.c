#include "reaper.h"
#include "clock.h"
#include "error.h"
#include "grid.h"
#include "layout.h"
#include "log.h"
#include "nodekeys.h"
#include "record.h"
#include "replica.h"
#include "watch.h"

/* at most this many node refs pruned in one push (dg_reaper_prune) */
#define NODE_REF_PRUNE_MAX 500

struct beat {
	char *node;
	int64_t age_ms;         /* unchanged for this long, as we saw it */
	json_t *doc;
};

struct dg_reaper {
	struct dg_store *store;
	const char *me;
	bool spare_own;             /* a worker's reaper: claims of me are never orphans */
	unsigned lease_grace;       /* seconds added to every lease: the crowd we see */
	struct dg_watch *watch;
	struct dg_policy policy;
	struct beat *beats;
	size_t beats_nr, beats_alloc;
	struct dg_reap_stats st;
	struct dg_strbuf msg;
	struct dg_txn *txn;
	struct dg_nodekeys *keys;   /* NULL: records are not judged */
	json_t *forged_noted;       /* what was logged as forged: said once */
	/* node refs the last judgement saw unchanged for node_ref_keep_seconds (dg_reaper_prune) */
	struct dg_side_ref *old;
	size_t old_nr, old_alloc;
};

/* One warning per forged record and reason, not one per run. */
static void note_forged(struct dg_reaper *r, const char *what, const char *why)
{
	const char *was = json_string_value(json_object_get(r->forged_noted, what));

	if (was && !strcmp(was, why))
		return;
	json_object_set_new(r->forged_noted, what, json_string(why));
	dg_log(DG_LOG_WARNING, "node=%s event=forged record=\"%s\" reason=\"%s\"", r->me, what, why);
}

static void forged_registration(const char *node_id, const char *why, void *payload)
{
	struct dg_strbuf what = DG_STRBUF_INIT;

	dg_strbuf_addf(&what, "nodes/%s.json", node_id);
	note_forged(payload, what.buf, why);
	dg_strbuf_release(&what);
}

static void beats_clear(struct dg_reaper *r)
{
	for (size_t i = 0; i < r->beats_nr; i++) {
		free(r->beats[i].node);
		json_decref(r->beats[i].doc);
	}
	r->beats_nr = 0;
}

static int collect_beat(const char *name, int64_t when, const char *data, size_t len, void *payload)
{
	struct dg_reaper *r = payload;
	struct dg_strbuf key = DG_STRBUF_INIT;
	struct beat *b;

	(void)when;   /* the writer's clock: not ours to trust */
	dg_strbuf_addf(&key, "beat %s", name);
	DG_ALLOC_GROW(r->beats, r->beats_nr + 1, r->beats_alloc);
	b = &r->beats[r->beats_nr++];
	b->node = dg_xstrdup(name + strlen(DG_NODE_REF_PREFIX));
	b->age_ms = dg_watch_see(r->watch, key.buf, data, len);
	b->doc = json_loadb(data, len, 0, NULL);
	dg_strbuf_release(&key);
	if (r->keys && b->doc) {
		struct dg_strbuf why = DG_STRBUF_INIT;

		/* a forged "stopped" or "alive" says nothing of its node: as if absent */
		if (dg_nodekeys_judge(r->keys, b->doc, b->node, &why) == DG_VERDICT_FORGED) {
			note_forged(r, name, why.buf);
			free(b->node);
			json_decref(b->doc);
			r->beats_nr--;
		}
		dg_strbuf_release(&why);
	}
	return 0;
}

/*
 * The node refs we saw unchanged for longer than node_ref_keep_seconds (a
 * day; or twice node_timeout, or the longest lease, if longer), but ours:
 * a heartbeat that said the same for a day by our own clock is a node
 * stopped or dead that long - a live one's changes at every heartbeat,
 * whatever its clock - and a rescue older than any lease renews nothing.
 * The writer's timestamps are not ours to trust: a node whose clock is a
 * day slow is alive.
 */
static void note_old_refs(struct dg_reaper *r)
{
	int64_t keep = r->policy.node_ref_keep_seconds, beats = 2 * (int64_t)r->policy.node_timeout,
		lease = (int64_t)dg_policy_lease_seconds(&r->policy, r->policy.timeout_max);

	keep = keep > beats ? keep : beats;
	keep = keep > lease ? keep : lease;

	r->old_nr = 0;
	for (size_t i = 0; i < r->beats_nr; i++) {
		const struct beat *b = &r->beats[i];
		struct dg_side_ref *old;

		if (b->age_ms <= keep * 1000 || !strcmp(b->node, r->me))
			continue;
		DG_ALLOC_GROW(r->old, r->old_nr + 1, r->old_alloc);
		old = &r->old[r->old_nr];
		snprintf(old->name, sizeof(old->name), "%s%s", DG_NODE_REF_PREFIX, b->node);
		/* the commit we saw: nothing fetched since collect_beat read it */
		if (dg_store_side_id(r->store, old->name, old->id) == 0)
			r->old_nr++;
	}
}

int dg_reaper_prune(struct dg_reaper *r, size_t *pruned)
{
	size_t n = r->old_nr < NODE_REF_PRUNE_MAX ? r->old_nr : NODE_REF_PRUNE_MAX;
	int ret = dg_store_prune_side(r->store, r->old, n, pruned);

	r->old_nr = 0;
	return ret;
}

static const struct beat *beat_of(struct dg_reaper *r, const char *node)
{
	for (size_t i = 0; i < r->beats_nr; i++) {
		if (!strcmp(r->beats[i].node, node))
			return &r->beats[i];
	}
	return NULL;
}

/*
 * Does the heartbeat list this claim among what its node holds? "held"
 * lists [task_id, attempt] pairs (running or waiting to be pushed); a
 * heartbeat of an older version has only "running", a list of task ids.
 */
static bool beat_holds(const json_t *doc, const struct dg_task *t)
{
	const json_t *held = json_object_get(doc, "held"), *v;
	size_t i;

	if (json_is_array(held)) {
		json_array_foreach(held, i, v) {
			if (!strcmp(json_string_value(json_array_get(v, 0)) ?: "", t->task_id) &&
			    json_integer_value(json_array_get(v, 1)) == (json_int_t)t->attempt)
				return true;
		}
		return false;
	}
	json_array_foreach(json_object_get(doc, "running"), i, v) {
		if (!strcmp(json_string_value(v) ?: "", t->task_id))
			return true;
	}
	return false;
}

/*
 * Why the claim is orphaned, or NULL when its owner may still hold it.
 * With heartbeats (protocol 1, or a policy that asks for them) a silent or
 * stopped owner gives its claims up; from protocol 2 on, a claim is also a
 * lease that lapses on its own, whatever the owner's heartbeats.
 */
static const char *orphan_reason(struct dg_reaper *r, const struct dg_task *t, int64_t claim_age)
{
	const struct beat *b = t->node_id ? beat_of(r, t->node_id) : NULL;
	int64_t timeout_ms = (int64_t)r->policy.node_timeout * 1000;
	const char *state;

	if (r->policy.protocol >= 2) {
		int64_t since = claim_age;

		/*
		 * A heartbeat of its owner that lists the claim, newer than the
		 * claim, renewed its lease: an owner whose pushes to the branch
		 * do not land pushes one before the lease ends (worker_rescue.c).
		 */
		if (b && b->age_ms < since && beat_holds(b->doc, t))
			since = b->age_ms;
		if (since > ((int64_t)dg_task_lease(t, &r->policy) + r->lease_grace) * 1000)
			return "its lease lapsed";
	}
	if (!dg_policy_heartbeats(&r->policy))
		return NULL;
	if (!t->node_id)
		return claim_age > timeout_ms ? "claim without owner" : NULL;
	if (!b)
		return claim_age > timeout_ms ? "owner never sent a heartbeat" : NULL;
	state = json_string_value(json_object_get(b->doc, "state"));
	if (state && !strcmp(state, "stopped") && b->age_ms >= claim_age)
		return "owner stopped";
	if (b->age_ms > timeout_ms)
		return "owner's heartbeat is stale";
	if (b->age_ms < claim_age && !beat_holds(b->doc, t) &&
	    claim_age > (int64_t)t->timeout_seconds * 1000 + timeout_ms)
		return "owner no longer holds it";
	return NULL;
}

int dg_reap_abandon(struct dg_txn *txn, struct dg_task *t, const char *why, unsigned protocol)
{
	struct dg_result res = DG_RESULT_INIT;
	struct dg_strbuf reason = DG_STRBUF_INIT;
	int ret;

	dg_strbuf_addf(&reason, "abandoned after %u attempts (last: %s)", t->attempt, why);
	res.task_id = t->task_id;
	res.node_id = t->node_id ? t->node_id : (char *)"none";
	res.exit_code = -1;
	res.status = DG_RESULT_ABANDONED;
	res.reason = reason.buf;
	res.attempt = t->attempt;
	dg_utc_now(res.timestamp);
	dg_result_set_output(&res, "", 0, "", 0);
	if ((ret = dg_layout_remove_claim(txn, t->task_id)) == 0)
		ret = dg_layout_write_result(txn, &res, protocol, NULL);
	/* an abandoned replica may leave its task decided (replica.h); only a node signs a decision */
	if (ret == 0 && t->sched.replica_of && dg_record_signer()) {
		struct dg_strbuf said = DG_STRBUF_INIT;

		const struct dg_result *written = &res;

		ret = dg_replica_judge(txn, t, &written, 1, NULL, res.node_id, protocol, &said);
		dg_strbuf_release(&said);
	}
	free(res.stdout_text);
	free(res.stderr_text);
	dg_strbuf_release(&reason);
	return ret;
}

/*
 * A file in tasks/in_progress/ that is no claim (unreadable, too big,
 * invalid: written by hand) would stay there for ever. Once it has stayed
 * unchanged for node_timeout it is ended as rejected, with the reason.
 */
static int reap_invalid(struct dg_reaper *r, const char *path, const char *error)
{
	struct dg_strbuf key = DG_STRBUF_INIT, why = DG_STRBUF_INIT;
	int64_t age;
	int ret = 0;

	dg_strbuf_addf(&why, "not a valid claim: %s", error);
	dg_strbuf_addf(&key, "invalid %s", path);
	age = dg_watch_see(r->watch, key.buf, why.buf, why.len);
	if (age > (int64_t)r->policy.node_timeout * 1000) {
		const char *slash = strrchr(path, '/');
		dg_log(DG_LOG_WARNING, "node=%s file=%s event=rejected reason=\"%s\"", r->me,
		       slash ? slash + 1 : path, why.buf);
		ret = dg_layout_reject(r->txn, path, r->me, why.buf, r->policy.protocol);
		r->st.rejected++;
		dg_strbuf_addf(&r->msg, " reject %s", path);
	} else {
		r->st.watching++;
	}
	dg_strbuf_release(&key);
	dg_strbuf_release(&why);
	return ret;
}

static int reap_one(const struct dg_entry *e, void *payload)
{
	struct dg_reaper *r = payload;
	struct dg_strbuf data = DG_STRBUF_INIT, key = DG_STRBUF_INIT, forged = DG_STRBUF_INIT;
	struct dg_task t = DG_TASK_INIT;
	const char *why;
	int64_t age;
	int ret = 0;

	if (!e->is_file || e->name[0] == '.')
		return 0;
	r->st.examined++;
	dg_strbuf_addf(&key, "claim %s", e->path);
	/* a claim is judged by the loosest limits: a tightened policy orphans nothing */
	if (dg_txn_read(r->txn, e->path, &data) < 0 ||
	    dg_task_parse(&t, data.buf, data.len, e->name, &dg_policy_loosest) < 0) {
		ret = reap_invalid(r, e->path, dg_error_last());
		goto out;
	}
	age = dg_watch_see(r->watch, key.buf, data.buf, data.len);
	if (r->keys && dg_nodekeys_judge(r->keys, t.doc, t.node_id, &forged) == DG_VERDICT_FORGED) {
		/* nobody holds the task: it goes back to the queue at once */
		note_forged(r, e->path, forged.buf);
		why = "forged claim";
	} else {
		why = r->spare_own && t.node_id && !strcmp(t.node_id, r->me) ? NULL : orphan_reason(r, &t, age);
	}
	if (!why) {
		if (age <= (int64_t)r->policy.node_timeout * 1000)
			r->st.watching++;
		goto out;
	}
	/* a forged claim's attempt is anybody's number: it never ends a task */
	if (!forged.len && dg_sched_crash_claims(&t.sched, t.attempt) >= r->policy.max_attempts) {
		ret = dg_reap_abandon(r->txn, &t, why, r->policy.protocol);
		r->st.abandoned++;
		dg_log(DG_LOG_WARNING, "node=%s task=%s event=abandoned owner=%s attempt=%u reason=\"%s\"",
		       r->me, t.task_id, t.node_id ? t.node_id : "-", t.attempt, why);
	} else {
		dg_log(DG_LOG_INFO, "node=%s task=%s event=reaped owner=%s attempt=%u reason=\"%s\"",
		       r->me, t.task_id, t.node_id ? t.node_id : "-", t.attempt, why);
		ret = dg_layout_requeue(r->txn, &t, r->me, r->policy.protocol);
		r->st.requeued++;
		/* the replicas left may have agreed already: only running ones were waited for */
		if (ret == 0 && t.sched.replica_of && dg_record_signer())
			ret = dg_replica_judge(r->txn, &t, NULL, 0, r->keys, r->me, r->policy.protocol, &r->msg);
	}
	dg_strbuf_addf(&r->msg, " %s", t.task_id);
out:
	dg_task_release(&t);
	dg_strbuf_release(&data);
	dg_strbuf_release(&key);
	dg_strbuf_release(&forged);
	return ret;
}

static int reap_fn(struct dg_txn *txn, void *payload)
{
	struct dg_reaper *r = payload;
	struct dg_strbuf pol = DG_STRBUF_INIT;
	int ret;

	r->txn = txn;
	memset(&r->st, 0, sizeof(r->st));
	dg_strbuf_reset(&r->msg);
	beats_clear(r);
	r->policy = dg_policy_default;
	if (!dg_txn_read(txn, "dgrid.json", &pol) && dg_policy_parse(&r->policy, pol.buf, pol.len) < 0)
		r->policy = dg_policy_default;
	dg_strbuf_release(&pol);
	/* a newer protocol may judge claims differently (leases): hands off */
	if ((ret = dg_policy_check_protocol(&r->policy)) < 0)
		return ret;
	/* whose keys speak for which node, before any record is judged */
	if (r->keys && dg_nodekeys_learn_grid(r->keys, txn, forged_registration, r) < 0)
		dg_log(DG_LOG_WARNING, "node=%s event=node-keys-unread error=\"%s\"", r->me, dg_error_last());
	/* this attempt's look at the grid: the store fetched just before */
	dg_watch_begin(r->watch, dg_now_ms());
	ret = dg_store_list_side(r->store, DG_NODE_REF_PREFIX, DG_HEARTBEAT_PATH, collect_beat, r);
	if (ret == 0)
		note_old_refs(r);
	if (ret == 0)
		ret = dg_layout_walk_txn(txn, DG_DIR_RUNNING, reap_one, r);
	dg_watch_end(r->watch);
	if (ret < 0)
		return ret;
	if (!r->st.requeued && !r->st.abandoned && !r->st.rejected)
		return 1;
	dg_txn_message(txn, "reap by %s:%s", r->me, r->msg.buf);
	return 0;
}

void dg_reaper_set_nodekeys(struct dg_reaper *reaper, struct dg_nodekeys *keys)
{
	reaper->keys = keys;
}

void dg_reaper_spare_own(struct dg_reaper *reaper)
{
	reaper->spare_own = true;
}

void dg_reaper_set_lease_grace(struct dg_reaper *reaper, unsigned seconds)
{
	reaper->lease_grace = seconds;
}

struct dg_reaper *dg_reaper_new(struct dg_store *store, const char *me)
{
	struct dg_reaper *r = dg_xcalloc(1, sizeof(*r));

	r->store = store;
	r->me = me;
	r->watch = dg_watch_new();
	r->policy = dg_policy_default;
	r->forged_noted = json_object();
	dg_strbuf_init(&r->msg, 0);
	return r;
}

void dg_reaper_free(struct dg_reaper *r)
{
	if (!r)
		return;
	beats_clear(r);
	free(r->beats);
	free(r->old);
	dg_watch_free(r->watch);
	dg_strbuf_release(&r->msg);
	json_decref(r->forged_noted);
	free(r);
}

unsigned dg_reaper_patience(const struct dg_reaper *r)
{
	if (dg_policy_heartbeats(&r->policy))
		return r->policy.node_timeout;
	return dg_policy_lease_seconds(&r->policy, r->policy.timeout_max);
}

int dg_reaper_judge(struct dg_reaper *r, struct dg_reap_stats *stats)
{
	int ret = dg_store_transact(r->store, reap_fn, r, NULL);

	if (stats)
		*stats = r->st;
	beats_clear(r);
	return ret;
}

int dg_reaper_run(struct dg_reaper *r, struct dg_reap_stats *stats)
{
	/* never judge liveness from a stale cache */
	int ret = dg_store_fetch(r->store);

	if (ret < 0) {
		if (stats)
			memset(stats, 0, sizeof(*stats));
		return ret;
	}
	return dg_reaper_judge(r, stats);
}
