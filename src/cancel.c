#include "cancel.h"
#include "error.h"
#include "jsonio.h"
#include "layout.h"

static void request_path(struct dg_strbuf *out, const char *task_id)
{
	dg_strbuf_addf(out, DG_DIR_CANCEL "/%s.json", task_id);
}

int dg_cancel_request(struct dg_txn *txn, const char *task_id, const char *reason)
{
	struct dg_strbuf path = DG_STRBUF_INIT, json = DG_STRBUF_INIT;
	json_t *doc = json_pack("{s:s}", "task_id", task_id);
	char at[32];
	int ret;

	dg_utc_now(at);
	json_object_set_new(doc, "requested_at", json_string(at));
	if (reason && *reason)
		json_object_set_new(doc, "reason", json_stringn(reason, strnlen(reason, DG_CANCEL_REASON_MAX)));
	dg_json_dump(&json, doc);
	request_path(&path, task_id);
	ret = dg_txn_write(txn, path.buf, json.buf, json.len);
	json_decref(doc);
	dg_strbuf_release(&path);
	dg_strbuf_release(&json);
	return ret;
}

void dg_cancel_reason(struct dg_strbuf *out, const char *data, size_t len)
{
	/* anything is a request; a reason is read only from a small JSON object */
	json_t *doc = len <= 4096 ? json_loadb(data, len, 0, NULL) : NULL;
	const char *why = json_string_value(json_object_get(doc, "reason"));

	dg_strbuf_reset(out);
	if (why && *why)
		dg_strbuf_add(out, why, strnlen(why, DG_CANCEL_REASON_MAX));
	else
		dg_strbuf_addstr(out, "cancel requested");
	json_decref(doc);
}

int dg_cancel_requested(struct dg_txn *txn, const char *task_id, struct dg_strbuf *reason)
{
	struct dg_strbuf path = DG_STRBUF_INIT, data = DG_STRBUF_INIT;
	int found;

	request_path(&path, task_id);
	found = dg_txn_read(txn, path.buf, &data) == 0;
	if (found && reason)
		dg_cancel_reason(reason, data.buf, data.len);
	dg_strbuf_release(&path);
	dg_strbuf_release(&data);
	return found;
}

int dg_cancel_clear(struct dg_txn *txn, const char *task_id)
{
	struct dg_strbuf path = DG_STRBUF_INIT;
	int ret = 0;

	request_path(&path, task_id);
	if (dg_txn_exists(txn, path.buf))
		ret = dg_txn_remove(txn, path.buf);
	dg_strbuf_release(&path);
	return ret;
}

int dg_cancel_queued(struct dg_txn *txn, const char *task_id, const char *path,
		     const char *node_id, const char *reason, unsigned protocol)
{
	struct dg_strbuf why = DG_STRBUF_INIT, data = DG_STRBUF_INIT;
	struct dg_task t = DG_TASK_INIT;
	int ret;

	if ((ret = dg_txn_read(txn, path, &data)) < 0)
		goto out;
	if (dg_task_parse(&t, data.buf, data.len, NULL, &dg_policy_loosest) < 0 || strcmp(t.task_id, task_id))
		dg_task_release(&t);   /* attempt 0 */
	dg_strbuf_addf(&why, "cancelled before it started: %s", reason);
	if ((ret = dg_cancel_clear(txn, task_id)) == 0)
		ret = dg_layout_end_queued(txn, path, task_id, t.attempt, node_id, DG_RESULT_CANCELLED,
					   why.buf, protocol);
out:
	dg_task_release(&t);
	dg_strbuf_release(&data);
	dg_strbuf_release(&why);
	return ret;
}

struct lister {
	dg_cancel_cb cb;
	void *payload;
};

static int list_one(const struct dg_entry *e, void *payload)
{
	struct lister *l = payload;
	size_t n = strlen(e->name);
	char id[256];

	if (!e->is_file || e->name[0] == '.' || n <= 5 || n - 5 >= sizeof(id) ||
	    strcmp(e->name + n - 5, ".json"))
		return 0;
	memcpy(id, e->name, n - 5);
	id[n - 5] = '\0';
	if (dg_task_id_check(id, &dg_policy_loosest) < 0)
		return 0;   /* no task can have that id: nothing to cancel */
	return l->cb(id, l->payload);
}

int dg_cancel_list_store(struct dg_store *store, dg_cancel_cb cb, void *payload)
{
	struct lister l = { cb, payload };

	return dg_store_list(store, DG_DIR_CANCEL, list_one, &l);
}

int dg_cancel_list_txn(struct dg_txn *txn, dg_cancel_cb cb, void *payload)
{
	struct lister l = { cb, payload };

	return dg_txn_list(txn, DG_DIR_CANCEL, list_one, &l);
}
