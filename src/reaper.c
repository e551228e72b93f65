#include "reaper.h"
#include "error.h"
#include "grid.h"
#include "log.h"
#include "task.h"

#include <time.h>

struct beat {
	char *node;
	int64_t when;
	json_t *doc;
};

struct reap {
	struct dg_store *store;
	const char *me;
	struct dg_policy policy;
	int64_t now;
	struct beat *beats;
	size_t beats_nr, beats_alloc;
	struct dg_reap_stats st;
	struct dg_strbuf msg;
	struct dg_txn *txn;
	int err;
};

static void beats_clear(struct reap *r)
{
	for (size_t i = 0; i < r->beats_nr; i++) {
		free(r->beats[i].node);
		json_decref(r->beats[i].doc);
	}
	r->beats_nr = 0;
}

static int collect_beat(const char *name, int64_t when, const char *data, size_t len, void *payload)
{
	struct reap *r = payload;
	json_t *doc = json_loadb(data, len, 0, NULL);
	int64_t t = dg_parse_utc(json_string_value(json_object_get(doc, "time")));

	DG_ALLOC_GROW(r->beats, r->beats_nr + 1, r->beats_alloc);
	r->beats[r->beats_nr].node = dg_xstrdup(name + strlen(DG_NODE_REF_PREFIX));
	r->beats[r->beats_nr].when = t > 0 ? t : when;
	r->beats[r->beats_nr].doc = doc;
	r->beats_nr++;
	return 0;
}

static const struct beat *beat_of(struct reap *r, const char *node)
{
	for (size_t i = 0; i < r->beats_nr; i++) {
		if (!strcmp(r->beats[i].node, node))
			return &r->beats[i];
	}
	return NULL;
}

/* Why the claim is orphaned, or NULL when its owner still holds it. */
static const char *orphan_reason(struct reap *r, const struct dg_task *t)
{
	const struct beat *b = t->node_id ? beat_of(r, t->node_id) : NULL;
	int64_t claimed = dg_parse_utc(t->claimed_at);
	enum dg_node_liveness l;

	if (!t->node_id || claimed < 0)
		return "claim without owner or time";
	if (r->now - claimed > (int64_t)t->timeout_seconds + (int64_t)r->policy.node_timeout)
		return "long past its timeout";
	l = dg_grid_liveness(b ? b->doc : NULL, b ? b->when : 0, r->now, r->policy.node_timeout);
	switch (l) {
	case DG_NODE_ALIVE:
		return NULL;
	case DG_NODE_STOPPED:
		return "owner stopped";
	case DG_NODE_STALE:
		return "owner's heartbeat is stale";
	case DG_NODE_UNKNOWN:
		return r->now - claimed > (int64_t)r->policy.node_timeout ? "owner never sent a heartbeat" : NULL;
	}
	return NULL;
}

static int abandon(struct reap *r, struct dg_task *t, const char *why)
{
	struct dg_result res = DG_RESULT_INIT;
	struct dg_strbuf path = DG_STRBUF_INIT, json = DG_STRBUF_INIT;
	char reason[256];
	int ret;

	snprintf(reason, sizeof(reason), "abandoned after %u attempts (last: %s)", t->attempt, why);
	res.task_id = t->task_id;
	res.node_id = t->node_id;
	res.exit_code = -1;
	res.status = DG_RESULT_ABANDONED;
	res.reason = reason;
	res.attempt = t->attempt;
	dg_utc_now(res.timestamp);
	dg_result_set_output(&res, "", 0, "", 0);
	dg_result_to_json(&json, &res);
	dg_strbuf_addf(&path, "tasks/failed/%s-%s.json", t->node_id, t->task_id);
	ret = dg_txn_write(r->txn, path.buf, json.buf, json.len);
	free(res.stdout_text);
	free(res.stderr_text);
	dg_strbuf_release(&path);
	dg_strbuf_release(&json);
	return ret;
}

