#include "layout.h"
#include "error.h"
#include "record.h"
#include "tasksign.h"

#include <ctype.h>
#include <sodium.h>

void dg_layout_shard(struct dg_strbuf *out, const char *task_id, unsigned depth)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	static const char hex[] = "0123456789abcdef";

	crypto_hash_sha256(h, (const unsigned char *)task_id, strlen(task_id));
	for (unsigned i = 0; i < depth && i < 2 * sizeof(h); i++) {
		unsigned nibble = i % 2 ? h[i / 2] & 0xf : h[i / 2] >> 4;
		if (i)
			dg_strbuf_addch(out, '/');
		dg_strbuf_addch(out, hex[nibble]);
	}
}

void dg_layout_task_path(struct dg_strbuf *out, const char *dir, const char *task_id,
			 unsigned protocol)
{
	dg_strbuf_addf(out, "%s/", dir);
	if (protocol >= DG_SHARDED_PROTOCOL) {
		dg_layout_shard(out, task_id, DG_TASK_SHARD_DEPTH);
		dg_strbuf_addch(out, '/');
	}
	dg_strbuf_addf(out, "%s.json", task_id);
}

void dg_layout_lane_dir(struct dg_strbuf *out, unsigned priority)
{
	dg_strbuf_addstr(out, DG_DIR_QUEUE);
	if (priority != DG_PRIORITY_DEFAULT)
		dg_strbuf_addf(out, "/p%u", priority);
}

void dg_layout_group_of(char out[DG_GROUP_NAME_LEN + 1], const char *submitter)
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, (const unsigned char *)submitter, strlen(submitter));
	snprintf(out, DG_GROUP_NAME_LEN + 1, "g-%02x%02x%02x%02x%02x%02x", h[0], h[1], h[2], h[3], h[4], h[5]);
}

bool dg_layout_is_group(const char *name)
{
	if (strncmp(name, "g-", 2) || strlen(name) != DG_GROUP_NAME_LEN)
		return false;
	return strspn(name + 2, "0123456789abcdef") == DG_GROUP_NAME_LEN - 2;
}

bool dg_layout_group_in_path(char out[DG_GROUP_NAME_LEN + 1], const char *path)
{
	for (const char *p = strstr(path, "/g-"); p; p = strstr(p + 1, "/g-")) {
		char name[DG_GROUP_NAME_LEN + 1];

		snprintf(name, sizeof(name), "%s", p + 1);
		if (dg_layout_is_group(name) && p[1 + DG_GROUP_NAME_LEN] == '/') {
			memcpy(out, name, sizeof(name));
			return true;
		}
	}
	return false;
}

void dg_layout_queue_path(struct dg_strbuf *out, const struct dg_task *task, unsigned protocol)
{
	const char *group = json_string_value(json_object_get(task->doc, "queue_group"));

	if (protocol < DG_SHARDED_PROTOCOL) {
		dg_layout_task_path(out, DG_DIR_QUEUE, task->task_id, protocol);
		return;
	}
	dg_layout_lane_dir(out, task->sched.priority);
	dg_strbuf_addch(out, '/');
	if (group && dg_layout_is_group(group))
		dg_strbuf_addf(out, "%s/", group);
	dg_layout_shard(out, task->task_id, DG_TASK_SHARD_DEPTH);
	dg_strbuf_addf(out, "/%s.json", task->task_id);
}

struct group_find {
	struct dg_txn *txn;
	const char *task_id;
	struct dg_strbuf *path;
	bool found;
};

static int group_probe(const struct dg_entry *e, void *payload)
{
	struct group_find *g = payload;
	size_t len = g->path->len;

	if (!e->is_dir || !dg_layout_is_group(e->name))
		return 0;
	dg_strbuf_addf(g->path, "/%s/", e->name);
	dg_layout_shard(g->path, g->task_id, DG_TASK_SHARD_DEPTH);
	dg_strbuf_addf(g->path, "/%s.json", g->task_id);
	if (dg_txn_exists(g->txn, g->path->buf)) {
		g->found = true;
		return 1;
	}
	dg_strbuf_setlen(g->path, len);
	return 0;
}

/* The task in a submitter group of the lane at path (reset to the lane); path set when found. */
static bool find_in_groups(struct dg_txn *txn, const char *task_id, struct dg_strbuf *path)
{
	struct group_find g = { txn, task_id, path, false };
	char *lane = dg_xstrdup(path->buf);

	dg_txn_list(txn, lane, group_probe, &g);
	free(lane);
	return g.found;
}

int dg_layout_find_task(struct dg_txn *txn, const char *dir, const char *task_id,
			struct dg_strbuf *path)
{
	bool queue = !strcmp(dir, DG_DIR_QUEUE);

