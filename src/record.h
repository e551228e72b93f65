/*
 * record.h - what a node writes, signed with its node key (doc/trust.md,
 * "Node keys and signed records").
 *
 * Each worker has an Ed25519 key of its own, created on first start beside
 * its spool (dg_record_key_open; mode 0600, OpenSSH format, never in the
 * repository). Its public key goes into its registration, nodes/ID.json
 * ("public_key"), and every record it writes carries its signature:
 *
 *   "node_sig": { "node": "w1", "sig": "<base64 Ed25519 signature>" }
 *
 * over "dgrid-record\0" followed by the record's canonical form: the JSON
 * object without "node_sig", keys sorted, compact, ASCII-escaped (jansson
 * JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII). Records are the
 * registration (with its "stopped" state), claims (and their renewals),
 * results, and heartbeats.
 *
 * The signer is one per process: dg_record_signer_set names it, and
 * dg_record_seal (used wherever such a record is written) adds the
 * signature. Commands that are no node (dgrid cancel, dgrid reap) set no
 * signer; their records carry none, and observers call them unverified
 * (nodekeys.h).
 */
#ifndef DG_RECORD_H
#define DG_RECORD_H

#include "common.h"
#include "sshsig.h"
#include "strbuf.h"

#include <jansson.h>

#define DG_RECORD_SIG_KEY "node_sig"

/*
 * The node's key at path: loaded, or created there on first start. A key
 * file that exists but cannot be read is an error, never replaced.
 */
int dg_record_key_open(struct dg_sshkey *key, const char *path, const char *node_id);

/* The process's signer: node id and key, borrowed until unset (NULL). */
void dg_record_signer_set(const char *node_id, const struct dg_sshkey *key);
/* The signer's node id, or NULL. */
const char *dg_record_signer(void);

/* Signs doc in place (sets "node_sig"), when a signer is set. */
void dg_record_sign(json_t *doc);
/*
 * Signs a record given as JSON text: json is replaced by the same object,
 * pretty-printed (jsonio.h) with "node_sig" added. Without a signer, or
 * when json is no object, json is left as it is.
 */
void dg_record_seal(struct dg_strbuf *json);

/*
 * The node named in doc's "node_sig" (NULL: unsigned), and whether its
 * signature holds for pk: 0, or DG_EINVALID with "unsigned" or "bad
 * signature".
 */
const char *dg_record_signed_by(const json_t *doc);
int dg_record_verify(const json_t *doc, const unsigned char pk[DG_SSH_ED25519_PK]);

#endif
