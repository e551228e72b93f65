/*
 * task.h - tasks, results and the grid policy: parsing, validation and
 * serialisation of the JSON files in the state repository (DESIGN.md §1).
 *
 * A task keeps the whole JSON object it was parsed from (doc), so fields
 * this version does not know are preserved when the task is moved from the
 * queue to in_progress and back. Every rejection carries a precise reason
 * in dg_error_last(): "line 3 column 14: expected integer for
 * timeout_seconds", "task_id '../x' has characters outside [A-Za-z0-9_-]",
 * "file name 'a.json' does not match task_id 'b'", "script is 7,312 bytes,
 * limit 5,000".
 *
 * Ownership: dg_task_parse/dg_result_parse fill caller-owned structs;
 * dg_task_release/dg_result_release free their contents.
 */
#ifndef DG_TASK_H
#define DG_TASK_H

#include "common.h"
#include "tasksched.h"
#include "strbuf.h"

#include <jansson.h>

/*
 * Limits of a grid. Defaults from the original design; the repository's
 * dgrid.json ("policy" file at its root) may override any of them.
 */
struct dg_policy {
	size_t id_max;              /* task_id length, 64 */
	size_t script_max;          /* bytes, 5000 */
	unsigned timeout_min;       /* seconds, 10 */
	unsigned timeout_max;       /* seconds, 300 */
	size_t file_max;            /* bytes of one task file, 65536 */
	size_t output_cap;          /* bytes kept per stream, 10240 */
	unsigned max_attempts;      /* claims before a task is abandoned, 3 */
	unsigned heartbeat_interval;/* seconds, 30 */
	unsigned node_timeout;      /* seconds without heartbeat = dead, 90 */
	uint64_t memory_bytes;      /* sandbox memory, 512 MiB */
	unsigned pids;              /* sandbox processes, 64 */
	uint64_t tmp_bytes;         /* sandbox /tmp, 64 MiB */
	unsigned lease_margin;      /* seconds a claim outlives its timeout (protocol 2), 60 */
	unsigned fetch_budget;      /* idle polls a minute, whole grid; 0 unlimited */
	bool fetch_budget_set;      /* else the host's default (github.com: 900) */
	unsigned push_budget;       /* pushes a minute, whole grid, all refs; 0 unlimited */
	bool push_budget_set;       /* else the host's default (github.com: 6) */
	unsigned claim_batch_max;   /* most tasks one push claims (budget or crowded grid), 64 */
	unsigned slot_keep_seconds; /* a budget grid's member silent on main this long gives its slot up, 3600 */
	unsigned node_ref_keep_seconds; /* a node ref unchanged this long is deleted (reaper.h), 86400 */
	unsigned keep_results;      /* results kept on main before archiving (protocol 3), 10000; 0 all */
	unsigned compact_after;     /* commits on main before a worker compacts (protocol 3), 0 never */
	unsigned retry_delay_max;   /* seconds: the longest wait before a task's retry, 3600 */
	bool fair_share;            /* intake groups queued tasks by submitter (layout.h), false */
	bool require_signed;        /* workers run only signed tasks (tasksign.h), false */
	unsigned replicas;          /* a task's replicas when it names none (replica.h), 1 */
	unsigned quorum;            /* and their quorum; 0: a majority */
	unsigned adaptive_replication; /* K: a node with K agreeing replicas in a row may run alone; 0 off */
	unsigned protocol;          /* the grid's protocol version, 1 */
	bool heartbeat_set;         /* dgrid.json sets heartbeat_interval or node_timeout */
	unsigned ignored_nr;        /* keys this version does not know, skipped */
	char ignored[40];           /* the first of them, quoted for a log line */
};

/*
 * The protocol this dgrid speaks: how the repository is laid out and what
 * a worker must do (doc/policy.md, "Protocol version"). A grid states its own in dgrid.json
 * ("protocol", default 1). A dgrid that finds a higher one writes nothing
 * to that grid - no claim, result, reap or heartbeat - and says why.
 * Unknown policy keys, by contrast, are only skipped: a newer dgrid adds
 * keys, and a key an older one may ignore safely needs no new protocol.
 */
#define DG_PROTOCOL 3

