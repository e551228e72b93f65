/*
 * signers.h - who may sign the tasks a worker runs: an OpenSSH
 * allowed_signers file (ssh-keygen(1), "ALLOWED SIGNERS"), the one
 * `ssh-keygen -Y verify -f` reads, so an operator keeps one list for both.
 *
 *   # principals [options] keytype base64-key [comment]
 *   alice@example.com ssh-ed25519 AAAAC3Nza... alice's laptop
 *   ci,builds namespaces="dgrid-task",valid-before="20270101Z" ssh-ed25519 AAAA...
 *
 * Honoured: principals (a comma-separated list, recorded as the signer's
 * name), namespaces="pattern-list" (with * ? and !negation), and
 * valid-after / valid-before ("YYYYMMDD[HHMM[SS]]", UTC with a trailing
 * "Z", else local time, as ssh-keygen reads them), judged against this
 * machine's clock when a task starts. Lines of other key types (ssh-rsa,
 * ecdsa-*, sk-*) and cert-authority lines are skipped and counted: dgrid
 * verifies plain ssh-ed25519 keys only. Anything else malformed fails the
 * whole load with "FILE:LINE: reason": a worker must not run with half of
 * the list its operator wrote.
 *
 * Ownership: dg_signers_load fills a caller-owned struct; release it with
 * dg_signers_release. Lookups return borrowed pointers.
 */
#ifndef DG_SIGNERS_H
#define DG_SIGNERS_H

#include "common.h"
#include "sshsig.h"

struct dg_signer {
	char *principals;                        /* as written: "alice@example.com,bob" */
	unsigned char pk[DG_SSH_ED25519_PK];
	char *namespaces;                        /* NULL: every namespace */
	int64_t valid_after;                     /* unix seconds; INT64_MIN: no bound */
	int64_t valid_before;                    /* INT64_MAX: no bound */
	unsigned line;
};

struct dg_signers {
	char *path;
	struct dg_signer *v;
	size_t nr, alloc;
	unsigned skipped;                        /* lines of key types dgrid cannot verify */
	char skipped_first[96];                  /* why the first was skipped, for a log line */
};

#define DG_SIGNERS_INIT { NULL, NULL, 0, 0, 0, "" }

/* Reads an allowed_signers file; DG_EINVALID with "PATH:LINE: reason". */
int dg_signers_load(struct dg_signers *signers, const char *path);
/* The same from text in memory; name is used in messages. */
int dg_signers_parse(struct dg_signers *signers, const char *name, const char *text, size_t len);
void dg_signers_release(struct dg_signers *signers);

/*
 * Is key pk allowed to sign in namespace ns at time now? Returns 0 and the
 * matching line in *who, or DG_EINVALID with the reason: "key SHA256:x is
 * not in the allowed signers", "key SHA256:x (alice) may not sign
 * 'dgrid-task'", "key SHA256:x (alice) expired on 2026-01-01T00:00:00Z",
 * "... is not valid before ...".
 */
int dg_signers_check(const struct dg_signers *signers, const unsigned char pk[DG_SSH_ED25519_PK],
		     const char *ns, int64_t now, const struct dg_signer **who);

/*
 * Merges: appends copies of src's lines to dst (a worker's own list and the
 * repository's signed one, tasksign.h).
 */
void dg_signers_append(struct dg_signers *dst, const struct dg_signers *src);

/* One armored signature file and its name, for messages. */
struct dg_signature_file {
	const char *name;
	const char *armor;
	size_t len;
};

/*
 * A quorum (doc/trust.md, "Signed lists and policy"): how many distinct
 * keys of signers made valid signatures over data in namespace ns among
 * sigs[0..n). A signature that does not count adds "NAME: reason; " to
 * why; a key that signed twice counts once.
 */
unsigned dg_signers_count(const struct dg_signers *signers, const char *ns, const void *data,
			  size_t len, const struct dg_signature_file *sigs, size_t n, int64_t now,
			  struct dg_strbuf *why);

#endif
