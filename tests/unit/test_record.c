/*
 * Node keys and signed records (record.h) and the pins that judge them
 * (nodekeys.h): signatures that hold whatever the key order, fail on any
 * change; pins that outlive the process; forged, unverified and revoked.
 */
#include "common.h"
#include "error.h"
#include "jsonio.h"
#include "nodekeys.h"
#include "record.h"
#include "signers.h"
#include "sshsig.h"

#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static json_t *registration(const char *id, const struct dg_sshkey *key)
{
	struct dg_strbuf pub = DG_STRBUF_INIT;
	json_t *doc;

	dg_sshkey_format_public(&pub, key->pk);
	doc = json_pack("{s:s, s:s, s:i}", "node_id", id, "public_key", pub.buf, "slots", 2);
	dg_record_signer_set(id, key);
	dg_record_sign(doc);
	dg_record_signer_set(NULL, NULL);
	dg_strbuf_release(&pub);
	return doc;
}

static void test_sign_verify(void **state DG_UNUSED)
{
	struct dg_sshkey k, other;
	json_t *doc = json_pack("{s:s, s:i, s:s}", "task_id", "t1", "attempt", 1, "stdout", "h\xc3\xa9\n");
	json_t *reordered;
	struct dg_strbuf text = DG_STRBUF_INIT;

	dg_sshkey_generate(&k, "k");
	dg_sshkey_generate(&other, "o");
	dg_record_sign(doc);   /* no signer: nothing */
	assert_null(dg_record_signed_by(doc));
	assert_int_equal(dg_record_verify(doc, k.pk), DG_EINVALID);
	assert_string_equal(dg_error_last(), "unsigned");

	dg_record_signer_set("w1", &k);
	assert_string_equal(dg_record_signer(), "w1");
	dg_record_sign(doc);
	assert_string_equal(dg_record_signed_by(doc), "w1");
	assert_int_equal(dg_record_verify(doc, k.pk), 0);
	assert_int_equal(dg_record_verify(doc, other.pk), DG_EINVALID);

	/* the same object with its keys in another order, through text: still valid */
	reordered = json_pack("{s:s, s:O, s:i, s:s}", "stdout", "h\xc3\xa9\n", DG_RECORD_SIG_KEY,
			      json_object_get(doc, DG_RECORD_SIG_KEY), "attempt", 1, "task_id", "t1");
	assert_int_equal(dg_record_verify(reordered, k.pk), 0);
	/* any change of a field is caught */
	json_object_set_new(reordered, "attempt", json_integer(2));
	assert_int_equal(dg_record_verify(reordered, k.pk), DG_EINVALID);
	assert_non_null(strstr(dg_error_last(), "bad signature"));

	/* seal: text in, text out, signed */
	dg_strbuf_addstr(&text, "{\"task_id\": \"t2\", \"status\": \"success\"}\n");
	dg_record_seal(&text);
	json_decref(reordered);
	reordered = dg_json_load_object(text.buf, text.len);
	assert_non_null(reordered);
	assert_int_equal(dg_record_verify(reordered, k.pk), 0);
	dg_record_signer_set(NULL, NULL);

	json_decref(reordered);
	json_decref(doc);
	dg_strbuf_release(&text);
	dg_sshkey_release(&k);
	dg_sshkey_release(&other);
}