/*
 * Protocol 1 judges a claim by its owner's heartbeats, which every worker
 * pushes to a side ref every heartbeat_interval, busy or idle. Protocol 2
 * makes a claim a lease: it lapses when an observer has seen it unchanged
 * for longer than its "lease_seconds" (the task's timeout + lease_margin),
 * so workers push nothing while idle. Heartbeats stay for grids whose
 * dgrid.json sets heartbeat_interval or node_timeout (fast detection of
 * dead workers on small grids); then both rules apply.
 */
bool dg_policy_heartbeats(const struct dg_policy *pol);
unsigned dg_policy_lease_seconds(const struct dg_policy *pol, unsigned timeout_seconds);

extern const struct dg_policy dg_policy_default;

/*
 * The widest limits any dgrid.json may set. A claim the worker itself
 * made is read back with these, never with the policy of the moment: a
 * policy tightened while a task runs must not orphan it (its result would
 * be dropped as "superseded"). Files still in the queue are judged by the
 * current policy.
 */
extern const struct dg_policy dg_policy_loosest;

/*
 * Applies the overrides in a dgrid.json document to *pol (which should
 * start as dg_policy_default). Out-of-range values and wrong types are
 * errors (DG_EINVALID) naming the key; *pol is unchanged on error.
 * Unknown keys are counted in pol->ignored_nr, the first named in
 * pol->ignored.
 */
int dg_policy_parse(struct dg_policy *pol, const char *json, size_t len);

/*
 * 0 when this dgrid may write to a grid with this policy; DG_EPROTOCOL,
 * with a message that says what the grid needs, when the grid is newer.
 */
int dg_policy_check_protocol(const struct dg_policy *pol);

/*
 * The grid's fetch budget in fetches a minute, 0 for none: the policy's
 * "fetch_budget", else 900 for a repository on github.com (its guidance is
 * about 15 reads a second), else none.
 */
unsigned dg_policy_fetch_budget(const struct dg_policy *pol, const char *repo_url);

/*
 * Pushes a minute the whole grid may make (pushslot.h): dgrid.json's
 * "push_budget", else 6 for a repository on github.com (its guidance),
 * else 0: no limit.
 */
unsigned dg_policy_push_budget(const struct dg_policy *pol, const char *repo_url);

struct dg_task {
	char *task_id;
	char *script;
	unsigned timeout_seconds;
	/* claim, present once the task is in tasks/in_progress/ */
	char *node_id;              /* NULL while queued */
	char *claimed_at;           /* RFC 3339 UTC */
	unsigned attempt;           /* 1 for the first claim; 0 while never claimed */
	json_t *doc;                /* the whole object, unknown fields included */
	struct dg_sched sched;      /* priority, not_before, requires (tasksched.h) */
};

#define DG_TASK_INIT { NULL, NULL, 0, NULL, NULL, 0, NULL, DG_SCHED_INIT }

/*
 * Parses and validates a task file. file_name is the file's base name
 * ("task-001.json") and must equal task_id + ".json"; pass NULL to skip
 * that check (dgrid submit --id). Returns 0, or DG_EINVALID with the reason.
 *
 * task_id and script are required; timeout_seconds is optional and
 * defaults to 30 (clamped into [timeout_min, timeout_max]). The claim
 * fields node_id (an id like task_id), claimed_at (string) and attempt
 * (integer) are read when present, and the scheduling fields (tasksched.h).
 * Type errors name the position of the value ("line 1 column 60: expected
 * integer for timeout_seconds, got string"). pol NULL means
 * dg_policy_default. On error *task is untouched.
 */
int dg_task_parse(struct dg_task *task, const char *buf, size_t len,
		  const char *file_name, const struct dg_policy *pol);
void dg_task_release(struct dg_task *task);

/* Records a claim (node, time, attempt) in the task and its doc. */
void dg_task_set_claim(struct dg_task *task, const char *node_id,
		       const char *claimed_at, unsigned attempt);
/*
 * A claim's lease (protocol 2): "lease_seconds" in the claim, written by the
 * claimer, or the policy's for a claim without a usable one.
 */
void dg_task_set_lease(struct dg_task *task, unsigned seconds);
unsigned dg_task_lease(const struct dg_task *task, const struct dg_policy *pol);
/* Removes the claim fields (for returning a task to the queue). */
void dg_task_clear_claim(struct dg_task *task);

/* Serialises doc (with claim fields when set), pretty, ending in "\n". */
void dg_task_to_json(struct dg_strbuf *out, const struct dg_task *task);

