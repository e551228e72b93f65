/*
 * worker_step.c - the worker's one transaction per turn: deliver finished
 * results, hand back tasks killed at shutdown, reject poison files and
 * claim up to the free slots, all in one commit, so a busy worker pushes
 * about once per batch of tasks. The callback starts from scratch on every
 * attempt because a retry sees a different tip.
 */
#include "error.h"
#include "layout.h"
#include "log.h"
#include "reaper.h"
#include "worker_int.h"

#include <time.h>

#define REJECTS_PER_STEP 16

struct step {
	struct worker *w;
	size_t free_slots;
	char now[32];
	/* outputs of the last attempt */
	struct dg_task *claimed;
	size_t claimed_nr, claimed_alloc;
	struct dg_task *adopted;
	size_t adopted_nr, adopted_alloc;
	bool *delivered;              /* per pending result: done with it */
	unsigned rejected, eligible_left;
	bool adopt_later;             /* claims of ours left for a free slot */
	struct dg_strbuf msg;
	struct dg_txn *txn;
	/* candidates for claiming, shuffled */
	char **names;
	size_t names_nr, names_alloc;
};

static void tasks_clear(struct dg_task *t, size_t *nr)
{
	for (size_t i = 0; i < *nr; i++)
		dg_task_release(&t[i]);
	*nr = 0;
}

static void names_clear(struct step *s)
{
	for (size_t i = 0; i < s->names_nr; i++)
		free(s->names[i]);
	s->names_nr = 0;
}

/*
 * Reads a claim from tasks/in_progress/. Our own claims are judged with the
 * loosest limits, never with today's policy: a policy tightened while a
 * task runs must not orphan it.
 */
static int read_claim(struct step *s, const char *id, struct dg_task *t)
{
	struct dg_strbuf ip = DG_STRBUF_INIT, data = DG_STRBUF_INIT, file = DG_STRBUF_INIT;
	int ret;

	dg_strbuf_addf(&file, "%s.json", id);
	dg_strbuf_addf(&ip, DG_DIR_RUNNING "/%s", file.buf);
	if ((ret = dg_txn_read(s->txn, ip.buf, &data)) == 0)
		ret = dg_task_parse(t, data.buf, data.len, file.buf, &dg_policy_loosest);
	dg_strbuf_release(&ip);
	dg_strbuf_release(&data);
	dg_strbuf_release(&file);
	return ret;
}

static bool is_our_claim(const struct step *s, const struct dg_task *t, unsigned attempt)
{
	return t->node_id && !strcmp(t->node_id, s->w->me) && t->attempt == attempt;
}

/* Did an earlier push of ours deliver exactly this result already? */
static bool delivered_before(struct step *s, const struct dg_result *r)
{
	struct dg_strbuf path = DG_STRBUF_INIT, have = DG_STRBUF_INIT, want = DG_STRBUF_INIT;
	bool same;

	dg_layout_result_path(&path, r->status, r->task_id, s->w->me, r->attempt);
	dg_result_to_json(&want, r);
	same = dg_txn_read(s->txn, path.buf, &have) == 0 && have.len == want.len &&
	       !memcmp(have.buf, want.buf, want.len);
	dg_strbuf_release(&path);
	dg_strbuf_release(&have);
	dg_strbuf_release(&want);
	return same;
}

/* Delivers pending result i, or learns that it is superseded. */
static int deliver(struct step *s, size_t i)
{
	struct worker *w = s->w;
	struct dg_result *r = &w->pending[i];
	struct dg_strbuf ip = DG_STRBUF_INIT;
	struct dg_task t = DG_TASK_INIT;
	int ret = 0;

	dg_strbuf_addf(&ip, DG_DIR_RUNNING "/%s.json", r->task_id);
	if (read_claim(s, r->task_id, &t) == 0 && is_our_claim(s, &t, r->attempt)) {
		if ((ret = dg_txn_remove(s->txn, ip.buf)) == 0)
			ret = dg_layout_write_result(s->txn, r, NULL);
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
	dg_strbuf_release(&ip);
	return ret;
}

/* Hands a task killed at shutdown back to the queue, attempt kept. */
static int hand_back(struct step *s, const struct handback *h)
{
	struct dg_task t = DG_TASK_INIT;
	int ret = 0;

	if (read_claim(s, h->task_id, &t) == 0 && is_our_claim(s, &t, h->attempt)) {
		ret = dg_layout_requeue(s->txn, &t, s->w->me);
		dg_strbuf_addf(&s->msg, " hand back %s", h->task_id);
	}
	dg_task_release(&t);
	return ret;
}

static int reject(struct step *s, const char *name, const char *reason)
{
	struct worker *w = s->w;
	int ret = dg_layout_reject(s->txn, DG_DIR_QUEUE, name, w->me, reason);

	s->rejected++;
	w->snap.tasks_rejected++;
	dg_log(DG_LOG_WARNING, "node=%s file=%s event=rejected reason=\"%s\"", w->me, name, reason);
	dg_strbuf_addf(&s->msg, " reject %s", name);
	return ret;
}

static bool is_task_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 5 && !strcmp(name + n - 5, ".json");
}

