/*
 * dashboard_model.c - the dashboard's counting (dashboard_model.h): one
 * pass over the results for statuses, nodes and charts, so that the page
 * and status.json show the same numbers however large the grid.
 */
#include "dashboard_model.h"

const char *const dash_status_names[DASH_ST_NR] = {
	"success", "failed", "timeout", "rejected", "abandoned", "cancelled", "dependency_failed", "other",
};

const char *dash_str(const json_t *doc, const char *key)
{
	return json_string_value(json_object_get(doc, key));
}

bool dash_int(const json_t *doc, const char *key, json_int_t *out)
{
	const json_t *v = json_object_get(doc, key);

	if (!json_is_integer(v))
		return false;
	*out = json_integer_value(v);
	return true;
}

int64_t dash_time(const json_t *doc, const char *key)
{
	return dg_parse_utc(dash_str(doc, key));
}

static enum dash_status classify(const json_t *doc)
{
	const char *s = dash_str(doc, "status");

	for (int i = 0; s && i < DASH_ST_OTHER; i++) {
		if (!strcmp(s, dash_status_names[i]))
			return (enum dash_status)i;
	}
	return DASH_ST_OTHER;
}

bool dash_safe_name(const char *name)
{
	size_t n = strlen(name);

	if (n < 6 || n > 200 || name[0] == '.' || strcmp(name + n - 5, ".json"))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

const json_t *dash_node_field(const struct dg_grid_node *n, const char *key)
{
	const json_t *v = json_object_get(n->heartbeat, key);

	return v ? v : json_object_get(n->registration, key);
}

/* The node that produced a result: its node_id, or NULL. */
static const char *result_node(const struct dash_result *r)
{
	return dash_str(r->file->doc, "node_id");
}

static int cmp_newest(const void *a, const void *b)
{
	const struct dash_result *x = a, *y = b;

	if (x->finished != y->finished)
		return x->finished > y->finished ? -1 : 1;
	return strcmp(x->file->name, y->file->name);
}

/* Adds 1 to counts[k] for each sample time t_k inside [from, to). */
static void count_interval(uint64_t *counts, const struct dash *d, int64_t from, int64_t to)
{
	for (int k = 0; k < DASH_POINTS; k++) {
		int64_t t = d->point0 + (int64_t)k * 3600;
		if (k == DASH_POINTS - 1)
			t = d->now;
		if (t >= from && t < to)
			counts[k]++;
	}
}

static void forged_in(const struct dg_grid_list *l, dash_forged_cb cb, void *payload)
{
	for (size_t i = 0; i < l->nr; i++) {
		if (l->items[i].forged)
			cb(l->items[i].path, l->items[i].forged, payload);
	}
}

void dash_forged_each(const struct dash *d, dash_forged_cb cb, void *payload)
{
	const struct dg_grid *g = d->grid;
	struct dg_strbuf what = DG_STRBUF_INIT;

	for (size_t i = 0; i < g->nodes_nr; i++) {
		if (!g->nodes[i].forged)
			continue;
		dg_strbuf_reset(&what);
		dg_strbuf_addf(&what, "nodes/%s.json", g->nodes[i].node_id);
		cb(what.buf, g->nodes[i].forged, payload);
	}
	forged_in(&g->running, cb, payload);
	forged_in(&g->completed, cb, payload);
	forged_in(&g->failed, cb, payload);
	dg_strbuf_release(&what);
}

static void add_results(struct dash *d, const struct dg_grid_list *l, const char *dir)
{
	for (size_t i = 0; i < l->nr; i++) {
		/* counted in the archive's summary; or in a node's name but not by its key */
		if (l->items[i].archived || l->items[i].forged)
			continue;
		struct dash_result *r = &d->res[d->res_nr++];
		const json_t *doc = l->items[i].doc;
		json_int_t ms;

		r->file = &l->items[i];
		r->dir = dir;
		r->finished = dash_time(doc, "timestamp");
		r->status = classify(doc);
		r->started = dash_time(doc, "started_at");
		if (r->started < 0 && r->finished > 0 && dash_int(doc, "duration_ms", &ms) && ms >= 0)
			r->started = r->finished - (int64_t)(ms / 1000);
		if (r->started < 0)
			r->started = r->finished;
	}
}

static void count_nodes(struct dash *d)
{
	const struct dg_grid *g = d->grid;

	d->node_ok = dg_xcalloc(g->nodes_nr + 1, sizeof(*d->node_ok));
	d->node_bad = dg_xcalloc(g->nodes_nr + 1, sizeof(*d->node_bad));
	for (size_t i = 0; i < d->res_nr; i++) {
		const char *node = result_node(&d->res[i]);
		size_t j = g->nodes_nr;

		/* the previous result's node is the likely one: results cluster */
		if (node && i && d->last_node < g->nodes_nr &&
		    !strcmp(g->nodes[d->last_node].node_id, node)) {
			j = d->last_node;
		} else if (node) {
			for (j = 0; j < g->nodes_nr; j++)
				if (!strcmp(g->nodes[j].node_id, node))
					break;
		}
		d->last_node = j;
		if (d->res[i].status == DASH_ST_SUCCESS)
			d->node_ok[j]++;
		else
			d->node_bad[j]++;
	}
}

static void count_charts(struct dash *d)
{
	const struct dg_grid *g = d->grid;
	int64_t hour_now = d->now - d->now % 3600;

	d->hour0 = hour_now - (DASH_HOURS - 1) * 3600;
	d->point0 = d->now - (DASH_POINTS - 1) * 3600;
	for (size_t i = 0; i < d->res_nr; i++) {
		const struct dash_result *r = &d->res[i];
		int64_t sub = dash_time(r->file->doc, "submitted_at");

		d->status[r->status]++;
		if (r->finished >= d->hour0 && r->finished < hour_now + 3600) {
			size_t h = (size_t)((r->finished - d->hour0) / 3600);
			if (r->status == DASH_ST_SUCCESS)
				d->hour_ok[h]++;
			else
				d->hour_bad[h]++;
		}
		if (r->finished < d->point0)
			continue;
		count_interval(d->waiting, d, sub > 0 ? sub : INT64_MIN, r->started);
		count_interval(d->running, d, r->started, r->finished);
	}
	for (size_t i = 0; i < g->queue.nr; i++) {
		int64_t sub = dash_time(g->queue.items[i].doc, "submitted_at");
		count_interval(d->waiting, d, sub > 0 ? sub : INT64_MIN, INT64_MAX);
	}
	for (size_t i = 0; i < g->running.nr; i++) {
		const json_t *doc = g->running.items[i].doc;
		int64_t sub = dash_time(doc, "submitted_at");
		int64_t claimed = dash_time(doc, "claimed_at");

		if (claimed < 0)
			claimed = INT64_MIN;
		count_interval(d->waiting, d, sub > 0 ? sub : INT64_MIN, claimed);
		count_interval(d->running, d, claimed, INT64_MAX);
	}
}

static size_t node_index(const struct dg_grid *g, const char *node)
{
	size_t j;

	for (j = 0; j < g->nodes_nr; j++)
		if (!strcmp(g->nodes[j].node_id, node))
			break;
	return j;
}

/* The archive's totals (archive.h summary.json) on top of main's counts. */
static void count_archive(struct dash *d)
{
	const json_t *sum = d->grid->archive;
	const char *key;
	json_t *v;

	if (!sum)
		return;
	json_int_t total = json_integer_value(json_object_get(sum, "results"));
	d->archived = total > 0 ? (uint64_t)total : 0;
	json_object_foreach(json_object_get(sum, "status"), key, v) {
		json_t *doc = json_pack("{s:s}", "status", key);
		json_int_t n = json_integer_value(v);
		if (n > 0)
			d->status[classify(doc)] += (uint64_t)n;
		json_decref(doc);
	}
	json_object_foreach(json_object_get(sum, "nodes"), key, v) {
		size_t j = node_index(d->grid, key);
		json_int_t ok = json_integer_value(json_array_get(v, 0));
		json_int_t bad = json_integer_value(json_array_get(v, 1));
		d->node_ok[j] += ok > 0 ? (uint64_t)ok : 0;
		d->node_bad[j] += bad > 0 ? (uint64_t)bad : 0;
	}
	json_object_foreach(json_object_get(sum, "hours"), key, v) {
		int64_t t = strtoll(key, NULL, 10);
		json_int_t ok = json_integer_value(json_array_get(v, 0));
		json_int_t bad = json_integer_value(json_array_get(v, 1));
		if (t < d->hour0 || t >= d->hour0 + DASH_HOURS * 3600)
			continue;
		size_t h = (size_t)((t - d->hour0) / 3600);
		d->hour_ok[h] += ok > 0 ? (uint64_t)ok : 0;
		d->hour_bad[h] += bad > 0 ? (uint64_t)bad : 0;
	}
}

void dash_init(struct dash *d, const struct dg_grid *grid, const struct dg_dashboard_opts *opts)
{
	memset(d, 0, sizeof(*d));
	d->grid = grid;
	d->opts = opts;
	d->advice = opts->advice;
	d->census = opts->census && opts->census->nr > 1 ? opts->census : NULL;
	d->now = opts->now ? opts->now : grid->now;
	d->res = dg_xcalloc(grid->completed.nr + grid->failed.nr + 1, sizeof(*d->res));
	add_results(d, &grid->completed, "completed");
	add_results(d, &grid->failed, "failed");
	if (d->res_nr > 1)
		qsort(d->res, d->res_nr, sizeof(*d->res), cmp_newest);
	count_nodes(d);
	count_charts(d);
	count_archive(d);
	for (size_t i = 0; i < d->res_nr && d->recent_fail_nr < DASH_FAILURES_MAX; i++) {
		if (d->res[i].status != DASH_ST_SUCCESS)
			d->recent_fail[d->recent_fail_nr++] = i;
	}
}

void dash_release(struct dash *d)
{
	free(d->res);
	free(d->node_ok);
	free(d->node_bad);
}
