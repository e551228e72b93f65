/*
 * worker.h - a worker node: claims tasks from the queue, runs them through
 * an executor, reports results, proves it is alive, and returns orphaned
 * tasks of dead nodes to the queue.
 *
 * dg_worker_run() is the whole life of a node: register, loop, shut down.
 * It returns 0 after a clean stop (SIGTERM/SIGINT, or --exit-when-idle
 * with nothing left), negative on a fatal start-up error (message in
 * dg_error_last()). Everything after start-up is retried, never fatal: a
 * dead remote, a rejected push, a malformed task.
 */
#ifndef DG_WORKER_H
#define DG_WORKER_H

#include "common.h"
#include "config.h"
#include "exec.h"

struct dg_worker_opts {
	struct dg_config cfg;
	const struct dg_executor *executor;
	const char *isolation;       /* what the executor isolates, for the node file */
	bool exit_when_idle;
	unsigned grace_seconds;      /* SIGTERM: how long running tasks may finish */
	unsigned batch_ms;           /* wait this long for more results before pushing */
	const char *spool_dir;       /* NULL: next to the cache */
	const char *http;            /* NULL or "" for no web server */
	const char *labels;          /* comma-separated, DGRID_LABELS */
	const char *allowed_signers; /* NULL: run unsigned tasks too (tasksign.h) */
	unsigned trust_quorum;       /* local keys that must sign the repository's lists, 1 */
	bool signed_policy;          /* claim only under a dgrid.json signed by trust_quorum keys */
	struct dg_exec_limits limits;/* the operator's limits; a grid policy may only lower them */
};

int dg_worker_run(const struct dg_worker_opts *opts);

#endif