static int requeue(struct reap *r, struct dg_task *t)
{
	struct dg_strbuf path = DG_STRBUF_INIT, json = DG_STRBUF_INIT;
	unsigned attempt = t->attempt;
	int ret;

	dg_task_clear_claim(t);
	/* the count of claims survives the trip back, so max_attempts holds */
	json_object_set_new(t->doc, "attempt", json_integer(attempt));
	dg_task_to_json(&json, t);
	dg_strbuf_addf(&path, "tasks/queue/%s.json", t->task_id);
	ret = dg_txn_write(r->txn, path.buf, json.buf, json.len);
	dg_strbuf_release(&path);
	dg_strbuf_release(&json);
	return ret;
}

static int reap_one(const struct dg_entry *e, void *payload)
{
	struct reap *r = payload;
	struct dg_strbuf path = DG_STRBUF_INIT, data = DG_STRBUF_INIT;
	struct dg_task t = DG_TASK_INIT;
	const char *why;
	int ret = 0;

	if (!e->is_file || e->name[0] == '.')
		return 0;
	r->st.examined++;
	dg_strbuf_addf(&path, "tasks/in_progress/%s", e->name);
	if (dg_txn_read(r->txn, path.buf, &data) < 0 ||
	    dg_task_parse(&t, data.buf, data.len, e->name, &r->policy) < 0) {
		/* not ours to judge: a worker reports it as rejected when it sees it */
		dg_log(DG_LOG_WARNING, "event=reap-skip file=%s error=\"%s\"", path.buf, dg_error_last());
		goto out;
	}
	why = orphan_reason(r, &t);
	if (!why)
		goto out;
	if ((ret = dg_txn_remove(r->txn, path.buf)) < 0)
		goto out;
	if (t.attempt >= r->policy.max_attempts) {
		ret = abandon(r, &t, why);
		r->st.abandoned++;
		dg_log(DG_LOG_WARNING, "node=%s task=%s event=abandoned owner=%s attempt=%u reason=\"%s\"",
		       r->me, t.task_id, t.node_id ? t.node_id : "-", t.attempt, why);
	} else {
		dg_log(DG_LOG_INFO, "node=%s task=%s event=reaped owner=%s attempt=%u reason=\"%s\"",
		       r->me, t.task_id, t.node_id ? t.node_id : "-", t.attempt, why);
		ret = requeue(r, &t);
		r->st.requeued++;
	}
	dg_strbuf_addf(&r->msg, " %s", t.task_id);
out:
	dg_task_release(&t);
	dg_strbuf_release(&path);
	dg_strbuf_release(&data);
	return ret;
}

static int reap_fn(struct dg_txn *txn, void *payload)
{
	struct reap *r = payload;
	struct dg_strbuf pol = DG_STRBUF_INIT;
	int ret;

	r->txn = txn;
	r->now = (int64_t)time(NULL);
	memset(&r->st, 0, sizeof(r->st));
	dg_strbuf_reset(&r->msg);
	beats_clear(r);
	r->policy = dg_policy_default;
	if (!dg_txn_read(txn, "dgrid.json", &pol))
		dg_policy_parse(&r->policy, pol.buf, pol.len);
	dg_strbuf_release(&pol);
	ret = dg_store_list_side(r->store, DG_NODE_REF_PREFIX, DG_HEARTBEAT_PATH, collect_beat, r);
	if (ret < 0)
		return ret;
	ret = dg_txn_list(txn, "tasks/in_progress", reap_one, r);
	if (ret < 0)
		return ret;
	if (!r->st.requeued && !r->st.abandoned)
		return 1;
	dg_txn_message(txn, "reap by %s:%s", r->me, r->msg.buf);
	return 0;
}

int dg_reap(struct dg_store *store, const char *me, struct dg_reap_stats *stats)
{
	struct reap r;
	int ret;

	memset(&r, 0, sizeof(r));
	r.store = store;
	r.me = me;
	dg_strbuf_init(&r.msg, 0);
	ret = dg_store_transact(store, reap_fn, &r, NULL);
	if (stats)
		*stats = r.st;
	beats_clear(&r);
	free(r.beats);
	dg_strbuf_release(&r.msg);
	return ret;
}
