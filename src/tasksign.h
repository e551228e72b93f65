/*
 * tasksign.h - a task's signature through its whole life (doc/trust.md).
 *
 * A submitter signs the exact bytes of ID.json (`ssh-keygen -Y sign -n
 * dgrid-task`, or `dgrid sign`) and commits the armored signature beside
 * it: tasks/queue/ID.json.sig. Intake moves the pair into its shard
 * together; readers that look for "*.json" never see the ".sig" (so
 * workers older than 0.11.0 run signed tasks as unsigned ones).
 *
 * A claim cannot keep the signed bytes: it adds the claim fields. So the
 * claim takes the signature into the task's document:
 *
 *   "signed": { "task": "<the exact bytes of ID.json>", "sshsig": "-----BEGIN SSH SIGNATURE-----..." }
 *
 * and every later form - a task handed back, reaped, retried, claimed
 * again - keeps it, because a task keeps its whole document (task.h).
 *
 * Every worker that starts a task verifies it (dg_tasksign_verify): the
 * signature holds over those bytes in namespace "dgrid-task"; its key is
 * in the worker's allowed signers (signers.h) at this moment; and the task
 * about to run is the signed one: its document equals the signed document
 * but for the fields the grid itself writes (MUTABLE_FIELDS in
 * tasksign.c: claim, lease, retry count, queue group, the envelope), and
 * its not_before is no earlier than the signed one. A forger with push
 * access can therefore delay or drop a signed task, never change what it
 * runs.
 */
#ifndef DG_TASKSIGN_H
#define DG_TASKSIGN_H

#include "common.h"
#include "signers.h"
#include "store.h"
#include "task.h"

#define DG_TASKSIGN_SUFFIX ".sig"
/* An armored Ed25519 SSHSIG is about 300 bytes; larger is not a signature. */
#define DG_TASKSIGN_MAX 4096

/* path + ".sig" */
void dg_tasksign_sidecar(struct dg_strbuf *out, const char *task_path);

/*
 * In a transaction, for a queued file at path: move its signature along
 * with it (intake), drop it (the file ends without running), or take it
 * into task's document (a claim; the file's bytes are read again). Each
 * does nothing for a file without a signature.
 */
int dg_tasksign_move(struct dg_txn *txn, const char *from, const char *to);
int dg_tasksign_drop(struct dg_txn *txn, const char *path);
int dg_tasksign_adopt(struct dg_txn *txn, const char *path, struct dg_task *task);

/* Sets task's "signed" envelope: the signed bytes and the armored signature. */
void dg_tasksign_embed(struct dg_task *task, const char *bytes, size_t len,
		       const char *armor, size_t armor_len);

struct dg_tasksign_verdict {
	bool is_signed;
	char key[DG_SSH_FINGERPRINT_LEN + 1];    /* the signer's key */
	char *principals;                        /* its allowed_signers line; NULL without a list */
	char sha256[65];                         /* hex SHA-256 of the signed bytes */
};

#define DG_TASKSIGN_VERDICT_INIT { false, "", NULL, "" }

/*
 * May this task run? With signers (a worker's --allowed-signers), only a
 * task signed by a listed key; without (NULL), an unsigned task may, and a
 * signed one only when its signature holds. 0 and the verdict, or
 * DG_EINVALID with the reason, which starts with what kind of refusal it
 * is: "unsigned: ...", "bad signature: ...", "unknown key: ...",
 * "expired: ...", "not yet valid: ...", "wrong namespace: ...", "altered: ...".
 */
int dg_tasksign_verify(struct dg_tasksign_verdict *v, const struct dg_task *task,
		       const struct dg_signers *signers, int64_t now);
void dg_tasksign_verdict_release(struct dg_tasksign_verdict *v);

/* Records a verdict in a result's document: "task_signer", "task_signed_by", "task_sha256". */
void dg_tasksign_note(json_t **result_doc, const struct dg_tasksign_verdict *v);

#endif
