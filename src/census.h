/*
 * census.h - the counts of every repository of a grid (members.h), one
 * loader shared by `dgrid status` and the dashboard.
 *
 * A member's counts are the figures its own `dgrid status` shows: tasks
 * queued and running, results completed and failed (on main plus
 * archived: a result both on main and in the archive's newest batch
 * counts once, as grid.h's "archived" flag says), and nodes known.
 * dg_census_count() is that counting, for the home's own lines too, so the
 * two can never disagree.
 *
 *   dg_census_take(&c, cfg, home_store, &home_grid, "cli");
 *   ... c.members[0] is the home, then the other members in list order ...
 *   dg_census_release(&c);
 *
 * The home is counted from the grid the caller loaded already (load it
 * with DG_GRID_LOAD_ARCHIVE); its dgrid.json, read at the store's known
 * tip, names the others. Each other member is opened with a copy of the
 * caller's configuration (same token, SSH key, branch and cache root) and
 * its own URL, so its cache is its own (caches are keyed by URL and
 * cache_tag); it is fetched and its file names listed, no file parsed.
 *
 * A member that cannot be opened, fetched or read does not stop the
 * census: its entry carries the error, and the totals leave it out and
 * count it in "missing". The URLs and errors kept here are redacted
 * (log.h) but not escaped: escape them for the medium (textsafe.h for a
 * terminal, html.h for a page; the JSON builders below make valid UTF-8).
 *
 * Ownership: dg_census_take fills a caller-owned struct (DG_CENSUS_INIT or
 * not: it is overwritten); dg_census_release frees what it holds. Never
 * prints. The stores it opens live and die inside dg_census_take, on the
 * calling thread. A member that does not answer costs up to the network
 * timeout (DGRID_NET_TIMEOUT).
 */
#ifndef DG_CENSUS_H
#define DG_CENSUS_H

#include "common.h"
#include "config.h"
#include "grid.h"
#include "store.h"

#include <jansson.h>

struct dg_census_counts {
	uint64_t queued, running, completed, failed, nodes;
};

struct dg_census_member {
	char *shown;                   /* its URL, redacted */
	char *error;                   /* NULL, or why it was not counted (redacted) */
	struct dg_census_counts counts;/* all zero when error */
};

struct dg_census {
	struct dg_census_member *members; /* [0]: the home */
	size_t nr;
	size_t missing;                   /* members with an error */
	struct dg_census_counts total;    /* sum of the members without one */
};

#define DG_CENSUS_INIT { NULL, 0, 0, { 0, 0, 0, 0, 0 } }

/* Results of l on main that the archive's summary does not count already. */
size_t dg_census_on_main(const struct dg_grid_list *l);

/* The counts of one loaded grid (see above). */
void dg_census_count(struct dg_census_counts *c, const struct dg_grid *g);

/*
 * Counts every member of the grid whose home is cfg->repo_url, opened as
 * home_store and loaded as home. cache_tag names the caches of the other
 * members ("cli", "dashboard"). Returns 0; or DG_EINVALID (message set)
 * when the home's member list is invalid or its dgrid.json cannot be read,
 * with c then holding the home alone.
 */
int dg_census_take(struct dg_census *c, const struct dg_config *cfg, struct dg_store *home_store,
		   const struct dg_grid *home, const char *cache_tag);
void dg_census_release(struct dg_census *c);

/*
 * The census as JSON, the shape status --json and the dashboard's
 * status.json share:
 *   members: [{"url", "queued", "running", "completed", "failed", "nodes"}
 *             or {"url", "error"}, ...]
 *   totals:  {"queued", "running", "completed", "failed", "nodes",
 *             "repositories", "missing"}
 * New references.
 */
json_t *dg_census_members_json(const struct dg_census *c);
json_t *dg_census_totals_json(const struct dg_census *c);

#endif