static int collect_name(const struct dg_entry *e, void *payload)
{
	struct step *s = payload;

	/* directories, dot files, READMEs, signatures: not tasks, never claimed */
	if (e->is_dir || !is_task_name(e->name))
		return 0;
	if (!e->is_file)   /* a symlink or submodule named like a task */
		return reject(s, e->name, "not a regular file");
	if (dg_task_check_size(e->size, &s->w->policy) < 0)
		return reject(s, e->name, dg_error_last());
	DG_ALLOC_GROW(s->names, s->names_nr + 1, s->names_alloc);
	s->names[s->names_nr++] = dg_xstrdup(e->name);
	return 0;
}

static int claim_one(struct step *s, const char *name)
{
	struct worker *w = s->w;
	struct dg_strbuf q = DG_STRBUF_INIT, ip = DG_STRBUF_INIT, data = DG_STRBUF_INIT, json = DG_STRBUF_INIT;
	struct dg_task t = DG_TASK_INIT;
	int ret = 0;

	dg_strbuf_addf(&q, DG_DIR_QUEUE "/%s", name);
	dg_strbuf_addf(&ip, DG_DIR_RUNNING "/%s", name);
	if ((ret = dg_txn_read(s->txn, q.buf, &data)) < 0)
		goto out;
	if (dg_task_parse(&t, data.buf, data.len, name, &w->policy) < 0) {
		ret = reject(s, name, dg_error_last());
		goto out;
	}
	if (dg_txn_exists(s->txn, ip.buf)) {
		ret = reject(s, name, "a task with this id is already in progress");
		goto out;
	}
	dg_task_set_claim(&t, w->me, s->now, t.attempt + 1);
	dg_task_set_lease(&t, dg_policy_lease_seconds(&w->policy, t.timeout_seconds));
	dg_task_to_json(&json, &t);
	if ((ret = dg_txn_remove(s->txn, q.buf)) < 0 ||
	    (ret = dg_txn_write(s->txn, ip.buf, json.buf, json.len)) < 0)
		goto out;
	DG_ALLOC_GROW(s->claimed, s->claimed_nr + 1, s->claimed_alloc);
	s->claimed[s->claimed_nr++] = t;
	memset(&t, 0, sizeof(t));
	dg_strbuf_addf(&s->msg, " claim %s", name);
out:
	dg_task_release(&t);
	dg_strbuf_release(&q);
	dg_strbuf_release(&ip);
	dg_strbuf_release(&data);
	dg_strbuf_release(&json);
	return ret;
}

static int claim(struct step *s)
{
	int ret = dg_txn_list(s->txn, "tasks/queue", collect_name, s);

	if (ret < 0)
		return ret;
	/* a random order: workers must not all fight over the first file */
	for (size_t i = s->names_nr; i > 1; i--) {
		size_t j = arc4random_uniform((uint32_t)i);
		char *tmp = s->names[i - 1];
		s->names[i - 1] = s->names[j];
		s->names[j] = tmp;
	}
	for (size_t i = 0; i < s->names_nr; i++) {
		if (s->claimed_nr >= s->free_slots || s->rejected >= REJECTS_PER_STEP) {
			s->eligible_left++;
			continue;
		}
		if ((ret = claim_one(s, s->names[i])) < 0)
			return ret;
	}
	return 0;
}

