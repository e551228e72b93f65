/*
 * worker_int.h - the worker's state, shared by worker.c (the loop and the
 * jobs), worker_step.c (the transaction that reports and claims) and
 * worker_node.c (registration, heartbeats, the status snapshot).
 */
#ifndef DG_WORKER_INT_H
#define DG_WORKER_INT_H

#include "clock.h"
#include "exec.h"
#include "members.h"
#include "pushslot.h"
#include "reaper.h"
#include "run_time.h"
#include "nodekeys.h"
#include "nodestatus.h"
#include "pick_memo.h"
#include "spool.h"
#include "store.h"
#include "task.h"
#include "tasksign.h"
#include "worker.h"

struct running {
	struct dg_task task;          /* with its claim */
	struct dg_job *job;
	int64_t started_ms;           /* unix ms */
	char started_at[32];
	bool requeue;                 /* killed at shutdown: give it back, no result */
	char *cancel_reason;          /* killed for a cancel request (worker_cancel.c) */
	char *reject_reason;          /* refused before it started (worker_trust.c) */
	struct dg_tasksign_verdict trust;  /* who signed it, for its result */
};

/* A task of ours stopped at shutdown, to be handed back to the queue. */
struct handback {
	char *task_id;
	unsigned attempt;
	bool unstarted;               /* from the backlog: it never ran here */
};

/* a newcomer keeps this many looks at the queue, an eighth of a cycle apart at least (worker_budget.c) */
#define DG_QUEUE_LOOKS 16

/* What our fetches saw of the branch's traffic (worker_branch.c). */
#define DG_BRANCH_LOOKS 16
#define DG_BRANCH_AUTHORS 32
struct dg_branch_watch {
	char tip[41];                 /* the tip at the last look */
	uint64_t commits;             /* other nodes' commits counted since we started */
	struct {
		int64_t ms;           /* monotonic */
		uint64_t commits;     /* the count then */
	} looks[DG_BRANCH_LOOKS];     /* a ring, newest at head */
	size_t head, nr;
	unsigned aside_streak;        /* fetched looks in a row that stood aside */
	char peek_tip[41];            /* the remote tip our last peek saw, "" since a fetch */
	bool peek_quiet;              /* the peek before this fetch saw no commit since the look before */
	bool recheck;                 /* our last peek saw a move: the next one tells whether it goes on */
	bool fresh_move;              /* this fetch is of the first move after a still branch (dg_worker_peek) */
	bool fresh_claim;             /* we are claiming what such a fetch found: until a step of ours lands */
	size_t claims_seen;           /* other nodes' commits that claim, brought by our last look */
	unsigned peek_skips;          /* fetches skipped since the last one, after a peek */
	int64_t fetch_ms;             /* our fetches' time, smoothed */
	int64_t push_ms;              /* our steps' time after the fetch (build, push), smoothed */
	int64_t fetch_at, push_at;    /* monotonic: when each was last measured (0: never) */
	/* the queue's length when we first and last stood aside (counted only then: a queue may be long) */
	int64_t queue_first_ms, queue_last_ms;
	size_t queue_first, queue_last;
	struct {
		char id[64];          /* the node id a commit's summary starts with */
		int64_t ms;           /* monotonic: when a look last saw one of its commits */
		uint64_t commits;     /* its commits our looks saw since it took this entry */
		bool holds;           /* its newest commit we saw claimed tasks: it may still run them */
	} authors[DG_BRANCH_AUTHORS]; /* the others that pushed lately, oldest replaced */
	uint64_t own;                 /* our own commits our looks saw */
};

/*
 * A claim we hold, and when its lease ends for every observer by our clock:
 * since_ms is a moment (monotonic) no later than the push that last wrote
 * the claim, or a rescue that listed it, landed (worker_rescue.c).
 */
struct held_lease {
	char *task_id;
	unsigned attempt;
	unsigned lease_seconds;
	int64_t since_ms;
};

