/*
 * worker_trust.c - which tasks this worker agrees to run: its allowed
 * signers, the repository's signers list when a quorum of those signed
 * it, the grid's "require_signed" and, with --signed-policy, whether
 * dgrid.json is signed; and the check made just before every start
 * (worker_int.h, tasksign.h, doc/trust.md).
 */
#include "error.h"
#include "log.h"
#include "sigset.h"
#include "worker_int.h"

#include <sodium.h>
#include <sys/stat.h>

#define TRUST_LIST "trust/allowed_signers"
#define NS_SIGNERS "dgrid-signers"
#define NS_POLICY "dgrid-policy"

/* Has the file or any of its signatures changed since we last judged them? */
static bool changed(unsigned char seen[32], const struct dg_strbuf *data, const struct dg_sigset *set)
{
	crypto_generichash_state st;
	unsigned char h[32];

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)(data ? data->buf : ""), data ? data->len + 1 : 0);
	for (size_t i = 0; i < set->nr; i++) {
		crypto_generichash_update(&st, (const unsigned char *)set->names[i], strlen(set->names[i]) + 1);
		crypto_generichash_update(&st, (const unsigned char *)set->files[i].armor, set->files[i].len + 1);
	}
	crypto_generichash_final(&st, h, sizeof(h));
	if (!memcmp(h, seen, sizeof(h)))
		return false;
	memcpy(seen, h, sizeof(h));
	return true;
}

/* Do at least trust_quorum of our own keys vouch for data (namespace ns)? */
static bool quorum(struct worker *w, const char *ns, const struct dg_strbuf *data,
		   const struct dg_sigset *set, struct dg_strbuf *why)
{
	unsigned need = w->opts->trust_quorum ? w->opts->trust_quorum : 1;
	struct dg_strbuf details = DG_STRBUF_INIT;
	unsigned got = dg_signers_count(&w->signers, ns, data->buf, data->len, set->files, set->nr,
					dg_wall_ms() / 1000, &details);

	dg_strbuf_reset(why);
	dg_strbuf_addf(why, "signed by %u of the %u keys of ours required", got, need);
	if (!set->nr)
		dg_strbuf_addstr(why, " (no signature files)");
	if (details.len) {
		dg_strbuf_setlen(&details, details.len - 2);   /* the last "; " */
		dg_strbuf_addf(why, "; %s", details.buf);
	}
	dg_strbuf_release(&details);
	return got >= need;
}

/* trust/allowed_signers: its lines count beside ours when a quorum of ours signed it. */
static void judge_list(struct worker *w, struct dg_txn *txn)
{
	struct dg_strbuf list = DG_STRBUF_INIT, why = DG_STRBUF_INIT;
	struct dg_signers fresh = DG_SIGNERS_INIT;
	struct dg_sigset set;
	bool present = dg_txn_read(txn, TRUST_LIST, &list) == 0;

	memset(&set, 0, sizeof(set));
	if (present)
		dg_sigset_read(&set, txn, TRUST_LIST);
	if (!changed(w->repo_trust_seen, present ? &list : NULL, &set))
		goto out;
	dg_signers_release(&w->repo_signers);
	if (!present) {
		dg_log(DG_LOG_INFO, "node=%s event=trust-list-none file=" TRUST_LIST, w->me);
	} else if (!quorum(w, NS_SIGNERS, &list, &set, &why)) {
		dg_log(DG_LOG_WARNING, "node=%s event=trust-list-ignored file=" TRUST_LIST " reason=\"%s\"",
		       w->me, why.buf);
	} else if (dg_signers_parse(&fresh, TRUST_LIST, list.buf, list.len) < 0) {
		dg_log(DG_LOG_WARNING, "node=%s event=trust-list-ignored reason=\"%s\"", w->me, dg_error_last());
	} else {
		w->repo_signers = fresh;
		dg_log(DG_LOG_INFO, "node=%s event=trust-list-accepted file=" TRUST_LIST " keys=%zu note=\"%s\"",
		       w->me, fresh.nr, why.buf);
	}
out:
	dg_sigset_release(&set);
	dg_strbuf_release(&list);
	dg_strbuf_release(&why);
}

