/*
 * deps.h - a task's dependencies ("depends_on", tasksched.h) as one
 * transaction sees the grid: may it run, must it wait, can it never run?
 *
 * A dependency is done when a result of it is in tasks/completed; pending
 * while it is queued (a retry too) or running; ended otherwise when it is
 * neither but has a result in tasks/failed; missing when it is nowhere on
 * main. Workers do not read the archive (archive.h): a dependency whose
 * result was archived before its dependent ran counts as missing. With
 * keep_results at its default that takes 10,000 later results.
 *
 * Nothing here writes; the caller acts on the verdict.
 */
#ifndef DG_DEPS_H
#define DG_DEPS_H

#include "common.h"
#include "store.h"
#include "task.h"

enum dg_deps_verdict {
	DG_DEPS_READY,     /* every dependency is done (or there are none) */
	DG_DEPS_BLOCKED,   /* some are pending: wait */
	DG_DEPS_DOOMED,    /* one ended otherwise: the task ends dependency_failed */
	DG_DEPS_MISSING,   /* one is nowhere on main: rejected */
	DG_DEPS_CYCLE,     /* the graph leads back to the task: rejected */
};

/*
 * Judges t's dependencies. With keys (nodekeys.h; NULL: every result
 * counts), a forged result counts for nothing: a dependency is done only
 * by a result its node signed. missing is the first dependency (index) that
 * is nowhere on main when the verdict is DG_DEPS_MISSING. why (whysz bytes) gets what it waits for or why
 * it cannot run: "waits for 'build'", "dependency 'build' ended failed",
 * "depends on 'nope', which is not queued, running or among the results on
 * main", "dependency cycle: a -> b -> a". Store errors are returned as
 * negative codes.
 */
struct dg_nodekeys;
int dg_deps_judge(struct dg_txn *txn, const struct dg_nodekeys *keys, const struct dg_task *t,
		  enum dg_deps_verdict *out, size_t *missing, char *why, size_t whysz);

#endif