/* A registration on main as the push schedule reads it (worker_budget.c). */
struct seen_registration {
	char *id;                 /* the node's id: the file's name less ".json" */
	char blob[41];            /* the file's object id: the same bytes are not read again */
	bool stopped;             /* it says its node stopped (a forged "stopped" does not count) */
	int64_t stopped_at;       /* when, Unix s; 0 when unknown */
	int64_t registered;       /* registered_at, Unix s; 0 when unknown */
	int64_t active;           /* active_at, Unix s; 0: none (written before 0.14.9) */
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
	bool stop_marked;             /* a push of ours said in our registration that we stopped */
	bool need_adopt;              /* look for claims of ours we do not run */
	bool adopt_race_only;         /* need_adopt only because a step lost a race: its push did not land */
	bool queue_seen_empty;        /* the last step found nothing to claim (dg_worker_queue_seen) */
	bool queue_drained;           /* a budget grid's queue was empty at our last look (dg_worker_lent_look) */
	int64_t queue_empty_since;    /* monotonic ms: since then every look found nothing to claim (0: one did) */
	int64_t ready_at;             /* unix s: a task we could run waits for its not_before; 0 none */
	struct dg_node_facts facts;   /* what "requires" is matched against (tasksched.h) */
	char last_step_tip[41];       /* tip at the last step with nothing to do */
	bool tip_is_ours;             /* the known tip is the commit we pushed last */

	int64_t next_step;            /* monotonic ms */
	int64_t next_heartbeat;
	int64_t next_reap;            /* reap at the first fetch after this */
	int64_t next_upkeep;          /* archive and compaction check (worker_upkeep.c) */
	int64_t next_cancel_look;     /* monotonic ms: a busy worker looks for cancel requests */
	bool compact_refused;         /* the host refused a compaction: do not ask again */
	int64_t fetched_ms;           /* monotonic ms of the last fetch that worked */
	int64_t poll_ms_logged;       /* the idle poll interval last logged */
	int64_t batch_deadline;       /* 0: no result waiting for company */
	unsigned net_failures;
	unsigned conflicts;           /* steps lost to other writers in a row */
	unsigned crowd;               /* no budget: claims per slot, raised by lost races (0 = 1) */
	size_t nodes_seen;            /* registrations on main at the last fetch */
	/*
	 * main's registrations as the schedule reads them, kept while the
	 * nodes/ tree is unchanged, and each file while its bytes are
	 * (worker_budget.c): a grid keeps every registration ever made, and
	 * each turn asked for them twice
	 */
	char members_tree[41];
	int64_t members_read_ms;      /* monotonic ms of the last reading of every file */
	struct seen_registration *regs;
	size_t regs_nr;
	size_t regs_live;             /* of them, not stopped */
	bool members_me_on_main;
	int64_t me_active;            /* our registration's active_at on main, Unix s; 0: none */
	size_t dormant_seen;          /* registrations silent too long to keep a push slot, at the last look */
	/* the idle polls' sharers, each weighing dg_pushslot_fetch_weight (a member 1), and our own weight */
	double poll_shares;
	double poll_share_me;
	unsigned long registrations_read;   /* registration files read, all told */
	int64_t turn_ms_avg;          /* a network turn (fetch, step, push), smoothed */
	int64_t contended_until;      /* monotonic ms: a race was lost less than CROWD_MEMORY_MS ago */
	/* our own drought at the host (worker_drought.c): what leases we judge allow for */
	int64_t drought_since;        /* monotonic ms of our first failed attempt since the host last took one; 0: none */
	int64_t drought_ms;           /* the last drought that ended, and when */
	int64_t drought_ended;
	/* our leases as observers see them, and the rescue that keeps them (worker_rescue.c) */
	struct held_lease *leases;
	size_t leases_nr, leases_alloc;
	bool rescue_ref;              /* refs/dgrid/nodes/ME holds a rescue of ours (or a former life's) */
	bool rescue_spare;            /* main holds what renews or ends every lease it kept: a push may delete it */
	int64_t rescue_retry_at;      /* monotonic ms: a rescue failed, try again then */
	bool step_reached_host;       /* the last turn's push reached the host, landed or not (a budget counts it) */
	struct dg_branch_watch branch;/* how busy the branch is (worker_branch.c) */
	int64_t peek_again_ms;        /* after a peek that saw the branch move: when to peek again */
	unsigned quiet_looks;         /* idle looks in a row that found the branch where we left it */
	bool hb_capped;               /* the policy's node_timeout shortened our heartbeat */

