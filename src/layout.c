#include "layout.h"
#include "error.h"

#include <ctype.h>

const char *dg_layout_result_dir(enum dg_result_status status)
{
	return status == DG_RESULT_SUCCESS ? DG_DIR_COMPLETED : DG_DIR_FAILED;
}

void dg_layout_result_path(struct dg_strbuf *out, enum dg_result_status status,
			   const char *task_id, const char *node_id, unsigned attempt)
{
	dg_strbuf_addf(out, "%s/%s.%s.%u.json", dg_layout_result_dir(status), task_id, node_id, attempt);
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

int dg_layout_write_result(struct dg_txn *txn, const struct dg_result *res,
			   struct dg_strbuf *written)
{
	struct dg_strbuf path = DG_STRBUF_INIT, json = DG_STRBUF_INIT;
	int ret;

	dg_layout_result_path(&path, res->status, res->task_id, res->node_id, res->attempt);
	dg_result_to_json(&json, res);
	ret = dg_layout_write_new(txn, path.buf, json.buf, json.len, written);
	dg_strbuf_release(&path);
	dg_strbuf_release(&json);
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

int dg_layout_reject(struct dg_txn *txn, const char *dir, const char *name, const char *node_id,
		     const char *reason)
{
	struct dg_result res = DG_RESULT_INIT;
	struct dg_strbuf q = DG_STRBUF_INIT, stem = DG_STRBUF_INIT, why = DG_STRBUF_INIT;
	int ret;

	safe_stem(&stem, name);
	dg_strbuf_addf(&why, "rejected %s/%s: %s", dir, name, reason);
	res.task_id = stem.buf;
	res.node_id = (char *)node_id;
	res.exit_code = -1;
	res.status = DG_RESULT_REJECTED;
	res.reason = why.buf;
	dg_utc_now(res.timestamp);
	dg_result_set_output(&res, "", 0, why.buf, why.len);
	dg_strbuf_addf(&q, "%s/%s", dir, name);
	if ((ret = dg_txn_remove(txn, q.buf)) == 0)
		ret = dg_layout_write_result(txn, &res, NULL);
	free(res.stdout_text);
	free(res.stderr_text);
	dg_strbuf_release(&q);
	dg_strbuf_release(&stem);
	dg_strbuf_release(&why);
	return ret;
}

int dg_layout_requeue(struct dg_txn *txn, struct dg_task *task, const char *node_id)
{
	struct dg_strbuf ip = DG_STRBUF_INIT, q = DG_STRBUF_INIT, json = DG_STRBUF_INIT;
	unsigned attempt = task->attempt;
	int ret;

	dg_strbuf_addf(&ip, DG_DIR_RUNNING "/%s.json", task->task_id);
	dg_strbuf_addf(&q, DG_DIR_QUEUE "/%s.json", task->task_id);
	if ((ret = dg_txn_remove(txn, ip.buf)) < 0)
		goto out;
	if (dg_txn_exists(txn, q.buf)) {
		struct dg_strbuf name = DG_STRBUF_INIT;
		dg_strbuf_addf(&name, "%s.json", task->task_id);
		ret = dg_layout_reject(txn, DG_DIR_QUEUE, name.buf, node_id,
					      "a task with this id was already claimed; submit it again with a new id");
		dg_strbuf_release(&name);
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
	dg_strbuf_release(&ip);
	dg_strbuf_release(&q);
	dg_strbuf_release(&json);
	return ret;
}