static void test_key_file(void **state DG_UNUSED)
{
	char dir[] = "/tmp/dgrid-record.XXXXXX";
	struct dg_strbuf path = DG_STRBUF_INIT, cmd = DG_STRBUF_INIT;
	struct dg_sshkey a = DG_SSHKEY_INIT, b = DG_SSHKEY_INIT;
	struct stat st;

	assert_non_null(mkdtemp(dir));
	dg_strbuf_addf(&path, "%s/deep/er/node.key", dir);
	assert_int_equal(dg_record_key_open(&a, path.buf, "w1"), 0);
	assert_int_equal(stat(path.buf, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* opened again: the same key, never a new one */
	assert_int_equal(dg_record_key_open(&b, path.buf, "w1"), 0);
	assert_memory_equal(a.pk, b.pk, DG_SSH_ED25519_PK);
	assert_int_equal(dg_sshkey_save(&a, path.buf), DG_ECONFLICT);
	/* OpenSSH reads it */
	dg_strbuf_addf(&cmd, "ssh-keygen -y -f '%s' >/dev/null 2>&1", path.buf);
	if (access("/usr/bin/ssh-keygen", X_OK) == 0)
		assert_int_equal(system(cmd.buf), 0);
	dg_sshkey_release(&a);
	dg_sshkey_release(&b);
	dg_strbuf_reset(&cmd);
	dg_strbuf_addf(&cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd.buf), 0);
	dg_strbuf_release(&path);
	dg_strbuf_release(&cmd);
}

static void test_pins_and_verdicts(void **state DG_UNUSED)
{
	char dir[] = "/tmp/dgrid-pins.XXXXXX";
	struct dg_strbuf pins = DG_STRBUF_INIT, why = DG_STRBUF_INIT, cmd = DG_STRBUF_INIT;
	struct dg_nodekeys *k = NULL;
	struct dg_sshkey w1, mallory;
	json_t *reg, *fake, *claim, *legacy;

	assert_non_null(mkdtemp(dir));
	dg_strbuf_addf(&pins, "%s/pins", dir);
	dg_sshkey_generate(&w1, "w1");
	dg_sshkey_generate(&mallory, "m");
	reg = registration("w1", &w1);
	fake = registration("w1", &mallory);

	assert_int_equal(dg_nodekeys_open(&k, pins.buf), 0);
	assert_int_equal(dg_nodekeys_learn(k, "w1", reg, NULL, &why), DG_VERDICT_VALID);
	assert_int_equal(dg_nodekeys_save(k), 0);
	dg_nodekeys_free(k);

	/* a new process: the pin came from the file, the rewritten registration is forged */
	assert_int_equal(dg_nodekeys_open(&k, pins.buf), 0);
	assert_int_equal(dg_nodekeys_learn(k, "w1", fake, NULL, &why), DG_VERDICT_FORGED);
	assert_non_null(strstr(why.buf, "w1 is pinned to key SHA256:"));

	/* records: by the pinned key valid; unsigned or by another key forged; keyless nodes unverified */
	claim = json_pack("{s:s, s:s}", "task_id", "t", "node_id", "w1");
	dg_strbuf_reset(&why);
	assert_int_equal(dg_nodekeys_judge(k, claim, "w1", &why), DG_VERDICT_FORGED);
	assert_string_equal(why.buf, "unsigned, but w1 signs its records");
	dg_record_signer_set("w1", &mallory);
	dg_record_sign(claim);
	dg_strbuf_reset(&why);
	assert_int_equal(dg_nodekeys_judge(k, claim, "w1", &why), DG_VERDICT_FORGED);
	dg_record_signer_set("w1", &w1);
	dg_record_sign(claim);
	assert_int_equal(dg_nodekeys_judge(k, claim, "w1", &why), DG_VERDICT_VALID);
	legacy = json_pack("{s:s, s:s}", "task_id", "t", "node_id", "old");
	assert_int_equal(dg_nodekeys_judge(k, legacy, "old", &why), DG_VERDICT_UNVERIFIED);
	/* a result a reaper (w1) wrote about another node's attempt */
	json_object_set_new(legacy, "status", json_string("abandoned"));
	dg_record_sign(legacy);
	assert_int_equal(dg_nodekeys_judge_result(k, legacy, &why), DG_VERDICT_VALID);
	dg_record_signer_set(NULL, NULL);

	dg_nodekeys_free(k);
	dg_strbuf_addf(&cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd.buf), 0);
	json_decref(reg);
	json_decref(fake);
	json_decref(claim);
	json_decref(legacy);
	dg_sshkey_release(&w1);
	dg_sshkey_release(&mallory);
	dg_strbuf_release(&pins);
	dg_strbuf_release(&why);
	dg_strbuf_release(&cmd);
}