	/* the push budget (worker_budget.c); budget 0: push whenever */
	unsigned budget;
	struct dg_pushslot slot;      /* members and our rank, as of the last fetch */
	int64_t *slot_joined;         /* slot.joined: the members' registration slots */
	size_t slot_joined_alloc;
	char **slot_ids;              /* the members' ids, in rank order (slot_ids_nr of them) */
	size_t slot_ids_nr, slot_ids_alloc;
	bool *slot_claims;            /* slot.claims: which members hold claims (worker_lending.c) */
	size_t slot_claims_alloc;
	int64_t next_push_ms;         /* wall ms: no push before this (the slot we used) */
	int64_t join_after_ms;        /* wall ms: a newcomer waits this long for a join slot */
	unsigned join_losses;         /* join slots lost to other newcomers */
	unsigned join_lates;          /* join slots in a row our turn outlasted (dg_worker_join_late) */
	int64_t crumbs_since_ms;      /* wall ms: a newcomer left a few tasks to the members, or saw them taken (0: not now) */
	size_t crumbs_queued;         /* the tasks queued at its last look */
	int64_t crumbs_next_ms;       /* wall ms: leaving crumbs, its next turn no sooner (0: none) */
	/* a newcomer's looks at the queue: how many the members took in a cycle (dg_worker_leaves_crumbs) */
	struct queue_look {
		int64_t ms;           /* wall ms */
		size_t queued;
	} queue_looks[DG_QUEUE_LOOKS];
	size_t queue_looks_nr;        /* kept, at most DG_QUEUE_LOOKS; the newest at queue_looks_next - 1 */
	size_t queue_looks_next;
	int64_t join_jitter_ms;       /* a newcomer pushes this long into its join slot */
	int64_t slot_moved_at;        /* wall ms: a fresh view first moved the slot we woke for (0: none) */
	int64_t newest_join;          /* unix seconds: the newest registration of a member */
	size_t joins_lately;          /* members registered in the last joins_window_ms */
	int64_t joins_window_ms;      /* DG_PUSHSLOT_JOIN_SPREAD slots, or since we started if less */
	bool registered;              /* nodes/ME.json on main says what we would write */
	/*
	 * A budget grid's join (doc/protocol.md, "Joining"): our registration
	 * also went to refs/dgrid/join/ME, a ref nobody else writes, so the
	 * join cannot be lost to another newcomer's push; it is deleted once
	 * the registration is on main.
	 */
	bool join_ref;                /* refs/dgrid/join/ME is in our view */
	bool on_main;                 /* nodes/ME.json is on main (stopped or not) */
	char joined_at[32];           /* the join's registered_at, kept when we reach main */
	char join_writing[32];        /* the registered_at of the join this step pushes */
	int64_t task_ms_avg;          /* mean run time of our tasks (0: none ran yet) */
	struct dg_run_time grid_run;  /* the grid's (all its repositories'), from main's reports */
	struct dg_task *backlog;      /* claimed in a batch, waiting for a free slot */
	size_t backlog_nr, backlog_alloc;

	/* several repositories (members.h, worker_members.c) */
	const char *repo_url;         /* the member the worker works on now */
	struct dg_members members;    /* [0] is the home, named by --repo */
	struct dg_store **stores;     /* each member's, opened when first looked at */
	size_t current;               /* store == stores[current] */
	size_t peek_next;             /* the member an idle worker looks at next */
	int64_t next_look;            /* monotonic ms */
	bool *drained;                /* nothing queued or running at the last look */
	bool *refused;                /* a live worker there has our node id: never go */
	char *spool_base;             /* the home's spool; other members' sit beside it */

