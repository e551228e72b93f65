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
 * Shards (protocol 3, doc/protocol.md): a directory that every push
 * rewrites must not grow with the grid. From protocol 3 on, a task lives
 * in tasks/queue/ and tasks/in_progress/ under two levels of shards, and a
 * result under three:
 *
 *     tasks/queue/a/b/{task_id}.json
 *     tasks/in_progress/a/b/{task_id}.json
 *     tasks/completed/a/b/c/{task_id}.{node_id}.{attempt}.json
 *
 * where a, b, c are the first hex digits of SHA-256(task id). Every tree
 * on such a path holds at most 16 subdirectories, and a leaf of results
 * holds about (results kept) / 4096 files. A submission may still be the
 * flat tasks/queue/{task_id}.json of every version: workers move it into
 * its shard (intake). Readers accept both layouts everywhere, because a
 * grid that moved from protocol 2 may still hold flat files.
 *
 * Priority lanes (doc/protocol.md, "Priority lanes"): from protocol 3 a
 * queued task whose priority is not the default 5 waits in the lane of
 * its priority, tasks/queue/p{0-9}/a/b/{task_id}.json, so that a worker
 * finds the most urgent work by sampling lanes from p9 down instead of
 * reading every queued file. Priority 5 keeps the plain shards, where a
 * task file of any version goes.
 *
 * Submitter groups (0.10.0, policy "fair_share"): within a lane, intake
 * puts a submission under the group of the author of the commit that
 * added it, tasks/queue/[pN/]g-XXXXXXXXXXXX/a/b/{task_id}.json (12 hex
 * digits of SHA-256 of "Name <email>"), so that a worker can take tasks
 * from every submitter in turn without reading the queue. A claim notes
 * its "queue_group", and a task handed back returns to it.
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

#define DG_SHARDED_PROTOCOL 3     /* the first protocol with shards */
#define DG_TASK_SHARD_DEPTH 2
#define DG_RESULT_SHARD_DEPTH 3

/* Appends "a/b/..." (depth hex digits of SHA-256(task_id)) to out. */
void dg_layout_shard(struct dg_strbuf *out, const char *task_id, unsigned depth);

/*
 * Appends where task task_id goes in dir (tasks/queue or tasks/in_progress)
 * on a grid of protocol: "dir/a/b/ID.json" from protocol 3, else "dir/ID.json".
 */
void dg_layout_task_path(struct dg_strbuf *out, const char *dir, const char *task_id,
			 unsigned protocol);

/*
 * Appends where queued task goes on a grid of protocol: its priority's
 * lane from protocol 3 ("tasks/queue/p7/a/b/ID.json"; priority 5 has no
 * lane), under its group when its doc names a valid "queue_group", else
 * the flat name.
 */
void dg_layout_queue_path(struct dg_strbuf *out, const struct dg_task *task, unsigned protocol);

/* Appends the directory of priority's lane: "tasks/queue/p7", "tasks/queue" for 5. */
void dg_layout_lane_dir(struct dg_strbuf *out, unsigned priority);

#define DG_GROUP_NAME_LEN 14   /* "g-" and 12 hex digits */
/* The group directory name of a submitter ("Name <email>"): "g-3f2a...". */
void dg_layout_group_of(char out[DG_GROUP_NAME_LEN + 1], const char *submitter);
/* Is name a group directory name? */
bool dg_layout_is_group(const char *name);
/* The group a queued path is in ("tasks/queue/p7/g-.../a/b/x.json"), copied to out; false if none. */
bool dg_layout_group_in_path(char out[DG_GROUP_NAME_LEN + 1], const char *path);


/*
 * Finds the file of task task_id in dir as the transaction sees it: its
 * shard first (in the queue, of every lane), then the flat name. Sets
 * path (reset first). DG_ENOTFOUND.
 */
int dg_layout_find_task(struct dg_txn *txn, const char *dir, const char *task_id,
			struct dg_strbuf *path);

/*
 * Lists the files of dir and of its shards (subdirectories named by one
 * hex digit, down to DG_RESULT_SHARD_DEPTH levels): cb sees every file
 * entry with its full path, flat ones first, then shard by shard, then
 * the priority lanes (p0..p9) of its top level and their shards.
 * Other subdirectories are passed to cb as they are, not entered.
 * Either store (the known tip) or txn (its base) is read.
 */
int dg_layout_walk_store(struct dg_store *store, const char *dir, dg_list_cb cb, void *payload);
/* Whether a file name in the queue names a task: NAME.json, not hidden. */
bool dg_layout_is_task_name(const char *name);
int dg_layout_walk_txn(struct dg_txn *txn, const char *dir, dg_list_cb cb, void *payload);

/* tasks/completed for a success, tasks/failed for every other status. */
const char *dg_layout_result_dir(enum dg_result_status status);

/* Appends the result path described above to out, sharded from protocol 3. */
void dg_layout_result_path(struct dg_strbuf *out, enum dg_result_status status,
			   const char *task_id, const char *node_id, unsigned attempt,
			   unsigned protocol);

/*
 * The task id a result file name (base name) was written for, by the
 * current scheme. DG_ENOTFOUND for an original-layout name, whose task id
 * only its content can tell.
 */
int dg_layout_result_task(const char *name, struct dg_strbuf *task_id);

/*
 * Is the result file name a result of task_id? Current names say so by
 * themselves; an original-layout name ending in "-{task_id}.json" only
 * when its content (data, may be NULL: then no) says so.
 */
bool dg_layout_result_of(const char *name, const char *data, size_t len, const char *task_id);

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
int dg_layout_write_result(struct dg_txn *txn, const struct dg_result *res, unsigned protocol,
			   struct dg_strbuf *written);

/*
 * Calls cb(path, success, payload) for each result of task_id on main as
 * txn's base has it: the files named {task_id}.NODE.ATTEMPT.json in its
 * shard of tasks/completed and tasks/failed (protocol 3) and in those
 * directories themselves (older layouts). The original {node}-{task}.json
 * names are not looked at. A non-zero return from cb stops and is returned.
 */
typedef int (*dg_layout_result_cb)(const char *path, bool success, void *payload);
int dg_layout_task_results(struct dg_txn *txn, const char *task_id, dg_layout_result_cb cb,
			   void *payload);

/*
 * Ends queued task task_id (attempt: its claims so far), at path, without
 * running it: removes the file and records a result of status (cancelled,
 * dependency_failed) for node_id with the reason.
 */
int dg_layout_end_queued(struct dg_txn *txn, const char *path, const char *task_id, unsigned attempt,
			 const char *node_id, enum dg_result_status status, const char *reason,
			 unsigned protocol);

/*
 * Ends a file that cannot run (path is where it is, under tasks/queue or
 * tasks/in_progress): removes it and records a "rejected" result for node
 * under attempt 0, named after a sanitised stem of its base name.
 */
int dg_layout_reject(struct dg_txn *txn, const char *path, const char *node_id,
		     const char *reason, unsigned protocol);

/*
 * Returns a claimed task to the queue with its claim removed and its
 * attempt count kept (so max_attempts holds across trips). A different
 * file queued under the same id meanwhile is the duplicate - a submitter
 * reused a live id - and is rejected by node rather than overwritten.
 */
int dg_layout_requeue(struct dg_txn *txn, struct dg_task *task, const char *node_id,
		      unsigned protocol);

/* Removes the claim of task_id from tasks/in_progress, sharded or flat. */
int dg_layout_remove_claim(struct dg_txn *txn, const char *task_id);

#endif
