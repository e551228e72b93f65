#include "jsonio.h"
#include "http.h"
#include "error.h"
#include "html.h"
#include "log.h"
#include "strbuf.h"
#include "task.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

struct dg_http {
	struct MHD_Daemon *daemon;
	pthread_mutex_t lock;
	struct dg_node_status snap;     /* guarded by lock */
	bool published;                 /* guarded by lock */
	unsigned loop_interval_ms;      /* guarded by lock */
	unsigned fetch_max_age_ms;      /* guarded by lock */
	unsigned port;
	char addr[80];                  /* "127.0.0.1:8001", "[::1]:8080" */
	char title[128];
	char csp[256];
};

/* What one request answers from: a private copy taken under the lock. */
struct view {
	struct dg_node_status s;
	bool published;
	unsigned loop_interval_ms, fetch_max_age_ms;
	int64_t now_ms;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define TERMINATE(field) ((field)[sizeof(field) - 1] = '\0')

/* A snapshot filled by another module must not make us read out of bounds. */
static void sanitize(struct dg_node_status *s)
{
	TERMINATE(s->node_id);
	TERMINATE(s->state);
	TERMINATE(s->executor);
	TERMINATE(s->isolation);
	TERMINATE(s->version);
	TERMINATE(s->repo);
	if (s->running_nr > DG_STATUS_MAX_RUNNING)
		s->running_nr = DG_STATUS_MAX_RUNNING;
	if (s->results_nr > DG_STATUS_MAX_RESULTS)
		s->results_nr = DG_STATUS_MAX_RESULTS;
	for (size_t i = 0; i < s->running_nr; i++)
		TERMINATE(s->running[i].task_id);
	for (size_t i = 0; i < s->results_nr; i++) {
		TERMINATE(s->results[i].task_id);
		TERMINATE(s->results[i].status);
		TERMINATE(s->results[i].first_line);
	}
}

void dg_http_publish(struct dg_http *h, const struct dg_node_status *snap)
{
	if (!h || !snap)
		return;
	pthread_mutex_lock(&h->lock);
	h->snap = *snap;
	sanitize(&h->snap);
	h->published = true;
	pthread_mutex_unlock(&h->lock);
}

void dg_http_set_health(struct dg_http *h, unsigned loop_interval_ms, unsigned fetch_max_age_ms)
{
	pthread_mutex_lock(&h->lock);
	if (loop_interval_ms)
		h->loop_interval_ms = loop_interval_ms;
	if (fetch_max_age_ms)
		h->fetch_max_age_ms = fetch_max_age_ms;
	pthread_mutex_unlock(&h->lock);
}

static struct view *take_view(struct dg_http *h)
{
	struct view *v = dg_xmalloc(sizeof(*v));