static void test_revocation(void **state DG_UNUSED)
{
	struct dg_sshkey w1, w1new, admin, stranger;
	struct dg_strbuf why = DG_STRBUF_INIT, line = DG_STRBUF_INIT, rev = DG_STRBUF_INIT;
	struct dg_strbuf sig = DG_STRBUF_INIT, bad = DG_STRBUF_INIT;
	struct dg_signers signers = DG_SIGNERS_INIT;
	struct dg_nodekeys *k = NULL;
	char fp[DG_SSH_FINGERPRINT_LEN + 1];
	json_t *reg, *renew;

	dg_sshkey_generate(&w1, "w1");
	dg_sshkey_generate(&w1new, "w1new");
	dg_sshkey_generate(&admin, "admin");
	dg_sshkey_generate(&stranger, "s");
	dg_strbuf_addstr(&line, "admin namespaces=\"dgrid-revoke\" ");
	dg_sshkey_format_public(&line, admin.pk);
	assert_int_equal(dg_signers_parse(&signers, "t", line.buf, line.len), 0);
	reg = registration("w1", &w1);
	renew = registration("w1", &w1new);
	assert_int_equal(dg_nodekeys_open(&k, NULL), 0);
	dg_nodekeys_set_trust(k, &signers, 1);
	assert_int_equal(dg_nodekeys_learn(k, "w1", reg, NULL, &why), DG_VERDICT_VALID);

	dg_sshkey_fingerprint(fp, w1.pk);
	assert_int_equal(strlen(fp), DG_SSH_FINGERPRINT_LEN);
	dg_strbuf_addf(&rev, "{\"node_id\": \"w1\", \"key\": \"%s\"}\n", fp);
	/* signed by a key we do not trust: the pin stays */
	dg_sshsig_sign(&bad, &stranger, "dgrid-revoke", rev.buf, rev.len);
	{
		struct dg_signature_file f = { "bad.sig", bad.buf, bad.len };
		struct dg_revocation r = { rev.buf, rev.len, &f, 1 };

		dg_strbuf_reset(&why);
		assert_int_equal(dg_nodekeys_learn(k, "w1", renew, &r, &why), DG_VERDICT_FORGED);
		assert_non_null(strstr(why.buf, "not signed by 1 of our keys"));
	}
	/* signed by the admin: released, and the new key is pinned */
	dg_sshsig_sign(&sig, &admin, "dgrid-revoke", rev.buf, rev.len);
	{
		struct dg_signature_file f = { "admin.sig", sig.buf, sig.len };
		struct dg_revocation r = { rev.buf, rev.len, &f, 1 };

		assert_int_equal(dg_nodekeys_learn(k, "w1", renew, &r, &why), DG_VERDICT_VALID);
		assert_memory_equal(dg_nodekeys_pinned(k, "w1"), w1new.pk, DG_SSH_ED25519_PK);
		/* the revocation names the old key only: the old registration is now forged */
		dg_strbuf_reset(&why);
		assert_int_equal(dg_nodekeys_learn(k, "w1", reg, &r, &why), DG_VERDICT_FORGED);
	}
	dg_nodekeys_free(k);
	dg_signers_release(&signers);
	json_decref(reg);
	json_decref(renew);
	dg_sshkey_release(&w1);
	dg_sshkey_release(&w1new);
	dg_sshkey_release(&admin);
	dg_sshkey_release(&stranger);
	dg_strbuf_release(&why);
	dg_strbuf_release(&line);
	dg_strbuf_release(&rev);
	dg_strbuf_release(&sig);
	dg_strbuf_release(&bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_pins_and_verdicts),
		cmocka_unit_test(test_revocation),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
