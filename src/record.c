/*
 * record.c - node keys and signed records (record.h).
 */
#include "error.h"
#include "fs.h"
#include "jsonio.h"
#include "record.h"

#include <sodium.h>
#include <unistd.h>

#define DOMAIN "dgrid-record"   /* followed by a NUL: a record signature is nothing else */

static const char *signer_node;
static const struct dg_sshkey *signer_key;

int dg_record_key_open(struct dg_sshkey *key, const char *path, const char *node_id)
{
	struct dg_sshkey fresh;
	char comment[96];
	int ret;

	if (access(path, F_OK) == 0) {
		if ((ret = dg_sshkey_load(key, path)) < 0)
			dg_error_prefix("the node key");
		return ret;
	}
	{
		const char *slash = strrchr(path, '/');
		char *parent = slash && slash != path ? dg_xstrndup(path, (size_t)(slash - path)) : NULL;

		ret = parent ? dg_fs_mkdirs(parent, 0700) : 0;
		free(parent);
		if (ret < 0)
			return ret;
	}
	snprintf(comment, sizeof(comment), "dgrid node %s", node_id);
	dg_sshkey_generate(&fresh, comment);
	ret = dg_sshkey_save(&fresh, path);
	if (ret == 0)
		*key = fresh;
	else
		dg_sshkey_release(&fresh);
	return ret;
}

void dg_record_signer_set(const char *node_id, const struct dg_sshkey *key)
{
	signer_node = key ? node_id : NULL;
	signer_key = key;
}

const char *dg_record_signer(void)
{
	return signer_node;
}

/* What is signed: the domain, a NUL, the canonical form of doc without its signature. */
static char *signed_bytes(const json_t *doc, size_t *len)
{
	json_t *copy = json_copy((json_t *)doc);   /* shallow */
	char *canon, *out;
	size_t n;

	json_object_del(copy, DG_RECORD_SIG_KEY);
	canon = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	json_decref(copy);
	if (!canon)
		return NULL;
	n = strlen(canon);
	out = dg_xmalloc(sizeof(DOMAIN) + n);
	memcpy(out, DOMAIN, sizeof(DOMAIN));
	memcpy(out + sizeof(DOMAIN), canon, n);
	free(canon);
	*len = sizeof(DOMAIN) + n;
	return out;
}

void dg_record_sign(json_t *doc)
{
	unsigned char sig[crypto_sign_BYTES];
	char b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
	size_t len;
	char *data;

	if (!signer_key || !json_is_object(doc))
		return;
	data = signed_bytes(doc, &len);
	if (!data)
		return;
	crypto_sign_detached(sig, NULL, (const unsigned char *)data, len, signer_key->sk);
	free(data);
	sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
	json_object_set_new(doc, DG_RECORD_SIG_KEY, json_pack("{s:s, s:s}", "node", signer_node, "sig", b64));
}

void dg_record_seal(struct dg_strbuf *json)
{
	json_t *doc;

	if (!signer_key)
		return;
	doc = dg_json_load_object(json->buf, json->len);
	if (!doc)
		return;
	dg_record_sign(doc);
	dg_strbuf_reset(json);
	dg_json_dump(json, doc);
	json_decref(doc);
}

const char *dg_record_signed_by(const json_t *doc)
{
	return json_string_value(json_object_get(json_object_get(doc, DG_RECORD_SIG_KEY), "node"));
}

int dg_record_verify(const json_t *doc, const unsigned char pk[DG_SSH_ED25519_PK])
{
	const char *b64 = json_string_value(json_object_get(json_object_get(doc, DG_RECORD_SIG_KEY), "sig"));
	unsigned char sig[crypto_sign_BYTES];
	size_t sig_len = 0, len;
	char *data;
	int ret = DG_EINVALID;

	if (!b64) {
		dg_error_set("unsigned");
		return DG_EINVALID;
	}
	if (sodium_base642bin(sig, sizeof(sig), b64, strlen(b64), NULL, &sig_len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 || sig_len != sizeof(sig)) {
		dg_error_set("bad signature: not a base64 Ed25519 signature");
		return DG_EINVALID;
	}
	data = signed_bytes(doc, &len);
	if (data && crypto_sign_verify_detached(sig, (const unsigned char *)data, len, pk) == 0)
		ret = 0;
	else
		dg_error_set("bad signature: it does not match the record");
	free(data);
	return ret;
}