	pthread_mutex_lock(&h->lock);
	v->s = h->snap;
	v->published = h->published;
	v->loop_interval_ms = h->loop_interval_ms;
	v->fetch_max_age_ms = h->fetch_max_age_ms;
	pthread_mutex_unlock(&h->lock);
	v->now_ms = now_ms();
	return v;
}

/* ---- /health ---- */

/* Returns 200 or 503 and the text to send. */
static unsigned health(const struct view *v, struct dg_strbuf *out)
{
	int64_t tick_age, fetch_age;

	if (!v->published) {
		dg_strbuf_addstr(out, "unavailable: no status published yet\n");
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	tick_age = v->now_ms - v->s.loop_tick;
	if (tick_age > 3 * (int64_t)v->loop_interval_ms) {
		dg_strbuf_addf(out, "unavailable: loop stalled, last turn %" PRId64 " ms ago (limit %"
			       PRId64 " ms)\n", tick_age, 3 * (int64_t)v->loop_interval_ms);
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	if (!v->s.last_fetch_ok) {
		dg_strbuf_addstr(out, "unavailable: no successful fetch yet\n");
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	fetch_age = v->now_ms - v->s.last_fetch_ok;
	if (fetch_age > (int64_t)v->fetch_max_age_ms) {
		dg_strbuf_addf(out, "unavailable: last successful fetch %" PRId64 " ms ago (limit %u ms)\n",
			       fetch_age, v->fetch_max_age_ms);
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	dg_strbuf_addstr(out, "ok\n");
	return MHD_HTTP_OK;
}

/* ---- /metrics ---- */

static void metric(struct dg_strbuf *sb, const char *name, const char *type,
		   const char *help, uint64_t value)
{
	dg_strbuf_addf(sb, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n",
		       name, help, name, type, name, value);
}

/* A label value in the exposition format: \, " and newline escaped. */
static void label_value(struct dg_strbuf *sb, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			dg_strbuf_addch(sb, '\\');
		if (*s == '\n') {
			dg_strbuf_addstr(sb, "\\n");
			continue;
		}
		dg_strbuf_addch(sb, *s);
	}
}

static void metrics(const struct view *v, struct dg_strbuf *sb)
{
	static const unsigned bounds[DG_STATUS_LATENCY_NR] = DG_STATUS_LATENCY_BUCKETS;
	const struct dg_node_status *s = &v->s;

	dg_strbuf_addstr(sb, "# HELP dgrid_info Static facts about this worker.\n"
			 "# TYPE dgrid_info gauge\ndgrid_info{node_id=\"");
	label_value(sb, s->node_id);
	dg_strbuf_addstr(sb, "\",version=\"");
	label_value(sb, s->version);
	dg_strbuf_addstr(sb, "\",executor=\"");
	label_value(sb, s->executor);
	dg_strbuf_addstr(sb, "\"} 1\n");
	metric(sb, "dgrid_tasks_claimed_total", "counter", "Tasks this worker claimed.", s->tasks_claimed);
	metric(sb, "dgrid_tasks_completed_total", "counter", "Tasks that ended with success.", s->tasks_completed);
	metric(sb, "dgrid_tasks_failed_total", "counter", "Tasks that ended failed.", s->tasks_failed);
	metric(sb, "dgrid_tasks_rejected_total", "counter", "Invalid tasks rejected.", s->tasks_rejected);
	metric(sb, "dgrid_tasks_timed_out_total", "counter", "Tasks killed at their timeout.", s->tasks_timed_out);
	metric(sb, "dgrid_pushes_total", "counter", "Commits published.", s->pushes);
	metric(sb, "dgrid_pushes_rejected_total", "counter", "Pushes refused because the branch moved.",
	       s->pushes_rejected);
	metric(sb, "dgrid_txn_retries_total", "counter", "Transactions run again after a conflict.",
	       s->txn_retries);
	dg_strbuf_addstr(sb, "# HELP dgrid_push_latency_seconds Time to publish one commit.\n"
			 "# TYPE dgrid_push_latency_seconds histogram\n");
	for (int i = 0; i < DG_STATUS_LATENCY_NR; i++)
		dg_strbuf_addf(sb, "dgrid_push_latency_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
			       bounds[i] / 1000.0, s->push_latency_buckets[i]);
	dg_strbuf_addf(sb, "dgrid_push_latency_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
		       "dgrid_push_latency_seconds_sum %.6f\n"
		       "dgrid_push_latency_seconds_count %" PRIu64 "\n",
		       s->push_latency_count, s->push_latency_sum_seconds, s->push_latency_count);
	metric(sb, "dgrid_spool_backlog", "gauge", "Results waiting on local disk to be pushed.",
	       s->spool_backlog);
	metric(sb, "dgrid_running_tasks", "gauge", "Tasks running now.", s->running_nr);
	metric(sb, "dgrid_slots", "gauge", "Tasks this worker runs at once.", s->slots);
}

/* ---- /api/status ---- */

static json_t *jtext(const char *s)
{
	struct dg_strbuf r = DG_STRBUF_INIT;
	char *text;
	json_t *v;

	dg_redact(&r, s);
	text = dg_text_from_bytes(r.buf, r.len);
	v = json_string(text);
	free(text);
	dg_strbuf_release(&r);
	return v ? v : json_null();
}

#define JINT(x) json_integer((json_int_t)(x))

static void api_status(const struct view *v, struct dg_strbuf *sb)
{
	static const unsigned bounds[DG_STATUS_LATENCY_NR] = DG_STATUS_LATENCY_BUCKETS;
	const struct dg_node_status *s = &v->s;
	json_t *o = json_object(), *a, *e, *c;

	json_object_set_new(o, "published", json_boolean(v->published));
	json_object_set_new(o, "now", JINT(v->now_ms));
	json_object_set_new(o, "node_id", jtext(s->node_id));
	json_object_set_new(o, "state", jtext(s->state));
	json_object_set_new(o, "executor", jtext(s->executor));
	json_object_set_new(o, "isolation", jtext(s->isolation));
	json_object_set_new(o, "version", jtext(s->version));
	json_object_set_new(o, "repo", jtext(s->repo));
	json_object_set_new(o, "slots", JINT(s->slots));
	json_object_set_new(o, "started_at", JINT(s->started_at));
	json_object_set_new(o, "loop_tick", JINT(s->loop_tick));
	json_object_set_new(o, "last_fetch_ok", JINT(s->last_fetch_ok));
	json_object_set_new(o, "last_push", JINT(s->last_push));
	json_object_set_new(o, "last_heartbeat", JINT(s->last_heartbeat));
	json_object_set_new(o, "spool_backlog", JINT(s->spool_backlog));
	a = json_array();
	for (size_t i = 0; i < s->running_nr; i++) {
		const struct dg_status_task *t = &s->running[i];
		e = json_object();
		json_object_set_new(e, "task_id", jtext(t->task_id));
		json_object_set_new(e, "started_at", JINT(t->started_at));
		json_object_set_new(e, "timeout_seconds", JINT(t->timeout_seconds));
		json_object_set_new(e, "attempt", JINT(t->attempt));
		json_array_append_new(a, e);
	}
	json_object_set_new(o, "running", a);
	a = json_array();
	for (size_t i = 0; i < s->results_nr; i++) {
		const struct dg_status_result *r = &s->results[i];
		e = json_object();
		json_object_set_new(e, "task_id", jtext(r->task_id));
		json_object_set_new(e, "status", jtext(r->status));
		json_object_set_new(e, "exit_code", JINT(r->exit_code));
		json_object_set_new(e, "finished_at", JINT(r->finished_at));
		json_object_set_new(e, "duration_ms", JINT(r->duration_ms));
		json_object_set_new(e, "first_line", jtext(r->first_line));
		json_array_append_new(a, e);
	}
	json_object_set_new(o, "results", a);
	c = json_object();
	json_object_set_new(c, "tasks_claimed", JINT(s->tasks_claimed));
	json_object_set_new(c, "tasks_completed", JINT(s->tasks_completed));
	json_object_set_new(c, "tasks_failed", JINT(s->tasks_failed));
	json_object_set_new(c, "tasks_rejected", JINT(s->tasks_rejected));
	json_object_set_new(c, "tasks_timed_out", JINT(s->tasks_timed_out));
	json_object_set_new(c, "pushes", JINT(s->pushes));
	json_object_set_new(c, "pushes_rejected", JINT(s->pushes_rejected));
	json_object_set_new(c, "txn_retries", JINT(s->txn_retries));
	json_object_set_new(o, "counters", c);
	e = json_object();
	a = json_array();
	for (int i = 0; i < DG_STATUS_LATENCY_NR; i++) {
		json_t *b = json_object();
		json_object_set_new(b, "le_ms", JINT(bounds[i]));
		json_object_set_new(b, "count", JINT(s->push_latency_buckets[i]));
		json_array_append_new(a, b);
	}
	json_object_set_new(e, "buckets", a);
	json_object_set_new(e, "count", JINT(s->push_latency_count));
	json_object_set_new(e, "sum_seconds", json_real(s->push_latency_sum_seconds));
	json_object_set_new(o, "push_latency", e);
	dg_json_dump(sb, o);
	json_decref(o);
}

/* ---- / ---- */

static void put(struct dg_strbuf *sb, const char *s)
{
	struct dg_strbuf r = DG_STRBUF_INIT;

	dg_redact(&r, s);
	dg_html_escape_n(sb, r.buf, r.len);
	dg_strbuf_release(&r);
}

static void put_ms_time(struct dg_strbuf *sb, int64_t ms)
{
	dg_html_time(sb, ms > 0 ? ms / 1000 : 0);
}

static void put_span(struct dg_strbuf *sb, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	if (ms < 120000)
		dg_strbuf_addf(sb, "%.1f s", (double)ms / 1000.0);
	else if (ms < 7200000)
		dg_strbuf_addf(sb, "%" PRId64 " min %" PRId64 " s", ms / 60000, ms / 1000 % 60);
	else
		dg_strbuf_addf(sb, "%" PRId64 " h %" PRId64 " min", ms / 3600000, ms / 60000 % 60);
}

static void row(struct dg_strbuf *sb, const char *name)
{
	dg_strbuf_addf(sb, "<tr><th>%s</th><td>", name);
}

static const char page_css[] =
	"body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;max-width:1000px;padding:0 16px 24px;"
	"color:#1b1b1b;background:#fafafa}h2{margin:24px 0 6px;border-bottom:1px solid #ddd}"
	"table{border-collapse:collapse;background:#fff}th,td{border:1px solid #ddd;padding:3px 6px;"
	"text-align:left;vertical-align:top}th{background:#f0f0f0}td.num{text-align:right}"
	".st-success{color:#2e7d32}.st-failed,.st-timeout{color:#c62828}.st-rejected{color:#6a1b9a}";

static void page(const struct dg_http *h, const struct view *v, struct dg_strbuf *sb)
{
	const struct dg_node_status *s = &v->s;
	struct dg_strbuf hl = DG_STRBUF_INIT;

	health(v, &hl);
	dg_strbuf_addstr(sb, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
			 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
			 "<meta http-equiv=\"refresh\" content=\"5\">\n<title>");
	put(sb, h->title);
	dg_strbuf_addstr(sb, " - ");
	put(sb, s->node_id);
	dg_strbuf_addf(sb, "</title>\n<style>%s</style></head><body>\n<h1>", page_css);
	put(sb, h->title);
	dg_strbuf_addstr(sb, ": <code>");
	put(sb, v->published ? s->node_id : "(starting)");
	dg_strbuf_addstr(sb, "</code></h1>\n<p>Page made ");
	put_ms_time(sb, v->now_ms);
	dg_strbuf_addstr(sb, "; reloads every 5 s. Health: <span id=\"health\">");
	put(sb, hl.buf);
	dg_strbuf_addstr(sb, "</span> (<a href=\"/health\">/health</a>, <a href=\"/api/status\">"
			 "/api/status</a>, <a href=\"/metrics\">/metrics</a>)</p>\n"
			 "<h2>Node</h2><table id=\"node\">\n");
	row(sb, "State");
	put(sb, s->state);
	dg_strbuf_addstr(sb, "</td></tr>\n");
	row(sb, "Slots");
	dg_strbuf_addf(sb, "<span id=\"slots\">%zu of %u busy</span></td></tr>\n", s->running_nr, s->slots);
	row(sb, "Executor");
	put(sb, s->executor);
	dg_strbuf_addstr(sb, "</td></tr>\n");
	row(sb, "Isolation");
	put(sb, s->isolation);
	dg_strbuf_addstr(sb, "</td></tr>\n");
	row(sb, "Version");
	put(sb, s->version);
	dg_strbuf_addstr(sb, "</td></tr>\n");
	row(sb, "Repository");
	put(sb, s->repo);
	dg_strbuf_addstr(sb, "</td></tr>\n");
	row(sb, "Uptime");
	if (s->started_at > 0)
		put_span(sb, v->now_ms - s->started_at);
	dg_strbuf_addstr(sb, "</td></tr>\n");
	row(sb, "Loop turned");
	put_ms_time(sb, s->loop_tick);
	dg_strbuf_addstr(sb, "</td></tr>\n");
	row(sb, "Last fetch");
	put_ms_time(sb, s->last_fetch_ok);
	dg_strbuf_addstr(sb, "</td></tr>\n");
	row(sb, "Last push");
	put_ms_time(sb, s->last_push);
	dg_strbuf_addstr(sb, "</td></tr>\n");
	row(sb, "Last heartbeat");
	put_ms_time(sb, s->last_heartbeat);
	dg_strbuf_addstr(sb, "</td></tr>\n");
	row(sb, "Spool backlog");
	dg_strbuf_addf(sb, "<span id=\"spool\">%u</span> results waiting to be pushed</td></tr>\n",
		       s->spool_backlog);
	row(sb, "Totals");
	dg_strbuf_addf(sb, "%" PRIu64 " claimed, %" PRIu64 " completed, %" PRIu64 " failed, %" PRIu64
		       " rejected, %" PRIu64 " timed out; %" PRIu64 " pushes (%" PRIu64 " refused)</td></tr>\n",
		       s->tasks_claimed, s->tasks_completed, s->tasks_failed, s->tasks_rejected,
		       s->tasks_timed_out, s->pushes, s->pushes_rejected);
	dg_strbuf_addf(sb, "</table>\n<h2>Running tasks (%zu)</h2>\n", s->running_nr);
	if (!s->running_nr)
		dg_strbuf_addstr(sb, "<p>Nothing is running.</p>\n");
	else
		dg_strbuf_addstr(sb, "<table id=\"running\"><tr><th>Task</th><th>Started</th>"
				 "<th>Elapsed</th><th>Timeout</th><th>Attempt</th></tr>\n");
	for (size_t i = 0; i < s->running_nr; i++) {
		const struct dg_status_task *t = &s->running[i];
		dg_strbuf_addstr(sb, "<tr><td><code>");
		put(sb, t->task_id);
		dg_strbuf_addstr(sb, "</code></td><td>");
		put_ms_time(sb, t->started_at);
		dg_strbuf_addstr(sb, "</td><td class=\"num\">");
		put_span(sb, v->now_ms - t->started_at);
		dg_strbuf_addf(sb, "</td><td class=\"num\">%u s</td><td class=\"num\">%u</td></tr>\n",
			       t->timeout_seconds, t->attempt);
	}
	if (s->running_nr)
		dg_strbuf_addstr(sb, "</table>\n");
	dg_strbuf_addf(sb, "<h2>Last results (%zu)</h2>\n", s->results_nr);
	if (!s->results_nr)
		dg_strbuf_addstr(sb, "<p>No results yet.</p>\n");
	else
		dg_strbuf_addstr(sb, "<table id=\"results\"><tr><th>Task</th><th>Status</th><th>Exit</th>"
				 "<th>Duration</th><th>Finished</th><th>First line</th></tr>\n");
	for (size_t i = 0; i < s->results_nr; i++) {
		const struct dg_status_result *r = &s->results[i];
		dg_strbuf_addstr(sb, "<tr><td><code>");
		put(sb, r->task_id);
		dg_strbuf_addstr(sb, "</code></td><td class=\"st-");
		put(sb, r->status);
		dg_strbuf_addstr(sb, "\">");
		put(sb, r->status);
		dg_strbuf_addf(sb, "</td><td class=\"num\">%d</td><td class=\"num\">", r->exit_code);
		put_span(sb, (int64_t)r->duration_ms);
		dg_strbuf_addstr(sb, "</td><td>");
		put_ms_time(sb, r->finished_at);
		dg_strbuf_addstr(sb, "</td><td><code>");
		put(sb, r->first_line);
		dg_strbuf_addstr(sb, "</code></td></tr>\n");
	}
	if (s->results_nr)
		dg_strbuf_addstr(sb, "</table>\n");
	dg_strbuf_addstr(sb, DG_HTML_AGO_SCRIPT "\n</body></html>\n");
	dg_strbuf_release(&hl);
}

/* ---- dispatch ---- */

static enum MHD_Result reply(struct MHD_Connection *conn, const struct dg_http *h,
			     unsigned code, const char *type, struct dg_strbuf *body)
{
	size_t len;
	char *buf = dg_strbuf_detach(body, &len);
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(buf);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Content-Security-Policy", h->csp);
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version DG_UNUSED,
			      const char *upload DG_UNUSED, size_t *upload_size DG_UNUSED,
			      void **con_cls DG_UNUSED)
{
	struct dg_http *h = cls;
	struct dg_strbuf body = DG_STRBUF_INIT;
	const char *text = "text/plain; charset=utf-8";
	struct view *v;
	unsigned code = MHD_HTTP_OK;
	enum MHD_Result ret;

	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		dg_strbuf_addstr(&body, "method not allowed: use GET or HEAD\n");
		return reply(conn, h, MHD_HTTP_METHOD_NOT_ALLOWED, text, &body);
	}
	v = take_view(h);
	if (!strcmp(url, "/")) {
		page(h, v, &body);
		ret = reply(conn, h, code, "text/html; charset=utf-8", &body);
	} else if (!strcmp(url, "/api/status")) {
		api_status(v, &body);
		ret = reply(conn, h, code, "application/json", &body);
	} else if (!strcmp(url, "/health")) {
		code = health(v, &body);
		ret = reply(conn, h, code, text, &body);
	} else if (!strcmp(url, "/metrics")) {
		metrics(v, &body);
		ret = reply(conn, h, code, "text/plain; version=0.0.4; charset=utf-8", &body);
	} else {
		dg_strbuf_addstr(&body, "not found\n");
		ret = reply(conn, h, MHD_HTTP_NOT_FOUND, text, &body);
	}
	free(v);
	return ret;
}

/* Splits "host:port" or "[v6]:port"; host "" or "*" means every address. */
static int parse_addr(const char *addr_port, char **host, char **port)
{
	const char *colon = strrchr(addr_port, ':');
	const char *h = addr_port, *hend = colon;

	if (!colon || !colon[1])
		goto bad;
	if (*h == '[') {
		h++;
		if (colon == addr_port || colon[-1] != ']')
			goto bad;
		hend = colon - 1;
	}
	for (const char *p = colon + 1; *p; p++)
		if (*p < '0' || *p > '9')
			goto bad;
	if (strtoul(colon + 1, NULL, 10) > 65535)
		goto bad;
	*host = dg_xstrndup(h, (size_t)(hend - h));
	*port = dg_xstrdup(colon + 1);
	return 0;
bad:
	dg_error_set("bad listen address '%s': expected ADDR:PORT, e.g. 127.0.0.1:8000", addr_port);
	return DG_EINVALID;
}

bool dg_http_is_auto(const char *addr_port)
{
	return !addr_port || !strcmp(addr_port, DG_HTTP_AUTO);
}

/*
 * Binds exactly host:port. On failure sets the message and *err (the errno
 * of the bind, 0 if none) and returns DG_EINVALID when the address cannot
 * be used as given (malformed, in use, not ours, privileged), DG_ERROR
 * otherwise.
 */
static int start_one(struct dg_http **out, int *err, const char *host, const char *port,
		     const char *shown, const char *title)
{
	struct addrinfo hints, *ai = NULL;
	struct dg_http *h = NULL;
	struct dg_strbuf csp = DG_STRBUF_INIT;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD;
	int ret = DG_EINVALID, rc;

	*err = 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(*host && strcmp(host, "*") ? host : NULL, port, &hints, &ai);
	if (rc) {
		dg_error_set("bad listen address '%s': %s", shown, gai_strerror(rc));
		goto out;
	}
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h = dg_xcalloc(1, sizeof(*h));
	pthread_mutex_init(&h->lock, NULL);
	h->loop_interval_ms = DG_HTTP_LOOP_INTERVAL_MS;
	h->fetch_max_age_ms = DG_HTTP_FETCH_MAX_AGE_MS;
	snprintf(h->title, sizeof(h->title), "%s", title && *title ? title : "dgrid worker");
	dg_html_csp(&csp);
	snprintf(h->csp, sizeof(h->csp), "%s", csp.buf);
	errno = 0;
	/*
	 * Every connection costs the worker a descriptor, and the worker needs
	 * its descriptors for Git and its tasks: idle clients are bounded in
	 * number and dropped after a short silence.
	 */
	h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle, h,
				     MHD_OPTION_SOCK_ADDR, ai->ai_addr,
				     MHD_OPTION_THREAD_POOL_SIZE, (unsigned)DG_HTTP_THREADS,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned)DG_HTTP_MAX_CONNECTIONS,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)DG_HTTP_IDLE_SECONDS,
				     MHD_OPTION_END);
	if (!h->daemon) {
		*err = errno;
		dg_error_set("cannot listen on '%s': %s", shown,
			     *err ? strerror(*err) : "libmicrohttpd refused to start");
		ret = *err == EADDRINUSE || *err == EADDRNOTAVAIL || *err == EACCES ? DG_EINVALID : DG_ERROR;
		goto out;
	}
	info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : 0;
	snprintf(h->addr, sizeof(h->addr), strchr(host, ':') ? "[%s]:%u" : "%s:%u",
		 *host ? host : "*", h->port);
	*out = h;
	h = NULL;
	ret = 0;
out:
	if (h) {
		pthread_mutex_destroy(&h->lock);
		free(h);
	}
	if (ai)
		freeaddrinfo(ai);
	dg_strbuf_release(&csp);
	return ret;
}

