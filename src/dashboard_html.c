/*
 * dashboard_html.c - index.html (dashboard_render.h): one self-contained
 * page, inline CSS and SVG, readable without JavaScript. Every string from
 * the repository passes through put() (redact, then escape); numbers and
 * our own words are written as they are.
 */
#include "archive.h"
#include "dashboard_render.h"
#include "html.h"
#include "log.h"

static const char *const status_colors[DASH_ST_NR] = {
	"#2e7d32", "#c62828", "#ef6c00", "#6a1b9a", "#455a64", "#795548", "#8d6e63", "#9e9e9e",
};

static void put(struct dg_strbuf *sb, const char *s)
{
	struct dg_strbuf r = DG_STRBUF_INIT;

	if (!s)
		return;
	dg_redact(&r, s);
	dg_html_escape_n(sb, r.buf, r.len);
	dg_strbuf_release(&r);
}

static void put_excerpt(struct dg_strbuf *sb, const char *s, size_t lines, size_t bytes)
{
	struct dg_strbuf r = DG_STRBUF_INIT;

	if (!s)
		return;
	dg_redact(&r, s);
	dg_html_escape_excerpt(sb, r.buf, lines, bytes);
	dg_strbuf_release(&r);
}

static void put_duration(struct dg_strbuf *sb, int64_t ms)
{
	if (ms < 0)
		dg_strbuf_addstr(sb, "?");
	else if (ms < 10000)
		dg_strbuf_addf(sb, "%.1f s", (double)ms / 1000.0);
	else if (ms < 120000)
		dg_strbuf_addf(sb, "%" PRId64 " s", ms / 1000);
	else if (ms < 7200000)
		dg_strbuf_addf(sb, "%" PRId64 " min %" PRId64 " s", ms / 60000, ms / 1000 % 60);
	else
		dg_strbuf_addf(sb, "%" PRId64 " h %" PRId64 " min", ms / 3600000, ms / 60000 % 60);
}

/* A JSON value shown as text: strings as they are, numbers printed. */
static void put_json_scalar(struct dg_strbuf *sb, const json_t *v)
{
	if (json_is_string(v))
		put(sb, json_string_value(v));
	else if (json_is_integer(v))
		dg_strbuf_addf(sb, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		dg_strbuf_addf(sb, "%g", json_real_value(v));
	else if (json_is_boolean(v))
		dg_strbuf_addstr(sb, json_is_true(v) ? "true" : "false");
}

static void put_labels(struct dg_strbuf *sb, const json_t *labels)
{
	const char *key;
	json_t *v;
	size_t i, n = 0;

	if (json_is_array(labels)) {
		json_array_foreach(labels, i, v) {
			if (n++)
				dg_strbuf_addstr(sb, ", ");
			put_json_scalar(sb, v);
		}
	} else if (json_is_object(labels)) {
		json_object_foreach((json_t *)labels, key, v) {
			if (n++)
				dg_strbuf_addstr(sb, ", ");
			put(sb, key);
			dg_strbuf_addch(sb, '=');
			put_json_scalar(sb, v);
		}
	}
}

static void put_count(struct dg_strbuf *sb, const char *id, uint64_t n, const char *label)
{
	dg_strbuf_addf(sb, "<li><span class=\"count\" id=\"%s\">%" PRIu64 "</span> %s</li>\n",
		       id, n, label);
}

static const char css[] =
	"body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;"
	"max-width:1200px;padding:0 16px 32px;color:#1b1b1b;background:#fafafa}"
	"h1{margin:16px 0 4px}h2{margin:28px 0 8px;border-bottom:1px solid #ddd}"
	"table{border-collapse:collapse;width:100%;background:#fff}"
	"th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}"
	"th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}"
	"pre{margin:0;white-space:pre-wrap;word-break:break-all;max-height:8em;overflow:auto;"
	"font-size:12px}pre.err{color:#8e2424}code{font-size:12px}"
	"ul.counts{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:12px}"
	"ul.counts li{background:#fff;border:1px solid #ddd;padding:8px 14px;border-radius:6px}"
	".count{font-size:22px;font-weight:600;display:block}"
	".alive{color:#2e7d32;font-weight:600}.stale{color:#c62828;font-weight:600}"
	".stopped{color:#555}.unknown{color:#8a6d00}"
	".st-success{color:#2e7d32}.st-failed,.st-timeout{color:#c62828}"
	".st-rejected{color:#6a1b9a}.st-abandoned,.st-other{color:#455a64}"
	".st-cancelled,.st-dependency_failed{color:#795548}"
	"figure{margin:0 0 16px;background:#fff;border:1px solid #ddd;padding:8px}"
	"figcaption{font-size:13px;color:#444}svg{max-width:100%;height:auto}"
	"ul.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:14px}"
	".swatch{display:inline-block;width:10px;height:10px;margin-right:4px}"
	".more{font-style:italic;color:#555}.warn{color:#b71c1c;font-weight:600}";

/* ---- charts: numbers only, no repository text ---- */

static uint64_t max_u64(const uint64_t *a, const uint64_t *b, size_t n, bool sum)
{
	uint64_t m = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t v = sum ? a[i] + b[i] : (a[i] > b[i] ? a[i] : b[i]);
		if (v > m)
			m = v;
	}
	return m;
}

