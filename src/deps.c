#include "deps.h"
#include "error.h"
#include "layout.h"
#include "nodekeys.h"
#include "replica.h"

#include <jansson.h>

#define CYCLE_VISIT_MAX 256   /* queued tasks a cycle check reads, at most */

enum dep_state { DEP_DONE, DEP_PENDING, DEP_ENDED, DEP_MISSING };

struct seen_results {
	struct dg_txn *txn;
	const struct dg_nodekeys *keys;
	bool success;
	char status[24];          /* of a failed one */
};

static int note_result(const char *path, bool success, void *payload)
{
	struct seen_results *s = payload;
	struct dg_strbuf data = DG_STRBUF_INIT, why = DG_STRBUF_INIT;
	json_t *doc = NULL;
	int ret = 0;

	if (!success || s->keys) {
		if (dg_txn_read(s->txn, path, &data) == 0)
			doc = json_loadb(data.buf, data.len, 0, NULL);
	}
	/* a result in a node's name that its key did not sign says nothing */
	if (doc && s->keys && dg_nodekeys_judge_result(s->keys, doc, &why) == DG_VERDICT_FORGED)
		goto out;
	if (success) {
		s->success = true;
		ret = 1;   /* enough */
	} else if (doc) {
		const char *st = json_string_value(json_object_get(doc, "status"));
		snprintf(s->status, sizeof(s->status), "%s", st ? st : "failed");
	} else if (!s->status[0]) {
		snprintf(s->status, sizeof(s->status), "failed");
	}
out:
	json_decref(doc);
	dg_strbuf_release(&data);
	dg_strbuf_release(&why);
	return ret;
}

struct base_find {
	const char *name;
	bool found;
};

static int base_entry(const struct dg_entry *e, void *payload)
{
	struct base_find *b = payload;

	b->found |= e->is_file && !strcmp(e->name, b->name);
	return 0;
}

/*
 * Was id claimed at the transaction's base? Its claim is gone from the
 * transaction when this very step reported it (dg_txn_list reads the base,
 * so the new result is not listed yet): pending, not missing.
 */
static bool claimed_at_base(struct dg_txn *txn, const char *id)
{
	struct dg_strbuf dir = DG_STRBUF_INIT, name = DG_STRBUF_INIT;
	struct base_find b = { NULL, false };

	dg_strbuf_addf(&name, "%s.json", id);
	b.name = name.buf;
	dg_strbuf_addstr(&dir, DG_DIR_RUNNING "/");
	dg_layout_shard(&dir, id, DG_TASK_SHARD_DEPTH);
	dg_txn_list(txn, dir.buf, base_entry, &b);
	if (!b.found)
		dg_txn_list(txn, DG_DIR_RUNNING, base_entry, &b);
	dg_strbuf_release(&dir);
	dg_strbuf_release(&name);
	return b.found;
}

static int dep_state(struct dg_txn *txn, const struct dg_nodekeys *keys, const char *id,
		     enum dep_state *out, char status[24])
{
	struct seen_results s = { txn, keys, false, "" };
	struct dg_strbuf path = DG_STRBUF_INIT;
	int ret = dg_layout_task_results(txn, id, note_result, &s);

	if (ret < 0)
		goto out;
	ret = 0;
	if (s.success)
		*out = DEP_DONE;
	else if (dg_layout_find_task(txn, DG_DIR_QUEUE, id, &path) == 0 ||
		 dg_layout_find_task(txn, DG_DIR_RUNNING, id, &path) == 0)
		*out = DEP_PENDING;   /* also a retry waiting in the queue */
	else if (s.status[0])
		*out = DEP_ENDED;
	else if (claimed_at_base(txn, id))
		*out = DEP_PENDING;   /* reported in this transaction */
	else if (dg_replica_pending(txn, id))
		*out = DEP_PENDING;   /* run by its replicas: decided by their quorum (replica.h) */
	else
		*out = DEP_MISSING;
	snprintf(status, 24, "%s", s.status);
out:
	dg_strbuf_release(&path);
	return ret;
}

