/*
 * worker_trust.c - which tasks this worker agrees to run: its allowed
 * signers, the grid's "require_signed", and the check made just before
 * every start (worker_int.h, tasksign.h, doc/trust.md).
 */
#include "error.h"
#include "log.h"
#include "worker_int.h"

#include <sys/stat.h>

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
	const struct dg_signers *list = w->opts->allowed_signers ? &w->signers : NULL;

	if (list)
		reload_if_changed(w);
	if (dg_tasksign_verify(&r->trust, &r->task, list, dg_wall_ms() / 1000) == 0)
		return 0;
	r->reject_reason = dg_xstrdup(dg_error_last());
	dg_log(DG_LOG_WARNING, "node=%s task=%s event=signature-refused reason=\"%s\"", w->me,
	       r->task.task_id, r->reject_reason);
	return DG_EINVALID;
}

bool dg_worker_trust_may_claim(struct worker *w)
{
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
}
