/*
 * worker_step.c - the worker's one transaction per turn: deliver finished
 * results, hand back tasks killed at shutdown, reject poison files and
 * claim up to the free slots, all in one commit, so a busy worker pushes
 * about once per batch of tasks. The callback starts from scratch on every
 * attempt because a retry sees a different tip.
 */
#include "error.h"
#include "log.h"
#include "worker_int.h"

#include <ctype.h>
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

static const char *result_dir(enum dg_result_status st)
{
	return st == DG_RESULT_SUCCESS ? "tasks/completed" : "tasks/failed";
}

/* Delivers pending result i, or learns that it is superseded. */
static int deliver(struct step *s, size_t i)
{
	struct worker *w = s->w;
	struct dg_result *r = &w->pending[i];
	struct dg_strbuf ip = DG_STRBUF_INIT, dst = DG_STRBUF_INIT, data = DG_STRBUF_INIT;
	struct dg_task t = DG_TASK_INIT;
	char file[96];
	int ret = 0;

	snprintf(file, sizeof(file), "%s.json", r->task_id);
	dg_strbuf_addf(&ip, "tasks/in_progress/%s", file);
	dg_strbuf_addf(&dst, "%s/%s-%s", result_dir(r->status), w->me, file);
	if (dg_txn_read(s->txn, ip.buf, &data) == 0 &&
	    dg_task_parse(&t, data.buf, data.len, file, &w->policy) == 0 &&
	    t.node_id && !strcmp(t.node_id, w->me) && t.attempt == r->attempt) {
		struct dg_strbuf json = DG_STRBUF_INIT;
		dg_result_to_json(&json, r);
		if ((ret = dg_txn_remove(s->txn, ip.buf)) == 0)
			ret = dg_txn_write(s->txn, dst.buf, json.buf, json.len);
		dg_strbuf_release(&json);
		dg_strbuf_addf(&s->msg, " report %s (%s)", r->task_id, dg_result_status_name(r->status));
	} else if (dg_txn_exists(s->txn, dst.buf)) {
		/* an earlier push landed but we died before clearing the spool */
	} else {
		/*
		 * Our claim is gone: the task was reaped while we were cut off
		 * and belongs to somebody else now. Recording this late result
		 * would overwrite theirs, so it is recorded nowhere (logged).
		 */
		dg_log(DG_LOG_WARNING, "node=%s task=%s event=superseded attempt=%u status=%s",
		       w->me, r->task_id, r->attempt, dg_result_status_name(r->status));
	}
	if (!ret)
		s->delivered[i] = true;
	dg_task_release(&t);
	dg_strbuf_release(&ip);
	dg_strbuf_release(&dst);
	dg_strbuf_release(&data);
	return ret;
}

/* Hands a task killed at shutdown back to the queue, attempt kept. */
static int hand_back(struct step *s, const char *id)
{
	struct worker *w = s->w;
	struct dg_strbuf ip = DG_STRBUF_INIT, q = DG_STRBUF_INIT, data = DG_STRBUF_INIT, json = DG_STRBUF_INIT;
	struct dg_task t = DG_TASK_INIT;
	char file[96];
	int ret = 0;

	snprintf(file, sizeof(file), "%s.json", id);
	dg_strbuf_addf(&ip, "tasks/in_progress/%s", file);
	dg_strbuf_addf(&q, "tasks/queue/%s", file);
	if (dg_txn_read(s->txn, ip.buf, &data) == 0 &&
	    dg_task_parse(&t, data.buf, data.len, file, &w->policy) == 0 &&
	    t.node_id && !strcmp(t.node_id, w->me)) {
		unsigned attempt = t.attempt;
		dg_task_clear_claim(&t);
		json_object_set_new(t.doc, "attempt", json_integer(attempt));
		dg_task_to_json(&json, &t);
		if ((ret = dg_txn_remove(s->txn, ip.buf)) == 0)
			ret = dg_txn_write(s->txn, q.buf, json.buf, json.len);
		dg_strbuf_addf(&s->msg, " hand back %s", id);
	}
	dg_task_release(&t);
	dg_strbuf_release(&ip);
	dg_strbuf_release(&q);
	dg_strbuf_release(&data);
	dg_strbuf_release(&json);
	return ret;
}

/* A safe stem for the result file of something that is not a valid task. */
static void safe_stem(char *out, size_t size, const char *name)
{
	size_t n = strlen(name), j = 0;

	if (n > 5 && !strcmp(name + n - 5, ".json"))
		n -= 5;
	for (size_t i = 0; i < n && j + 1 < size && j < 64; i++) {
		unsigned char c = (unsigned char)name[i];
		out[j++] = (isalnum(c) || c == '-' || c == '_') ? (char)c : '_';
	}
	if (!j)
		out[j++] = '_';
	out[j] = '\0';
}

