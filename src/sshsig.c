/*
 * sshsig.c - OpenSSH signatures and keys (sshsig.h): SSH wire encoding
 * (RFC 4251 uint32 and string), the SSHSIG blob, armor, and the
 * openssh-key-v1 private key file.
 */
#include "error.h"
#include "sshsig.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#define ARMOR_BEGIN "-----BEGIN SSH SIGNATURE-----"
#define ARMOR_END "-----END SSH SIGNATURE-----"
#define ARMOR_WIDTH 70
#define KEY_BEGIN "-----BEGIN OPENSSH PRIVATE KEY-----"
#define KEY_END "-----END OPENSSH PRIVATE KEY-----"
#define KEY_FILE_MAX (64 << 10)
#define MAGIC "SSHSIG"
#define MAGIC_LEN 6
#define KEY_MAGIC "openssh-key-v1"   /* followed by a NUL */
#define ED25519 "ssh-ed25519"

/* A cursor over untrusted SSH wire data. */
struct rd {
	const unsigned char *p;
	size_t n;
};

static bool get_u32(struct rd *r, uint32_t *v)
{
	if (r->n < 4)
		return false;
	*v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	r->n -= 4;
	return true;
}

static bool get_string(struct rd *r, struct rd *s)
{
	uint32_t len;

	if (!get_u32(r, &len) || len > r->n)
		return false;
	s->p = r->p;
	s->n = len;
	r->p += len;
	r->n -= len;
	return true;
}

static bool string_is(const struct rd *s, const char *want)
{
	return s->n == strlen(want) && !memcmp(s->p, want, s->n);
}

static void put_u32(struct dg_strbuf *b, uint32_t v)
{
	unsigned char c[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
			       (unsigned char)(v >> 8), (unsigned char)v };

	dg_strbuf_add(b, c, 4);
}

static void put_string(struct dg_strbuf *b, const void *data, size_t len)
{
	put_u32(b, (uint32_t)len);
	dg_strbuf_add(b, data, len);
}

static void put_cstring(struct dg_strbuf *b, const char *s)
{
	put_string(b, s, strlen(s));
}

/* A printable copy of a short wire string, for messages. */
static void quote(char *out, size_t size, const struct rd *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n && n + 1 < size; i++)
		out[n++] = s->p[i] >= 0x20 && s->p[i] < 0x7f ? (char)s->p[i] : '?';
	out[n] = '\0';
}

/* The public key blob: string "ssh-ed25519" || string(pk). */
static void key_blob(struct dg_strbuf *b, const unsigned char pk[DG_SSH_ED25519_PK])
{
	put_cstring(b, ED25519);
	put_string(b, pk, DG_SSH_ED25519_PK);
}

static int read_key_blob(unsigned char pk[DG_SSH_ED25519_PK], struct rd blob)
{
	struct rd type, key;
	char name[40];

	if (!get_string(&blob, &type)) {
		dg_error_set("truncated public key");
		return DG_EINVALID;
	}
	if (!string_is(&type, ED25519)) {
		quote(name, sizeof(name), &type);
		dg_error_set("key type '%s' is not supported (dgrid verifies ssh-ed25519 keys only)", name);
		return DG_EINVALID;
	}
	if (!get_string(&blob, &key) || key.n != DG_SSH_ED25519_PK || blob.n) {
		dg_error_set("malformed ssh-ed25519 public key");
		return DG_EINVALID;
	}
	memcpy(pk, key.p, DG_SSH_ED25519_PK);
	return 0;
}

