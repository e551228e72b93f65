/*
 * replica.c - redundant execution and quorum (replica.h).
 */
#include "error.h"
#include "jsonio.h"
#include "layout.h"
#include "replica.h"

#include <sodium.h>

void dg_replica_plan(const struct dg_task *t, const struct dg_policy *pol, unsigned *replicas,
		     unsigned *quorum)
{
	unsigned n = t->sched.replicas, m = t->sched.quorum;

	if (!n) {   /* the grid's default */
		n = pol ? pol->replicas : 1;
		m = pol ? pol->quorum : 0;
	}
	if (!n)
		n = 1;
	if (!m || m > n)
		m = n / 2 + 1;
	*replicas = n;
	*quorum = m;
}

static void replica_id(struct dg_strbuf *out, const char *task_id, unsigned k)
{
	dg_strbuf_reset(out);
	dg_strbuf_addf(out, "%s--r%u", task_id, k);
}

static void mark(json_t *doc, const char *id, const char *parent, unsigned k, unsigned n, unsigned m)
{
	json_object_set_new(doc, "task_id", json_string(id));
	json_object_set_new(doc, "replica_of", json_string(parent));
	json_object_set_new(doc, "replica", json_integer(k));
	json_object_set_new(doc, "replicas", json_integer(n));
	json_object_set_new(doc, "quorum", json_integer(m));
}

/* Queues replica k, a copy of doc. */
static int queue_replica(struct dg_txn *txn, const json_t *doc, unsigned protocol)
{
	struct dg_strbuf json = DG_STRBUF_INIT, path = DG_STRBUF_INIT;
	struct dg_task r = DG_TASK_INIT;
	int ret;

	dg_json_dump(&json, doc);
	if ((ret = dg_task_parse(&r, json.buf, json.len, NULL, &dg_policy_loosest)) == 0) {
		dg_layout_queue_path(&path, &r, protocol);
		ret = dg_txn_write(txn, path.buf, json.buf, json.len);
	}
	dg_task_release(&r);
	dg_strbuf_release(&json);
	dg_strbuf_release(&path);
	return ret;
}

int dg_replica_expand(struct dg_txn *txn, struct dg_task *t, const struct dg_policy *pol,
		      unsigned protocol, bool alone)
{
	struct dg_strbuf id = DG_STRBUF_INIT, found = DG_STRBUF_INIT;
	unsigned n, m;
	char *parent = dg_xstrdup(t->task_id);
	int ret = 0;

	dg_replica_plan(t, pol, &n, &m);
	if (alone) {
		n = m = 1;
		json_object_set_new(t->doc, "adaptive", json_true());
	}
	for (unsigned k = 1; k <= n && !ret; k++) {
		replica_id(&id, parent, k);
		if (id.len > pol->id_max) {
			dg_error_set("task id '%s' leaves no room for its replicas' ids ('%s' is %zu characters, "
				     "limit %zu)", parent, id.buf, id.len, pol->id_max);
			ret = DG_EINVALID;
		} else if (dg_layout_find_task(txn, DG_DIR_QUEUE, id.buf, &found) == 0 ||
			   dg_layout_find_task(txn, DG_DIR_RUNNING, id.buf, &found) == 0) {
			dg_error_set("a replica of '%s' is queued or running already (%s)", parent, found.buf);
			ret = DG_EINVALID;
		}
	}
	/* replicas 2..N from the task as it was, then the task itself becomes replica 1 */
	for (unsigned k = n; k >= 2 && !ret; k--) {
		json_t *copy = json_deep_copy(t->doc);

		replica_id(&id, parent, k);
		mark(copy, id.buf, parent, k, n, m);
		ret = queue_replica(txn, copy, protocol);
		json_decref(copy);
	}
	if (!ret) {
		replica_id(&id, parent, 1);
		mark(t->doc, id.buf, parent, 1, n, m);
		free(t->task_id);
		t->task_id = dg_xstrdup(id.buf);
		free(t->sched.replica_of);
		t->sched.replica_of = dg_xstrdup(parent);
		t->sched.replica = 1;
		t->sched.replicas = n;
		t->sched.quorum = m;
	}
	free(parent);
	dg_strbuf_release(&id);
	dg_strbuf_release(&found);
	return ret;
}