static void chart_hours(struct dg_strbuf *sb, const struct dash *d)
{
	const double x0 = 50, y0 = 190, w = 660, h = 170, bw = w / DASH_HOURS;
	uint64_t ymax = max_u64(d->hour_ok, d->hour_bad, DASH_HOURS, true), total = 0;

	if (!ymax)
		ymax = 1;
	dg_strbuf_addstr(sb, "<figure id=\"chart-hours\"><svg viewBox=\"0 0 720 220\" width=\"720\" "
			 "height=\"220\" role=\"img\" aria-labelledby=\"chart-hours-t\">"
			 "<title id=\"chart-hours-t\">Results finished per hour, last 24 hours</title>");
	dg_strbuf_addf(sb, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#999\"/>",
		       x0, y0, x0 + w, y0);
	dg_strbuf_addf(sb, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"end\">%" PRIu64
		       "</text><text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"end\">0</text>",
		       x0 - 4, y0 - h + 4, ymax, x0 - 4, y0);
	for (int i = 0; i < DASH_HOURS; i++) {
		int64_t start = d->hour0 + (int64_t)i * 3600;
		double x = x0 + i * bw + 2, hok = h * (double)d->hour_ok[i] / (double)ymax;
		double hbad = h * (double)d->hour_bad[i] / (double)ymax;
		char utc[32];

		total += d->hour_ok[i] + d->hour_bad[i];
		dg_html_utc(utc, start);
		dg_strbuf_addf(sb, "<g><title>%.13s:00 UTC: %" PRIu64 " succeeded, %" PRIu64
			       " did not</title>", utc, d->hour_ok[i], d->hour_bad[i]);
		dg_strbuf_addf(sb, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>",
			       x, y0 - hok, bw - 4, hok, status_colors[DASH_ST_SUCCESS]);
		dg_strbuf_addf(sb, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/></g>",
			       x, y0 - hok - hbad, bw - 4, hbad, status_colors[DASH_ST_FAILED]);
		if (i % 3 == 0 || i == DASH_HOURS - 1)
			dg_strbuf_addf(sb, "<text x=\"%.1f\" y=\"%.0f\" font-size=\"11\" "
				       "text-anchor=\"middle\">%.2s h</text>",
				       x + (bw - 4) / 2, y0 + 14, utc + 11);
	}
	dg_strbuf_addstr(sb, "</svg><figcaption>Results finished per clock hour (UTC) over the last "
			 "24 hours, by the results' <code>timestamp</code>: green succeeded, red did "
			 "not (failed, timeout, rejected, abandoned, cancelled, dependency_failed). ");
	dg_strbuf_addf(sb, "<span id=\"hours-total\">%" PRIu64 "</span> results in the window.</figcaption></figure>\n",
		       total);
}

static void polyline(struct dg_strbuf *sb, const uint64_t *v, uint64_t ymax,
		     double x0, double y0, double w, double h, const char *color)
{
	dg_strbuf_addf(sb, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color);
	for (int k = 0; k < DASH_POINTS; k++)
		dg_strbuf_addf(sb, "%s%.1f,%.1f", k ? " " : "", x0 + w * k / (DASH_POINTS - 1),
			       y0 - h * (double)v[k] / (double)ymax);
	dg_strbuf_addstr(sb, "\"/>");
}

