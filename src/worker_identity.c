/*
 * worker_identity.c - the node's key, its registration's claim to its id,
 * and the pins by which it judges the other nodes' records (worker_int.h,
 * record.h, nodekeys.h, doc/trust.md).
 */
#include "error.h"
#include "log.h"
#include "record.h"
#include "sigset.h"
#include "worker_int.h"

int dg_worker_identity_init(struct worker *w, const char *spool_dir)
{
	struct dg_strbuf path = DG_STRBUF_INIT;
	char fp[DG_SSH_FINGERPRINT_LEN + 1];
	int ret;

	dg_strbuf_addf(&path, "%s.key", spool_dir);
	if ((ret = dg_record_key_open(&w->key, path.buf, w->me)) == 0) {
		dg_record_signer_set(w->me, &w->key);
		dg_sshkey_fingerprint(fp, w->key.pk);
		dg_log(DG_LOG_INFO, "node=%s event=node-key key=%s file=\"%s\"", w->me, fp, path.buf);
	}
	dg_strbuf_release(&path);
	return ret;
}

/*
 * Would observers accept our registration over prev? They pin prev's key
 * when prev is a registration signed by it; ours then counts only if a
 * revocation they trust releases that key, which is what we ask too.
 */
static bool takes_over(struct worker *w, struct dg_txn *txn, const json_t *prev, struct dg_strbuf *why)
{
	struct dg_nodekeys *k = NULL;
	struct dg_strbuf path = DG_STRBUF_INIT, data = DG_STRBUF_INIT, ignored = DG_STRBUF_INIT;
	struct dg_revocation rev;
	struct dg_sigset set;
	json_t *ours = json_object();
	bool ok = false, have_rev = false;

	memset(&set, 0, sizeof(set));
	if (dg_nodekeys_open(&k, NULL) < 0)
		goto out;
	dg_nodekeys_set_trust(k, w->opts->allowed_signers ? &w->signers : NULL, w->opts->trust_quorum);
	if (dg_nodekeys_learn(k, w->me, prev, NULL, &ignored) != DG_VERDICT_VALID) {
		ok = true;   /* no key pinned by prev: nothing to take over */
		goto out;
	}
	dg_strbuf_addf(&path, "trust/revoked/%s.json", w->me);
	if (txn && dg_txn_read(txn, path.buf, &data) == 0 && dg_sigset_read(&set, txn, path.buf) == 0) {
		rev = (struct dg_revocation){ data.buf, data.len, set.files, set.nr };
		have_rev = true;
	}
	{
		struct dg_strbuf pub = DG_STRBUF_INIT;

		dg_sshkey_format_public(&pub, w->key.pk);
		json_object_set_new(ours, "node_id", json_string(w->me));
		json_object_set_new(ours, "public_key", json_string(pub.buf));
		dg_record_sign(ours);
		dg_strbuf_release(&pub);
	}
	ok = dg_nodekeys_learn(k, w->me, ours, have_rev ? &rev : NULL, why) == DG_VERDICT_VALID;
out:
	json_decref(ours);
	dg_nodekeys_free(k);
	dg_sigset_release(&set);
	dg_strbuf_release(&path);
	dg_strbuf_release(&data);
	dg_strbuf_release(&ignored);
	return ok;
}

struct check {
	struct worker *w;
	struct dg_strbuf why;
	bool refused;
};

static int check_fn(struct dg_txn *txn, void *payload)
{
	struct check *c = payload;
	struct dg_strbuf path = DG_STRBUF_INIT, data = DG_STRBUF_INIT;
	json_t *prev = NULL;

	dg_strbuf_addf(&path, "nodes/%s.json", c->w->me);
	if (dg_txn_read(txn, path.buf, &data) == 0)
		prev = json_loadb(data.buf, data.len, 0, NULL);
	dg_strbuf_reset(&c->why);
	c->refused = prev && !takes_over(c->w, txn, prev, &c->why);
	json_decref(prev);
	dg_strbuf_release(&path);
	dg_strbuf_release(&data);
	return 1;   /* read only */
}

int dg_worker_identity_check(struct worker *w)
{
	struct check c = { w, DG_STRBUF_INIT, false };
	char fp[DG_SSH_FINGERPRINT_LEN + 1];
	int ret = dg_store_transact(w->store, check_fn, &c, NULL);

	if (ret == 0 && c.refused) {
		dg_sshkey_fingerprint(fp, w->key.pk);
		dg_error_set("node id '%s' belongs to another key: %s; this worker's key is %s (a new machine, "
			     "or a lost spool?). Start with another --node-id, or release the id with "
			     "'dgrid node revoke %s'", w->me, c.why.buf, fp, w->me);
		ret = DG_ECONFLICT;
	}
	dg_strbuf_release(&c.why);
	return ret;
}

bool dg_worker_identity_may_register(struct worker *w, struct dg_txn *txn, const json_t *prev)
{
	struct dg_strbuf why = DG_STRBUF_INIT;
	const char *text = json_string_value(json_object_get(prev, "public_key"));
	struct dg_strbuf ours = DG_STRBUF_INIT;
	bool ok;

	/* registered by a dgrid before 0.11.0: claims we made then are unsigned */
	if (!text)
		w->legacy_own_claims = true;

	dg_sshkey_format_public(&ours, w->key.pk);
	ok = !text || !strcmp(text, ours.buf) || takes_over(w, txn, prev, &why);
	if (!ok)
		dg_log(DG_LOG_ERROR, "node=%s event=registration-refused reason=\"%s\"", w->me, why.buf);
	dg_strbuf_release(&why);
	dg_strbuf_release(&ours);
	return ok;
}

bool dg_worker_identity_owns(struct worker *w, const json_t *claim)
{
	const char *signer = dg_record_signed_by(claim);

	if (!signer)
		return w->legacy_own_claims;
	return !strcmp(signer, w->me) && dg_record_verify(claim, w->key.pk) == 0;
}

int dg_worker_identity_bind(struct worker *w, const char *spool_dir)
{
	struct dg_strbuf path = DG_STRBUF_INIT;
	int ret;

	dg_strbuf_addf(&path, "%s.pins", spool_dir);
	if ((ret = dg_nodekeys_open(&w->nodekeys, path.buf)) == 0) {
		dg_nodekeys_set_trust(w->nodekeys, w->opts->allowed_signers ? &w->signers : NULL,
				      w->opts->trust_quorum);
		dg_reaper_set_nodekeys(w->reaper, w->nodekeys);
	}
	dg_strbuf_release(&path);
	return ret;
}

void dg_worker_identity_unbind(struct worker *w)
{
	dg_nodekeys_free(w->nodekeys);
	w->nodekeys = NULL;
}

void dg_worker_identity_release(struct worker *w)
{
	dg_worker_identity_unbind(w);
	dg_record_signer_set(NULL, NULL);
	dg_sshkey_release(&w->key);
}