	/* signed tasks (worker_trust.c) */
	struct dg_signers signers;    /* --allowed-signers; nr 0 and no path: none */
	int64_t signers_mtime_ns;     /* the file's, when it was loaded */
	bool unsigned_grid_noted;     /* logged: the grid wants signatures we cannot check */
	struct dg_signers repo_signers;  /* trust/allowed_signers when signed by a quorum of ours */
	unsigned char repo_trust_seen[32];  /* hash of the trust files last judged */
	bool policy_trusted;          /* --signed-policy: dgrid.json is signed by a quorum of ours */
	/* the node's own key and its view of the others' (worker_identity.c) */
	struct dg_sshkey key;         /* signs everything the node writes (record.h) */
	struct dg_nodekeys *nodekeys; /* pins of the member worked on, beside its spool */
	bool legacy_own_claims;       /* our registration had no key: our older claims are unsigned */
	int64_t next_key_learn;       /* monotonic ms: a step reads the registrations again */
	struct dg_pick_memo *pick_memo;  /* queue shards that held nothing for us (pick_memo.h) */
	char **replica_tasks;         /* tasks whose replicas we claimed (replica.h), newest last */
	signed char *replica_verdicts;/* and what their quorum said of ours (enum dg_replica_verdict) */
	size_t replica_tasks_nr, replica_tasks_alloc;
	char *replica_file;           /* both, kept beside the spool: adaptive replication's record */
	unsigned char policy_seen[32];/* hash of dgrid.json and its signatures last judged */

	struct dg_node_status snap;
	struct dg_http *http;
};


/*
 * worker_budget.c: after a fetch, the grid's push budget, its members and
 * our rank; whether we may push now; when next; how many tasks a step
 * claims (the free slots without a budget, more while pushes collide; a
 * batch for the cycle with one).
 */
void dg_worker_budget_update(struct worker *w);
void dg_worker_budget_rejoin(struct worker *w);       /* a lost join: wait again */
int64_t dg_worker_next_push(const struct worker *w);  /* wall ms; 0 without a budget */
bool dg_worker_may_push(const struct worker *w);
/* Forgets the members read from main's registrations (another repository, or the end). */
void dg_worker_budget_forget(struct worker *w);
/* The start (wall ms) of the slot a turn taken now is for (while dg_worker_may_push holds). */
int64_t dg_worker_turn_slot(const struct worker *w);
/* Whether the slot starting at slot_ms is ours in the current view (a member's, or a join slot for a newcomer). */
bool dg_worker_slot_ours(const struct worker *w, int64_t slot_ms);
/* Whether that slot is a join slot lent to us, a member holding its last report on a drained grid (pushslot.h) */
bool dg_worker_slot_lent(const struct worker *w, int64_t slot_ms);
/*
 * Nothing queued at the known tip, flat or in shards (any file: a bad one
 * is the step's to reject). Asked at every turn, so it stops at the first
 * file rather than count a queue that may hold 100,000.
 */
bool dg_worker_queue_empty(struct worker *w);
/*
 * worker_lending.c: a drained grid's slots lent to the members that hold
 * claims (pushslot.h). _lent_look after a look at the branch: whether its
 * queue is empty, and if we may borrow, who holds claims. _borrows: we
 * hold our last report and the queue is empty. _looks_for_lent: we hold
 * our last report, and look between turns, as a busy worker does.
 */