	dg_strbuf_reset(path);
	dg_layout_task_path(path, dir, task_id, DG_SHARDED_PROTOCOL);
	if (dg_txn_exists(txn, path->buf))
		return 0;
	for (unsigned p = 0; queue && p <= DG_PRIORITY_MAX; p++) {
		if (p != DG_PRIORITY_DEFAULT) {
			dg_strbuf_reset(path);
			dg_strbuf_addf(path, "%s/p%u/", dir, p);
			dg_layout_shard(path, task_id, DG_TASK_SHARD_DEPTH);
			dg_strbuf_addf(path, "/%s.json", task_id);
			if (dg_txn_exists(txn, path->buf))
				return 0;
		}
		dg_strbuf_reset(path);
		dg_layout_lane_dir(path, p);
		if (find_in_groups(txn, task_id, path))
			return 0;
	}
	dg_strbuf_reset(path);
	dg_layout_task_path(path, dir, task_id, 1);
	return dg_txn_exists(txn, path->buf) ? 0 : DG_ENOTFOUND;
}

int dg_layout_remove_claim(struct dg_txn *txn, const char *task_id)
{
	struct dg_strbuf ip = DG_STRBUF_INIT;
	int ret = dg_layout_find_task(txn, DG_DIR_RUNNING, task_id, &ip);

	if (ret == 0)
		ret = dg_txn_remove(txn, ip.buf);
	else
		dg_error_set("no claim of task '%s' in " DG_DIR_RUNNING, task_id);
	dg_strbuf_release(&ip);
	return ret;
}

/* ---- walking a directory and its shards ---- */

typedef int (*list_fn)(void *src, const char *dir, dg_list_cb cb, void *payload);

struct walk {
	list_fn list;
	void *src;
	dg_list_cb cb;
	void *payload;
	unsigned depth;          /* shard levels below this one that may follow */
	bool shards_pass;        /* second pass: enter the shards */
	bool in_group;           /* inside a submitter group: no group within */
};

static bool is_shard_name(const char *name)
{
	return name[0] && !name[1] && strchr("0123456789abcdef", name[0]);
}

/* "p0".."p9" except "p5": a priority lane at the top of the queue */
static bool is_lane_name(const char *name)
{
	return name[0] == 'p' && name[1] >= '0' && name[1] <= '9' && !name[2] &&
	       name[1] - '0' != DG_PRIORITY_DEFAULT;
}

static int walk_dir(struct walk *w, const char *dir, unsigned depth);

static int walk_entry(const struct dg_entry *e, void *payload)
{
	struct walk *w = payload;
	bool shard = e->is_dir && w->depth > 0 && is_shard_name(e->name);
	bool lane = e->is_dir && w->depth == DG_RESULT_SHARD_DEPTH && is_lane_name(e->name);
	bool group = e->is_dir && !w->in_group && w->depth >= DG_TASK_SHARD_DEPTH && dg_layout_is_group(e->name);

	if (!w->shards_pass)
		return shard || lane || group ? 0 : w->cb(e, w->payload);
	if (lane)
		return walk_dir(w, e->path, DG_TASK_SHARD_DEPTH);
	if (group) {
		struct walk in = *w;
		in.in_group = true;
		return walk_dir(&in, e->path, DG_TASK_SHARD_DEPTH);
	}
	return shard ? walk_dir(w, e->path, w->depth - 1) : 0;
}

/* Files (and foreign subdirectories) first, then the shards in order. */
static int walk_dir(struct walk *w, const char *dir, unsigned depth)
{
	struct walk sub = *w;
	char *copy = dg_xstrdup(dir);   /* the caller's entry path is reused */
	int ret;

	sub.depth = depth;
	sub.shards_pass = false;
	ret = w->list(w->src, copy, walk_entry, &sub);
	if (ret == 0 && depth > 0) {
		sub.shards_pass = true;
		ret = w->list(w->src, copy, walk_entry, &sub);
	}
	free(copy);
	return ret;
}

static int list_store(void *src, const char *dir, dg_list_cb cb, void *payload)
{
	return dg_store_list(src, dir, cb, payload);
}

static int list_txn(void *src, const char *dir, dg_list_cb cb, void *payload)
{
	return dg_txn_list(src, dir, cb, payload);
}

bool dg_layout_is_task_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 5 && !strcmp(name + n - 5, ".json");
}

int dg_layout_walk_store(struct dg_store *store, const char *dir, dg_list_cb cb, void *payload)
{
	struct walk w = { list_store, store, cb, payload, 0, false, false };

	return walk_dir(&w, dir, DG_RESULT_SHARD_DEPTH);
}

int dg_layout_walk_txn(struct dg_txn *txn, const char *dir, dg_list_cb cb, void *payload)
{
	struct walk w = { list_txn, txn, cb, payload, 0, false, false };

	return walk_dir(&w, dir, DG_RESULT_SHARD_DEPTH);
}

