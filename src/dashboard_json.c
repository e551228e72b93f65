/*
 * dashboard_json.c - status.json (dashboard_render.h): the page's data for
 * machines, from the same counts. Strings from the repository are
 * redacted and may be null; times are RFC 3339 UTC or null.
 */
#include "dashboard_render.h"
#include "html.h"
#include "jsonio.h"
#include "log.h"

static json_t *jstr(const char *s)
{
	struct dg_strbuf r = DG_STRBUF_INIT;
	json_t *v;

	if (!s)
		return json_null();
	dg_redact(&r, s);
	v = json_stringn(r.buf, r.len);
	dg_strbuf_release(&r);
	return v ? v : json_null();
}

static json_t *jtime(int64_t t)
{
	char utc[32];

	if (t <= 0)
		return json_null();
	dg_html_utc(utc, t);
	return json_string(utc);
}

static json_t *jcopy(const json_t *v)
{
	return v ? json_deep_copy(v) : json_null();
}

static json_t *result_json(const struct dash_result *r)
{
	const json_t *doc = r->file->doc;
	json_t *o = json_object();

	json_object_set_new(o, "file", jstr(r->file->name));
	json_object_set_new(o, "dir", json_string(r->dir));
	if (doc && dash_safe_name(r->file->name)) {
		char *href = dg_xasprintf("results/%s/%s", r->dir, r->file->name);
		json_object_set_new(o, "href", json_string(href));
		free(href);
	}
	json_object_set_new(o, "task_id", jstr(dash_str(doc, "task_id")));
	json_object_set_new(o, "node_id", jstr(dash_str(doc, "node_id")));
	json_object_set_new(o, "status", json_string(dash_status_names[r->status]));
	json_object_set_new(o, "exit_code", jcopy(json_object_get(doc, "exit_code")));
	json_object_set_new(o, "duration_ms", jcopy(json_object_get(doc, "duration_ms")));
	json_object_set_new(o, "timestamp", jtime(r->finished));
	return o;
}

static void forged_json(const char *what, const char *why, void *payload)
{
	json_array_append_new(payload, json_pack("{s:o, s:o}", "record", jstr(what), "why", jstr(why)));
}

static json_t *series(const uint64_t *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer((json_int_t)v[i]));
	return a;
}