void dg_worker_lent_look(struct worker *w);
/* Each member's claims on main, by rank (slot_ids_nr of held): 0, or -1 past 4,096 claims or on a read error. */
int dg_worker_claims_by_rank(const struct worker *w, size_t *held);
bool dg_worker_borrows(const struct worker *w);
bool dg_worker_looks_for_lent(const struct worker *w);
void dg_worker_slot_ids_release(struct worker *w);
/* A lent slot that started at slot_ms was used already: main's tip was made in it */
bool dg_worker_lent_slot_used(struct worker *w, int64_t slot_ms);
bool dg_worker_join_taken(const struct worker *w);   /* another newcomer joined in this slot */
bool dg_worker_join_late(struct worker *w, int64_t slot_ms);   /* our join slot ended: take another */
/* Our registration's active_at is due to be written (urgent: in a push of its own; pushslot.h) */
bool dg_worker_slot_keep_due(const struct worker *w, bool urgent);
/* Main holds our registration, but the schedule no longer counts us a member: we join again */
bool dg_worker_rejoins(const struct worker *w);
/* Our join landed without its claim, and we hold nothing: we claim in a join slot until our own comes */
bool dg_worker_unclaimed_join(const struct worker *w);
void dg_worker_budget_used(struct worker *w);         /* after a step that pushed or tried */
size_t dg_worker_claim_want(const struct worker *w, size_t queued);
size_t dg_worker_backlog_surplus(const struct worker *w);  /* backlog tasks to give back (budget grid) */
bool dg_worker_leaves_crumbs(struct worker *w, size_t queued); /* a newcomer leaves a few tasks to the members */
size_t dg_worker_cycle_share(const struct worker *w, size_t queued, size_t batch);
void dg_worker_join_stood_back(struct worker *w);   /* a newcomer that stood back keeps its look at the queue */
void dg_worker_contention(struct worker *w, bool lost);  /* a step lost or won its race */
unsigned dg_worker_crowd_seconds(const struct worker *w);  /* what a crowd adds to a lease */
/* worker_drought.c: the stretches in which we could not reach or change the host */
void dg_worker_drought_failed(struct worker *w);       /* an attempt at the host failed */
void dg_worker_drought_ended(struct worker *w);        /* the host took a step of ours */
unsigned dg_worker_drought_seconds(const struct worker *w);  /* what it adds to the leases we judge */
/*
 * worker_rescue.c: the leases of the claims we hold, by our clock, and the
 * rescue pushed to refs/dgrid/nodes/ME when our pushes to the branch have
 * not renewed them in time. _landed after a push of ours that wrote the
 * claim landed (since_ms: before the push began).
 */
/* Do we hold this claim: running it, claimed for a free slot, or its result not yet reported? */
bool dg_worker_holds(const struct worker *w, const char *task_id, unsigned attempt);
void dg_worker_lease_landed(struct worker *w, const char *task_id, unsigned attempt,
			    unsigned lease_seconds, int64_t since_ms);
/* a claim we hold whose lease runs past what a renewal at now_ms would state: no renewal needed */
bool dg_worker_lease_outlasts(struct worker *w, const char *task_id, unsigned attempt, unsigned lease_seconds,
			      int64_t now_ms);
/* a claim of ours read on the branch with no lease entry yet (a result spooled in a previous life) */
void dg_worker_lease_seen(struct worker *w, const struct dg_task *t);
int64_t dg_worker_rescue_at(struct worker *w);       /* monotonic ms; INT64_MAX: none due */
/*
 * pushes a rescue if one is due within ahead_ms; slot_failed: our turn
 * failed and the host counted no push of ours
 */
void dg_worker_rescue(struct worker *w, const char *state, bool slot_failed, int64_t ahead_ms);
void dg_worker_rescue_free(struct worker *w);
int64_t dg_worker_report_wait_ms(const struct worker *w, int64_t slack_ms);  /* a result's wait for others to share its push */
unsigned dg_worker_cycle_seconds(const struct worker *w);

/*
 * worker_branch.c: _observe after each fetch counts the commits other nodes
 * added; _busy is the share of time the branch was taken lately (their
 * rate times our turn); _stand_aside says whether a worker that holds
 * nothing should let a crowded, busy branch be and look again later.
 */
