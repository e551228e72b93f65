/*
 * tasksign.c - a task's signature from the queue to its result (tasksign.h).
 */
#include "error.h"
#include "tasksign.h"

#include <sodium.h>

/*
 * The fields the grid writes into a task after its submitter signed it:
 * the claim and its lease (task.h), the retry count and its not_before
 * (worker_step.c), the submitter's queue group (layout.h), the envelope,
 * the claimer's signature (record.h).
 */
static const char *const MUTABLE_FIELDS[] = {
	"node_id", "claimed_at", "attempt", "lease_seconds", "lease_renewed_at",
	"retried", "not_before", "queue_group", "signed", "node_sig",
};

void dg_tasksign_sidecar(struct dg_strbuf *out, const char *task_path)
{
	dg_strbuf_addf(out, "%s" DG_TASKSIGN_SUFFIX, task_path);
}

int dg_tasksign_move(struct dg_txn *txn, const char *from, const char *to)
{
	struct dg_strbuf a = DG_STRBUF_INIT, b = DG_STRBUF_INIT;
	int ret = 0;

	dg_tasksign_sidecar(&a, from);
	dg_tasksign_sidecar(&b, to);
	if (dg_txn_exists(txn, a.buf)) {
		/* a stale signature at the destination belongs to no task: ours replaces it */
		if (dg_txn_exists(txn, b.buf))
			ret = dg_txn_remove(txn, b.buf);
		if (!ret)
			ret = dg_txn_move(txn, a.buf, b.buf);
	}
	dg_strbuf_release(&a);
	dg_strbuf_release(&b);
	return ret;
}

int dg_tasksign_drop(struct dg_txn *txn, const char *path)
{
	struct dg_strbuf sig = DG_STRBUF_INIT;
	int ret = 0;

	dg_tasksign_sidecar(&sig, path);
	if (dg_txn_exists(txn, sig.buf))
		ret = dg_txn_remove(txn, sig.buf);
	dg_strbuf_release(&sig);
	return ret;
}

void dg_tasksign_embed(struct dg_task *task, const char *bytes, size_t len,
		       const char *armor, size_t armor_len)
{
	if (!task->doc)
		task->doc = json_object();
	/* a signature file of absurd size is kept as its start: it will not verify */
	if (armor_len > DG_TASKSIGN_MAX)
		armor_len = DG_TASKSIGN_MAX;
	json_object_set_new(task->doc, "signed",
			    json_pack("{s:s%, s:s%}", "task", bytes, len, "sshsig", armor, armor_len));
}

int dg_tasksign_adopt(struct dg_txn *txn, const char *path, struct dg_task *task)
{
	struct dg_strbuf sig = DG_STRBUF_INIT, armor = DG_STRBUF_INIT, bytes = DG_STRBUF_INIT;
	int ret = 0;

	dg_tasksign_sidecar(&sig, path);
	if (!dg_txn_exists(txn, sig.buf))
		goto out;
	if ((ret = dg_txn_read(txn, sig.buf, &armor)) < 0 || (ret = dg_txn_read(txn, path, &bytes)) < 0 ||
	    (ret = dg_txn_remove(txn, sig.buf)) < 0)
		goto out;
	/* a task file is JSON, so text; a signature that is not text cannot be one */
	for (size_t i = 0; i < armor.len; i++) {
		if (!armor.buf[i] || (unsigned char)armor.buf[i] >= 0x80)
			armor.buf[i] = '?';
	}
	dg_tasksign_embed(task, bytes.buf, bytes.len, armor.buf, armor.len);
out:
	dg_strbuf_release(&sig);
	dg_strbuf_release(&armor);
	dg_strbuf_release(&bytes);
	return ret;
}

static bool is_mutable(const char *key)
{
	for (size_t i = 0; i < DG_ARRAY_SIZE(MUTABLE_FIELDS); i++) {
		if (!strcmp(key, MUTABLE_FIELDS[i]))
			return true;
	}
	return false;
}

/*
 * What expanding a task into replicas writes (replica.h): the replica's id
 * and number, and the replication the grid's policy gave a task that named
 * none. A signed "replicas" or "quorum" stays binding.
 */
static bool replica_field(json_t *task, json_t *signed_doc, const char *key)
{
	const char *of = json_string_value(json_object_get(task, "replica_of"));
	char want[256];

	if (!of || strcmp(of, json_string_value(json_object_get(signed_doc, "task_id")) ?: ""))
		return false;
	if (!strcmp(key, "replica_of") || !strcmp(key, "replica"))
		return true;
	if (!strcmp(key, "replicas") || !strcmp(key, "quorum"))
		return !json_object_get(signed_doc, key);
	if (!strcmp(key, "task_id")) {
		snprintf(want, sizeof(want), "%s--r%" JSON_INTEGER_FORMAT, of,
			 json_integer_value(json_object_get(task, "replica")));
		return !strcmp(json_string_value(json_object_get(task, "task_id")) ?: "", want);
	}
	return false;
}

