/*
 * deps_stamp.h - stamps of what decides whether a queued task still waits
 * for its dependencies (deps.h), so that the picker's memo (pick_memo.h)
 * can tell a verdict is still true without judging it again.
 *
 * A waiting task's verdict changes when a result of one of its
 * dependencies lands or goes (or a retry ends, or an archive takes one),
 * or when nodes/ or trust/ change whose results count. The world stamp
 * covers all of these at once: the tree ids of tasks/completed,
 * tasks/failed, nodes and trust. On a busy grid it changes at every
 * report, and then a worker judged every waiting task again - 10,000 of
 * them waiting for one task cost an idle worker ~10 % of a core at a poll
 * a second (bench-queue-read.sh, BLOCKED=1). A dependency's results live
 * in one results leaf (tasks/completed/a/b/c and tasks/failed/a/b/c,
 * layout.h; 4,096 of them), and a report changes one leaf: the leaves
 * stamp covers only the leaves a shard's tasks wait on, plus nodes,
 * trust and the flat results a grid upgraded from protocol 2 may still
 * hold at the top of tasks/completed and tasks/failed.
 *
 * Everything is read at the transaction's base, as deps.h judges.
 */
#ifndef DG_DEPS_STAMP_H
#define DG_DEPS_STAMP_H

#include "common.h"
#include "store.h"

#define DG_RESULTS_LEAVES 4096   /* 16^DG_RESULT_SHARD_DEPTH */

/* The results leaf of task id: the number of the three hex digits a/b/c of its results' paths. */
uint16_t dg_results_leaf(const char *task_id);

/* The world stamp: FNV-1a of the tree ids of tasks/completed, tasks/failed, nodes and trust. */
uint64_t dg_deps_world_stamp(struct dg_txn *txn);

/* Leaf stamps computed once per transaction: each leaf's trees are looked up at most once. */
struct dg_deps_stamper {
	struct dg_txn *txn;
	uint64_t *leaf;           /* DG_RESULTS_LEAVES, when first needed */
	unsigned char *known;     /* likewise, one byte a leaf */
	uint64_t side;            /* nodes, trust and the flat results */
	bool side_known;
};

#define DG_DEPS_STAMPER_INIT(t) { .txn = (t) }

/* The stamp of leaves[0..n) (sorted or not; each once), with the side stamp. */
uint64_t dg_deps_leaves_stamp(struct dg_deps_stamper *s, const uint16_t *leaves, size_t n);
void dg_deps_stamper_release(struct dg_deps_stamper *s);

#endif
