/*
 * pick_memo.h - the parts of the queue a worker found nothing in for
 * itself, remembered while they stay unchanged (doc/tasks.md, "Cost").
 *
 * A worker reads queued files until it has found enough it may run now
 * (pick.h). Tasks for other nodes (a label it lacks) or for later (a
 * not_before to come) it must read past, and an idle worker did so at
 * every step: 10,000 queued tasks that need a GPU cost each other worker
 * 10,000 reads a poll, ~14 % of a core at one poll a second. Git names a
 * directory by its contents, so a shard whose tree id is the one it had
 * when it held nothing for us holds nothing for us still - unless time or
 * the policy changed what "for us" means. The picker asks the memo before
 * it lists a shard and tells it what a shard held when it read one whole;
 * a push that claims or queues a task changes only the shards on its
 * paths, so a step reads those and passes over the rest.
 *
 * What may be remembered is only what the shard's bytes, the policy and
 * this node's facts (fixed while it runs) decide: tasks it cannot run
 * (requires) and tasks not due yet (until the earliest is). A task
 * waiting for its dependencies waits until a result of one of them lands
 * or goes (or a node's key is learnt or revoked). The picker stamps such
 * a shard with the tree ids of nodes/, trust/ and all results
 * (dg_pick_memo_world): while that stamp holds, nothing changed. When it
 * does not - on a busy grid, after every report - the shard is still
 * true if the results leaves its tasks' dependencies live in
 * (tasks/completed/a/b/c and tasks/failed/a/b/c, layout.h) are as they
 * were: the entry keeps those leaves and their stamp, and the picker
 * checks them (DG_PICK_MEMO_CHECK) instead of reading the shard's tasks
 * and judging each one's dependencies again. A shard that held a
 * candidate, a file to refuse, a replica (the others are claimed
 * elsewhere), a task with a cancel request, or a file this step changed
 * is read again next time. So is one the picker stopped reading early,
 * and one of waiting tasks judged DG_PICK_MEMO_WAIT_S ago: a dependency
 * can also go without a result (deleted by hand), which no stamp shows.
 *
 * The memo is bounded (DG_PICK_MEMO_MAX entries, each with at most
 * DG_PICK_MEMO_LEAVES_MAX leaves): when it fills, it starts over, and the
 * worker reads what it forgot once more.
 */
#ifndef DG_PICK_MEMO_H
#define DG_PICK_MEMO_H

#include "common.h"

#define DG_PICK_MEMO_MAX 6144
/* results leaves an entry keeps; a shard waiting on more is judged by the whole stamp alone */
#define DG_PICK_MEMO_LEAVES_MAX 256
/*
 * A waiting task's verdict is trusted this long (s) at most: a dependency
 * deleted by hand (git rm of its queued file) leaves no result, so no
 * stamp sees it, and the task must still be ended as "missing" (deps.h).
 * Reading 10,000 waiting tasks again every 5 minutes costs an idle worker
 * ~150 ms each time (bench-queue-read.sh, BLOCKED=1).
 */
#define DG_PICK_MEMO_WAIT_S 300

/* What a shard held, none of it for us now. */
struct dg_pick_memo_entry {
	unsigned unfit;      /* tasks this node cannot run */
	unsigned waiting;    /* tasks it could run, not before ready_at */
	int64_t ready_at;    /* the earliest not_before among them, Unix s; 0: none */
	unsigned blocked;    /* tasks waiting for dependencies: true while the results are as at world */
	int64_t judged_by;   /* with blocked: read again from then on (Unix s; DG_PICK_MEMO_WAIT_S) */
	uint64_t world;      /* dg_pick_memo_world's stamp when it was read */
	/*
	 * With blocked: the results leaves (0 ... 4095, the three hex digits
	 * of tasks/completed/a/b/c) of those tasks' dependencies, and the
	 * picker's stamp of them when read. leaves_known false: too many to
	 * keep. Copied by put; borrowed from the memo after get, until the
	 * next put.
	 */
	bool leaves_known;
	const uint16_t *leaves;
	unsigned leaves_nr;
	uint64_t leaves_stamp;
};

enum dg_pick_memo_hit {
	DG_PICK_MEMO_MISS,    /* unknown, or no longer true: read the shard */
	DG_PICK_MEMO_HIT,     /* holds nothing for us */
	DG_PICK_MEMO_CHECK,   /* holds nothing for us if the leaves' stamp is still out->leaves_stamp */
};

struct dg_pick_memo;

struct dg_pick_memo *dg_pick_memo_new(void);
void dg_pick_memo_free(struct dg_pick_memo *m);

/*
 * The policy judges tasks (limits, defaults): the memo forgets everything
 * when its bytes differ from the last call's.
 */
void dg_pick_memo_policy(struct dg_pick_memo *m, const void *policy, size_t len);

/*
 * What dependencies are judged by, as a stamp the picker makes from the
 * tree ids of tasks/completed, tasks/failed, nodes and trust: a shard
 * whose tasks waited for dependencies is passed over only under the
 * stamp it was read with.
 */
void dg_pick_memo_world(struct dg_pick_memo *m, uint64_t stamp);

/* Whether the shard with tree id (40 hex digits) held nothing for us, as still true at now. */
enum dg_pick_memo_hit dg_pick_memo_get(const struct dg_pick_memo *m, const char *id, int64_t now,
				       struct dg_pick_memo_entry *out);
void dg_pick_memo_put(struct dg_pick_memo *m, const char *id, const struct dg_pick_memo_entry *e);
/* A DG_PICK_MEMO_CHECK that held: the entry is true under the current stamp. */
void dg_pick_memo_renew(struct dg_pick_memo *m, const char *id);

#endif