/* Decodes base64 (line breaks and spaces ignored) into out. */
static int unbase64(struct dg_strbuf *out, const char *b64, size_t len, const char *what)
{
	size_t bin_len = 0;

	dg_strbuf_reset(out);
	dg_strbuf_grow(out, len / 4 * 3 + 3);
	if (sodium_base642bin((unsigned char *)out->buf, len / 4 * 3 + 3, b64, len, " \t\r\n",
			      &bin_len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
		dg_error_set("%s is not valid base64", what);
		return DG_EINVALID;
	}
	dg_strbuf_setlen(out, bin_len);
	return 0;
}

/* The base64 between an armor's BEGIN and END lines. */
static int unarmor(struct dg_strbuf *out, const char *text, size_t len, const char *begin,
		   const char *end, const char *what)
{
	const char *b = len ? memmem(text, len, begin, strlen(begin)) : NULL, *e;

	if (!b) {
		dg_error_set("not %s: no '%s' line", what, begin);
		return DG_EINVALID;
	}
	b += strlen(begin);
	e = memmem(b, len - (size_t)(b - text), end, strlen(end));
	if (!e) {
		dg_error_set("%s is cut short: no '%s' line", what, end);
		return DG_EINVALID;
	}
	return unbase64(out, b, (size_t)(e - b), what);
}

int dg_sshsig_parse(struct dg_sshsig *sig, const char *armor, size_t len)
{
	struct dg_strbuf bin = DG_STRBUF_INIT;
	struct dg_sshsig s;
	struct rd r, pk, ns, reserved, hash, sigblob, type, raw;
	uint32_t version;
	char name[40];
	int ret = DG_EINVALID;

	memset(&s, 0, sizeof(s));
	if ((ret = unarmor(&bin, armor, len, ARMOR_BEGIN, ARMOR_END, "an SSH signature")) < 0)
		goto out;
	ret = DG_EINVALID;
	r.p = (const unsigned char *)bin.buf;
	r.n = bin.len;
	if (r.n < MAGIC_LEN || memcmp(r.p, MAGIC, MAGIC_LEN)) {
		dg_error_set("not an SSH signature: no SSHSIG magic");
		goto out;
	}
	r.p += MAGIC_LEN;
	r.n -= MAGIC_LEN;
	if (!get_u32(&r, &version) || !get_string(&r, &pk) || !get_string(&r, &ns) ||
	    !get_string(&r, &reserved) || !get_string(&r, &hash) || !get_string(&r, &sigblob)) {
		dg_error_set("truncated SSH signature");
		goto out;
	}
	if (version != 1) {
		dg_error_set("SSH signature version %u is not supported (only 1)", (unsigned)version);
		goto out;
	}
	if (read_key_blob(s.pk, pk) < 0) {
		dg_error_prefix("signing key");
		goto out;
	}
	if (ns.n == 0 || ns.n >= sizeof(s.namespace) || memchr(ns.p, '\0', ns.n)) {
		dg_error_set("SSH signature has an empty or overlong namespace");
		goto out;
	}
	memcpy(s.namespace, ns.p, ns.n);
	if (!string_is(&hash, "sha512") && !string_is(&hash, "sha256")) {
		quote(name, sizeof(name), &hash);
		dg_error_set("SSH signature uses hash '%s' (only sha256 and sha512 exist)", name);
		goto out;
	}
	memcpy(s.hash, hash.p, hash.n);
	if (!get_string(&sigblob, &type) || !string_is(&type, ED25519) || !get_string(&sigblob, &raw) ||
	    raw.n != DG_SSH_ED25519_SIG || sigblob.n) {
		dg_error_set("malformed ssh-ed25519 signature");
		goto out;
	}
	memcpy(s.sig, raw.p, DG_SSH_ED25519_SIG);
	*sig = s;
	ret = 0;
out:
	dg_strbuf_release(&bin);
	return ret;
}

/* What the key signs: the SSHSIG preamble, namespace, hash name and H(message). */
static void signed_data(struct dg_strbuf *out, const char *ns, const char *hash,
			const void *message, size_t len)
{
	unsigned char h[crypto_hash_sha512_BYTES];
	size_t hlen;

	if (!strcmp(hash, "sha256")) {
		crypto_hash_sha256(h, message, len);
		hlen = crypto_hash_sha256_BYTES;
	} else {
		crypto_hash_sha512(h, message, len);
		hlen = crypto_hash_sha512_BYTES;
	}
	dg_strbuf_add(out, MAGIC, MAGIC_LEN);
	put_cstring(out, ns);
	put_string(out, "", 0);
	put_cstring(out, hash);
	put_string(out, h, hlen);
}

int dg_sshsig_verify(const struct dg_sshsig *sig, const char *ns, const void *message, size_t len)
{
	struct dg_strbuf data = DG_STRBUF_INIT;
	int ret = DG_EINVALID;

	if (strcmp(sig->namespace, ns)) {
		dg_error_set("signature is for namespace '%s', not '%s'", sig->namespace, ns);
		goto out;
	}
	signed_data(&data, ns, sig->hash, message, len);
	if (crypto_sign_verify_detached(sig->sig, (const unsigned char *)data.buf, data.len, sig->pk)) {
		dg_error_set("signature does not match the signed bytes");
		goto out;
	}
	ret = 0;
out:
	dg_strbuf_release(&data);
	return ret;
}

void dg_sshsig_sign(struct dg_strbuf *armor, const struct dg_sshkey *key, const char *ns,
		    const void *message, size_t len)
{
	struct dg_strbuf data = DG_STRBUF_INIT, blob = DG_STRBUF_INIT, sigblob = DG_STRBUF_INIT;
	unsigned char sig[DG_SSH_ED25519_SIG];
	char *b64;
	size_t b64_len;

	signed_data(&data, ns, "sha512", message, len);
	crypto_sign_detached(sig, NULL, (const unsigned char *)data.buf, data.len, key->sk);
	put_cstring(&sigblob, ED25519);
	put_string(&sigblob, sig, sizeof(sig));

	dg_strbuf_add(&blob, MAGIC, MAGIC_LEN);
	put_u32(&blob, 1);
	dg_strbuf_reset(&data);
	key_blob(&data, key->pk);
	put_string(&blob, data.buf, data.len);
	put_cstring(&blob, ns);
	put_string(&blob, "", 0);
	put_cstring(&blob, "sha512");
	put_string(&blob, sigblob.buf, sigblob.len);

	b64_len = sodium_base64_ENCODED_LEN(blob.len, sodium_base64_VARIANT_ORIGINAL);
	b64 = dg_xmalloc(b64_len);
	sodium_bin2base64(b64, b64_len, (const unsigned char *)blob.buf, blob.len,
			  sodium_base64_VARIANT_ORIGINAL);
	dg_strbuf_addstr(armor, ARMOR_BEGIN "\n");
	for (size_t i = 0, n = strlen(b64); i < n; i += ARMOR_WIDTH)
		dg_strbuf_addf(armor, "%.*s\n", ARMOR_WIDTH, b64 + i);
	dg_strbuf_addstr(armor, ARMOR_END "\n");
	free(b64);
	dg_strbuf_release(&data);
	dg_strbuf_release(&blob);
	dg_strbuf_release(&sigblob);
}

int dg_sshkey_parse_public(unsigned char pk[DG_SSH_ED25519_PK], const char *type, const char *b64)
{
	struct dg_strbuf bin = DG_STRBUF_INIT;
	struct rd r;
	int ret;

	if (strcmp(type, ED25519)) {
		dg_error_set("key type '%.40s' is not supported (dgrid verifies ssh-ed25519 keys only)", type);
		return DG_EINVALID;
	}
	if ((ret = unbase64(&bin, b64, strlen(b64), "the public key")) == 0) {
		r.p = (const unsigned char *)bin.buf;
		r.n = bin.len;
		ret = read_key_blob(pk, r);
	}
	dg_strbuf_release(&bin);
	return ret;
}

int dg_sshkey_parse_text(unsigned char pk[DG_SSH_ED25519_PK], const char *text)
{
	const char *sp = text ? strchr(text, ' ') : NULL;
	char type[32];

	if (!sp || (size_t)(sp - text) >= sizeof(type)) {
		dg_error_set("not a public key 'TYPE BASE64'");
		return DG_EINVALID;
	}
	memcpy(type, text, (size_t)(sp - text));
	type[sp - text] = '\0';
	return dg_sshkey_parse_public(pk, type, sp + 1);
}

void dg_sshkey_fingerprint(char out[DG_SSH_FINGERPRINT_LEN + 1], const unsigned char pk[DG_SSH_ED25519_PK])
{
	struct dg_strbuf blob = DG_STRBUF_INIT;
	unsigned char h[crypto_hash_sha256_BYTES];
	char b64[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES, sodium_base64_VARIANT_ORIGINAL_NO_PADDING)];

	key_blob(&blob, pk);
	crypto_hash_sha256(h, (const unsigned char *)blob.buf, blob.len);
	sodium_bin2base64(b64, sizeof(b64), h, sizeof(h), sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	snprintf(out, DG_SSH_FINGERPRINT_LEN + 1, "SHA256:%s", b64);
	dg_strbuf_release(&blob);
}

void dg_sshkey_format_public(struct dg_strbuf *out, const unsigned char pk[DG_SSH_ED25519_PK])
{
	struct dg_strbuf blob = DG_STRBUF_INIT;
	size_t n;
	char *b64;

	key_blob(&blob, pk);
	n = sodium_base64_ENCODED_LEN(blob.len, sodium_base64_VARIANT_ORIGINAL);
	b64 = dg_xmalloc(n);
	sodium_bin2base64(b64, n, (const unsigned char *)blob.buf, blob.len, sodium_base64_VARIANT_ORIGINAL);
	dg_strbuf_addf(out, ED25519 " %s", b64);
	free(b64);
	dg_strbuf_release(&blob);
}

/*
 * The private section of an unencrypted openssh-key-v1 file: two equal
 * check words, then string type, string pk, string (seed || pk), string
 * comment, then padding 1, 2, 3...
 */
static int read_private(struct dg_sshkey *key, struct rd r)
{
	uint32_t check1, check2;
	struct rd type, pk, sk, comment;

	if (!get_u32(&r, &check1) || !get_u32(&r, &check2) || check1 != check2) {
		dg_error_set("malformed private key section");
		return DG_EINVALID;
	}
	if (!get_string(&r, &type)) {
		dg_error_set("malformed private key section");
		return DG_EINVALID;
	}
	if (!string_is(&type, ED25519)) {
		char name[40];

		quote(name, sizeof(name), &type);
		dg_error_set("key type '%s' is not supported (dgrid signs with ssh-ed25519 keys only; "
			     "use ssh-keygen -Y sign -n " DG_SSHSIG_TASK_NAMESPACE ")", name);
		return DG_EINVALID;
	}
	if (!get_string(&r, &pk) || pk.n != DG_SSH_ED25519_PK || !get_string(&r, &sk) ||
	    sk.n != crypto_sign_SECRETKEYBYTES || memcmp(sk.p + 32, pk.p, DG_SSH_ED25519_PK) ||
	    !get_string(&r, &comment)) {
		dg_error_set("malformed ssh-ed25519 private key");
		return DG_EINVALID;
	}
	for (size_t i = 0; i < r.n; i++) {
		if (r.p[i] != (unsigned char)(i + 1)) {
			dg_error_set("malformed private key padding");
			return DG_EINVALID;
		}
	}
	memcpy(key->pk, pk.p, DG_SSH_ED25519_PK);
	key->sk = dg_xmalloc(crypto_sign_SECRETKEYBYTES);
	memcpy(key->sk, sk.p, crypto_sign_SECRETKEYBYTES);
	key->comment = dg_xstrndup((const char *)comment.p, comment.n);
	return 0;
}

int dg_sshkey_load(struct dg_sshkey *key, const char *path)
{
	struct dg_strbuf text = DG_STRBUF_INIT, bin = DG_STRBUF_INIT;
	struct dg_sshkey k = DG_SSHKEY_INIT;
	struct rd r, cipher, kdf, kdfopts, pub, priv;
	uint32_t nkeys;
	int ret;

	if ((ret = dg_strbuf_read_file(&text, path, KEY_FILE_MAX)) < 0)
		goto out_read;   /* the message names the file */
	if ((ret = unarmor(&bin, text.buf, text.len, KEY_BEGIN, KEY_END, "an OpenSSH private key")) < 0)
		goto out;
	ret = DG_EINVALID;
	r.p = (const unsigned char *)bin.buf;
	r.n = bin.len;
	if (r.n < sizeof(KEY_MAGIC) || memcmp(r.p, KEY_MAGIC, sizeof(KEY_MAGIC))) {
		dg_error_set("not an OpenSSH private key: no openssh-key-v1 magic");
		goto out;
	}
	r.p += sizeof(KEY_MAGIC);
	r.n -= sizeof(KEY_MAGIC);
	if (!get_string(&r, &cipher) || !get_string(&r, &kdf) || !get_string(&r, &kdfopts) ||
	    !get_u32(&r, &nkeys) || !get_string(&r, &pub) || !get_string(&r, &priv)) {
		dg_error_set("truncated OpenSSH private key");
		goto out;
	}
	if (!string_is(&cipher, "none")) {
		dg_error_set("the key is protected by a passphrase, and dgrid reads unencrypted keys only; "
			     "sign with: ssh-keygen -Y sign -f KEY -n " DG_SSHSIG_TASK_NAMESPACE " FILE");
		goto out;
	}
	if (nkeys != 1) {
		dg_error_set("the file holds %u keys; dgrid reads files of one key", (unsigned)nkeys);
		goto out;
	}
	if ((ret = read_private(&k, priv)) < 0)
		goto out;
	*key = k;
	k = (struct dg_sshkey)DG_SSHKEY_INIT;
out:
	if (ret < 0)
		dg_error_prefix("'%s'", path);
out_read:
	dg_sshkey_release(&k);
	sodium_memzero(text.buf, text.len);
	sodium_memzero(bin.buf, bin.len);
	dg_strbuf_release(&text);
	dg_strbuf_release(&bin);
	return ret;
}

void dg_sshkey_generate(struct dg_sshkey *key, const char *comment)
{
	*key = (struct dg_sshkey)DG_SSHKEY_INIT;
	key->sk = dg_xmalloc(crypto_sign_SECRETKEYBYTES);
	crypto_sign_keypair(key->pk, key->sk);
	key->comment = dg_xstrdup(comment ? comment : "");
}

int dg_sshkey_save(const struct dg_sshkey *key, const char *path)
{
	struct dg_strbuf priv = DG_STRBUF_INIT, bin = DG_STRBUF_INIT, text = DG_STRBUF_INIT;
	struct dg_strbuf tmp = DG_STRBUF_INIT;
	uint32_t check = randombytes_random();
	size_t n;
	char *b64;
	int fd = -1, ret = DG_ERROR;

	/* the private section: check words, the key, the comment, padding to 8 */
	put_u32(&priv, check);
	put_u32(&priv, check);
	key_blob(&priv, key->pk);
	put_string(&priv, key->sk, crypto_sign_SECRETKEYBYTES);
	put_cstring(&priv, key->comment ? key->comment : "");
	for (unsigned char pad = 1; priv.len % 8; pad++)
		dg_strbuf_addch(&priv, pad);

	dg_strbuf_add(&bin, KEY_MAGIC, sizeof(KEY_MAGIC));
	put_cstring(&bin, "none");
	put_cstring(&bin, "none");
	put_string(&bin, "", 0);
	put_u32(&bin, 1);
	dg_strbuf_reset(&text);
	key_blob(&text, key->pk);
	put_string(&bin, text.buf, text.len);
	put_string(&bin, priv.buf, priv.len);

	n = sodium_base64_ENCODED_LEN(bin.len, sodium_base64_VARIANT_ORIGINAL);
	b64 = dg_xmalloc(n);
	sodium_bin2base64(b64, n, (const unsigned char *)bin.buf, bin.len, sodium_base64_VARIANT_ORIGINAL);
	dg_strbuf_reset(&text);
	dg_strbuf_addstr(&text, KEY_BEGIN "\n");
	for (size_t i = 0, len = strlen(b64); i < len; i += ARMOR_WIDTH)
		dg_strbuf_addf(&text, "%.*s\n", ARMOR_WIDTH, b64 + i);
	dg_strbuf_addstr(&text, KEY_END "\n");
	sodium_memzero(b64, n);
	free(b64);

	if (access(path, F_OK) == 0) {
		dg_error_set("'%s' exists already: a node's key is never replaced", path);
		ret = DG_ECONFLICT;
		goto out;
	}
	dg_strbuf_addf(&tmp, "%s.tmp-%d", path, (int)getpid());
	fd = open(tmp.buf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text.buf, text.len) != (ssize_t)text.len || fsync(fd) < 0 ||
	    close(fd) < 0 || (fd = -1, link(tmp.buf, path) < 0)) {
		dg_error_set("cannot write the key '%s': %s", path, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp.len)
		unlink(tmp.buf);
	sodium_memzero(priv.buf, priv.len);
	sodium_memzero(bin.buf, bin.len);
	sodium_memzero(text.buf, text.len);
	dg_strbuf_release(&priv);
	dg_strbuf_release(&bin);
	dg_strbuf_release(&text);
	dg_strbuf_release(&tmp);
	return ret;
}

void dg_sshkey_release(struct dg_sshkey *key)
{
	if (key->sk)
		sodium_memzero(key->sk, crypto_sign_SECRETKEYBYTES);
	free(key->sk);
	free(key->comment);
	*key = (struct dg_sshkey)DG_SSHKEY_INIT;
}
