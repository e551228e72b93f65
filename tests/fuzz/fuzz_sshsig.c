/*
 * fuzz_sshsig.c - libFuzzer target for what signed tasks read from the
 * repository: armored SSH signatures, allowed_signers files, public keys
 * and a task's "signed" envelope. Every input goes to every parser; what
 * parses is used as its callers use it.
 */
#include "common.h"
#include "signers.h"
#include "sshsig.h"
#include "strbuf.h"
#include "task.h"
#include "tasksign.h"

/* 2026-01-02T00:00:00Z: a fixed clock, so that a crash replays */
#define NOW INT64_C(1767312000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_signers(const char *buf, size_t size)
{
	struct dg_signers signers = DG_SIGNERS_INIT;
	const struct dg_signer *who;

	if (dg_signers_parse(&signers, "fuzz", buf, size) < 0)
		return;
	for (size_t i = 0; i < signers.nr; i++) {
		const struct dg_signer *sg = &signers.v[i];

		if (!sg->principals || !sg->line || (i && sg->line <= signers.v[i - 1].line))
			abort();
		/* a listed key is found, or refused for a reason of its own line */
		who = NULL;
		if (dg_signers_check(&signers, sg->pk, DG_SSHSIG_TASK_NAMESPACE, NOW, &who) == 0 &&
		    memcmp(who->pk, sg->pk, DG_SSH_ED25519_PK))
			abort();
		/* and judged at the bounds of its line, in another namespace */
		if (sg->valid_after != INT64_MIN)
			(void)dg_signers_check(&signers, sg->pk, "git", sg->valid_after, &who);
		if (sg->valid_before != INT64_MAX)
			(void)dg_signers_check(&signers, sg->pk, "git", sg->valid_before, &who);
	}
	dg_signers_release(&signers);
}

/* "TYPE BASE64" as a key line has it. */
static void fuzz_public_key(const char *buf, size_t size)
{
	struct dg_strbuf text = DG_STRBUF_INIT, back = DG_STRBUF_INIT;
	unsigned char pk[DG_SSH_ED25519_PK], again[DG_SSH_ED25519_PK];
	char *sp;

	dg_strbuf_add(&text, buf, size);
	sp = strchr(text.buf, ' ');
	if (sp) {
		*sp = '\0';
		if (dg_sshkey_parse_public(pk, text.buf, sp + 1) == 0) {
			dg_sshkey_format_public(&back, pk);
			if (dg_sshkey_parse_public(again, "ssh-ed25519", back.buf + 12) != 0 ||
			    memcmp(pk, again, sizeof(pk)))
				abort();
		}
	}
	dg_strbuf_release(&text);
	dg_strbuf_release(&back);
}

static void fuzz_envelope(const char *buf, size_t size)
{
	struct dg_task task = DG_TASK_INIT;
	struct dg_tasksign_verdict v = DG_TASKSIGN_VERDICT_INIT;

	if (dg_task_parse(&task, buf, size, NULL, &dg_policy_loosest) < 0)
		return;
	if (dg_tasksign_verify(&v, &task, NULL, NOW) == 0)
		dg_tasksign_verdict_release(&v);
	dg_task_release(&task);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct dg_sshsig sig;

	if (dg_sshsig_parse(&sig, buf, size) == 0) {
		if (!sig.namespace[0] || (strcmp(sig.hash, "sha256") && strcmp(sig.hash, "sha512")))
			abort();
		(void)dg_sshsig_verify(&sig, sig.namespace, buf, size);
		(void)dg_sshsig_verify(&sig, DG_SSHSIG_TASK_NAMESPACE, buf, size);
	}
	fuzz_signers(buf, size);
	fuzz_public_key(buf, size);
	fuzz_envelope(buf, size);
	return 0;
}
