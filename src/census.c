/*
 * census.c - the counts of every repository of a grid (census.h).
 */
#include "census.h"
#include "error.h"
#include "log.h"
#include "members.h"
#include "strbuf.h"
#include "task.h"

size_t dg_census_on_main(const struct dg_grid_list *l)
{
	size_t n = 0;

	for (size_t i = 0; i < l->nr; i++)
		n += !l->items[i].archived;
	return n;
}

/*
 * The archive's summary counts by status; a success was a file of
 * tasks/completed, anything else one of tasks/failed (layout.h).
 */
static void add_archived(struct dg_census_counts *c, const json_t *summary)
{
	json_int_t all = json_integer_value(json_object_get(summary, "results"));
	json_int_t ok = json_integer_value(json_object_get(json_object_get(summary, "status"), "success"));

	/* anybody may push the summary ref: keep hostile figures sane */
	if (all < 0)
		all = 0;
	if (ok < 0)
		ok = 0;
	if (ok > all)
		ok = all;
	c->completed += (uint64_t)ok;
	c->failed += (uint64_t)(all - ok);
}

void dg_census_count(struct dg_census_counts *c, const struct dg_grid *g)
{
	memset(c, 0, sizeof(*c));
	c->queued = g->queue.nr;
	c->running = g->running.nr;
	c->completed = dg_census_on_main(&g->completed);
	c->failed = dg_census_on_main(&g->failed);
	c->nodes = g->nodes_nr;
	if (g->archive)
		add_archived(c, g->archive);
}

static char *redacted(const char *s)
{
	struct dg_strbuf sb = DG_STRBUF_INIT;

	dg_redact(&sb, s);
	return dg_strbuf_detach(&sb, NULL);
}

/* Records why a member was not counted: what failed (if the error does not say), then the error. */
static void set_error(struct dg_census_member *mb, const char *what)
{
	char *msg = what ? dg_xasprintf("%s: %s", what, dg_error_last()) : dg_xstrdup(dg_error_last());

	mb->error = redacted(msg);
	free(msg);
}

static void count_member(struct dg_census_member *mb, const struct dg_config *cfg, const char *url,
			 const char *cache_tag)
{
	struct dg_config mcfg = *cfg;
	struct dg_store_opts opts;
	struct dg_store *store = NULL;
	struct dg_grid g;

	mcfg.repo_url = url;
	dg_config_store_opts(&mcfg, &opts, cache_tag);
	/* the store's messages say what failed: "cannot fetch: ..." */
	if (dg_store_open(&store, &opts) < 0 || dg_store_fetch(store) < 0) {
		set_error(mb, NULL);
		goto out;
	}
	/* names only: counting needs no file's content */
	if (dg_grid_load(&g, store, DG_GRID_LOAD_ARCHIVE) < 0) {
		set_error(mb, "cannot read it");
		dg_grid_release(&g);   /* dg_grid_load zeroed it first: safe */
		goto out;
	}
	dg_census_count(&mb->counts, &g);
	dg_grid_release(&g);
out:
	dg_store_free(store);
}

static void add_counts(struct dg_census_counts *sum, const struct dg_census_counts *c)
{
	sum->queued += c->queued;
	sum->running += c->running;
	sum->completed += c->completed;
	sum->failed += c->failed;
	sum->nodes += c->nodes;
}

/* The member list of the home's dgrid.json (the home alone without one). */
static int read_members(struct dg_members *m, struct dg_store *home_store, const char *home_url)
{
	struct dg_strbuf doc = DG_STRBUF_INIT;
	int ret = dg_store_read(home_store, "dgrid.json", &doc);

	if (ret == 0) {
		ret = dg_members_read(m, home_url, doc.buf, doc.len) < 0 ? DG_EINVALID : 0;
	} else {
		if (ret != DG_ENOTFOUND)
			dg_error_prefix("cannot read the grid's repositories (dgrid.json)");
		dg_members_read(m, home_url, NULL, 0);
		ret = ret == DG_ENOTFOUND ? 0 : DG_EINVALID;
	}
	dg_strbuf_release(&doc);
	return ret;
}

int dg_census_take(struct dg_census *c, const struct dg_config *cfg, struct dg_store *home_store,
		   const struct dg_grid *home, const char *cache_tag)
{
	struct dg_members m;
	int ret = read_members(&m, home_store, cfg->repo_url);

	memset(c, 0, sizeof(*c));
	c->nr = m.nr;
	c->members = dg_xcalloc(m.nr, sizeof(*c->members));
	for (size_t i = 0; i < m.nr; i++) {
		struct dg_census_member *mb = &c->members[i];

		mb->shown = redacted(m.urls[i]);
		if (i == 0)
			dg_census_count(&mb->counts, home);
		else
			count_member(mb, cfg, m.urls[i], cache_tag);
		if (mb->error)
			c->missing++;
		else
			add_counts(&c->total, &mb->counts);
	}
	dg_members_release(&m);
	return ret;
}

void dg_census_release(struct dg_census *c)
{
	for (size_t i = 0; i < c->nr; i++) {
		free(c->members[i].shown);
		free(c->members[i].error);
	}
	free(c->members);
	memset(c, 0, sizeof(*c));
}

/* A JSON string from text that need not be UTF-8 (a --repo argument, a libgit2 message). */
static json_t *jtext(const char *s)
{
	char *text = dg_text_from_bytes(s, strlen(s));
	json_t *v = json_string(text);

	free(text);
	return v ? v : json_null();
}

static void set_counts(json_t *o, const struct dg_census_counts *c)
{
	json_object_set_new(o, "queued", json_integer((json_int_t)c->queued));
	json_object_set_new(o, "running", json_integer((json_int_t)c->running));
	json_object_set_new(o, "completed", json_integer((json_int_t)c->completed));
	json_object_set_new(o, "failed", json_integer((json_int_t)c->failed));
	json_object_set_new(o, "nodes", json_integer((json_int_t)c->nodes));
}

json_t *dg_census_members_json(const struct dg_census *c)
{
	json_t *a = json_array();

	for (size_t i = 0; i < c->nr; i++) {
		const struct dg_census_member *mb = &c->members[i];
		json_t *o = json_object();

		json_object_set_new(o, "url", jtext(mb->shown));
		if (mb->error)
			json_object_set_new(o, "error", jtext(mb->error));
		else
			set_counts(o, &mb->counts);
		json_array_append_new(a, o);
	}
	return a;
}

json_t *dg_census_totals_json(const struct dg_census *c)
{
	json_t *o = json_object();

	set_counts(o, &c->total);
	json_object_set_new(o, "repositories", json_integer((json_int_t)c->nr));
	json_object_set_new(o, "missing", json_integer((json_int_t)c->missing));
	return o;
}
