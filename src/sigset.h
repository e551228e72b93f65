/*
 * sigset.h - the signatures of a file in the repository (doc/trust.md):
 * F.sig, as `ssh-keygen -Y sign` names it, and F.sigs/NAME.sig, one per
 * signer when several must sign (a quorum). At most DG_SIGSET_MAX are
 * read, each at most DG_TASKSIGN_MAX bytes; others are skipped.
 *
 * Ownership: dg_sigset_read fills a caller-owned set (zeroed before the
 * first use); dg_sigset_release frees what it holds. files[] points into
 * the set.
 */
#ifndef DG_SIGSET_H
#define DG_SIGSET_H

#include "common.h"
#include "signers.h"
#include "store.h"
#include "strbuf.h"

#define DG_SIGSET_MAX 32

struct dg_sigset {
	struct dg_strbuf text[DG_SIGSET_MAX];
	char *names[DG_SIGSET_MAX];
	struct dg_signature_file files[DG_SIGSET_MAX];
	size_t nr;
	struct dg_txn *txn;
};

/* The signatures of file as the transaction sees them. */
int dg_sigset_read(struct dg_sigset *set, struct dg_txn *txn, const char *file);
void dg_sigset_release(struct dg_sigset *set);

#endif