/* The dependencies of queued task id, or NULL (not queued, unreadable). */
static json_t *queued_deps(struct dg_txn *txn, const char *id)
{
	struct dg_strbuf path = DG_STRBUF_INIT, data = DG_STRBUF_INIT;
	json_t *doc = NULL, *deps = NULL;

	if (dg_layout_find_task(txn, DG_DIR_QUEUE, id, &path) == 0 && dg_txn_read(txn, path.buf, &data) == 0 &&
	    (doc = json_loadb(data.buf, data.len, 0, NULL)) && json_is_array(json_object_get(doc, "depends_on")))
		deps = json_incref(json_object_get(doc, "depends_on"));
	json_decref(doc);
	dg_strbuf_release(&path);
	dg_strbuf_release(&data);
	return deps;
}

struct walk {
	struct dg_txn *txn;
	const char *target;
	char **path;              /* the chain from the task to here */
	size_t depth, visited;
	char **seen;
	size_t seen_nr, seen_alloc;
};

static bool seen(struct walk *w, const char *id)
{
	for (size_t i = 0; i < w->seen_nr; i++) {
		if (!strcmp(w->seen[i], id))
			return true;
	}
	DG_ALLOC_GROW(w->seen, w->seen_nr + 1, w->seen_alloc);
	w->seen[w->seen_nr++] = dg_xstrdup(id);
	return false;
}

/* Does a chain of queued tasks lead from id back to the target? */
static bool leads_back(struct walk *w, const char *id)
{
	json_t *deps, *e;
	size_t i;
	bool found = false;

	if (w->depth >= DG_DEPS_MAX || w->visited >= CYCLE_VISIT_MAX || seen(w, id))
		return false;
	w->visited++;
	if (!(deps = queued_deps(w->txn, id)))
		return false;
	w->path[w->depth++] = dg_xstrdup(id);
	json_array_foreach(deps, i, e) {
		const char *next = json_string_value(e);

		if (next && (!strcmp(next, w->target) || leads_back(w, next))) {
			found = true;
			break;
		}
	}
	if (!found)
		free(w->path[--w->depth]);
	json_decref(deps);
	return found;
}

static bool find_cycle(struct dg_txn *txn, const struct dg_task *t, char *why, size_t whysz)
{
	struct walk w = { txn, t->task_id, NULL, 0, 0, NULL, 0, 0 };
	bool found = false;

	w.path = dg_xcalloc(DG_DEPS_MAX + 1, sizeof(*w.path));
	for (size_t i = 0; i < t->sched.deps_nr && !found; i++)
		found = leads_back(&w, t->sched.deps[i]);
	if (found) {
		size_t n = (size_t)snprintf(why, whysz, "dependency cycle: %s", t->task_id);

		for (size_t i = 0; i < w.depth && n < whysz; i++)
			n += (size_t)snprintf(why + n, whysz - n, " -> %s", w.path[i]);
		if (n < whysz)
			snprintf(why + n, whysz - n, " -> %s", t->task_id);
	}
	for (size_t i = 0; i < w.depth; i++)
		free(w.path[i]);
	for (size_t i = 0; i < w.seen_nr; i++)
		free(w.seen[i]);
	free(w.path);
	free(w.seen);
	return found;
}

int dg_deps_judge(struct dg_txn *txn, const struct dg_nodekeys *keys, const struct dg_task *t,
		  enum dg_deps_verdict *out, size_t *missing, char *why, size_t whysz)
{
	const char *waits_for = NULL;
	char status[24];
	int ret;

	*out = DG_DEPS_READY;
	why[0] = '\0';
	for (size_t i = 0; i < t->sched.deps_nr; i++) {
		enum dep_state st;

		if ((ret = dep_state(txn, keys, t->sched.deps[i], &st, status)) < 0)
			return ret;
		if (st == DEP_ENDED) {
			snprintf(why, whysz, "dependency '%s' ended %s", t->sched.deps[i], status);
			*out = DG_DEPS_DOOMED;
			return 0;
		}
		if (st == DEP_MISSING) {
			snprintf(why, whysz, "depends on '%s', which is not queued, running or among the "
				 "results on main", t->sched.deps[i]);
			*out = DG_DEPS_MISSING;
			if (missing)
				*missing = i;
			return 0;
		}
		if (st == DEP_PENDING && !waits_for)
			waits_for = t->sched.deps[i];
	}
	if (!waits_for)
		return 0;
	if (find_cycle(txn, t, why, whysz)) {
		*out = DG_DEPS_CYCLE;
		return 0;
	}
	snprintf(why, whysz, "waits for '%s'", waits_for);
	*out = DG_DEPS_BLOCKED;
	return 0;
}
