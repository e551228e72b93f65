/*
 * worker_upkeep.c - what any worker does now and then so that the grid
 * stays cheap as it ages (doc/protocol.md): move old results to the
 * archive (one worker at a time, see is_archiver), and restart main's
 * history once it is long. Both are the same compare-and-swap transactions
 * as everything else, so any number of workers may try at once; the checks
 * read the worker's last fetch only and cost the host nothing until there
 * is work.
 */
#include "archive.h"
#include "error.h"
#include "layout.h"
#include "log.h"
#include "store_window.h"
#include "worker_int.h"

#include <string.h>

/* a worker moves at most this many batches per check: its own tasks wait meanwhile */
#define UPKEEP_BATCHES 4
/* past keep_results + this many batches, any worker archives, not only the archiver */
#define ARCHIVE_LAG_BATCHES 4

struct counter {
	size_t n;
	size_t max;
};

static int count_file(const struct dg_entry *e, void *payload)
{
	struct counter *c = payload;

	if (e->is_file && e->name[0] != '.')
		c->n++;
	return c->n > c->max;   /* enough seen: stop walking */
}

/*
 * Whether this worker is the grid's archiver: the node named "archiver" in
 * the archive's summary (one small ref, fetched on its own). Appending a
 * batch needs the archive's tip, and libgit2 1.5 fetches only whole
 * histories, so an archiver's first batch downloads everything archived so
 * far. One node doing it keeps that download from every new volunteer.
 */
static bool is_archiver(struct worker *w)
{
	json_t *summary = NULL;
	const char *who;
	bool mine;

	if (dg_archive_read_summary(w->store, &summary, NULL) < 0) {
		dg_log(DG_LOG_WARNING, "node=%s event=archive-summary-unreadable error=\"%s\"", w->me,
		       dg_error_last());
		return false;
	}
	who = json_string_value(json_object_get(summary, "archiver"));
	mine = who && !strcmp(who, w->me);
	if (!mine)
		dg_log(DG_LOG_INFO, "node=%s event=archive-deferred archiver=%s (it archives until main holds "
		       "%u more than keep_results)", w->me, who ? who : "none",
		       ARCHIVE_LAG_BATCHES * DG_ARCHIVE_BATCH);
	json_decref(summary);
	return mine;
}

static void archive_if_needed(struct worker *w)
{
	size_t due = (size_t)w->policy.keep_results + DG_ARCHIVE_BATCH;
	size_t lagging = (size_t)w->policy.keep_results + ARCHIVE_LAG_BATCHES * DG_ARCHIVE_BATCH;
	struct counter c = { 0, lagging };
	struct dg_archive_stats st;

	if (dg_layout_walk_store(w->store, DG_DIR_COMPLETED, count_file, &c) < 0 ||
	    (c.n <= c.max && dg_layout_walk_store(w->store, DG_DIR_FAILED, count_file, &c) < 0) ||
	    c.n < due)
		return;
	/* the archiver's turn, until it lags (stopped, died, or a `dgrid archive` cron that stopped) */
	if (c.n <= lagging && !is_archiver(w))
		return;
	if (dg_archive_run(w->store, w->policy.keep_results, UPKEEP_BATCHES, w->me, &st) < 0)
		dg_log(DG_LOG_WARNING, "node=%s event=archive-failed error=\"%s\"", w->me, dg_error_last());
	else
		dg_log(DG_LOG_INFO, "node=%s event=archive batches=%u results=%zu completed=%u on_main=%zu",
		       w->me, st.batches, st.archived, st.completed, st.on_main);
}

static void compact_if_needed(struct worker *w)
{
	struct dg_store_window c;
	unsigned epoch = 0;
	int ret;

	/* not dg_store_history: its walk is sorted, and libgit2 reads all of a sorted walk first */
	if (dg_store_count_since(&c, w->store, 0, (size_t)w->policy.compact_after + 1) < 0 ||
	    c.commits <= w->policy.compact_after)
		return;
	ret = dg_store_compact_history(w->store, "compact: history restarts here; what came before "
				       "is under refs/dgrid/epochs/", &epoch);
	if (ret == DG_EREFUSED) {
		w->compact_refused = true;
		dg_log(DG_LOG_WARNING, "node=%s event=compact-refused error=\"%s\" (the branch is protected? "
		       "this worker will not try again)", w->me, dg_error_last());
	} else if (ret < 0 && ret != DG_ECONFLICT) {
		dg_log(DG_LOG_WARNING, "node=%s event=compact-failed error=\"%s\"", w->me, dg_error_last());
	} else if (ret == 0) {
		dg_log(DG_LOG_INFO, "node=%s event=compacted epoch=%u commits=%llu", w->me, epoch,
		       (unsigned long long)c.commits);
	}
}

void dg_worker_upkeep(struct worker *w)
{
	if (w->policy.protocol < DG_SHARDED_PROTOCOL)
		return;
	if (w->policy.keep_results)
		archive_if_needed(w);
	if (w->policy.compact_after && !w->compact_refused)
		compact_if_needed(w);
}