const char *dg_layout_result_dir(enum dg_result_status status)
{
	return status == DG_RESULT_SUCCESS ? DG_DIR_COMPLETED : DG_DIR_FAILED;
}

void dg_layout_result_path(struct dg_strbuf *out, enum dg_result_status status,
			   const char *task_id, const char *node_id, unsigned attempt,
			   unsigned protocol)
{
	dg_strbuf_addf(out, "%s/", dg_layout_result_dir(status));
	if (protocol >= DG_SHARDED_PROTOCOL) {
		dg_layout_shard(out, task_id, DG_RESULT_SHARD_DEPTH);
		dg_strbuf_addch(out, '/');
	}
	dg_strbuf_addf(out, "%s.%s.%u.json", task_id, node_id, attempt);
}

int dg_layout_result_task(const char *name, struct dg_strbuf *task_id)
{
	const char *dot = strchr(name, '.');
	size_t n = strlen(name);

	/* "{task}.{node}.{attempt}.json": the first dot ends the task id, another precedes ".json" */
	if (n < 5 || strcmp(name + n - 5, ".json") || !dot || dot == name || dot >= name + n - 5 ||
	    !memchr(dot + 1, '.', (size_t)(name + n - 5 - (dot + 1))))
		return DG_ENOTFOUND;
	for (const char *p = name; p < dot; p++) {
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", *p))
			return DG_ENOTFOUND;
	}
	dg_strbuf_add(task_id, name, (size_t)(dot - name));
	return 0;
}

bool dg_layout_result_of(const char *name, const char *data, size_t len, const char *task_id)
{
	size_t n = strlen(name), idlen = strlen(task_id);
	struct dg_strbuf id = DG_STRBUF_INIT;
	bool ours = false;
	json_t *doc;

	if (dg_layout_result_task(name, &id) == 0) {
		ours = !strcmp(id.buf, task_id);
	} else if (data && n >= idlen + 6 && !strcmp(name + n - 5, ".json") &&
		   name[n - 6 - idlen] == '-' && !memcmp(name + n - 5 - idlen, task_id, idlen) &&
		   (doc = json_loadb(data, len, 0, NULL)) != NULL) {
		ours = !strcmp(json_string_value(json_object_get(doc, "task_id")) ?: "", task_id);
		json_decref(doc);
	}
	dg_strbuf_release(&id);
	return ours;
}

int dg_layout_write_new(struct dg_txn *txn, const char *path, const void *data, size_t len,
			struct dg_strbuf *written)
{
	struct dg_strbuf alt = DG_STRBUF_INIT;
	size_t n = strlen(path);
	size_t stem = n > 5 && !strcmp(path + n - 5, ".json") ? n - 5 : n;
	int ret = DG_ECONFLICT;

	dg_strbuf_addstr(&alt, path);
	for (unsigned k = 2; k < 1000; k++) {
		if (!dg_txn_exists(txn, alt.buf)) {
			ret = dg_txn_write(txn, alt.buf, data, len);
			if (ret == 0 && written)
				dg_strbuf_addstr(written, alt.buf);
			goto out;
		}
		dg_strbuf_reset(&alt);
		dg_strbuf_addf(&alt, "%.*s~%u%s", (int)stem, path, k, path + stem);
	}
	dg_error_set("'%s' and its alternatives up to ~999 all exist", path);
out:
	dg_strbuf_release(&alt);
	return ret;
}

int dg_layout_write_result(struct dg_txn *txn, const struct dg_result *res, unsigned protocol,
			   struct dg_strbuf *written)
{
	struct dg_strbuf path = DG_STRBUF_INIT, json = DG_STRBUF_INIT;
	int ret;

	dg_layout_result_path(&path, res->status, res->task_id, res->node_id, res->attempt, protocol);
	dg_result_to_json(&json, res);
	dg_record_seal(&json);   /* signed by this node, when it is one (record.h) */
	ret = dg_layout_write_new(txn, path.buf, json.buf, json.len, written);
	dg_strbuf_release(&path);
	dg_strbuf_release(&json);
	return ret;
}

struct result_walk {
	const char *task_id;
	bool success;
	dg_layout_result_cb cb;
	void *payload;
};

static int result_entry(const struct dg_entry *e, void *payload)
{
	struct result_walk *rw = payload;
	struct dg_strbuf id = DG_STRBUF_INIT;
	int ret = 0;

	if (e->is_file && dg_layout_result_task(e->name, &id) == 0 && !strcmp(id.buf, rw->task_id))
		ret = rw->cb(e->path, rw->success, rw->payload);
	dg_strbuf_release(&id);
	return ret;
}