unsigned dg_replica_streak(const signed char *verdicts, size_t n)
{
	unsigned streak = 0;

	for (size_t i = n; i-- > 0;) {
		if (verdicts[i] == DG_REPLICA_DISAGREED)
			break;
		streak += verdicts[i] == DG_REPLICA_AGREED;
	}
	return streak;
}

bool dg_replica_alone(unsigned streak, unsigned k)
{
	if (!k || streak < k)
		return false;
	if (streak >= 2 * k)
		return true;
	return arc4random_uniform(k + 1) < streak - k + 1;
}

/* ---- held elsewhere ---- */

struct by_node {
	const char *prefix;      /* "ID--rK." */
	const char *node;
	bool found;
};

static int result_by_node(const char *path, bool success, void *payload)
{
	struct by_node *b = payload;
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t p = strlen(b->prefix), n = strlen(b->node);

	(void)success;
	/* "ID--rK.NODE.ATTEMPT.json": node ids may hold dots, so the prefix and the node are matched whole */
	if (!strncmp(name, b->prefix, p) && !strncmp(name + p, b->node, n) && name[p + n] == '.')
		b->found = true;
	return b->found;
}

bool dg_replica_held_elsewhere(struct dg_txn *txn, const struct dg_task *t, const char *node,
			       char *const *mine, size_t mine_nr)
{
	struct dg_strbuf id = DG_STRBUF_INIT, path = DG_STRBUF_INIT, data = DG_STRBUF_INIT;
	struct dg_strbuf prefix = DG_STRBUF_INIT;
	bool held = false;

	for (size_t i = 0; i < mine_nr && !held; i++)
		held = !strcmp(mine[i], t->sched.replica_of);

	for (unsigned k = 1; k <= t->sched.replicas && !held; k++) {
		json_t *doc;

		if (k == t->sched.replica)
			continue;
		replica_id(&id, t->sched.replica_of, k);
		dg_strbuf_reset(&path);
		dg_strbuf_reset(&data);
		if (dg_layout_find_task(txn, DG_DIR_RUNNING, id.buf, &path) == 0 &&
		    dg_txn_read(txn, path.buf, &data) == 0 && (doc = dg_json_load_object(data.buf, data.len))) {
			held = !strcmp(json_string_value(json_object_get(doc, "node_id")) ?: "", node);
			json_decref(doc);
		}
		if (!held) {
			struct by_node b = { NULL, node, false };

			dg_strbuf_reset(&prefix);
			dg_strbuf_addf(&prefix, "%s.", id.buf);
			b.prefix = prefix.buf;
			dg_layout_task_results(txn, id.buf, result_by_node, &b);
			held = b.found;
		}
	}
	dg_strbuf_release(&prefix);
	dg_strbuf_release(&id);
	dg_strbuf_release(&path);
	dg_strbuf_release(&data);
	return held;
}

static int exists_cb(const char *path, bool success, void *payload);

bool dg_replica_pending(struct dg_txn *txn, const char *id)
{
	struct dg_strbuf rid = DG_STRBUF_INIT, path = DG_STRBUF_INIT;
	bool found = false;

	for (unsigned k = 1; k <= DG_REPLICAS_MAX && !found; k++) {
		replica_id(&rid, id, k);
		found = dg_layout_find_task(txn, DG_DIR_QUEUE, rid.buf, &path) == 0 ||
			dg_layout_find_task(txn, DG_DIR_RUNNING, rid.buf, &path) == 0 ||
			dg_layout_task_results(txn, rid.buf, exists_cb, NULL) > 0;
		dg_strbuf_reset(&path);
	}
	dg_strbuf_release(&rid);
	dg_strbuf_release(&path);
	return found;
}

/* ---- quorum ---- */

/* One replica's final outcome. */
struct vote {
	json_t *doc;             /* its result; NULL: none final yet */
	char key[160];           /* what agreement compares */
};