static void chart_backlog(struct dg_strbuf *sb, const struct dash *d)
{
	const double x0 = 50, y0 = 190, w = 660, h = 170;
	uint64_t ymax = max_u64(d->waiting, d->running, DASH_POINTS, false);

	if (!ymax)
		ymax = 1;
	dg_strbuf_addstr(sb, "<figure id=\"chart-backlog\"><svg viewBox=\"0 0 720 220\" width=\"720\" "
			 "height=\"220\" role=\"img\" aria-labelledby=\"chart-backlog-t\">"
			 "<title id=\"chart-backlog-t\">Queued and running tasks, last 24 hours</title>");
	dg_strbuf_addf(sb, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#999\"/>",
		       x0, y0, x0 + w, y0);
	dg_strbuf_addf(sb, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"end\">%" PRIu64
		       "</text><text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"end\">0</text>",
		       x0 - 4, y0 - h + 4, ymax, x0 - 4, y0);
	polyline(sb, d->waiting, ymax, x0, y0, w, h, "#1565c0");
	polyline(sb, d->running, ymax, x0, y0, w, h, "#ef6c00");
	for (int k = 0; k < DASH_POINTS; k += 6)
		dg_strbuf_addf(sb, "<text x=\"%.1f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"middle\">"
			       "%s</text>", x0 + w * k / (DASH_POINTS - 1), y0 + 14,
			       k == DASH_POINTS - 1 ? "now" : k == 0 ? "-24 h" : k == 6 ? "-18 h" :
			       k == 12 ? "-12 h" : "-6 h");
	dg_strbuf_addstr(sb, "</svg><figcaption><span class=\"swatch\" style=\"background:#1565c0\"></span>"
			 "waiting (queued) <span class=\"swatch\" style=\"background:#ef6c00\"></span>"
			 "running, sampled hourly. Reconstructed backwards from the current queue, the "
			 "claims (<code>claimed_at</code>) and the results (<code>started_at</code>, "
			 "<code>timestamp</code>); a task without <code>submitted_at</code> counts as "
			 "waiting since before the window, so the blue line is an upper bound. Tasks "
			 "returned to the queue by the reaper are counted from their last claim only.");
	dg_strbuf_addf(sb, " Now: <span id=\"backlog-now\">%" PRIu64 " waiting, %" PRIu64
		       " running</span>.</figcaption></figure>\n",
		       d->waiting[DASH_POINTS - 1], d->running[DASH_POINTS - 1]);
}

static void chart_share(struct dg_strbuf *sb, const struct dash *d)
{
	uint64_t total = 0;
	double x = 0;

	for (int i = 0; i < DASH_ST_NR; i++)
		total += d->status[i];
	dg_strbuf_addstr(sb, "<figure id=\"chart-share\"><svg viewBox=\"0 0 720 40\" width=\"720\" "
			 "height=\"40\" role=\"img\" aria-labelledby=\"chart-share-t\">"
			 "<title id=\"chart-share-t\">Share of result statuses, all results</title>");
	if (!total)
		dg_strbuf_addstr(sb, "<rect x=\"0\" y=\"5\" width=\"720\" height=\"30\" fill=\"#eee\"/>"
				 "<text x=\"360\" y=\"25\" font-size=\"12\" text-anchor=\"middle\">"
				 "no results yet</text>");
	for (int i = 0; total && i < DASH_ST_NR; i++) {
		double wd = 720.0 * (double)d->status[i] / (double)total;
		if (!d->status[i])
			continue;
		dg_strbuf_addf(sb, "<rect x=\"%.2f\" y=\"5\" width=\"%.2f\" height=\"30\" fill=\"%s\">"
			       "<title>%s: %" PRIu64 "</title></rect>",
			       x, wd, status_colors[i], dash_status_names[i], d->status[i]);
		x += wd;
	}
	dg_strbuf_addstr(sb, "</svg><ul class=\"legend\">");
	for (int i = 0; i < DASH_ST_NR; i++) {
		if (!d->status[i] && i != DASH_ST_SUCCESS && i != DASH_ST_FAILED)
			continue;
		dg_strbuf_addf(sb, "<li><span class=\"swatch\" style=\"background:%s\"></span>%s "
			       "<span id=\"share-%s\">%" PRIu64 "</span> (%.1f%%)</li>",
			       status_colors[i], dash_status_names[i], dash_status_names[i],
			       d->status[i], total ? 100.0 * (double)d->status[i] / (double)total : 0.0);
	}
	dg_strbuf_addstr(sb, "</ul><figcaption>Share of each status among all results in the "
			 "repository.</figcaption></figure>\n");
}

