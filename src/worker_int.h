/*
 * worker_int.h - the worker's state, shared by worker.c (the loop and the
 * jobs), worker_step.c (the transaction that reports and claims) and
 * worker_node.c (registration, heartbeats, the status snapshot).
 */
#ifndef DG_WORKER_INT_H
#define DG_WORKER_INT_H

#include "clock.h"
#include "exec.h"
#include "reaper.h"
#include "nodestatus.h"
#include "spool.h"
#include "store.h"
#include "task.h"
#include "worker.h"

struct running {
	struct dg_task task;          /* with its claim */
	struct dg_job *job;
	int64_t started_ms;           /* unix ms */
	char started_at[32];
	bool requeue;                 /* killed at shutdown: give it back, no result */
};

/* A task killed at shutdown, to be handed back to the queue. */
struct handback {
	char *task_id;
	unsigned attempt;
};

struct worker {
	const struct dg_worker_opts *opts;
	const char *me;               /* node id */
	struct dg_store *store;
	struct dg_reaper *reaper;     /* remembers what it saw between runs */
	struct dg_spool spool;
	struct dg_policy policy;      /* last seen dgrid.json */
	char policy_noted[40];        /* the unknown key last logged */

	struct running *jobs;
	size_t jobs_nr, jobs_alloc;
	struct dg_result *pending;    /* spooled results not yet delivered */
	size_t pending_nr, pending_alloc;
	struct handback *requeue;     /* tasks to hand back (shutdown) */
	size_t requeue_nr, requeue_alloc;

	bool stopping;
	int64_t stop_deadline;        /* monotonic ms: kill running tasks then */
	int64_t stop_signal_at;       /* monotonic ms of the first stop signal */
	bool need_adopt;              /* look for claims of ours we do not run */
	bool queue_seen_empty;        /* the last step found nothing to claim */
	char last_step_tip[41];       /* tip at the last step with nothing to do */
	bool tip_is_ours;             /* the known tip is the commit we pushed last */

	int64_t next_step;            /* monotonic ms */
	int64_t next_heartbeat;
	int64_t next_reap;            /* reap at the first fetch after this */
	int64_t next_upkeep;          /* archive and compaction check (worker_upkeep.c) */
	bool compact_refused;         /* the host refused a compaction: do not ask again */
	int64_t fetched_ms;           /* monotonic ms of the last fetch that worked */
	int64_t poll_ms_logged;       /* the idle poll interval last logged */
	int64_t batch_deadline;       /* 0: no result waiting for company */
	unsigned net_failures;
	unsigned conflicts;           /* steps lost to other writers in a row */
	bool hb_capped;               /* the policy's node_timeout shortened our heartbeat */

	struct dg_node_status snap;
	struct dg_http *http;
};

/*
 * worker_upkeep.c: on protocol 3 grids, archives results beyond the
 * policy's keep_results and compacts main's history past compact_after
 * commits (doc/protocol.md). Errors are logged; the worker goes on.
 */
void dg_worker_upkeep(struct worker *w);

/* worker_step.c: one transaction that reports, hands back and claims. */
int dg_worker_step(struct worker *w);
/*
 * Makes a dgrid.json (NULL: the grid has none) the worker's policy; an
 * invalid one leaves the defaults and a warning. DG_EPROTOCOL when the grid
 * needs a newer dgrid: the worker must then write nothing more.
 */
int dg_worker_policy(struct worker *w, const struct dg_strbuf *json);

/* worker_node.c */
int dg_worker_register(struct worker *w);
int dg_worker_heartbeat(struct worker *w, const char *state);
void dg_worker_snapshot(struct worker *w, const char *state);

#endif