struct gather {
	struct dg_txn *txn;
	const struct dg_nodekeys *keys;
	struct vote *v;
};

static bool final(const json_t *doc)
{
	return !json_is_true(json_object_get(doc, "will_retry"));
}

/* status, exit code and SHA-256 of stdout: equal keys agree */
static void vote_key(struct vote *v)
{
	const char *status = json_string_value(json_object_get(v->doc, "status")) ?: "?";
	const json_t *out = json_object_get(v->doc, "stdout");
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[2 * sizeof(h) + 1];

	crypto_hash_sha256(h, (const unsigned char *)(json_string_value(out) ?: ""), json_string_length(out));
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	snprintf(v->key, sizeof(v->key), "%s:%" JSON_INTEGER_FORMAT ":%s", status,
		 json_integer_value(json_object_get(v->doc, "exit_code")), hex);
}

static int gather_one(const char *path, bool success, void *payload)
{
	struct gather *g = payload;
	struct dg_strbuf data = DG_STRBUF_INIT, why = DG_STRBUF_INIT;
	json_t *doc = NULL;

	(void)success;
	if (g->v->doc || dg_txn_read(g->txn, path, &data) < 0 || !(doc = dg_json_load_object(data.buf, data.len)))
		goto out;
	/* a result its node did not sign is no vote */
	if (g->keys && dg_nodekeys_judge_result(g->keys, doc, &why) == DG_VERDICT_FORGED)
		goto out;
	if (final(doc)) {
		g->v->doc = doc;
		doc = NULL;
	}
out:
	json_decref(doc);
	dg_strbuf_release(&data);
	dg_strbuf_release(&why);
	return 0;
}

/* Only runs can agree on an output: not a rejection, an abandon or a cancel. */
static bool can_win(const struct vote *v)
{
	return !strncmp(v->key, "success:", 8) || !strncmp(v->key, "failed:", 7) ||
	       !strncmp(v->key, "timeout:", 8);
}

static const char *node_of(const struct vote *v)
{
	return json_string_value(json_object_get(v->doc, "node_id")) ?: "?";
}

static int exists_cb(const char *path, bool success, void *payload)
{
	(void)path;
	(void)success;
	(void)payload;
	return 1;
}

/* Ends the replicas still queued: the task is decided. */
static int cancel_queued(struct dg_txn *txn, const char *parent, unsigned n, const char *me,
			 const char *why, unsigned protocol)
{
	struct dg_strbuf id = DG_STRBUF_INIT, path = DG_STRBUF_INIT;
	int ret = 0;

	for (unsigned k = 1; k <= n && !ret; k++) {
		replica_id(&id, parent, k);
		dg_strbuf_reset(&path);
		if (dg_layout_find_task(txn, DG_DIR_QUEUE, id.buf, &path) == 0)
			ret = dg_layout_end_queued(txn, path.buf, id.buf, 0, me, DG_RESULT_CANCELLED, why, protocol);
	}
	dg_strbuf_release(&id);
	dg_strbuf_release(&path);
	return ret;
}

