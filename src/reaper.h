/*
 * reaper.h - returning orphaned tasks to the queue (self-healing).
 *
 * A task in tasks/in_progress/ is orphaned when its owner's heartbeat is
 * older than the node timeout, the owner said it stopped, the owner never
 * sent a heartbeat and the claim is older than the node timeout, or the
 * claim is older than the task's own timeout plus the node timeout. An
 * orphan goes back to tasks/queue/ with its claim removed and its attempt
 * count kept; once it has been claimed max_attempts times it ends in
 * tasks/failed/ as "abandoned" instead. All of it happens in one
 * transaction, so two reapers racing never duplicate a task: the loser's
 * re-run finds the task gone from in_progress.
 */
#ifndef DG_REAPER_H
#define DG_REAPER_H

#include "common.h"
#include "store.h"

struct dg_reap_stats {
	unsigned requeued;
	unsigned abandoned;
	unsigned examined;
};

/* me is the reaping node (commit messages, result node for none). */
int dg_reap(struct dg_store *store, const char *me, struct dg_reap_stats *stats);

#endif
