/*
 * cancel.h - cancelling tasks (doc/tasks.md, "Cancelling").
 *
 * A cancel request is a file tasks/cancel/{task_id}.json: anything, or
 * {"reason": "..."}. `dgrid cancel` writes one for a running task and
 * ends a queued one at once; anybody with push access may commit one with
 * plain git (or in a pull request). Workers act on requests:
 *
 *   - a queued task with a request ends "cancelled" in the next step of
 *     any worker, and the request goes with it;
 *   - the worker that runs (or holds in its batch) a requested task kills
 *     it at its next look at the repository - a busy worker looks every
 *     poll interval for this - and reports it "cancelled", which removes
 *     the request in the same push;
 *   - a request for a task that has ended already is removed as stale.
 *
 * Every function here works inside one transaction; none pushes.
 */
#ifndef DG_CANCEL_H
#define DG_CANCEL_H

#include "common.h"
#include "store.h"
#include "strbuf.h"
#include "task.h"

#define DG_DIR_CANCEL "tasks/cancel"
#define DG_CANCEL_REASON_MAX 200

/* Writes the request for task_id (reason may be NULL), replacing any earlier one. */
int dg_cancel_request(struct dg_txn *txn, const char *task_id, const char *reason);

/*
 * Is a request for task_id there, as txn's base has it? 1 yes (reason, if
 * non-NULL, gets its reason or "cancel requested"), 0 no.
 */
int dg_cancel_requested(struct dg_txn *txn, const char *task_id, struct dg_strbuf *reason);

/* Removes the request for task_id if there is one. */
int dg_cancel_clear(struct dg_txn *txn, const char *task_id);

/*
 * Ends task task_id, queued at path, as "cancelled" by node_id with the
 * reason, and removes its request. The result keeps the task's attempt
 * count; a file that is no valid task is cancelled all the same.
 */
int dg_cancel_queued(struct dg_txn *txn, const char *task_id, const char *path,
		     const char *node_id, const char *reason, unsigned protocol);

/* The reason a request file's content gives, or "cancel requested". */
void dg_cancel_reason(struct dg_strbuf *out, const char *data, size_t len);

/* The ids of the requests at the store's known tip: cb(task_id, payload); non-zero stops. */
typedef int (*dg_cancel_cb)(const char *task_id, void *payload);
int dg_cancel_list_store(struct dg_store *store, dg_cancel_cb cb, void *payload);
int dg_cancel_list_txn(struct dg_txn *txn, dg_cancel_cb cb, void *payload);

#endif
