/*
 * archive.h - results older than the policy's window leave main for
 * refs/dgrid/archive, a ref with a history of its own that workers never
 * fetch (doc/protocol.md, "Archive").
 *
 * The archive's tree:
 *
 *     summary.json                          totals of everything archived,
 *                                           and the node that archives
 *     batches/BBB/bbb/completed/NAME        batch k = BBB * 1000 + bbb
 *     batches/BBB/bbb/failed/NAME
 *
 * A batch moves in two compare-and-swap commits: first added to the
 * archive (with the summary), then removed from main. Whoever archives
 * first completes the newest batch if its files are still on main, so a
 * crash between the two leaves a result in both places, never in neither,
 * and only ever for the newest batch. The archive commit re-checks that
 * the newest batch is the one the batch was chosen after, so two
 * archivers never put one result in two batches.
 *
 * Readers (status, dashboard) never fetch the archive, whose objects grow
 * with the grid's age: after each batch the archiver publishes
 * refs/dgrid/archive-summary, one parentless commit holding summary.json
 * plus "batches" and "newest_batch" (the names of the newest batch). It is a
 * derived copy, written after the archive commit; an archiver that finds
 * it behind the archive rewrites it, so it lags by one batch at most, and
 * only until the next archiver runs.
 *
 * Costs: a check lists main's result shards (no file read); archiving
 * reads the results on main once to find the oldest. Reads of the archive
 * and writes go through a store of their own (dg_store_open_sibling), so
 * the archive's objects never enter the cache that claims and reports
 * push from.
 */
#ifndef DG_ARCHIVE_H
#define DG_ARCHIVE_H

#include "common.h"
#include "store.h"
#include "strbuf.h"

#include <jansson.h>

#define DG_ARCHIVE_REF "refs/dgrid/archive"
/* a one-commit copy of summary.json and the newest batch's names, for readers */
#define DG_ARCHIVE_SUMMARY_NAME "archive-summary"
#define DG_ARCHIVE_SUMMARY_REF "refs/dgrid/" DG_ARCHIVE_SUMMARY_NAME
#define DG_ARCHIVE_BATCH 500
/* hours of finished counts kept in summary.json, before the newest archived */
#define DG_ARCHIVE_HOURS 48

struct dg_archive_stats {
	size_t on_main;          /* results on main when last counted */
	size_t archived;         /* results moved by this call */
	unsigned batches;        /* batches added by this call */
	unsigned completed;      /* pending batches whose removal this call completed */
};

/*
 * Archives the oldest results, a batch at a time, while a whole batch can
 * go without leaving fewer than keep on main (so main ends with keep to
 * keep + DG_ARCHIVE_BATCH - 1), or until max_batches were added (0: no
 * limit). keep 0 archives nothing. who, the archiving node (NULL for
 * `dgrid archive`), goes into summary.json as "archiver": the worker that
 * archives next (worker_upkeep.c). The store must be on its branch; it is
 * fetched.
 */
int dg_archive_run(struct dg_store *store, unsigned keep, unsigned max_batches, const char *who,
		   struct dg_archive_stats *st);

/*
 * Reads the summary ref, fetching only it (never the archive itself):
 * *summary gets summary.json (NULL when there is no archive), and newest
 * (may be NULL) the names "completed/NAME"
 * and "failed/NAME" of the newest batch, one per line, so that a reader
 * can count a result that is in both places once.
 */
int dg_archive_read_summary(struct dg_store *store, json_t **summary, struct dg_strbuf *newest);

/*
 * Calls cb(path in the archive, content) for every archived result of
 * task_id, newest batch first. Returns the number found, or an error.
 */
typedef int (*dg_archive_found_cb)(const char *path, const struct dg_strbuf *data, void *payload);
int dg_archive_find(struct dg_store *store, const char *task_id, dg_archive_found_cb cb,
		    void *payload);

#endif