/* ---- tables ---- */

/* What limits the grid (advice.h): our own words and numbers, escaped all the same. */
static void forged_row(const char *what, const char *why, void *payload)
{
	struct dg_strbuf *sb = payload;

	dg_strbuf_addstr(sb, "<tr><td><code>");
	put(sb, what);
	dg_strbuf_addstr(sb, "</code></td><td>");
	put(sb, why);
	dg_strbuf_addstr(sb, "</td></tr>\n");
}

/* Records in a node's name not signed by its key (grid_trust.c): shown first, never counted. */
static void section_forged(struct dg_strbuf *sb, const struct dash *d)
{
	if (!d->grid->forged_nr)
		return;
	dg_strbuf_addf(sb, "<section id=\"forged\"><h2>Forged records</h2>\n<p class=\"warn\">%u record%s "
		       "in a node's name %s not signed by that node's key. Workers ignore %s for "
		       "scheduling and reaping; they are left out of every count on this page. "
		       "<code>dgrid verify</code> lists them too.</p>\n"
		       "<table><thead><tr><th>Record</th><th>Why it is forged</th></tr></thead><tbody>\n",
		       d->grid->forged_nr, d->grid->forged_nr == 1 ? "" : "s",
		       d->grid->forged_nr == 1 ? "is" : "are", d->grid->forged_nr == 1 ? "it" : "them");
	dash_forged_each(d, forged_row, sb);
	dg_strbuf_addstr(sb, "</tbody></table></section>\n");
}

static void section_limits(struct dg_strbuf *sb, const struct dash *d)
{
	char figures[2 * DG_ADVICE_TEXT_MAX];

	if (!d->advice)
		return;
	dg_advice_describe(figures, sizeof(figures), d->advice);
	dg_strbuf_addf(sb, "<section id=\"limits\"><h2>What limits the grid</h2>\n"
		       "<p class=\"advice\" id=\"advice\" data-verdict=\"%s\"><strong>",
		       dg_advice_verdict_name(d->advice->verdict));
	dg_html_escape(sb, d->advice->text);
	dg_strbuf_addstr(sb, "</strong></p>\n<p class=\"more\" id=\"advice-figures\">Measured: ");
	dg_html_escape(sb, figures);
	dg_strbuf_addstr(sb, ".</p></section>\n");
}

static void repo_counts(struct dg_strbuf *sb, const struct dg_census_counts *c)
{
	dg_strbuf_addf(sb, "<td class=\"num\">%" PRIu64 "</td><td class=\"num\">%" PRIu64
		       "</td><td class=\"num\">%" PRIu64 "</td><td class=\"num\">%" PRIu64
		       "</td><td class=\"num\">%" PRIu64 "</td>",
		       c->queued, c->running, c->completed, c->failed, c->nodes);
}

/*
 * Every repository of the grid (census.h), this one first, and their
 * total; only for a grid of several. URLs and errors are redacted already
 * and escaped here like any text from a repository.
 */
static void section_repositories(struct dg_strbuf *sb, const struct dash *d)
{
	const struct dg_census *c = d->census;

	if (!c)
		return;
	dg_strbuf_addf(sb, "<section id=\"repositories\"><h2>Repositories (%zu)</h2>\n"
		       "<table><thead><tr><th>Repository</th><th>Queued</th><th>Running</th>"
		       "<th>Completed</th><th>Failed</th><th>Nodes</th></tr></thead><tbody>\n", c->nr);
	for (size_t i = 0; i < c->nr; i++) {
		const struct dg_census_member *m = &c->members[i];

		dg_strbuf_addf(sb, "<tr id=\"repo-%zu\"><td><code>", i);
		put(sb, m->shown);
		dg_strbuf_addstr(sb, "</code>");
		if (!i)
			dg_strbuf_addstr(sb, " (this one)");
		dg_strbuf_addstr(sb, "</td>");
		if (m->error) {
			dg_strbuf_addstr(sb, "<td colspan=\"5\" class=\"stale\">");
			put(sb, m->error);
			dg_strbuf_addstr(sb, "</td>");
		} else {
			repo_counts(sb, &m->counts);
		}
		dg_strbuf_addstr(sb, "</tr>\n");
	}
	dg_strbuf_addstr(sb, "</tbody><tfoot><tr id=\"repo-total\"><th>Total</th>");
	repo_counts(sb, &c->total);
	dg_strbuf_addstr(sb, "</tr></tfoot></table>\n<p class=\"more\">Completed and failed include "
			 "archived results.");
	if (c->missing)
		dg_strbuf_addf(sb, " <strong class=\"stale\" id=\"repo-missing\">%zu of %zu repositories "
			       "could not be read and are not in the total.</strong>", c->missing, c->nr);
	dg_strbuf_addstr(sb, "</p></section>\n");
}

