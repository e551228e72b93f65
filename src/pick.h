/*
 * pick.h - which queued tasks a worker's step may claim, most urgent
 * first, without reading the whole queue.
 *
 * A step wants a few tasks (its free slots, or a batch). The picker reads
 * the flat submissions (tasks/queue/ID.json, few: intake moves them into
 * shards) and then samples the priority lanes from p9 down (layout.h), a
 * lane's shards in random order, until it holds enough candidates that
 * this node may run now: valid, fitting its facts ("requires"), past
 * their "not_before" and with their dependencies done (deps.h). A task
 * whose dependency ended otherwise is refused as doomed (the caller ends
 * it dependency_failed); one whose dependency is missing or circular is
 * refused (rejected). Lower lanes are read only when the higher ones do
 * not fill the want, so a step reads a few small trees however long the
 * queue is - unless most of what it reads is for other nodes or for
 * later, which it must then read past: once, while those shards stay
 * unchanged, with a memo (pick_memo.h).
 *
 * The candidates come out ordered by priority, and in a random order
 * among equal priorities so that workers do not all fight over one file.
 * Where a lane holds submitter groups (layout.h, fair share), each group
 * gives its share of the sample, and among equal priorities the groups
 * take turns: every group's first candidate, then every second one...
 *
 * Ownership: dg_pick_collect fills a caller-owned struct dg_pick;
 * dg_pick_release frees what it holds.
 */
#ifndef DG_PICK_H
#define DG_PICK_H

#include "common.h"
#include "tasksched.h"
#include "store.h"
#include "task.h"
#include "pick_memo.h"

struct dg_pick_candidate {
	char *path;               /* where it is queued */
	struct dg_task task;      /* parsed with the grid's policy */
	uint32_t shuffle_key;     /* random: the order among equal priorities */
	unsigned round;           /* its place among those taken from its submitter group */
};

struct dg_pick_refusal {
	char *path;
	char *reason;             /* why it can never run */
	/* set for a task whose dependency ended otherwise: it ends dependency_failed */
	char *doomed_id;          /* NULL: the file is rejected */
	unsigned attempt;
};

struct dg_pick {
	/* what to look for (set by the caller) */
	const struct dg_policy *policy;
	const struct dg_node_facts *facts;
	int64_t now;              /* unix seconds, for not_before */
	size_t want;              /* candidates to find; more may come from the flat files */
	unsigned protocol;
	size_t refusals_max;      /* stop collecting refusals after this many */
	const struct dg_nodekeys *keys;  /* judges dependencies' results (deps.h); NULL: all count */
	const char *me;           /* the picking node: it never takes two replicas of a task (replica.h) */
	char *const *mine;        /* tasks whose replicas it claimed already */
	size_t mine_nr;
	struct dg_pick_memo *memo;  /* shards that held nothing for us (pick_memo.h); NULL: read all */

	/* what was found */
	struct dg_pick_candidate *cands;
	size_t cands_nr, cands_alloc;
	struct dg_pick_refusal *refusals;
	size_t refusals_nr, refusals_alloc;
	char **flat;              /* every flat submission seen (for intake) */
	size_t flat_nr, flat_alloc;
	unsigned skipped;         /* files left when refusals_max was reached */
	unsigned unfit;           /* tasks this node cannot run (requires) */
	unsigned waiting;         /* tasks it could run, not before a time */
	unsigned blocked;         /* tasks waiting for their dependencies (deps.h) */
	int64_t ready_at;         /* the earliest such time; 0: none seen */
	bool more_queued;         /* shards or lanes left unread */
	unsigned read;            /* queued files read and judged */
	unsigned passed_over;     /* shards the memo said held nothing for us, unread */
};

/*
 * Collects candidates from the queue as txn sees it. Returns 0 or a
 * store error; invalid files are not errors but refusals.
 */
int dg_pick_collect(struct dg_pick *p, struct dg_txn *txn);
void dg_pick_release(struct dg_pick *p);

#endif