/* after a fetch that took fetch_ms, or a step (-1) whose transaction may have fetched */
void dg_worker_branch_observe(struct worker *w, int64_t fetch_ms);
void dg_worker_branch_pushed(struct worker *w, int64_t step_ms);  /* a step that pushed or tried */
void dg_worker_branch_forget(struct worker *w);
double dg_worker_branch_busy(const struct worker *w);
/* a turn of ours as the host's pace is now: the last fetches' time and steps' */
int64_t dg_worker_branch_turn_ms(const struct worker *w);
/* the other nodes whose commits we saw lately (a crowd that pushes, not one that is registered) */
size_t dg_worker_branch_pushers(const struct worker *w);
/* another node's newest commit that we saw claimed tasks: it may hold work to report */
bool dg_worker_branch_others_hold(const struct worker *w);
/* those who push here as far as we can tell: registered, seen pushing lately, or 2 after a lost race */
size_t dg_worker_crowd_nodes(const struct worker *w);
bool dg_worker_stand_aside(struct worker *w);
/* our registration is on the branch we hold: we claimed here, and others count us */
bool dg_worker_branch_registered(struct worker *w);
/* about to report quick tasks on a busy branch that an earlier node carries: claim no more */
bool dg_worker_yields_quick_tasks(const struct worker *w, size_t queued);
/* a peek saw the branch move since our last fetch: what we know is stale */
bool dg_worker_branch_unfetched(const struct worker *w);
/* holding nothing, a look starts with a peek at the remote tip (worker_branch.c) */
enum dg_peek {
	DG_PEEK_FETCH,                /* fetch now */
	DG_PEEK_BUSY,                 /* others keep the branch busy: no fetch, wait as usual */
	DG_PEEK_AGAIN,                /* it moved: peek again after *again_ms */
	DG_PEEK_CURRENT,              /* the tip is the one we hold: a fetch would bring nothing */
};
enum dg_peek dg_worker_peek(struct worker *w, int64_t *again_ms);
/* how long one that stood aside waits before it knows the queue's pace (ms) */
int64_t dg_worker_aside_no_pace_ms(struct worker *w);
/* when a worker that stood aside looks again (ms from now) */
int64_t dg_worker_stand_aside_ms(const struct worker *w, int64_t floor_ms, int64_t no_pace_ms);

/*
 * worker_upkeep.c: on protocol 3 grids, archives results beyond the
 * policy's keep_results and compacts main's history past compact_after
 * commits (doc/protocol.md). Errors are logged; the worker goes on.
 */
void dg_worker_upkeep(struct worker *w);

/*
 * worker_trust.c: the worker's allowed signers (tasksign.h). _init loads
 * --allowed-signers (an error is fatal at start-up); _check, just before a
 * task starts, reloads the file when it changed and verifies the task,
 * setting r->trust or r->reject_reason; _may_claim is false on a grid whose
 * policy requires signed tasks when this worker has no signers to check
 * them with (it then claims nothing, and says so once).
 */
int dg_worker_trust_init(struct worker *w);
/*
 * In each step, with the step's dgrid.json (NULL: none): re-judges the
 * repository's signed signers list and, with --signed-policy, the
 * signatures of dgrid.json, when they changed.
 */
int dg_worker_trust_refresh(struct worker *w, struct dg_txn *txn, const struct dg_strbuf *policy);
int dg_worker_trust_check(struct worker *w, struct running *r);
bool dg_worker_trust_may_claim(struct worker *w);
void dg_worker_trust_release(struct worker *w);

/*
 * worker_identity.c: the node key (created beside the spool on first
 * start) and the pins of the others' keys (nodekeys.h). _init opens the
 * key and makes it the process's signer; _check refuses to start when the
 * home's nodes/ME.json names another key that no trusted revocation
 * released; _bind/_unbind follow the member worked on (its pins file sits
 * beside its spool, and its reaper judges with them).
 */
int dg_worker_identity_init(struct worker *w, const char *spool_dir);
int dg_worker_identity_check(struct worker *w);
int dg_worker_identity_bind(struct worker *w, const char *spool_dir);
void dg_worker_identity_unbind(struct worker *w);
void dg_worker_identity_release(struct worker *w);
/* May we write our registration over prev (an existing nodes/ME.json)? */
bool dg_worker_identity_may_register(struct worker *w, struct dg_txn *txn, const json_t *prev);
/* Is a claim in our name really ours: signed by our key (or an unsigned one from before we had one)? */
bool dg_worker_identity_owns(struct worker *w, const json_t *claim);

