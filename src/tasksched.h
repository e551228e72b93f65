/*
 * tasksched.h - the scheduling fields of a task (doc/tasks.md): when it may
 * start and on which nodes, and how urgent it is among the others.
 *
 *     "priority": 0..9              default 5, higher first
 *     "not_before": "2026-12-01T00:00:00Z"   stays queued until then
 *     "requires": {"labels": ["gpu"], "arch": "x86_64",
 *                  "min_cpus": 2, "min_memory_mb": 1024}
 *     "retries": 0..100             runs again after failing or timing out
 *     "retry_delay_seconds": 10     before the first retry; doubles each time
 *     "retried": n                  retries made so far (written by workers)
 *     "handed_back": n              claims given back unstarted (written by workers)
 *     "depends_on": ["id", ...]     runs only after each ended "success"
 *     "replicas": 1..9              runs on this many distinct nodes (replica.h)
 *     "quorum": 1..replicas         results that must agree; default a majority
 *     "replica_of", "replica"       a replica's task and number (written by workers)
 *
 * Every field is optional, so a task file of the original format means
 * what it meant: priority 5, runs now, anywhere. A node is judged against
 * "requires" by facts it knows of itself (labels from DGRID_LABELS, its
 * architecture, processors and memory) - the same facts it registers in
 * nodes/{id}.json, from which `dgrid status` judges the whole grid.
 *
 * A requirement this version does not know ("requires": {"gpu_memory_mb":
 * 8000}) is kept and makes the task fit no node of this version: a worker
 * must never run a task whose needs it cannot check. The reason names it.
 *
 * Ownership: dg_sched_parse fills a caller-owned struct; dg_sched_release
 * frees its contents. Facts likewise (dg_node_facts_release).
 */
#ifndef DG_TASKSCHED_H
#define DG_TASKSCHED_H

#include "common.h"

#include <jansson.h>

#define DG_PRIORITY_DEFAULT 5
#define DG_PRIORITY_MAX 9
#define DG_LABELS_MAX 32          /* labels in one list */
#define DG_LABEL_MAX 64           /* bytes of one label */

struct dg_requires {
	char **labels;            /* every one must be among the node's labels */
	size_t labels_nr;
	char *arch;               /* NULL: any */
	unsigned min_cpus;        /* 0: any */
	uint64_t min_memory_mb;   /* 0: any */
	char *unknown;            /* the first requirement this version does not know */
};

struct dg_sched {
	unsigned priority;        /* 0..9 */
	int64_t not_before;       /* unix seconds; 0: none */
	struct dg_requires req;
	unsigned retries;         /* runs after a failure or timeout, at most */
	unsigned retry_delay;     /* seconds before the first retry */
	unsigned retried;         /* retries made so far */
	char **deps;              /* depends_on: task ids, distinct, not its own */
	size_t deps_nr;
	unsigned replicas;        /* 0: not set (the policy's, else 1) */
	unsigned quorum;          /* 0: not set (a majority of replicas) */
	char *replica_of;         /* a replica's task (replica.h); NULL for others */
	unsigned replica;         /* its number, 1..replicas */
	unsigned handed_back;     /* claims that ended with the task given back unstarted */
};

#define DG_DEPS_MAX 64

#define DG_RETRIES_MAX 100
#define DG_RETRY_DELAY_DEFAULT 10
#define DG_HANDED_BACK_MAX 1000000   /* as "attempt" (task.c) */
#define DG_REPLICAS_MAX 9
#define DG_SCHED_INIT { DG_PRIORITY_DEFAULT, 0, { NULL, 0, NULL, 0, 0, NULL }, 0, DG_RETRY_DELAY_DEFAULT, 0, NULL, 0, \
			0, 0, NULL, 0, 0 }

/*
 * Reads the scheduling fields of a task document. buf/len is the file's
 * text, for the position in a type error ("line 4 column 15: expected
 * integer for priority, got string"). Returns 0 or DG_EINVALID with the
 * reason; *out is untouched on error.
 */
int dg_sched_parse(struct dg_sched *out, const json_t *doc, const char *buf, size_t len);
/* The same, also refusing a dependency on task_id itself (NULL: no such check). */
int dg_sched_parse_for(struct dg_sched *out, const json_t *doc, const char *buf, size_t len,
		       const char *task_id);
void dg_sched_release(struct dg_sched *s);

/* What a node offers, from its own measurements or its registration. */
struct dg_node_facts {
	char **labels;
	size_t labels_nr;
	char *arch;               /* uname's machine: "x86_64", "aarch64" */
	unsigned cpus;
	uint64_t memory_mb;
};

#define DG_NODE_FACTS_INIT { NULL, 0, NULL, 0, 0 }

/* This machine's facts; labels_csv is DGRID_LABELS ("gpu, big"; NULL: none). */
void dg_node_facts_local(struct dg_node_facts *out, const char *labels_csv);
/* A node's facts as its registration (nodes/{id}.json) states them. */
void dg_node_facts_from_json(struct dg_node_facts *out, const json_t *registration);
void dg_node_facts_release(struct dg_node_facts *f);

/*
 * Does a node with facts f satisfy req? When not, why (if non-NULL) gets
 * the first unmet requirement: "needs label 'gpu'", "needs arch aarch64,
 * node is x86_64", "needs 4 cpus, node has 2", "requirement 'tpu' is not
 * known to dgrid 0.10.0".
 */
bool dg_sched_fits(const struct dg_requires *req, const struct dg_node_facts *f,
		   char *why, size_t whysz);

/*
 * Retries (doc/tasks.md): a run that failed or timed out is followed by
 * another while retried < retries, after retry_delay << retried seconds,
 * never more than cap (the policy's retry_delay_max). A crash of the
 * worker is no run: the claim goes back to the queue under max_attempts,
 * which counts claims that ended without a result (dg_sched_crash_claims).
 */
bool dg_sched_will_retry(const struct dg_sched *s, bool failed);
unsigned dg_sched_retry_delay(const struct dg_sched *s, unsigned cap);
/*
 * Claims of a task (attempt) that ended without a result: not its retries,
 * nor the claims whose workers gave it back unstarted (a batch's surplus,
 * or at shutdown): those never ran it, so they are no sign that it kills
 * its workers.
 */
unsigned dg_sched_crash_claims(const struct dg_sched *s, unsigned attempt);

/* The canonical name of an architecture: "amd64" is "x86_64", "arm64" "aarch64". */
const char *dg_arch_canonical(const char *arch);

#endif
