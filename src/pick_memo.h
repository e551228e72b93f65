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
 * waiting for its dependencies waits until a result lands (or its node's
 * key is learnt or revoked): such a shard is remembered while the results
 * on main, nodes/ and trust/ are as they were (dg_pick_memo_world). A
 * shard that held a candidate, a file to refuse, a replica (the others
 * are claimed elsewhere), a task with a cancel request, or a file this
 * step changed is read again next time. So is one the picker stopped
 * reading early.
 *
 * The memo is bounded (DG_PICK_MEMO_MAX entries): when it fills, it starts
 * over, and the worker reads what it forgot once more.
 */
#ifndef DG_PICK_MEMO_H
#define DG_PICK_MEMO_H

#include "common.h"

#define DG_PICK_MEMO_MAX 6144

/* What a shard held, none of it for us now. */
struct dg_pick_memo_entry {
	unsigned unfit;      /* tasks this node cannot run */
	unsigned waiting;    /* tasks it could run, not before ready_at */
	int64_t ready_at;    /* the earliest not_before among them, Unix s; 0: none */
	unsigned blocked;    /* tasks waiting for dependencies: true while the results are as at world */
	uint64_t world;      /* dg_pick_memo_world's stamp when it was read */
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
bool dg_pick_memo_get(const struct dg_pick_memo *m, const char *id, int64_t now, struct dg_pick_memo_entry *out);
void dg_pick_memo_put(struct dg_pick_memo *m, const char *id, const struct dg_pick_memo_entry *e);

#endif
