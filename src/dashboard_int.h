/*
 * dashboard_int.h - what dashboard.c counts and dashboard_render.c draws.
 * Internal to the dashboard module.
 */
#ifndef DG_DASHBOARD_INT_H
#define DG_DASHBOARD_INT_H

#include "dashboard.h"
#include "strbuf.h"

#define DASH_HOURS 24          /* bars: clock hours, the current one last */
#define DASH_POINTS 25         /* backlog samples: now - 24 h ... now, hourly */
#define DASH_FAILURES_MAX 20   /* newest failures listed on their own */

enum dash_status {
	DASH_ST_SUCCESS, DASH_ST_FAILED, DASH_ST_TIMEOUT, DASH_ST_REJECTED,
	DASH_ST_ABANDONED, DASH_ST_OTHER, DASH_ST_NR
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
	int64_t now;
	struct dash_result *res;    /* all results, newest first */
	size_t res_nr;
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

const char *dash_str(const json_t *doc, const char *key);
bool dash_int(const json_t *doc, const char *key, json_int_t *out);
int64_t dash_time(const json_t *doc, const char *key);
bool dash_safe_name(const char *name);

void dash_render_html(struct dg_strbuf *out, const struct dash *d);
void dash_render_json(struct dg_strbuf *out, const struct dash *d);

#endif