static int reject(struct step *s, const char *name, const char *reason)
{
	struct worker *w = s->w;
	struct dg_result res = DG_RESULT_INIT;
	struct dg_strbuf q = DG_STRBUF_INIT, dst = DG_STRBUF_INIT, json = DG_STRBUF_INIT;
	char stem[80], why[600];
	int ret;

	safe_stem(stem, sizeof(stem), name);
	snprintf(why, sizeof(why), "rejected tasks/queue/%s: %s", name, reason);
	res.task_id = stem;
	res.node_id = (char *)w->me;
	res.exit_code = -1;
	res.status = DG_RESULT_REJECTED;
	res.reason = why;
	dg_utc_now(res.timestamp);
	dg_result_set_output(&res, "", 0, why, strlen(why));
	dg_result_to_json(&json, &res);
	dg_strbuf_addf(&q, "tasks/queue/%s", name);
	dg_strbuf_addf(&dst, "tasks/failed/%s-%s.json", w->me, stem);
	if ((ret = dg_txn_remove(s->txn, q.buf)) == 0)
		ret = dg_txn_write(s->txn, dst.buf, json.buf, json.len);
	free(res.stdout_text);
	free(res.stderr_text);
	dg_strbuf_release(&q);
	dg_strbuf_release(&dst);
	dg_strbuf_release(&json);
	s->rejected++;
	w->snap.tasks_rejected++;
	dg_log(DG_LOG_WARNING, "node=%s task=%s event=rejected reason=\"%s\"", w->me, stem, reason);
	dg_strbuf_addf(&s->msg, " reject %s", stem);
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

	dg_strbuf_addf(&q, "tasks/queue/%s", name);
	dg_strbuf_addf(&ip, "tasks/in_progress/%s", name);
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

static bool is_ours_running(struct worker *w, const char *id)
{
	for (size_t i = 0; i < w->jobs_nr; i++) {
		if (!strcmp(w->jobs[i].task.task_id, id))
			return true;
	}
	for (size_t i = 0; i < w->pending_nr; i++) {
		if (!strcmp(w->pending[i].task_id, id))
			return true;
	}
	return false;
}

/* Claims of ours that we do not run (we crashed, or a push's fate was unknown). */
static int adopt_one(const struct dg_entry *e, void *payload)
{
	struct step *s = payload;
	struct dg_strbuf ip = DG_STRBUF_INIT, data = DG_STRBUF_INIT;
	struct dg_task t = DG_TASK_INIT;

	if (!e->is_file || !is_task_name(e->name))
		return 0;
	dg_strbuf_addf(&ip, "tasks/in_progress/%s", e->name);
	if (dg_txn_read(s->txn, ip.buf, &data) == 0 &&
	    dg_task_parse(&t, data.buf, data.len, e->name, &s->w->policy) == 0 &&
	    t.node_id && !strcmp(t.node_id, s->w->me) && !is_ours_running(s->w, t.task_id)) {
		DG_ALLOC_GROW(s->adopted, s->adopted_nr + 1, s->adopted_alloc);
		s->adopted[s->adopted_nr++] = t;
		memset(&t, 0, sizeof(t));
	}
	dg_task_release(&t);
	dg_strbuf_release(&ip);
	dg_strbuf_release(&data);
	return 0;
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
	dg_strbuf_reset(&s->msg);
	dg_utc_now(s->now);

	w->policy = dg_policy_default;
	if (!dg_txn_read(txn, "dgrid.json", &pol) &&
	    dg_policy_parse(&w->policy, pol.buf, pol.len) < 0) {
		dg_log(DG_LOG_WARNING, "node=%s event=policy-invalid error=\"%s\"", w->me, dg_error_last());
		w->policy = dg_policy_default;
	}
	dg_strbuf_release(&pol);

	for (size_t i = 0; i < w->pending_nr && !ret; i++)
		ret = deliver(s, i);
	for (size_t i = 0; i < w->requeue_nr && !ret; i++)
		ret = hand_back(s, w->requeue[i]);
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
		dg_log(DG_LOG_DEBUG, "node=%s event=pushed commit=%.12s attempts=%u ms=%lld",
		       w->me, st.commit, st.attempts, (long long)ms);
	}
	w->need_adopt = false;
	w->queue_seen_empty = s.eligible_left == 0 && s.claimed_nr == 0;

	/* what the published commit settled, we can forget */
	for (size_t i = w->pending_nr; i-- > 0;) {
		if (!s.delivered[i])
			continue;
		dg_spool_remove(&w->spool, w->pending[i].task_id);
		dg_result_release(&w->pending[i]);
		w->pending[i] = w->pending[--w->pending_nr];
	}
	for (size_t i = 0; i < w->requeue_nr; i++)
		free(w->requeue[i]);
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
