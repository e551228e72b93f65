/*
 * migrate.h - moving a grid's flat files into the shards of protocol 3.
 *
 * Before protocol 3 every result lay flat in tasks/completed/ or
 * tasks/failed/ (and every queued task in tasks/queue/), so each push
 * rewrote trees as large as the grid's history. `dgrid upgrade` raises the
 * protocol first - from then on every writer uses the shards (layout.h) -
 * and then moves the flat files into their shards, bytes and names
 * unchanged, in transactions of a bounded number of files each, so that
 * workers keep claiming and reporting in between. Every transaction is a
 * compare-and-swap like any other: a file claimed, reported or moved by
 * somebody else meanwhile is simply not there on the retry, and nothing is
 * lost or duplicated. Claims in tasks/in_progress/ stay where their owners
 * wrote them (readers accept both layouts); they end with their tasks.
 *
 * A result's shard comes from its task id: the name tells it for names of
 * the current scheme, the file's own "task_id" for the original
 * {node}-{task}.json names, and the name's stem when neither does.
 */
#ifndef DG_MIGRATE_H
#define DG_MIGRATE_H

#include "common.h"
#include "store.h"

/* files moved per transaction: the flat trees shrink by this much per push */
#define DG_MIGRATE_BATCH 5000

struct dg_migrate_stats {
	size_t moved;           /* files moved into shards */
	unsigned commits;       /* transactions published */
	size_t bytes_pushed;    /* their packs, for remote URLs */
};

/*
 * Moves every flat file of tasks/completed, tasks/failed and tasks/queue
 * into its shard, batch files per transaction (0: DG_MIGRATE_BATCH), until
 * none is left. Counts add up in st (may be NULL).
 */
int dg_migrate_flat(struct dg_store *store, size_t batch, struct dg_migrate_stats *st);

#endif