static void section_nodes(struct dg_strbuf *sb, const struct dash *d)
{
	const struct dg_grid *g = d->grid;
	struct dg_grid_folded folded;
	bool *shown = dg_grid_nodes_shown(g, &folded);

	dg_strbuf_addstr(sb, "<section id=\"nodes\"><h2>Nodes</h2>\n");
	if (!g->nodes_nr) {
		dg_strbuf_addstr(sb, "<p class=\"empty\">No node has registered yet.</p>\n");
	} else {
		dg_strbuf_addstr(sb, "<table><thead><tr><th>Node</th><th>Liveness</th><th>State</th>"
				 "<th>Last seen</th><th>Slots</th><th>Executor</th><th>Isolation</th>"
				 "<th>Labels</th><th>Version</th><th>Succeeded</th><th>Did not</th>"
				 "<th title=\"replicas that agreed with their quorum, that did not, "
				 "and records not signed by the node's key\">Reputation</th></tr></thead><tbody>\n");
	}
	for (size_t i = 0; i < g->nodes_nr; i++) {
		const struct dg_grid_node *n = &g->nodes[i];
		const char *live = dg_node_liveness_name(n->liveness);
		const char *name = dash_str(n->registration, "name");

		if (!shown[i])
			continue;
		dg_strbuf_addstr(sb, "<tr><td><code>");
		put(sb, n->node_id);
		dg_strbuf_addstr(sb, "</code>");
		if (name && strcmp(name, n->node_id)) {
			dg_strbuf_addstr(sb, "<br>");
			put(sb, name);
		}
		dg_strbuf_addf(sb, "</td><td class=\"%s\">%s</td><td>", live, live);
		put(sb, dash_str(n->heartbeat, "state"));
		dg_strbuf_addstr(sb, "</td><td>");
		dg_html_time(sb, n->last_activity);
		dg_strbuf_addstr(sb, "</td><td class=\"num\">");
		put_json_scalar(sb, dash_node_field(n, "slots"));
		dg_strbuf_addstr(sb, "</td><td>");
		put_json_scalar(sb, dash_node_field(n, "executor"));
		dg_strbuf_addstr(sb, "</td><td>");
		put_json_scalar(sb, dash_node_field(n, "isolation"));
		dg_strbuf_addstr(sb, "</td><td>");
		put_labels(sb, json_object_get(n->registration, "labels"));
		dg_strbuf_addstr(sb, "</td><td>");
		put(sb, dg_grid_node_version(n));
		if (dg_grid_node_protocol(n) < g->policy.protocol)
			dg_strbuf_addf(sb, " <strong class=\"stale\">needs upgrade: protocol %u, the grid needs %u</strong>",
				       dg_grid_node_protocol(n), g->policy.protocol);
		dg_strbuf_addf(sb, "</td><td class=\"num\">%" PRIu64 "</td><td class=\"num\">%" PRIu64
			       "</td><td class=\"rep\">%u agreed, %u disagreed, %u forged</td></tr>\n",
			       d->node_ok[i], d->node_bad[i], n->agreed, n->disagreed, n->forged_records);
	}
	if (g->nodes_nr)
		dg_strbuf_addstr(sb, "</tbody></table>\n");
	if (folded.stopped)
		dg_strbuf_addf(sb, "<p class=\"more\" id=\"nodes-folded\">%zu more nodes that stopped earlier are "
			       "not listed (status.json lists every node).</p>\n", folded.stopped);
	if (folded.silent)
		dg_strbuf_addf(sb, "<p class=\"more\" id=\"nodes-silent-folded\">%zu more nodes silent for longer "
			       "(over slot_keep_seconds, %u s: dead, or idle) are not listed (status.json lists every "
			       "node).</p>\n", folded.silent, g->policy.slot_keep_seconds);
	free(shown);
	if (d->node_ok[g->nodes_nr] + d->node_bad[g->nodes_nr])
		dg_strbuf_addf(sb, "<p class=\"more\">%" PRIu64 " results came from nodes that are "
			       "not registered.</p>\n", d->node_ok[g->nodes_nr] + d->node_bad[g->nodes_nr]);
	dg_strbuf_addstr(sb, "</section>\n");
}

