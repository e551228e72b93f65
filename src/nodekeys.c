/*
 * nodekeys.c - pins of node keys and verdicts on records (nodekeys.h).
 */
#include "clock.h"
#include "error.h"
#include "fs.h"
#include "jsonio.h"
#include "nodekeys.h"
#include "record.h"
#include "replica.h"
#include "sigset.h"
#include "sshsig.h"
#include "store.h"
#include "task.h"

#include <sodium.h>

#define PINS_FILE_MAX (4 << 20)
#define NS_REVOKE "dgrid-revoke"

struct dg_nodekeys {
	char *path;                 /* NULL: in memory */
	json_t *pins;               /* node id -> "ssh-ed25519 BASE64" */
	bool dirty;
	const struct dg_signers *signers;
	unsigned quorum;
};

const char *dg_verdict_name(enum dg_verdict v)
{
	switch (v) {
	case DG_VERDICT_VALID: return "valid";
	case DG_VERDICT_UNVERIFIED: return "unverified";
	case DG_VERDICT_FORGED: return "forged";
	}
	return "?";
}

int dg_nodekeys_open(struct dg_nodekeys **out, const char *pins_path)
{
	struct dg_nodekeys *k = dg_xcalloc(1, sizeof(*k));
	struct dg_strbuf text = DG_STRBUF_INIT;
	int ret = 0;

	k->pins = json_object();
	if (pins_path) {
		k->path = dg_xstrdup(pins_path);
		ret = dg_strbuf_read_file(&text, pins_path, PINS_FILE_MAX);
		if (ret == DG_ENOTFOUND) {
			ret = 0;
		} else if (ret == 0) {
			json_t *doc = dg_json_load_object(text.buf, text.len);

			if (!doc) {
				dg_error_prefix("node key pins '%s'", pins_path);
				ret = DG_EINVALID;
			} else {
				json_decref(k->pins);
				k->pins = doc;
			}
		}
	}
	dg_strbuf_release(&text);
	if (ret < 0) {
		dg_nodekeys_free(k);
		return ret;
	}
	*out = k;
	return 0;
}

void dg_nodekeys_free(struct dg_nodekeys *k)
{
	if (!k)
		return;
	json_decref(k->pins);
	free(k->path);
	free(k);
}

void dg_nodekeys_set_trust(struct dg_nodekeys *k, const struct dg_signers *signers, unsigned quorum)
{
	k->signers = signers;
	k->quorum = quorum ? quorum : 1;
}

const unsigned char *dg_nodekeys_pinned(const struct dg_nodekeys *k, const char *node_id)
{
	static _Thread_local unsigned char pk[DG_SSH_ED25519_PK];

	return dg_sshkey_parse_text(pk, json_string_value(json_object_get(k->pins, node_id))) == 0 ? pk : NULL;
}

/* Is rev a revocation of node_id's key old that a quorum of our signers signed? */
static bool revoked(const struct dg_nodekeys *k, const char *node_id, const unsigned char old[DG_SSH_ED25519_PK],
		    const struct dg_revocation *rev, struct dg_strbuf *why)
{
	char fp[DG_SSH_FINGERPRINT_LEN + 1];
	struct dg_strbuf details = DG_STRBUF_INIT;
	json_t *doc;
	bool ok = false;

	if (!rev || !k->signers)
		return false;
	dg_sshkey_fingerprint(fp, old);
	doc = dg_json_load_object(rev->data, rev->len);
	if (!doc || strcmp(json_string_value(json_object_get(doc, "node_id")) ?: "", node_id) ||
	    strcmp(json_string_value(json_object_get(doc, "key")) ?: "", fp)) {
		dg_strbuf_addf(why, "; trust/revoked/%s.json does not revoke %s", node_id, fp);
	} else if (dg_signers_count(k->signers, NS_REVOKE, rev->data, rev->len, rev->sigs, rev->sigs_nr,
				    dg_wall_ms() / 1000, &details) < k->quorum) {
		dg_strbuf_addf(why, "; its revocation is not signed by %u of our keys (%s)", k->quorum, details.buf);
	} else {
		ok = true;
	}
	json_decref(doc);
	dg_strbuf_release(&details);
	return ok;
}

enum dg_verdict dg_nodekeys_learn(struct dg_nodekeys *k, const char *node_id, const json_t *reg,
				  const struct dg_revocation *rev, struct dg_strbuf *why)
{
	const char *text = json_string_value(json_object_get(reg, "public_key"));
	const unsigned char *pinned = dg_nodekeys_pinned(k, node_id);
	unsigned char pk[DG_SSH_ED25519_PK], old[DG_SSH_ED25519_PK];
	char fp[DG_SSH_FINGERPRINT_LEN + 1];
	const char *signer = dg_record_signed_by(reg);

	if (!text) {
		if (!pinned)
			return DG_VERDICT_UNVERIFIED;
		dg_sshkey_fingerprint(fp, pinned);
		dg_strbuf_addf(why, "registration of %s without its key %s", node_id, fp);
		return DG_VERDICT_FORGED;
	}
	if (dg_sshkey_parse_text(pk, text) < 0) {
		dg_strbuf_addf(why, "registration of %s: public_key is no ssh-ed25519 key", node_id);
		return DG_VERDICT_FORGED;
	}
	if (!signer || strcmp(signer, node_id) || dg_record_verify(reg, pk) < 0) {
		dg_strbuf_addf(why, "registration of %s is not signed by the key it names", node_id);
		return DG_VERDICT_FORGED;
	}
	if (pinned && memcmp(pinned, pk, sizeof(pk))) {
		memcpy(old, pinned, sizeof(old));
		dg_sshkey_fingerprint(fp, old);
		dg_strbuf_addf(why, "%s is pinned to key %s, and this registration has another", node_id, fp);
		if (!revoked(k, node_id, old, rev, why))
			return DG_VERDICT_FORGED;
		dg_strbuf_reset(why);
		pinned = NULL;
	}
	if (!pinned) {
		json_object_set_new(k->pins, node_id, json_string(text));
		k->dirty = true;
	}
	return DG_VERDICT_VALID;
}

