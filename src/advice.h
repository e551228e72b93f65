/*
 * advice.h - what limits a grid now, said from figures measured in its
 * repository (issue 11, item 7; doc/running.md, "What limits the grid").
 *
 * Two halves:
 *
 *  - dg_advice_measure() (advice_measure.c) fills struct dg_advice_figures
 *    from a grid already loaded (grid.h) and the store it was loaded from:
 *    the nodes, claims and queue come from the grid, the pushes from one
 *    walk of main's history that stops at the window's start on every
 *    path (store_window.h). It fetches nothing: callers measure what they
 *    have just fetched and loaded.
 *  - dg_advice_judge() (advice.c) turns figures into a verdict, a one-line
 *    text and the rates it used. It is pure: no I/O, no libgit2, no
 *    allocation, nothing from the repository in the text but numbers, so
 *    the text needs no escaping and tests/unit/test_advice.c covers every
 *    verdict. dg_advice_describe() and dg_advice_json() (the one JSON form
 *    of `dgrid status --json` and the dashboard's status.json) only format
 *    a judged advice.
 *
 * The verdict, first match wins:
 *
 *   push_budget   a budget is set and main took at least DG_ADVICE_SATURATED
 *                 (85 %) of the pushes the schedule lets its members make
 *                 (doc/protocol.md "Push budget"): B x 0.85 x n / (n + J)
 *                 a minute for n members, J = 1 + n / 4 (n = 0: B x 0.85).
 *                 Whatever else waits, more workers only lengthen the cycle.
 *   idle          nothing is queued and some (or no) worker holds no claim
 *   ok            nothing is queued and every active worker holds a claim
 *   workers       tasks wait and no active worker has a free slot (or no
 *                 worker is active): more workers would help
 *   fetch_budget  tasks wait, a worker holds no claim, and the fetch budget
 *                 stretches the idle poll beyond PULL_INTERVAL's default:
 *                 72 s x sharers / fetch_budget > 10 s (the members,
 *                 and the dormant weighed: dg_pushslot_fetch_weight)
 *   queue         tasks wait while slots are free: the next poll or push
 *                 slot claims them (if it lasts, those workers are gone or
 *                 cannot take these tasks)
 *
 * Lifecycle: both structs are plain values, filled by the calls; nothing
 * to release.
 */
#ifndef DG_ADVICE_H
#define DG_ADVICE_H

#include "common.h"

#include <jansson.h>

#define DG_ADVICE_WINDOW 600         /* seconds of main's history counted */
#define DG_ADVICE_MIN_SPAN 60        /* a rate is never taken over less */
#define DG_ADVICE_WALK_MAX 20000     /* commits counted at most */
#define DG_ADVICE_SATURATED 0.85     /* share of the schedule that is saturation */
#define DG_ADVICE_PULL_DEFAULT 10    /* PULL_INTERVAL's default, seconds */
#define DG_ADVICE_POLL_SHARE 72      /* seconds x nodes / fetch_budget (protocol.md) */

enum dg_advice_verdict {
	DG_ADVICE_OK,
	DG_ADVICE_IDLE,
	DG_ADVICE_WORKERS,
	DG_ADVICE_QUEUE,
	DG_ADVICE_PUSH_BUDGET,
	DG_ADVICE_FETCH_BUDGET,
};

/* What the repository says; every count is of what main holds now. */
struct dg_advice_figures {
	int64_t window_seconds;   /* the window asked for: DG_ADVICE_WINDOW */
	int64_t span_seconds;     /* the part of it main's history covers: less
				     when history begins inside it */
	uint64_t pushes;          /* commits on main in the span (committer time) */
	bool pushes_at_least;     /* the walk stopped at DG_ADVICE_WALK_MAX */
	bool history_begins;      /* main's history begins inside the window (a
				     new grid, or compacted): counted what exists */
	unsigned push_budget;     /* pushes a minute, 0 for none */
	unsigned fetch_budget;    /* fetches a minute, 0 for none */
	unsigned claim_batch_max;
	size_t registered;        /* registrations in nodes/: share the fetch budget */
	size_t members;           /* of them not stopped nor dormant: share the push schedule */
	double poll_shares;       /* the fetch budget's sharers: the members, and
				     the dormant weighed (pushslot.h); at least
				     members */
	size_t active;            /* members neither stopped nor stale by heartbeat */
	size_t idle;              /* active nodes holding no claim */
	size_t slots;             /* task slots of the active nodes */
	size_t free_slots;        /* of them not covered by their own claims */
	size_t queued;
	size_t running;           /* claims in tasks/in_progress, whoever holds them */
};

#define DG_ADVICE_TEXT_MAX 320

struct dg_advice {
	enum dg_advice_verdict verdict;
	struct dg_advice_figures fig;   /* the figures judged, as given */
	int64_t rate_seconds;     /* the span a rate is taken over: at least
				     DG_ADVICE_MIN_SPAN, so a burst on a new
				     grid is not a rate */
	double push_rate;         /* pushes a minute over rate_seconds */
	double push_ceiling;      /* what the schedule lets the members push a
				     minute; 0 without a budget */
	double poll_seconds;      /* an idle worker's poll: the default, or the
				     fetch budget's share when that is longer */
	double sharers;           /* the fetch budget's sharers (poll_shares, at least members) */
	double fetch_rate;        /* their idle polls a minute */
	bool fetch_governs;       /* poll_seconds comes from the fetch budget */
	char text[DG_ADVICE_TEXT_MAX]; /* one line, ASCII, no newline */
};

/* Judges fig (see above); cannot fail. */
void dg_advice_judge(struct dg_advice *out, const struct dg_advice_figures *fig);

/* "ok", "idle", "workers", "queue", "push_budget", "fetch_budget". */
const char *dg_advice_verdict_name(enum dg_advice_verdict v);

/*
 * One line of the figures judged, for people ("52 pushes on main in the
 * last 10 min; push budget 6/min ..."), into buf (always NUL-terminated).
 */
void dg_advice_describe(char *buf, size_t size, const struct dg_advice *a);

/*
 * The advice as JSON, as `dgrid status --json` and status.json give it:
 * {"verdict", "text", "figures_text", "figures": {every figure and rate}}.
 * A new reference, owned by the caller.
 */
json_t *dg_advice_json(const struct dg_advice *a);

struct dg_grid;
struct dg_store;

/*
 * Measures fig from grid (loaded with DG_GRID_LOAD_TASKS) and the store it
 * was loaded from, at grid->now; repo_url picks the budgets' host defaults
 * (policy: github.com). Walks main's history back to the window's start
 * and no further, and at most DG_ADVICE_WALK_MAX commits. 0, or a negative
 * code with dg_error_last() when the history cannot be read.
 */
int dg_advice_measure(struct dg_advice_figures *fig, struct dg_store *store,
		      const struct dg_grid *grid, const char *repo_url);

#endif