static void task_id_cell(struct dg_strbuf *sb, const struct dg_grid_file *f)
{
	const char *id = dash_str(f->doc, "task_id");

	dg_strbuf_addstr(sb, "<td><code>");
	put(sb, id ? id : f->name);
	dg_strbuf_addstr(sb, "</code>");
	if (!f->doc)
		dg_strbuf_addstr(sb, " <em>(not valid JSON)</em>");
	dg_strbuf_addstr(sb, "</td>");
}

static void section_queue(struct dg_strbuf *sb, const struct dash *d)
{
	const struct dg_grid_list *q = &d->grid->queue;
	size_t shown = q->nr < d->opts->queue_max ? q->nr : d->opts->queue_max;
	json_int_t timeout;

	dg_strbuf_addf(sb, "<section id=\"queue\"><h2>Queue (%zu)</h2>\n", q->nr);
	if (!q->nr) {
		dg_strbuf_addstr(sb, "<p class=\"empty\">The queue is empty.</p></section>\n");
		return;
	}
	dg_strbuf_addstr(sb, "<table><thead><tr><th>Task</th><th>Timeout</th><th>Submitted</th>"
			 "<th>Waits for</th><th>Script</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < shown; i++) {
		const struct dg_grid_file *f = &q->items[i];
		char why[160];

		dg_strbuf_addstr(sb, "<tr>");
		task_id_cell(sb, f);
		dg_strbuf_addstr(sb, "<td class=\"num\">");
		if (dash_int(f->doc, "timeout_seconds", &timeout))
			dg_strbuf_addf(sb, "%" JSON_INTEGER_FORMAT " s", timeout);
		dg_strbuf_addstr(sb, "</td><td>");
		if (dash_time(f->doc, "submitted_at") > 0)
			dg_html_time(sb, dash_time(f->doc, "submitted_at"));
		dg_strbuf_addstr(sb, "</td><td class=\"waits\">");
		if (dg_grid_waits_for(d->grid, f->doc, why, sizeof(why)))
			put(sb, why);
		dg_strbuf_addstr(sb, "</td><td><pre>");
		put_excerpt(sb, dash_str(f->doc, "script"), 2, 160);
		dg_strbuf_addstr(sb, "</pre></td></tr>\n");
	}
	dg_strbuf_addstr(sb, "</tbody></table>\n");
	if (q->nr > shown)
		dg_strbuf_addf(sb, "<p class=\"more\" id=\"queue-more\">+%zu more</p>\n", q->nr - shown);
	dg_strbuf_addstr(sb, "</section>\n");
}

