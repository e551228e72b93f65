/*
 * layout.h - where results live in the state repository, and the one rule
 * that keeps them: a write never replaces a file.
 *
 * A result is tasks/completed/ or tasks/failed/ followed by
 *
 *     {task_id}.{node_id}.{attempt}.json
 *
 * Task ids have no '.', so the first '.' ends the task id, and the last
 * one before ".json" starts the attempt; the node id (which may contain
 * dots and dashes) is what lies between. Two runs therefore never share a
 * name: not two tasks, not two nodes, not two attempts of one task. A file
 * in the queue that is not a valid task is rejected under attempt 0 with
 * a sanitised stem of its name.
 *
 * The original layout named results {node_id}-{task_id}.json, which is
 * ambiguous when ids contain '-' (node "w" with task "1-t" and node "w-1"
 * with task "t" both give "w-1-t.json"). Such files are still read - by
 * their content, never by their name - but never written.
 *
 * The writers here refuse to replace anything: a path that exists already
 * (written by another run, or by hand) gets a "~2", "~3"... before its
 * ".json" instead, so no result, queued task or claim is ever overwritten.
 */
#ifndef DG_LAYOUT_H
#define DG_LAYOUT_H

#include "common.h"
#include "store.h"
#include "strbuf.h"
#include "task.h"

#define DG_DIR_QUEUE "tasks/queue"
#define DG_DIR_RUNNING "tasks/in_progress"
#define DG_DIR_COMPLETED "tasks/completed"
#define DG_DIR_FAILED "tasks/failed"

/* tasks/completed for a success, tasks/failed for every other status. */
const char *dg_layout_result_dir(enum dg_result_status status);

/* Appends the result path described above to out. */
void dg_layout_result_path(struct dg_strbuf *out, enum dg_result_status status,
			   const char *task_id, const char *node_id, unsigned attempt);

/*
 * The task id a result file name (base name) was written for, by the
 * current scheme. DG_ENOTFOUND for an original-layout name, whose task id
 * only its content can tell.
 */
int dg_layout_result_task(const char *name, struct dg_strbuf *task_id);

/*
 * Writes data at path in the transaction, or, when something is there
 * already, at the first free "path~N.json" (N = 2..999). The path used is
 * appended to written (may be NULL). DG_ECONFLICT when all are taken.
 */
int dg_layout_write_new(struct dg_txn *txn, const char *path, const void *data, size_t len,
			struct dg_strbuf *written);

/*
 * Writes a result at its run's path (dg_layout_result_path) with
 * dg_layout_write_new. The path used is appended to written (may be NULL).
 */
int dg_layout_write_result(struct dg_txn *txn, const struct dg_result *res,
			   struct dg_strbuf *written);

/*
 * Ends a file that cannot run (name is its base name in dir, tasks/queue
 * or tasks/in_progress): removes it and records a "rejected" result for
 * node under attempt 0, named after a sanitised stem of the file name.
 */
int dg_layout_reject(struct dg_txn *txn, const char *dir, const char *name, const char *node_id,
		     const char *reason);

/*
 * Returns a claimed task to the queue with its claim removed and its
 * attempt count kept (so max_attempts holds across trips). A different
 * file queued under the same id meanwhile is the duplicate - a submitter
 * reused a live id - and is rejected by node rather than overwritten.
 */
int dg_layout_requeue(struct dg_txn *txn, struct dg_task *task, const char *node_id);

#endif