/* The canonical result (agreed) or no_quorum, with every replica's outcome. */
static int write_decision(struct dg_txn *txn, const char *parent, struct vote *votes, unsigned n,
			  unsigned m, const struct vote *winner, unsigned agreeing, unsigned pending,
			  bool adaptive, unsigned protocol, struct dg_strbuf *reason)
{
	struct dg_result res = DG_RESULT_INIT;
	json_t *agree = json_array(), *disagree = json_array(), *outcomes = json_array();
	const char *status = winner ? json_string_value(json_object_get(winner->doc, "status")) : NULL;
	int ret;

	for (unsigned k = 0; k < n; k++) {
		if (!votes[k].doc)
			continue;
		json_array_append_new(outcomes, json_pack("{s:s, s:s, s:O, s:s}", "node", node_of(&votes[k]),
			"status", json_string_value(json_object_get(votes[k].doc, "status")) ?: "?",
			"exit_code", json_object_get(votes[k].doc, "exit_code") ?: json_null(),
			"agreement", votes[k].key));
		/* without a quorum (or alone) nobody is known right: no node gains or loses reputation */
		if (adaptive)
			continue;
		if (winner && !strcmp(votes[k].key, winner->key))
			json_array_append_new(agree, json_string(node_of(&votes[k])));
		else if (winner)
			json_array_append_new(disagree, json_string(node_of(&votes[k])));
	}
	res.task_id = (char *)parent;
	res.node_id = (char *)DG_REPLICA_NODE;
	res.attempt = 1;
	dg_utc_now(res.timestamp);
	if (winner) {
		const json_t *d = winner->doc;

		if (dg_result_status_parse(&res.status, status ? status : "failed") < 0)
			res.status = DG_RESULT_FAILED;
		res.exit_code = (int)json_integer_value(json_object_get(d, "exit_code"));
		dg_result_set_output(&res, json_string_value(json_object_get(d, "stdout")) ?: "",
				     json_string_length(json_object_get(d, "stdout")),
				     json_string_value(json_object_get(d, "stderr")) ?: "",
				     json_string_length(json_object_get(d, "stderr")));
		res.stdout_truncated = json_is_true(json_object_get(d, "stdout_truncated"));
		res.stderr_truncated = json_is_true(json_object_get(d, "stderr_truncated"));
		dg_strbuf_addf(reason, "%u of %u replicas agree (quorum %u)", agreeing, n, m);
	} else {
		res.status = DG_RESULT_NO_QUORUM;
		res.exit_code = -1;
		dg_result_set_output(&res, "", 0, "", 0);
		dg_strbuf_addf(reason, "no %u of the %u replicas can agree any more (at most %u do, %u pending)",
			       m, n, agreeing, pending);
	}
	res.reason = reason->buf;
	res.doc = json_pack("{s:{s:i, s:i, s:o, s:o, s:o, s:b}}", "quorum", "replicas", n, "quorum", m,
			    "agreeing_nodes", agree, "disagreeing_nodes", disagree, "replica_results", outcomes,
			    "adaptive", adaptive);
	ret = dg_layout_write_result(txn, &res, protocol, NULL);
	json_decref(res.doc);
	free(res.stdout_text);
	free(res.stderr_text);
	return ret;
}

/* The newest of the results this transaction wrote for replica id, as JSON; NULL: none. */
static json_t *written_for(const char *id, const struct dg_result *const *written, size_t written_nr)
{
	struct dg_strbuf json = DG_STRBUF_INIT;
	json_t *doc = NULL;

	for (size_t i = written_nr; i-- > 0 && !doc;) {
		if (strcmp(written[i]->task_id, id))
			continue;
		dg_result_to_json(&json, written[i]);
		doc = dg_json_load_object(json.buf, json.len);
	}
	dg_strbuf_release(&json);
	if (doc && !final(doc)) {
		json_decref(doc);
		doc = NULL;
	}
	return doc;
}

int dg_replica_judge(struct dg_txn *txn, const struct dg_task *claim,
		     const struct dg_result *const *written, size_t written_nr,
		     const struct dg_nodekeys *keys, const char *me, unsigned protocol,
		     struct dg_strbuf *msg)
{
	const char *parent = claim->sched.replica_of;
	unsigned n = claim->sched.replicas, m = claim->sched.quorum, pending = 0, running = 0, best = 0;
	bool adaptive = json_is_true(json_object_get(claim->doc, "adaptive"));
	struct dg_strbuf path = DG_STRBUF_INIT;
	struct vote votes[DG_REPLICAS_MAX];
	struct dg_strbuf id = DG_STRBUF_INIT, reason = DG_STRBUF_INIT;
	const struct vote *winner = NULL;
	int ret = 0;