static void section_running(struct dg_strbuf *sb, const struct dash *d)
{
	const struct dg_grid_list *r = &d->grid->running;
	size_t shown = r->nr < d->opts->running_max ? r->nr : d->opts->running_max;
	json_int_t v;

	dg_strbuf_addf(sb, "<section id=\"running\"><h2>Running (%zu)</h2>\n", r->nr);
	if (!r->nr) {
		dg_strbuf_addstr(sb, "<p class=\"empty\">Nothing is running.</p></section>\n");
		return;
	}
	dg_strbuf_addstr(sb, "<table><thead><tr><th>Task</th><th>Node</th><th>Claimed</th>"
			 "<th>Running for</th><th>Attempt</th><th>Timeout</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < shown; i++) {
		const struct dg_grid_file *f = &r->items[i];
		int64_t claimed = dash_time(f->doc, "claimed_at");

		dg_strbuf_addstr(sb, "<tr>");
		task_id_cell(sb, f);
		dg_strbuf_addstr(sb, "<td><code>");
		put(sb, dash_str(f->doc, "node_id"));
		dg_strbuf_addstr(sb, "</code></td><td>");
		dg_html_time(sb, claimed);
		dg_strbuf_addstr(sb, "</td><td class=\"num\">");
		if (claimed > 0)
			put_duration(sb, (d->now - claimed) * 1000);
		dg_strbuf_addstr(sb, "</td><td class=\"num\">");
		if (dash_int(f->doc, "attempt", &v))
			dg_strbuf_addf(sb, "%" JSON_INTEGER_FORMAT, v);
		dg_strbuf_addstr(sb, "</td><td class=\"num\">");
		if (dash_int(f->doc, "timeout_seconds", &v))
			dg_strbuf_addf(sb, "%" JSON_INTEGER_FORMAT " s", v);
		dg_strbuf_addstr(sb, "</td></tr>\n");
	}
	dg_strbuf_addstr(sb, "</tbody></table>\n");
	if (r->nr > shown)
		dg_strbuf_addf(sb, "<p class=\"more\">+%zu more</p>\n", r->nr - shown);
	dg_strbuf_addstr(sb, "</section>\n");
}

static void result_row(struct dg_strbuf *sb, const struct dash_result *r)
{
	const json_t *doc = r->file->doc;
	const char *id = dash_str(doc, "task_id"), *reason = dash_str(doc, "reason");
	const char *out = dash_str(doc, "stdout"), *err = dash_str(doc, "stderr");
	json_int_t v;

	dg_strbuf_addstr(sb, "<tr><td>");
	if (doc && dash_safe_name(r->file->name)) {
		dg_strbuf_addf(sb, "<a href=\"results/%s/", r->dir);
		put(sb, r->file->name);
		dg_strbuf_addstr(sb, "\"><code>");
		put(sb, id ? id : r->file->name);
		dg_strbuf_addstr(sb, "</code></a>");
	} else {
		dg_strbuf_addstr(sb, "<code>");
		put(sb, id ? id : r->file->name);
		dg_strbuf_addstr(sb, "</code>");
		if (!doc)
			dg_strbuf_addstr(sb, " <em>(not valid JSON)</em>");
	}
	dg_strbuf_addf(sb, "</td><td class=\"st-%s\">%s</td><td class=\"num\">",
		       dash_status_names[r->status], dash_status_names[r->status]);
	if (dash_int(doc, "exit_code", &v))
		dg_strbuf_addf(sb, "%" JSON_INTEGER_FORMAT, v);
	dg_strbuf_addstr(sb, "</td><td class=\"num\">");
	if (dash_int(doc, "duration_ms", &v))
		put_duration(sb, (int64_t)v);
	else if (r->finished > 0 && r->started > 0 && r->started != r->finished)
		put_duration(sb, (r->finished - r->started) * 1000);
	dg_strbuf_addstr(sb, "</td><td><code>");
	put(sb, dash_str(doc, "node_id"));
	dg_strbuf_addstr(sb, "</code></td><td>");
	dg_html_time(sb, r->finished);
	dg_strbuf_addstr(sb, "</td><td>");
	if (reason) {
		dg_strbuf_addstr(sb, "<p class=\"reason\">");
		put_excerpt(sb, reason, 2, 300);
		dg_strbuf_addstr(sb, "</p>");
	}
	if (out && *out) {
		dg_strbuf_addstr(sb, "<pre class=\"out\">");
		put_excerpt(sb, out, 3, 300);
		dg_strbuf_addstr(sb, "</pre>");
	}
	if (err && *err) {
		dg_strbuf_addstr(sb, "<pre class=\"err\">");
		put_excerpt(sb, err, 3, 300);
		dg_strbuf_addstr(sb, "</pre>");
	}
	dg_strbuf_addstr(sb, "</td></tr>\n");
}

static const char result_head[] =
	"<table><thead><tr><th>Task</th><th>Status</th><th>Exit</th><th>Duration</th>"
	"<th>Node</th><th>Finished</th><th>Output (first lines; stderr in red)</th></tr></thead><tbody>\n";

