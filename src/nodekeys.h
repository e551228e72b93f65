/*
 * nodekeys.h - which key speaks for which node id, and whether a record is
 * really its node's (doc/trust.md, "Node keys and signed records").
 *
 * Pins. The first key an observer sees in a node id's registration
 * (nodes/ID.json "public_key", the registration signed by that key) stays
 * the id's key for that observer: a registration rewritten later under
 * the same id with another key is forged, whatever the repository says
 * now. A worker keeps its pins in a file beside its spool, so they
 * outlive restarts; a command keeps them in the file it is given, else
 * for its run only. A pin is released by a revocation the observer
 * trusts: trust/revoked/ID.json naming the old key, signed in namespace
 * "dgrid-revoke" by a quorum of the observer's own allowed signers
 * (`dgrid node revoke`).
 *
 * Verdicts. A record whose node has a pinned key is valid only when that
 * key signed it (record.h); else it is forged, and observers ignore it
 * for scheduling and reaping and flag it. A node without a key (a dgrid
 * older than 0.11.0) has unverified records, accepted as before.
 *
 * Ownership: dg_nodekeys_new/_free; strings passed in are copied.
 */
#ifndef DG_NODEKEYS_H
#define DG_NODEKEYS_H

#include "common.h"
#include "signers.h"
#include "strbuf.h"

#include <jansson.h>

enum dg_verdict {
	DG_VERDICT_VALID,
	DG_VERDICT_UNVERIFIED,   /* its node has no key: a dgrid before 0.11.0 */
	DG_VERDICT_FORGED,
};

const char *dg_verdict_name(enum dg_verdict v);

struct dg_nodekeys;

/* pins_path NULL: pins for this run only. A corrupt pins file is an error. */
int dg_nodekeys_open(struct dg_nodekeys **out, const char *pins_path);
void dg_nodekeys_free(struct dg_nodekeys *k);

/* Revocations count when signed by quorum keys of signers (borrowed); NULL: none counts. */
void dg_nodekeys_set_trust(struct dg_nodekeys *k, const struct dg_signers *signers, unsigned quorum);

/*
 * A revocation of node_id's key, as read from trust/revoked/ID.json and
 * its signatures (ID.json.sig, ID.json.sigs/NAME.sig).
 */
struct dg_revocation {
	const char *data;
	size_t len;
	const struct dg_signature_file *sigs;
	size_t sigs_nr;
};

/*
 * Reads one registration. A new id is pinned to its key (when it signed
 * the registration); a key other than the pinned one is forged, unless rev
 * (NULL: none) is a trusted revocation of the pinned key, which re-pins.
 * The verdict, with why for a forged one.
 */
enum dg_verdict dg_nodekeys_learn(struct dg_nodekeys *k, const char *node_id, const json_t *reg,
				  const struct dg_revocation *rev, struct dg_strbuf *why);

/*
 * Reads every registration of the grid (nodes/ID.json) and its revocation
 * (trust/revoked/ID.json) at the transaction's base through
 * dg_nodekeys_learn; cb (may be NULL) hears of each forged one. Then saves
 * the pins.
 */
struct dg_txn;
typedef void (*dg_nodekeys_forged_cb)(const char *node_id, const char *why, void *payload);
int dg_nodekeys_learn_grid(struct dg_nodekeys *k, struct dg_txn *txn, dg_nodekeys_forged_cb cb, void *payload);

/* Writes the pins learnt since the last save (a no-op without a pins file). */
int dg_nodekeys_save(struct dg_nodekeys *k);

/* The pinned key of a node, or NULL; valid until the next call on this thread. */
const unsigned char *dg_nodekeys_pinned(const struct dg_nodekeys *k, const char *node_id);

/* A record that owner must have signed: a claim, a heartbeat, most results. */
enum dg_verdict dg_nodekeys_judge(const struct dg_nodekeys *k, const json_t *record, const char *owner,
				  struct dg_strbuf *why);

/*
 * A result: signed by its node_id, or, when another node wrote it about
 * that node's attempt ("abandoned", by a reaper), by that other node; a
 * quorum's result (node "quorum", replica.h) by the node that decided it.
 */
enum dg_verdict dg_nodekeys_judge_result(const struct dg_nodekeys *k, const json_t *result,
					 struct dg_strbuf *why);

#endif
