/*
 * dashboard.c - dg_dashboard_write (dashboard.h): the top of the dashboard.
 * It counts the grid (dashboard_model.h), has both views drawn from those
 * counts (dashboard_render.h) and writes the site: each file under a
 * temporary name, fsynced and renamed (fs.h), so that a web server never
 * serves half a page; and only the result copies the page links to, so that the
 * site stays small however many results the grid keeps.
 */
#include "dashboard.h"
#include "dashboard_model.h"
#include "dashboard_render.h"
#include "error.h"
#include "fs.h"

#include <dirent.h>
#include <unistd.h>

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
	ret = dg_fs_write(dir, r->file->name, text, strlen(text));
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

	if (dg_fs_mkdir(top) < 0 || dg_fs_mkdir(sub[0]) < 0 || dg_fs_mkdir(sub[1]) < 0)
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
	if (dg_fs_mkdir(opts.out_dir) < 0 || write_results(&d) < 0)
		goto out;
	dash_render_json(&json, &d);
	if (dg_fs_write(opts.out_dir, "status.json", json.buf, json.len) < 0)
		goto out;
	dash_render_html(&html, &d);
	if (dg_fs_write(opts.out_dir, "index.html", html.buf, html.len) < 0)
		goto out;
	dg_strbuf_reset(&html);
	dash_render_submit(&html, &d);
	if (dg_fs_write(opts.out_dir, "submit.html", html.buf, html.len) < 0)
		goto out;
	ret = 0;
out:
	dash_release(&d);
	dg_strbuf_release(&html);
	dg_strbuf_release(&json);
	return ret;
}