/*
 * Several workers on one host (a shell loop, docker-compose --scale, a
 * systemd template) must all run: the first free port of the range wins.
 */
static int start_auto(struct dg_http **out, const char *title)
{
	char port[8], shown[32];
	int ret = DG_ERROR, err = 0;

	for (unsigned p = DG_HTTP_AUTO_FIRST_PORT; p <= DG_HTTP_AUTO_LAST_PORT; p++) {
		snprintf(port, sizeof(port), "%u", p);
		snprintf(shown, sizeof(shown), "%s:%u", DG_HTTP_AUTO_HOST, p);
		ret = start_one(out, &err, DG_HTTP_AUTO_HOST, port, shown, title);
		if (ret == 0 || err != EADDRINUSE)
			break;
	}
	if (ret < 0 && err == EADDRINUSE)
		dg_error_set("no free port for the status page: %s:%u-%u are all in use",
			     DG_HTTP_AUTO_HOST, DG_HTTP_AUTO_FIRST_PORT, DG_HTTP_AUTO_LAST_PORT);
	return ret < 0 ? DG_ERROR : 0;
}

int dg_http_start(struct dg_http **out, const char *addr_port, const char *title)
{
	char *host = NULL, *port = NULL;
	int ret, err;

	*out = NULL;
	if (dg_http_is_auto(addr_port)) {
		ret = start_auto(out, title);
		goto out;
	}
	if ((ret = parse_addr(addr_port, &host, &port)) < 0)
		goto out;
	ret = start_one(out, &err, host, port, addr_port, title);
out:
	free(host);
	free(port);
	return ret;
}

unsigned dg_http_port(const struct dg_http *h)
{
	return h ? h->port : 0;
}

const char *dg_http_address(const struct dg_http *h)
{
	return h ? h->addr : "";
}

void dg_http_stop(struct dg_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->daemon);
	pthread_mutex_destroy(&h->lock);
	free(h);
}