/* Do we run this claim, or hold its result? */
static bool is_ours_running(struct worker *w, const char *id, unsigned attempt)
{
	for (size_t i = 0; i < w->jobs_nr; i++) {
		if (!strcmp(w->jobs[i].task.task_id, id) && w->jobs[i].task.attempt == attempt)
			return true;
	}
	for (size_t i = 0; i < w->pending_nr; i++) {
		if (!strcmp(w->pending[i].task_id, id) && w->pending[i].attempt == attempt)
			return true;
	}
	return false;
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
	struct dg_strbuf ip = DG_STRBUF_INIT, json = DG_STRBUF_INIT, id = DG_STRBUF_INIT;
	struct dg_task t = DG_TASK_INIT;
	int ret = 0;

	if (!e->is_file || !is_task_name(e->name))
		return 0;
	dg_strbuf_add(&id, e->name, strlen(e->name) - 5);
	dg_strbuf_addf(&ip, DG_DIR_RUNNING "/%s", e->name);
	if (read_claim(s, id.buf, &t) < 0 || !t.node_id || strcmp(t.node_id, w->me) ||
	    is_ours_running(w, t.task_id, t.attempt))
		goto out;
	if (t.attempt >= w->policy.max_attempts) {
		ret = dg_reap_abandon(s->txn, &t, "its worker restarted while running it");
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
	dg_task_to_json(&json, &t);
	if ((ret = dg_txn_write(s->txn, ip.buf, json.buf, json.len)) < 0)
		goto out;
	dg_strbuf_addf(&s->msg, " adopt %s", t.task_id);
	DG_ALLOC_GROW(s->adopted, s->adopted_nr + 1, s->adopted_alloc);
	s->adopted[s->adopted_nr++] = t;
	memset(&t, 0, sizeof(t));
out:
	dg_task_release(&t);
	dg_strbuf_release(&ip);
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

static int step_fn(struct dg_txn *txn, void *payload)
{
	struct step *s = payload;
	struct worker *w = s->w;
	struct dg_strbuf pol = DG_STRBUF_INIT;
	int ret = 0;

	s->txn = txn;
	tasks_clear(s->claimed, &s->claimed_nr);
	tasks_clear(s->adopted, &s->adopted_nr);
	names_clear(s);
	memset(s->delivered, 0, w->pending_nr * sizeof(*s->delivered));
	s->rejected = 0;
	s->eligible_left = 0;
	s->adopt_later = false;
	dg_strbuf_reset(&s->msg);
	dg_utc_now(s->now);

	ret = dg_worker_policy(w, dg_txn_read(txn, "dgrid.json", &pol) ? NULL : &pol);
	dg_strbuf_release(&pol);
	if (ret < 0)
		return ret;

	for (size_t i = 0; i < w->pending_nr && !ret; i++)
		ret = deliver(s, i);
	for (size_t i = 0; i < w->requeue_nr && !ret; i++)
		ret = hand_back(s, &w->requeue[i]);
	if (!ret && w->need_adopt)
		ret = dg_txn_list(txn, "tasks/in_progress", adopt_one, s);
	if (!ret && s->free_slots > s->adopted_nr) {
		s->free_slots -= s->adopted_nr;
		ret = claim(s);
	}
	if (ret < 0)
		return ret;
	dg_txn_message(txn, "%s:%s", w->me, s->msg.len ? s->msg.buf : " update");
	return 0;
}

int dg_worker_step(struct worker *w)
{
	struct step s;
	struct dg_txn_stats st;
	int64_t t0 = dg_now_ms();
	int ret;

	memset(&s, 0, sizeof(s));
	s.w = w;
	s.free_slots = w->stopping ? 0 : w->opts->cfg.slots - w->jobs_nr;
	s.delivered = dg_xcalloc(w->pending_nr + 1, sizeof(*s.delivered));
	dg_strbuf_init(&s.msg, 0);

	ret = dg_store_transact(w->store, step_fn, &s, &st);
	w->snap.txn_retries += st.rejected;
	w->snap.pushes_rejected += st.rejected;
	w->tip_is_ours = ret == 0 && st.committed;
	if (ret < 0) {
		/* a push may have landed before the error: look for our claims next time */
		w->need_adopt = true;
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
	w->queue_seen_empty = s.eligible_left == 0 && s.claimed_nr == 0;

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

	/* now, and only now, are the claims ours: start them */
	for (size_t i = 0; i < s.adopted_nr + s.claimed_nr; i++) {
		struct dg_task *t = i < s.adopted_nr ? &s.adopted[i] : &s.claimed[i - s.adopted_nr];
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
		w->snap.tasks_claimed++;
		dg_log(DG_LOG_INFO, "node=%s task=%s event=%s attempt=%u", w->me, r->task.task_id,
		       i < s.adopted_nr ? "adopted" : "claimed", r->task.attempt);
		if (dg_job_start(&r->job, w->opts->executor, r->task.script, &lim) < 0) {
			dg_log(DG_LOG_ERROR, "node=%s task=%s event=start-failed error=\"%s\"",
			       w->me, r->task.task_id, dg_error_last());
			r->job = NULL;
		} else {
			dg_log(DG_LOG_INFO, "node=%s task=%s event=started executor=%s", w->me,
			       r->task.task_id, w->opts->executor->name);
		}
		w->jobs_nr++;
	}
	ret = 0;
out:
	tasks_clear(s.claimed, &s.claimed_nr);
	tasks_clear(s.adopted, &s.adopted_nr);
	names_clear(&s);
	free(s.claimed);
	free(s.adopted);
	free(s.names);
	free(s.delivered);
	dg_strbuf_release(&s.msg);
	return ret;
}
