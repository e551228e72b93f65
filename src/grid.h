/*
 * grid.h - the state of a grid as read from one commit of its repository
 * plus the nodes' heartbeat side refs: what `dgrid status`, the dashboard
 * and the reaper look at.
 *
 * Repository layout (DESIGN.md §1):
 *   dgrid.json                       optional policy (task.h dg_policy)
 *   nodes/{node_id}.json             registration: node_id, name, cpus,
 *                                    memory_bytes, arch, labels, version,
 *                                    executor, isolation, slots, registered_at
 *   tasks/queue/{task_id}.json       pending tasks
 *   tasks/in_progress/{task_id}.json claimed: the task + node_id, claimed_at, attempt
 *   tasks/completed/, tasks/failed/  results (names and shards: layout.h)
 * From protocol 3 on, tasks and results live in shards (layout.h); the
 * lists below hold both layouts' files, each with its path.
 * Heartbeats live outside the branch's history: side ref
 * refs/dgrid/nodes/{node_id} -> a parentless commit with heartbeat.json:
 *   {"node_id", "time" (RFC 3339), "state": "idle"|"busy"|"stopping"|"stopped",
 *    "slots", "running": [task ids], "executor", "completed", "failed",
 *    "started_at", "version"}
 *
 * Ownership: dg_grid_load fills a caller-owned struct; every string and
 * json_t in it belongs to the struct until dg_grid_release.
 */
#ifndef DG_GRID_H
#define DG_GRID_H

#include "common.h"
#include "store.h"
#include "task.h"

#include <jansson.h>

#define DG_HEARTBEAT_PATH "heartbeat.json"
#define DG_NODE_REF_PREFIX "nodes/"
/* a newcomer's registration on a budget grid until it is on main (doc/protocol.md, "Joining") */
#define DG_JOIN_REF_PREFIX "join/"
#define DG_JOIN_PATH "node.json"

enum dg_node_liveness {
	DG_NODE_ALIVE,     /* heartbeat younger than the node timeout; without
			    * heartbeats (protocol 2): holds a claim */
	DG_NODE_STALE,     /* heartbeat too old: presumed dead */
	DG_NODE_STOPPED,   /* said goodbye */
	DG_NODE_UNKNOWN,   /* registered, never sent a heartbeat; or idle
			    * without heartbeats (protocol 2) */
};

const char *dg_node_liveness_name(enum dg_node_liveness l);

struct dg_grid_node {
	char *node_id;
	json_t *registration;      /* nodes/{id}.json, NULL if unreadable */
	json_t *heartbeat;         /* heartbeat.json, NULL if none */
	int64_t heartbeat_time;    /* unix seconds of the last heartbeat, 0 if none */
	int64_t last_activity;     /* newest heartbeat, registration, claim or result; 0 if none */
	bool holds_claim;          /* a file in tasks/in_progress names it (when loaded) */
	enum dg_node_liveness liveness;
	char *forged;              /* why its registration or heartbeat is forged (grid_trust.c); NULL */
	/* its reputation (grid_trust.c): replicas that agreed with their quorum or not, forged records */
	unsigned agreed, disagreed, forged_records;
};

struct dg_grid_file {
	char *name;                /* base name in its directory */
	char *path;                /* where it is: flat or in a shard (layout.h) */
	size_t size;
	json_t *doc;               /* parsed content; NULL if not loaded or not valid JSON */
	bool archived;             /* also in the archive's newest batch: counted there */
	char *forged;              /* a claim or result its node did not sign: why (grid_trust.c) */
};

struct dg_grid_list {
	struct dg_grid_file *items;
	size_t nr, alloc;
};

struct dg_grid {
	char tip[41];
	int64_t now;               /* unix seconds when loaded */
	struct dg_policy policy;   /* dgrid.json applied to the defaults */
	struct dg_grid_node *nodes;
	size_t nodes_nr, nodes_alloc;
	struct dg_grid_list queue, running, completed, failed;
	json_t *archive;           /* the archive's summary.json (archive.h); NULL if none */
	unsigned forged_nr;        /* forged records among those loaded */
};

