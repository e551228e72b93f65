/*
 * spool.h - results waiting on local disk until a push delivers them.
 *
 * A finished task's result is written here (temporary name, fsync, rename,
 * fsync of the directory) before anything tries to push it, so neither a
 * dead remote nor a crash of the worker loses it. One file per run,
 * "<task_id>.<attempt>.json", holding the result JSON: two attempts of one
 * task on one node never share a file. Removed
 * only after a commit containing the result (or proof that it was
 * superseded) has been published.
 */
#ifndef DG_SPOOL_H
#define DG_SPOOL_H

#include "common.h"
#include "task.h"

struct dg_spool {
	char *dir;
};

/* Creates the directory if needed; removes stale temporary files. */
int dg_spool_open(struct dg_spool *spool, const char *dir);
void dg_spool_release(struct dg_spool *spool);

/* Durably stores a result (task_id must be a valid id). */
int dg_spool_put(struct dg_spool *spool, const struct dg_result *res);
/* Forgets the stored result of res's task and attempt. */
int dg_spool_remove(struct dg_spool *spool, const struct dg_result *res);

/*
 * Loads every stored result into a new array (caller releases each and
 * frees the array). Unreadable files are moved aside to "<name>.bad" and
 * reported through the log, never fatal. Files of older versions, named
 * "<task_id>.json", are renamed to the current scheme as they load.
 */
int dg_spool_load(struct dg_spool *spool, struct dg_result **out, size_t *nr);

#endif