struct learn {
	struct dg_nodekeys *k;
	struct dg_txn *txn;
	dg_nodekeys_forged_cb cb;
	void *payload;
};

static int learn_one(const struct dg_entry *e, void *payload)
{
	struct learn *l = payload;
	struct dg_strbuf data = DG_STRBUF_INIT, id = DG_STRBUF_INIT, rpath = DG_STRBUF_INIT;
	struct dg_strbuf rdata = DG_STRBUF_INIT, why = DG_STRBUF_INIT;
	struct dg_revocation rev;
	struct dg_sigset set;
	size_t n = strlen(e->name);
	json_t *doc = NULL;
	bool have_rev = false;

	memset(&set, 0, sizeof(set));
	if (!e->is_file || n <= 5 || strcmp(e->name + n - 5, ".json") || dg_entry_size(e) > 65536)
		goto out;
	dg_strbuf_add(&id, e->name, n - 5);
	if (dg_txn_read(l->txn, e->path, &data) < 0 || !(doc = dg_json_load_object(data.buf, data.len)))
		goto out;
	dg_strbuf_addf(&rpath, "trust/revoked/%s.json", id.buf);
	if (dg_txn_read(l->txn, rpath.buf, &rdata) == 0 && dg_sigset_read(&set, l->txn, rpath.buf) == 0) {
		rev = (struct dg_revocation){ rdata.buf, rdata.len, set.files, set.nr };
		have_rev = true;
	}
	if (dg_nodekeys_learn(l->k, id.buf, doc, have_rev ? &rev : NULL, &why) == DG_VERDICT_FORGED && l->cb)
		l->cb(id.buf, why.buf, l->payload);
out:
	json_decref(doc);
	dg_sigset_release(&set);
	dg_strbuf_release(&data);
	dg_strbuf_release(&id);
	dg_strbuf_release(&rpath);
	dg_strbuf_release(&rdata);
	dg_strbuf_release(&why);
	return 0;
}

int dg_nodekeys_learn_grid(struct dg_nodekeys *k, struct dg_txn *txn, dg_nodekeys_forged_cb cb, void *payload)
{
	struct learn l = { k, txn, cb, payload };
	int ret = dg_txn_list(txn, "nodes", learn_one, &l);

	if (ret == 0)
		ret = dg_nodekeys_save(k);
	return ret;
}

int dg_nodekeys_save(struct dg_nodekeys *k)
{
	struct dg_strbuf out = DG_STRBUF_INIT, dir = DG_STRBUF_INIT;
	const char *slash;
	int ret = 0;

	if (!k->path || !k->dirty)
		return 0;
	dg_json_dump(&out, k->pins);
	slash = strrchr(k->path, '/');
	if (slash)
		dg_strbuf_add(&dir, k->path, (size_t)(slash - k->path));
	else
		dg_strbuf_addstr(&dir, ".");
	if ((ret = dg_fs_write(dir.buf, slash ? slash + 1 : k->path, out.buf, out.len)) < 0)
		dg_error_prefix("node key pins '%s'", k->path);
	else
		k->dirty = false;
	dg_strbuf_release(&out);
	dg_strbuf_release(&dir);
	return ret;
}

enum dg_verdict dg_nodekeys_judge(const struct dg_nodekeys *k, const json_t *record, const char *owner,
				  struct dg_strbuf *why)
{
	const unsigned char *pk = owner ? dg_nodekeys_pinned(k, owner) : NULL;
	const char *signer = dg_record_signed_by(record);

	if (!pk)
		return DG_VERDICT_UNVERIFIED;
	if (!signer) {
		dg_strbuf_addf(why, "unsigned, but %s signs its records", owner);
		return DG_VERDICT_FORGED;
	}
	if (strcmp(signer, owner)) {
		dg_strbuf_addf(why, "signed as %.64s, not by its node %s", signer, owner);
		return DG_VERDICT_FORGED;
	}
	if (dg_record_verify(record, pk) < 0) {
		dg_strbuf_addf(why, "%s: not by %s's key", dg_error_last(), owner);
		return DG_VERDICT_FORGED;
	}
	return DG_VERDICT_VALID;
}

enum dg_verdict dg_nodekeys_judge_result(const struct dg_nodekeys *k, const json_t *result,
					 struct dg_strbuf *why)
{
	const char *node = json_string_value(json_object_get(result, "node_id"));
	const char *status = json_string_value(json_object_get(result, "status"));
	const char *signer = dg_record_signed_by(result);

	/* a quorum's result (replica.h) is written by whichever node decided it: that node signs */
	if (node && !strcmp(node, DG_REPLICA_NODE)) {
		if (!signer) {   /* only dgrid 0.11.0 or later writes them, and it signs */
			dg_strbuf_addstr(why, "a quorum's result signed by no node");
			return DG_VERDICT_FORGED;
		}
		return dg_nodekeys_judge(k, result, signer, why);   /* unverified while its node is not pinned */
	}
	/* a reaper ends another node's attempt: the reaper signs */
	if (signer && node && strcmp(signer, node) && status && !strcmp(status, "abandoned") &&
	    dg_nodekeys_pinned(k, signer))
		return dg_nodekeys_judge(k, result, signer, why);
	return dg_nodekeys_judge(k, result, node, why);
}
