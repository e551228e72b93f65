/*
 * nodestatus.h - a worker's live state as its web server shows it.
 *
 * The worker's loop owns the real state and its libgit2 objects; after each
 * step it fills a struct dg_node_status (plain values, no pointers) and
 * hands a copy to the web server with dg_http_publish(), which copies it
 * under a lock. The server's threads answer only from their copy, so they
 * never touch libgit2 or the loop's memory.
 */
#ifndef DG_NODESTATUS_H
#define DG_NODESTATUS_H

#include "common.h"

#define DG_STATUS_MAX_RUNNING 64
#define DG_STATUS_MAX_RESULTS 20
/* push latency histogram upper bounds, milliseconds (Prometheus "le") */
#define DG_STATUS_LATENCY_BUCKETS { 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000 }
#define DG_STATUS_LATENCY_NR 10

struct dg_status_task {
	char task_id[72];
	int64_t started_at;         /* unix milliseconds */
	unsigned timeout_seconds;
	unsigned attempt;
};

struct dg_status_result {
	char task_id[72];
	char status[24];            /* success, failed, timeout, rejected, abandoned, cancelled, dependency_failed */
	int exit_code;
	int64_t finished_at;        /* unix milliseconds */
	uint64_t duration_ms;
	char first_line[128];       /* first line of stdout (or the reason), raw text */
};

struct dg_node_status {
	char node_id[72];
	char state[16];             /* starting, idle, busy, stopping, stopped */
	char executor[16];
	char isolation[128];        /* e.g. "namespaces+seccomp+cgroup" or "none" */
	char version[16];
	char repo[256];             /* repository URL, already redacted */
	unsigned slots;
	int64_t started_at;         /* unix ms */
	int64_t loop_tick;          /* unix ms of the loop's last turn */
	int64_t last_fetch_ok;      /* unix ms of the last successful fetch, 0 never */
	int64_t last_push;          /* unix ms of the last published commit, 0 never */
	int64_t last_heartbeat;     /* unix ms */
	unsigned spool_backlog;     /* results waiting on local disk to be pushed */

	size_t running_nr;
	struct dg_status_task running[DG_STATUS_MAX_RUNNING];
	size_t results_nr;          /* newest first */
	struct dg_status_result results[DG_STATUS_MAX_RESULTS];

	/* counters since start (Prometheus counters) */
	uint64_t tasks_claimed, tasks_completed, tasks_failed, tasks_rejected, tasks_timed_out;
	uint64_t pushes, pushes_rejected, txn_retries;
	uint64_t push_latency_buckets[DG_STATUS_LATENCY_NR]; /* cumulative counts per "le" */
	uint64_t push_latency_count;
	double push_latency_sum_seconds;
};

#endif