int dg_layout_task_results(struct dg_txn *txn, const char *task_id, dg_layout_result_cb cb,
			   void *payload)
{
	struct result_walk rw = { task_id, false, cb, payload };
	struct dg_strbuf dir = DG_STRBUF_INIT;
	int ret = 0;

	for (int k = 0; k < 2 && !ret; k++) {
		rw.success = k == 0;
		dg_strbuf_reset(&dir);
		dg_strbuf_addf(&dir, "%s/", rw.success ? DG_DIR_COMPLETED : DG_DIR_FAILED);
		dg_layout_shard(&dir, task_id, DG_RESULT_SHARD_DEPTH);
		if ((ret = dg_txn_list(txn, dir.buf, result_entry, &rw)) == 0)
			ret = dg_txn_list(txn, rw.success ? DG_DIR_COMPLETED : DG_DIR_FAILED, result_entry, &rw);
	}
	dg_strbuf_release(&dir);
	return ret;
}

int dg_layout_end_queued(struct dg_txn *txn, const char *path, const char *task_id, unsigned attempt,
			 const char *node_id, enum dg_result_status status, const char *reason,
			 unsigned protocol)
{
	struct dg_result res = DG_RESULT_INIT;
	int ret;

	res.task_id = (char *)task_id;
	res.node_id = (char *)node_id;
	res.exit_code = -1;
	res.status = status;
	res.reason = (char *)reason;
	res.attempt = attempt;
	dg_utc_now(res.timestamp);
	dg_result_set_output(&res, "", 0, "", 0);
	if ((ret = dg_txn_remove(txn, path)) == 0 && (ret = dg_tasksign_drop(txn, path)) == 0)
		ret = dg_layout_write_result(txn, &res, protocol, NULL);
	free(res.stdout_text);
	free(res.stderr_text);
	return ret;
}

/* A task-id-like stem for the result of something that is not a valid task. */
static void safe_stem(struct dg_strbuf *out, const char *name)
{
	size_t n = strlen(name), start = out->len;

	if (n > 5 && !strcmp(name + n - 5, ".json"))
		n -= 5;
	for (size_t i = 0; i < n && out->len - start < 64; i++) {
		unsigned char c = (unsigned char)name[i];
		dg_strbuf_addch(out, (isalnum(c) && c < 0x80) || c == '-' || c == '_' ? (char)c : '_');
	}
	if (out->len == start)
		dg_strbuf_addch(out, '_');
}

int dg_layout_reject(struct dg_txn *txn, const char *path, const char *node_id,
		     const char *reason, unsigned protocol)
{
	struct dg_result res = DG_RESULT_INIT;
	struct dg_strbuf stem = DG_STRBUF_INIT, why = DG_STRBUF_INIT;
	const char *slash = strrchr(path, '/');
	int ret;

	safe_stem(&stem, slash ? slash + 1 : path);
	dg_strbuf_addf(&why, "rejected %s: %s", path, reason);
	res.task_id = stem.buf;
	res.node_id = (char *)node_id;
	res.exit_code = -1;
	res.status = DG_RESULT_REJECTED;
	res.reason = why.buf;
	dg_utc_now(res.timestamp);
	dg_result_set_output(&res, "", 0, why.buf, why.len);
	if ((ret = dg_txn_remove(txn, path)) == 0 && (ret = dg_tasksign_drop(txn, path)) == 0)
		ret = dg_layout_write_result(txn, &res, protocol, NULL);
	free(res.stdout_text);
	free(res.stderr_text);
	dg_strbuf_release(&stem);
	dg_strbuf_release(&why);
	return ret;
}

int dg_layout_requeue(struct dg_txn *txn, struct dg_task *task, const char *node_id,
		      unsigned protocol)
{
	struct dg_strbuf q = DG_STRBUF_INIT, dup = DG_STRBUF_INIT, json = DG_STRBUF_INIT;
	unsigned attempt = task->attempt;
	int ret;

	dg_layout_queue_path(&q, task, protocol);
	if ((ret = dg_layout_remove_claim(txn, task->task_id)) < 0)
		goto out;
	/* a duplicate may wait flat (a submission) or in its shard */
	while (dg_layout_find_task(txn, DG_DIR_QUEUE, task->task_id, &dup) == 0) {
		ret = dg_layout_reject(txn, dup.buf, node_id,
				       "a task with this id was already claimed; submit it again with a new id",
				       protocol);
		if (ret < 0)
			goto out;
	}
	dg_task_clear_claim(task);
	/* the count of claims survives the trip back, so max_attempts holds */
	json_object_set_new(task->doc, "attempt", json_integer(attempt));
	task->attempt = attempt;
	dg_task_to_json(&json, task);
	ret = dg_txn_write(txn, q.buf, json.buf, json.len);
out:
	dg_strbuf_release(&dup);
	dg_strbuf_release(&q);
	dg_strbuf_release(&json);
	return ret;
}
