/*
 * reaper.h - returning orphaned tasks to the queue (self-healing).
 *
 * A reaper watches the grid (watch.h) and judges every claim in
 * tasks/in_progress/ by what it saw itself, on its own clock - never by
 * the timestamps other machines wrote. A claim is orphaned when
 *  - (protocol 2 on) its lease lapsed: neither the claim nor a heartbeat
 *    of its owner that lists it (a rescue, worker_rescue.c) changed for
 *    longer than the lease the claim states (plus the observer's grace);
 *  - its owner's heartbeat has not changed for longer than node_timeout;
 *  - its owner has never sent a heartbeat and the claim has been there,
 *    unchanged, for longer than node_timeout;
 *  - its owner's last heartbeat says "stopped" and is not older than the
 *    claim (a restarted owner claims its tasks anew);
 *  - its owner is alive but its heartbeat no longer lists the claim among
 *    what it holds (running, or finished and waiting to be pushed), and
 *    the claim has been there for longer than the task's timeout plus
 *    node_timeout. An owner that still holds a task - however long its
 *    pushes take - never loses it to a reaper.
 * The heartbeat rules apply on grids whose policy asks for heartbeats.
 * A file there that is no valid claim (written by hand) ends as a
 * "rejected" result once it has stayed unchanged for node_timeout.
 * An orphan goes back to tasks/queue/ with its claim removed and its
 * attempt count kept; once it has been claimed max_attempts times it ends
 * in tasks/failed/ as "abandoned" instead. All of it happens in one
 * transaction, so two reapers racing never duplicate a task: the loser's
 * re-run finds the task gone from in_progress.
 *
 * Because judgements need observations, a new reaper reaps nothing until
 * it has watched for node_timeout: call dg_reaper_run periodically (a
 * worker does), or dg_reaper_run, wait, and run it again (dgrid reap).
 * Each run fetches first, so it never judges from a stale cache.
 */
#ifndef DG_REAPER_H
#define DG_REAPER_H

#include "common.h"
#include "store.h"
#include "task.h"

struct dg_reap_stats {
	unsigned requeued;
	unsigned abandoned;
	unsigned examined;
	unsigned rejected;      /* files in in_progress that were no valid claim */
	unsigned watching;      /* claims not yet watched long enough to judge */
};

struct dg_reaper;

/* me is the reaping node (commit messages, logs). Both are borrowed. */
struct dg_reaper *dg_reaper_new(struct dg_store *store, const char *me);

/*
 * A worker's reaper never reaps the worker's own claims: the worker knows
 * what it holds (and adopts what an earlier run of it left, worker_step.c),
 * while a reaper that judged its own lapsed lease would throw away a
 * result that is only waiting for a push to land.
 */
void dg_reaper_spare_own(struct dg_reaper *reaper);

/*
 * Seconds this observer adds to every lease before it calls it lapsed: the
 * contention it sees itself (a crowded grid without a push budget, where
 * a live owner can lose races to report for minutes, doc/protocol.md). A
 * claim's lease is what its owner knew when it claimed; the observer knows
 * the crowd now. 0 by default.
 */
void dg_reaper_set_lease_grace(struct dg_reaper *reaper, unsigned seconds);
void dg_reaper_free(struct dg_reaper *reaper);
/*
 * Judges records by their node keys (nodekeys.h, borrowed): the grid's
 * registrations are learnt at each run; a forged heartbeat is ignored and
 * a forged claim is released at once, as if nobody held its task.
 */
struct dg_nodekeys;
void dg_reaper_set_nodekeys(struct dg_reaper *reaper, struct dg_nodekeys *keys);

/*
 * Fetches (for a remote), observes heartbeats and claims, and reaps what
 * is orphaned by the rules above. The policy is read from the tip.
 */
int dg_reaper_run(struct dg_reaper *reaper, struct dg_reap_stats *stats);
/*
 * dg_reaper_run for a caller that fetched a moment ago (a worker reaps
 * right after the fetch of its own step, so reaping costs the host no
 * fetch of its own).
 */
int dg_reaper_judge(struct dg_reaper *reaper, struct dg_reap_stats *stats);

/*
 * How long a claim must be watched before it can be judged, by the policy
 * the last run read (seconds): the node timeout with heartbeats, else the
 * longest lease a valid task can have (timeout_max + lease_margin).
 */
unsigned dg_reaper_patience(const struct dg_reaper *reaper);

/*
 * Deletes the node refs (refs/dgrid/nodes/NODE: heartbeats, rescues) the
 * last run or judgement saw unchanged for the policy's node_ref_keep_seconds
 * (a day) by its own clock (or twice node_timeout, or the longest lease,
 * if longer), up to 500, in one push:
 * a grid with heartbeats
 * keeps a ref of every node that ever ran, stopped or dead, and every
 * fetch lists them all - 5,000 made an idle worker's polls cost 70 times
 * the CPU. A ref that changed meanwhile stays. A node that comes back
 * writes its heartbeat again; without one, its claims are judged as
 * those of an owner that never sent one (older than node_timeout: it
 * gone a day, its claims were reaped long ago). *pruned: how many went.
 */
int dg_reaper_prune(struct dg_reaper *reaper, size_t *pruned);

/*
 * Within a transaction: removes claimed task t from tasks/in_progress/ and
 * records it as "abandoned" (by its last owner, with its attempt count) in
 * the layout of protocol.
 */
int dg_reap_abandon(struct dg_txn *txn, struct dg_task *t, const char *why, unsigned protocol);

#endif
