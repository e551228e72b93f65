/*
 * worker_step.h - the inside of a worker's step (worker_step.c), shared
 * with worker_queue.c, which holds what a step does to the queue besides
 * claiming: intake of flat submissions and answering cancel requests.
 * Nothing else includes it.
 */
#ifndef DG_WORKER_STEP_H
#define DG_WORKER_STEP_H

#include "pick.h"
#include "worker_int.h"

#define REJECTS_PER_STEP 16

struct step {
	struct worker *w;
	size_t free_slots;            /* tasks to claim (a batch on a budget grid) */
	unsigned ahead_seconds;       /* run time of the tasks we hold, before a new claim's */
	bool registering;             /* this step writes our registration */
	char now[32];
	/* outputs of the last attempt */
	struct dg_task *claimed;
	size_t claimed_nr, claimed_alloc;
	struct dg_task *adopted;
	size_t adopted_nr, adopted_alloc;
	bool *delivered;              /* per pending result: done with it */
	bool *given_back;             /* per backlog task: goes back to the queue (surplus) */
	unsigned rejected, eligible_left, intaken;
	bool adopt_later;             /* claims of ours left for a free slot */
	int64_t retry_due;            /* unix s: the earliest retry this step queued; 0 none */
	unsigned cancelled;           /* cancel requests answered in this step */
	struct renewal {
		const struct dg_task *held;   /* borrowed from the worker's jobs or backlog */
		unsigned lease_seconds;   /* the lease the renewed claim states */
	} *renewed;                   /* the leases this attempt renewed */
	size_t renewed_nr, renewed_alloc;
	bool rescue_deleted;          /* this attempt deletes our rescue ref (worker_rescue.c) */
	bool covers_rescue;           /* this attempt reports or renews all we hold: landed, our rescue is spare */
	struct dg_strbuf msg;
	struct dg_txn *txn;
	/* candidates for claiming, and the flat submissions intake moves (pick.h) */
	struct dg_pick pick;
};

unsigned step_protocol(const struct step *s);
const char *step_base_name(const char *path);
/* Ends the queued file at path as "rejected", with the reason. */
int step_reject(struct step *s, const char *path, const char *reason);

/* worker_queue.c */
int step_intake(struct step *s);
int step_cancel_one(const char *id, void *payload);   /* a dg_cancel_cb */

#endif