/*
 * worker_jobs.c: results of the tasks that ended go to the spool and the
 * pending list (or, killed at shutdown, to the hand-back list); kill_jobs
 * kills every running task, to be handed back when requeue is true.
 */
void dg_worker_service_jobs(struct worker *w);
void dg_worker_kill_jobs(struct worker *w, bool requeue);

/*
 * worker_replicas.c: the tasks whose replicas this node ran, and what their
 * quorum said of them, kept in <spool>.replicas across restarts: the
 * picker's memory (one replica of a task per node) and adaptive
 * replication's record (replica.h). _alone updates the undecided verdicts
 * from the canonical results the transaction sees and draws.
 */
void dg_worker_replicas_load(struct worker *w, const char *spool_dir);
void dg_worker_replicas_remember(struct worker *w, const char *task, signed char verdict);
bool dg_worker_replicas_alone(struct worker *w, struct dg_txn *txn);
void dg_worker_replicas_release(struct worker *w);

/* worker_step.c: one transaction that reports, hands back and claims. */
int dg_worker_step(struct worker *w);
/*
 * Makes a dgrid.json (NULL: the grid has none) the worker's policy; an
 * invalid one leaves the defaults and a warning. DG_EPROTOCOL when the grid
 * needs a newer dgrid: the worker must then write nothing more.
 */
int dg_worker_policy(struct worker *w, const struct dg_strbuf *json);

/*
 * worker_cancel.c: after a fetch, kills the running tasks a cancel request
 * names and reports those of the backlog "cancelled" (cancel.h).
 */
void dg_worker_cancel_check(struct worker *w);

/* worker_step.c: starts claimed tasks on free slots, keeps the rest in the backlog */
void dg_worker_start_backlog(struct worker *w);

/*
 * worker_members.c: a grid of several repositories. init reads the list in
 * the home's dgrid.json (the home's store open and fetched) and binds the
 * member the worker starts on; look_around, for a worker that holds
 * nothing, looks at one other member and moves there (1) when it has
 * queued tasks.
 */
int dg_worker_fetch_policy(struct worker *w);     /* fetch, then the policy */
int dg_worker_members_init(struct worker *w, const char *spool_dir);
void dg_worker_members_release(struct worker *w);
bool dg_worker_holds_nothing(const struct worker *w);
/* what the last look found in the queue: something to claim, or nothing (since when) */
void dg_worker_queue_seen(struct worker *w, bool empty);
/* on a grid with a fetch budget, the least wait (ms) between the idle polls of a worker nobody counts; 0: none */
int64_t dg_worker_unseen_poll_ms(struct worker *w);
/* how many nodes' idle polls ours stands for: the sharers, over our own weight */
double dg_worker_idle_crowd(const struct worker *w);
/* on a grid with a fetch budget (fetches a minute), the wait (ms) between our idle polls that shares it */
int64_t dg_worker_fetch_share_ms(const struct worker *w, unsigned budget);
int dg_worker_look_around(struct worker *w);
bool dg_worker_members_drained(const struct worker *w);

/* worker_node.c */
int dg_worker_register(struct worker *w);
/* marks the registration stopped: a budget grid's slot is free again */
int dg_worker_unregister(struct worker *w);
/*
 * The registration inside another transaction; stopped marks it so. A
 * newcomer's also goes to its join ref; any other deletes that ref.
 */
int dg_worker_register_txn(struct worker *w, struct dg_txn *txn, bool stopped);
/* a stopping worker still to say so in its registration, in a push of its own if need be */
bool dg_worker_stop_mark_due(const struct worker *w);
/* Deletes our join ref in this push once the tip holds our live registration. */
int dg_worker_join_cleanup_txn(struct worker *w, struct dg_txn *txn);
int dg_worker_heartbeat(struct worker *w, const char *state);
void dg_worker_snapshot(struct worker *w, const char *state);

#endif
