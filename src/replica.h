/*
 * replica.h - redundant execution and quorum (doc/trust.md, "Replicas and
 * quorum"): a task with "replicas": N > 1 runs on N distinct nodes, and
 * its result is what "quorum": M of them agree on.
 *
 * Expansion. The first worker that claims such a task expands it, in the
 * commit of its claim, into N replica tasks ID--r1 .. ID--rN: the task's
 * document with "replica_of", "replica", "replicas" and "quorum" (a
 * signature travels in each, tasksign.h), queued where the task was; it
 * claims ID--r1 itself. Replicas are ordinary tasks - claimed, reaped,
 * retried, cancelled - except that a node never takes a replica of a task
 * when it holds or ran another (dg_replica_held_elsewhere): N distinct
 * nodes are needed.
 *
 * Quorum. When a replica's final result is delivered, the deliverer judges
 * the task in the same commit (dg_replica_judge). Results agree when their
 * status, exit code and SHA-256 of stdout are the same; results in a
 * node's name its key did not sign (nodekeys.h) do not count, nor do two
 * by one node. When M agree and no other replica is running, the
 * canonical result ID.quorum.1.json (node "quorum") is written with that
 * output, the agreeing and the disagreeing nodes (a replica that runs is
 * waited for, so that a liar among them is known); when agreement is no
 * longer possible, ID ends "no_quorum" with every replica's outcome.
 * Replicas still queued then end "cancelled". A reaper that returns a
 * replica to the queue judges too.
 * Every replica's own result is kept. The canonical result is what
 * depends_on, dgrid result and the reputation of nodes read.
 */
#ifndef DG_REPLICA_H
#define DG_REPLICA_H

#include "common.h"
#include "nodekeys.h"
#include "store.h"
#include "task.h"

#define DG_REPLICA_NODE "quorum"    /* the node of a canonical result */

/* N and M for task t: its own fields, else the policy's; M defaults to a majority. */
void dg_replica_plan(const struct dg_task *t, const struct dg_policy *pol, unsigned *replicas,
		     unsigned *quorum);

/*
 * Turns t - just picked from the queue, no replica, planned for N > 1 -
 * into its replica 1 (t is rewritten in place, for the caller to claim)
 * and queues replicas 2..N. alone: adaptive replication chose to run it
 * once (replicas 1, quorum 1, "adaptive": true). DG_EINVALID (reason set)
 * when the replicas' ids would be too long for the policy or exist already.
 */
int dg_replica_expand(struct dg_txn *txn, struct dg_task *t, const struct dg_policy *pol,
		      unsigned protocol, bool alone);

/*
 * Adaptive replication (policy "adaptive_replication": K, BOINC's): a node
 * whose last K or more replicas agreed with their quorum, with no
 * disagreement since, may run a replicated task alone, with probability
 * (streak - K + 1) / (K + 1) (1 from a streak of 2K on). Verdicts, oldest
 * first, as a node remembers its replicas:
 */
enum dg_replica_verdict {
	DG_REPLICA_UNDECIDED = 0,    /* no canonical result yet */
	DG_REPLICA_AGREED = 1,
	DG_REPLICA_DISAGREED = -1,   /* resets the streak */
	DG_REPLICA_UNJUDGED = 2,     /* ran alone, or no quorum: neither */
};

/* Agreed replicas since the newest disagreement. */
unsigned dg_replica_streak(const signed char *verdicts, size_t n);
/* Should a node with this streak run a task alone (random, see above)? */
bool dg_replica_alone(unsigned streak, unsigned k);
/* What the canonical result of task says of node's replica (UNDECIDED: none yet). */
int dg_replica_verdict(struct dg_txn *txn, const char *task, const char *node, signed char *out);

/*
 * Does node hold another replica of replica t's task (claimed), or has it
 * a result of one? mine (mine_nr) are the tasks whose replicas the node
 * claimed while running: what a transaction's base does not show yet.
 */
bool dg_replica_held_elsewhere(struct dg_txn *txn, const struct dg_task *t, const char *node,
			       char *const *mine, size_t mine_nr);

/*
 * Is task id in its replicas: one of them queued, running or ended, while
 * the task has no result of its own yet? (Its dependants wait.)
 */
bool dg_replica_pending(struct dg_txn *txn, const char *id);

/*
 * Judges the task of replica claim after its result was written in this
 * transaction. written (written_nr) are the results this transaction
 * wrote so far, its own among them: dg_txn_list does not see them yet.
 * Writes the canonical or no_quorum result when the replicas decide;
 * appends what it did to msg.
 */
int dg_replica_judge(struct dg_txn *txn, const struct dg_task *claim,
		     const struct dg_result *const *written, size_t written_nr,
		     const struct dg_nodekeys *keys, const char *me, unsigned protocol,
		     struct dg_strbuf *msg);

#endif