/* --signed-policy: dgrid.json counts when a quorum of ours signed it (a grid without one has ours). */
static void judge_policy(struct worker *w, struct dg_txn *txn, const struct dg_strbuf *policy)
{
	struct dg_strbuf why = DG_STRBUF_INIT;
	struct dg_sigset set;

	memset(&set, 0, sizeof(set));
	if (policy)
		dg_sigset_read(&set, txn, "dgrid.json");
	if (!changed(w->policy_seen, policy, &set))
		goto out;
	w->policy_trusted = !policy || quorum(w, NS_POLICY, policy, &set, &why);
	if (!w->policy_trusted)
		dg_log(DG_LOG_WARNING, "node=%s event=policy-unsigned reason=\"dgrid.json is %s\" "
		       "note=\"claiming nothing until it is signed (--signed-policy)\"", w->me, why.buf);
	else if (policy)
		dg_log(DG_LOG_INFO, "node=%s event=policy-signed note=\"%s\"", w->me, why.buf);
out:
	dg_sigset_release(&set);
	dg_strbuf_release(&why);
}

int dg_worker_trust_refresh(struct worker *w, struct dg_txn *txn, const struct dg_strbuf *policy)
{
	if (!w->opts->allowed_signers)
		return 0;
	judge_list(w, txn);
	if (w->opts->signed_policy)
		judge_policy(w, txn, policy);
	return 0;
}

static int64_t mtime_ns(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -1;
	return (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

static void log_loaded(const struct worker *w)
{
	dg_log(DG_LOG_INFO, "node=%s event=allowed-signers file=\"%s\" keys=%zu skipped=%u%s%s%s", w->me,
	       w->signers.path, w->signers.nr, w->signers.skipped, w->signers.skipped ? " first_skipped=\"" : "",
	       w->signers.skipped_first, w->signers.skipped ? "\"" : "");
}

int dg_worker_trust_init(struct worker *w)
{
	const char *path = w->opts->allowed_signers;

	if (!path)
		return 0;
	w->signers_mtime_ns = mtime_ns(path);
	if (dg_signers_load(&w->signers, path) < 0) {
		dg_error_prefix("--allowed-signers");
		return DG_EINVALID;
	}
	log_loaded(w);
	if (!w->signers.nr)
		dg_log(DG_LOG_WARNING, "node=%s event=allowed-signers-empty file=\"%s\" "
		       "note=\"no ssh-ed25519 key: every task will be rejected\"", w->me, path);
	return 0;
}

/* An operator edits the list while the worker runs: the new list counts from the next task. */
static void reload_if_changed(struct worker *w)
{
	const char *path = w->opts->allowed_signers;
	struct dg_signers fresh = DG_SIGNERS_INIT;
	int64_t now = mtime_ns(path);

	if (now == w->signers_mtime_ns)
		return;
	w->signers_mtime_ns = now;
	/* a broken or vanished file keeps the list we had: never run with less checking */
	if (dg_signers_load(&fresh, path) < 0) {
		dg_log(DG_LOG_ERROR, "node=%s event=allowed-signers-unreadable error=\"%s\" "
		       "note=\"keeping the list loaded before\"", w->me, dg_error_last());
		return;
	}
	dg_signers_release(&w->signers);
	w->signers = fresh;
	log_loaded(w);
}

int dg_worker_trust_check(struct worker *w, struct running *r)
{
	struct dg_signers all = DG_SIGNERS_INIT;
	int ret;

	if (w->opts->allowed_signers) {
		reload_if_changed(w);
		dg_signers_append(&all, &w->signers);
		dg_signers_append(&all, &w->repo_signers);
	}
	ret = dg_tasksign_verify(&r->trust, &r->task, w->opts->allowed_signers ? &all : NULL,
				 dg_wall_ms() / 1000);
	dg_signers_release(&all);
	if (ret == 0)
		return 0;
	r->reject_reason = dg_xstrdup(dg_error_last());
	dg_log(DG_LOG_WARNING, "node=%s task=%s event=signature-refused reason=\"%s\"", w->me,
	       r->task.task_id, r->reject_reason);
	return DG_EINVALID;
}

bool dg_worker_trust_may_claim(struct worker *w)
{
	if (w->opts->signed_policy && !w->policy_trusted)
		return false;   /* judge_policy said why */
	if (!w->policy.require_signed || w->opts->allowed_signers) {
		w->unsigned_grid_noted = false;
		return true;
	}
	if (!w->unsigned_grid_noted)
		dg_log(DG_LOG_WARNING, "node=%s event=not-claiming reason=\"the grid requires signed tasks "
		       "(dgrid.json require_signed) and this worker has no --allowed-signers to check them\"",
		       w->me);
	w->unsigned_grid_noted = true;
	return false;
}

void dg_worker_trust_release(struct worker *w)
{
	dg_signers_release(&w->signers);
	dg_signers_release(&w->repo_signers);
}
