/*
 * budget_fixture.h - a budget grid's worker on a real repository made with
 * git (a store on a local path, protocol 3, push_budget 60, node w1), for
 * the unit tests of the schedule's members and of a claim's part of the
 * queue. Header-only, as repo_fixture.h; include after it.
 */
#ifndef DG_BUDGET_FIXTURE_H
#define DG_BUDGET_FIXTURE_H

#include "store.h"
#include "worker_int.h"

struct grid {
	char dir[32];
	struct dg_store *store;
	struct dg_worker_opts opts;
	struct worker w;
};

/* A seeded repository in /tmp/dgrid-TAG.XXXXXX and w1's worker on it, one slot. */
static struct grid *grid_open(const char *tag)
{
	struct grid *g = dg_xcalloc(1, sizeof(*g));
	struct dg_store_opts so = DG_STORE_OPTS_INIT;

	if (tmpdir_make(g->dir, sizeof(g->dir), tag) < 0) {
		free(g);
		return NULL;
	}
	sh_in(g->dir, "git -c init.defaultBranch=main init -q && echo '{\"protocol\": 3}' > dgrid.json && git add dgrid.json"
	      " && git -c user.name=t -c user.email=t@l commit -q -m seed");
	so.url = g->dir;
	so.branch = "main";
	assert_int_equal(dg_store_open(&g->store, &so), 0);
	g->opts.cfg.slots = 1;
	g->w.opts = &g->opts;
	g->w.me = "w1";
	g->w.policy = dg_policy_default;
	g->w.policy.push_budget = 60;
	g->w.policy.push_budget_set = true;
	g->w.store = g->store;
	return g;
}

/* Frees it all and removes the directory: 0, or -1. */
static int grid_close(struct grid *g)
{
	int rc = tmpdir_remove(g->dir);

	dg_worker_budget_forget(&g->w);
	dg_store_free(g->store);
	free(g);
	return rc;
}

#endif