/* The first field (other than the grid's own) in which the task differs from the signed one, or NULL. */
static const char *first_difference(json_t *task, json_t *signed_doc)
{
	const char *key;
	json_t *v;

	json_object_foreach(task, key, v) {
		if (!is_mutable(key) && !json_equal(v, json_object_get(signed_doc, key)) &&
		    !replica_field(task, signed_doc, key))
			return key;
	}
	json_object_foreach(signed_doc, key, v) {
		if (!is_mutable(key) && !json_object_get(task, key))
			return key;
	}
	return NULL;
}

/* The signed bytes are the task that runs: same fields, not_before no earlier. */
static int same_task(const struct dg_task *task, const char *bytes, size_t len)
{
	struct dg_task signed_task = DG_TASK_INIT;
	const char *diff;
	int ret = DG_EINVALID;

	if (dg_task_parse(&signed_task, bytes, len, NULL, &dg_policy_loosest) < 0) {
		dg_error_prefix("altered: the signed bytes are not a task");
		goto out;
	}
	if ((diff = first_difference(task->doc, signed_task.doc))) {
		dg_error_set("altered: the task differs from its signed bytes in '%.60s'", diff);
		goto out;
	}
	if (task->sched.not_before < signed_task.sched.not_before) {
		dg_error_set("altered: not_before is earlier than the signed one");
		goto out;
	}
	ret = 0;
out:
	dg_task_release(&signed_task);
	return ret;
}

int dg_tasksign_verify(struct dg_tasksign_verdict *v, const struct dg_task *task,
		       const struct dg_signers *signers, int64_t now)
{
	struct dg_tasksign_verdict out = DG_TASKSIGN_VERDICT_INIT;
	json_t *env = task->doc ? json_object_get(task->doc, "signed") : NULL;
	json_t *bytes = json_object_get(env, "task"), *armor = json_object_get(env, "sshsig");
	const struct dg_signer *who = NULL;
	struct dg_sshsig sig;
	unsigned char h[crypto_hash_sha256_BYTES];

	if (!env) {
		if (!signers)
			goto ok;
		dg_error_set("unsigned: the task has no signature (%s.json.sig), and this worker runs "
			     "only tasks signed by its allowed signers", task->task_id);
		return DG_EINVALID;
	}
	if (!json_is_string(bytes) || !json_is_string(armor)) {
		dg_error_set("bad signature: the \"signed\" field is not {\"task\": string, \"sshsig\": string}");
		return DG_EINVALID;
	}
	if (dg_sshsig_parse(&sig, json_string_value(armor), json_string_length(armor)) < 0 ||
	    dg_sshsig_verify(&sig, DG_SSHSIG_TASK_NAMESPACE, json_string_value(bytes),
			     json_string_length(bytes)) < 0) {
		if (!strncmp(dg_error_last(), "signature is for namespace", 26))
			dg_error_prefix("wrong namespace");
		else
			dg_error_prefix("bad signature");
		return DG_EINVALID;
	}
	if (signers && dg_signers_check(signers, sig.pk, DG_SSHSIG_TASK_NAMESPACE, now, &who) < 0)
		return DG_EINVALID;
	if (same_task(task, json_string_value(bytes), json_string_length(bytes)) < 0)
		return DG_EINVALID;
	out.is_signed = true;
	dg_sshkey_fingerprint(out.key, sig.pk);
	out.principals = who ? dg_xstrdup(who->principals) : NULL;
	crypto_hash_sha256(h, (const unsigned char *)json_string_value(bytes), json_string_length(bytes));
	sodium_bin2hex(out.sha256, sizeof(out.sha256), h, sizeof(h));
ok:
	*v = out;
	return 0;
}

void dg_tasksign_verdict_release(struct dg_tasksign_verdict *v)
{
	free(v->principals);
	*v = (struct dg_tasksign_verdict)DG_TASKSIGN_VERDICT_INIT;
}

void dg_tasksign_note(json_t **result_doc, const struct dg_tasksign_verdict *v)
{
	if (!v->is_signed)
		return;
	if (!*result_doc)
		*result_doc = json_object();
	json_object_set_new(*result_doc, "task_signer", json_string(v->key));
	if (v->principals)
		json_object_set_new(*result_doc, "task_signed_by", json_string(v->principals));
	json_object_set_new(*result_doc, "task_sha256", json_string(v->sha256));
}