static void section_results(struct dg_strbuf *sb, const struct dash *d)
{
	size_t shown = d->res_nr < d->opts->recent_max ? d->res_nr : d->opts->recent_max;

	dg_strbuf_addf(sb, "<section id=\"recent\"><h2>Recent results (%zu of %zu)</h2>\n",
		       shown, d->res_nr);
	if (d->archived)
		dg_strbuf_addf(sb, "<p>%" PRIu64 " older results are archived in <code>" DG_ARCHIVE_REF
			       "</code> (<code>dgrid result ID</code> finds any of them); the totals and "
			       "charts include them.</p>\n", d->archived);
	if (!d->res_nr) {
		dg_strbuf_addstr(sb, "<p class=\"empty\">No task has finished yet.</p>\n");
	} else {
		dg_strbuf_addstr(sb, result_head);
		for (size_t i = 0; i < shown; i++)
			result_row(sb, &d->res[i]);
		dg_strbuf_addstr(sb, "</tbody></table>\n");
	}
	dg_strbuf_addstr(sb, "</section>\n<section id=\"failures\"><h2>Recent failures</h2>\n");
	if (!d->recent_fail_nr) {
		dg_strbuf_addstr(sb, "<p class=\"empty\">No failures.</p>\n");
	} else {
		dg_strbuf_addstr(sb, result_head);
		for (size_t k = 0; k < d->recent_fail_nr; k++)
			result_row(sb, &d->res[d->recent_fail[k]]);
		dg_strbuf_addstr(sb, "</tbody></table>\n");
	}
	dg_strbuf_addstr(sb, "</section>\n");
}

void dash_render_html(struct dg_strbuf *sb, const struct dash *d)
{
	const struct dg_grid *g = d->grid;
	uint64_t alive = 0;

	for (size_t i = 0; i < g->nodes_nr; i++)
		alive += g->nodes[i].liveness == DG_NODE_ALIVE;
	dg_strbuf_addstr(sb, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
			 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
			 "<meta http-equiv=\"refresh\" content=\"60\">\n"
			 "<meta http-equiv=\"Content-Security-Policy\" content=\"");
	dg_html_csp(sb);
	dg_strbuf_addstr(sb, "\">\n<title>");
	put(sb, d->opts->title);
	dg_strbuf_addf(sb, " - dgrid dashboard</title>\n<style>%s</style></head><body>\n<header><h1>", css);
	put(sb, d->opts->title);
	dg_strbuf_addstr(sb, "</h1><p>Generated ");
	dg_html_time(sb, d->now);
	dg_strbuf_addstr(sb, " from commit <code>");
	put(sb, g->tip[0] ? g->tip : "(empty branch)");
	dg_strbuf_addstr(sb, "</code>");
	if (d->opts->repo) {
		dg_strbuf_addstr(sb, " of <code>");
		put(sb, d->opts->repo);
		dg_strbuf_addstr(sb, "</code>");
	}
	dg_strbuf_addstr(sb, ". This page is a snapshot; it reloads every minute. "
			 "<a href=\"status.json\">status.json</a> &middot; "
			 "<a href=\"submit.html\" id=\"submit-link\">Submit a task</a></p></header>\n"
			 "<section id=\"summary\"><h2>Summary</h2><ul class=\"counts\">\n");
	put_count(sb, "n-alive", alive, "nodes alive");
	put_count(sb, "n-nodes", g->nodes_nr, "nodes known");
	put_count(sb, "n-queue", g->queue.nr, "queued");
	put_count(sb, "n-running", g->running.nr, "running");
	put_count(sb, "n-completed", g->completed.nr, "completed");
	put_count(sb, "n-failed", g->failed.nr, "failed");
	dg_strbuf_addstr(sb, "</ul></section>\n");
	section_forged(sb, d);
	section_limits(sb, d);
	section_repositories(sb, d);
	dg_strbuf_addstr(sb, "<section id=\"charts\"><h2>Charts</h2>\n");
	chart_hours(sb, d);
	chart_backlog(sb, d);
	chart_share(sb, d);
	dg_strbuf_addstr(sb, "</section>\n");
	section_nodes(sb, d);
	section_queue(sb, d);
	section_running(sb, d);
	section_results(sb, d);
	dg_strbuf_addstr(sb, "<footer><p>dgrid dashboard. Times are UTC.</p></footer>\n");
	dg_strbuf_addstr(sb, DG_HTML_AGO_SCRIPT "\n</body></html>\n");
}
