/*
 * dashboard.h - the static dashboard of a grid (`dgrid dashboard`).
 *
 * dg_dashboard_write() turns a loaded grid (dg_grid_load with
 * DG_GRID_LOAD_TASKS | DG_GRID_LOAD_RESULTS) into a directory that any
 * static web host can serve (GitHub Pages):
 *
 *   index.html               one self-contained page: inline CSS and SVG, no
 *                            external resources, readable without JavaScript
 *                            (a tiny inline script only rewrites absolute
 *                            <time> elements into "42 s ago")
 *   status.json              the same data for machines
 *   results/completed/F.json copies of the results the page links to (the
 *   results/failed/F.json    recent ones only, so the site stays small);
 *                            older copies from earlier runs are removed
 *
 * What is shown: what limits the grid now (opts->advice, when given);
 * the counts of each of the grid's repositories (opts->census, when it
 * has more than one);
 * nodes with liveness, last heartbeat, slots, executor,
 * isolation and results counted per node; the queue (first queue_max
 * entries and a "+N more" line); running tasks with their owner and running
 * time; the newest recent_max results and newest failures; three charts:
 * results finished per clock hour over the last 24 hours, queued and
 * running tasks over the last 24 hours (reconstructed, see
 * doc/dashboard.md), and the share of each result status.
 *
 * Every user-supplied string is HTML-escaped (html.h); text shown to
 * people also goes through dg_redact. Counting is linear in the number of
 * results; rendering is bounded by the caps.
 *
 * Files are written under a temporary name and renamed, so a web server
 * never serves half a page. Returns 0, or DG_ERROR with dg_error_last().
 */
#ifndef DG_DASHBOARD_H
#define DG_DASHBOARD_H

#include "common.h"
#include "grid.h"

struct dg_advice;
struct dg_census;

struct dg_dashboard_opts {
	const char *out_dir;    /* created if missing (required) */
	const char *title;      /* page title; default "dgrid" */
	const char *repo;       /* shown on the page after dg_redact; may be NULL */
	const char *branch;     /* the grid's branch, for submit.html's GitHub link; NULL: main */
	const char *public_url; /* the repository as people reach it (redacted), for submit.html; NULL: repo */
	size_t recent_max;      /* results listed; default 50 */
	size_t queue_max;       /* queue entries listed; default 200 */
	size_t running_max;     /* running tasks listed; default 200 */
	int64_t now;            /* unix seconds; 0: grid->now */
	const struct dg_advice *advice; /* what limits the grid (advice.h), shown
				   in a "limits" section and status.json's
				   "advice"; NULL: neither */
	const struct dg_census *census; /* every repository of the grid (census.h),
				   shown in a "Repositories" section and
				   status.json's "repositories" and "totals"
				   when it has more than one; NULL: neither */
};

#define DG_DASHBOARD_OPTS_INIT { NULL, NULL, NULL, NULL, NULL, 50, 200, 200, 0, NULL, NULL }

int dg_dashboard_write(const struct dg_grid *grid, const struct dg_dashboard_opts *opts);

#endif
