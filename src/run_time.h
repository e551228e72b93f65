/*
 * run_time.h - how long the grid's tasks run, from the results main's
 * newest reports wrote (doc/protocol.md, "Batches").
 *
 * On a push budget's grid a claim is sized to keep the worker's slots
 * busy until its next turn, over the tasks' run time (worker_budget.c).
 * A worker knows the run time of the tasks it ran itself; a newcomer has
 * run none, and until 0.16.1 it claimed 16 a slot, whatever the tasks
 * took. Where the grid has run tasks, main says how long they took: each
 * report commit's summary names its node and tasks ("w3: report t17
 * (success) ..."), and each result says its duration_ms. Quick tasks then
 * left a newcomer idle for most of the wait for its first turn as a
 * member (32 workers at a budget of 60: 16 two-second tasks, then up to
 * 51 s idle while 61 were queued), and long ones sat in its backlog for a
 * cycle before they went back (16 tasks of ten minutes held for one
 * turn's three minutes at GitHub's budget).
 *
 * The cost follows what main gained, not its size: each update walks the
 * commits since the tip it saw last (at most DG_RUN_TIME_COMMITS), lists
 * the one result shard of each task it keeps (a few files even at
 * 100,000 results) and reads at most DG_RUN_TIME_SAMPLES results. Only
 * grids of protocol 3 and later are read: older ones keep their results
 * in one flat directory, whose listing grows with the grid.
 *
 * A result is data anybody with write access could have written: a run
 * time is only ever a hint for a claim's size (bounded by a fair share of
 * the queue and claim_batch_max), and the median of the samples keeps one
 * odd result from setting it.
 */
#ifndef DG_RUN_TIME_H
#define DG_RUN_TIME_H

#include "common.h"

#define DG_RUN_TIME_SAMPLES 9     /* the newest successful results kept */
#define DG_RUN_TIME_COMMITS 32    /* commits of main walked at one update, newest first */

struct dg_store;

struct dg_run_time {
	char tip[41];                   /* main's tip at the last update; "" before the first */
	int64_t ms[DG_RUN_TIME_SAMPLES];/* duration_ms of the newest, a ring */
	size_t nr, next;
};

/*
 * Reads the results of the successful reports main gained since the last
 * update (its first: the newest DG_RUN_TIME_COMMITS commits), on a grid of
 * the given protocol. Unreadable commits and results are passed over.
 */
void dg_run_time_update(struct dg_run_time *rt, struct dg_store *store, unsigned protocol);

/* The median of the samples in ms; 0 when there is none. */
int64_t dg_run_time_ms(const struct dg_run_time *rt);

#endif
