/*
 * dashboard_model.h - what the dashboard shows, counted once from a loaded
 * grid: every result with its status and times, newest first; the newest
 * failures; results per node; the series behind the three charts.
 *
 * The dashboard is three layers, each using only the ones below it:
 *
 *   dashboard.c          dg_dashboard_write: counts, renders, writes files
 *   dashboard_render.h   index.html and status.json from a struct dash
 *   dashboard_model.h    this: the counting and the field helpers
 *
 * so the page and status.json are drawn from the same numbers, and
 * neither view knows about files. Nothing here prints, escapes or writes.
 *
 * Lifecycle: dash_init() fills a caller-owned struct dash (no allocation of
 * the struct); it borrows the grid and the options, which must outlive it.
 * dash_release() frees what dash_init allocated. Counting is linear in the
 * number of results on main, plus the sort; archived results are counted
 * from the archive's summary (archive.h), so a grid of a million results
 * costs what its main branch holds.
 *
 * The field helpers read one member of a document from the repository,
 * which anyone may push to: a NULL document, a missing member or one of
 * another type all read as absent (NULL, false, -1).
 */
#ifndef DG_DASHBOARD_MODEL_H
#define DG_DASHBOARD_MODEL_H

#include "advice.h"
#include "census.h"
#include "dashboard.h"  /* struct dg_dashboard_opts only */
#include "grid.h"

#define DASH_HOURS 24          /* bars: clock hours, the current one last */
#define DASH_POINTS 25         /* backlog samples: now - 24 h ... now, hourly */
#define DASH_FAILURES_MAX 20   /* newest failures listed on their own */

enum dash_status {
	DASH_ST_SUCCESS, DASH_ST_FAILED, DASH_ST_TIMEOUT, DASH_ST_REJECTED,
	DASH_ST_ABANDONED, DASH_ST_CANCELLED, DASH_ST_DEPENDENCY_FAILED, DASH_ST_OTHER, DASH_ST_NR
};
extern const char *const dash_status_names[DASH_ST_NR];

struct dash_result {
	const struct dg_grid_file *file;
	const char *dir;            /* "completed" or "failed" */
	int64_t finished;           /* timestamp, -1 if missing */
	int64_t started;            /* started_at, or finished - duration */
	enum dash_status status;
};

struct dash {
	const struct dg_grid *grid;
	const struct dg_dashboard_opts *opts;
	const struct dg_advice *advice; /* opts->advice: judged by the caller
					   from the same load; NULL: not shown */
	const struct dg_census *census; /* opts->census when the grid has more
					   than one repository, else NULL: not shown */
	int64_t now;
	struct dash_result *res;    /* all results on main, newest first */
	size_t res_nr;
	uint64_t archived;          /* results in the archive (its summary.json) */
	size_t recent_fail[DASH_FAILURES_MAX]; /* indexes into res */
	size_t recent_fail_nr;
	uint64_t status[DASH_ST_NR];
	uint64_t *node_ok, *node_bad; /* per grid node; [nodes_nr]: unregistered */
	size_t last_node;
	int64_t hour0;              /* start of the oldest hourly bar */
	uint64_t hour_ok[DASH_HOURS], hour_bad[DASH_HOURS];
	int64_t point0;             /* time of the oldest backlog sample */
	uint64_t waiting[DASH_POINTS], running[DASH_POINTS];
};

/*
 * The forged records loaded (grid.h, grid_trust.c): cb(what, why) for each
 * registration or heartbeat ("nodes/ID.json"), claim and result (its path).
 * Forged results are left out of every count and chart.
 */
typedef void (*dash_forged_cb)(const char *what, const char *why, void *payload);
void dash_forged_each(const struct dash *d, dash_forged_cb cb, void *payload);

/* Counts grid; now is opts->now, or grid->now when that is 0. */
void dash_init(struct dash *d, const struct dg_grid *grid, const struct dg_dashboard_opts *opts);
void dash_release(struct dash *d);

/* doc[key] as a string (borrowed), an integer, or a UTC time in unix seconds. */
const char *dash_str(const json_t *doc, const char *key);
bool dash_int(const json_t *doc, const char *key, json_int_t *out);
int64_t dash_time(const json_t *doc, const char *key);

/* A node's field from its heartbeat if that has it, else from its registration. */
const json_t *dash_node_field(const struct dg_grid_node *n, const char *key);

/*
 * Is a result file name safe to reuse as a file name on the site? Only
 * results with such a name (and valid JSON) get a copy under results/ and
 * a link to it.
 */
bool dash_safe_name(const char *name);

#endif
