#include "dashboard.h"
#include "dashboard_int.h"
#include "error.h"
#include "html.h"
#include "log.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const dash_status_names[DASH_ST_NR] = {
	"success", "failed", "timeout", "rejected", "abandoned", "other",
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

/* A result file name we may reuse as a file name on the site. */
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

static void add_results(struct dash *d, const struct dg_grid_list *l, const char *dir)
{
	for (size_t i = 0; i < l->nr; i++) {
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

static void dash_init(struct dash *d, const struct dg_grid *grid,
		      const struct dg_dashboard_opts *opts)
{
	memset(d, 0, sizeof(*d));
	d->grid = grid;
	d->opts = opts;
	d->now = opts->now ? opts->now : grid->now;
	d->res = dg_xcalloc(grid->completed.nr + grid->failed.nr + 1, sizeof(*d->res));
	add_results(d, &grid->completed, "completed");
	add_results(d, &grid->failed, "failed");
	qsort(d->res, d->res_nr, sizeof(*d->res), cmp_newest);
	count_nodes(d);
	count_charts(d);
	for (size_t i = 0; i < d->res_nr && d->recent_fail_nr < DASH_FAILURES_MAX; i++) {
		if (d->res[i].status != DASH_ST_SUCCESS)
			d->recent_fail[d->recent_fail_nr++] = i;
	}
}

static void dash_release(struct dash *d)
{
	free(d->res);
	free(d->node_ok);
	free(d->node_bad);
}

/* ---- files ---- */

static int write_file(const char *dir, const char *name, const char *data, size_t len)
{
	char *path = dg_xasprintf("%s/%s", dir, name);
	char *tmp = dg_xasprintf("%s/.%s.tmp", dir, name);
	int fd = -1, ret = DG_ERROR, err;
	size_t off = 0;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = errno;
		dg_error_set("cannot create '%s': %s", tmp, strerror(err));
		goto out;
	}
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			dg_error_set("cannot write '%s': %s", tmp, strerror(err));
			goto out;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		err = errno;
		fd = -1;
		dg_error_set("cannot write '%s': %s", tmp, strerror(err));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		err = errno;
		dg_error_set("cannot rename '%s': %s", tmp, strerror(err));
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (ret)
		unlink(tmp);
	free(path);
	free(tmp);
	return ret;
}

static int make_dir(const char *path)
{
	int err;

	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		err = errno;
		dg_error_set("cannot create directory '%s': %s", path, strerror(err));
		return DG_ERROR;
	}
	return 0;
}

/* Is name in dir one of the results the page links to? */
static bool keep_copy(const struct dash *d, const char *dir, const char *name)
{
	for (size_t i = 0; i < d->res_nr && i < d->opts->recent_max; i++) {
		if (!strcmp(d->res[i].dir, dir) && !strcmp(d->res[i].file->name, name))
			return true;
	}
	for (size_t k = 0; k < d->recent_fail_nr; k++) {
		const struct dash_result *r = &d->res[d->recent_fail[k]];
		if (!strcmp(r->dir, dir) && !strcmp(r->file->name, name))
			return true;
	}
	return false;
}

static int write_copy(const char *dir, const struct dash_result *r)
{
	char *text;
	int ret;

	if (!r->file->doc || !dash_safe_name(r->file->name))
		return 0;
	text = json_dumps(r->file->doc, JSON_INDENT(2));
	if (!text) {
		dg_error_set("cannot serialise '%s'", r->file->name);
		return DG_ERROR;
	}
	ret = write_file(dir, r->file->name, text, strlen(text));
	free(text);
	return ret;
}

static int write_results(const struct dash *d)
{
	static const char *const dirs[] = { "completed", "failed" };
	const char *out = d->opts->out_dir;
	char *top = dg_xasprintf("%s/results", out);
	char *sub[2] = {
		dg_xasprintf("%s/results/completed", out),
		dg_xasprintf("%s/results/failed", out),
	};
	int ret = DG_ERROR;

	if (make_dir(top) < 0 || make_dir(sub[0]) < 0 || make_dir(sub[1]) < 0)
		goto out;
	for (size_t i = 0; i < d->res_nr && i < d->opts->recent_max; i++) {
		const struct dash_result *r = &d->res[i];
		if (write_copy(sub[!strcmp(r->dir, "failed")], r) < 0)
			goto out;
	}
	for (size_t k = 0; k < d->recent_fail_nr; k++) {
		const struct dash_result *r = &d->res[d->recent_fail[k]];
		if (write_copy(sub[!strcmp(r->dir, "failed")], r) < 0)
			goto out;
	}
	/* copies from earlier runs that the page no longer links to */
	for (int s = 0; s < 2; s++) {
		DIR *dh = opendir(sub[s]);
		struct dirent *de;

		if (!dh)
			continue;
		while ((de = readdir(dh))) {
			if (de->d_name[0] == '.' || keep_copy(d, dirs[s], de->d_name))
				continue;
			char *p = dg_xasprintf("%s/%s", sub[s], de->d_name);
			unlink(p);
			free(p);
		}
		closedir(dh);
	}
	ret = 0;
out:
	free(top);
	free(sub[0]);
	free(sub[1]);
	return ret;
}

int dg_dashboard_write(const struct dg_grid *grid, const struct dg_dashboard_opts *in)
{
	struct dg_dashboard_opts opts = *in;
	struct dg_strbuf html = DG_STRBUF_INIT, json = DG_STRBUF_INIT;
	struct dash d;
	int ret = DG_ERROR;

	if (!opts.title || !*opts.title)
		opts.title = "dgrid";
	if (!opts.recent_max)
		opts.recent_max = 50;
	if (!opts.queue_max)
		opts.queue_max = 200;
	if (!opts.running_max)
		opts.running_max = 200;
	dash_init(&d, grid, &opts);
	if (make_dir(opts.out_dir) < 0 || write_results(&d) < 0)
		goto out;
	dash_render_json(&json, &d);
	if (write_file(opts.out_dir, "status.json", json.buf, json.len) < 0)
		goto out;
	dash_render_html(&html, &d);
	if (write_file(opts.out_dir, "index.html", html.buf, html.len) < 0)
		goto out;
	ret = 0;
out:
	dash_release(&d);
	dg_strbuf_release(&html);
	dg_strbuf_release(&json);
	return ret;
}