void dash_render_json(struct dg_strbuf *out, const struct dash *d)
{
	const struct dg_grid *g = d->grid;
	json_t *root = json_object(), *counts = json_object(), *by = json_object();
	json_t *nodes = json_array(), *queue = json_array(), *running = json_array();
	char why[160];
	json_t *recent = json_array(), *failures = json_array(), *charts = json_object();
	json_t *o;

	json_object_set_new(root, "generated_at", jtime(d->now));
	json_object_set_new(root, "tip", json_string(g->tip));
	json_object_set_new(root, "protocol", json_integer(g->policy.protocol));
	json_object_set_new(root, "policy", dash_policy_json(&g->policy));
	json_object_set_new(root, "repo", jstr(d->opts->repo));
	json_object_set_new(counts, "nodes", json_integer((json_int_t)g->nodes_nr));
	json_object_set_new(counts, "queue", json_integer((json_int_t)g->queue.nr));
	json_object_set_new(counts, "running", json_integer((json_int_t)g->running.nr));
	json_object_set_new(counts, "completed", json_integer((json_int_t)g->completed.nr));
	json_object_set_new(counts, "failed", json_integer((json_int_t)g->failed.nr));
	json_object_set_new(counts, "archived", json_integer((json_int_t)d->archived));
	for (int i = 0; i < DASH_ST_NR; i++)
		json_object_set_new(by, dash_status_names[i], json_integer((json_int_t)d->status[i]));
	json_object_set_new(counts, "by_status", by);
	json_object_set_new(root, "counts", counts);
	json_object_set_new(root, "advice", d->advice ? dg_advice_json(d->advice) : json_null());
	/* the census holds redacted URLs and errors already */
	if (d->census) {
		json_object_set_new(root, "repositories", dg_census_members_json(d->census));
		json_object_set_new(root, "totals", dg_census_totals_json(d->census));
	}

	for (size_t i = 0; i < g->nodes_nr; i++) {
		const struct dg_grid_node *n = &g->nodes[i];
		o = json_object();
		json_object_set_new(o, "node_id", jstr(n->node_id));
		json_object_set_new(o, "name", jstr(dash_str(n->registration, "name")));
		json_object_set_new(o, "liveness", json_string(dg_node_liveness_name(n->liveness)));
		json_object_set_new(o, "state", jstr(dash_str(n->heartbeat, "state")));
		json_object_set_new(o, "last_seen", jtime(n->last_activity));
		json_object_set_new(o, "slots", jcopy(dash_node_field(n, "slots")));
		json_object_set_new(o, "executor", jcopy(dash_node_field(n, "executor")));
		json_object_set_new(o, "isolation", jcopy(dash_node_field(n, "isolation")));
		json_object_set_new(o, "labels", jcopy(json_object_get(n->registration, "labels")));
		json_object_set_new(o, "version", jstr(dg_grid_node_version(n)));
		json_object_set_new(o, "protocol", json_integer(dg_grid_node_protocol(n)));
		json_object_set_new(o, "needs_upgrade", json_boolean(dg_grid_node_protocol(n) < g->policy.protocol));
		json_object_set_new(o, "succeeded", json_integer((json_int_t)d->node_ok[i]));
		json_object_set_new(o, "not_succeeded", json_integer((json_int_t)d->node_bad[i]));
		json_object_set_new(o, "reputation", json_pack("{s:i, s:i, s:i}", "agreed", n->agreed,
				    "disagreed", n->disagreed, "forged_records", n->forged_records));
		json_array_append_new(nodes, o);
	}
	json_object_set_new(root, "nodes", nodes);

	for (size_t i = 0; i < g->queue.nr && i < d->opts->queue_max; i++) {
		const struct dg_grid_file *f = &g->queue.items[i];
		o = json_object();
		json_object_set_new(o, "task_id", jstr(dash_str(f->doc, "task_id")));
		json_object_set_new(o, "file", jstr(f->name));
		json_object_set_new(o, "timeout_seconds", jcopy(json_object_get(f->doc, "timeout_seconds")));
		json_object_set_new(o, "submitted_at", jtime(dash_time(f->doc, "submitted_at")));
		json_object_set_new(o, "waits_for", dg_grid_waits_for(g, f->doc, why, sizeof(why)) ? jstr(why) : json_null());
		json_array_append_new(queue, o);
	}
	json_object_set_new(root, "queue", queue);
	json_object_set_new(root, "queue_more", json_integer((json_int_t)(g->queue.nr > d->opts->queue_max ?
									   g->queue.nr - d->opts->queue_max : 0)));
	for (size_t i = 0; i < g->running.nr && i < d->opts->running_max; i++) {
		const struct dg_grid_file *f = &g->running.items[i];
		int64_t claimed = dash_time(f->doc, "claimed_at");
		o = json_object();
		json_object_set_new(o, "forged", f->forged ? jstr(f->forged) : json_null());
		json_object_set_new(o, "task_id", jstr(dash_str(f->doc, "task_id")));
		json_object_set_new(o, "node_id", jstr(dash_str(f->doc, "node_id")));
		json_object_set_new(o, "claimed_at", jtime(claimed));
		json_object_set_new(o, "running_seconds", claimed > 0 ?
				    json_integer((json_int_t)(d->now - claimed)) : json_null());
		json_object_set_new(o, "attempt", jcopy(json_object_get(f->doc, "attempt")));
		json_array_append_new(running, o);
	}
	json_object_set_new(root, "running", running);
	json_object_set_new(root, "forged", json_array());
	dash_forged_each(d, forged_json, json_object_get(root, "forged"));
	for (size_t i = 0; i < d->res_nr && i < d->opts->recent_max; i++)
		json_array_append_new(recent, result_json(&d->res[i]));
	json_object_set_new(root, "recent_results", recent);
	for (size_t k = 0; k < d->recent_fail_nr; k++)
		json_array_append_new(failures, result_json(&d->res[d->recent_fail[k]]));
	json_object_set_new(root, "recent_failures", failures);

	o = json_object();
	json_object_set_new(o, "first_hour", jtime(d->hour0));
	json_object_set_new(o, "succeeded", series(d->hour_ok, DASH_HOURS));
	json_object_set_new(o, "not_succeeded", series(d->hour_bad, DASH_HOURS));
	json_object_set_new(charts, "finished_per_hour", o);
	o = json_object();
	json_object_set_new(o, "first_sample", jtime(d->point0));
	json_object_set_new(o, "interval_seconds", json_integer(3600));
	json_object_set_new(o, "waiting", series(d->waiting, DASH_POINTS));
	json_object_set_new(o, "running", series(d->running, DASH_POINTS));
	json_object_set_new(charts, "backlog", o);
	json_object_set_new(root, "charts", charts);

	dg_json_dump(out, root);
	json_decref(root);
}