	if (!parent || n < 1 || n > DG_REPLICAS_MAX || !m)
		return 0;
	/* decided already (a replica that finished late) */
	if (dg_layout_task_results(txn, parent, exists_cb, NULL) > 0)
		return 0;
	memset(votes, 0, sizeof(votes));
	for (unsigned k = 1; k <= n; k++) {
		struct gather g = { txn, keys, &votes[k - 1] };

		replica_id(&id, parent, k);
		votes[k - 1].doc = written_for(id.buf, written, written_nr);
		if (!votes[k - 1].doc && (ret = dg_layout_task_results(txn, id.buf, gather_one, &g)) < 0)
			goto out;
		if (votes[k - 1].doc) {
			vote_key(&votes[k - 1]);
			continue;
		}
		pending++;
		dg_strbuf_reset(&path);
		running += dg_layout_find_task(txn, DG_DIR_RUNNING, id.buf, &path) == 0;
	}
	/* one vote per node: a node's second replica (never scheduled so) does not count */
	for (unsigned a = 0; a < n; a++) {
		for (unsigned b = 0; b < a && votes[a].doc; b++) {
			if (votes[b].doc && !strcmp(node_of(&votes[a]), node_of(&votes[b]))) {
				json_decref(votes[a].doc);
				votes[a].doc = NULL;
			}
		}
	}
	for (unsigned a = 0; a < n; a++) {
		unsigned same = 0;

		if (!votes[a].doc)
			continue;
		for (unsigned b = 0; b < n; b++)
			same += votes[b].doc && !strcmp(votes[a].key, votes[b].key);
		if (same > best && can_win(&votes[a])) {
			best = same;
			winner = &votes[a];
		}
	}
	/* agreed: decided once the replicas that run have spoken (the queued are cancelled) */
	if (winner && best >= m && !running) {
		ret = write_decision(txn, parent, votes, n, m, winner, best, pending, adaptive, protocol, &reason);
		dg_strbuf_addf(msg, " quorum %s", parent);
	} else if (best + pending < m) {
		ret = write_decision(txn, parent, votes, n, m, NULL, best, pending, adaptive, protocol, &reason);
		dg_strbuf_addf(msg, " no_quorum %s", parent);
	} else {
		goto out;   /* wait for more */
	}
	if (ret == 0) {
		dg_strbuf_reset(&id);
		dg_strbuf_addf(&id, "%s decided: %s", parent, reason.buf);
		ret = cancel_queued(txn, parent, n, me, id.buf, protocol);
	}
out:
	for (unsigned k = 0; k < n; k++)
		json_decref(votes[k].doc);
	dg_strbuf_release(&id);
	dg_strbuf_release(&reason);
	dg_strbuf_release(&path);
	return ret;
}

struct verdict_find {
	struct dg_txn *txn;
	const char *node;
	signed char v;
};

static bool lists(const json_t *list, const char *node)
{
	size_t i;
	const json_t *e;

	json_array_foreach(list, i, e) {
		if (!strcmp(json_string_value(e) ?: "", node))
			return true;
	}
	return false;
}

static int verdict_of(const char *path, bool success, void *payload)
{
	struct verdict_find *f = payload;
	struct dg_strbuf data = DG_STRBUF_INIT;
	json_t *doc = NULL, *q;

	(void)success;
	if (!strstr(path, "." DG_REPLICA_NODE ".") || dg_txn_read(f->txn, path, &data) < 0 ||
	    !(doc = dg_json_load_object(data.buf, data.len)))
		goto out;
	q = json_object_get(doc, "quorum");
	if (json_is_true(json_object_get(q, "adaptive")))
		f->v = DG_REPLICA_UNJUDGED;
	else if (lists(json_object_get(q, "agreeing_nodes"), f->node))
		f->v = DG_REPLICA_AGREED;
	else if (lists(json_object_get(q, "disagreeing_nodes"), f->node))
		f->v = DG_REPLICA_DISAGREED;
	else
		f->v = DG_REPLICA_UNJUDGED;
out:
	json_decref(doc);
	dg_strbuf_release(&data);
	return f->v != DG_REPLICA_UNDECIDED;
}

int dg_replica_verdict(struct dg_txn *txn, const char *task, const char *node, signed char *out)
{
	struct verdict_find f = { txn, node, DG_REPLICA_UNDECIDED };
	int ret = dg_layout_task_results(txn, task, verdict_of, &f);

	*out = f.v;
	return ret < 0 ? ret : 0;
}