/*
 * The one definition of the two kinds of id. A task id is 1..id_max of
 * [A-Za-z0-9_-] (id_max is at most 200). A node id is 1..DG_NODE_ID_MAX of
 * [A-Za-z0-9_.-] that is also a valid Git ref component and no option:
 * it does not start with '.' or '-', contains no "..", and does not end
 * with '.' or ".lock". Both set the reason when they refuse.
 */
#define DG_NODE_ID_MAX 64
int dg_node_id_check(const char *id);

/* Is name (a base name) acceptable as a task id? Sets the reason if not. */
int dg_task_id_check(const char *id, const struct dg_policy *pol);

/*
 * Is a task file of size bytes within pol->file_max? Lets a reader refuse
 * a huge file before reading it, with the same reason dg_task_parse gives
 * ("task file is 10,485,760 bytes, limit 65,536"). pol NULL: the defaults.
 */
int dg_task_check_size(size_t size, const struct dg_policy *pol);
/*
 * The same for a file in the repository, which may also carry its signed
 * bytes and signature (tasksign.h): a bound before reading it; the parse
 * then holds the task without them to file_max.
 */
int dg_task_check_stored_size(size_t size, const struct dg_policy *pol);

enum dg_result_status {
	DG_RESULT_SUCCESS,
	DG_RESULT_FAILED,
	DG_RESULT_TIMEOUT,
	DG_RESULT_REJECTED,
	DG_RESULT_ABANDONED,
	DG_RESULT_CANCELLED,          /* dgrid cancel, or a request file (cancel.h) */
	DG_RESULT_DEPENDENCY_FAILED,  /* a task it depends on ended otherwise than success */
	DG_RESULT_NO_QUORUM,          /* its replicas can no longer agree (replica.h) */
};

const char *dg_result_status_name(enum dg_result_status status);
int dg_result_status_parse(enum dg_result_status *out, const char *name);

struct dg_result {
	char *task_id;
	char *node_id;
	int exit_code;
	char *stdout_text;          /* valid UTF-8 after dg_result_set_output */
	char *stderr_text;
	char timestamp[32];         /* RFC 3339 UTC, when the result was made */
	enum dg_result_status status;
	/* beyond the seed schema */
	bool stdout_truncated;
	bool stderr_truncated;
	char *reason;               /* why rejected/abandoned/timeout; NULL if none */
	unsigned attempt;
	char *started_at;           /* NULL if it never started */
	uint64_t duration_ms;
	char *executor;             /* "native", "docker", "process"; NULL if none */
	json_t *doc;                /* set by dg_result_parse: extra fields */
	/*
	 * Bytes in stdout_text/stderr_text, embedded NULs included. 0 means
	 * "use strlen", so code that only sets the text keeps working.
	 */
	size_t stdout_len;
	size_t stderr_len;
};

#define DG_RESULT_INIT { 0 }

/*
 * Stores output bytes as text: invalid UTF-8 becomes U+FFFD and NUL bytes
 * are kept as \u0000, so any byte string yields a valid JSON string.
 */
char *dg_text_from_bytes(const char *bytes, size_t len);
/* The same, also storing the text's length (it may contain NUL) in *out_len. */
char *dg_text_from_bytes_n(const char *bytes, size_t len, size_t *out_len);

/*
 * Replaces stdout_text/stderr_text (and their lengths) with text made from
 * the raw output bytes by dg_text_from_bytes. Truncation flags are left to
 * the caller, which knows whether it stopped reading at the cap.
 */
void dg_result_set_output(struct dg_result *res, const char *out, size_t out_len,
			  const char *err, size_t err_len);

/* Seed fields first, in the seed's order; then the extra ones. */
void dg_result_to_json(struct dg_strbuf *out, const struct dg_result *res);
/*
 * Reads a result file. The seed fields are required with their seed types;
 * the extra fields are optional but must have the right type when present.
 * Unknown fields stay in res->doc and are written back by dg_result_to_json.
 */
int dg_result_parse(struct dg_result *res, const char *buf, size_t len);
void dg_result_release(struct dg_result *res);

/* The current UTC time as "2026-11-27T10:01:23Z". */
void dg_utc_now(char out[32]);
/* The same for a given time. */
void dg_utc_at(char out[32], int64_t unix_seconds);

#endif