enum dg_grid_flags {
	DG_GRID_LOAD_TASKS = 1 << 0,    /* parse queue and in_progress files */
	DG_GRID_LOAD_RESULTS = 1 << 1,  /* parse completed and failed files */
	DG_GRID_LOAD_ARCHIVE = 1 << 2,  /* fetch the archive's summary (protocol 3) */
};

/* Reads the store's known tip (call dg_store_fetch first for fresh data). */
int dg_grid_load(struct dg_grid *grid, struct dg_store *store, unsigned flags);
void dg_grid_release(struct dg_grid *grid);

/* Liveness of a node whose last heartbeat was at when (0: never). */
enum dg_node_liveness dg_grid_liveness(const json_t *heartbeat, int64_t when,
					int64_t now, unsigned node_timeout);

/*
 * Whether a node that neither stopped nor shows a sign of life (no claim,
 * no fresh heartbeat) has been silent for longer than the policy's
 * slot_keep_seconds (0: never): dead, or idle - an idle worker pushes
 * nothing, so nothing tells which. Listings fold such nodes.
 */
bool dg_grid_node_silent(const struct dg_grid *g, const struct dg_grid_node *n);

/* How many nodes of each kind a listing does not show. */
struct dg_grid_folded {
	size_t stopped;
	size_t silent;
};

/*
 * Which nodes a listing shows (dgrid status, the dashboard's page): every
 * node alive or heard of within slot_keep_seconds, and of the others the
 * DG_GRID_FOLD_SHOWN that stopped last and the DG_GRID_FOLD_SHOWN heard of
 * last. A grid keeps the registration of every node that ever joined:
 * containers with fresh ids leave one each, and workers that die without
 * stopping leave one that never says so; listing them all buried the live
 * ones under hundreds of others. nodes_nr flags (free them); *folded: how
 * many of each are not shown. --json and status.json still list every
 * node.
 */
#define DG_GRID_FOLD_SHOWN 10
bool *dg_grid_nodes_shown(const struct dg_grid *g, struct dg_grid_folded *folded);

/*
 * What a node says it runs: from its newest heartbeat, else its
 * registration. Nodes older than the "protocol" field speak protocol 1;
 * version is "?" when neither says.
 */
unsigned dg_grid_node_protocol(const struct dg_grid_node *n);
const char *dg_grid_node_version(const struct dg_grid_node *n);

/*
 * Queued tasks (loaded with DG_GRID_LOAD_TASKS) whose "requires" no node
 * that may still claim (alive, or idle without heartbeats) satisfies:
 * cb(task id, the first active node's unmet requirement or "no active
 * node") for each; a non-zero return stops the walk and is returned.
 * grid_fit.c.
 */
typedef int (*dg_grid_unrunnable_cb)(const char *task_id, const char *why, void *payload);
int dg_grid_unrunnable(const struct dg_grid *g, dg_grid_unrunnable_cb cb, void *payload);

/*
 * Does the queued task doc wait, and for what: "not before
 * 2026-12-01T02:00:00Z", or "waits for 'build'" (a dependency without a
 * result in tasks/completed as loaded). grid_fit.c.
 */
bool dg_grid_waits_for(const struct dg_grid *g, const json_t *doc, char *why, size_t whysz);

/*
 * Judges what was loaded by the nodes' keys (nodekeys.h; the keys
 * registered now are the pins): a forged registration or heartbeat sets
 * its node's "forged" (and the heartbeat is dropped: it says nothing of
 * the node's liveness); a forged claim or result sets the file's.
 * Counts them in forged_nr. Then each node's reputation: how often its
 * replicas agreed with their quorum's result or disagreed (from the
 * canonical results on main, replica.h, read from store when not loaded
 * and judged too), and its forged records. grid_trust.c; dg_grid_load
 * calls it.
 */
struct dg_store;
void dg_grid_judge_records(struct dg_grid *g, struct dg_store *store);

/* Parses "2026-11-27T10:01:23Z" to unix seconds; -1 when malformed. */
int64_t dg_parse_utc(const char *s);

#endif
